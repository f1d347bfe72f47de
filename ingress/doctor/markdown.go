package doctor

import (
	"fmt"
	"strings"
	"time"

	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/setupguide"
)

// maxMarkdown keeps the command's answer under Rocket.Chat's default message size (5000
// characters, Message_MaxAllowedSize); the console shows the rest.
const maxMarkdown = 4500

var icons = map[string]string{OK: "✅", Warn: "⚠️", Bad: "❌", Info: "ℹ️"}

// Markdown renders the report for Rocket.Chat. Texts Meta chose (error messages,
// usernames) are neutralised: the bot must not post links or mentions someone else wrote.
func Markdown(r Report, now time.Time, consoleURL string) string {
	var b strings.Builder
	b.WriteString("*Instagram doctor*")
	for _, f := range r.Global {
		b.WriteString("\n" + icons[f.Level] + " " + safetext.Neutralize(f.Text))
	}
	if len(r.Accounts) == 0 {
		b.WriteString("\n❌ No Instagram account is connected: `instagram authorize`.")
	}
	for _, a := range r.Accounts {
		b.WriteString("\n\n*" + safetext.Neutralize(a.Label()) + "*")
		for _, f := range a.Findings {
			b.WriteString("\n" + icons[f.Level] + " " + safetext.Neutralize(f.Text))
		}
		if a.Removed {
			continue
		}
		if len(a.Events) > 0 {
			var ev []string
			for _, e := range a.Events {
				ev = append(ev, fmt.Sprintf("%s %s", e.Kind, setupguide.Ago(e.Last, now)))
			}
			b.WriteString("\nLast events from Meta: " + strings.Join(ev, " · "))
		} else {
			b.WriteString("\nNo event of this account has reached us yet.")
		}
		for i, c := range a.Blocked {
			if i == 5 {
				b.WriteString(fmt.Sprintf("\n   … and %d more", len(a.Blocked)-5))
				break
			}
			b.WriteString(fmt.Sprintf("\n   • `%s`: %s", c.WorkflowID, safetext.Neutralize(c.Reason)))
		}
		if len(a.Causes) > 0 {
			b.WriteString("\n*No customer message from this account has reached us.* Usual causes:")
			for _, c := range a.Causes {
				b.WriteString("\n   • " + c)
			}
		}
	}
	out := b.String()
	if len(out) > maxMarkdown {
		cut := maxMarkdown
		for cut > 0 && out[cut]&0xC0 == 0x80 {
			cut--
		}
		out = out[:cut] + "\n…"
	}
	if consoleURL != "" {
		out += "\nThe same in the console: " + consoleURL
	}
	return out
}
