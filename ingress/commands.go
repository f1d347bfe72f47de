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
	"time"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// outgoingMessage is the body of a Rocket.Chat outgoing integration ("Message Sent",
// rocketchat-livechat.md §12). There is no auth header: the token is in the body.
type outgoingMessage struct {
	Token       string          `json:"token"`
	Bot         json.RawMessage `json:"bot"`
	TriggerWord string          `json:"trigger_word"`
	ChannelID   string          `json:"channel_id"`
	ChannelName string          `json:"channel_name"` // room.name: absent for Omnichannel (and direct) rooms
	UserID      string          `json:"user_id"`
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
// that are not for us get an empty object, which Rocket.Chat does not post. The token only
// proves the request comes from the integration, which an admin may have scoped to more
// rooms than the setup channel (all private groups include every Omnichannel room, where
// customers type): a command counts only from the setup channel, and a change only from a
// user Rocket.Chat says holds a manager role (and, with ROCKETCHAT_COMMAND_USERS, is listed
// there; rights.go).
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
		s.activity.note(store.SourceCommand, "", store.RefusedPrefix+"token")
		s.log.Warn("Rocket.Chat command with a wrong token refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "token does not match")
		return
	}
	s.activity.note(store.SourceCommand, "", "message")
	line, ours := commands.StripTrigger(msg.Text, msg.TriggerWord)
	if msg.fromBot() || msg.IsEdited || !ours {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	if !s.inSetupChannel(msg) {
		// Not an answer Rocket.Chat posts (non-2xx): in an Omnichannel room it would reach
		// the customer. It shows in the integration's history.
		s.log.Warn("Rocket.Chat command outside the setup channel refused", "user_id", msg.UserID, "user", msg.UserName,
			"channel_id", msg.ChannelID, "channel", msg.ChannelName)
		writeError(w, http.StatusForbidden, "commands are accepted only in the setup channel (ROCKETCHAT_SETUP_CHANNEL); restrict the outgoing integration to it")
		return
	}
	cmd, err := commands.Parse(line)
	if err != nil {
		writeJSON(w, http.StatusOK, commandReply{Text: err.Error()})
		return
	}
	if cmd.Changes() {
		if err := s.mayChange(r.Context(), msg.UserID, msg.UserName); err != nil {
			s.log.Warn("Rocket.Chat command refused: the user may not change anything", "command", cmd.Name, "user_id", msg.UserID, "user", msg.UserName, "why", err.Error())
			writeJSON(w, http.StatusOK, commandReply{Text: fmt.Sprintf(
				"You may not run `%s %s`: %s `%s list`, `%s settings`, `%s doctor` and `%s help` work for everyone here.",
				commands.Trigger, cmd.Name, err.Error(), commands.Trigger, commands.Trigger, commands.Trigger, commands.Trigger)})
			return
		}
	}
	if s.store == nil && cmd.Name != commands.Help {
		writeJSON(w, http.StatusOK, commandReply{Text: "The bridge has no database connection; try again later."})
		return
	}
	s.log.Info("Admin command", "command", cmd.Name, "user_id", msg.UserID, "user", msg.UserName, "channel_id", msg.ChannelID, "channel", msg.ChannelName)
	writeJSON(w, http.StatusOK, s.runCommand(r.Context(), cmd, msg.UserID, msg.UserName))
}

// inSetupChannel: the command was typed in ROCKETCHAT_SETUP_CHANNEL, named by id or by
// name. Omnichannel rooms have no name (only a display name), so they never match a name.
func (s *Server) inSetupChannel(msg outgoingMessage) bool {
	want := s.cfg.SetupChannel()
	if want == "" {
		return false
	}
	return msg.ChannelID == want || msg.ChannelName != "" && msg.ChannelName == want
}

// runCommand executes a parsed command and words the answer.
func (s *Server) runCommand(ctx context.Context, cmd commands.Command, userID, user string) commandReply {
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
		if res, err = s.authorize(ctx, who, user); err == nil {
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
		if cmd.ShowPage {
			if p, err = s.findPage(ctx, cmd.Page); err == nil {
				text = pageConfigText(p, s.consoleURL("/pages/"+p.PageID))
			}
		} else if p, err = s.editPageConfig(ctx, cmd.Page, cmd.Edit, who); err == nil {
			text = "Saved. " + pageText(accountView{Page: p})
		}
	case commands.Settings:
		var views []settingView
		if len(cmd.Settings) == 0 {
			views, err = s.settings(ctx)
		} else {
			views, err = s.updateSettings(ctx, cmd.Settings, who)
		}
		if err == nil {
			text = settingsText(views, cmd.Settings)
		}
	case commands.Console:
		var res workflows.ConsoleLinkResult
		if res, err = s.sendConsoleLink(ctx, userID, user); err == nil {
			text = fmt.Sprintf("I sent you a sign-in link to the console by direct message (%s). It works once, until %s. Without Rocket.Chat: %s with ADMIN_API_TOKEN.",
				res.SentTo, res.ExpiresAt.UTC().Format("15:04 MST"), s.consoleURL("/login"))
		}
	case commands.SignOut:
		var ended store.EndedSessions
		if ended, err = s.signOutEverywhere(ctx, who); err == nil {
			text = fmt.Sprintf("Everyone is signed out of the console: %d session(s) and %d unused sign-in link(s) ended. `%s console` sends a new sign-in link.",
				ended.Sessions, ended.Links, commands.Trigger)
		}
	case commands.Setup:
		var res workflows.SetupGuideResult
		if res, err = s.postSetupGuide(ctx, who); err == nil {
			text = "Setup instructions posted above."
			if len(res.Missing) > 0 {
				text += " Still missing: " + strings.Join(res.Missing, ", ") + "."
			}
		}
	case commands.Doctor:
		var rep doctor.Report
		if rep, err = s.doctor(ctx); err == nil {
			text = doctor.Markdown(rep, time.Now(), s.consoleURL("/doctor"))
		}
	default:
		text = commands.HelpText()
	}
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) { // refusals quote Meta's and Rocket.Chat's errors too
			return commandReply{Text: plain(oe.Msg)}
		}
		return commandReply{Text: plain(err.Error())}
	}
	return commandReply{Text: text}
}
