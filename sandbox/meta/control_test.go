package meta

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

func (e *env) ctl(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.g.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	e := setup(t, Options{})

	// Default account (first page) and default user (its first user).
	var m struct{ MID, Account, IGSID string }
	if st := e.ctl(t, "POST", "/sandbox/messages", map[string]any{"text": "hello from a human"}, &m); st != 200 || m.MID == "" || m.Account != tAcct || m.IGSID != tUser {
		t.Fatalf("POST /sandbox/messages: %d %+v", st, m)
	}
	// Unknown user is created with a generated name.
	var m2 struct{ MID, IGSID string }
	e.ctl(t, "POST", "/sandbox/messages", map[string]any{"account": tAcct2, "igsid": "6871234500000042", "text": "new"}, &m2)
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Accounts deliver independently (per-account FIFO only), so the two webhooks may
	// arrive in either order.
	ev := events(e.hook.requests())
	byRecipient := map[string]string{}
	for _, x := range ev {
		byRecipient[x["recipient"].(map[string]any)["id"].(string)] = x["message"].(map[string]any)["mid"].(string)
	}
	if len(ev) != 2 || byRecipient[tAcct] != m.MID || byRecipient[tAcct2] != m2.MID {
		t.Fatalf("webhooks: %v", ev)
	}

	// The control-created user can be replied to through the Graph API.
	if r := e.post(t, "/v23.0/me/messages", tToken2, textMsg("6871234500000042", "welcome")); r.status != 200 {
		t.Fatalf("send: %s", r.raw)
	}
	var sent []SentMessage
	if e.ctl(t, "GET", "/sandbox/sent?igsid=6871234500000042", nil, &sent); len(sent) != 1 || sent[0].Text != "welcome" || sent[0].IGAccountID != tAcct2 {
		t.Fatalf("sent: %+v", sent)
	}

	var st State
	e.ctl(t, "GET", "/sandbox/state", nil, &st)
	if len(st.Pages) != 2 || st.Disabled || len(st.Users[tAcct2]) != 1 || st.Users[tAcct2][0].Name == "" || !st.Users[tAcct2][0].WindowOpen || st.Sent != 1 {
		t.Fatalf("state: %+v", st)
	}

	// Faults and clock through the control API.
	e.ctl(t, "POST", "/sandbox/faults", map[string]any{"endpoint": "send", "count": 1, "http_status": 400, "code": 4}, nil)
	if r := e.post(t, "/v23.0/me/messages", tToken2, textMsg("6871234500000042", "x")); r.code() != 4 {
		t.Fatalf("fault via control: %s", r.raw)
	}
	e.ctl(t, "POST", "/sandbox/clock", map[string]any{"advance": "25h"}, nil)
	if r := e.post(t, "/v23.0/me/messages", tToken2, textMsg("6871234500000042", "late")); r.subcode() != 2534022 {
		t.Fatalf("clock via control: %s", r.raw)
	}

	// Raw entries can be injected (e.g. a reaction).
	entry := map[string]any{"id": tAcct, "time": 1767226100500, "messaging": []any{map[string]any{
		"sender": map[string]any{"id": tUser}, "recipient": map[string]any{"id": tAcct}, "timestamp": 1767226100000,
		"reaction": map[string]any{"mid": m.MID, "action": "react", "reaction": "love", "emoji": "❤️"}}}}
	if st := e.ctl(t, "POST", "/sandbox/events", map[string]any{"entries": []any{entry}}, nil); st != http.StatusAccepted {
		t.Fatalf("events: %d", st)
	}
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, r := range e.hook.requests() {
		if bytes.Contains(r.body, []byte(`"reaction"`)) {
			last = string(r.body)
		}
	}
	want := `{"object":"instagram","entry":[{"id":"` + tAcct + `","time":1767226100500,"messaging":[{"sender":{"id":"` + tUser + `"},"recipient":{"id":"` + tAcct +
		`"},"timestamp":1767226100000,"reaction":{"mid":"` + m.MID + `","action":"react","reaction":"love","emoji":"\u2764\ufe0f"}}]}]}`
	if last != want {
		t.Errorf("injected entry wire form:\n got %s\nwant %s", last, want)
	}

	if st := e.ctl(t, "GET", "/sandbox/nope", nil, nil); st != 404 {
		t.Errorf("unknown control endpoint: %d", st)
	}
}
