package meta

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	ourApp = "910000000000001" // Options.AppID default
	appX   = "910000000000077" // some third-party app
)

// newHooks waits for the queue and returns messaging and standby events
// delivered since the first `from` webhook requests.
func (e *env) newHooks(t *testing.T, from int) (messaging, standby []map[string]any) {
	t.Helper()
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.hook.requests()[from:] {
		for _, en := range r.env.Entry {
			messaging = append(messaging, en.Messaging...)
			standby = append(standby, en.Standby...)
		}
	}
	return messaging, standby
}

func (e *env) hookCount(t *testing.T) int {
	t.Helper()
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return len(e.hook.requests())
}

var handoverKeys = []string{"pass_thread_control", "take_thread_control", "request_thread_control"}

// handovers returns "key" per handover event, in order.
func handovers(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		for _, k := range handoverKeys {
			if _, ok := ev[k]; ok {
				out = append(out, k)
			}
		}
	}
	return out
}

func (e *env) control(t *testing.T, edge string, body map[string]any) graphResp {
	t.Helper()
	return e.post(t, "/v23.0/"+tPage+"/"+edge, tToken, body)
}

// setOwner puts the thread of tUser into the given ownership ("" = idle).
func (e *env) setOwner(app string) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	now := e.s.nowLocked()
	th := e.s.threadLocked(tAcct, tUser, now)
	th.owner, th.expiresAt = app, now.Add(24*time.Hour)
	if app == "" {
		th.expiresAt = time.Time{}
	}
}

func rcpt() map[string]any { return map[string]any{"id": tUser} }

