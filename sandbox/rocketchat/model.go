package rocketchat

import (
	"context"
	"sort"
	"time"
)

// ---------------------------------------------------------------------------
// Exported inspection types.

// Agent is an omnichannel agent. Departments holds department ids (names are
// accepted too). Available = user online and statusLivechat "available".
type Agent struct {
	ID          string   `json:"_id"`
	Username    string   `json:"username"`
	Name        string   `json:"name"`
	Departments []string `json:"departments"`
	Available   bool     `json:"available"`
}

// Visitor is a livechat visitor (guest). CustomFields is livechatData.
type Visitor struct {
	ID           string            `json:"_id"`
	Token        string            `json:"token"`
	Name         string            `json:"name,omitempty"`
	Username     string            `json:"username"`
	Department   string            `json:"department,omitempty"`
	CustomFields map[string]string `json:"customFields,omitempty"`
	// Additions.
	Emails []string `json:"emails,omitempty"`
	Phones []string `json:"phones,omitempty"`
}

// Room is a livechat room. ServedBy is the serving agent's username ("" when queued).
type Room struct {
	ID           string    `json:"_id"`
	VisitorToken string    `json:"visitorToken"`
	DepartmentID string    `json:"departmentId,omitempty"`
	ServedBy     string    `json:"servedBy,omitempty"`
	Open         bool      `json:"open"`
	CreatedAt    time.Time `json:"createdAt"`
	ClosedAt     time.Time `json:"closedAt"`
	// Additions.
	Closer  string `json:"closer,omitempty"`
	CRMData string `json:"crmData,omitempty"`
	Source  string `json:"source"`
}

// Message is a stored message. Token is set for visitor messages; AgentID is the
// author's user id for non-visitor authors (agents, bots, closing agent).
// System is the message type `t` ("livechat-close", …), "" for normal messages.
type Message struct {
	ID       string    `json:"_id"`
	RID      string    `json:"rid"`
	Msg      string    `json:"msg"`
	Token    string    `json:"token,omitempty"`
	Username string    `json:"username"`
	AgentID  string    `json:"agentId,omitempty"`
	TS       time.Time `json:"ts"`
	EditedAt time.Time `json:"editedAt"`
	Deleted  bool      `json:"deleted,omitempty"`
	File     *File     `json:"file,omitempty"`
	System   string    `json:"t,omitempty"`
	// Additions.
	Alias       string `json:"alias,omitempty"`
	Emoji       string `json:"emoji,omitempty"`
	Attachments []any  `json:"attachments,omitempty"` // chat.postMessage attachments as posted
}

// File is an uploaded file.
type File struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int    `json:"size"`
	Data []byte `json:"-"`
}

