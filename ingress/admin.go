package ingress

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/store"
)

// requireAdmin guards /admin/api with the ADMIN_API_TOKEN bearer token (constant-time).
// Without a configured token the admin API is closed.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !secretEqual(token, s.cfg.AdminAPIToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeError(w, http.StatusUnauthorized, "admin API requires Authorization: Bearer <ADMIN_API_TOKEN>")
			return
		}
		if s.store == nil {
			writeError(w, http.StatusServiceUnavailable, "no database")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) listPages(w http.ResponseWriter, r *http.Request) {
	pages, err := s.store.Pages(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not list pages")
		return
	}
	if pages == nil {
		pages = []store.Page{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pages": pages})
}

func (s *Server) getPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.FindPage(r.Context(), mux.Vars(r)["page"])
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no page with that ID or username")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "could not read page")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// connectPageRequest connects a page by hand with a page access token (for system-user
// tokens, or the sandbox); the OAuth flow does the same for admins with a browser.
type connectPageRequest struct {
	IGAccountID string `json:"ig_account_id"`
	IGUsername  string `json:"ig_username"`
	Name        string `json:"name"`
	AccessToken string `json:"access_token"`
	store.PageConfig
}

func (s *Server) connectPage(w http.ResponseWriter, r *http.Request) {
	pageID := mux.Vars(r)["page"]
	var req connectPageRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	switch {
	case !identity.ValidID(pageID):
		writeError(w, http.StatusBadRequest, "page ID must be a Meta ID (digits)")
		return
	case !identity.ValidID(req.IGAccountID):
		writeError(w, http.StatusBadRequest, "ig_account_id is required (the Instagram professional account ID)")
		return
	case strings.TrimSpace(req.AccessToken) == "":
		writeError(w, http.StatusBadRequest, "access_token is required (a page access token)")
		return
	case len(req.AccessToken) > 2048 || strings.ContainsAny(req.AccessToken, " \t\r\n"):
		writeError(w, http.StatusBadRequest, "access_token is not a page access token (one word, at most 2048 characters)")
		return
	case req.IGUsername != "" && !validUsername(strings.TrimPrefix(req.IGUsername, "@")):
		writeError(w, http.StatusBadRequest, "ig_username must be an Instagram username (letters, digits, '.' and '_', at most 30)")
		return
	case len(req.Name) > 200 || strings.ContainsAny(req.Name, "\r\n") || !utf8.ValidString(req.Name):
		writeError(w, http.StatusBadRequest, "name must be one line of text, at most 200 bytes")
		return
	}
	edit, err := commands.ValidatePageEdit(pageEdit(req.PageConfig))
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	current := ""
	if existing, err := s.store.FindPage(r.Context(), pageID); err == nil && existing.PageID == pageID {
		current = existing.Department
	}
	if err := s.checkDepartment(r.Context(), &edit, current); err != nil {
		s.writeOpError(w, err)
		return
	}
	p := store.Page{PageID: pageID, IGAccountID: req.IGAccountID, IGUsername: strings.TrimPrefix(req.IGUsername, "@"), Name: req.Name}
	if err := s.store.ConnectPage(r.Context(), p, req.AccessToken); err != nil {
		writeError(w, http.StatusConflict, "could not store page (is the Instagram account connected to another page?)")
		return
	}
	page, err := s.store.UpdatePageConfig(r.Context(), pageID, pageConfig(edit))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not store page configuration")
		return
	}
	s.audit(apiCaller, "page connected with a page token", "page", pageID)
	s.wakeBlocked(page.IGAccountID, "page connected")
	writeJSON(w, http.StatusOK, page)
}

// pageEdit and pageConfig convert between the admin API's fields and the command's edit,
// so both go through commands.ValidatePageEdit.
func pageEdit(c store.PageConfig) commands.PageEdit {
	return commands.PageEdit{Department: c.Department, Welcome: c.WelcomeMessage, Finished: c.FinishedMessage, Offline: c.OfflineMessage}
}

func pageConfig(e commands.PageEdit) store.PageConfig {
	return store.PageConfig{Department: e.Department, WelcomeMessage: e.Welcome, FinishedMessage: e.Finished, OfflineMessage: e.Offline}
}

// validUsername: Instagram usernames are letters, digits, '.' and '_', at most 30.
func validUsername(u string) bool {
	if u == "" || len(u) > 30 {
		return false
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Server) editPage(w http.ResponseWriter, r *http.Request) {
	var c store.PageConfig
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	p, err := s.editPageConfig(r.Context(), mux.Vars(r)["page"], pageEdit(c), apiCaller)
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