func TestThreadControlPreconditions(t *testing.T) {
	type cfg struct {
		cr, takeover bool
		def          string
	}
	cases := []struct {
		name           string
		cfg            cfg
		owner          string // before the call ("" = idle)
		edge           string
		params         map[string]any
		status, code   int
		subcode        int
		wantOwner      string
		wantHooks      []string
		wantCallTarget string
	}{
		{name: "pass by owner to the IG Inbox", cfg: cfg{cr: true}, owner: ourApp, edge: "pass_thread_control",
			params: map[string]any{"target_app_id": InstagramInboxAppID, "metadata": "escalated: refund"}, status: 200, wantOwner: InstagramInboxAppID, wantCallTarget: InstagramInboxAppID},
		{name: "pass with numeric target_app_id", cfg: cfg{cr: true}, owner: ourApp, edge: "pass_thread_control",
			params: map[string]any{"target_app_id": 263902037430900}, status: 200, wantOwner: PageInboxAppID, wantCallTarget: PageInboxAppID},
		{name: "pass while another app owns", cfg: cfg{cr: true}, owner: appX, edge: "pass_thread_control",
			params: map[string]any{"target_app_id": PageInboxAppID}, status: 400, code: 10, subcode: 2018300, wantOwner: appX},
		{name: "pass when idle without target, CR off", owner: "", edge: "pass_thread_control",
			params: map[string]any{}, status: 400, code: 100, wantOwner: ""},
		{name: "pass when idle without target, CR on: default app", cfg: cfg{cr: true, def: PageInboxAppID}, owner: "", edge: "pass_thread_control",
			params: map[string]any{"metadata": "to default"}, status: 200, wantOwner: PageInboxAppID, wantCallTarget: PageInboxAppID},
		{name: "pass without target when we are the default app = to itself", cfg: cfg{cr: true}, owner: ourApp, edge: "pass_thread_control",
			params: map[string]any{}, status: 400, code: 100, wantOwner: ourApp},
		{name: "pass to itself", cfg: cfg{cr: true}, owner: ourApp, edge: "pass_thread_control",
			params: map[string]any{"target_app_id": ourApp}, status: 400, code: 100, wantOwner: ourApp},
		{name: "pass when idle, zero-config", owner: "", edge: "pass_thread_control",
			params: map[string]any{"target_app_id": appX}, status: 200, wantOwner: appX, wantCallTarget: appX},
		{name: "take, CR off", owner: appX, edge: "take_thread_control", status: 400, code: 10, wantOwner: appX},
		{name: "take, takeover not allowed", cfg: cfg{cr: true}, owner: appX, edge: "take_thread_control", status: 400, code: 10, wantOwner: appX},
		{name: "take from another app", cfg: cfg{cr: true, takeover: true}, owner: appX, edge: "take_thread_control",
			params: map[string]any{"metadata": "bot takes"}, status: 200, wantOwner: ourApp},
		{name: "take from idle", cfg: cfg{cr: true, takeover: true}, owner: "", edge: "take_thread_control", status: 200, wantOwner: ourApp},
		{name: "take when already owner", cfg: cfg{cr: true, takeover: true}, owner: ourApp, edge: "take_thread_control", status: 400, code: 10, wantOwner: ourApp},
		{name: "request, CR on", cfg: cfg{cr: true}, owner: appX, edge: "request_thread_control", status: 400, code: 10, wantOwner: appX},
		{name: "request when idle: passed at once", owner: "", edge: "request_thread_control",
			params: map[string]any{"metadata": "mine please"}, status: 200, wantOwner: ourApp, wantHooks: []string{"pass_thread_control"}, wantCallTarget: ourApp},
		{name: "request while another app owns", owner: appX, edge: "request_thread_control", status: 200, wantOwner: appX},
		{name: "request when already owner", owner: ourApp, edge: "request_thread_control", status: 400, code: 10, wantOwner: ourApp},
		{name: "release by owner", cfg: cfg{cr: true}, owner: ourApp, edge: "release_thread_control", params: map[string]any{"metadata": "done"}, status: 200, wantOwner: ""},
		{name: "release when idle", cfg: cfg{cr: true}, owner: "", edge: "release_thread_control", status: 400, code: 10, subcode: 2018300},
		{name: "release while another app owns", cfg: cfg{cr: true}, owner: appX, edge: "release_thread_control", status: 400, code: 10, subcode: 2018300, wantOwner: appX},
		{name: "extend by owner", cfg: cfg{cr: true}, owner: ourApp, edge: "extend_thread_control", params: map[string]any{"duration": 259200}, status: 200, wantOwner: ourApp},
		{name: "extend beyond 7 days", cfg: cfg{cr: true}, owner: ourApp, edge: "extend_thread_control", params: map[string]any{"duration": 604801}, status: 400, code: 100, wantOwner: ourApp},
		{name: "extend without duration", cfg: cfg{cr: true}, owner: ourApp, edge: "extend_thread_control", status: 400, code: 100, wantOwner: ourApp},
		{name: "extend by non-owner", cfg: cfg{cr: true}, owner: appX, edge: "extend_thread_control", params: map[string]any{"duration": 3600}, status: 400, code: 10, subcode: 2018300, wantOwner: appX},
		{name: "metadata over 1000 chars", cfg: cfg{cr: true}, owner: ourApp, edge: "release_thread_control", params: map[string]any{"metadata": strings.Repeat("m", 1001)}, status: 400, code: 100, wantOwner: ourApp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, Options{})
			e.s.SetConversationRouting(tAcct, c.cfg.cr)
			e.s.SetTakeoverAllowed(tAcct, c.cfg.takeover)
			e.s.SetDefaultApp(tAcct, c.cfg.def)
			e.openWindow(t)
			e.setOwner(c.owner)
			before := e.hookCount(t)
			body := map[string]any{"recipient": rcpt()}
			for k, v := range c.params {
				body[k] = v
			}
			r := e.control(t, c.edge, body)
			if r.status != c.status || r.code() != c.code || r.subcode() != c.subcode {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			if c.status == 200 && (r.body["success"] != true || len(r.body) != 1) {
				t.Fatalf("body %s", r.raw)
			}
			if c.status != 200 && (r.errField("type") != "OAuthException" || r.errField("fbtrace_id") == nil || !strings.HasPrefix(r.errField("message").(string), "(#")) {
				t.Fatalf("error body %s", r.raw)
			}
			if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != c.wantOwner {
				t.Errorf("owner %q, want %q", owner, c.wantOwner)
			}
			msgs, sb := e.newHooks(t, before)
			if got := handovers(msgs); strings.Join(got, ",") != strings.Join(c.wantHooks, ",") || len(sb) != 0 {
				t.Errorf("webhooks to us: %v (standby %v), want %v", msgs, sb, c.wantHooks)
			}
			calls := e.s.ThreadControlCalls(tAcct, tUser)
			if len(calls) != 1 {
				t.Fatalf("calls: %+v", calls)
			}
			call := calls[0]
			md, _ := c.params["metadata"].(string)
			if call.Action != strings.TrimSuffix(c.edge, "_thread_control") || call.AppID != ourApp || call.Via != "graph" || call.Metadata != md ||
				(call.Error == "") != (c.status == 200) || call.At.IsZero() {
				t.Errorf("recorded call %+v", call)
			}
			if c.wantCallTarget != "" && call.TargetAppID != c.wantCallTarget {
				t.Errorf("call target %q, want %q", call.TargetAppID, c.wantCallTarget)
			}
		})
	}

	t.Run("unknown and missing recipient, wrong method", func(t *testing.T) {
		e := setup(t, Options{})
		if r := e.control(t, "take_thread_control", map[string]any{"recipient": map[string]any{"id": "6870000000000000"}}); r.code() != 100 || r.subcode() != 33 {
			t.Errorf("unknown recipient: %s", r.raw)
		}
		if r := e.control(t, "take_thread_control", map[string]any{"metadata": "x"}); r.code() != 100 || !strings.Contains(r.raw2s(), "recipient") {
			t.Errorf("missing recipient: %s", r.raw)
		}
		if r := e.get(t, "/v23.0/"+tPage+"/pass_thread_control?access_token="+tToken+"&recipient="+tUser); r.code() != 100 {
			t.Errorf("GET pass: %s", r.raw)
		}
		if r := e.control(t, "thread_owner", map[string]any{"recipient": rcpt()}); r.code() != 100 {
			t.Errorf("POST thread_owner: %s", r.raw)
		}
		if r := e.post(t, "/v23.0/"+tPage+"/take_thread_control", "", map[string]any{"recipient": rcpt()}); r.code() != 190 {
			t.Errorf("no token: %s", r.raw)
		}
		if r := e.post(t, "/v23.0/"+tPage+"/take_thread_control", tToken2, map[string]any{"recipient": rcpt()}); r.code() != 200 {
			t.Errorf("other page's token: %s", r.raw)
		}
	})
}

