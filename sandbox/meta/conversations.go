package meta

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Conversations API (read-only) for Instagram messaging with a Page token on
// graph.facebook.com ([IGGS] "GET /{page-id}/conversations?platform=instagram",
// §8.1; Meta's "Conversations API for Messenger Platform" and the Graph API
// Conversation / Message references):
//
//	GET /{v}/{page-id|me}/conversations?platform=instagram[&user_id=IGSID][&fields=…][&limit=&after=&before=]
//	GET /{v}/{conversation-id}?fields=messages,participants,updated_time,message_count
//	GET /{v}/{conversation-id}/messages[?fields=…]
//	GET /{v}/{message-id}?fields=id,created_time,from,to,message,attachments,story,is_unsupported
//
// What a conversation holds is what Meta keeps of the thread, which is not
// what reached the webhook (§2.3 "no history", §9 "reconciliation poller"):
// every customer message Meta received — recorded when the emulator builds
// or queues its webhook, so also when the subscription is disabled, the
// delivery is taken with TakeQueued, or it goes out with DeliverOnce — and
// every message the business sent: our Send API successes (at acceptance)
// and echoes of other apps / tools put on the queue (Enqueue, POST
// /sandbox/events). Duplicates (same mid) are recorded once. An unsend
// (is_deleted, customer or business) removes the message for good. Sender
// actions, reactions, reads, postbacks, referrals and edits are not messages.
// created_time is the event's timestamp: the emulated clock when Meta
// accepted the message.

const (
	// "you will only be able to query data for the 20 most recent messages in
	// the conversation. If a message is not within the 20 most recent, an
	// error will be returned stating that the message has been deleted."
	convRecentLimit = 20
	// Spec gap: the list's default / maximum page size are undocumented;
	// Graph's usual 25 and a cap of 100 (like me/accounts) are used.
	defaultConvPageSize = 25
	maxConvPageSize     = 100
)

type convMessage struct {
	mid          string
	fromBusiness bool
	text         string
	attachments  []map[string]any // webhook-shaped {type, payload}, a copy
	unsupported  bool
	at           time.Time // when Meta accepted it (emulated clock)
}

type conversation struct {
	id, acct, igsid string
	n               int            // creation order, breaks updated_time ties
	msgs            []*convMessage // oldest first; unsent ones removed
	updated         time.Time
}

type convState struct {
	byKey   map[string]*conversation // account + "/" + igsid
	byID    map[string]*conversation
	byMID   map[string]*conversation // live messages
	deleted map[string]string        // unsent mid -> account: a late or duplicate copy does not bring it back
}

func newConvState() convState {
	return convState{byKey: map[string]*conversation{}, byID: map[string]*conversation{},
		byMID: map[string]*conversation{}, deleted: map[string]string{}}
}

// conversationID is the id Meta gives the thread: like real ones, base64 of
// "ig_dm:1:IGMessageThread:<igid>:<thread>" (without Meta's extra "ZA"
// obfuscation), URL-safe so it can stand in a path. Derived, not random.
func conversationID(acct, igsid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ig_dm:1:IGMessageThread:" + acct + ":" + threadNumber(acct, igsid)))
}

// ---- recording ----

// recordEntriesLocked records the messages of webhook entries (messaging[]
// and standby[]: a thread owned by another app still holds its messages).
func (s *Server) recordEntriesLocked(entries []Entry) {
	for _, e := range entries {
		for _, list := range [][]Event{e.Messaging, e.Standby} {
			for _, ev := range list {
				s.recordEventLocked(e.ID, ev)
			}
		}
	}
}

