package commands

import (
	"strings"

	"github.com/igdirect/bridge/appsettings"
)

// help lists every command with its syntax and what it does, in the order shown. The first
// five are the original app's shortcuts.
var help = []struct{ name, syntax, what string }{
	{Authorize, "authorize", "connect Instagram business accounts: sends you a *Start Authentication* button by direct message (the setup channel is told it was sent)"},
	{Unauthorize, "unauthorize", "uninstall: unsubscribe every page, revoke the app's permissions at Meta, delete every stored token (also `uninstall`)"},
	{Edit, `edit <pageId|username> [department=… welcome="…" finished="…" offline="…"]`, "alone: the page's configuration and the console link to edit it; with fields: change the Rocket.Chat department and automated messages (an empty value clears one)"},
	{List, "list", "connected accounts: page, Instagram username, webhook subscription, token health, department, messages"},
	{Subscribe, "subscribe <pageId|username>", "subscribe the page's webhooks (messages start flowing)"},
	{Unsubscribe, "unsubscribe <pageId|username>", "remove the page's webhook subscription (messages stop)"},
	{Settings, "settings [key=value …]", "show the application settings, or change some (keys or the original app's labels)"},
	{Console, "console", "sends you a sign-in link to the web console by direct message (valid 10 minutes, once)"},
	{SignOut, "signout", "sign out everywhere: ends every console session and unused sign-in link, of every admin (also `logout`)"},
	{Setup, "setup", "posts the setup instructions: what to configure where, the URLs to paste, what is still missing"},
	{Doctor, "doctor", "why messages may not arrive: per account, the webhook subscription and token as Meta reports them, the last events received, blocked conversations"},
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
	b.WriteString("*Instagram Direct commands* (type them as `" + Trigger + " …` or `/" + Trigger + " …`)")
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