func (r graphResp) raw2s() string { return string(r.raw) }

func TestThreadControlParameterForms(t *testing.T) {
	e := setup(t, Options{})
	e.openWindow(t)
	recip := url.QueryEscape(`{"id":"` + tUser + `"}`)
	// Legacy me/ path, query parameters only (JSON-valued recipient).
	r := e.post(t, "/v2.6/me/request_thread_control?recipient="+recip+"&metadata=q&access_token="+tToken, "", "")
	if r.status != 200 {
		t.Fatalf("query params: %s", r.raw)
	}
	// Form body with a JSON-valued recipient; numeric target.
	r = e.postForm(t, "/v23.0/"+tPage+"/pass_thread_control", "recipient="+recip+"&target_app_id="+appX+"&metadata=form&access_token="+tToken)
	if r.status != 200 {
		t.Fatalf("form: %s", r.raw)
	}
	// Bracket form on the IG account node.
	e.setOwner(ourApp)
	r = e.postForm(t, "/v23.0/"+tAcct+"/pass_thread_control", "recipient%5Bid%5D="+tUser+"&target_app_id="+PageInboxAppID+"&access_token="+tToken)
	if r.status != 200 {
		t.Fatalf("bracket form: %s", r.raw)
	}
	calls := e.s.ThreadControlCalls(tAcct, tUser)
	if len(calls) != 3 || calls[0].Metadata != "q" || calls[1].TargetAppID != appX || calls[1].Metadata != "form" || calls[2].TargetAppID != PageInboxAppID {
		t.Fatalf("calls %+v", calls)
	}
	if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != PageInboxAppID {
		t.Fatalf("owner %s", owner)
	}
}

