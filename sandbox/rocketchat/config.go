package rocketchat

import (
	"net/http"
	"strconv"
	"strings"
)

// GET livechat/config?token=&department=&businessUnit= (typed route, strict query).
func (s *Server) hConfig(c *reqCtx) (obj, error) {
	if msg, ok := schemaConfigQuery.validate(c.query); !ok {
		return nil, httpErr(http.StatusBadRequest, obj{{"success", false}, {"errorType", "error-invalid-params"}, {"error", msg}})
	}
	token, dept := c.str(c.query, "token"), c.str(c.query, "department")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.set.livechatEnabled {
		return obj{{"config", obj{{"enabled", false}}}}, nil
	}
	up := s.set.upload
	cfg := obj{
		{"enabled", true},
		{"settings", obj{{"registrationForm", true}, {"allowSwitchingDepartments", true}, {"nameFieldRegistrationForm", true},
			{"emailFieldRegistrationForm", true}, {"displayOfflineForm", true}, {"videoCall", false},
			{"fileUpload", up.Enabled && up.LivechatEnabled}, {"language", "en"}, {"transcript", false},
			{"historyMonitorType", "url"}, {"forceAcceptDataProcessingConsent", false}, {"showConnecting", false},
			{"agentHiddenInfo", false}, {"clearLocalStorageWhenChatEnded", false}, {"limitTextLength", s.set.charLimit > 0}}},
		{"theme", obj{{"title", "Rocket.Chat"}, {"color", "#C1272D"}, {"offlineTitle", "Leave a message"},
			{"offlineColor", "#666666"}, {"position", "right"}, {"actionLinks", obj{}}}},
		{"messages", obj{{"offlineMessage", ""}, {"offlineSuccessMessage", ""}, {"offlineUnavailableMessage", ""},
			{"conversationFinishedMessage", ""}, {"conversationFinishedText", ""}, {"transcriptMessage", ""},
			{"registrationFormMessage", ""}, {"dataProcessingConsentText", ""}}},
		{"survey", obj{{"items", []string{"satisfaction", "agentKnowledge", "agentResposiveness", "agentFriendliness"}},
			{"values", []string{"1", "2", "3", "4", "5"}}}},
		{"triggers", []any{}},
	}
	deps := []obj{}
	for _, id := range s.deptOrder {
		d := s.depts[id]
		if d.Enabled {
			deps = append(deps, obj{{"_id", d.ID}, {"name", d.Name}, {"showOnRegistration", true}, {"showOnOfflineForm", true}})
		}
	}
	cfg = append(cfg, field{"departments", deps},
		field{"resources", obj{{"sound", s.siteURL() + "/sounds/chime.mp3"}, {"emojis", []any{}}}},
		field{"online", s.online(dept)})
	if token != "" {
		if v := s.visitorByToken(token); v != nil {
			g := obj{{"_id", v.ID}, {"token", v.Token}}
			if v.Name != "" {
				g = append(g, field{"name", v.Name})
			}
			g = append(g, field{"username", v.Username})
			if v.Department != "" {
				g = append(g, field{"department", v.Department})
			}
			if len(v.Emails) > 0 {
				g = append(g, field{"visitorEmails", []obj{{{"address", v.Emails[0]}}}})
			}
			cfg = append(cfg, field{"guest", g})
			if r := s.openRoomByToken(v.Token); r != nil {
				ro := obj{{"_id", r.ID}}
				if r.DepartmentID != "" {
					ro = append(ro, field{"departmentId", r.DepartmentID})
				}
				if r.ServedBy != nil {
					ro = append(ro, field{"servedBy", r.ServedBy.json()})
				}
				ro = append(ro, field{"open", true})
				cfg = append(cfg, field{"room", ro})
				if r.ServedBy != nil {
					if a := s.agents[r.ServedBy.Username]; a != nil {
						cfg = append(cfg, field{"agent", agentInfoJSON(a)})
					}
				}
			}
		}
	}
	return obj{{"config", cfg}}, nil
}

func agentInfoJSON(a *agentRec) obj {
	return obj{{"_id", a.ID}, {"username", a.Username}, {"name", a.Name}}
}

// GET livechat/agent.info/:rid/:token
func (s *Server) hAgentInfo(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := c.params["token"]
	if s.visitorByToken(token) == nil {
		return nil, plainErr("invalid-token")
	}
	r := s.roomByIDAndToken(c.params["rid"], token)
	if r == nil {
		return nil, plainErr("invalid-room")
	}
	if r.ServedBy == nil || s.agents[r.ServedBy.Username] == nil {
		return nil, plainErr("invalid-agent")
	}
	return obj{{"agent", agentInfoJSON(s.agents[r.ServedBy.Username])}}, nil
}

