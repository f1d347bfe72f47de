package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/store"
)

// outgoingMessage is the body of a Rocket.Chat outgoing integration ("Message Sent",
// rocketchat-livechat.md §12). There is no auth header: the token is in the body.
type outgoingMessage struct {
	Token       string          `json:"token"`
	Bot         json.RawMessage `json:"bot"`
	TriggerWord string          `json:"trigger_word"`
	ChannelName string          `json:"channel_name"`
	UserName    string          `json:"user_name"`
	Text        string          `json:"text"`
	IsEdited    bool            `json:"isEdited"`
}

// fromBot: messages of bots and integrations carry a truthy "bot" (true, or an object);
// answering them could loop.
func (m outgoingMessage) fromBot() bool {
	b := strings.TrimSpace(string(m.Bot))
	return b != "" && b != "false" && b != "null"
}

// commandReply is the integration's response format: Rocket.Chat posts text and
// attachments into the room the command came from.
type commandReply struct {
	Text        string            `json:"text,omitempty"`
	Attachments []replyAttachment `json:"attachments,omitempty"`
}

type replyAttachment struct {
	Title     string `json:"title,omitempty"`
	TitleLink string `json:"title_link,omitempty"`
	Text      string `json:"text,omitempty"`
	Color     string `json:"color,omitempty"`
}

// receiveCommand runs an admin command typed in Rocket.Chat. Order: the body (the token is
// in it), the token (constant time), then the loop guard and the trigger word; messages
// that are not for us get an empty object, which Rocket.Chat does not post.
func (s *Server) receiveCommand(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	var msg outgoingMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON body")
		return
	}
	if s.cfg.RocketChatCommandToken.Value() == "" {
		writeError(w, http.StatusForbidden, "commands are disabled: ROCKETCHAT_COMMAND_TOKEN is not set")
		return
	}
	if msg.Token == "" {
		writeError(w, http.StatusUnauthorized, "missing token (set the outgoing integration's token to ROCKETCHAT_COMMAND_TOKEN)")
		return
	}
	if !secretEqual(msg.Token, s.cfg.RocketChatCommandToken) {
		s.log.Warn("Rocket.Chat command with a wrong token refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "token does not match")
		return
	}
	line, ours := commands.StripTrigger(msg.Text, msg.TriggerWord)
	if msg.fromBot() || msg.IsEdited || !ours {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	cmd, err := commands.Parse(line)
	if err != nil {
		writeJSON(w, http.StatusOK, commandReply{Text: err.Error()})
		return
	}
	if s.store == nil && cmd.Name != commands.Help {
		writeJSON(w, http.StatusOK, commandReply{Text: "The bridge has no database connection; try again later."})
		return
	}
	s.log.Info("Admin command", "command", cmd.Name, "user", msg.UserName, "channel", msg.ChannelName)
	writeJSON(w, http.StatusOK, s.runCommand(r.Context(), cmd, msg.UserName))
}

// runCommand executes a parsed command and words the answer.
func (s *Server) runCommand(ctx context.Context, cmd commands.Command, user string) commandReply {
	who := user
	if who == "" {
		who = "a Rocket.Chat user"
	}
	var (
		text string
		err  error
	)
	switch cmd.Name {
	case commands.Help:
		text = commands.HelpText()
	case commands.Authorize:
		var res authorizeResult
		if res, err = s.authorize(ctx, who); err == nil {
			text = authorizeText(res)
		}
	case commands.Unauthorize:
		var res unauthorizeView
		if res.UnauthorizeResult, err = s.unauthorize(ctx, who); err == nil {
			text = res.text()
		}
	case commands.List:
		var acc []accountView
		if acc, err = s.accounts(ctx); err == nil {
			text = listText(acc)
		}
	case commands.Subscribe, commands.Unsubscribe:
		var p store.Page
		if p, err = s.setSubscription(ctx, cmd.Page, cmd.Name == commands.Subscribe, who); err == nil {
			state := "subscribed: its messages now reach Rocket.Chat"
			if !p.Subscribed {
				state = "unsubscribed: Meta stops sending its messages"
			}
			text = fmt.Sprintf("%s is %s.", pageLabel(p), state)
		}
	case commands.Edit:
		var p store.Page
		if p, err = s.editPageConfig(ctx, cmd.Page, cmd.Edit); err == nil {
			text = "Saved. " + pageText(accountView{Page: p})
		}
	case commands.Settings:
		var views []settingView
		if len(cmd.Settings) == 0 {
			views, err = s.settings(ctx)
		} else {
			views, err = s.updateSettings(ctx, cmd.Settings)
		}
		if err == nil {
			text = settingsText(views, cmd.Settings)
		}
	default:
		text = commands.HelpText()
	}
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) {
			return commandReply{Text: oe.Msg}
		}
		return commandReply{Text: err.Error()}
	}
	return commandReply{Text: text}
}