func TestThreadOwnerEndpoint(t *testing.T) {
	e := setup(t, Options{})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e.s.SetNow(func() time.Time { return t0 })
	e.openWindow(t)
	q := "/v23.0/" + tPage + "/thread_owner?access_token=" + tToken + "&recipient="
	cases := []struct {
		name, owner, def, query, want string
	}{
		{"idle", "", "", tUser, `{"data":[]}`},
		{"we own", ourApp, "", tUser, `{"data":[{"thread_owner":{"app_id":"` + ourApp + `","expiration":1767355200}}]}`},
		{"other owns, we are the default app", appX, "", tUser, `{"data":[{"thread_owner":{"app_id":"` + appX + `","expiration":1767355200}}]}`},
		{"other owns, other default app", appX, PageInboxAppID, tUser, `{"data":[{"thread_owner":{"expiration":1767355200}}]}`},
		{"JSON recipient", ourApp, "", url.QueryEscape(`{"id":"` + tUser + `"}`), `{"data":[{"thread_owner":{"app_id":"` + ourApp + `","expiration":1767355200}}]}`},
	}
	for _, c := range cases {
		e.setOwner(c.owner)
		e.s.SetDefaultApp(tAcct, c.def)
		if r := e.get(t, q+c.query); r.status != 200 || string(r.raw) != c.want {
			t.Errorf("%s: %d %s, want %s", c.name, r.status, r.raw, c.want)
		}
	}
}

func TestHandoverWebhooksFromOtherApps(t *testing.T) {
	e := setup(t, Options{})
	e.s.SetConversationRouting(tAcct, true)
	e.openWindow(t) // organic routing: the default app (us) owns the thread
	if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != ourApp {
		t.Fatalf("organic routing: owner %q", owner)
	}
	type step struct {
		name    string
		do      func() error
		wantErr bool
		owner   string
		hooks   []string // handover events our webhook gets
		body    string   // substring of the delivered body
	}
	steps := []step{
		{name: "inbox takes from us", do: func() error { return e.s.OtherAppTakes(tAcct, tUser, InstagramInboxAppID, "agent took over") },
			owner: InstagramInboxAppID, hooks: []string{"take_thread_control"},
			body: `"take_thread_control":{"previous_owner_app_id":"` + ourApp + `","new_owner_app_id":"` + InstagramInboxAppID + `","metadata":"agent took over"}`},
		{name: "inbox passes to the page inbox", do: func() error { return e.s.OtherAppPasses(tAcct, tUser, InstagramInboxAppID, PageInboxAppID, "") },
			owner: PageInboxAppID},
		{name: "page inbox passes to us", do: func() error { return e.s.OtherAppPasses(tAcct, tUser, PageInboxAppID, ourApp, "back to bot") },
			owner: ourApp, hooks: []string{"pass_thread_control"},
			body: `"pass_thread_control":{"previous_owner_app_id":"` + PageInboxAppID + `","new_owner_app_id":"` + ourApp + `","metadata":"back to bot"}`},
		{name: "non-owner releases", do: func() error { return e.s.OtherAppReleases(tAcct, tUser, appX, "") }, wantErr: true, owner: ourApp},
		{name: "non-owner passes", do: func() error { return e.s.OtherAppPasses(tAcct, tUser, appX, PageInboxAppID, "") }, wantErr: true, owner: ourApp},
		{name: "third-party app takes, takeover not allowed", do: func() error { return e.s.OtherAppTakes(tAcct, tUser, appX, "") }, wantErr: true, owner: ourApp},
		{name: "third-party app takes, takeover allowed", do: func() error {
			e.s.SetTakeoverAllowed(tAcct, true)
			return e.s.OtherAppTakes(tAcct, tUser, appX, "")
		}, owner: appX, hooks: []string{"take_thread_control"}},
		{name: "request with CR enabled", do: func() error { return e.s.OtherAppRequests(tAcct, tUser, PageInboxAppID, "") }, wantErr: true, owner: appX},
		{name: "owner releases", do: func() error { return e.s.OtherAppReleases(tAcct, tUser, appX, "bye") }, owner: ""},
		{name: "take from idle: no webhook", do: func() error { return e.s.OtherAppTakes(tAcct, tUser, InstagramInboxAppID, "") }, owner: InstagramInboxAppID},
		{name: "inbox releases", do: func() error { return e.s.OtherAppReleases(tAcct, tUser, InstagramInboxAppID, "") }, owner: ""},
		{name: "pass from idle to us: previous owner null", do: func() error { return e.s.OtherAppPasses(tAcct, tUser, appX, ourApp, "") },
			owner: ourApp, hooks: []string{"pass_thread_control"},
			body: `"pass_thread_control":{"previous_owner_app_id":null,"new_owner_app_id":"` + ourApp + `"}`},
		{name: "zero-config: another app requests from us", do: func() error {
			e.s.SetConversationRouting(tAcct, false)
			return e.s.OtherAppRequests(tAcct, tUser, appX, "please hand over")
		}, owner: ourApp, hooks: []string{"request_thread_control"},
			body: `"request_thread_control":{"requested_owner_app_id":"` + appX + `","metadata":"please hand over"}`},
		{name: "zero-config: take blocked", do: func() error { return e.s.OtherAppTakes(tAcct, tUser, InstagramInboxAppID, "") }, wantErr: true, owner: ourApp},
		{name: "our app id is refused", do: func() error { return e.s.OtherAppTakes(tAcct, tUser, ourApp, "") }, wantErr: true, owner: ourApp},
	}
	for _, st := range steps {
		before := e.hookCount(t)
		err := st.do()
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: err %v", st.name, err)
		}
		if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != st.owner {
			t.Fatalf("%s: owner %q, want %q", st.name, owner, st.owner)
		}
		msgs, sb := e.newHooks(t, before)
		if got := handovers(msgs); strings.Join(got, ",") != strings.Join(st.hooks, ",") || len(sb) != 0 || len(msgs) != len(st.hooks) {
			t.Fatalf("%s: webhooks %v / standby %v, want %v", st.name, msgs, sb, st.hooks)
		}
		if st.body != "" {
			b := string(e.hook.requests()[before].body)
			if !strings.Contains(b, st.body) || !strings.Contains(b, `{"sender":{"id":"`+tUser+`"},"recipient":{"id":"`+tAcct+`"},"timestamp":`) {
				t.Fatalf("%s: body %s", st.name, b)
			}
		}
	}
	calls := e.s.ThreadControlCalls(tAcct, tUser)
	if len(calls) != len(steps)-1 { // our-app refusal is not a call on the thread
		t.Fatalf("calls %d: %+v", len(calls), calls)
	}
	if c := calls[0]; c.Action != "take" || c.AppID != InstagramInboxAppID || c.Metadata != "agent took over" || c.Via != "sandbox" || c.Error != "" {
		t.Errorf("call 0: %+v", c)
	}
	if c := calls[3]; c.Action != "release" || c.AppID != appX || c.Error == "" {
		t.Errorf("call 3: %+v", c)
	}
}

