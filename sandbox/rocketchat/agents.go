package rocketchat

import (
	"fmt"
	"maps"
	"slices"
)

// AddAgent adds (or replaces) an agent. An empty ID gets a random one.
func (s *Server) AddAgent(a Agent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		a.ID = s.randomID()
	}
	if a.Name == "" {
		a.Name = a.Username
	}
	a.Departments = append([]string(nil), a.Departments...)
	if old := s.agents[a.Username]; old != nil {
		s.agents[a.Username] = &agentRec{Agent: a, count: old.count}
		return
	}
	s.agents[a.Username] = &agentRec{Agent: a}
	s.agentOrder = append(s.agentOrder, a.Username)
}

// Agents returns every agent in insertion order. (Addition.)
func (s *Server) Agents() []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Agent, 0, len(s.agentOrder))
	for _, u := range s.agentOrder {
		a := s.agents[u].Agent
		a.Departments = append([]string(nil), a.Departments...)
		out = append(out, a)
	}
	return out
}

// SetAgentAvailable sets the agent online+available (true) or unavailable.
// Queued rooms are not picked up automatically (Auto_Selection without
// waiting queue); an agent takes one by sending to it (AgentSend) or via Forward.
func (s *Server) SetAgentAvailable(username string, available bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.agents[username]; a != nil {
		a.Available = available
	}
}

// AddDepartment adds (or replaces) an enabled department with an optional
// fallbackForwardDepartment.
func (s *Server) AddDepartment(id, name string, fallbackDepartmentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.depts[id]; !ok {
		s.deptOrder = append(s.deptOrder, id)
	}
	s.depts[id] = &deptRec{ID: id, Name: name, Fallback: fallbackDepartmentID, Enabled: true, UpdatedAt: s.nowMS()}
}

// SetDepartmentEnabled enables or disables a department. (Addition.)
func (s *Server) SetDepartmentEnabled(id string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.depts[id]; d != nil {
		d.Enabled = enabled
		d.UpdatedAt = s.nowMS()
	}
}

// agentForRoomLocked resolves agentUsername ("" = the serving agent).
func (s *Server) agentForRoomLocked(r *roomRec, username string) (*agentRec, error) {
	if username == "" {
		if r.ServedBy == nil {
			return nil, ErrNotServed
		}
		username = r.ServedBy.Username
	}
	a := s.agents[username]
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrAgentNotFound, username)
	}
	return a, nil
}

// AgentSend posts an agent message (no token) to an open livechat room, with
// the Message webhook (on_agent_message). agentUsername "" = the serving agent.
// Spec gap: an agent sending to a queued (unserved) room takes it first
// (servedBy set, LivechatSessionTaken), like clicking "Take it!".
func (s *Server) AgentSend(rid, agentUsername, text string) (Message, error) {
	return s.agentSend(rid, agentUsername, text, nil)
}

// AgentSendFile posts an agent file message (text = caption in `msg`, may be
// empty: the webhook entry then has no `msg` key). (Addition.)
func (s *Server) AgentSendFile(rid, agentUsername string, f File, text string) (Message, error) {
	return s.agentSend(rid, agentUsername, text, &f)
}

// AgentSendAttachments posts an agent message with non-file message attachments (a quoted
// message, a link preview: {text, title, title_link, author_name, message_link, …}),
// stored and listed as given; text may be empty. (Addition.)
func (s *Server) AgentSendAttachments(rid, agentUsername, text string, attachments []any) (Message, error) {
	return s.agentSendWith(rid, agentUsername, text, nil, func(m *msgRec) { m.RawAttachments = attachments })
}

// AgentSendOdd posts an agent message whose stored document also has the fields extra,
// written after the usual ones (a later key wins for JSON decoders): the shapes of other
// Rocket.Chat versions and of apps' messages, which the spec says to treat as open (§16).
// (Addition.)
func (s *Server) AgentSendOdd(rid, agentUsername, text string, extra map[string]any) (Message, error) {
	return s.agentSendWith(rid, agentUsername, text, nil, func(m *msgRec) {
		for _, k := range slices.Sorted(maps.Keys(extra)) {
			m.Extra = append(m.Extra, field{k, extra[k]})
		}
	})
}

func (s *Server) agentSend(rid, agentUsername, text string, f *File) (Message, error) {
	return s.agentSendWith(rid, agentUsername, text, f, nil)
}