// WebhookDelivery records one HTTP attempt of an Omnichannel webhook.
type WebhookDelivery struct {
	Type    string    `json:"type"`
	Status  int       `json:"status"` // 0 on network error
	Err     string    `json:"err,omitempty"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	// Additions.
	RID     string `json:"rid,omitempty"`
	Payload []byte `json:"-"`
}

// ---------------------------------------------------------------------------
// Internal records.

type userRef struct {
	ID, Username, Name string
}

func (u userRef) json(withName bool) obj {
	o := obj{{"_id", u.ID}, {"username", u.Username}}
	if withName && u.Name != "" {
		o = append(o, field{"name", u.Name})
	}
	return o
}

type servedByRec struct {
	ID, Username string
	TS           time.Time
}

func (s *servedByRec) json() obj {
	return obj{{"_id", s.ID}, {"username", s.Username}, {"ts", iso(s.TS)}}
}

type visitorRec struct {
	ID, Token, Username, Name, Department, ContactID, Status string
	Emails, Phones                                           []string
	LivechatData                                             map[string]string
	TS, UpdatedAt                                            time.Time
}

type roomRec struct {
	ID, Token, VisitorID, VisitorUsername, FName, DepartmentID, Source, ContactID string
	Open, WaitingResponse                                                         bool
	TS, LM, UpdatedAt, QueuedAt, ClosedAt                                         time.Time
	ServedBy, OldServedBy                                                         *servedByRec
	OldDepartmentID                                                               string
	ClosedBy                                                                      *userRef
	Closer                                                                        string
	CRMData                                                                       *string
	Msgs                                                                          int
	ResponseBy                                                                    *servedByRec
	LastMessage                                                                   *msgRec
	CloseComment                                                                  string
}

type msgRec struct {
	ID, RID, Msg, Token, Alias, T string
	U                             userRef
	TS, UpdatedAt, EditedAt       time.Time
	EditedBy                      *userRef
	File                          *fileRec
	Attachments                   []obj // file attachments
	Deleted                       bool
	Emoji, Avatar                 string
	RawAttachments                []any // chat.postMessage attachments
	Groupable                     *bool
	Channel                       bool // posted to a channel via chat.postMessage
	Extra                         obj  // fields written after the usual ones (AgentSendOdd)
}

type fileRec struct {
	ID, Name, Type, RID, UserID string
	Size                        int
	Data                        []byte
	Uploaded                    time.Time
	Width, Height               int
}

type agentRec struct {
	Agent
	count int // livechatCount (Auto_Selection ordering)
}

type deptRec struct {
	ID, Name, Fallback string
	Enabled            bool
	UpdatedAt          time.Time
}

type userRec struct {
	ID, Username, Name, Token, Password string
	Perms                               map[string]bool // nil = all permissions
	Roles                               []string
}

func (u *userRec) can(perms ...string) bool {
	if u.Perms == nil {
		return true
	}
	for _, p := range perms {
		if u.Perms[p] {
			return true
		}
	}
	return false
}

type channelRec struct {
	ID, Name string
	Msgs     []*msgRec
}

// ---------------------------------------------------------------------------
// Conversions to exported types.

func (v *visitorRec) export() Visitor {
	out := Visitor{ID: v.ID, Token: v.Token, Name: v.Name, Username: v.Username, Department: v.Department}
	if len(v.LivechatData) > 0 {
		out.CustomFields = make(map[string]string, len(v.LivechatData))
		for k, x := range v.LivechatData {
			out.CustomFields[k] = x
		}
	}
	out.Emails = append([]string(nil), v.Emails...)
	out.Phones = append([]string(nil), v.Phones...)
	return out
}

func (r *roomRec) export() Room {
	out := Room{ID: r.ID, VisitorToken: r.Token, DepartmentID: r.DepartmentID, Open: r.Open,
		CreatedAt: r.TS, ClosedAt: r.ClosedAt, Closer: r.Closer, Source: r.Source}
	if r.ServedBy != nil {
		out.ServedBy = r.ServedBy.Username
	}
	if r.CRMData != nil {
		out.CRMData = *r.CRMData
	}
	return out
}

func (m *msgRec) export(visitorUsername string) Message {
	out := Message{ID: m.ID, RID: m.RID, Msg: m.Msg, Token: m.Token, Username: m.U.Username,
		TS: m.TS, EditedAt: m.EditedAt, Deleted: m.Deleted, System: m.T, Alias: m.Alias, Emoji: m.Emoji,
		Attachments: m.RawAttachments}
	if m.U.Username != visitorUsername {
		out.AgentID = m.U.ID
	}
	if m.File != nil {
		out.File = &File{ID: m.File.ID, Name: m.File.Name, Type: m.File.Type, Size: m.File.Size,
			Data: append([]byte(nil), m.File.Data...)}
	}
	return out
}

// ---------------------------------------------------------------------------
// Inspection API.

// Visitor returns the visitor with that token.
func (s *Server) Visitor(token string) (Visitor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(token)
	if v == nil {
		return Visitor{}, false
	}
	return v.export(), true
}

// Visitors returns every visitor, oldest first. (Addition.)
func (s *Server) Visitors() []Visitor {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Visitor, 0, len(s.visitors))
	for _, v := range s.visitors {
		out = append(out, v.export())
	}
	sort.SliceStable(out, func(i, j int) bool { return s.visitors[out[i].ID].TS.Before(s.visitors[out[j].ID].TS) })
	return out
}

// Rooms returns all rooms whose v.token is token, oldest first.
func (s *Server) Rooms(token string) []Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Room
	for _, r := range s.roomList {
		if r.Token == token {
			out = append(out, r.export())
		}
	}
	return out
}

// AllRooms returns every livechat room, oldest first. (Addition.)
func (s *Server) AllRooms() []Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Room, 0, len(s.roomList))
	for _, r := range s.roomList {
		out = append(out, r.export())
	}
	return out
}

// Room returns one room by id. (Addition.)
func (s *Server) Room(rid string) (Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[rid]
	if r == nil {
		return Room{}, false
	}
	return r.export(), true
}

// Messages returns the messages of a livechat room in ascending ts order,
// including system messages and deleted ones (flagged Deleted).
func (s *Server) Messages(rid string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(rid)
}

func (s *Server) messagesLocked(rid string) []Message {
	vu := ""
	if r := s.rooms[rid]; r != nil {
		if v := s.visitors[r.VisitorID]; v != nil {
			vu = v.Username
		} else {
			vu = r.VisitorUsername
		}
	}
	msgs := s.msgs[rid]
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.export(vu))
	}
	return out
}

// WaitForMessages blocks until the room has at least n non-system, non-deleted
// messages and returns those messages (ascending). It returns ctx.Err() with
// the messages seen so far when ctx ends first.
func (s *Server) WaitForMessages(ctx context.Context, rid string, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		all := s.messagesLocked(rid)
		ch := s.changed
		s.mu.Unlock()
		var out []Message
		for _, m := range all {
			if m.System == "" && !m.Deleted {
				out = append(out, m)
			}
		}
		if len(out) >= n {
			return out, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// ChannelMessages returns the messages posted with chat.postMessage to a
// channel (name without '#', or "@username" for direct messages).
func (s *Server) ChannelMessages(name string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channelByNameOrID(name)
	if c == nil {
		return nil
	}
	out := make([]Message, 0, len(c.Msgs))
	for _, m := range c.Msgs {
		e := m.export("")
		e.AgentID = ""
		out = append(out, e)
	}
	return out
}

// WebhookDeliveries returns every webhook attempt so far, in attempt order.
func (s *Server) WebhookDeliveries() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookDelivery(nil), s.deliveries...)
}

// notifyLocked wakes WaitForMessages callers.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