func TestStandbyAndSendRejection(t *testing.T) {
	t.Run("CR on, our app is the default", func(t *testing.T) {
		e := setup(t, Options{})
		e.s.SetConversationRouting(tAcct, true)
		before := e.hookCount(t)
		e.s.UserSendsText(tAcct, tUser, "hello")
		if msgs, sb := e.newHooks(t, before); len(msgs) != 1 || len(sb) != 0 {
			t.Fatalf("owned thread: %v %v", msgs, sb)
		}
		if err := e.s.OtherAppTakes(tAcct, tUser, InstagramInboxAppID, "agent"); err != nil {
			t.Fatal(err)
		}
		before = e.hookCount(t)
		mid := e.s.UserSendsText(tAcct, tUser, "hello? anyone?")
		e.s.UserReacts(tAcct, tUser, mid, "love")
		msgs, sb := e.newHooks(t, before)
		if len(msgs) != 0 || len(sb) != 2 || sb[0]["message"].(map[string]any)["mid"] != mid || sb[1]["reaction"] == nil {
			t.Fatalf("standby: %v / %v", msgs, sb)
		}
		if b := string(e.hook.requests()[before].body); !strings.HasPrefix(b, `{"object":"instagram","entry":[{"id":"`+tAcct+`","time":`) || !strings.Contains(b, `,"standby":[{"sender"`) || strings.Contains(b, "messaging") {
			t.Fatalf("wire: %s", b)
		}

		// Our sends are refused while the inbox owns the thread.
		for _, body := range []map[string]any{
			textMsg(tUser, "bot reply"),
			{"recipient": rcpt(), "sender_action": "typing_on"},
			{"recipient": rcpt(), "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": map[string]any{"text": "human"}}, // takeover not allowed
		} {
			r := e.sendJSON(t, tToken, body)
			m, _ := r.errField("message").(string)
			if r.status != 400 || r.code() != 10 || r.subcode() != 2018300 || r.errField("type") != "OAuthException" ||
				!strings.HasPrefix(m, "(#10) ") || !strings.Contains(m, InstagramInboxAppID) || r.errField("fbtrace_id") == nil {
				t.Fatalf("non-owner send: %d %s", r.status, r.raw)
			}
		}
		if n := len(e.s.Sent(tAcct, tUser)); n != 0 {
			t.Fatalf("refused sends recorded: %d", n)
		}

		// Released: idle, and we are the default app → we may send again.
		if err := e.s.OtherAppReleases(tAcct, tUser, InstagramInboxAppID, ""); err != nil {
			t.Fatal(err)
		}
		before = e.hookCount(t)
		if r := e.sendJSON(t, tToken, textMsg(tUser, "back")); r.status != 200 {
			t.Fatalf("idle, default app: %s", r.raw)
		}
		if msgs, sb := e.newHooks(t, before); len(msgs) != 1 || len(sb) != 0 || msgs[0]["message"].(map[string]any)["is_echo"] != true {
			t.Fatalf("echo: %v %v", msgs, sb)
		}
		// The next customer message routes the thread to us again.
		e.s.UserSendsText(tAcct, tUser, "ok")
		if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != ourApp {
			t.Fatalf("owner %q", owner)
		}
	})

	t.Run("CR on, another default app", func(t *testing.T) {
		e := setup(t, Options{})
		e.s.SetConversationRouting(tAcct, true)
		e.s.SetDefaultApp(tAcct, PageInboxAppID)
		before := e.hookCount(t)
		e.s.UserSendsText(tAcct, tUser, "hi")
		if msgs, sb := e.newHooks(t, before); len(msgs) != 0 || len(sb) != 1 {
			t.Fatalf("organic routing to the page inbox: %v %v", msgs, sb)
		}
		r := e.sendJSON(t, tToken, textMsg(tUser, "bot"))
		if r.code() != 10 || r.subcode() != 2018300 || !strings.Contains(r.raw2s(), "another app ("+PageInboxAppID+")") {
			t.Fatalf("%s", r.raw)
		}
		if err := e.s.OtherAppReleases(tAcct, tUser, PageInboxAppID, ""); err != nil {
			t.Fatal(err)
		}
		r = e.sendJSON(t, tToken, textMsg(tUser, "bot"))
		if r.code() != 10 || r.subcode() != 2018300 || !strings.Contains(r.raw2s(), "idle") || !strings.Contains(r.raw2s(), "default app") {
			t.Fatalf("idle, not default: %s", r.raw)
		}
		// A HUMAN_AGENT reply takes the idle thread when takeover is allowed.
		e.s.SetTakeoverAllowed(tAcct, true)
		ha := map[string]any{"recipient": rcpt(), "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": map[string]any{"text": "agent"}}
		if r := e.sendJSON(t, tToken, ha); r.status != 200 {
			t.Fatalf("HA from idle: %s", r.raw)
		}
		if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != ourApp {
			t.Fatalf("owner %q", owner)
		}
	})

	t.Run("zero-config: standby but everyone may send", func(t *testing.T) {
		e := setup(t, Options{})
		e.openWindow(t)
		if err := e.s.OtherAppRequests(tAcct, tUser, appX, ""); err != nil {
			t.Fatal(err)
		}
		before := e.hookCount(t)
		e.s.UserSendsText(tAcct, tUser, "hey")
		if r := e.sendJSON(t, tToken, textMsg(tUser, "we may still answer")); r.status != 200 {
			t.Fatalf("%s", r.raw)
		}
		msgs, sb := e.newHooks(t, before)
		if len(msgs) != 0 || len(sb) != 2 || sb[1]["message"].(map[string]any)["is_echo"] != true {
			t.Fatalf("standby: %v %v", msgs, sb)
		}
	})
}

