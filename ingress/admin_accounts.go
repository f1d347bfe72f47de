package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/gorilla/mux"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/workflows"
)

// Admin API endpoints for authorization and administration. Each calls the same operation
// as its Rocket.Chat command (admin_ops.go). Registered by Handler().

// addPublicAccountRoutes adds the OAuth endpoints and the command endpoint (public
// listener).
func (s *Server) addPublicAccountRoutes(r *mux.Router) {
	r.HandleFunc(workflows.OAuthStartPath, s.oauthStart).Methods(http.MethodGet)
	r.HandleFunc(workflows.OAuthCallbackPath, s.oauthCallback).Methods(http.MethodGet)
	r.HandleFunc("/rocketchat/command", s.receiveCommand).Methods(http.MethodPost)
}

// addAdminAccountRoutes adds this file's admin API routes (admin is the /admin/api
// subrouter with requireAdmin, on the admin listener).
func (s *Server) addAdminAccountRoutes(admin *mux.Router) {
	admin.HandleFunc("/authorize", s.apiAuthorize).Methods(http.MethodPost)
	admin.HandleFunc("/authorization", s.apiUnauthorize).Methods(http.MethodDelete)
	admin.HandleFunc("/accounts", s.apiAccounts).Methods(http.MethodGet)
	admin.HandleFunc("/pages/{page}/subscribe", s.apiSubscribe).Methods(http.MethodPost)
	admin.HandleFunc("/pages/{page}/subscription", s.apiUnsubscribe).Methods(http.MethodDelete)
	admin.HandleFunc("/settings", s.apiSettings).Methods(http.MethodGet)
	admin.HandleFunc("/settings", s.apiUpdateSettings).Methods(http.MethodPut)
}

// writeOpError answers with an operation's refusal; 202 means "still running".
func (s *Server) writeOpError(w http.ResponseWriter, err error) {
	var oe *opError
	var ce *commands.Error
	switch {
	case errors.As(err, &oe) && oe.Status == http.StatusAccepted:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "running", "message": oe.Msg})
	case errors.As(err, &oe):
		writeError(w, oe.Status, oe.Msg)
	case errors.As(err, &ce):
		writeError(w, http.StatusBadRequest, ce.Msg)
	default:
		s.log.Error("Admin operation failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

const apiCaller = "admin API"

func (s *Server) apiAuthorize(w http.ResponseWriter, r *http.Request) {
	res, err := s.authorize(r.Context(), apiCaller, "")
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	status := http.StatusOK
	if res.Pending {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

func (s *Server) apiUnauthorize(w http.ResponseWriter, r *http.Request) {
	res, err := s.unauthorize(r.Context(), apiCaller)
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiAccounts(w http.ResponseWriter, r *http.Request) {
	acc, err := s.accounts(r.Context())
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": acc})
}

func (s *Server) apiSubscribe(w http.ResponseWriter, r *http.Request) {
	s.apiSetSubscription(w, r, true)
}

func (s *Server) apiUnsubscribe(w http.ResponseWriter, r *http.Request) {
	s.apiSetSubscription(w, r, false)
}

func (s *Server) apiSetSubscription(w http.ResponseWriter, r *http.Request, subscribe bool) {
	p, err := s.setSubscription(r.Context(), mux.Vars(r)["page"], subscribe, apiCaller)
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) apiSettings(w http.ResponseWriter, r *http.Request) {
	views, err := s.settings(r.Context())
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, settingsBody(views))
}

// apiUpdateSettings takes a JSON object of settings. Values may be strings, booleans or
// numbers ({"file_upload_enabled": false} is as good as "false"); all are validated before
// any is stored.
func (s *Server) apiUpdateSettings(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, `body must be a JSON object of settings, e.g. {"unsend_action":"delete"}: `+err.Error())
		return
	}
	values := make(map[string]string, len(body))
	for k, v := range body {
		switch v := v.(type) {
		case string:
			values[k] = v
		case bool, json.Number:
			values[k] = fmt.Sprint(v)
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("setting %q must be a string, number or boolean", k))
			return
		}
	}
	views, err := s.updateSettings(r.Context(), values, apiCaller)
	if err != nil {
		s.writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, settingsBody(views))
}

// settingsBody is {"settings": {key: value}, "docs": [...]}: values to read or send back,
// with their documentation.
func settingsBody(views []settingView) map[string]any {
	values := make(map[string]string, len(views))
	for _, v := range views {
		values[v.Key] = v.Value
	}
	sort.Slice(views, func(i, j int) bool { return views[i].Key < views[j].Key })
	return map[string]any{"settings": values, "docs": views}
}
