package meta

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// Control API (JSON) for humans and load generators, under /sandbox/:
//
//	POST   /sandbox/messages     {"account"?, "igsid"?, "text"?, "message"?} -> {"mid","account","igsid"}
//	GET    /sandbox/sent?igsid=&account=   accepted Send API calls
//	GET    /sandbox/state        pages, users, pending deliveries, disabled flag
//	GET    /sandbox/attempts     webhook delivery attempts
//	POST   /sandbox/pages        Page JSON (PageID, IGAccountID, Username, Name, AccessToken)
//	POST   /sandbox/users        {"account","igsid"?,"name","username"} -> user
//	POST   /sandbox/events       {"entries":[<Meta entry>…]} queued as one POST
//	POST   /sandbox/faults       {"endpoint","count","http_status","code","subcode","message","delay":"2s","after_accept","body","echo_first"}
//	DELETE /sandbox/faults
//	POST   /sandbox/clock        {"advance":"25h"} -> {"now"}
//	POST   /sandbox/webhook      {"url"}
//	POST   /sandbox/resubscribe  {"account"?}
//	GET    /sandbox/oauth        OAuth dialog mode, preselected pages, grants
//	POST   /sandbox/oauth        {"mode":"approve"|"deny"|"choose","pages":[…],"accounts_page_size"?}
//	GET    /sandbox/subscriptions           page id -> subscribed fields (null = not subscribed)
//	POST   /sandbox/subscriptions/drop      {"page"} silent unsubscription
//	…/sandbox/threads, /sandbox/routing, /sandbox/media: see control_routing.go
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	switch route {
	case "POST /sandbox/messages":
		s.ctlMessages(w, r)
	case "GET /sandbox/sent":
		s.ctlSent(w, r)
	case "GET /sandbox/state", "GET /sandbox":
		writeCtl(w, http.StatusOK, s.State())
	case "GET /sandbox/attempts":
		writeCtl(w, http.StatusOK, s.Attempts())
	case "POST /sandbox/pages":
		var p Page
		if !readCtl(w, r, &p) {
			return
		}
		if p.PageID == "" {
			ctlError(w, http.StatusBadRequest, errors.New("PageID is required (IGAccountID may be empty: a page without a linked Instagram account)"))
			return
		}
		s.mu.Lock()
		pp := *s.addPageLocked(p)
		s.mu.Unlock()
		writeCtl(w, http.StatusOK, pp)
	case "POST /sandbox/users":
		var req struct{ Account, IGSID, Name, Username string }
		if !readCtl(w, r, &req) {
			return
		}
		s.mu.Lock()
		acct, err := s.defaultAccountLocked(req.Account)
		if err != nil {
			s.mu.Unlock()
			ctlError(w, http.StatusBadRequest, err)
			return
		}
		if req.IGSID == "" {
			req.IGSID = s.newIGSIDLocked()
		}
		us := s.addUserLocked(acct, User{IGSID: req.IGSID, Name: req.Name, Username: req.Username})
		u := us.User
		s.mu.Unlock()
		writeCtl(w, http.StatusOK, map[string]any{"account": acct, "user": u})
	case "POST /sandbox/events":
		var req struct {
			Entries []Entry `json:"entries"`
		}
		if !readCtl(w, r, &req) {
			return
		}
		if len(req.Entries) == 0 {
			ctlError(w, http.StatusBadRequest, errors.New("entries must not be empty"))
			return
		}
		s.Enqueue(req.Entries...)
		writeCtl(w, http.StatusAccepted, map[string]any{"queued": true})
	case "POST /sandbox/faults":
		var req struct {
			Endpoint    string `json:"endpoint"`
			Count       int    `json:"count"`
			HTTPStatus  int    `json:"http_status"`
			Code        int    `json:"code"`
			Subcode     int    `json:"subcode"`
			Message     string `json:"message"`
			Delay       string `json:"delay"`
			AfterAccept bool   `json:"after_accept"`
			Body        string `json:"body"`
			EchoFirst   bool   `json:"echo_first"`
		}
		if !readCtl(w, r, &req) {
			return
		}
		var d time.Duration
		if req.Delay != "" {
			var err error
			if d, err = time.ParseDuration(req.Delay); err != nil {
				ctlError(w, http.StatusBadRequest, err)
				return
			}
		}
		s.InjectFault(Fault{Endpoint: req.Endpoint, Count: req.Count, HTTPStatus: req.HTTPStatus, Code: req.Code, Subcode: req.Subcode,
			Message: req.Message, Delay: d, AfterAccept: req.AfterAccept, Body: req.Body, EchoFirst: req.EchoFirst})
		writeCtl(w, http.StatusOK, map[string]any{"ok": true})
	case "DELETE /sandbox/faults":
		s.ClearFaults()
		writeCtl(w, http.StatusOK, map[string]any{"ok": true})
	case "POST /sandbox/clock":
		var req struct{ Advance string }
		if !readCtl(w, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			ctlError(w, http.StatusBadRequest, err)
			return
		}
		s.AdvanceClock(d)
		writeCtl(w, http.StatusOK, map[string]any{"now": s.Now()})
	case "POST /sandbox/webhook":
		var req struct{ URL string }
		if !readCtl(w, r, &req) {
			return
		}
		s.SetWebhookURL(req.URL)
		writeCtl(w, http.StatusOK, map[string]any{"ok": true})
	case "POST /sandbox/resubscribe":
		var req struct{ Account string }
		if !readCtl(w, r, &req) {
			return
		}
		s.Resubscribe(req.Account)
		writeCtl(w, http.StatusOK, map[string]any{"ok": true})
	default:
		if s.serveOAuthControl(w, r, route) {
			return
		}
		if s.serveRoutingControl(w, r, route) {
			return
		}
		ctlError(w, http.StatusNotFound, errors.New("unknown control endpoint "+route))
	}
}