func (s *Server) agentSendWith(rid, agentUsername, text string, f *File, decorate func(*msgRec)) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Message{}, ErrClosed
	}
	r := s.rooms[rid]
	if r == nil {
		return Message{}, ErrRoomNotFound
	}
	if !r.Open {
		return Message{}, ErrRoomClosed
	}
	a, err := s.agentForRoomLocked(r, agentUsername)
	if err != nil {
		return Message{}, err
	}
	if r.ServedBy == nil {
		s.assignLocked(r, a)
	}
	now := s.nowMS()
	m := &msgRec{ID: s.randomID(), RID: rid, Msg: text, U: userRef{ID: a.ID, Username: a.Username, Name: a.Name},
		TS: now, UpdatedAt: now}
	if f != nil {
		typ := f.Type
		if typ == "" {
			typ = getMimeType("", f.Name)
		}
		fr := s.storeFileLocked(f.Name, typ, append([]byte(nil), f.Data...), rid, a.ID)
		m.File = fr
		m.Attachments = []obj{fileAttachment(fr, "")}
	}
	if decorate != nil {
		decorate(m)
	}
	s.appendMsgLocked(r, m, true)
	r.WaitingResponse = false
	if r.ResponseBy == nil {
		r.ResponseBy = &servedByRec{ID: a.ID, Username: a.Username, TS: now}
	}
	s.emitMessageEvent(r, m)
	return m.export(r.VisitorUsername), nil
}

// CloseRoom closes the room as agent agentUsername ("" = the serving agent):
// closer "user", livechat-close system message with comment, LivechatSession
// webhook.
//
// Spec gap: Livechat_request_comment_when_closing_conversation is a UI/REST
// validation (enforced by POST livechat/room.closeByUser, see
// SetRequireCloseComment); this Go action models a close that passed it, so an
// empty comment is accepted (as with the setting off).
func (s *Server) CloseRoom(rid, agentUsername, comment string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[rid]
	if r == nil {
		return ErrRoomNotFound
	}
	if !r.Open {
		return ErrRoomClosed
	}
	a, err := s.agentForRoomLocked(r, agentUsername)
	if err != nil {
		return err
	}
	s.closeRoomLocked(r, "user", userRef{ID: a.ID, Username: a.Username}, comment)
	return nil
}

// Forward transfers the room to another agent (LivechatSessionForwarded with
// oldServedBy). The target must be available (error-user-is-offline otherwise).
func (s *Server) Forward(rid, toAgentUsername string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[rid]
	if r == nil {
		return ErrRoomNotFound
	}
	if !r.Open {
		return ErrRoomClosed
	}
	a := s.agents[toAgentUsername]
	if a == nil {
		return fmt.Errorf("%w: %s", ErrAgentNotFound, toAgentUsername)
	}
	if r.ServedBy != nil && r.ServedBy.Username == a.Username {
		return ErrSameAgent
	}
	if !a.Available {
		return ErrAgentOffline
	}
	r.OldServedBy = r.ServedBy
	r.OldDepartmentID = ""
	s.transferLocked(r, a)
	return nil
}

// ForwardToDepartment transfers the room to a department (first available
// agent there; LivechatSessionForwarded with oldDepartmentId). (Addition.)
func (s *Server) ForwardToDepartment(rid, deptID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[rid]
	if r == nil {
		return ErrRoomNotFound
	}
	if !r.Open {
		return ErrRoomClosed
	}
	d := s.deptByIDOrName(deptID)
	if d == nil {
		return ErrDeptNotFound
	}
	cands := s.availableAgents(d.ID)
	if len(cands) == 0 && !s.set.acceptNoAgents {
		return ErrNoAgentOnline
	}
	r.OldDepartmentID = r.DepartmentID
	r.OldServedBy = nil
	r.DepartmentID = d.ID
	if len(cands) == 0 {
		r.ServedBy = nil
		r.UpdatedAt = s.nowMS()
		s.emitRoomEvent("LivechatSessionForwarded", r)
		s.emitRoomEvent("LivechatSessionQueued", r)
		return nil
	}
	s.transferLocked(r, cands[0])
	return nil
}

func (s *Server) transferLocked(r *roomRec, a *agentRec) {
	now := s.nowMS()
	a.count++
	r.ServedBy = &servedByRec{ID: a.ID, Username: a.Username, TS: now}
	r.UpdatedAt = now
	m := &msgRec{ID: s.randomID(), RID: r.ID, T: "livechat_transfer_history", U: userRef{ID: a.ID, Username: a.Username, Name: a.Name},
		TS: now, UpdatedAt: now}
	s.appendMsgLocked(r, m, false)
	s.emitRoomEvent("LivechatSessionForwarded", r)
	s.notifyLocked()
}
