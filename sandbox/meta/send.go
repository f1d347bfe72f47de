package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// SentMessage is one accepted Send API call (message or sender action).
type SentMessage struct {
	MessageID, PageID, IGAccountID, Recipient string
	Text                                      string
	MessagingType, Tag                        string
	Attachment                                json.RawMessage // message.attachment, or the message.attachments array
	QuickReplies                              json.RawMessage // as stored by Meta (titles truncated to 20 chars)
	ReplyToMID                                string
	SenderAction                              string
	Raw                                       json.RawMessage // the whole request (form requests decoded to JSON)
	At                                        time.Time       // emulated clock

	// Media is the content Meta fetched for the (first) attachment (by URL,
	// or the uploaded media of an attachment_id), MediaType its accepted
	// Content-Type; all attachments: SentMedia(MessageID).
	Media     []byte `json:"-"`
	MediaType string `json:",omitempty"`

	pending []*pendingMedia // attachments still to fetch (media.go)
	media   []SentMedia
}

const (
	maxTextBytes      = 1000
	maxQuickReplies   = 13
	maxQRTitleChars   = 20
	maxQRPayloadChars = 1000
	window            = 24 * time.Hour
	humanAgentWindow  = 7 * 24 * time.Hour
	echoFirstMaxWait  = 10 * time.Second
)

// Sent returns the accepted Send API calls to a user, in order.
func (s *Server) Sent(igAccountID, igsid string) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent[igAccountID+"/"+igsid]...)
}

// WaitForSent waits until at least n calls to the user were accepted and
// returns them all (or what there is plus the ctx error).
func (s *Server) WaitForSent(ctx context.Context, igAccountID, igsid string, n int) ([]SentMessage, error) {
	key := igAccountID + "/" + igsid
	err := s.waitFor(ctx, func() bool { return len(s.sent[key]) >= n })
	return s.Sent(igAccountID, igsid), err
}