func TestSendThreadControlAndHumanAgentTakeover(t *testing.T) {
	e := setup(t, Options{})
	e.s.SetConversationRouting(tAcct, true)
	e.openWindow(t)

	withTC := func(text string, tc map[string]any) map[string]any {
		b := textMsg(tUser, text)
		b["thread_control"] = tc
		return b
	}
	// Refused forms first.
	for _, c := range []struct {
		name         string
		tc           map[string]any
		code, status int
	}{
		{"bad control_type", map[string]any{"control_type": "take"}, 100, 400},
		{"pass to itself (default app)", map[string]any{"control_type": "pass"}, 100, 400},
		{"pass to itself", map[string]any{"control_type": "pass", "app_id": ourApp}, 100, 400},
	} {
		if r := e.sendJSON(t, tToken, withTC("x", c.tc)); r.status != c.status || r.code() != c.code {
			t.Fatalf("%s: %s", c.name, r.raw)
		}
	}
	before := e.hookCount(t)
	r := e.sendJSON(t, tToken, withTC("handing you to a human", map[string]any{"control_type": "pass", "app_id": InstagramInboxAppID, "metadata": "handoff"}))
	if r.status != 200 || r.body["message_id"] == nil {
		t.Fatalf("send+pass: %s", r.raw)
	}
	if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != InstagramInboxAppID {
		t.Fatalf("owner %q", owner)
	}
	if msgs, sb := e.newHooks(t, before); len(msgs) != 1 || len(sb) != 0 || len(handovers(msgs)) != 0 {
		t.Fatalf("echo in messaging, no handover to us: %v %v", msgs, sb)
	}
	calls := e.s.ThreadControlCalls(tAcct, tUser)
	if c := calls[len(calls)-1]; c.Action != "pass" || c.Via != "send" || c.TargetAppID != InstagramInboxAppID || c.Metadata != "handoff" || c.Error != "" {
		t.Fatalf("call %+v", c)
	}
	if r := e.sendJSON(t, tToken, textMsg(tUser, "still here?")); r.subcode() != 2018300 {
		t.Fatalf("after pass: %s", r.raw)
	}

	// HUMAN_AGENT takes control via the Send API when takeover is allowed.
	e.s.SetTakeoverAllowed(tAcct, true)
	before = e.hookCount(t)
	ha := map[string]any{"recipient": rcpt(), "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": map[string]any{"text": "agent here"}}
	if r := e.sendJSON(t, tToken, ha); r.status != 200 {
		t.Fatalf("HA takeover: %s", r.raw)
	}
	if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != ourApp {
		t.Fatalf("owner %q", owner)
	}
	if msgs, sb := e.newHooks(t, before); len(msgs) != 1 || len(sb) != 0 {
		t.Fatalf("echo: %v %v", msgs, sb)
	}
	calls = e.s.ThreadControlCalls(tAcct, tUser)
	if c := calls[len(calls)-1]; c.Action != "take" || c.Via != "send" || c.AppID != ourApp {
		t.Fatalf("call %+v", c)
	}

	// release via a form-encoded send.
	form := "recipient=" + url.QueryEscape(`{"id":"`+tUser+`"}`) + "&message=" + url.QueryEscape(`{"text":"bye"}`) +
		"&thread_control=" + url.QueryEscape(`{"control_type":"release"}`) + "&access_token=" + tToken
	if r := e.postForm(t, "/v23.0/me/messages", form); r.status != 200 {
		t.Fatalf("send+release: %s", r.raw)
	}
	if owner, _ := e.s.ThreadOwner(tAcct, tUser); owner != "" {
		t.Fatalf("owner %q", owner)
	}

	// thread_control without Conversation Routing.
	e.s.SetConversationRouting(tAcct, false)
	if r := e.sendJSON(t, tToken, withTC("x", map[string]any{"control_type": "release"})); r.code() != 10 || r.subcode() != 0 {
		t.Fatalf("CR off: %s", r.raw)
	}
}

