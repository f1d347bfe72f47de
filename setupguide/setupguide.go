// Package setupguide says what is left to set up, from facts the bridge can see: the
// counterpart of the original app's install message. The bot posts it in the setup channel
// at first start and on `instagram setup`; the console shows it as its overview. It does no
// I/O (workflows use it): package gather collects the facts.
package setupguide

import (
	"fmt"
	"strings"
	"time"
)

// Facts are what the bridge knows about its own setup.
type Facts struct {
	PublicURL    string `json:"public_url"`
	SetupChannel string `json:"setup_channel"`
	// Configured: META_APP_ID, ROCKETCHAT_COMMAND_TOKEN and ADMIN_API_TOKEN are set.
	MetaAppID       bool `json:"meta_app_id"`
	CommandsEnabled bool `json:"commands_enabled"`
	AdminAPIToken   bool `json:"admin_api_token"`
	// CommandUsers is how many user ids ROCKETCHAT_COMMAND_USERS lists (0: not set).
	CommandUsers int `json:"command_users,omitempty"`
	// Pages by state.
	Connected    []string `json:"connected,omitempty"` // Instagram usernames (or page IDs) with a token
	Removed      int      `json:"removed,omitempty"`
	NeedsReauth  []string `json:"needs_reauth,omitempty"`
	Unsubscribed []string `json:"unsubscribed,omitempty"`
	// When Meta, Rocket.Chat's Omnichannel webhook and the commands integration last reached
	// ingress (zero: never), and calls refused for a wrong signature or token.
	MetaLast              time.Time `json:"meta_last,omitzero"`
	MetaRefusedLast       time.Time `json:"meta_refused_last,omitzero"`
	RocketChatLast        time.Time `json:"rocketchat_last,omitzero"`
	RocketChatRefusedLast time.Time `json:"rocketchat_refused_last,omitzero"`
	CommandLast           time.Time `json:"command_last,omitzero"`
	CommandRefusedLast    time.Time `json:"command_refused_last,omitzero"`
	GuidePosted           bool      `json:"guide_posted,omitempty"`
}

// URLs an admin pastes into Rocket.Chat and Meta.
func (f Facts) MetaWebhookURL() string       { return f.PublicURL + "/webhooks/instagram" }
func (f Facts) OAuthRedirectURL() string     { return f.PublicURL + "/oauth/callback" }
func (f Facts) RocketChatWebhookURL() string { return f.PublicURL + "/webhooks/rocketchat" }
func (f Facts) CommandURL() string           { return f.PublicURL + "/rocketchat/command" }
func (f Facts) ConsoleURL() string           { return f.PublicURL + "/console/" }

// AuthorizeURL is the console page that starts an authorization: a link that stays valid,
// unlike an OAuth state, so the setup message can carry a Start Authentication button.
func (f Facts) AuthorizeURL() string { return f.PublicURL + "/console/authorize" }

// WhoMayChange says who may change things (issue 20); commandUsers is how many user ids
// ROCKETCHAT_COMMAND_USERS lists. The doctor and the setup guide say the same.
func WhoMayChange(commandUsers int) string {
	s := "Who may change things (commands that change something, `instagram console`): Rocket.Chat users with the `admin` or `livechat-manager` role"
	if commandUsers > 0 {
		s += fmt.Sprintf(", and of those only the %d user ids in `ROCKETCHAT_COMMAND_USERS`", commandUsers)
	}
	return s + "; everyone in the channel may read (`list`, `settings`, `doctor`, `help`)."
}

// Where a step is done.
const (
	InBridge     = "Bridge"
	InRocketChat = "Rocket.Chat"
	InMeta       = "Meta"
	InInstagram  = "Instagram"
)