// recordEventLocked records one message event of account acct: a customer
// message (sender = IGSID), an echo (is_echo / sender = the account) or an
// unsend (is_deleted). Anything else is ignored.
func (s *Server) recordEventLocked(acct string, ev Event) {
	msg, ok := asMap(ev["message"])
	mid := idString(msg["mid"])
	if !ok || acct == "" || mid == "" {
		return
	}
	idOf := func(v any) string { m, _ := asMap(v); return idString(m["id"]) }
	sender, recipient := idOf(ev["sender"]), idOf(ev["recipient"])
	if sender != acct && recipient != acct {
		return // not this account's thread (e.g. a dashboard test event)
	}
	echo, _ := msg["is_echo"].(bool)
	fromBusiness := echo || sender == acct
	igsid := sender
	if fromBusiness {
		igsid = recipient
	}
	if igsid == "" || igsid == acct {
		return
	}
	at := s.nowLocked()
	if ms, err := strconv.ParseInt(idString(ev["timestamp"]), 10, 64); err == nil && ms > 0 {
		at = time.UnixMilli(ms)
	}
	if del, _ := msg["is_deleted"].(bool); del {
		s.unsendLocked(acct, mid, at)
		return
	}
	text, _ := msg["text"].(string)
	unsupported, _ := msg["is_unsupported"].(bool)
	s.addConvMessageLocked(acct, igsid, &convMessage{mid: mid, fromBusiness: fromBusiness, text: text,
		attachments: attachmentMaps(msg["attachments"]), unsupported: unsupported, at: at})
}

// recordSentLocked records an accepted Send API message (its echo, recorded
// again when queued, is then a duplicate).
func (s *Server) recordSentLocked(sm *SentMessage, echoMsg map[string]any) {
	s.addConvMessageLocked(sm.IGAccountID, sm.Recipient, &convMessage{mid: sm.MessageID, fromBusiness: true,
		text: sm.Text, attachments: attachmentMaps(echoMsg["attachments"]), at: sm.At})
}

func (s *Server) addConvMessageLocked(acct, igsid string, m *convMessage) {
	c := &s.convs
	if _, gone := c.deleted[m.mid]; gone || c.byMID[m.mid] != nil {
		return
	}
	key := acct + "/" + igsid
	cv := c.byKey[key]
	if cv == nil {
		cv = &conversation{id: conversationID(acct, igsid), acct: acct, igsid: igsid, n: len(c.byKey)}
		c.byKey[key] = cv
		c.byID[cv.id] = cv
	}
	// Time order; a message queued late with an older timestamp goes back in
	// place, equal timestamps keep arrival order.
	i := len(cv.msgs)
	for i > 0 && cv.msgs[i-1].at.After(m.at) {
		i--
	}
	cv.msgs = slices.Insert(cv.msgs, i, m)
	c.byMID[m.mid] = cv
	if m.at.After(cv.updated) {
		cv.updated = m.at
	}
}

// unsendLocked removes an unsent message. Spec gap: whether an unsend moves
// the conversation's updated_time is undocumented; it does here (Meta's
// thread changed, and a poller keyed on updated_time then sees the deletion).
// The conversation itself stays listed even if no message is left.
func (s *Server) unsendLocked(acct, mid string, at time.Time) {
	c := &s.convs
	c.deleted[mid] = acct
	cv := c.byMID[mid]
	if cv == nil || cv.acct != acct {
		return
	}
	delete(c.byMID, mid)
	cv.msgs = slices.DeleteFunc(cv.msgs, func(m *convMessage) bool { return m.mid == mid })
	if at.After(cv.updated) {
		cv.updated = at
	}
}

// attachmentMaps copies webhook attachments ([]any or []map[string]any of
// {type, payload}) so later changes to the event do not leak in.
func attachmentMaps(v any) []map[string]any {
	if v == nil {
		return nil
	}
	n, err := normalize(rawJSON(v))
	arr, _ := n.([]any)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, a := range arr {
		if m, ok := asMap(a); ok {
			out = append(out, m)
		}
	}
	return out
}

// ---- accessors ----

// ConversationMessage is one message of a conversation as the Conversations
// API shows it.
type ConversationMessage struct {
	MID          string
	FromBusiness bool   // sent by the business: our Send API, or another app / tool (echo)
	Text         string // "" for attachment-only messages
	At           time.Time
}

// ConversationID returns the Conversations API id of the thread between an
// IG account and a user, "" while they never exchanged a message (the list
// with user_id is then empty).
func (s *Server) ConversationID(igAccountID, igsid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cv := s.convs.byKey[igAccountID+"/"+igsid]; cv != nil {
		return cv.id
	}
	return ""
}