// GET livechat/agent.next/:token?department=
func (s *Server) hAgentNext(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := c.params["token"]
	if s.openRoomByToken(token) != nil {
		return nil, nil
	}
	dept := c.str(c.query, "department")
	if dept == "" {
		if d := s.requiredDepartment(); d != nil {
			dept = d.ID
		}
	}
	if dept != "" {
		dept, _ = s.effectiveDept(dept)
	}
	cands := s.availableAgents(dept)
	if len(cands) == 0 {
		return nil, plainErr("agent-not-found")
	}
	return obj{{"agent", agentInfoJSON(cands[0])}}, nil
}

// ---------------------------------------------------------------------------
// Departments (authenticated).

func (s *Server) deptJSON(d *deptRec) obj {
	o := obj{{"_id", d.ID}, {"name", d.Name}, {"enabled", d.Enabled}, {"description", ""},
		{"showOnRegistration", true}, {"showOnOfflineForm", true}, {"requestTagBeforeClosingChat", false},
		{"email", ""}, {"chatClosingTags", []any{}}, {"offlineMessageChannelName", ""},
		{"numAgents", s.numAgents(d)}, {"type", "d"}, {"archived", false}}
	if d.Fallback != "" {
		o = append(o, field{"fallbackForwardDepartment", d.Fallback})
	}
	return append(o, field{"_updatedAt", iso(d.UpdatedAt)})
}

func pagination(q map[string]any) (count, offset int) {
	count, offset = 50, 0
	if v, ok := q["count"].(string); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			count = n
		}
	}
	if count > 100 {
		count = 100
	}
	if v, ok := q["offset"].(string); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			offset = n
		}
	}
	return
}

// GET livechat/department?text=&enabled=&count=&offset=
func (s *Server) hDepartments(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaDeptQuery, c.query); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	text := strings.ToLower(c.str(c.query, "text"))
	onlyEnabled := c.str(c.query, "enabled") == "true"
	exclude := c.str(c.query, "excludeDepartmentId")
	var all []*deptRec
	for _, id := range s.deptOrder {
		d := s.depts[id]
		if text != "" && !strings.Contains(strings.ToLower(d.Name), text) {
			continue
		}
		if onlyEnabled && !d.Enabled {
			continue
		}
		if exclude != "" && d.ID == exclude {
			continue
		}
		all = append(all, d)
	}
	// default sort {name: 1}
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].Name < all[j-1].Name; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	count, offset := pagination(c.query)
	out := []obj{}
	for i := offset; i < len(all) && (count == 0 || len(out) < count); i++ {
		out = append(out, s.deptJSON(all[i]))
	}
	return obj{{"departments", out}, {"count", len(out)}, {"offset", offset}, {"total", len(all)}}, nil
}

func (s *Server) deptAgentsJSON(d *deptRec) []obj {
	out := []obj{}
	for _, u := range s.agentOrder {
		a := s.agents[u]
		if s.agentInDept(a, d) {
			out = append(out, obj{{"_id", d.ID + "-" + a.ID}, {"agentId", a.ID}, {"departmentId", d.ID},
				{"departmentEnabled", d.Enabled}, {"username", a.Username}, {"count", 0}, {"order", 0}})
		}
	}
	return out
}

// GET livechat/department/:_id?includeAgents=true
func (s *Server) hDepartment(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.depts[c.params["_id"]]
	res := obj{}
	if d == nil {
		res = append(res, field{"department", nil})
	} else {
		res = append(res, field{"department", s.deptJSON(d)})
	}
	if c.str(c.query, "includeAgents") == "true" && c.user.can("view-livechat-departments") {
		if d == nil {
			res = append(res, field{"agents", []obj{}})
		} else {
			res = append(res, field{"agents", s.deptAgentsJSON(d)})
		}
	}
	return res, nil
}

// GET livechat/department/:_id/agents
func (s *Server) hDepartmentAgents(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := []obj{}
	if d := s.depts[c.params["_id"]]; d != nil {
		all = s.deptAgentsJSON(d)
	}
	count, offset := pagination(c.query)
	out := []obj{}
	for i := offset; i < len(all) && (count == 0 || len(out) < count); i++ {
		out = append(out, all[i])
	}
	return obj{{"agents", out}, {"count", len(out)}, {"offset", offset}, {"total", len(all)}}, nil
}