// ctlMessages: a customer sends a DM. Unknown users are created with a
// generated name; without igsid the account's first user is used (or a new
// one); without account the first page's IG account.
func (s *Server) ctlMessages(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Account string         `json:"account"`
		IGSID   string         `json:"igsid"`
		Text    string         `json:"text"`
		Message map[string]any `json:"message"`
	}
	if !readCtl(w, r, &req) {
		return
	}
	if req.Text == "" && len(req.Message) == 0 {
		ctlError(w, http.StatusBadRequest, errors.New("text or message is required"))
		return
	}
	s.mu.Lock()
	acct, err := s.defaultAccountLocked(req.Account)
	if err != nil {
		s.mu.Unlock()
		ctlError(w, http.StatusBadRequest, err)
		return
	}
	igsid := req.IGSID
	if igsid == "" {
		if order := s.userOrder[acct]; len(order) > 0 {
			igsid = order[0]
		} else {
			igsid = s.newIGSIDLocked()
		}
	}
	s.ensureUserLocked(acct, igsid)
	s.mu.Unlock()
	msg := req.Message
	if msg == nil {
		msg = map[string]any{}
	}
	if req.Text != "" {
		msg["text"] = req.Text
	}
	mid := s.UserSends(acct, igsid, msg)
	writeCtl(w, http.StatusOK, map[string]any{"mid": mid, "account": acct, "igsid": igsid})
}

func (s *Server) defaultAccountLocked(acct string) (string, error) {
	if acct != "" {
		return acct, nil
	}
	for _, p := range s.pages {
		if p.IGAccountID != "" {
			return p.IGAccountID, nil
		}
	}
	return "", errors.New("no pages with an Instagram account configured: POST /sandbox/pages first")
}

func (s *Server) ctlSent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	acct, igsid := q.Get("account"), q.Get("igsid")
	s.mu.Lock()
	out := []SentMessage{}
	for _, key := range s.sentOrder {
		a, u, _ := strings.Cut(key, "/")
		if (acct == "" || a == acct) && (igsid == "" || u == igsid) {
			out = append(out, s.sent[key]...)
		}
	}
	s.mu.Unlock()
	writeCtl(w, http.StatusOK, out)
}

// StateUser is a user as shown by State.
type StateUser struct {
	IGSID         string     `json:"igsid"`
	Name          string     `json:"name"`
	Username      string     `json:"username"`
	LastMessageAt *time.Time `json:"last_message_at,omitempty"`
	WindowOpen    bool       `json:"window_open"`
	Unavailable   bool       `json:"unavailable,omitempty"`
}

// State is a snapshot of the emulator (GET /sandbox/state).
type State struct {
	Now              time.Time              `json:"now"`
	WebhookURL       string                 `json:"webhook_url"`
	Pages            []Page                 `json:"pages"`
	Users            map[string][]StateUser `json:"users"`
	Pending          int                    `json:"pending"`
	Disabled         bool                   `json:"disabled"`
	DisabledAccounts []string               `json:"disabled_accounts"`
	Dropped          int                    `json:"dropped"`
	Attempts         int                    `json:"attempts"`
	Sent             int                    `json:"sent"`
}

// State returns a snapshot of pages, users, deliveries and subscription state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	st := State{Now: now, WebhookURL: s.webhookURL, Users: map[string][]StateUser{}, Pending: s.pendingLocked(),
		Disabled: len(s.disabled) > 0, DisabledAccounts: sortedKeys(s.disabled), Dropped: s.dropped, Attempts: len(s.attempts)}
	for _, p := range s.pages {
		st.Pages = append(st.Pages, *p)
	}
	for acct, order := range s.userOrder {
		for _, id := range order {
			us := s.users[acct][id]
			su := StateUser{IGSID: id, Name: us.Name, Username: us.Username, Unavailable: us.unavailable}
			if !us.lastMsg.IsZero() {
				t := us.lastMsg
				su.LastMessageAt = &t
				su.WindowOpen = now.Sub(t) <= window
			}
			st.Users[acct] = append(st.Users[acct], su)
		}
	}
	for _, l := range s.sent {
		st.Sent += len(l)
	}
	return st
}

func readCtl(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err == nil && len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func writeCtl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func ctlError(w http.ResponseWriter, status int, err error) {
	writeCtl(w, status, map[string]string{"error": err.Error()})
}