func TestThreadControlExpiry(t *testing.T) {
	e := setup(t, Options{})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e.s.SetNow(func() time.Time { return t0 })
	e.s.SetConversationRouting(tAcct, true)
	e.s.SetTakeoverAllowed(tAcct, true)
	e.openWindow(t)

	expect := func(step, owner string, exp time.Time) {
		t.Helper()
		o, x := e.s.ThreadOwner(tAcct, tUser)
		if o != owner || !x.Equal(exp) {
			t.Fatalf("%s: owner %q exp %v, want %q %v", step, o, x, owner, exp)
		}
	}
	expect("organic", ourApp, t0.Add(24*time.Hour))
	e.s.AdvanceClock(23 * time.Hour)
	e.s.UserSendsText(tAcct, tUser, "still there")
	expect("customer activity extends control", ourApp, t0.Add(47*time.Hour))
	e.s.AdvanceClock(24*time.Hour - time.Second)
	expect("just before expiry", ourApp, t0.Add(47*time.Hour))
	e.s.AdvanceClock(time.Second)
	expect("expired: idle", "", time.Time{})
	if r := e.get(t, "/v23.0/"+tPage+"/thread_owner?access_token="+tToken+"&recipient="+tUser); string(r.raw) != `{"data":[]}` {
		t.Fatalf("thread_owner after expiry: %s", r.raw)
	}

	now := t0.Add(47 * time.Hour)
	e.s.UserSendsText(tAcct, tUser, "hi again")
	expect("routed again", ourApp, now.Add(24*time.Hour))
	if r := e.control(t, "extend_thread_control", map[string]any{"recipient": rcpt(), "duration": "259200"}); r.status != 200 {
		t.Fatalf("extend: %s", r.raw)
	}
	expect("extended 3 days", ourApp, now.Add(72*time.Hour))
	if r := e.sendJSON(t, tToken, textMsg(tUser, "owner send keeps the longer expiry")); r.status != 200 {
		t.Fatal(r.raw2s())
	}
	expect("send", ourApp, now.Add(72*time.Hour))
	e.s.AdvanceClock(48 * time.Hour)
	expect("2 days later", ourApp, now.Add(72*time.Hour))
	// Any control action resets the window to 1 day.
	if err := e.s.OtherAppTakes(tAcct, tUser, InstagramInboxAppID, ""); err != nil {
		t.Fatal(err)
	}
	now = now.Add(48 * time.Hour)
	expect("take resets to 1 day", InstagramInboxAppID, now.Add(24*time.Hour))
	e.s.AdvanceClock(24 * time.Hour)
	expect("inbox control expired", "", time.Time{})
}