// Item is one step of the setup.
type Item struct {
	Where string `json:"where"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
	// Status says what the bridge saw ("called us 2 minutes ago", "not yet").
	Status string `json:"status"`
	// Steps say what to do, with the values to paste (Markdown code spans).
	Steps []string `json:"steps,omitempty"`
}

// Items is the checklist, in the order an admin works through it.
func Items(f Facts, now time.Time) []Item {
	var out []Item
	https := strings.HasPrefix(strings.ToLower(f.PublicURL), "https://")
	out = append(out, Item{Where: InBridge, Title: "A public HTTPS address", Done: https,
		Status: map[bool]string{true: "PUBLIC_URL is `" + f.PublicURL + "`", false: "PUBLIC_URL is `" + f.PublicURL + "`: Meta calls only HTTPS URLs with a valid certificate"}[https],
		Steps:  []string{"Put ingress behind a TLS reverse proxy and set `PUBLIC_URL` to its address; forward only the public paths (README, HTTP endpoints)."}})

	rc := Item{Where: InRocketChat, Title: "Omnichannel webhook", Done: !f.RocketChatLast.IsZero(),
		Steps: []string{"Administration › Omnichannel › Webhooks: Webhook URL `" + f.RocketChatWebhookURL() + "`, Secret Token = `ROCKETCHAT_WEBHOOK_TOKEN`",
			"Switch on *Send request on agent messages* and *Send request on chat close*; leave visitor messages off"}}
	rc.Status = seen("the Omnichannel webhook", f.RocketChatLast, now, "the Omnichannel webhook has not called us yet")
	if !f.RocketChatRefusedLast.IsZero() && f.RocketChatRefusedLast.After(f.RocketChatLast) {
		rc.Done = false
		rc.Status = "Rocket.Chat called " + ago(f.RocketChatRefusedLast, now) + " with a wrong secret token: set the webhook's Secret Token to `ROCKETCHAT_WEBHOOK_TOKEN`"
	}
	out = append(out, rc)

	cmd := Item{Where: InRocketChat, Title: "Commands (outgoing integration)", Done: f.CommandsEnabled && !f.CommandLast.IsZero(),
		Steps: []string{"Administration › Integrations › New › Outgoing: event *Message Sent*, channel `#" + f.SetupChannel + "`, Trigger Words `instagram,/instagram`, URL `" + f.CommandURL() + "`, Token = `ROCKETCHAT_COMMAND_TOKEN`, post as the bot user",
			"To type the original app's `/instagram …` too: Administration › Settings › Message › *Allow Unrecognized Slash Commands* on (Rocket.Chat then sends it as a message, which the trigger word `/instagram` catches)",
			WhoMayChange(f.CommandUsers) + " Give the bot user the `view-full-other-user-info` permission: it reads the roles with `users.info`, and without them refuses every change."}}
	switch {
	case !f.CommandsEnabled:
		cmd.Status = "`ROCKETCHAT_COMMAND_TOKEN` is not set: commands are off"
	case !f.CommandRefusedLast.IsZero() && f.CommandRefusedLast.After(f.CommandLast):
		cmd.Done = false
		cmd.Status = "the integration called " + ago(f.CommandRefusedLast, now) + " with a wrong token: set its Token to `ROCKETCHAT_COMMAND_TOKEN`"
	default:
		cmd.Status = seen("a command", f.CommandLast, now, "no command has reached us yet")
	}
	out = append(out, cmd)

	meta := Item{Where: InMeta, Title: "Webhooks of the Meta app", Done: !f.MetaLast.IsZero(),
		Steps: []string{"App dashboard › Webhooks › Instagram: Callback URL `" + f.MetaWebhookURL() + "`, Verify Token = `META_VERIFY_TOKEN`; subscribe the field `messages` (and messaging_postbacks, message_reactions, messaging_seen, messaging_referral, messaging_handover, standby)",
			"App settings › Basic: `META_APP_ID` and `META_APP_SECRET`"}}
	meta.Status = seen("Meta", f.MetaLast, now, "Meta has not delivered a webhook yet")
	if !f.MetaAppID {
		meta.Done, meta.Status = false, "`META_APP_ID` is not set; "+meta.Status
	}
	if !f.MetaRefusedLast.IsZero() && f.MetaRefusedLast.After(f.MetaLast) {
		meta.Done = false
		meta.Status = "Meta's webhook " + ago(f.MetaRefusedLast, now) + " had a signature that does not match: `META_APP_SECRET` is not the app's secret"
	}
	out = append(out, meta)

	// Whether Meta accepts the redirect URI shows only when someone authorizes; until an
	// account is connected, the step stays open.
	connectedOnce := len(f.Connected) > 0 || f.Removed > 0
	out = append(out, Item{Where: InMeta, Title: "Login redirect", Done: connectedOnce,
		Status: map[bool]string{true: "accounts have been connected; keep the URI for the next Start Authentication",
			false: "needed before Start Authentication works"}[connectedOnce],
		Steps: []string{"Facebook Login for Business › Settings › Valid OAuth Redirect URIs: `" + f.OAuthRedirectURL() + "` (byte for byte)"}})

	acc := Item{Where: InInstagram, Title: "Instagram accounts", Done: len(f.Connected) > 0,
		Steps: []string{"An Instagram professional account linked to a Facebook page",
			"In the Instagram app: Settings › Messages and story replies › Message controls › Connected tools › *Allow access to messages* on",
			"Click *Start Authentication* (or type `instagram authorize`), log in with Facebook and grant the pages"}}
	switch {
	case len(f.Connected) == 0 && f.Removed > 0:
		acc.Status = fmt.Sprintf("no account connected: %d removed by an uninstall", f.Removed)
	case len(f.Connected) == 0:
		acc.Status = "no account connected yet"
	default:
		acc.Status = fmt.Sprintf("%d connected: %s", len(f.Connected), strings.Join(f.Connected, ", "))
		var problems []string
		if len(f.NeedsReauth) > 0 {
			problems = append(problems, "needs re-authorization: "+strings.Join(f.NeedsReauth, ", "))
		}
		if len(f.Unsubscribed) > 0 {
			problems = append(problems, "webhooks not subscribed: "+strings.Join(f.Unsubscribed, ", "))
		}
		if len(problems) > 0 {
			acc.Done = false
			acc.Status += " (" + strings.Join(problems, "; ") + ")"
		}
	}
	out = append(out, acc)
	return out
}

// Missing lists the titles of the steps not done yet.
func Missing(items []Item) []string {
	var out []string
	for _, it := range items {
		if !it.Done {
			out = append(out, it.Title)
		}
	}
	return out
}

func seen(what string, at, now time.Time, never string) string {
	if at.IsZero() {
		return never
	}
	return what + " reached us " + ago(at, now)
}

// ago words a past time for people: "just now", "5 minutes ago", "on 2026-05-01 10:00 UTC".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < 2*time.Minute:
		return "1 minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "1 hour ago"
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d/time.Hour))
	}
	return "on " + t.UTC().Format("2006-01-02 15:04 MST")
}

// Ago is ago for other packages (console, doctor).
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return ago(t, now)
}

// Markdown renders the checklist as Rocket.Chat markdown. (Sprintf, not Fprintf: workflows
// call it, and workflowcheck allows the former only.)
func Markdown(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		mark := "⬜"
		if it.Done {
			mark = "✅"
		}
		b.WriteString(fmt.Sprintf("\n%s *%s — %s*: %s", mark, it.Where, it.Title, it.Status))
		if !it.Done {
			for _, s := range it.Steps {
				b.WriteString("\n   • " + s)
			}
		}
	}
	return b.String()
}
