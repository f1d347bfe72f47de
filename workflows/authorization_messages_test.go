package workflows

import (
	"strings"
	"testing"
)

// What Meta (page names, usernames, error texts) or a browser (the OAuth error
// description) chose cannot make the bot post a link, an image or a mention in the setup
// channel.
func TestSetupMessagesNeutraliseWhatMetaChose(t *testing.T) {
	const evil = "@all [click](javascript:alert(1)) ![](http://tracker.example/p.gif) <https://x.example|y> \u202Eevil"
	res := AuthorizationResult{RequestedBy: "@here", Detail: evil,
		Accounts: []ConnectedAccount{{PageID: "1", PageName: evil, IGUsername: evil, SubscribeError: evil}},
		Skipped:  []SkippedPage{{PageID: "2", Name: evil, Reason: evil}}}
	msgs := map[string]SetupMessage{
		"connected":   connectedMessage(res),
		"failed":      failedMessage(res),
		"denied":      deniedMessage(evil),
		"health":      healthMessage([]PageHealth{{PageID: "1", IGUsername: evil, Problem: evil}, {PageID: "2", PreviousProblem: evil}}),
		"unauthorize": unauthorizeMessage(UnauthorizeResult{Pages: []PageOutcome{{PageID: "1", IGUsername: evil, Error: evil}}, Revoke: RevokeResult{Failed: []string{evil}}}, "@all"),
	}
	for name, m := range msgs {
		for _, bad := range []string{"@all", "@here", "](", "|y>", "\u202E"} {
			if strings.Contains(m.Text, bad) {
				t.Errorf("%s message contains %q: %s", name, bad, m.Text)
			}
		}
		if !strings.Contains(m.Text, "＠all") && name != "health" {
			t.Errorf("%s message lost the text instead of neutralising it: %s", name, m.Text)
		}
	}
}
