package setupguide

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)

func byTitle(items []Item) map[string]Item {
	out := map[string]Item{}
	for _, it := range items {
		out[it.Title] = it
	}
	return out
}

func TestFreshInstallationSaysWhatIsMissing(t *testing.T) {
	f := Facts{PublicURL: "http://localhost:8080", SetupChannel: "omnichannel-instagram-setup"}
	items := Items(f, now)
	if got := len(Missing(items)); got != len(items) {
		t.Fatalf("%d of %d steps missing on a fresh installation: %v", got, len(items), Missing(items))
	}
	md := Markdown(items)
	for _, want := range []string{"no account connected yet", "the Omnichannel webhook has not called us yet", "Meta has not delivered a webhook yet",
		"`ROCKETCHAT_COMMAND_TOKEN` is not set: commands are off", "`META_APP_ID` is not set", "Meta calls only HTTPS URLs",
		"`http://localhost:8080/webhooks/rocketchat`", "`http://localhost:8080/webhooks/instagram`", "`http://localhost:8080/oauth/callback`",
		"`http://localhost:8080/rocketchat/command`", "Allow access to messages"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
}

func TestWorkingInstallation(t *testing.T) {
	f := Facts{PublicURL: "https://bridge.example.com", SetupChannel: "ig", MetaAppID: true, CommandsEnabled: true,
		Connected: []string{"casaazul.store"}, MetaLast: now.Add(-time.Minute), RocketChatLast: now.Add(-3 * time.Hour),
		CommandLast: now.Add(-72 * time.Hour)}
	items := Items(f, now)
	if m := Missing(items); len(m) != 0 {
		t.Fatalf("missing %v", m)
	}
	got := byTitle(items)
	if s := got["Omnichannel webhook"].Status; s != "the Omnichannel webhook reached us 3 hours ago" {
		t.Errorf("status %q", s)
	}
	if s := got["Commands (outgoing integration)"].Status; s != "a command reached us on 2026-04-29 12:00 UTC" {
		t.Errorf("status %q", s)
	}
	if md := Markdown(items); strings.Contains(md, "   •") {
		t.Errorf("steps of done items are not repeated:\n%s", md)
	}
}

func TestRefusedCallsNameTheWrongSecret(t *testing.T) {
	f := Facts{PublicURL: "https://b", MetaAppID: true, CommandsEnabled: true, Connected: []string{"a"},
		MetaLast: now.Add(-time.Hour), MetaRefusedLast: now.Add(-time.Minute),
		RocketChatLast: now.Add(-time.Hour), RocketChatRefusedLast: now.Add(-time.Minute),
		CommandLast: now.Add(-time.Hour), CommandRefusedLast: now.Add(-time.Minute),
		NeedsReauth: []string{"a"}}
	got := byTitle(Items(f, now))
	for title, want := range map[string]string{
		"Webhooks of the Meta app":        "`META_APP_SECRET` is not the app's secret",
		"Omnichannel webhook":             "set the webhook's Secret Token to `ROCKETCHAT_WEBHOOK_TOKEN`",
		"Commands (outgoing integration)": "set its Token to `ROCKETCHAT_COMMAND_TOKEN`",
		"Instagram accounts":              "needs re-authorization: a",
	} {
		it := got[title]
		if it.Done || !strings.Contains(it.Status, want) {
			t.Errorf("%s: done=%v status %q, want %q", title, it.Done, it.Status, want)
		}
	}
}

// TestSaysWhoMayChangeThings (issue 20, item 1): the guide tells admins who may change
// things, and how ROCKETCHAT_COMMAND_USERS narrows it.
func TestSaysWhoMayChangeThings(t *testing.T) {
	md := Markdown(Items(Facts{PublicURL: "https://bridge.example", SetupChannel: "omnichannel-instagram-setup", CommandsEnabled: true}, now))
	for _, want := range []string{"`admin` or `livechat-manager` role", "view-full-other-user-info", "everyone in the channel may read"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	md = Markdown(Items(Facts{PublicURL: "https://bridge.example", SetupChannel: "omnichannel-instagram-setup", CommandsEnabled: true, CommandUsers: 2}, now))
	if !strings.Contains(md, "and of those only the 2 user ids in `ROCKETCHAT_COMMAND_USERS`") {
		t.Errorf("the narrowing is not said:\n%s", md)
	}
}
