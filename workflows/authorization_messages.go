package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/igdirect/bridge/safetext"
)

// Texts the administration workflows post in the setup channel (Rocket.Chat markdown).
// Instagram usernames are written without "@", which Rocket.Chat would take for a mention
// of one of its own users. Everything Meta chose (page names, usernames, error messages,
// the OAuth error description) goes through safe(): the bot must not post a link, an image
// or an @all someone else wrote.

// safe neutralises text that came from Meta or a browser (package safetext).
func safe(s string) string { return safetext.Neutralize(s) }

func requestedBy(who string) string {
	if who == "" {
		return ""
	}
	return " (requested by " + safe(who) + ")"
}

func clock(t time.Time) string { return t.UTC().Format("15:04 MST") }

func buttonMessage(link AuthorizationLink, who string) SetupMessage {
	return SetupMessage{
		Text: "Connect Instagram business accounts" + requestedBy(who) + ": click *Start Authentication*, log in with " +
			"Facebook and grant the pages whose Instagram accounts should be connected. The link works once and expires at " +
			clock(link.ExpiresAt) + ".",
		Attachments: []SetupAttachment{{
			Title: "Instagram authorization", Color: "#1d74f5",
			ButtonText: "Start Authentication", ButtonAuthorization: &link.OAuthStateRef,
		}},
	}
}

// buttonSentMessage tells the setup channel where the button went, without the link.
func buttonSentMessage(link AuthorizationLink, to string, err error) SetupMessage {
	if err != nil {
		return SetupMessage{Text: "⚠️ An Instagram authorization was started by " + safe(to) + ", but the *Start Authentication* button could not be sent to them by direct message (" +
			safe(errorText(err)) + "). Nobody has the link; it expires unused at " + clock(link.ExpiresAt) + ". Check that the bot may send direct messages, then `instagram authorize` again."}
	}
	return SetupMessage{Text: "🔐 Instagram authorization started: the *Start Authentication* button was sent to " + safe(to) +
		" by direct message (it works once, in the browser that opens it first, until " + clock(link.ExpiresAt) + ")."}
}

// startedMessage tells the setup channel of an authorization whose starter has the link.
func startedMessage(link AuthorizationLink, who string) SetupMessage {
	return SetupMessage{Text: "🔐 Instagram authorization started" + requestedBy(who) + "; the link went to whoever started it, not here. It expires at " +
		clock(link.ExpiresAt) + "."}
}

func expiredMessage(link AuthorizationLink) SetupMessage {
	return SetupMessage{Text: "⌛ The Instagram authorization link that expired at " + clock(link.ExpiresAt) +
		" was not used. Nothing was stored. Start again with `instagram authorize`."}
}

func deniedMessage(detail string) SetupMessage {
	return SetupMessage{Text: "❌ Instagram authorization was declined on Meta's dialog (" + safe(detail) + "). Nothing was stored."}
}

func failedMessage(res AuthorizationResult) SetupMessage {
	var b strings.Builder
	b.WriteString("❌ Instagram authorization failed: " + safe(res.Detail) + ". No account was connected.")
	writeSkipped(&b, res.Skipped)
	return SetupMessage{Text: b.String()}
}

func connectedMessage(res AuthorizationResult) SetupMessage {
	var b strings.Builder
	b.WriteString("✅ Instagram authorization complete" + requestedBy(res.RequestedBy) + ". Connected accounts:")
	for _, acc := range res.Accounts {
		b.WriteString(fmt.Sprintf("\n• %s — page %s", accountLabel(acc.IGUsername, acc.IGAccountID), safe(acc.PageID)))
		if acc.PageName != "" {
			b.WriteString(fmt.Sprintf(" (%s)", safe(acc.PageName)))
		}
		if acc.Subscribed {
			b.WriteString(": webhooks subscribed")
		} else {
			b.WriteString(": ⚠️ webhook subscription failed (" + safe(acc.SubscribeError) + "); retry with `instagram subscribe " + safe(acc.PageID) + "`")
		}
	}
	writeSkipped(&b, res.Skipped)
	return SetupMessage{Text: b.String()}
}

func writeSkipped(b *strings.Builder, skipped []SkippedPage) {
	if len(skipped) == 0 {
		return
	}
	b.WriteString("\nNot connected:")
	for _, s := range skipped {
		name := s.Name
		if name == "" {
			name = "page"
		}
		b.WriteString(fmt.Sprintf("\n• %s (page %s): %s", safe(name), safe(s.PageID), safe(s.Reason)))
	}
}

func accountLabel(username, accountID string) string {
	if username != "" {
		return "Instagram *" + safe(username) + "*"
	}
	return "Instagram account " + safe(accountID)
}

func healthMessage(changes []PageHealth) SetupMessage {
	var b strings.Builder
	b.WriteString("🩺 Instagram health check:")
	for _, c := range changes {
		label := accountLabel(c.IGUsername, "") + " (page " + safe(c.PageID) + ")"
		if c.IGUsername == "" {
			label = "Page " + safe(c.PageID)
		}
		if c.Resubscribed {
			what := "Meta had dropped the webhook subscription"
			if len(c.MissingFields) > 0 && len(c.MissingFields) < 7 {
				what = "Meta had dropped webhook fields " + strings.Join(c.MissingFields, ", ")
			}
			b.WriteString(fmt.Sprintf("\n• %s: %s; subscribed again", label, what))
		}
		switch {
		case c.Problem != "" && c.Problem != c.PreviousProblem:
			b.WriteString(fmt.Sprintf("\n• %s: ⚠️ %s", label, safe(c.Problem)))
		case c.Problem == "" && c.PreviousProblem != "":
			b.WriteString(fmt.Sprintf("\n• %s: recovered (was: %s)", label, safe(c.PreviousProblem)))
		}
	}
	return SetupMessage{Text: b.String()}
}

func unauthorizeMessage(res UnauthorizeResult, who string) SetupMessage {
	var b strings.Builder
	b.WriteString("🔌 Instagram uninstalled" + requestedBy(who) + ".")
	for _, p := range res.Pages {
		label := accountLabel(p.IGUsername, "") + " (page " + safe(p.PageID) + ")"
		if p.IGUsername == "" {
			label = "Page " + safe(p.PageID)
		}
		if p.Unsubscribed {
			b.WriteString(fmt.Sprintf("\n• %s: webhooks unsubscribed", label))
		} else {
			b.WriteString(fmt.Sprintf("\n• %s: ⚠️ could not unsubscribe (%s); remove the app from the page in Meta Business Suite", label, safe(p.Error)))
		}
	}
	b.WriteString(fmt.Sprintf("\nApp permissions revoked for %d Facebook login(s)", res.Revoke.Revoked))
	if res.Revoke.AlreadyRevoked > 0 {
		b.WriteString(fmt.Sprintf(" (%d stored login(s) had been revoked already)", res.Revoke.AlreadyRevoked))
	}
	b.WriteString(".")
	for _, f := range res.Revoke.Failed {
		b.WriteString("\n• ⚠️ revoke failed: " + safe(f))
	}
	b.WriteString(fmt.Sprintf("\nDeleted %d page token(s), %d user token(s) and %d pending authorization(s).",
		res.Deleted.PageTokens, res.Deleted.UserTokens, res.Deleted.OAuthStates))
	return SetupMessage{Text: b.String()}
}
