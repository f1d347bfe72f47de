package commands

import (
	"strings"

	"github.com/igdirect/bridge/appsettings"
)

// help lists every command with its syntax and what it does, in the order shown.
var help = []struct{ name, syntax, what string }{
	{Authorize, "authorize", "connect Instagram business accounts: posts a *Start Authentication* button in the setup channel"},
	{List, "list", "connected accounts: page, Instagram username, webhook subscription, token health, department, messages"},
	{Subscribe, "subscribe <pageId|username>", "subscribe the page's webhooks (messages start flowing)"},
	{Unsubscribe, "unsubscribe <pageId|username>", "remove the page's webhook subscription (messages stop)"},
	{Edit, `edit <pageId|username> department=… welcome="…" finished="…" offline="…"`, "change a page's Rocket.Chat department and automated messages; an empty value clears one"},
	{Settings, "settings [key=value …]", "show the application settings, or change some"},
	{Unauthorize, "unauthorize", "uninstall: unsubscribe every page, revoke the app's permissions at Meta, delete every stored token"},
	{Help, "help", "this list"},
}

// Usage returns the syntax of one command, as admins type it.
func Usage(name string) string {
	for _, h := range help {
		if h.name == name {
			return "`" + Trigger + " " + h.syntax + "`"
		}
	}
	return "`" + Trigger + " help`"
}

// HelpText is the answer to `instagram help`.
func HelpText() string {
	var b strings.Builder
	b.WriteString("*Instagram Direct commands*")
	for _, h := range help {
		b.WriteString("\n• `" + Trigger + " " + h.syntax + "` — " + h.what)
	}
	b.WriteString("\nSettings: ")
	for i, d := range appsettings.Docs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + d.Key + "`")
	}
	b.WriteString(" (`" + Trigger + " settings` shows values and allowed choices).")
	return b.String()
}