// ConversationMessages returns the messages the Conversations API lists for
// the thread, oldest first (the API answers newest first); unsent ones are
// gone.
func (s *Server) ConversationMessages(igAccountID, igsid string) []ConversationMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.convs.byKey[igAccountID+"/"+igsid]
	if cv == nil {
		return nil
	}
	out := make([]ConversationMessage, 0, len(cv.msgs))
	for _, m := range cv.msgs {
		out = append(out, ConversationMessage{MID: m.mid, FromBusiness: m.fromBusiness, Text: m.text, At: m.at})
	}
	return out
}

// ---- routing ----

type convNode int

const (
	convNodeNone convNode = iota
	convNodeConversation
	convNodeMessage
)

// convNodeKind tells whether a GET /{id} id is a conversation or a message
// (unsent ones included, so they answer "has been deleted").
func (s *Server) convNodeKind(id string) convNode {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.convs.byID[id] != nil {
		return convNodeConversation
	}
	if s.convs.byMID[id] != nil {
		return convNodeMessage
	}
	if _, ok := s.convs.deleted[id]; ok {
		return convNodeMessage
	}
	return convNodeNone
}

func (s *Server) isConversationID(id string) bool { return s.convNodeKind(id) == convNodeConversation }

// errNotYours answers a page token asking for another page's conversation
// or message. Spec gap: the error is undocumented; a 200-class permissions
// error like resolveNode's is used.
func errNotYours(what string) *graphError {
	return gerr(403, 200, 0, "OAuthException", "(#200) The access token does not have permission to access this "+what)
}

// errMessageDeleted is what a message outside the conversation's 20 most
// recent (or an unsent one) answers. Spec gap: Meta only says "an error will
// be returned stating that the message has been deleted"; the code, type and
// wording here are a guess.
func errMessageDeleted(mid string) *graphError {
	return gerr(400, 100, 0, "OAuthException", fmt.Sprintf("(#100) The message with ID '%s' has been deleted.", mid))
}

