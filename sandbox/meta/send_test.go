package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSendAPIErrors(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	e.s.AddUser(tAcct, User{IGSID: "6871234500000009", Name: "Never Wrote"})
	e.s.UserSendsText(tAcct, "6871234500000010", "hello")
	e.s.SetUserUnavailable(tAcct, "6871234500000010", true)
	e.s.AddPage(Page{PageID: "102030405060799", IGAccountID: "17841400000000099", AccessToken: "EAAGexpired"})
	e.s.InvalidateToken("EAAGexpired", 463)

	qrs := func(n int) []any {
		var out []any
		for i := range n {
			out = append(out, map[string]any{"content_type": "text", "title": "t", "payload": "P" + string(rune('a'+i))})
		}
		return out
	}
	msg := func(m map[string]any) map[string]any {
		return map[string]any{"recipient": map[string]any{"id": tUser}, "message": m}
	}
	cases := []struct {
		name         string
		path, token  string
		body         any
		status, code int
		subcode      int
		typ          string
		msgContains  string
	}{
		{"no token", "", "", textMsg(tUser, "x"), 400, 190, 0, "OAuthException", ""},
		{"unknown token", "", "EAAGnope", textMsg(tUser, "x"), 400, 190, 0, "OAuthException", "Invalid OAuth access token"},
		{"expired token", "", "EAAGexpired", textMsg(tUser, "x"), 400, 190, 463, "OAuthException", "expired"},
		{"other page's token", "/v23.0/" + tPage + "/messages", tToken2, textMsg(tUser, "x"), 403, 200, 0, "OAuthException", "(#200)"},
		{"unknown node", "/v23.0/999999/messages", tToken, textMsg(tUser, "x"), 400, 100, 33, "GraphMethodException", "does not exist"},
		{"unknown recipient", "", tToken, textMsg("6870000000000000", "x"), 400, 100, 33, "OAuthException", "(#100)"},
		{"user of other account", "/v23.0/" + tPage2 + "/messages", tToken2, textMsg(tUser, "x"), 400, 100, 33, "OAuthException", ""},
		{"unavailable user", "", tToken, textMsg("6871234500000010", "x"), 400, 551, 1545041, "OAuthException", "isn't available"},
		{"missing recipient", "", tToken, map[string]any{"message": map[string]any{"text": "x"}}, 400, 100, 0, "OAuthException", "recipient"},
		{"no message", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}}, 400, 100, 0, "OAuthException", ""},
		{"empty message", "", tToken, msg(map[string]any{}), 400, 100, 0, "OAuthException", "cannot be empty"},
		{"empty text", "", tToken, msg(map[string]any{"text": ""}), 400, 100, 0, "OAuthException", "cannot be empty"},
		{"text 1001 ascii bytes", "", tToken, textMsg(tUser, strings.Repeat("a", 1001)), 400, 100, 0, "OAuthException", "1000"},
		{"text 334 euro signs = 1002 bytes", "", tToken, textMsg(tUser, strings.Repeat("€", 334)), 400, 100, 0, "OAuthException", "1000"},
		{"14 quick replies", "", tToken, msg(map[string]any{"text": "q", "quick_replies": qrs(14)}), 400, 100, 0, "OAuthException", "13"},
		{"quick reply without payload", "", tToken, msg(map[string]any{"text": "q", "quick_replies": []any{map[string]any{"content_type": "text", "title": "x"}}}), 400, 100, 0, "OAuthException", "payload"},
		{"sender_action with message", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "typing_on", "message": map[string]any{"text": "x"}}, 400, 100, 0, "OAuthException", "sender_action"},
		{"sender_action with messaging_type", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "mark_seen", "messaging_type": "RESPONSE"}, 400, 100, 0, "OAuthException", ""},
		{"unknown sender_action", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "dance"}, 400, 100, 0, "OAuthException", ""},
		{"react without payload", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "react"}, 400, 100, 0, "OAuthException", "message_id"},
		{"reply_to inside message", "", tToken, msg(map[string]any{"text": "x", "reply_to": map[string]any{"mid": "aWdf"}}), 400, 100, 0, "OAuthException", "top-level"},
		{"text plus attachment", "", tToken, msg(map[string]any{"text": "x", "attachment": map[string]any{"type": "image", "payload": map[string]any{"url": "https://cdn.example.com/a.png"}}}), 400, 100, 0, "OAuthException", ""},
		{"non-IG tag", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "messaging_type": "MESSAGE_TAG", "tag": "CONFIRMED_EVENT_UPDATE", "message": map[string]any{"text": "x"}}, 400, 100, 0, "OAuthException", "HUMAN_AGENT"},
		{"bad messaging_type", "", tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "messaging_type": "PROMO", "message": map[string]any{"text": "x"}}, 400, 100, 0, "OAuthException", ""},
		{"bad attachment url", "", tToken, msg(map[string]any{"attachment": map[string]any{"type": "image", "payload": map[string]any{"url": "ftp://x/a.png"}}}), 400, 100, 2018047, "OAuthException", ""},
		{"bad attachment type", "", tToken, msg(map[string]any{"attachment": map[string]any{"type": "gif", "payload": map[string]any{"url": "https://x/a.gif"}}}), 400, 100, 0, "OAuthException", ""},
		{"invalid JSON", "", tToken, `{"recipient":`, 400, 100, 0, "OAuthException", ""},
		{"never messaged = outside window", "", tToken, textMsg("6871234500000009", "x"), 403, 10, 2534022, "IGApiException", "This message is sent outside of allowed window."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = "/v23.0/me/messages"
			}
			r := e.post(t, path, c.token, c.body)
			if r.status != c.status || r.code() != c.code || r.subcode() != c.subcode || r.errField("type") != c.typ {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			m, _ := r.errField("message").(string)
			if !strings.Contains(m, c.msgContains) || r.errField("fbtrace_id") == nil {
				t.Errorf("error body %s", r.raw)
			}
		})
	}
	if n := len(e.s.Sent(tAcct, tUser)); n != 0 {
		t.Errorf("failed sends were recorded: %d", n)
	}
}

