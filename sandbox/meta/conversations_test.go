package meta

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tUser3 = "6871234500000003"

var convBase = time.Date(2026, 3, 2, 10, 8, 20, 0, time.UTC)

// convScenario is a small inbox on a frozen clock (rate limit raised so the
// tests can call freely):
//
//	+0s  Ana: "hi"                         midA
//	+5s  business (our Send API): "hello Ana"  midB
//	+6s  typing_on, +7s Ana reacts to midB (not messages)
//	+10s Maria: "oi"                       midC
//	+20s Ana: an image                     midD
//	+22s business to Maria via another tool (raw echo): "olá Maria"  midE
type convScenario struct {
	*env
	midA, midB, midC, midD, midE string
	c1, c2                       string // conversations of Ana, Maria
}

func newConvScenario(t *testing.T, o Options) *convScenario {
	t.Helper()
	if o.ConversationsRatePerSec == 0 {
		o.ConversationsRatePerSec = 1000
	}
	e := setup(t, o)
	e.s.SetNow(func() time.Time { return convBase })
	e.s.AddUser(tAcct, User{IGSID: tUser2, Name: "Maria Silva", Username: "maria"})
	e.s.AddUser(tAcct, User{IGSID: tUser3, Name: "Never Wrote", Username: "never.wrote"})
	sc := &convScenario{env: e}
	sc.midA = e.s.UserSendsText(tAcct, tUser, "hi")
	e.s.AdvanceClock(5 * time.Second)
	r := e.sendJSON(t, tToken, textMsg(tUser, "hello Ana"))
	sc.midB, _ = r.body["message_id"].(string)
	if r.status != 200 || sc.midB == "" {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	e.s.AdvanceClock(time.Second)
	if r := e.sendJSON(t, tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "typing_on"}); r.status != 200 {
		t.Fatalf("typing_on: %d %s", r.status, r.raw)
	}
	e.s.AdvanceClock(time.Second)
	e.s.UserReacts(tAcct, tUser, sc.midB, "love")
	e.s.AdvanceClock(3 * time.Second)
	sc.midC = e.s.UserSendsText(tAcct, tUser2, "oi")
	e.s.AdvanceClock(10 * time.Second)
	sc.midD = e.s.UserSendsMedia(tAcct, tUser, Media{Type: "image", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\nfake")})
	e.s.AdvanceClock(2 * time.Second)
	sc.midE = e.s.NewMID(tAcct, tUser2)
	now := e.s.Now()
	e.s.Enqueue(Entry{ID: tAcct, Time: now.UnixMilli(), Messaging: []Event{{
		"sender": map[string]any{"id": tAcct}, "recipient": map[string]any{"id": tUser2}, "timestamp": now.UnixMilli(),
		"message": map[string]any{"mid": sc.midE, "text": "olá Maria", "is_echo": true}}}})
	sc.c1, sc.c2 = e.s.ConversationID(tAcct, tUser), e.s.ConversationID(tAcct, tUser2)
	if sc.c1 == "" || sc.c2 == "" || sc.c1 == sc.c2 {
		t.Fatalf("conversation ids %q %q", sc.c1, sc.c2)
	}
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return sc
}

func at(d time.Duration) string { return fbISOTime(convBase.Add(d)) }

func TestConversationsList(t *testing.T) {
	sc := newConvScenario(t, Options{})
	all := `{"data":[{"id":"` + sc.c2 + `","updated_time":"2026-03-02T10:08:42+0000"},{"id":"` + sc.c1 + `","updated_time":"2026-03-02T10:08:40+0000"}],` +
		`"paging":{"cursors":{"before":"` + encodeCursor(sc.c2) + `","after":"` + encodeCursor(sc.c1) + `"}}}`
	cases := []struct {
		name, query, token string
		want               string
	}{
		{"all, most recently updated first", "platform=instagram", tToken, all},
		{"me instead of the page id", "platform=instagram", tToken, all},
		{"platform is case-insensitive", "platform=INSTAGRAM", tToken, all},
		{"with user_id", "platform=instagram&user_id=" + tUser, tToken, `{"data":[{"id":"` + sc.c1 + `"}]}`},
		{"user_id of a user who never wrote", "platform=instagram&user_id=" + tUser3, tToken, `{"data":[]}`},
		{"unknown user_id", "platform=instagram&user_id=6870000000000000", tToken, `{"data":[]}`},
		{"user_id with fields", "platform=instagram&user_id=" + tUser2 + "&fields=id,updated_time,message_count", tToken,
			`{"data":[{"id":"` + sc.c2 + `","updated_time":"2026-03-02T10:08:42+0000","message_count":2}]}`},
		{"messenger has no threads here", "platform=messenger", tToken, `{"data":[]}`},
		{"another page's own inbox is empty", "platform=instagram", tToken2, `{"data":[]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node := tPage
			if c.token == tToken2 {
				node = tPage2
			}
			if strings.HasPrefix(c.name, "me ") {
				node = "me"
			}
			r := sc.get(t, "/v23.0/"+node+"/conversations?"+c.query+"&access_token="+c.token)
			if r.status != 200 || string(r.raw) != c.want {
				t.Fatalf("got %d %s\nwant %s", r.status, r.raw, c.want)
			}
		})
	}
	// Conversation ids are derived from (account, user), not random.
	if got := conversationID(tAcct, tUser); got != sc.c1 || !strings.HasPrefix(got, "aWdfZG06") {
		t.Fatalf("conversation id %q, want stable %q starting aWdfZG06", got, sc.c1)
	}
}

func TestConversationsPaging(t *testing.T) {
	sc := newConvScenario(t, Options{})
	sc.s.AdvanceClock(time.Second)
	sc.s.UserSendsText(tAcct, tUser3, "late")
	c3 := sc.s.ConversationID(tAcct, tUser3)
	r := sc.get(t, "/v23.0/"+tPage+"/conversations?platform=instagram&limit=2&access_token="+tToken)
	ids := func(r graphResp) []string {
		var out []string
		for _, d := range r.body["data"].([]any) {
			out = append(out, d.(map[string]any)["id"].(string))
		}
		return out
	}
	if got := ids(r); r.status != 200 || len(got) != 2 || got[0] != c3 || got[1] != sc.c2 {
		t.Fatalf("page 1: %d %s", r.status, r.raw)
	}
	paging := r.body["paging"].(map[string]any)
	next, _ := paging["next"].(string)
	if next == "" || paging["previous"] != nil {
		t.Fatalf("page 1 paging: %s", r.raw)
	}
	u, _ := url.Parse(next)
	r = sc.get(t, u.RequestURI())
	if got := ids(r); r.status != 200 || len(got) != 1 || got[0] != sc.c1 {
		t.Fatalf("page 2: %d %s", r.status, r.raw)
	}
	paging = r.body["paging"].(map[string]any)
	if paging["next"] != nil || paging["previous"] == nil {
		t.Fatalf("page 2 paging: %s", r.raw)
	}
}

func TestConversationMessagesNewestFirst(t *testing.T) {
	sc := newConvScenario(t, Options{})
	cases := []struct{ name, path, want string }{
		{"fields=messages: both directions, newest first, no sender actions or reactions",
			"/v23.0/" + sc.c1 + "?fields=messages",
			`{"messages":{"data":[{"id":"` + sc.midD + `","created_time":"2026-03-02T10:08:40+0000"},{"id":"` + sc.midB +
				`","created_time":"2026-03-02T10:08:25+0000"},{"id":"` + sc.midA + `","created_time":"2026-03-02T10:08:20+0000"}]},"id":"` + sc.c1 + `"}`},
		{"another tool's echo is a business message",
			"/v23.0/" + sc.c2 + "?fields=messages{id,message}",
			`{"messages":{"data":[{"id":"` + sc.midE + `","message":"olá Maria"},{"id":"` + sc.midC + `","message":"oi"}]},"id":"` + sc.c2 + `"}`},
		{"participants",
			"/v23.0/" + sc.c1 + "?fields=participants",
			`{"participants":{"data":[{"username":"casaazul.store","id":"` + tAcct + `"},{"username":"ana.costa.pt","id":"` + tUser + `"}]},"id":"` + sc.c1 + `"}`},
		{"id first when asked first",
			"/v23.0/" + sc.c2 + "?fields=id,updated_time,message_count",
			`{"id":"` + sc.c2 + `","updated_time":"2026-03-02T10:08:42+0000","message_count":2}`},
		{"messages edge",
			"/v23.0/" + sc.c2 + "/messages",
			`{"data":[{"id":"` + sc.midE + `","created_time":"2026-03-02T10:08:42+0000"},{"id":"` + sc.midC + `","created_time":"2026-03-02T10:08:30+0000"}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sc.get(t, c.path+sep(c.path)+"access_token="+tToken)
			// Graph escapes non-ASCII on the wire (EscapeUnicode).
			if want := string(EscapeUnicode([]byte(c.want))); r.status != 200 || string(r.raw) != want {
				t.Fatalf("got %d %s\nwant %s", r.status, r.raw, want)
			}
		})
	}
	// The accessor agrees, oldest first.
	got := sc.s.ConversationMessages(tAcct, tUser)
	if len(got) != 3 || got[0].MID != sc.midA || got[0].FromBusiness || got[1].MID != sc.midB || !got[1].FromBusiness ||
		got[1].Text != "hello Ana" || !got[2].At.Equal(convBase.Add(20*time.Second)) {
		t.Fatalf("ConversationMessages: %+v", got)
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

func TestConversationMessageDetails(t *testing.T) {
	sc := newConvScenario(t, Options{})
	const f = "?fields=id,created_time,from,to,message&access_token=" + tToken
	biz := `{"username":"casaazul.store","id":"` + tAcct + `"}`
	ana := `{"username":"ana.costa.pt","id":"` + tUser + `"}`
	maria := `{"username":"maria","id":"` + tUser2 + `"}`
	cases := []struct{ name, mid, want string }{
		{"ours (Send API)", sc.midB, `{"id":"` + sc.midB + `","created_time":"` + at(5*time.Second) + `","from":` + biz + `,"to":{"data":[` + ana + `]},"message":"hello Ana"}`},
		{"theirs", sc.midA, `{"id":"` + sc.midA + `","created_time":"` + at(0) + `","from":` + ana + `,"to":{"data":[` + biz + `]},"message":"hi"}`},
		{"another tool's", sc.midE, `{"id":"` + sc.midE + `","created_time":"` + at(22*time.Second) + `","from":` + biz + `,"to":{"data":[` + maria + `]},"message":"olá Maria"}`},
		{"attachment only: message is empty", sc.midD, `{"id":"` + sc.midD + `","created_time":"` + at(20*time.Second) + `","from":` + ana + `,"to":{"data":[` + biz + `]},"message":""}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sc.get(t, "/v23.0/"+c.mid+f)
			if want := string(EscapeUnicode([]byte(c.want))); r.status != 200 || string(r.raw) != want {
				t.Fatalf("got %d %s\nwant %s", r.status, r.raw, want)
			}
		})
	}
	t.Run("attachments", func(t *testing.T) {
		r := sc.get(t, "/v23.0/"+sc.midD+"?fields=attachments&access_token="+tToken)
		data, _ := r.body["attachments"].(map[string]any)["data"].([]any)
		img, _ := data[0].(map[string]any)["image_data"].(map[string]any)
		if u, _ := img["url"].(string); r.status != 200 || len(data) != 1 || !strings.Contains(u, "/ig_messaging_cdn/") || r.body["id"] != sc.midD {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
		// A text message has no attachments edge at all.
		r = sc.get(t, "/v23.0/"+sc.midA+"?fields=attachments&access_token="+tToken)
		if r.status != 200 || string(r.raw) != `{"id":"`+sc.midA+`"}` {
			t.Fatalf("text message attachments: %d %s", r.status, r.raw)
		}
	})
	t.Run("story mention", func(t *testing.T) {
		mid := sc.s.UserSendsMedia(tAcct, tUser, Media{Type: "story_mention", ContentType: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0story")})
		r := sc.get(t, "/v23.0/"+mid+"?fields=story,from&access_token="+tToken)
		st, _ := r.body["story"].(map[string]any)
		mention, _ := st["mention"].(map[string]any)
		if link, _ := mention["link"].(string); r.status != 200 || !strings.Contains(link, "asset_id=") || mention["id"] == nil {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
}

func TestConversationRecentLimit(t *testing.T) {
	sc := newConvScenario(t, Options{})
	var mids []string // Maria's thread: oldest first
	for _, m := range sc.s.ConversationMessages(tAcct, tUser2) {
		mids = append(mids, m.MID)
	}
	for i := range 10 {
		sc.s.AdvanceClock(time.Second)
		mids = append(mids, sc.s.UserSendsText(tAcct, tUser2, "q"+strconv.Itoa(i)))
		sc.s.AdvanceClock(time.Second)
		r := sc.sendJSON(t, tToken, textMsg(tUser2, "a"+strconv.Itoa(i)))
		if r.status != 200 {
			t.Fatalf("send: %d %s", r.status, r.raw)
		}
		mids = append(mids, r.body["message_id"].(string))
	}
	if len(mids) != 22 {
		t.Fatalf("%d messages", len(mids))
	}
	// All 22 are listed, newest first.
	r := sc.get(t, "/v23.0/"+sc.c2+"?fields=messages{id,message}&access_token="+tToken)
	data := r.body["messages"].(map[string]any)["data"].([]any)
	if len(data) != 22 {
		t.Fatalf("listed %d: %s", len(data), r.raw)
	}
	for i, d := range data {
		m := d.(map[string]any)
		_, hasText := m["message"]
		if m["id"] != mids[21-i] || hasText != (i < 20) {
			t.Fatalf("item %d = %v (want %s, details %v)", i, m, mids[21-i], i < 20)
		}
	}
	cases := []struct {
		name string
		mid  string
		ok   bool
	}{
		{"newest", mids[21], true},
		{"20th most recent", mids[2], true},
		{"21st most recent", mids[1], false},
		{"oldest", mids[0], false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sc.get(t, "/v23.0/"+c.mid+"?fields=id,message&access_token="+tToken)
			if c.ok {
				if r.status != 200 || r.body["id"] != c.mid {
					t.Fatalf("got %d %s", r.status, r.raw)
				}
				return
			}
			msg, _ := r.errField("message").(string)
			if r.status != 400 || r.code() != 100 || r.errField("type") != "OAuthException" || !strings.Contains(msg, "has been deleted") {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
}

func TestConversationUnsentMessageGone(t *testing.T) {
	sc := newConvScenario(t, Options{})
	sc.s.AdvanceClock(time.Second)
	a := sc.s.UserSendsText(tAcct, tUser2, "oops")
	sc.s.AdvanceClock(time.Second)
	b := sc.s.UserSendsText(tAcct, tUser2, "right")
	sc.s.AdvanceClock(time.Second)
	sc.s.UserUnsends(tAcct, tUser2, a)
	// A late duplicate of the original does not bring it back.
	now := sc.s.Now()
	sc.s.Enqueue(sc.s.NewEntry(tAcct, sc.s.NewEvent(tAcct, tUser2, now.Add(-2*time.Second), "message", map[string]any{"mid": a, "text": "oops"})))

	r := sc.get(t, "/v23.0/"+sc.c2+"?fields=messages&access_token="+tToken)
	var got []string
	for _, d := range r.body["messages"].(map[string]any)["data"].([]any) {
		got = append(got, d.(map[string]any)["id"].(string))
	}
	if r.status != 200 || len(got) != 3 || got[0] != b || got[1] != sc.midE || got[2] != sc.midC {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	r = sc.get(t, "/v23.0/"+a+"?fields=message&access_token="+tToken)
	if msg, _ := r.errField("message").(string); r.status != 400 || r.code() != 100 || !strings.Contains(msg, "has been deleted") {
		t.Fatalf("unsent message: %d %s", r.status, r.raw)
	}
	if n := len(sc.s.ConversationMessages(tAcct, tUser2)); n != 3 {
		t.Fatalf("ConversationMessages: %d", n)
	}
}

// Meta keeps the thread even when the webhook never arrives: that is what a
// reconciliation poller relies on (§9).
func TestConversationWithoutWebhook(t *testing.T) {
	sc := newConvScenario(t, Options{})
	sc.s.Unsubscribe(tAcct)
	sc.s.AdvanceClock(time.Minute)
	mid := sc.s.UserSendsText(tAcct, tUser3, "anyone there?")
	if sc.s.Dropped() == 0 {
		t.Fatal("the webhook should have been dropped")
	}
	c3 := sc.s.ConversationID(tAcct, tUser3)
	r := sc.get(t, "/v23.0/"+tPage+"/conversations?platform=instagram&access_token="+tToken)
	first, _ := r.body["data"].([]any)[0].(map[string]any)
	if r.status != 200 || first["id"] != c3 || first["updated_time"] != at(22*time.Second+time.Minute) {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	r = sc.get(t, "/v23.0/"+mid+"?fields=message&access_token="+tToken)
	if r.status != 200 || r.body["message"] != "anyone there?" {
		t.Fatalf("message: %d %s", r.status, r.raw)
	}
}

func TestConversationErrors(t *testing.T) {
	sc := newConvScenario(t, Options{})
	sc.s.AddPage(Page{PageID: "102030405060799", IGAccountID: "17841400000000099", AccessToken: "EAAGexpired"})
	sc.s.InvalidateToken("EAAGexpired", 463)
	list := "/v23.0/" + tPage + "/conversations?platform=instagram"
	cases := []struct {
		name, path, token string
		status, code      int
		subcode           int
		typ, msgContains  string
	}{
		{"no token", list, "", 400, 190, 0, "OAuthException", ""},
		{"unknown token", list, "EAAGnope", 400, 190, 0, "OAuthException", "Invalid OAuth access token"},
		{"expired token", list, "EAAGexpired", 400, 190, 463, "OAuthException", "expired"},
		{"expired token on a conversation", "/v23.0/" + sc.c1 + "?fields=messages", "EAAGexpired", 400, 190, 463, "OAuthException", "expired"},
		{"other page's token on the list", list, tToken2, 403, 200, 0, "OAuthException", "(#200)"},
		{"other page's token on a conversation", "/v23.0/" + sc.c1 + "?fields=messages", tToken2, 403, 200, 0, "OAuthException", "(#200)"},
		{"other page's token on a message", "/v23.0/" + sc.midA + "?fields=message", tToken2, 403, 200, 0, "OAuthException", "(#200)"},
		{"missing platform", "/v23.0/" + tPage + "/conversations", tToken, 400, 100, 0, "OAuthException", "platform"},
		{"unknown platform", "/v23.0/" + tPage + "/conversations?platform=whatsapp", tToken, 400, 100, 0, "OAuthException", "platform"},
		{"bad limit", list + "&limit=0", tToken, 400, 100, 0, "OAuthException", "limit"},
		{"bad cursor", list + "&after=nope", tToken, 400, 100, 0, "OAuthException", "cursor"},
		{"unknown conversation field", "/v23.0/" + sc.c1 + "?fields=folder_x", tToken, 400, 100, 0, "OAuthException", "nonexisting field (folder_x)"},
		{"unknown message field", "/v23.0/" + sc.midA + "?fields=mood", tToken, 400, 100, 0, "OAuthException", "nonexisting field (mood)"},
		{"unknown id", "/v23.0/aWdfZG06bm9wZQ?fields=messages", tToken, 400, 100, 33, "GraphMethodException",
			"Unsupported get request. Object with ID 'aWdfZG06bm9wZQ' does not exist, cannot be loaded due to missing permissions, or does not support this operation"},
		{"unknown conversation edge id", "/v23.0/aWdfZG06bm9wZQ/messages", tToken, 400, 100, 0, "OAuthException", "Unsupported request - method type: get"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if c.token != "" {
				path += sep(path) + "access_token=" + c.token
			}
			r := sc.get(t, path)
			msg, _ := r.errField("message").(string)
			if r.status != c.status || r.code() != c.code || r.subcode() != c.subcode || r.errField("type") != c.typ || !strings.Contains(msg, c.msgContains) {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
	// The profile API still answers on GET /{id} next to conversations and messages.
	if r := sc.get(t, "/v23.0/"+tUser+"?fields=name,username&access_token="+tToken); r.status != 200 || r.body["username"] != "ana.costa.pt" {
		t.Fatalf("profile: %d %s", r.status, r.raw)
	}
}

func TestConversationsRateLimitAndFaults(t *testing.T) {
	sc := newConvScenario(t, Options{ConversationsRatePerSec: -1}) // default: 2 calls/s per account (§5)
	list := "/v23.0/" + tPage + "/conversations?platform=instagram&access_token=" + tToken
	// The scenario made no Conversations API call yet and the clock is frozen.
	for i := range 2 {
		if r := sc.get(t, list); r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.raw)
		}
	}
	r := sc.get(t, "/v23.0/"+sc.midA+"?fields=message&access_token="+tToken)
	if r.status != 400 || r.code() != 613 {
		t.Fatalf("third call in the same second: %d %s", r.status, r.raw)
	}
	// Other accounts and the Send API have buckets of their own.
	if r := sc.get(t, "/v23.0/"+tPage2+"/conversations?platform=instagram&access_token="+tToken2); r.status != 200 {
		t.Fatalf("other account: %d %s", r.status, r.raw)
	}
	if r := sc.sendJSON(t, tToken, textMsg(tUser, "still fine")); r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	sc.s.AdvanceClock(time.Second)
	if r := sc.get(t, list); r.status != 200 {
		t.Fatalf("after a second: %d %s", r.status, r.raw)
	}

	sc.s.AdvanceClock(time.Second)
	sc.s.InjectFault(Fault{Endpoint: "conversations", Count: 1, HTTPStatus: 500})
	if r := sc.get(t, "/v23.0/"+sc.c1+"?fields=messages&access_token="+tToken); r.status != 500 || r.code() != 2 {
		t.Fatalf("fault: %d %s", r.status, r.raw)
	}
	if r := sc.get(t, "/v23.0/"+sc.c1+"?fields=messages&access_token="+tToken); r.status != 200 {
		t.Fatalf("after the fault: %d %s", r.status, r.raw)
	}
}
