package meta

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Control API additions (see control.go):
//
//	POST   /sandbox/threads/{igsid}/take|pass|request|release
//	       {"account"?, "app"?, "to"?, "metadata"?}   a simulated other app acts
//	GET    /sandbox/threads/{igsid}?account=         owner, expiry, settings, calls
//	POST   /sandbox/routing  {"account"?, "enabled"?, "takeover_allowed"?, "default_app"?} -> settings
//	POST   /sandbox/media    {"account"?, "igsid"?, "attachments":[{"type","content_type","name","data" (base64),"title"}]} -> {"mid","assets":[…]}
//	DELETE /sandbox/media/{asset_id}
//
// "app" defaults to the Instagram Inbox (a human agent) for take/request and
// to the current owner (else the Instagram Inbox) for pass/release; "to" ""
// passes to the default app (CR enabled only); "account" defaults to the
// first page's IG account.

// ThreadInfo is the control API's view of a thread.
type ThreadInfo struct {
	Account   string              `json:"account"`
	IGSID     string              `json:"igsid"`
	State     string              `json:"state"` // "idle" or "active"
	Owner     string              `json:"owner,omitempty"`
	OwnerIsUs bool                `json:"owner_is_us"`
	ExpiresAt *time.Time          `json:"expires_at,omitempty"`
	Routing   RoutingSettings     `json:"routing"`
	Calls     []ThreadControlCall `json:"calls"`
}

func (s *Server) threadInfo(acct, igsid string) ThreadInfo {
	owner, exp := s.ThreadOwner(acct, igsid)
	ti := ThreadInfo{Account: acct, IGSID: igsid, State: "idle", Owner: owner, OwnerIsUs: owner != "" && owner == s.opts.AppID,
		Routing: s.Routing(acct), Calls: s.ThreadControlCalls(acct, igsid)}
	if ti.Calls == nil {
		ti.Calls = []ThreadControlCall{}
	}
	if owner != "" {
		ti.State = "active"
		ti.ExpiresAt = &exp
	}
	return ti
}

// serveRoutingControl handles the routing and media control endpoints;
// false if route is not one of them.
func (s *Server) serveRoutingControl(w http.ResponseWriter, r *http.Request, route string) bool {
	method, path, _ := strings.Cut(route, " ")
	switch {
	case route == "POST /sandbox/routing":
		var req struct {
			Account         string  `json:"account"`
			Enabled         *bool   `json:"enabled"`
			TakeoverAllowed *bool   `json:"takeover_allowed"`
			DefaultApp      *string `json:"default_app"`
		}
		if !readCtl(w, r, &req) {
			return true
		}
		acct, ok := s.ctlAccount(w, req.Account)
		if !ok {
			return true
		}
		if req.Enabled != nil {
			s.SetConversationRouting(acct, *req.Enabled)
		}
		if req.TakeoverAllowed != nil {
			s.SetTakeoverAllowed(acct, *req.TakeoverAllowed)
		}
		if req.DefaultApp != nil {
			s.SetDefaultApp(acct, *req.DefaultApp)
		}
		writeCtl(w, http.StatusOK, map[string]any{"account": acct, "routing": s.Routing(acct)})
	case strings.HasPrefix(path, "/sandbox/threads/"):
		rest := strings.TrimPrefix(path, "/sandbox/threads/")
		igsid, action, _ := strings.Cut(rest, "/")
		if igsid == "" {
			ctlError(w, http.StatusNotFound, errors.New("igsid missing in "+path))
			return true
		}
		if method == http.MethodGet && action == "" {
			acct, ok := s.ctlAccount(w, r.URL.Query().Get("account"))
			if ok {
				writeCtl(w, http.StatusOK, s.threadInfo(acct, igsid))
			}
			return true
		}
		if method != http.MethodPost || (action != "take" && action != "pass" && action != "request" && action != "release") {
			return false
		}
		var req struct{ Account, App, To, Metadata string }
		if !readCtl(w, r, &req) {
			return true
		}
		acct, ok := s.ctlAccount(w, req.Account)
		if !ok {
			return true
		}
		app := req.App
		if app == "" {
			app = InstagramInboxAppID
			if action == "pass" || action == "release" {
				if owner, _ := s.ThreadOwner(acct, igsid); owner != "" {
					app = owner
				}
			}
		}
		var err error
		switch action {
		case "take":
			err = s.OtherAppTakes(acct, igsid, app, req.Metadata)
		case "pass":
			err = s.OtherAppPasses(acct, igsid, app, req.To, req.Metadata)
		case "request":
			err = s.OtherAppRequests(acct, igsid, app, req.Metadata)
		case "release":
			err = s.OtherAppReleases(acct, igsid, app, req.Metadata)
		}
		if err != nil {
			ctlError(w, http.StatusConflict, err)
			return true
		}
		writeCtl(w, http.StatusOK, s.threadInfo(acct, igsid))
	case route == "POST /sandbox/media":
		var req struct {
			Account     string `json:"account"`
			IGSID       string `json:"igsid"`
			Attachments []struct {
				Type        string `json:"type"`
				ContentType string `json:"content_type"`
				Name        string `json:"name"`
				Data        string `json:"data"`
				Title       string `json:"title"`
			} `json:"attachments"`
		}
		if !readCtl(w, r, &req) {
			return true
		}
		if len(req.Attachments) == 0 {
			ctlError(w, http.StatusBadRequest, errors.New("attachments must not be empty"))
			return true
		}
		acct, ok := s.ctlAccount(w, req.Account)
		if !ok {
			return true
		}
		s.mu.Lock()
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
		atts := make([]any, 0, len(req.Attachments))
		assets := []string{}
		for _, a := range req.Attachments {
			data, err := base64.StdEncoding.DecodeString(a.Data)
			if err != nil {
				ctlError(w, http.StatusBadRequest, errors.New("attachments[].data must be base64: "+err.Error()))
				return true
			}
			att, id := s.NewMediaAttachment(Media{Type: a.Type, ContentType: a.ContentType, Name: a.Name, Data: data, Title: a.Title})
			atts = append(atts, att)
			if id != "" {
				assets = append(assets, id)
			}
		}
		mid := s.UserSends(acct, igsid, map[string]any{"attachments": atts})
		writeCtl(w, http.StatusOK, map[string]any{"mid": mid, "account": acct, "igsid": igsid, "assets": assets})
	case method == http.MethodDelete && strings.HasPrefix(path, "/sandbox/media/"):
		id := strings.TrimPrefix(path, "/sandbox/media/")
		writeCtl(w, http.StatusOK, map[string]any{"deleted": s.DeleteMedia(id)})
	default:
		return false
	}
	return true
}

func (s *Server) ctlAccount(w http.ResponseWriter, acct string) (string, bool) {
	s.mu.Lock()
	acct, err := s.defaultAccountLocked(acct)
	s.mu.Unlock()
	if err != nil {
		ctlError(w, http.StatusBadRequest, err)
		return "", false
	}
	return acct, true
}
