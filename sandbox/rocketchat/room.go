package rocketchat

import (
	"net/http"
	"sort"
	"strings"
)

// roomJSON is the stored IOmnichannelRoom document.
func (s *Server) roomJSON(r *roomRec) obj {
	o := obj{{"_id", r.ID}, {"msgs", r.Msgs}, {"usersCount", 1}, {"lm", iso(r.LM)}, {"fname", r.FName}, {"t", "l"}, {"ts", iso(r.TS)}}
	if r.DepartmentID != "" {
		o = append(o, field{"departmentId", r.DepartmentID})
	}
	status := "online"
	if v := s.visitors[r.VisitorID]; v != nil && v.Status != "" {
		status = v.Status
	}
	o = append(o, field{"v", obj{{"_id", r.VisitorID}, {"username", r.VisitorUsername}, {"token", r.Token}, {"status", status}}})
	if r.ContactID != "" {
		o = append(o, field{"contactId", r.ContactID})
	}
	o = append(o, field{"cl", false})
	if r.Open {
		o = append(o, field{"open", true})
	}
	if r.WaitingResponse {
		o = append(o, field{"waitingResponse", true})
	}
	o = append(o, field{"verified", false}, field{"source", obj{{"type", r.Source}}},
		field{"queuedAt", iso(r.QueuedAt)}, field{"priorityWeight", 99999}, field{"estimatedWaitingTimeQueue", 9999999})
	if r.ServedBy != nil {
		o = append(o, field{"servedBy", r.ServedBy.json()})
	}
	if r.ResponseBy != nil {
		o = append(o, field{"responseBy", obj{{"_id", r.ResponseBy.ID}, {"username", r.ResponseBy.Username},
			{"firstResponseTs", iso(r.ResponseBy.TS)}, {"lastMessageTs", iso(r.LM)}}})
	}
	if r.LastMessage != nil {
		o = append(o, field{"lastMessage", s.msgJSON(r.LastMessage, false)})
	}
	if r.CRMData != nil {
		o = append(o, field{"crmData", *r.CRMData})
	}
	if !r.Open {
		o = append(o, field{"closedAt", iso(r.ClosedAt)})
		if r.ClosedBy != nil {
			o = append(o, field{"closedBy", r.ClosedBy.json(false)})
		}
		o = append(o, field{"closer", r.Closer}, field{"chatDuration", r.ClosedAt.Sub(r.TS).Seconds()})
	}
	o = append(o, field{"_updatedAt", iso(r.UpdatedAt)})
	return o
}

func (s *Server) openRoomByToken(token string) *roomRec {
	for _, r := range s.roomList {
		if r.Open && r.Token == token {
			return r
		}
	}
	return nil
}

// roomByIDAndToken is findOneByIdAndVisitorToken (open or closed).
func (s *Server) roomByIDAndToken(rid, token string) *roomRec {
	if r := s.rooms[rid]; r != nil && r.Token == token {
		return r
	}
	return nil
}

// isWidget: cookies rc_room_type=l AND rc_is_widget=t.
func isWidget(r *http.Request) bool {
	rt, err1 := r.Cookie("rc_room_type")
	iw, err2 := r.Cookie("rc_is_widget")
	return err1 == nil && err2 == nil && rt.Value == "l" && iw.Value == "t"
}

func sourceOf(r *http.Request) string {
	if isWidget(r) {
		return "widget"
	}
	return "api"
}

// GET livechat/room?token=&rid=&agentId=
func (s *Server) hRoomGet(c *reqCtx) (obj, error) {
	if err := checkRoomQuery(c.query); err != nil {
		return nil, err
	}
	token, rid, agentID := c.str(c.query, "token"), c.str(c.query, "rid"), c.str(c.query, "agentId")
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(token)
	if token == "" || v == nil {
		return nil, plainErr("invalid-token")
	}
	if rid == "" {
		if r := s.openRoomByToken(token); r != nil {
			return obj{{"room", s.roomJSON(r)}, {"newRoom", false}}, nil
		}
		var agent *agentRec
		if agentID != "" {
			agent = s.agentByID(agentID)
		}
		r, err := s.createRoomLocked(v, agent, sourceOf(c.r))
		if err != nil {
			return nil, err
		}
		return obj{{"room", s.roomJSON(r)}, {"newRoom", true}}, nil
	}
	r := s.roomByIDAndToken(rid, token)
	if r == nil || !r.Open {
		return nil, plainErr("invalid-room")
	}
	return obj{{"room", s.roomJSON(r)}, {"newRoom", false}}, nil
}