// convCall runs what every Conversations API call checks first: faults
// ("conversations"), the page token (same errors as the other page-token
// routes), the object's page (check), then the §5 rate limit "Conversations
// API | 2 calls/s" per IG account, answered with 613 like the Send API's
// limit (spec gap: §5 lists 4/17/32/613/8000x without saying which).
func (s *Server) convCall(w http.ResponseWriter, r *http.Request, version string, check func(*Page) *graphError) (*Page, bool) {
	if f := s.takeFault("conversations"); f != nil && s.applyPlainFault(w, r, version, f) {
		return nil, false
	}
	page, e := s.auth(r, nil)
	if e == nil {
		e = check(page)
	}
	if e == nil {
		key := page.IGAccountID
		if key == "" {
			key = "page:" + page.PageID
		}
		if !s.allow(key, "conversations") {
			s.log.Warn("meta: conversations API rate limit exceeded, answering code 613", "account", key)
			e = gerr(400, 613, 0, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.")
		}
	}
	if e != nil {
		s.writeError(w, version, e)
		return nil, false
	}
	return page, true
}

// ---- GET /{page-id}/conversations ----

func (s *Server) handleConversations(w http.ResponseWriter, r *http.Request, version, node string) {
	page, ok := s.convCall(w, r, version, func(p *Page) *graphError { return s.resolveNode(p, node, "get") })
	if !ok {
		return
	}
	q := r.URL.Query()
	// Per the Conversations API docs platform is required; Spec gap: the
	// exact errors for a missing / unknown value are Graph's usual (#100)
	// wordings, not documented for this edge.
	platform := strings.ToLower(q.Get("platform"))
	switch platform {
	case "":
		s.writeError(w, version, errParam("The parameter platform is required"))
		return
	case "instagram", "messenger":
	default:
		s.writeError(w, version, errParam(fmt.Sprintf("Param platform must be one of {MESSENGER, INSTAGRAM} - got %q", q.Get("platform"))))
		return
	}
	limit := defaultConvPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			s.writeError(w, version, errParam("Param limit must be a positive integer"))
			return
		}
		limit = min(n, maxConvPageSize)
	}
	userID, byUser := q.Get("user_id"), q.Has("user_id")
	fields := parseFields(q.Get("fields"))
	if len(fields) == 0 {
		// The docs' list answer is {id, updated_time}; with user_id it is
		// {id} only.
		fields = []field{{name: "id"}, {name: "updated_time"}}
		if byUser {
			fields = []field{{name: "id"}}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var convs []*conversation
	// The emulator has Instagram threads only: messenger lists nothing, and
	// a page without a linked IG account has no Instagram threads.
	if platform == "instagram" && page.IGAccountID != "" {
		if byUser {
			if cv := s.convs.byKey[page.IGAccountID+"/"+userID]; cv != nil {
				convs = append(convs, cv)
			}
		} else {
			for _, cv := range s.convs.byKey {
				if cv.acct == page.IGAccountID {
					convs = append(convs, cv)
				}
			}
		}
	}
	// Most recently updated first.
	sort.Slice(convs, func(i, j int) bool {
		if !convs[i].updated.Equal(convs[j].updated) {
			return convs[i].updated.After(convs[j].updated)
		}
		return convs[i].n > convs[j].n
	})
	start, end := 0, min(limit, len(convs))
	index := func(c string) (int, bool) {
		if id, ok := decodeCursor(c); ok {
			for i, cv := range convs {
				if cv.id == id {
					return i, true
				}
			}
		}
		return 0, false
	}
	switch {
	case q.Get("after") != "":
		i, ok := index(q.Get("after"))
		if !ok {
			s.writeError(w, version, errParam("Invalid cursor")) // Spec gap: as me/accounts
			return
		}
		start, end = i+1, min(i+1+limit, len(convs))
	case q.Get("before") != "":
		i, ok := index(q.Get("before"))
		if !ok {
			s.writeError(w, version, errParam("Invalid cursor"))
			return
		}
		start, end = max(0, i-limit), i
	}
	data := []any{}
	for _, cv := range convs[start:end] {
		o, e := s.conversationObjectLocked(cv, fields)
		if e != nil {
			s.writeError(w, version, e)
			return
		}
		data = append(data, o)
	}
	out := object{{"data", data}}
	// The emulator's cursor style (me/accounts); the user_id answer is the
	// docs' bare {"data":[{"id":…}]}.
	if len(data) > 0 && !byUser {
		before, after := encodeCursor(convs[start].id), encodeCursor(convs[end-1].id)
		paging := object{{"cursors", object{{"before", before}, {"after", after}}}}
		if start > 0 {
			paging = append(paging, kv{"previous", pagingURL(r, "before", before, limit)})
		}
		if end < len(convs) {
			paging = append(paging, kv{"next", pagingURL(r, "after", after, limit)})
		}
		out = append(out, kv{"paging", paging})
	}
	s.writeGraphJSON(w, version, http.StatusOK, out)
}

// ---- GET /{conversation-id}, GET /{conversation-id}/messages ----

func (s *Server) conversationFor(w http.ResponseWriter, r *http.Request, version, id string) (*conversation, bool) {
	s.mu.Lock()
	cv := s.convs.byID[id]
	s.mu.Unlock()
	_, ok := s.convCall(w, r, version, func(p *Page) *graphError {
		if cv.acct != p.IGAccountID {
			return errNotYours("conversation")
		}
		return nil
	})
	return cv, ok
}

func (s *Server) handleConversationNode(w http.ResponseWriter, r *http.Request, version, id string) {
	cv, ok := s.conversationFor(w, r, version, id)
	if !ok {
		return
	}
	fields := parseFields(r.URL.Query().Get("fields"))
	if len(fields) == 0 {
		// Spec gap: the node's default field set is undocumented; the list's
		// (updated_time + id) is used.
		fields = []field{{name: "updated_time"}}
	}
	s.mu.Lock()
	out, e := s.conversationObjectLocked(cv, fields)
	s.mu.Unlock()
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, out)
}

// handleConversationMessages is the messages edge as a list of its own:
// {"data":[…]} with ?fields= applying to each message.
func (s *Server) handleConversationMessages(w http.ResponseWriter, r *http.Request, version, id string) {
	cv, ok := s.conversationFor(w, r, version, id)
	if !ok {
		return
	}
	s.mu.Lock()
	data, e := s.messagesDataLocked(cv, parseFields(r.URL.Query().Get("fields")))
	s.mu.Unlock()
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, object{{"data", data}})
}

