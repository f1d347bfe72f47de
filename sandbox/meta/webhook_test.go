package meta

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEscapeUnicode(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":"plain"}`, `{"a":"plain"}`},
		{`"äöå"`, `"\u00e4\u00f6\u00e5"`},
		{`"🙂"`, `"\ud83d\ude42"`},
		{`"€ ok"`, `"\u20ac ok"`},
		{`{"t":"Ünï","n":1}`, `{"t":"\u00dcn\u00ef","n":1}`},
		{"\"\xff\"", `"\ufffd"`},
	}
	for _, c := range cases {
		if got := string(EscapeUnicode([]byte(c.in))); got != c.want {
			t.Errorf("EscapeUnicode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func sigs(body []byte) (string, string) {
	m := hmac.New(sha256.New, []byte(tSecret))
	m.Write(body)
	m1 := hmac.New(sha1.New, []byte(tSecret))
	m1.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil)), "sha1=" + hex.EncodeToString(m1.Sum(nil))
}

func TestWebhookSignatureAndEscaping(t *testing.T) {
	for _, raw := range []bool{false, true} {
		name := "escaped"
		if raw {
			name = "raw_utf8"
		}
		t.Run(name, func(t *testing.T) {
			e := setup(t, Options{RawUTF8: raw})
			mid := e.s.UserSendsText(tAcct, tUser, "äöå🙂")
			r := e.hook.waitN(t, 1)[0]

			want256, want1 := sigs(r.body)
			if got := r.header.Get("X-Hub-Signature-256"); got != want256 {
				t.Errorf("X-Hub-Signature-256 = %q, want HMAC over raw bytes %q", got, want256)
			}
			if got := r.header.Get("X-Hub-Signature"); got != want1 {
				t.Errorf("X-Hub-Signature = %q, want %q", got, want1)
			}
			if s256, s1 := e.s.Sign(r.body); s256 != want256 || s1 != want1 {
				t.Errorf("Sign() = %q %q", s256, s1)
			}
			for k, v := range map[string]string{"Content-Type": "application/json", "User-Agent": "facebookexternalua", "Facebook-API-Version": "v23.0"} {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			body := string(r.body)
			if raw {
				if !strings.Contains(body, `"text":"äöå🙂"`) {
					t.Errorf("raw body lacks raw UTF-8 text: %s", body)
				}
			} else {
				if !strings.Contains(body, `"text":"\u00e4\u00f6\u00e5\ud83d\ude42"`) {
					t.Errorf("body not Meta-escaped: %s", body)
				}
				for _, c := range r.body {
					if c >= 0x80 {
						t.Fatalf("escaped body contains non-ASCII byte: %s", body)
					}
				}
				// The trap: HMAC over decoded/re-serialised JSON differs.
				var v any
				_ = json.Unmarshal(r.body, &v)
				reser, _ := json.Marshal(v)
				if s, _ := sigs(reser); s == want256 {
					t.Errorf("re-serialised body unexpectedly has the same signature")
				}
			}
			if !strings.HasPrefix(body, `{"object":"instagram","entry":[{"id":"`+tAcct+`","time":`) ||
				!strings.Contains(body, `"messaging":[{"sender":{"id":"`+tUser+`"},"recipient":{"id":"`+tAcct+`"},"timestamp":`) {
				t.Errorf("unexpected envelope shape/key order: %s", body)
			}
			env := r.env
			if env.Object != "instagram" || len(env.Entry) != 1 || env.Entry[0].ID != tAcct || env.Entry[0].Time < 1e12 {
				t.Fatalf("bad envelope: %+v", env)
			}
			ev := env.Entry[0].Messaging[0]
			msg := ev["message"].(map[string]any)
			if msg["text"] != "äöå🙂" || msg["mid"] != mid || ev["timestamp"].(float64) < 1e12 {
				t.Errorf("bad event: %v", ev)
			}
			if !strings.HasPrefix(mid, "aWdf") || len(mid) < 100 {
				t.Errorf("mid %q does not look like an IG mid", mid)
			}
		})
	}
}

func TestRetriesUntil200(t *testing.T) {
	e := setup(t, Options{})
	e.hook.setStatus(func(i int, _ hookReq) int {
		if i < 3 {
			return []int{500, 503, 404}[i]
		}
		return 200
	})
	mid := e.s.UserSendsText(tAcct, tUser, "retry me")
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	att := e.s.Attempts()
	var st []int
	for _, a := range att {
		st = append(st, a.Status)
	}
	if len(st) != 4 || st[0] != 500 || st[1] != 503 || st[2] != 404 || st[3] != 200 {
		t.Fatalf("attempt statuses = %v", st)
	}
	// exponential backoff: gaps grow (5ms, 10ms, 20ms)
	if g := att[1].At.Sub(att[0].At); g < 5*time.Millisecond {
		t.Errorf("first retry after %v, want >= RetryInitial", g)
	}
	if g := att[3].At.Sub(att[2].At); g < 15*time.Millisecond {
		t.Errorf("third retry after %v, want backoff growth", g)
	}
	reqs := e.hook.requests()
	for _, r := range reqs {
		if string(r.body) != string(reqs[0].body) {
			t.Errorf("retried body differs")
		}
	}
	if ev := events(reqs[3:]); ev[0]["message"].(map[string]any)["mid"] != mid {
		t.Errorf("wrong mid delivered")
	}
	if e.s.Pending() != 0 {
		t.Errorf("Pending = %d", e.s.Pending())
	}
}

func TestDeliveryTimeoutCountsAsFailure(t *testing.T) {
	e := setup(t, Options{DeliveryTimeout: 50 * time.Millisecond})
	e.hook.setStatus(func(i int, _ hookReq) int {
		if i == 0 {
			time.Sleep(200 * time.Millisecond)
		}
		return 200
	})
	e.s.UserSendsText(tAcct, tUser, "slow")
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	att := e.s.Attempts()
	if len(att) != 2 || att[0].Status != 0 || att[0].Err == "" || att[1].Status != 200 {
		t.Fatalf("attempts = %+v", att)
	}
}

func TestPerAccountFIFOAndHeadOfLine(t *testing.T) {
	e := setup(t, Options{})
	e.s.AddUser(tAcct2, User{IGSID: tUser2, Name: "Bruno"})
	var inflight [2]atomic.Int32
	var maxIn [2]atomic.Int32
	var mu sync.Mutex
	var okA, okB []string
	var lastB, firstA time.Time
	failsA := 0
	e.hook.setStatus(func(i int, r hookReq) int {
		k := 0
		if r.env.Entry[0].ID == tAcct2 {
			k = 1
		}
		n := inflight[k].Add(1)
		defer inflight[k].Add(-1)
		for {
			m := maxIn[k].Load()
			if n <= m || maxIn[k].CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		text := r.env.Entry[0].Messaging[0]["message"].(map[string]any)["text"].(string)
		mu.Lock()
		defer mu.Unlock()
		if k == 0 {
			if failsA < 4 {
				failsA++
				return 500
			}
			if firstA.IsZero() {
				firstA = time.Now()
			}
			okA = append(okA, text)
		} else {
			okB = append(okB, text)
			lastB = time.Now()
		}
		return 200
	})
	for i := range 5 {
		e.s.UserSendsText(tAcct, tUser, "a"+string(rune('0'+i)))
	}
	for i := range 3 {
		e.s.UserSendsText(tAcct2, tUser2, "b"+string(rune('0'+i)))
	}
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(okA, ",") != "a0,a1,a2,a3,a4" || strings.Join(okB, ",") != "b0,b1,b2" {
		t.Fatalf("order: A=%v B=%v", okA, okB)
	}
	if maxIn[0].Load() != 1 || maxIn[1].Load() != 1 {
		t.Errorf("max in-flight per account = %d/%d, want 1", maxIn[0].Load(), maxIn[1].Load())
	}
	if !lastB.Before(firstA) {
		t.Errorf("account B was blocked by account A's failures")
	}
}

func TestDisableAfterContinuousFailure(t *testing.T) {
	e := setup(t, Options{DisableAfter: 60 * time.Millisecond, RetryInitial: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	e.hook.setStatus(func(int, hookReq) int { return 500 })
	e.s.UserSendsText(tAcct, tUser, "one")
	e.s.UserSendsText(tAcct, tUser, "two")
	err := e.s.WaitDelivered(ctx(t))
	if !errors.Is(err, ErrDisabled) {
		t.Fatalf("WaitDelivered = %v, want ErrDisabled", err)
	}
	if !e.s.Disabled() || e.s.Pending() != 0 || e.s.Dropped() != 2 {
		t.Fatalf("disabled=%v pending=%d dropped=%d", e.s.Disabled(), e.s.Pending(), e.s.Dropped())
	}
	att := e.s.Attempts()
	if span := att[len(att)-1].At.Sub(att[0].At); span < 40*time.Millisecond || len(att) < 3 {
		t.Errorf("disabled after %d attempts spanning %v", len(att), span)
	}
	// Nothing more is sent while disabled.
	n := len(e.hook.requests())
	e.s.UserSendsText(tAcct, tUser, "three")
	time.Sleep(30 * time.Millisecond)
	if len(e.hook.requests()) != n {
		t.Errorf("delivered while disabled")
	}
	// Subscription state is visible through the Graph API and can be renewed.
	if r := e.get(t, "/v23.0/"+tPage+"/subscribed_apps?access_token="+tToken); len(r.body["data"].([]any)) != 0 {
		t.Errorf("subscribed_apps while disabled = %s", r.raw)
	}
	e.hook.setStatus(nil)
	// subscribed_fields is required (§8.1).
	if r := e.post(t, "/v23.0/"+tPage+"/subscribed_apps", tToken, map[string]any{"subscribed_fields": "messages,standby"}); r.status != 200 || r.body["success"] != true {
		t.Fatalf("resubscribe: %d %s", r.status, r.raw)
	}
	if e.s.Disabled() {
		t.Fatal("still disabled after resubscribe")
	}
	e.s.UserSendsText(tAcct, tUser, "four")
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	last := e.hook.requests()
	if ev := events(last[len(last)-1:]); ev[0]["message"].(map[string]any)["text"] != "four" {
		t.Errorf("after resubscribe got %v", ev)
	}
}

func TestBatchingMergesQueuedEvents(t *testing.T) {
	e := setup(t, Options{MaxBatch: 10})
	e.s.SetWebhookURL("") // hold deliveries
	for _, s := range []string{"x1", "x2", "x3"} {
		e.s.UserSendsText(tAcct, tUser, s)
	}
	if e.s.Pending() != 3 {
		t.Fatalf("pending = %d", e.s.Pending())
	}
	e.s.SetWebhookURL(e.hook.URL)
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	reqs := e.hook.requests()
	if len(reqs) != 1 || len(reqs[0].env.Entry) != 1 || len(reqs[0].env.Entry[0].Messaging) != 3 {
		t.Fatalf("want one POST with one entry of 3 events, got %d POSTs: %s", len(reqs), reqs[0].body)
	}
	for i, ev := range reqs[0].env.Entry[0].Messaging {
		if ev["message"].(map[string]any)["text"] != []string{"x1", "x2", "x3"}[i] {
			t.Errorf("batch order wrong: %s", reqs[0].body)
		}
	}
}

func TestEnqueueDuplicatesAndDeliverOnce(t *testing.T) {
	e := setup(t, Options{})
	ts := time.UnixMilli(1767225599871)
	ev := e.s.NewTextEvent(tAcct, tUser, "dup", ts)
	entry := Entry{ID: tAcct, Time: 1767225600123, Messaging: []Event{ev}}
	e.s.Enqueue(entry)
	e.s.Enqueue(entry)
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	reqs := e.hook.requests()
	if len(reqs) != 2 || string(reqs[0].body) != string(reqs[1].body) {
		t.Fatalf("duplicates not delivered identically: %d", len(reqs))
	}
	if !strings.Contains(string(reqs[0].body), `"time":1767225600123`) || !strings.Contains(string(reqs[0].body), `"timestamp":1767225599871`) {
		t.Errorf("times not in ms: %s", reqs[0].body)
	}

	e.hook.setStatus(func(int, hookReq) int { return http.StatusForbidden })
	n := len(e.s.Attempts())
	sb := Entry{ID: tAcct, Time: 1, Standby: []Event{ev}}
	status, _, err := e.s.DeliverOnce(ctx(t), sb)
	if err != nil || status != 403 {
		t.Fatalf("DeliverOnce = %d, %v", status, err)
	}
	last := e.hook.requests()[2]
	if len(last.env.Entry[0].Standby) != 1 || strings.Contains(string(last.body), `"messaging"`) {
		t.Errorf("standby entry shape: %s", last.body)
	}
	if len(e.s.Attempts()) != n || e.s.Pending() != 0 {
		t.Errorf("DeliverOnce must not queue or retry")
	}

	// Entry round-trips through JSON (ids as numbers accepted).
	var back Entry
	if err := json.Unmarshal([]byte(`{"id":17841400000000001,"time":"1767225600123","messaging":[{"x":1}]}`), &back); err != nil ||
		back.ID != tAcct || back.Time != 1767225600123 || len(back.Messaging) != 1 {
		t.Errorf("Entry unmarshal = %+v, %v", back, err)
	}
}
