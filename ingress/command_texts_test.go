package ingress

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// hostile are values Meta or a page owner chose: a page name, an Instagram username, a
// health problem, an error message. In the bot's answers none may mention anyone, render a
// link or an image, or break out of the code span it is shown in.
var hostile = []string{
	"Casa @all [Re-authorize now](https://evil.example/login)",
	"x` @here ![](https://evil.example/t.png) `y",
	"<https://evil.example|Re-authorize now>",
	"\u202egnp.exe",
}

// unsafeMarkup finds what Rocket.Chat would render from text someone else wrote.
var unsafeMarkup = regexp.MustCompile("\\]\\(|(^|[\\s(`])@(all|here|\\w)|<https?://[^>|]*\\||\u202e")

// TestCommandAnswersNeutraliseWhatMetaWrote (issue 20, item 3): every value that comes
// from Meta in a command answer goes through safetext, so `instagram list` cannot ping the
// channel or render a phishing link as the bot.
func TestCommandAnswersNeutraliseWhatMetaWrote(t *testing.T) {
	removed := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, v := range hostile {
		p := store.Page{PageID: "1020" + v, IGAccountID: "1784" + v, IGUsername: "casa" + v, Name: v, HasToken: true,
			Subscribed: true, Department: "Instagram" + v, WelcomeMessage: "Olá " + v}
		answers := map[string]string{
			"list":             listText([]accountView{{Page: p, HealthProblem: "token: " + v}, {Page: store.Page{PageID: "2", Name: v, RemovedAt: &removed}}}),
			"edit (show page)": pageConfigText(p, "https://bridge.example/console/pages/1020"),
			"edit (saved)":     "Saved. " + pageText(accountView{Page: p}),
			"subscribe":        pageLabel(p),
			"unauthorize": unauthorizeView{workflows.UnauthorizeResult{
				Pages:  []workflows.PageOutcome{{PageID: "1020" + v, IGUsername: v, Error: "Meta says " + v}, {PageID: "3", IGUsername: v, Unsubscribed: true}},
				Revoke: workflows.RevokeResult{Failed: []string{"(#190) " + v}}}}.text(),
		}
		for name, text := range answers {
			// Our own answer has backticked ids and no markup of its own besides a console
			// URL: strip the code spans' insides and look at what is left, and inside them.
			require.NotRegexp(t, unsafeMarkup, text, "%s answer with %q", name, v)
			require.Zero(t, strings.Count(text, "`")%2, "%s: a backtick broke out of a code span: %s", name, text)
		}
	}
}