func TestSendSuccessBoundariesAndEcho(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	before := len(e.hook.requests())

	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"json me/messages", func() *http.Request {
			b, _ := json.Marshal(textMsg(tUser, strings.Repeat("a", 1000)))
			r, _ := http.NewRequest("POST", e.g.URL+"/v23.0/me/messages?access_token="+tToken, strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"bearer page-id path, 999 bytes of €", func() *http.Request {
			b, _ := json.Marshal(textMsg(tUser, strings.Repeat("€", 333)))
			r, _ := http.NewRequest("POST", e.g.URL+"/v19.0/"+tPage+"/messages", strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+tToken)
			return r
		}},
		{"ig-account path, no version", func() *http.Request {
			b, _ := json.Marshal(textMsg(tUser, "hi there"))
			r, _ := http.NewRequest("POST", e.g.URL+"/"+tAcct+"/messages?access_token="+tToken, strings.NewReader(string(b)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	}
	var mids []string
	for _, c := range cases {
		r := do(t, c.req())
		if r.status != 200 || len(r.body) != 2 || r.body["recipient_id"] != tUser {
			t.Fatalf("%s: %d %s", c.name, r.status, r.raw)
		}
		mid, _ := r.body["message_id"].(string)
		if !strings.HasPrefix(mid, "aWdf") {
			t.Fatalf("%s: message_id %q", c.name, mid)
		}
		var usage map[string][]map[string]any
		if err := json.Unmarshal([]byte(r.header.Get("X-Business-Use-Case-Usage")), &usage); err != nil || len(usage[tAcct]) != 1 {
			t.Errorf("%s: usage header %q", c.name, r.header.Get("X-Business-Use-Case-Usage"))
		}
		mids = append(mids, mid)
	}
	sent := e.s.Sent(tAcct, tUser)
	if len(sent) != 3 || sent[2].Text != "hi there" || sent[0].MessageID != mids[0] || sent[1].PageID != tPage || sent[2].MessagingType != "RESPONSE" {
		t.Fatalf("Sent = %+v", sent)
	}
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	echoes := events(e.hook.requests()[before:])
	if len(echoes) != 3 {
		t.Fatalf("want 3 echoes, got %d", len(echoes))
	}
	for i, ev := range echoes {
		m := ev["message"].(map[string]any)
		if ev["sender"].(map[string]any)["id"] != tAcct || ev["recipient"].(map[string]any)["id"] != tUser ||
			m["is_echo"] != true || m["mid"] != mids[i] || len(m) != 3 {
			t.Errorf("echo %d = %v", i, ev)
		}
	}
}

func TestSenderActionsAndReplyTo(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	attempts := len(e.s.Attempts())
	for _, body := range []map[string]any{
		{"recipient": map[string]any{"id": tUser}, "sender_action": "typing_on"},
		{"recipient": map[string]any{"id": tUser}, "sender_action": "mark_seen"},
		{"recipient": map[string]any{"id": tUser}, "sender_action": "react", "payload": map[string]any{"message_id": "aWdfX", "reaction": "love"}},
		{"recipient": map[string]any{"id": tUser}, "sender_action": "unreact", "payload": map[string]any{"message_id": "aWdfX"}},
	} {
		r := e.sendJSON(t, tToken, body)
		if r.status != 200 || len(r.body) != 1 || r.body["recipient_id"] != tUser {
			t.Fatalf("%v: %d %s", body["sender_action"], r.status, r.raw)
		}
	}
	if e.s.Pending() != 0 || len(e.s.Attempts()) != attempts {
		t.Errorf("sender actions must not produce echoes")
	}
	r := e.sendJSON(t, tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "message": map[string]any{"text": "This one?"}, "reply_to": map[string]any{"mid": "aWdfR1"}})
	if r.status != 200 {
		t.Fatalf("reply_to: %s", r.raw)
	}
	sent := e.s.Sent(tAcct, tUser)
	if len(sent) != 5 || sent[2].SenderAction != "react" || sent[2].MessageID != "" || sent[4].ReplyToMID != "aWdfR1" {
		t.Errorf("Sent = %+v", sent)
	}
}

func TestQuickRepliesTruncatedAndAttachments(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	var qrs []any
	for range 13 {
		qrs = append(qrs, map[string]any{"content_type": "text", "title": "Talk to a human please now", "payload": "HUMAN"})
	}
	qrs[1] = map[string]any{"content_type": "text", "title": "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂", "payload": "E"}
	r := e.sendJSON(t, tToken, map[string]any{"recipient": map[string]any{"id": tUser}, "message": map[string]any{"text": "What do you need?", "quick_replies": qrs}})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	var stored []map[string]any
	_ = json.Unmarshal(e.s.Sent(tAcct, tUser)[0].QuickReplies, &stored)
	if len(stored) != 13 || stored[0]["title"] != "Talk to a human plea" || stored[1]["title"] != strings.Repeat("🙂", 20) {
		t.Errorf("quick replies stored as %v", stored)
	}

	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	before := len(e.hook.requests())
	media := newMediaHost(t)
	r = e.sendJSON(t, tToken, map[string]any{"recipient": map[string]any{"id": tUser},
		"message": map[string]any{"attachment": map[string]any{"type": "image", "payload": map[string]any{"url": media.URL + "/p/map.png", "is_reusable": true}}}})
	if r.status != 200 {
		t.Fatalf("image: %s", r.raw)
	}
	up := e.post(t, "/v23.0/"+tPage+"/message_attachments", tToken, map[string]any{"platform": "instagram",
		"message": map[string]any{"attachment": map[string]any{"type": "video", "payload": map[string]any{"url": media.URL + "/v.mp4", "is_reusable": "true"}}}})
	aid, _ := up.body["attachment_id"].(string)
	if up.status != 200 || aid == "" {
		t.Fatalf("upload: %s", up.raw)
	}
	r = e.sendJSON(t, tToken, map[string]any{"recipient": map[string]any{"id": tUser},
		"message": map[string]any{"attachment": map[string]any{"type": "video", "payload": map[string]any{"attachment_id": aid}}}})
	if r.status != 200 {
		t.Fatalf("attachment_id: %s", r.raw)
	}
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	echo := events(e.hook.requests()[before:])[0]["message"].(map[string]any)
	atts, _ := echo["attachments"].([]any)
	// The echo's URL is the emulator's CDN copy of the fetched media.
	if len(atts) != 1 || atts[0].(map[string]any)["type"] != "image" ||
		!strings.HasPrefix(atts[0].(map[string]any)["payload"].(map[string]any)["url"].(string), e.g.URL+"/ig_messaging_cdn/?asset_id=") {
		t.Errorf("attachment echo = %v", echo)
	}
}

func TestFormEncodedBodies(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	forms := []struct {
		name, form, wantText string
		wantQR               []string
	}{
		{"json-valued fields, token in body",
			"recipient=" + url.QueryEscape(`{"id":"`+tUser+`"}`) + "&message=" + url.QueryEscape(`{"text":"hi — form"}`) + "&access_token=" + tToken,
			"hi — form", nil},
		{"rails brackets (HTTParty)",
			"recipient%5Bid%5D=" + tUser + "&message%5Btext%5D=pick&messaging_type=RESPONSE" +
				"&message%5Bquick_replies%5D%5B%5D%5Bcontent_type%5D=text&message%5Bquick_replies%5D%5B%5D%5Btitle%5D=A&message%5Bquick_replies%5D%5B%5D%5Bpayload%5D=PA" +
				"&message%5Bquick_replies%5D%5B%5D%5Bcontent_type%5D=text&message%5Bquick_replies%5D%5B%5D%5Btitle%5D=B&message%5Bquick_replies%5D%5B%5D%5Bpayload%5D=PB" +
				"&access_token=" + tToken,
			"pick", []string{"A", "B"}},
		{"indexed brackets",
			"recipient[id]=" + tUser + "&message[text]=idx&message[quick_replies][1][content_type]=text&message[quick_replies][1][title]=Second&message[quick_replies][1][payload]=2" +
				"&message[quick_replies][0][content_type]=text&message[quick_replies][0][title]=First&message[quick_replies][0][payload]=1&access_token=" + tToken,
			"idx", []string{"First", "Second"}},
	}
	for i, f := range forms {
		r := e.postForm(t, "/v23.0/me/messages", f.form)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", f.name, r.status, r.raw)
		}
		sm := e.s.Sent(tAcct, tUser)[i]
		if sm.Text != f.wantText {
			t.Errorf("%s: text %q", f.name, sm.Text)
		}
		var qr []map[string]any
		_ = json.Unmarshal(sm.QuickReplies, &qr)
		if len(qr) != len(f.wantQR) {
			t.Fatalf("%s: quick replies %s", f.name, sm.QuickReplies)
		}
		for j, w := range f.wantQR {
			if qr[j]["title"] != w {
				t.Errorf("%s: qr %d = %v", f.name, j, qr[j])
			}
		}
	}
}

func TestMessagingWindowAndHumanAgent(t *testing.T) {
	e := setup(t, Options{})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e.s.SetNow(func() time.Time { return t0 })
	e.openWindow(t)
	tagged := map[string]any{"recipient": map[string]any{"id": tUser}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": map[string]any{"text": "Sorry for the delay"}}
	steps := []struct {
		advance time.Duration
		body    map[string]any
		status  int
	}{
		{0, textMsg(tUser, "in window"), 200},
		{24 * time.Hour, textMsg(tUser, "exactly 24h"), 200},
		{time.Minute, textMsg(tUser, "24h01m"), 403},
		{0, tagged, 200},
		{0, map[string]any{"recipient": map[string]any{"id": tUser}, "sender_action": "typing_on"}, 403},
		{6*24*time.Hour - 2*time.Minute, tagged, 200},
		{2 * time.Minute, tagged, 403},
	}
	for i, st := range steps {
		e.s.AdvanceClock(st.advance)
		r := e.sendJSON(t, tToken, st.body)
		if r.status != st.status {
			t.Fatalf("step %d: %d %s", i, r.status, r.raw)
		}
		if st.status == 403 {
			if r.code() != 10 || r.subcode() != 2534022 || r.errField("type") != "IGApiException" || r.errField("message") != "This message is sent outside of allowed window." {
				t.Fatalf("step %d: %s", i, r.raw)
			}
		}
	}
	// The user writing again reopens the 24h window.
	e.s.UserSendsText(tAcct, tUser, "hello again")
	if r := e.sendJSON(t, tToken, textMsg(tUser, "welcome back")); r.status != 200 {
		t.Fatalf("after new message: %s", r.raw)
	}
	if sm := e.s.Sent(tAcct, tUser); sm[2].Tag != "HUMAN_AGENT" || sm[2].MessagingType != "MESSAGE_TAG" {
		t.Errorf("tag not recorded: %+v", sm[2])
	}

	t.Run("app without human agent feature", func(t *testing.T) {
		e := setup(t, Options{DenyHumanAgent: true})
		e.openWindow(t)
		if r := e.sendJSON(t, tToken, tagged); r.status == 200 || r.code() != 10 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

func TestRateLimits(t *testing.T) {
	e := setup(t, Options{TextRatePerSec: 5, MediaRatePerSec: 2})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e.s.SetNow(func() time.Time { return t0 })
	e.openWindow(t)
	media := newMediaHost(t)
	video := map[string]any{"recipient": map[string]any{"id": tUser},
		"message": map[string]any{"attachment": map[string]any{"type": "video", "payload": map[string]any{"url": media.URL + "/v.mp4"}}}}
	for i := range 3 {
		r := e.sendJSON(t, tToken, video)
		if want := map[bool]int{true: 200, false: 400}[i < 2]; r.status != want {
			t.Fatalf("video %d: %d %s", i, r.status, r.raw)
		}
		if i == 2 && r.code() != 613 {
			t.Fatalf("want 613, got %s", r.raw)
		}
	}
	for i := range 6 {
		r := e.sendJSON(t, tToken, textMsg(tUser, "t"))
		if want := map[bool]int{true: 200, false: 400}[i < 5]; r.status != want {
			t.Fatalf("text %d: %d %s", i, r.status, r.raw)
		}
		if i == 5 && r.code() != 613 {
			t.Fatalf("want 613, got %s", r.raw)
		}
	}
	// Other accounts have their own buckets.
	e.s.UserSendsText(tAcct2, tUser2, "hey")
	if r := e.post(t, "/v23.0/me/messages", tToken2, textMsg(tUser2, "ok")); r.status != 200 {
		t.Fatalf("account 2 throttled: %s", r.raw)
	}
	e.s.AdvanceClock(time.Second)
	if r := e.sendJSON(t, tToken, textMsg(tUser, "t")); r.status != 200 {
		t.Fatalf("after refill: %s", r.raw)
	}
}

func TestFaultInjection(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)

	t.Run("plain 5xx then recovery", func(t *testing.T) {
		e.s.InjectFault(Fault{Endpoint: "send", Count: 2, HTTPStatus: 500})
		n := len(e.s.Sent(tAcct, tUser))
		for range 2 {
			r := e.sendJSON(t, tToken, textMsg(tUser, "x"))
			if r.status != 500 || r.code() != 2 || r.errField("is_transient") != true {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		}
		if len(e.s.Sent(tAcct, tUser)) != n {
			t.Fatal("failed call recorded")
		}
		if r := e.sendJSON(t, tToken, textMsg(tUser, "x")); r.status != 200 {
			t.Fatalf("fault not exhausted: %s", r.raw)
		}
	})
	t.Run("graph code and raw body", func(t *testing.T) {
		e.s.InjectFault(Fault{Endpoint: "*", Count: 1, HTTPStatus: 500, Code: 1200})
		if r := e.sendJSON(t, tToken, textMsg(tUser, "x")); r.status != 500 || r.code() != 1200 {
			t.Fatalf("%s", r.raw)
		}
		e.s.InjectFault(Fault{Endpoint: "send", Count: 1, HTTPStatus: 502, Body: "<html>Bad Gateway</html>"})
		if r := e.sendJSON(t, tToken, textMsg(tUser, "x")); r.status != 502 || string(r.raw) != "<html>Bad Gateway</html>" {
			t.Fatalf("%s", r.raw)
		}
		e.s.InjectFault(Fault{Endpoint: "profile", HTTPStatus: 400, Code: 190, Subcode: 460})
		if r := e.get(t, "/v23.0/"+tUser+"?fields=name&access_token="+tToken); r.code() != 190 || r.subcode() != 460 {
			t.Fatalf("%s", r.raw)
		}
		if r := e.sendJSON(t, tToken, textMsg(tUser, "x")); r.status != 200 {
			t.Fatalf("profile fault hit send: %s", r.raw)
		}
		e.s.ClearFaults()
		if r := e.get(t, "/v23.0/"+tUser+"?fields=name&access_token="+tToken); r.status != 200 {
			t.Fatalf("after ClearFaults: %s", r.raw)
		}
	})
	t.Run("after accept: recorded and echoed, but 500", func(t *testing.T) {
		if err := e.s.WaitDelivered(ctx(t)); err != nil {
			t.Fatal(err)
		}
		before := len(e.hook.requests())
		n := len(e.s.Sent(tAcct, tUser))
		e.s.InjectFault(Fault{Endpoint: "send", Count: 1, HTTPStatus: 500, Code: 2, AfterAccept: true})
		r := e.sendJSON(t, tToken, textMsg(tUser, "did it send?"))
		if r.status != 500 || r.code() != 2 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		sent := e.s.Sent(tAcct, tUser)
		if len(sent) != n+1 || sent[n].Text != "did it send?" {
			t.Fatal("accepted send not recorded")
		}
		if err := e.s.WaitDelivered(ctx(t)); err != nil {
			t.Fatal(err)
		}
		ev := events(e.hook.requests()[before:])
		if len(ev) != 1 || ev[0]["message"].(map[string]any)["mid"] != sent[n].MessageID {
			t.Fatalf("echo for unknown-outcome send: %v", ev)
		}
	})
	t.Run("after accept: client timeout", func(t *testing.T) {
		e.s.InjectFault(Fault{Endpoint: "send", Count: 1, Delay: 300 * time.Millisecond, AfterAccept: true})
		n := len(e.s.Sent(tAcct, tUser))
		b, _ := json.Marshal(textMsg(tUser, "slow ack"))
		req, _ := http.NewRequest("POST", e.g.URL+"/v23.0/me/messages?access_token="+tToken, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		_, err := (&http.Client{Timeout: 50 * time.Millisecond}).Do(req)
		if err == nil {
			t.Fatal("expected client timeout")
		}
		if len(e.s.Sent(tAcct, tUser)) != n+1 {
			t.Fatal("send not recorded despite timeout")
		}
	})
	t.Run("delay before accept", func(t *testing.T) {
		e.s.InjectFault(Fault{Endpoint: "send", Count: 1, Delay: 60 * time.Millisecond})
		start := time.Now()
		if r := e.sendJSON(t, tToken, textMsg(tUser, "x")); r.status != 200 || time.Since(start) < 60*time.Millisecond {
			t.Fatalf("%d after %v", r.status, time.Since(start))
		}
	})
	t.Run("echo before response", func(t *testing.T) {
		if err := e.s.WaitDelivered(ctx(t)); err != nil {
			t.Fatal(err)
		}
		before := len(e.hook.requests())
		e.s.InjectFault(Fault{Endpoint: "send", Count: 1, EchoFirst: true})
		r := e.sendJSON(t, tToken, textMsg(tUser, "race"))
		reqs := e.hook.requests()[before:]
		if r.status != 200 || len(reqs) != 1 || events(reqs)[0]["message"].(map[string]any)["mid"] != r.body["message_id"] {
			t.Fatalf("echo not delivered before response (%d webhooks) %s", len(reqs), r.raw)
		}
	})
}

func TestProfileAPI(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	e.s.UserSendsText(tAcct, "6871234500000005", "hey") // unknown user: created with a generated name
	e.s.AddUser(tAcct, User{IGSID: "6871234500000006", Name: "", Username: "noname"})
	e.s.UserSendsText(tAcct, "6871234500000006", "hi")
	e.s.AddUser(tAcct, User{IGSID: "6871234500000007", Name: "Jörg Commenter"})
	e.s.AddUser(tAcct2, User{IGSID: tUser2, Name: "Other"})
	e.s.UserSendsText(tAcct2, tUser2, "x")

	cases := []struct {
		name, query string
		status      int
		code, sub   int
		want        string // exact raw body for successes
	}{
		{"fields subset", tUser + "?fields=name,username", 200, 0, 0, `{"name":"Ana Costa","username":"ana.costa.pt","id":"` + tUser + `"}`},
		{"null name", "6871234500000006?fields=name", 200, 0, 0, `{"name":null,"id":"6871234500000006"}`},
		{"never messaged", "6871234500000007?fields=name", 400, 230, 0, ""},
		{"unknown igsid", "6879999999999999?fields=name", 400, 100, 33, ""},
		{"other account's user", tUser2 + "?fields=name", 400, 100, 33, ""},
		{"nonexisting field", tUser + "?fields=name,email", 400, 100, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.get(t, "/v23.0/"+c.query+"&access_token="+tToken)
			if r.status != c.status || r.code() != c.code || r.subcode() != c.sub {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if c.want != "" && string(r.raw) != c.want {
				t.Errorf("body %s, want %s", r.raw, c.want)
			}
		})
	}
	r := e.get(t, "/v23.0/6871234500000005?fields=name,username,profile_pic,follower_count,is_verified_user,is_user_follow_business,is_business_follow_user&access_token="+tToken)
	if r.status != 200 || len(r.body) != 8 || r.body["name"] == "" || !strings.HasPrefix(r.body["profile_pic"].(string), "https://scontent") {
		t.Fatalf("full profile: %s", r.raw)
	}
	if r := e.get(t, "/v23.0/"+tUser+"?fields=name"); r.code() != 190 {
		t.Fatalf("profile without token: %s", r.raw)
	}
	r = e.get(t, "/v23.0/me?fields=name,instagram_business_account{id,username}&access_token="+tToken)
	if string(r.raw) != `{"name":"Casa Azul Store","instagram_business_account":{"username":"casaazul.store","id":"`+tAcct+`"},"id":"`+tPage+`"}` {
		t.Errorf("me: %s", r.raw)
	}
	for _, p := range []string{"/v23.0", "/v23.0/", "/v23.0/a/b/c"} {
		if r := e.get(t, p+"?access_token="+tToken); r.status != 400 || r.code() == 0 {
			t.Errorf("GET %s: %d %s", p, r.status, r.raw)
		}
	}
	e.s.UserSendsText(tAcct, "6871234500000007", "now I write")
	r = e.get(t, "/v23.0/6871234500000007?fields=name&access_token="+tToken)
	if string(r.raw) != `{"name":"J\u00f6rg Commenter","id":"6871234500000007"}` {
		t.Errorf("escaped profile: %s", r.raw)
	}
}

func TestWaitForSentAndAppSecretProof(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	m := hmac.New(sha256.New, []byte(tSecret))
	m.Write([]byte(tToken))
	proof := hex.EncodeToString(m.Sum(nil))
	go func() {
		time.Sleep(20 * time.Millisecond)
		b, _ := json.Marshal(textMsg(tUser, "later"))
		req, _ := http.NewRequest("POST", e.g.URL+"/v23.0/me/messages?access_token="+tToken+"&appsecret_proof="+proof, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	got, err := e.s.WaitForSent(ctx(t), tAcct, tUser, 1)
	if err != nil || len(got) != 1 || got[0].Text != "later" {
		t.Fatalf("WaitForSent = %+v, %v", got, err)
	}
	r := e.post(t, "/v23.0/me/messages?appsecret_proof=deadbeef&x=1", "", textMsg(tUser, "x"))
	if r.code() != 190 {
		t.Fatalf("no token: %s", r.raw)
	}
	req, _ := http.NewRequest("POST", e.g.URL+"/v23.0/me/messages?appsecret_proof=deadbeef", strings.NewReader(`{"recipient":{"id":"`+tUser+`"},"message":{"text":"x"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "OAuth "+tToken)
	if r := do(t, req); r.code() != 100 || r.errField("type") != "GraphMethodException" {
		t.Fatalf("bad proof: %s", r.raw)
	}
}