func TestRoutingControlAPI(t *testing.T) {
	e := setup(t, Options{})
	var rs struct {
		Account string
		Routing RoutingSettings
	}
	if st := e.ctl(t, "POST", "/sandbox/routing", map[string]any{"enabled": true, "takeover_allowed": true}, &rs); st != 200 ||
		rs.Account != tAcct || !rs.Routing.Enabled || !rs.Routing.TakeoverAllowed || rs.Routing.DefaultApp != "" {
		t.Fatalf("routing: %d %+v", st, rs)
	}
	e.openWindow(t)
	var ti ThreadInfo
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/take", map[string]any{"metadata": "human"}, &ti); st != 200 ||
		ti.State != "active" || ti.Owner != InstagramInboxAppID || ti.OwnerIsUs || ti.ExpiresAt == nil || len(ti.Calls) != 1 || ti.Calls[0].Metadata != "human" {
		t.Fatalf("take: %d %+v", st, ti)
	}
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/pass", map[string]any{"to": ourApp, "metadata": "back"}, &ti); st != 200 || !ti.OwnerIsUs {
		t.Fatalf("pass: %d %+v", st, ti)
	}
	var errBody struct{ Error string }
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/request", map[string]any{"app": appX}, &errBody); st != http.StatusConflict || !strings.Contains(errBody.Error, "Conversation Routing") {
		t.Fatalf("request with CR: %d %+v", st, errBody)
	}
	if st := e.ctl(t, "GET", "/sandbox/threads/"+tUser+"?account="+tAcct, nil, &ti); st != 200 || ti.Owner != ourApp || len(ti.Calls) != 3 || ti.Calls[2].Error == "" {
		t.Fatalf("GET thread: %d %+v", st, ti)
	}
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/take", map[string]any{"app": PageInboxAppID}, nil); st != 200 {
		t.Fatal(st)
	}
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/release", map[string]any{}, &ti); st != 200 || ti.State != "idle" {
		t.Fatalf("release (defaults to the owner): %d %+v", st, ti)
	}
	if st := e.ctl(t, "POST", "/sandbox/threads/"+tUser+"/bogus", map[string]any{}, nil); st != 404 {
		t.Fatalf("bogus action: %d", st)
	}
}