// handleSend implements POST /{v}/{me|page-id|ig-id}/messages (§4).
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, version, node string) {
	ctx := r.Context()
	f := s.takeFault("send")
	if f != nil && !f.AfterAccept && s.applyPlainFault(w, r, version, f) {
		return
	}
	params, perr := readParams(r)
	page, e := s.auth(r, params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if e := s.resolveNode(page, node, "post"); e != nil {
		s.writeError(w, version, e)
		return
	}
	acct := page.IGAccountID
	if perr != nil {
		w.Header().Set("X-Business-Use-Case-Usage", s.usageHeader(acct))
		s.writeError(w, version, errParam(perr.Error()))
		return
	}
	class := "text"
	if isMediaSend(params) {
		class = "media"
	}
	ok := s.allow(acct, class)
	w.Header().Set("X-Business-Use-Case-Usage", s.usageHeader(acct))
	if !ok {
		// Spec gap: §5 lists 4/17/32/613/8000x; the per-account Send API
		// limit is answered with 613 ("custom rate limit").
		s.log.Warn("meta: send rate limit exceeded, answering code 613", "account", acct, "class", class)
		s.writeError(w, version, gerr(400, 613, 0, "OAuthException", "(#613) Calls to this api have exceeded the rate limit."))
		return
	}
	sm, echoMsg, e := s.validateSend(page, params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	// Conversation Routing (§6, trap 19): checked before the media is
	// fetched, and again (atomically with its effects) on acceptance.
	tc, e := parseThreadControl(params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	tagged := sm.Tag == "HUMAN_AGENT" && (sm.MessagingType == "MESSAGE_TAG" || sm.MessagingType == "")
	s.mu.Lock()
	_, e = s.sendRoutingLocked(acct, sm.Recipient, s.nowLocked(), tagged, tc, false)
	s.mu.Unlock()
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	// §4.2 / trap 27: Meta fetches attachment URLs before accepting.
	if e := s.fetchSendMedia(ctx, sm); e != nil {
		s.writeError(w, version, e)
		return
	}

	// Accepted.
	s.mu.Lock()
	now := s.nowLocked()
	rt, e := s.sendRoutingLocked(acct, sm.Recipient, now, tagged, tc, true)
	if e != nil {
		s.mu.Unlock()
		s.writeError(w, version, e)
		return
	}
	sm.At = now
	if sm.SenderAction == "" {
		sm.MessageID = s.newMID(acct, sm.Recipient)
	}
	if len(sm.media) > 0 {
		s.media.bySend[sm.MessageID] = sm.media
	}
	key := acct + "/" + sm.Recipient
	if _, seen := s.sent[key]; !seen {
		s.sentOrder = append(s.sentOrder, key)
	}
	s.sent[key] = append(s.sent[key], *sm)
	if sm.SenderAction == "" {
		// In the conversation from the moment Meta accepted it (before the
		// echo is queued); sender actions are not messages (conversations.go).
		s.recordSentLocked(sm, echoMsg)
	}
	echoFirst := s.echoFirst || (f != nil && f.EchoFirst)
	s.notifyLocked()
	s.mu.Unlock()

	var d *delivery
	if sm.SenderAction == "" {
		// §3.8: an echo for every message the account sends (sender=IG
		// account, recipient=IGSID, only mid/text/attachments + is_echo);
		// under standby[] if another app owns the thread (§3.17).
		echoMsg["mid"] = sm.MessageID
		echoMsg["is_echo"] = true
		ev := newEvent(acct, sm.Recipient, now, "message", echoMsg)
		d = s.enqueue([]Entry{wrapEntry(acct, now, ev, rt.echoStandby)})
	}
	// Handover webhooks caused by the send (thread_control, HUMAN_AGENT
	// takeover) follow the echo.
	if len(rt.webhooks) > 0 {
		s.enqueue(rt.webhooks)
	}
	if d != nil && echoFirst {
		t := time.NewTimer(echoFirstMaxWait)
		select {
		case <-d.attempted:
		case <-t.C:
		case <-ctx.Done():
		case <-s.closeCh:
		}
		t.Stop()
	}
	if f != nil && f.AfterAccept {
		if !s.sleep(ctx, f.Delay) {
			return
		}
		if f.fails() {
			s.writeFault(w, version, f)
			return
		}
	}
	resp := object{{"recipient_id", sm.Recipient}}
	if sm.MessageID != "" {
		resp = append(resp, kv{"message_id", sm.MessageID})
	}
	s.writeGraphJSON(w, version, http.StatusOK, resp)
}

func isMediaSend(params map[string]any) bool {
	m, _ := asMap(params["message"])
	if m == nil {
		return false
	}
	isMedia := func(a any) bool {
		am, _ := asMap(a)
		t, _ := am["type"].(string)
		t = strings.ToLower(t)
		return t == "audio" || t == "video"
	}
	if isMedia(m["attachment"]) {
		return true
	}
	arr, _ := m["attachments"].([]any)
	for _, a := range arr {
		if isMedia(a) {
			return true
		}
	}
	return false
}

var tokenParams = map[string]bool{"access_token": true, "appsecret_proof": true, "appsecret_time": true}

// validateSend checks a Send API request and returns what will be recorded
// and the echo's message object.
func (s *Server) validateSend(page *Page, params map[string]any) (*SentMessage, map[string]any, *graphError) {
	acct := page.IGAccountID
	sm := &SentMessage{PageID: page.PageID, IGAccountID: acct}
	clean := map[string]any{}
	for k, v := range params {
		if !tokenParams[k] {
			clean[k] = v
		}
	}
	sm.Raw = rawJSON(clean)

	// recipient
	rv, ok := params["recipient"]
	if !ok {
		return nil, nil, errParam("The parameter recipient is required")
	}
	rm, ok := asMap(rv)
	if !ok {
		return nil, nil, errParam("param recipient must be a JSON object")
	}
	if _, ok := rm["comment_id"]; ok {
		// Spec gap: private replies (§4.2 recipient.comment_id) are not
		// modelled by the emulator.
		return nil, nil, errParam("recipient[comment_id] (private replies) is not supported by this emulator")
	}
	igsid := idString(rm["id"])
	if igsid == "" {
		return nil, nil, errParam("The parameter recipient[id] is required")
	}
	sm.Recipient = igsid

	sa, hasSA := params["sender_action"]
	mv, hasMsg := params["message"]
	tagged := false
	var echoMsg map[string]any
	switch {
	case hasSA:
		action, _ := sa.(string)
		action = strings.ToLower(action)
		needsPayload := action == "react" || action == "unreact"
		for k := range clean {
			if k == "recipient" || k == "sender_action" || (k == "payload" && needsPayload) {
				continue
			}
			// Spec gap: trap 22 says a sender_action request may contain only
			// recipient + sender_action (+payload); the exact error is
			// undocumented.
			return nil, nil, errParam(fmt.Sprintf("param %s cannot be combined with sender_action: a sender action request may only contain recipient, sender_action and (for react/unreact) payload", k))
		}
		switch action {
		case "typing_on", "typing_off", "mark_seen":
		case "react", "unreact":
			pm, _ := asMap(params["payload"])
			if pm == nil || idString(pm["message_id"]) == "" {
				return nil, nil, errParam("param payload[message_id] is required for " + action)
			}
			if action == "react" {
				if rs, _ := pm["reaction"].(string); rs == "" {
					return nil, nil, errParam("param payload[reaction] is required for react")
				}
			}
		default:
			return nil, nil, errParam("param sender_action must be one of {typing_on, typing_off, mark_seen, react, unreact}")
		}
		sm.SenderAction = action
	case hasMsg:
		var e *graphError
		echoMsg, e = s.validateMessage(sm, mv)
		if e != nil {
			return nil, nil, e
		}
		if mt, ok := params["messaging_type"]; ok {
			mts, _ := mt.(string)
			mts = strings.ToUpper(mts)
			if mts != "RESPONSE" && mts != "UPDATE" && mts != "MESSAGE_TAG" {
				return nil, nil, errParam("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
			}
			sm.MessagingType = mts
		}
		if tv, ok := params["tag"]; ok {
			tag, _ := tv.(string)
			tag = strings.ToUpper(tag)
			if tag != "HUMAN_AGENT" {
				// §4.2: other tags are "not available for Instagram Messaging API".
				return nil, nil, errParam(fmt.Sprintf("param tag: %q is not available for Instagram Messaging API; only HUMAN_AGENT is supported", tv))
			}
			sm.Tag = tag
			// Spec gap: a tag is honoured with messaging_type MESSAGE_TAG or
			// when messaging_type is omitted; with RESPONSE/UPDATE it is ignored.
			tagged = sm.MessagingType == "MESSAGE_TAG" || sm.MessagingType == ""
		} else if sm.MessagingType == "MESSAGE_TAG" {
			return nil, nil, errParam("param tag is required when messaging_type is MESSAGE_TAG")
		}
		if rt, ok := params["reply_to"]; ok {
			rtm, _ := asMap(rt)
			mid, _ := rtm["mid"].(string)
			if mid == "" {
				return nil, nil, errParam("param reply_to[mid] must be a non-empty string")
			}
			sm.ReplyToMID = mid
		}
	default:
		return nil, nil, errParam("Must send either message or sender_action")
	}

	// recipient state and window (§4.4)
	s.mu.Lock()
	us := s.users[acct][igsid]
	var last time.Time
	unavailable := false
	if us != nil {
		last, unavailable = us.lastMsg, us.unavailable
	}
	now := s.nowLocked()
	s.mu.Unlock()
	if us == nil {
		// Spec gap: Meta's exact message for an unknown IGSID varies
		// (2018001/2534014 seen in the wild); 100/33 is used as in §10.
		return nil, nil, gerr(400, 100, 33, "OAuthException", fmt.Sprintf(
			"(#100) Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", igsid))
	}
	if unavailable {
		return nil, nil, gerr(400, 551, 1545041, "OAuthException", "(#551) This person isn't available right now.")
	}
	if tagged && s.opts.DenyHumanAgent {
		// Spec gap: the error for an app without the Human Agent feature is
		// undocumented; a code 10 permission error is used.
		return nil, nil, gerr(400, 10, 0, "OAuthException", "(#10) Application does not have the capability to make this API call.")
	}
	limit := window
	if tagged {
		limit = humanAgentWindow
	}
	// Spec gap: a user who never messaged is treated as "outside the window"
	// (10/2534022); sender actions are subject to the window too.
	if last.IsZero() || now.Sub(last) > limit {
		return nil, nil, gerr(403, 10, 2534022, "IGApiException", "This message is sent outside of allowed window.")
	}
	return sm, echoMsg, nil
}

// validateMessage checks the message object (§4.2) and returns the echo's
// message object (without mid).
func (s *Server) validateMessage(sm *SentMessage, mv any) (map[string]any, *graphError) {
	m, ok := asMap(mv)
	if !ok {
		return nil, errParam("param message must be a JSON object")
	}
	if _, ok := m["reply_to"]; ok {
		// Spec gap: trap 23 — reply_to is top-level; nesting it in message is
		// rejected rather than silently ignored.
		return nil, errParam("param message[reply_to] is not a valid parameter; reply_to is a top-level parameter")
	}
	echo := map[string]any{}
	text := ""
	if tv, ok := m["text"]; ok {
		ts, ok := tv.(string)
		if !ok {
			return nil, errParam("param message[text] must be a string")
		}
		text = ts
	}
	att, hasAtt := m["attachment"]
	atts, hasAtts := m["attachments"]
	if text == "" && !hasAtt && !hasAtts {
		return nil, errParam("Message cannot be empty, must provide valid attachment or text")
	}
	if (text != "" && (hasAtt || hasAtts)) || (hasAtt && hasAtts) {
		// Spec gap: combining text with an attachment in one call is
		// rejected (one call per attachment, §4.2 / trap 24).
		return nil, errParam("Only one of message[text], message[attachment] or message[attachments] can be specified")
	}
	if len(text) > maxTextBytes {
		return nil, errParam(fmt.Sprintf("Length of param message[text] must be less than or equal to %d bytes (UTF-8); got %d", maxTextBytes, len(text)))
	}
	if text != "" {
		sm.Text = text
		echo["text"] = text
	}
	if hasAtt {
		ea, e := s.checkAttachment(sm, att, "message[attachment]", false)
		if e != nil {
			return nil, e
		}
		sm.Attachment = rawJSON(att)
		echo["attachments"] = []any{ea}
	}
	if hasAtts {
		arr, ok := atts.([]any)
		if !ok || len(arr) == 0 {
			return nil, errParam("param message[attachments] must be a non-empty array")
		}
		if len(arr) > 10 {
			return nil, errParam("param message[attachments] must have at most 10 elements")
		}
		var eas []any
		for i, a := range arr {
			ea, e := s.checkAttachment(sm, a, fmt.Sprintf("message[attachments][%d]", i), true)
			if e != nil {
				return nil, e
			}
			eas = append(eas, ea)
		}
		sm.Attachment = rawJSON(arr)
		echo["attachments"] = eas
	}
	if qv, ok := m["quick_replies"]; ok {
		arr, ok := qv.([]any)
		if !ok {
			return nil, errParam("param message[quick_replies] must be an array")
		}
		if len(arr) > maxQuickReplies {
			return nil, errParam(fmt.Sprintf("param message[quick_replies] must have at most %d elements", maxQuickReplies))
		}
		stored := make([]any, 0, len(arr))
		for i, q := range arr {
			qm, ok := asMap(q)
			if !ok {
				return nil, errParam(fmt.Sprintf("param message[quick_replies][%d] must be an object", i))
			}
			ct, _ := qm["content_type"].(string)
			cp := map[string]any{}
			for k, v := range qm {
				cp[k] = v
			}
			switch strings.ToLower(ct) {
			case "text":
				title, _ := qm["title"].(string)
				if title == "" {
					return nil, errParam(fmt.Sprintf("param message[quick_replies][%d][title] must be a non-empty string", i))
				}
				payload := idString(qm["payload"])
				if payload == "" {
					return nil, errParam(fmt.Sprintf("param message[quick_replies][%d][payload] must be a non-empty string", i))
				}
				// Spec gap: the IG payload limit is UNCERTAIN; Messenger's 1000 is used.
				if utf8.RuneCountInString(payload) > maxQRPayloadChars {
					return nil, errParam(fmt.Sprintf("param message[quick_replies][%d][payload] must be at most %d characters", i, maxQRPayloadChars))
				}
				// §4.2: titles over 20 chars are truncated, not rejected.
				if utf8.RuneCountInString(title) > maxQRTitleChars {
					title = string([]rune(title)[:maxQRTitleChars])
				}
				cp["title"] = title
			case "user_phone_number":
			default:
				return nil, errParam(fmt.Sprintf("param message[quick_replies][%d][content_type] must be one of {text, user_phone_number}", i))
			}
			stored = append(stored, cp)
		}
		sm.QuickReplies = rawJSON(stored)
	}
	return echo, nil
}

// checkAttachment validates one outgoing attachment and returns how it
// appears in the echo. Media by url / attachment_id is queued on sm.pending
// and fetched by fetchSendMedia once every other check passed.
func (s *Server) checkAttachment(sm *SentMessage, a any, path string, imagesOnly bool) (map[string]any, *graphError) {
	am, ok := asMap(a)
	if !ok {
		return nil, errParam("param " + path + " must be an object")
	}
	typ, _ := am["type"].(string)
	payload, _ := asMap(am["payload"])
	lt := strings.ToLower(typ)
	if imagesOnly && lt != "image" {
		return nil, errParam("param " + path + "[type]: message[attachments] only supports images")
	}
	switch lt {
	case "image", "video", "audio", "file":
		if payload == nil {
			return nil, errParam("param " + path + "[payload] is required")
		}
		u, _ := payload["url"].(string)
		aid := idString(payload["attachment_id"])
		if u == "" && aid == "" {
			return nil, errParam("param " + path + "[payload] must contain url or attachment_id")
		}
		if u != "" {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" ||
				(s.opts.RejectPrivateMediaURLs && isPrivateHost(pu.Hostname())) {
				return nil, gerr(400, 100, 2018047, "OAuthException", "(#100) Upload attachment failure.")
			}
		}
		if aid != "" {
			s.mu.Lock()
			_, known := s.attachments[aid]
			s.mu.Unlock()
			if !known {
				return nil, errParam("Invalid attachment_id " + aid)
			}
		}
		ep := map[string]any{"url": s.lookasideURL()}
		if u != "" {
			aid = "" // Spec gap: with both, the url wins.
		}
		sm.pending = append(sm.pending, &pendingMedia{typ: lt, url: u, attachmentID: aid, payload: ep})
		return map[string]any{"type": lt, "payload": ep}, nil
	case "media_share":
		if payload == nil || (idString(payload["id"]) == "" && idString(payload["attachment_id"]) == "") {
			return nil, errParam("param " + path + "[payload][id] is required for MEDIA_SHARE")
		}
		// Spec gap: the echo shape of a MEDIA_SHARE send is undocumented; it
		// is echoed as a "share" attachment with a CDN URL.
		return map[string]any{"type": "share", "payload": map[string]any{"url": s.lookasideURL()}}, nil
	case "like_heart":
		// Spec gap: echo shape undocumented; echoed as {"type":"like_heart"}.
		return map[string]any{"type": "like_heart"}, nil
	case "template":
		if e := checkTemplate(payload, path); e != nil {
			return nil, e
		}
		// Spec gap: template echoes are seen in the wild (CW PR#13002) but
		// their payload shape is undocumented; only template_type is echoed.
		return map[string]any{"type": "template", "payload": map[string]any{"template_type": payload["template_type"]}}, nil
	default:
		return nil, errParam("param " + path + "[type] must be one of {image, video, audio, file, template, MEDIA_SHARE, like_heart}")
	}
}

// checkTemplate validates generic/button/product templates (§4.2).
// Spec gap: over-long template titles are rejected (not truncated).
func checkTemplate(p map[string]any, path string) *graphError {
	if p == nil {
		return errParam("param " + path + "[payload] is required")
	}
	tt, _ := p["template_type"].(string)
	checkButtons := func(v any, where string, minN int) *graphError {
		arr, _ := v.([]any)
		if len(arr) < minN || len(arr) > 3 {
			return errParam(fmt.Sprintf("param %s[buttons] must have between %d and 3 elements", where, minN))
		}
		for i, b := range arr {
			bm, _ := asMap(b)
			bt, _ := bm["type"].(string)
			if bt != "postback" && bt != "web_url" {
				return errParam(fmt.Sprintf("param %s[buttons][%d][type] must be postback or web_url", where, i))
			}
		}
		return nil
	}
	switch tt {
	case "generic", "product":
		els, _ := p["elements"].([]any)
		if len(els) == 0 || len(els) > 10 {
			return errParam("param " + path + "[payload][elements] must have between 1 and 10 elements")
		}
		if tt == "product" {
			return nil
		}
		for i, el := range els {
			em, _ := asMap(el)
			where := fmt.Sprintf("%s[payload][elements][%d]", path, i)
			title, _ := em["title"].(string)
			if title == "" || utf8.RuneCountInString(title) > 80 {
				return errParam("param " + where + "[title] must be 1 to 80 characters")
			}
			if st, _ := em["subtitle"].(string); utf8.RuneCountInString(st) > 80 {
				return errParam("param " + where + "[subtitle] must be at most 80 characters")
			}
			if bv, ok := em["buttons"]; ok {
				if e := checkButtons(bv, where, 0); e != nil {
					return e
				}
			}
		}
	case "button":
		text, _ := p["text"].(string)
		if text == "" || utf8.RuneCountInString(text) > 640 {
			return errParam("param " + path + "[payload][text] must be 1 to 640 characters")
		}
		return checkButtons(p["buttons"], path+"[payload]", 1)
	default:
		return errParam("param " + path + "[payload][template_type] must be one of {generic, button, product}")
	}
	return nil
}

func (s *Server) lookasideURL() string {
	return fmt.Sprintf("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=179%014d&signature=%s", s.randUint()%1e14, s.randToken(24))
}

// ---- attachment upload (§4.3) ----

func (s *Server) handleAttachmentUpload(w http.ResponseWriter, r *http.Request, version, node string) {
	if f := s.takeFault("send"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	params, perr := readParams(r)
	page, e := s.auth(r, params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if e := s.resolveNode(page, node, "post"); e != nil {
		s.writeError(w, version, e)
		return
	}
	if perr != nil {
		s.writeError(w, version, errParam(perr.Error()))
		return
	}
	m, _ := asMap(params["message"])
	att, _ := asMap(m["attachment"])
	if att == nil {
		s.writeError(w, version, errParam("param message[attachment] is required"))
		return
	}
	typ, _ := att["type"].(string)
	lt := strings.ToLower(typ)
	if lt != "image" && lt != "video" && lt != "audio" && lt != "file" {
		s.writeError(w, version, errParam("param message[attachment][type] must be one of {image, video, audio, file}"))
		return
	}
	payload, _ := asMap(att["payload"])
	u, _ := payload["url"].(string)
	hasFile := r.MultipartForm != nil && len(r.MultipartForm.File["filedata"]) > 0
	if u == "" && !hasFile {
		s.writeError(w, version, errParam("param message[attachment][payload][url] or filedata is required"))
		return
	}
	if u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" ||
			(s.opts.RejectPrivateMediaURLs && isPrivateHost(pu.Hostname())) {
			s.writeError(w, version, gerr(400, 100, 2018047, "OAuthException", "(#100) Upload attachment failure."))
			return
		}
	}
	// §4.3 / trap 27: the media is fetched (or read from filedata) and
	// checked against the §4.2 table now; sends by attachment_id reuse it.
	assetID, e := s.uploadMedia(r.Context(), r, lt, u)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	id := s.newNumericID("1857")
	s.mu.Lock()
	s.attachments[id] = lt
	s.media.uploads[id] = assetID
	s.mu.Unlock()
	s.writeGraphJSON(w, version, http.StatusOK, object{{"attachment_id", id}})
}