// conversationObjectLocked renders a conversation: fields in request order,
// id where requested or else last (as in the docs' examples).
func (s *Server) conversationObjectLocked(cv *conversation, fields []field) (object, *graphError) {
	var out object
	hasID := false
	for _, f := range fields {
		switch f.name {
		case "id":
			out = append(out, kv{"id", cv.id})
			hasID = true
		case "updated_time":
			out = append(out, kv{"updated_time", fbISOTime(cv.updated)})
		case "message_count":
			out = append(out, kv{"message_count", len(cv.msgs)})
		case "participants":
			// Spec gap: participant order is not documented; the business
			// first, then the customer.
			out = append(out, kv{"participants", object{{"data", []any{s.partyLocked(cv.acct, cv.acct), s.partyLocked(cv.acct, cv.igsid)}}}})
		case "messages":
			// "all messages for the conversation will be returned": no paging.
			data, e := s.messagesDataLocked(cv, parseFields(f.sub))
			if e != nil {
				return nil, e
			}
			out = append(out, kv{"messages", object{{"data", data}}})
		default:
			// Spec gap: the node type name Graph puts in this error for an
			// Instagram conversation is a guess (Messenger's is UnifiedThread).
			return nil, errNoField(f.name, "UnifiedThread")
		}
	}
	if !hasID {
		out = append(out, kv{"id", cv.id})
	}
	return out, nil
}

// messagesDataLocked lists a conversation's messages newest first, each with
// the given fields (default id, created_time). Spec gap: for messages outside
// the 20 most recent only id and created_time are shown (their details are
// "deleted"); Meta's behaviour for nested detail fields is undocumented.
func (s *Server) messagesDataLocked(cv *conversation, fields []field) ([]any, *graphError) {
	if len(fields) == 0 {
		fields = []field{{name: "id"}, {name: "created_time"}}
	}
	for _, f := range fields {
		if !messageFields[f.name] {
			return nil, errNoField(f.name, "Message")
		}
	}
	data := []any{}
	for i := len(cv.msgs) - 1; i >= 0; i-- {
		recent := len(cv.msgs)-1-i < convRecentLimit
		data = append(data, s.messageObjectLocked(cv, cv.msgs[i], fields, recent))
	}
	return data, nil
}

// ---- GET /{message-id} ----

var messageFields = map[string]bool{"id": true, "created_time": true, "from": true, "to": true, "message": true,
	"attachments": true, "story": true, "is_unsupported": true}

func (s *Server) handleMessageNode(w http.ResponseWriter, r *http.Request, version, mid string) {
	s.mu.Lock()
	acct, unsent := s.convs.deleted[mid]
	if cv := s.convs.byMID[mid]; cv != nil {
		acct = cv.acct
	}
	s.mu.Unlock()
	_, ok := s.convCall(w, r, version, func(p *Page) *graphError {
		if acct != p.IGAccountID {
			return errNotYours("message")
		}
		return nil
	})
	if !ok {
		return
	}
	fields := parseFields(r.URL.Query().Get("fields"))
	if len(fields) == 0 {
		// Spec gap: the default field set is undocumented; the edge's
		// (id, created_time) is used.
		fields = []field{{name: "id"}, {name: "created_time"}}
	}
	for _, f := range fields {
		if !messageFields[f.name] {
			s.writeError(w, version, errNoField(f.name, "Message"))
			return
		}
	}
	s.mu.Lock()
	cv := s.convs.byMID[mid]
	var m *convMessage
	recent := false
	if cv != nil && !unsent {
		i := slices.IndexFunc(cv.msgs, func(m *convMessage) bool { return m.mid == mid })
		if i >= 0 {
			m, recent = cv.msgs[i], len(cv.msgs)-1-i < convRecentLimit
		}
	}
	var out object
	if m != nil && recent {
		out = s.messageObjectLocked(cv, m, fields, true)
	}
	s.mu.Unlock()
	if out == nil {
		// Unsent, or not among the 20 most recent: the docs' "message has been
		// deleted" error.
		s.writeError(w, version, errMessageDeleted(mid))
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, out)
}