// ---------------------------------------------------------------------------
// Routing.

func (s *Server) agentByID(id string) *agentRec {
	for _, a := range s.agents {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func (s *Server) agentInDept(a *agentRec, d *deptRec) bool {
	for _, ref := range a.Departments {
		if ref == d.ID || ref == d.Name {
			return true
		}
	}
	return false
}

// availableAgents returns the available agents (of dept when deptID != ""),
// in Auto_Selection order (livechatCount asc, username asc).
func (s *Server) availableAgents(deptID string) []*agentRec {
	var d *deptRec
	if deptID != "" {
		d = s.depts[deptID]
		if d == nil {
			return nil
		}
	}
	var out []*agentRec
	for _, u := range s.agentOrder {
		a := s.agents[u]
		if !a.Available {
			continue
		}
		if d != nil && !s.agentInDept(a, d) {
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count < out[j].count
		}
		return out[i].Username < out[j].Username
	})
	return out
}

// effectiveDept follows fallbackForwardDepartment from deptID to the first
// department with an available agent; ok=false when none has one.
func (s *Server) effectiveDept(deptID string) (string, bool) {
	seen := map[string]bool{}
	for id := deptID; id != "" && !seen[id]; {
		seen[id] = true
		d := s.depts[id]
		if d == nil {
			return deptID, false
		}
		if len(s.availableAgents(id)) > 0 {
			return id, true
		}
		id = d.Fallback
	}
	return deptID, false
}

// online is service-status.ts online(department).
func (s *Server) online(deptID string) bool {
	if s.set.acceptNoAgents {
		return true
	}
	if deptID != "" {
		_, ok := s.effectiveDept(deptID)
		return ok
	}
	return len(s.availableAgents("")) > 0
}

// requiredDepartment is getRequiredDepartment(): first enabled department with
// agents, showOnRegistration and an online agent.
func (s *Server) requiredDepartment() *deptRec {
	for _, id := range s.deptOrder {
		d := s.depts[id]
		if !d.Enabled || s.numAgents(d) == 0 {
			continue
		}
		if len(s.availableAgents(id)) > 0 {
			return d
		}
	}
	return nil
}

func (s *Server) numAgents(d *deptRec) int {
	n := 0
	for _, a := range s.agents {
		if s.agentInDept(a, d) {
			n++
		}
	}
	return n
}

var errNoAgentOnline = meteorErr("no-agent-online", "Sorry, no online agents")

// createRoomLocked is createRoom → QueueManager.requestRoom → Auto_Selection.
//
// Spec gap: when the visitor's department has no available agent and a
// fallbackForwardDepartment has one, the room is created directly in the
// fallback department (departmentId = fallback) and no Forwarded webhook is sent.
func (s *Server) createRoomLocked(v *visitorRec, agent *agentRec, source string) (*roomRec, error) {
	if !s.set.livechatEnabled {
		return nil, meteorErr("error-omnichannel-is-disabled", "")
	}
	dept := v.Department
	if dept == "" && agent == nil {
		if d := s.requiredDepartment(); d != nil {
			dept = d.ID
			v.Department = d.ID
		}
	}
	eff := dept
	if dept != "" {
		eff, _ = s.effectiveDept(dept)
	}
	if !s.set.acceptNoAgents {
		switch {
		case agent != nil:
			if !agent.Available {
				return nil, errNoAgentOnline
			}
		case dept != "":
			if _, ok := s.effectiveDept(dept); !ok {
				return nil, errNoAgentOnline
			}
		default:
			if len(s.availableAgents("")) == 0 {
				return nil, errNoAgentOnline
			}
		}
	}
	now := s.nowMS()
	r := &roomRec{ID: s.randomID(), Token: v.Token, VisitorID: v.ID, VisitorUsername: v.Username,
		FName: v.Name, DepartmentID: eff, Source: source, ContactID: v.ContactID, Open: true,
		WaitingResponse: true, TS: now, LM: now, UpdatedAt: now, QueuedAt: now}
	if r.FName == "" {
		r.FName = v.Username
	}
	s.rooms[r.ID] = r
	s.roomList = append(s.roomList, r)

	var chosen *agentRec
	if agent != nil && agent.Available {
		chosen = agent
	} else if cands := s.availableAgents(eff); len(cands) > 0 {
		chosen = cands[0]
	}
	if chosen != nil {
		s.assignLocked(r, chosen)
	} else {
		s.emitRoomEvent("LivechatSessionQueued", r)
	}
	s.emitRoomEvent("LivechatSessionStart", r)
	s.notifyLocked()
	return r, nil
}

// assignLocked makes a the serving agent and fires LivechatSessionTaken.
func (s *Server) assignLocked(r *roomRec, a *agentRec) {
	a.count++
	r.ServedBy = &servedByRec{ID: a.ID, Username: a.Username, TS: s.nowMS()}
	r.UpdatedAt = s.nowMS()
	s.emitRoomEvent("LivechatSessionTaken", r)
}

// ---------------------------------------------------------------------------
// Closing.

// closeRoomLocked is lib/closeRoom.ts: room fields, livechat-close system
// message, LivechatSession webhook.
func (s *Server) closeRoomLocked(r *roomRec, closer string, by userRef, comment string) {
	now := s.nowMS()
	r.Open = false
	r.ClosedAt = now
	r.ClosedBy = &userRef{ID: by.ID, Username: by.Username}
	r.Closer = closer
	r.CloseComment = comment
	r.WaitingResponse = false
	r.UpdatedAt = now
	m := &msgRec{ID: s.randomID(), RID: r.ID, Msg: comment, T: "livechat-close",
		U: userRef{ID: by.ID, Username: by.Username}, TS: now, UpdatedAt: now}
	f := false
	m.Groupable = &f
	if closer == "visitor" {
		m.Token = r.Token
	}
	s.appendMsgLocked(r, m, false)
	if s.events.OnCloseMessage {
		s.emitMessageEvent(r, m)
	}
	s.emitRoomEvent("LivechatSession", r)
	s.notifyLocked()
}

// POST livechat/room.close {rid, token}
func (s *Server) hRoomClose(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaRoomClose, c.body); err != nil {
		return nil, err
	}
	rid, token := c.str(c.body, "rid"), c.str(c.body, "token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.set.allowVisitorClose {
		return nil, plainErr("error-not-allowed-to-close-conversation")
	}
	v := s.visitorByToken(token)
	if v == nil {
		return nil, plainErr("invalid-token")
	}
	r := s.roomByIDAndToken(rid, token)
	if r == nil {
		return nil, plainErr("invalid-room")
	}
	if !r.Open {
		return nil, plainErr("room-closed")
	}
	const comment = "Closed by visitor"
	s.closeRoomLocked(r, "visitor", userRef{ID: v.ID, Username: v.Username}, comment)
	return obj{{"rid", rid}, {"comment", comment}}, nil
}

// POST livechat/room.closeByUser {rid, comment?, tags?} (authenticated).
//
// Spec gap: error strings of this route are not in the spec; the emulator uses
// plain errors error-invalid-room / error-room-already-closed and
// Meteor.Error('error-comment-is-required').
func (s *Server) hRoomCloseByUser(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaCloseByUser, c.body); err != nil {
		return nil, err
	}
	rid, comment := c.str(c.body, "rid"), c.str(c.body, "comment")
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[rid]
	if r == nil {
		return nil, plainErr("error-invalid-room")
	}
	if !r.Open {
		return nil, plainErr("error-room-already-closed")
	}
	if strings.TrimSpace(comment) == "" && s.set.requireCloseComment {
		return nil, meteorErr("error-comment-is-required", "The comment is required")
	}
	s.closeRoomLocked(r, "user", userRef{ID: c.user.ID, Username: c.user.Username}, comment)
	return nil, nil
}
