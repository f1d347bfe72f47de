package ingress

import (
	"fmt"
	"strings"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Answers of the Rocket.Chat commands (Rocket.Chat markdown). IDs and usernames are in
// backticks: Instagram usernames contain '_' and '.', which markdown would mangle, and an
// '@' would mention a Rocket.Chat user.

func authorizeText(res authorizeResult) string {
	if res.Pending {
		return fmt.Sprintf("Authorization started (Temporal workflow `%s`). The *Start Authentication* button will appear in #%s as soon as the worker picks it up.",
			res.WorkflowID, res.SetupChannel)
	}
	return fmt.Sprintf("Authorization started: I posted a *Start Authentication* button in #%s. The link works once, until %s.",
		res.SetupChannel, res.ExpiresAt.UTC().Format("15:04 MST"))
}

// unauthorizeView words an uninstall's result.
type unauthorizeView struct{ workflows.UnauthorizeResult }

func (v unauthorizeView) text() string {
	var b strings.Builder
	b.WriteString("Instagram uninstalled.")
	for _, p := range v.Pages {
		if p.Unsubscribed {
			fmt.Fprintf(&b, "\n• page `%s` %s: webhooks unsubscribed", p.PageID, usernameSuffix(p.IGUsername))
		} else {
			fmt.Fprintf(&b, "\n• page `%s` %s: ⚠️ could not unsubscribe (%s)", p.PageID, usernameSuffix(p.IGUsername), p.Error)
		}
	}
	fmt.Fprintf(&b, "\nApp permissions revoked for %d Facebook login(s)", v.Revoke.Revoked)
	if v.Revoke.AlreadyRevoked > 0 {
		fmt.Fprintf(&b, ", %d already revoked", v.Revoke.AlreadyRevoked)
	}
	if n := len(v.Revoke.Failed); n > 0 {
		fmt.Fprintf(&b, " (%d failed: %s)", n, strings.Join(v.Revoke.Failed, "; "))
	}
	fmt.Fprintf(&b, ".\nDeleted %d page token(s), %d user token(s), %d pending authorization(s). Page settings are kept for a later `instagram authorize`.",
		v.Deleted.PageTokens, v.Deleted.UserTokens, v.Deleted.OAuthStates)
	return b.String()
}

func usernameSuffix(u string) string {
	if u == "" {
		return ""
	}
	return "(`" + u + "`)"
}

func pageLabel(p store.Page) string {
	if p.IGUsername != "" {
		return fmt.Sprintf("Instagram `%s` (page `%s`)", p.IGUsername, p.PageID)
	}
	return fmt.Sprintf("Page `%s`", p.PageID)
}

func listText(acc []accountView) string {
	if len(acc) == 0 {
		return "No Instagram account is connected. Connect one with `instagram authorize`."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Instagram accounts* (%d)", len(acc))
	for _, a := range acc {
		b.WriteString("\n" + pageText(a))
	}
	return b.String()
}

// pageText describes one page in two lines.
func pageText(a accountView) string {
	p := a.Page
	var b strings.Builder
	b.WriteString("• " + pageLabel(p))
	if p.Name != "" {
		b.WriteString(" " + p.Name)
	}
	if p.IGAccountID != "" {
		b.WriteString(", account `" + p.IGAccountID + "`")
	}
	var status []string
	switch {
	case !p.HasToken && p.RemovedAt != nil:
		status = append(status, "🔌 removed by the uninstall of "+p.RemovedAt.UTC().Format("2006-01-02 15:04 MST")+" (`instagram authorize` connects it again)")
	case !p.HasToken:
		status = append(status, "⚠️ not connected (no token)")
	case p.NeedsReauth:
		status = append(status, "⚠️ needs re-authorization")
	default:
		status = append(status, "token ok")
	}
	switch {
	case !p.HasToken:
	case p.Subscribed:
		status = append(status, "webhooks subscribed")
	default:
		status = append(status, "webhooks *not* subscribed")
	}
	if a.HealthProblem != "" && !p.NeedsReauth {
		status = append(status, "⚠️ "+a.HealthProblem)
	}
	status = append(status, "department: "+orDash(p.Department))
	b.WriteString("\n   " + strings.Join(status, " · "))
	fmt.Fprintf(&b, "\n   welcome: %s · finished: %s · offline: %s", quoteOrDash(p.WelcomeMessage), quoteOrDash(p.FinishedMessage), quoteOrDash(p.OfflineMessage))
	return b.String()
}

// pageConfigText is the answer to `instagram edit <page>` alone: the page's whole
// configuration under the original app's labels, and where to edit it.
func pageConfigText(p store.Page, consoleLink string) string {
	var b strings.Builder
	b.WriteString("*Page config* of " + pageLabel(p))
	if p.Name != "" {
		b.WriteString(" " + safetext.Neutralize(p.Name))
	}
	values := map[string]string{"department": p.Department, "welcome": p.WelcomeMessage, "finished": p.FinishedMessage, "offline": p.OfflineMessage}
	for _, f := range commands.PageFields {
		v := values[f.Key]
		switch {
		case v == "":
			fmt.Fprintf(&b, "\n• *%s* (`%s`): —", f.Label, f.Key)
		case f.MaxBytes == 0:
			fmt.Fprintf(&b, "\n• *%s* (`%s`): `%s`", f.Label, f.Key, v)
		default:
			fmt.Fprintf(&b, "\n• *%s* (`%s`, %d of %d bytes):\n```\n%s\n```", f.Label, f.Key, len(v), f.MaxBytes, strings.ReplaceAll(v, "```", "ˋˋˋ"))
		}
	}
	fmt.Fprintf(&b, "\nEdit it in the console: %s (sign in with `instagram console`), or here: `instagram edit %s welcome=\"…\"`.", consoleLink, p.PageID)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}

func quoteOrDash(s string) string {
	if s == "" {
		return "—"
	}
	if len([]rune(s)) > 60 {
		s = string([]rune(s)[:60]) + "…"
	}
	return "“" + strings.ReplaceAll(s, "\n", " ") + "”"
}

// settingsText lists the settings; changed names the ones just set.
func settingsText(views []settingView, changed map[string]string) string {
	var b strings.Builder
	if len(changed) > 0 {
		b.WriteString("Saved. ")
	}
	b.WriteString("*Application settings*")
	for _, v := range views {
		mark := ""
		if _, ok := changed[v.Key]; ok {
			mark = " ✏️"
		}
		fmt.Fprintf(&b, "\n• `%s` = %s%s — %s (%s; default %s)", v.Key, codeOrEmpty(v.Value), mark, v.Meaning, v.Allowed, codeOrEmpty(v.Default))
	}
	b.WriteString("\nChange with `instagram settings key=value …`.")
	return b.String()
}

func codeOrEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return "`" + s + "`"
}
