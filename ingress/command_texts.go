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
// '@' would mention a Rocket.Chat user. Every value Meta, a page owner or a customer chose
// (page names and ids, usernames, health problems, errors, messages) goes through one of
// two helpers, code and plain (package safetext): none can mention anyone, render a link
// or an image, or break out of its code span.

// code shows a value someone else chose as an inline code span.
func code(s string) string { return safetext.Code(s) }

// plain shows a value someone else chose as text.
func plain(s string) string { return safetext.Neutralize(s) }

// authorizeText answers `instagram authorize`: the button went to the admin who typed it,
// by direct message (the link is bound to the first browser that opens it).
func authorizeText(res authorizeResult) string {
	if res.Pending {
		return fmt.Sprintf("Authorization started (Temporal workflow `%s`). The *Start Authentication* button will reach you by direct message as soon as the worker picks it up.",
			res.WorkflowID)
	}
	return fmt.Sprintf("Authorization started: I am sending you the *Start Authentication* button by direct message. The link works once, in the browser that opens it first, until %s.",
		res.ExpiresAt.UTC().Format("15:04 MST"))
}

// unauthorizeView words an uninstall's result.
type unauthorizeView struct{ workflows.UnauthorizeResult }

func (v unauthorizeView) text() string {
	var b strings.Builder
	b.WriteString("Instagram uninstalled.")
	for _, p := range v.Pages {
		if p.Unsubscribed {
			fmt.Fprintf(&b, "\n• page %s %s: webhooks unsubscribed", code(p.PageID), usernameSuffix(p.IGUsername))
		} else {
			fmt.Fprintf(&b, "\n• page %s %s: ⚠️ could not unsubscribe (%s)", code(p.PageID), usernameSuffix(p.IGUsername), plain(p.Error))
		}
	}
	fmt.Fprintf(&b, "\nApp permissions revoked for %d Facebook login(s)", v.Revoke.Revoked)
	if v.Revoke.AlreadyRevoked > 0 {
		fmt.Fprintf(&b, ", %d already revoked", v.Revoke.AlreadyRevoked)
	}
	if n := len(v.Revoke.Failed); n > 0 {
		fmt.Fprintf(&b, " (%d failed: %s)", n, plain(strings.Join(v.Revoke.Failed, "; ")))
	}
	fmt.Fprintf(&b, ".\nDeleted %d page token(s), %d user token(s), %d pending authorization(s). Page settings are kept for a later `instagram authorize`.",
		v.Deleted.PageTokens, v.Deleted.UserTokens, v.Deleted.OAuthStates)
	return b.String()
}

func usernameSuffix(u string) string {
	if u == "" {
		return ""
	}
	return "(" + code(u) + ")"
}

func pageLabel(p store.Page) string {
	if p.IGUsername != "" {
		return fmt.Sprintf("Instagram %s (page %s)", code(p.IGUsername), code(p.PageID))
	}
	return fmt.Sprintf("Page %s", code(p.PageID))
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
		b.WriteString(" " + plain(p.Name))
	}
	if p.IGAccountID != "" {
		b.WriteString(", account " + code(p.IGAccountID))
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
		status = append(status, "⚠️ "+plain(a.HealthProblem))
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
		b.WriteString(" " + plain(p.Name))
	}
	values := map[string]string{"department": p.Department, "welcome": p.WelcomeMessage, "finished": p.FinishedMessage, "offline": p.OfflineMessage}
	for _, f := range commands.PageFields {
		v := values[f.Key]
		switch {
		case v == "":
			fmt.Fprintf(&b, "\n• *%s* (`%s`): —", f.Label, f.Key)
		case f.MaxBytes == 0:
			fmt.Fprintf(&b, "\n• *%s* (`%s`): %s", f.Label, f.Key, code(v))
		default:
			fmt.Fprintf(&b, "\n• *%s* (`%s`, %d of %d bytes):\n```\n%s\n```", f.Label, f.Key, len(v), f.MaxBytes, strings.ReplaceAll(plain(v), "`", "ˋ"))
		}
	}
	fmt.Fprintf(&b, "\nEdit it in the console: %s (sign in with `instagram console`), or here: %s.", consoleLink, code("instagram edit "+p.PageID+` welcome="…"`))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return code(s)
}

func quoteOrDash(s string) string {
	if s == "" {
		return "—"
	}
	if len([]rune(s)) > 60 {
		s = string([]rune(s)[:60]) + "…"
	}
	return "“" + plain(strings.ReplaceAll(s, "\n", " ")) + "”"
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
	return code(s)
}
