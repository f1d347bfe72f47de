package rocketchat

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// controlHandler serves the JSON control API under /sandbox/ (for humans and
// load generators). It ignores faults, SetDown and the rate limiter.
//
//	GET    /sandbox/state
//	GET    /sandbox/rooms?token=…                 rooms (all when token is empty), oldest first
//	GET    /sandbox/rooms/{rid}/messages
//	POST   /sandbox/rooms/{rid}/messages          {"agent":"…","text":"…"}   (agent "" = serving agent)
//	POST   /sandbox/rooms/{rid}/close             {"agent":"…","comment":"…"}
//	POST   /sandbox/rooms/{rid}/forward           {"agent":"…"} or {"department":"…"}
//	POST   /sandbox/agents                        {"_id","username","name","departments":[…],"available":bool}
//	POST   /sandbox/agents/{username}/availability {"available":bool}
//	POST   /sandbox/departments                   {"id","name","fallback"}
//	GET    /sandbox/webhooks                      webhook delivery attempts
//	POST   /sandbox/faults                        {"route","count","status","body","delayMs"}
//	DELETE /sandbox/faults
//	POST   /sandbox/down                          {"down":bool}
//	POST   /sandbox/autoreply                     {"enabled":bool,"delayMs":n}
//	POST   /sandbox/settings                      {"acceptChatsWithNoAgents":bool,"rateLimit":bool} (keys optional)
//	POST   /sandbox/commands                      {"url","token","channel","user","text"} outgoing integration (SendCommand)
//	POST   /sandbox/integration                   {"triggerWords":[…],"triggerWordsAnywhere","postAs","alias","emoji","avatar","timeoutMs"}
//	POST   /sandbox/integration/enable            {"url"} re-enable after a 410
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sandbox/state", s.cState)
	mux.HandleFunc("GET /sandbox/rooms", func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get("token"); t != "" {
			rooms := s.Rooms(t)
			if rooms == nil {
				rooms = []Room{}
			}
			cJSON(w, http.StatusOK, rooms)
			return
		}
		cJSON(w, http.StatusOK, s.AllRooms())
	})
	mux.HandleFunc("GET /sandbox/rooms/{rid}/messages", func(w http.ResponseWriter, r *http.Request) {
		rid := r.PathValue("rid")
		if _, ok := s.Room(rid); !ok {
			cErr(w, ErrRoomNotFound)
			return
		}
		cJSON(w, http.StatusOK, s.Messages(rid))
	})
	mux.HandleFunc("POST /sandbox/rooms/{rid}/messages", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Agent, Text string }
		if !cDecode(w, r, &in) {
			return
		}
		m, err := s.AgentSend(r.PathValue("rid"), in.Agent, in.Text)
		if err != nil {
			cErr(w, err)
			return
		}
		cJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("POST /sandbox/rooms/{rid}/close", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Agent, Comment string }
		if !cDecode(w, r, &in) {
			return
		}
		if err := s.CloseRoom(r.PathValue("rid"), in.Agent, in.Comment); err != nil {
			cErr(w, err)
			return
		}
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/rooms/{rid}/forward", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Agent, Department string }
		if !cDecode(w, r, &in) {
			return
		}
		var err error
		if in.Department != "" {
			err = s.ForwardToDepartment(r.PathValue("rid"), in.Department)
		} else {
			err = s.Forward(r.PathValue("rid"), in.Agent)
		}
		if err != nil {
			cErr(w, err)
			return
		}
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/agents", func(w http.ResponseWriter, r *http.Request) {
		var in Agent
		if !cDecode(w, r, &in) {
			return
		}
		if in.Username == "" {
			cJSON(w, http.StatusBadRequest, map[string]string{"error": "username required"})
			return
		}
		s.AddAgent(in)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/agents/{username}/availability", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Available bool `json:"available"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		s.mu.Lock()
		_, ok := s.agents[r.PathValue("username")]
		s.mu.Unlock()
		if !ok {
			cErr(w, ErrAgentNotFound)
			return
		}
		s.SetAgentAvailable(r.PathValue("username"), in.Available)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/departments", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ ID, Name, Fallback string }
		if !cDecode(w, r, &in) {
			return
		}
		if in.ID == "" {
			in.ID = s.randomID()
		}
		s.AddDepartment(in.ID, in.Name, in.Fallback)
		cJSON(w, http.StatusOK, map[string]string{"_id": in.ID})
	})
	mux.HandleFunc("GET /sandbox/webhooks", func(w http.ResponseWriter, r *http.Request) {
		cJSON(w, http.StatusOK, s.WebhookDeliveries())
	})
	mux.HandleFunc("POST /sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Route   string `json:"route"`
			Count   int    `json:"count"`
			Status  int    `json:"status"`
			Body    string `json:"body"`
			DelayMS int    `json:"delayMs"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		s.InjectFault(Fault{Route: in.Route, Count: in.Count, Status: in.Status, Body: in.Body,
			Delay: time.Duration(in.DelayMS) * time.Millisecond})
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("DELETE /sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/down", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Down bool `json:"down"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		s.SetDown(in.Down)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/autoreply", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Enabled bool `json:"enabled"`
			DelayMS int  `json:"delayMs"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		s.SetAutoReply(in.Enabled, time.Duration(in.DelayMS)*time.Millisecond)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/settings", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AcceptChatsWithNoAgents *bool `json:"acceptChatsWithNoAgents"`
			RateLimit               *bool `json:"rateLimit"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		if in.AcceptChatsWithNoAgents != nil {
			s.SetAcceptChatsWithNoAgents(*in.AcceptChatsWithNoAgents)
		}
		if in.RateLimit != nil {
			s.SetRateLimiting(*in.RateLimit)
		}
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	s.registerIntegrationControl(mux)
	return mux
}

func (s *Server) cState(w http.ResponseWriter, r *http.Request) {
	type dept struct {
		ID       string `json:"_id"`
		Name     string `json:"name"`
		Fallback string `json:"fallbackForwardDepartment,omitempty"`
		Enabled  bool   `json:"enabled"`
	}
	visitors, rooms, agents := s.Visitors(), s.AllRooms(), s.Agents()
	s.mu.Lock()
	depts := []dept{}
	for _, id := range s.deptOrder {
		d := s.depts[id]
		depts = append(depts, dept{d.ID, d.Name, d.Fallback, d.Enabled})
	}
	channels := map[string]int{}
	for name, c := range s.channels {
		channels[name] = len(c.Msgs)
	}
	faults := []Fault{}
	for _, f := range s.faults {
		faults = append(faults, f.f)
	}
	st := map[string]any{
		"visitors": visitors, "rooms": rooms, "agents": agents, "departments": depts,
		"channels": channels, "webhookDeliveries": len(s.deliveries), "faults": faults, "down": s.down,
		"webhookUrl": s.webhookURL, "events": s.events, "acceptChatsWithNoAgents": s.set.acceptNoAgents,
		"rateLimit": s.set.rateLimit, "autoReply": s.set.autoReply,
	}
	s.mu.Unlock()
	cJSON(w, http.StatusOK, st)
}

func cJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func cDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		cJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return false
	}
	return true
}

func cErr(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrRoomNotFound) || errors.Is(err, ErrAgentNotFound) || errors.Is(err, ErrDeptNotFound) {
		status = http.StatusNotFound
	}
	cJSON(w, status, map[string]string{"error": err.Error()})
}