// messageObjectLocked renders a message: fields in request order, id where
// requested or else last. With details false only id and created_time.
func (s *Server) messageObjectLocked(cv *conversation, m *convMessage, fields []field, details bool) object {
	from, to := cv.igsid, cv.acct
	if m.fromBusiness {
		from, to = cv.acct, cv.igsid
	}
	var out object
	hasID := false
	for _, f := range fields {
		switch f.name {
		case "id":
			out = append(out, kv{"id", m.mid})
			hasID = true
		case "created_time":
			out = append(out, kv{"created_time", fbISOTime(m.at)})
		}
		if !details {
			continue
		}
		switch f.name {
		case "from":
			out = append(out, kv{"from", s.partyLocked(cv.acct, from)})
		case "to":
			out = append(out, kv{"to", object{{"data", []any{s.partyLocked(cv.acct, to)}}}})
		case "message":
			out = append(out, kv{"message", m.text}) // "" for attachment-only messages
		case "attachments":
			if data := attachmentData(m.attachments); len(data) > 0 {
				out = append(out, kv{"attachments", object{{"data", data}}})
			}
		case "story":
			if st := storyField(m.attachments); st != nil {
				out = append(out, kv{"story", st})
			}
		case "is_unsupported":
			out = append(out, kv{"is_unsupported", m.unsupported})
		}
	}
	if !hasID {
		out = append(out, kv{"id", m.mid})
	}
	return out
}

// partyLocked is a from / to / participants element: {"username","id"};
// username is left out when unknown (a user only ever seen in raw events).
func (s *Server) partyLocked(acct, id string) object {
	name := ""
	if id == acct {
		if p := s.byIGID[acct]; p != nil {
			name = p.Username
		}
	} else if us := s.users[acct][id]; us != nil {
		name = us.Username
	}
	if name == "" {
		return object{{"id", id}}
	}
	return object{{"username", name}, {"id", id}}
}

// attachmentData renders the Graph Message attachments edge from webhook
// attachments. Spec gap, kept simple: image -> image_data{url,preview_url},
// video -> video_data{url,preview_url}, anything else with a URL ->
// file_url; no id / mime_type / size / dimensions; attachments without a URL
// (like_heart, template, ephemeral) and story mentions (see storyField) are
// left out; no shares edge.
func attachmentData(atts []map[string]any) []any {
	var out []any
	for _, a := range atts {
		typ, _ := a["type"].(string)
		u := attachmentURL(a)
		if u == "" || typ == "story_mention" {
			continue
		}
		switch typ {
		case "image":
			out = append(out, object{{"image_data", object{{"url", u}, {"preview_url", u}}}})
		case "video":
			out = append(out, object{{"video_data", object{{"url", u}, {"preview_url", u}}}})
		default:
			out = append(out, object{{"file_url", u}})
		}
	}
	return out
}

func attachmentURL(a map[string]any) string {
	p, _ := asMap(a["payload"])
	u, _ := p["url"].(string)
	if u == "" {
		u, _ = p["story_media_url"].(string)
	}
	return u
}

// storyField is §3.4's GET /{MESSAGE_ID}?fields=story for story mentions:
// {"mention":{"link":<CDN URL>,"id":<story id>}}. Spec gap: the webhook
// carries no story id; the CDN URL's asset_id stands in for it.
func storyField(atts []map[string]any) object {
	for _, a := range atts {
		if typ, _ := a["type"].(string); typ != "story_mention" {
			continue
		}
		u := attachmentURL(a)
		mention := object{{"link", u}}
		if pu, err := url.Parse(u); err == nil && pu.Query().Get("asset_id") != "" {
			mention = append(mention, kv{"id", pu.Query().Get("asset_id")})
		}
		return object{{"mention", mention}}
	}
	return nil
}

// fbISOTime is Graph's time format, ISO 8601 with a +0000 offset and second
// precision ("2026-03-02T10:08:20+0000"). The docs' list example shows a
// "UNIX-TIMESTAMP" placeholder for updated_time, but real answers carry this
// ISO form; a client should accept both.
func fbISOTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-0700") }
