package meta

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Conversation Routing / handover protocol (§6, §3.16, §3.17, trap 19).
//
// Every thread (IG account, IGSID) is idle or active; an active thread is
// owned by one app until its control expires. Our app is Options.AppID; other
// apps (the Page Inbox, the Instagram Inbox, any other ID) are simulated with
// OtherAppTakes / OtherAppPasses / OtherAppRequests / OtherAppReleases.
//
// Per IG account settings (SetConversationRouting, SetTakeoverAllowed,
// SetDefaultApp). The zero configuration is Meta's "default message routing
// behaviour" (§6): Conversation Routing (CR) disabled, everyone may send,
// take is blocked, pass is allowed when idle, request gives control to the
// first app asking.
//
// Model:
//   - Control lasts 24 h after the last activity (customer message, the
//     owner's send, a control action); extend_thread_control sets it to up to
//     7 days from now; every other control action resets it to 1 day (§6).
//     Expiry is evaluated lazily on the emulated clock; an expired thread is
//     idle.
//   - With CR enabled a customer message on an idle thread is routed to the
//     default app ("default/organic routing", §6), which becomes the owner.
//     Spec gap: no handover webhook is sent for organic routing.
//   - While another app owns an active thread, customer events and echoes
//     reach our webhook under entry[].standby[] (§3.17). Spec gap: this also
//     holds with CR disabled once some app obtained control (by request or
//     pass) — ownership decides messaging vs standby; CR only decides who may
//     send.
//   - With CR enabled, our Send API calls (messages and sender actions) are
//     accepted only when we own the thread, or when it is idle and we are the
//     default app (§6 "only the default application may send"); otherwise
//     errSendNotOwner. A HUMAN_AGENT-tagged send takes control from the
//     owner when takeover is allowed (§4.4 "cannot take control via the Send
//     API (with HA tag) unless allowed to Take control").
//   - Webhooks: only those our app would receive are delivered to our
//     webhook URL: pass_thread_control when control is passed to us,
//     take_thread_control when it is taken from us, request_thread_control
//     when another app asks us (the owner) for it. None for release, extend,
//     a take from idle, or organic routing (§3.16).

// Inbox app IDs (§6).
const (
	PageInboxAppID      = "263902037430900"
	InstagramInboxAppID = "1217981644879628"
)

const (
	controlWindow     = 24 * time.Hour
	maxControlExtend  = 7 * 24 * time.Hour
	maxMetadataLength = 1000
)

// ThreadControlCall is one thread-control action on a thread, by our app
// (Graph API, or the Send API's thread_control / HUMAN_AGENT takeover) or by
// a simulated other app. Refused calls are recorded too, with Error.
type ThreadControlCall struct {
	Action      string        `json:"action"`                  // pass, take, request, release, extend
	AppID       string        `json:"app_id"`                  // the app that made the call
	TargetAppID string        `json:"target_app_id,omitempty"` // pass: the app control goes to (the default app when target_app_id was omitted)
	Metadata    string        `json:"metadata,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"` // extend
	Via         string        `json:"via"`                // "graph", "send" (Send API), "sandbox" (simulated other app)
	At          time.Time     `json:"at"`                 // emulated clock
	Error       string        `json:"error,omitempty"`    // why it was refused; "" = accepted
}

// RoutingSettings are an IG account's Conversation Routing settings.
type RoutingSettings struct {
	Enabled         bool   `json:"enabled"`          // Conversation Routing configured
	TakeoverAllowed bool   `json:"takeover_allowed"` // Page Settings → Advanced Messaging: apps may take control
	DefaultApp      string `json:"default_app"`      // default (organic) app; "" = our app (Options.AppID)
}

type threadState struct {
	owner     string    // "" = idle
	expiresAt time.Time // valid when owner != ""
	calls     []ThreadControlCall
}

type routingState struct {
	settings map[string]*RoutingSettings // igAccountID ->
	threads  map[string]*threadState     // igAccountID + "/" + igsid ->
}

func newRoutingState() routingState {
	return routingState{settings: map[string]*RoutingSettings{}, threads: map[string]*threadState{}}
}

// ---- settings ----

func (s *Server) settingsLocked(acct string) *RoutingSettings {
	st := s.routing.settings[acct]
	if st == nil {
		st = &RoutingSettings{}
		s.routing.settings[acct] = st
	}
	return st
}

func (s *Server) defaultAppLocked(acct string) string {
	if d := s.settingsLocked(acct).DefaultApp; d != "" {
		return d
	}
	return s.opts.AppID
}

// SetConversationRouting enables or disables Conversation Routing for an IG
// account (disabled = Meta's zero-config default behaviour, §6).
func (s *Server) SetConversationRouting(igAccountID string, enabled bool) {
	s.mu.Lock()
	s.settingsLocked(igAccountID).Enabled = enabled
	s.mu.Unlock()
}

// SetTakeoverAllowed sets the account's "apps may take control of
// conversations" setting (take_thread_control, §6). Default false.
func (s *Server) SetTakeoverAllowed(igAccountID string, allowed bool) {
	s.mu.Lock()
	s.settingsLocked(igAccountID).TakeoverAllowed = allowed
	s.mu.Unlock()
}

// SetDefaultApp sets the account's default app ("" = our app, the default).
func (s *Server) SetDefaultApp(igAccountID, appID string) {
	s.mu.Lock()
	s.settingsLocked(igAccountID).DefaultApp = appID
	s.mu.Unlock()
}

// Routing returns the account's Conversation Routing settings.
func (s *Server) Routing(igAccountID string) RoutingSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.settingsLocked(igAccountID)
}

// ---- threads ----

// threadLocked returns the thread, turning it idle if its control expired.
// Spec gap: no webhook is sent when control expires.
func (s *Server) threadLocked(acct, igsid string, now time.Time) *threadState {
	key := acct + "/" + igsid
	th := s.routing.threads[key]
	if th == nil {
		th = &threadState{}
		s.routing.threads[key] = th
	}
	if th.owner != "" && !now.Before(th.expiresAt) {
		th.owner, th.expiresAt = "", time.Time{}
	}
	return th
}

// ThreadOwner returns the app owning the thread and when its control
// expires; "" and the zero time while the thread is idle.
func (s *Server) ThreadOwner(igAccountID, igsid string) (appID string, expiresAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	th := s.threadLocked(igAccountID, igsid, s.nowLocked())
	return th.owner, th.expiresAt
}

// ThreadControlCalls returns the thread-control calls made on a thread (by
// any app, accepted or refused), in order.
func (s *Server) ThreadControlCalls(igAccountID, igsid string) []ThreadControlCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if th := s.routing.threads[igAccountID+"/"+igsid]; th != nil {
		return append([]ThreadControlCall(nil), th.calls...)
	}
	return nil
}

// inboundStandbyLocked applies a customer event to the thread (organic
// routing and control refresh for window openers) and reports whether our
// app gets it under standby[].
func (s *Server) inboundStandbyLocked(acct, igsid string, now time.Time, opener bool) bool {
	th := s.threadLocked(acct, igsid, now)
	if opener {
		switch {
		case th.owner != "":
			th.expiresAt = later(th.expiresAt, now.Add(controlWindow))
		case s.settingsLocked(acct).Enabled:
			th.owner, th.expiresAt = s.defaultAppLocked(acct), now.Add(controlWindow)
		}
	}
	return th.owner != "" && th.owner != s.opts.AppID
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ---- errors ----
//
// Spec gap: handover/routing error codes are not documented (§6, §11). The
// emulator answers:
//   - sending, or a control call that needs ownership, while not the owner
//     (or, for sends on an idle thread, not the default app): HTTP 400, code
//     10, subcode 2018300 (code 10 is the permission family §10 uses for
//     sends that are not allowed; 2018300 is the subcode integrators report
//     for "another app controls the thread");
//   - a call not available in the account's configuration (take without CR
//     or without takeover allowed, request with CR, thread_control without
//     CR) or a no-op (take/request by the owner): HTTP 400, code 10, no
//     subcode;
//   - malformed parameters: code 100.

const subcodeNotOwner = 2018300

func errNotOwner(msg string) *graphError {
	return gerr(400, 10, subcodeNotOwner, "OAuthException", "(#10) "+msg)
}

func errRouting(msg string) *graphError {
	return gerr(400, 10, 0, "OAuthException", "(#10) "+msg)
}

// ---- control actions ----

type controlResult struct {
	webhooks []Entry // to our webhook
}

// controlLocked performs a thread-control action by app call.AppID,
// enforcing the §6 preconditions, and records it (refused calls too).
func (s *Server) controlLocked(acct, igsid string, now time.Time, call ThreadControlCall) (controlResult, *graphError) {
	call.At = now
	th := s.threadLocked(acct, igsid, now)
	res, e := s.applyControlLocked(acct, igsid, now, th, &call)
	if e != nil {
		call.Error = e.message
	}
	th.calls = append(th.calls, call)
	s.notifyLocked()
	return res, e
}

func (s *Server) applyControlLocked(acct, igsid string, now time.Time, th *threadState, call *ThreadControlCall) (controlResult, *graphError) {
	var res controlResult
	st := s.settingsLocked(acct)
	app, ours := call.AppID, s.opts.AppID
	if utf8.RuneCountInString(call.Metadata) > maxMetadataLength {
		// Spec gap: Messenger's 1000-character metadata limit is assumed.
		return res, errParam(fmt.Sprintf("param metadata must be at most %d characters", maxMetadataLength))
	}
	handover := func(key string, payload map[string]any) {
		ev := newEvent(igsid, acct, now, key, payload)
		res.webhooks = append(res.webhooks, Entry{ID: acct, Time: now.UnixMilli(), Messaging: []Event{ev}})
	}
	withMeta := func(m map[string]any) map[string]any {
		// Spec gap: metadata is omitted from the webhook when empty.
		if call.Metadata != "" {
			m["metadata"] = call.Metadata
		}
		return m
	}
	prevOrNull := func(p string) any {
		if p == "" {
			return nil // §3.16: previous_owner_app_id null when the thread was idle
		}
		return p
	}
	switch call.Action {
	case "pass":
		if th.owner != "" && th.owner != app {
			return res, errNotOwner("Only the thread owner can pass thread control; the thread is controlled by another app")
		}
		if call.TargetAppID == "" {
			if !st.Enabled {
				return res, errParam("The parameter target_app_id is required")
			}
			call.TargetAppID = s.defaultAppLocked(acct) // §6: no target_app_id ⇒ default app (CR on)
		}
		if !isAppID(call.TargetAppID) {
			return res, errParam("param target_app_id must be a valid app ID")
		}
		if call.TargetAppID == app {
			// §6: "cannot pass to itself to extend".
			return res, errParam("An app cannot pass thread control to itself; use extend_thread_control to extend control")
		}
		prev := th.owner
		th.owner, th.expiresAt = call.TargetAppID, now.Add(controlWindow)
		if call.TargetAppID == ours {
			handover("pass_thread_control", withMeta(map[string]any{"previous_owner_app_id": prevOrNull(prev), "new_owner_app_id": ours}))
		}
	case "take":
		if !st.Enabled {
			return res, errRouting("take_thread_control is only available when Conversation Routing is enabled for this account")
		}
		if !st.TakeoverAllowed && app != PageInboxAppID && app != InstagramInboxAppID {
			// Spec gap: the Inbox apps (human agents) may always take.
			return res, errRouting("Taking control of conversations is not allowed for this account (Advanced Messaging settings)")
		}
		if th.owner == app {
			return res, errRouting("The app already controls this thread")
		}
		prev := th.owner
		th.owner, th.expiresAt = app, now.Add(controlWindow)
		if prev == ours {
			handover("take_thread_control", withMeta(map[string]any{"previous_owner_app_id": ours, "new_owner_app_id": app}))
		}
	case "request":
		if st.Enabled {
			return res, errRouting("request_thread_control is not available when Conversation Routing is enabled for this account")
		}
		if th.owner == app {
			return res, errRouting("The app already controls this thread")
		}
		if th.owner == "" {
			// §6: if idle, control is passed immediately (+ pass_thread_control).
			th.owner, th.expiresAt = app, now.Add(controlWindow)
			call.TargetAppID = app
			if app == ours {
				handover("pass_thread_control", withMeta(map[string]any{"previous_owner_app_id": nil, "new_owner_app_id": ours}))
			}
			break
		}
		if th.owner == ours {
			handover("request_thread_control", withMeta(map[string]any{"requested_owner_app_id": app}))
		}
	case "release":
		if th.owner != app {
			return res, errNotOwner("Only the thread owner can release thread control")
		}
		th.owner, th.expiresAt = "", time.Time{}
	case "extend":
		if th.owner != app {
			return res, errNotOwner("Only the thread owner can extend thread control")
		}
		if call.Duration <= 0 || call.Duration > maxControlExtend {
			return res, errParam(fmt.Sprintf("param duration must be between 1 and %d seconds", int(maxControlExtend.Seconds())))
		}
		th.expiresAt = now.Add(call.Duration)
	default:
		return res, errParam("unknown thread control action " + call.Action)
	}
	return res, nil
}

func isAppID(id string) bool {
	if id == "" || len(id) > 20 {
		return false
	}
	_, err := strconv.ParseUint(id, 10, 64)
	return err == nil
}

// ---- Send API ----

// threadControlParam is the Send API's thread_control parameter (§4.2, §6).
type threadControlParam struct {
	controlType, appID, metadata string
}

func parseThreadControl(params map[string]any) (*threadControlParam, *graphError) {
	v, ok := params["thread_control"]
	if !ok {
		return nil, nil
	}
	m, ok := asMap(v)
	if !ok {
		return nil, errParam("param thread_control must be a JSON object")
	}
	ct, _ := m["control_type"].(string)
	ct = strings.ToLower(ct)
	if ct != "pass" && ct != "release" {
		return nil, errParam("param thread_control[control_type] must be one of {pass, release}")
	}
	md, _ := m["metadata"].(string)
	return &threadControlParam{controlType: ct, appID: idString(m["app_id"]), metadata: md}, nil
}

type sendRouting struct {
	echoStandby bool    // the echo goes to standby[] (another app owns the thread)
	webhooks    []Entry // handover webhooks to our app caused by the send
}

// sendRoutingLocked checks whether our app may send to the thread (and, with
// apply, performs the send's routing effects: control refresh, HUMAN_AGENT
// takeover, thread_control).
func (s *Server) sendRoutingLocked(acct, igsid string, now time.Time, tagged bool, tc *threadControlParam, apply bool) (sendRouting, *graphError) {
	var res sendRouting
	st := s.settingsLocked(acct)
	ours := s.opts.AppID
	th := s.threadLocked(acct, igsid, now)
	res.echoStandby = th.owner != "" && th.owner != ours
	if tc != nil && !st.Enabled {
		// Spec gap: §4.2 "only when Conversation Routing enabled"; refused
		// with code 10.
		return res, errRouting("param thread_control is only supported when Conversation Routing is enabled for this account")
	}
	if !st.Enabled {
		return res, nil // zero-config: anyone may send (§6)
	}
	takeover := false
	switch {
	case th.owner == ours:
	case th.owner == "":
		if d := s.defaultAppLocked(acct); d != ours {
			if !tagged || !st.TakeoverAllowed {
				return res, errNotOwner("Message not sent: the conversation is idle and only the default app (" + d + ") can reply (Conversation Routing)")
			}
			takeover = true
		}
	case tagged && st.TakeoverAllowed:
		takeover = true
	default:
		return res, errNotOwner("Message not sent: another app (" + th.owner + ") controls this conversation (Conversation Routing)")
	}
	if tc != nil && tc.controlType == "pass" {
		target := tc.appID
		if target == "" {
			target = s.defaultAppLocked(acct)
		}
		if target == ours {
			return res, errParam("param thread_control: an app cannot pass thread control to itself")
		}
		if !isAppID(target) {
			return res, errParam("param thread_control[app_id] must be a valid app ID")
		}
	}
	if !apply {
		return res, nil
	}
	if takeover {
		r, e := s.controlLocked(acct, igsid, now, ThreadControlCall{Action: "take", AppID: ours, Via: "send"})
		if e != nil {
			return res, e
		}
		res.webhooks = append(res.webhooks, r.webhooks...)
		res.echoStandby = false
	}
	if th.owner == ours {
		th.expiresAt = later(th.expiresAt, now.Add(controlWindow))
	}
	if tc != nil {
		call := ThreadControlCall{Action: tc.controlType, AppID: ours, TargetAppID: tc.appID, Metadata: tc.metadata, Via: "send"}
		if tc.controlType == "release" && th.owner == "" {
			// Spec gap: releasing an idle thread with a send is a no-op.
			call.At = now
			th.calls = append(th.calls, call)
		} else {
			r, e := s.controlLocked(acct, igsid, now, call)
			if e != nil {
				return res, e
			}
			res.webhooks = append(res.webhooks, r.webhooks...)
		}
	}
	return res, nil
}

// ---- Graph endpoints ----

var controlEdges = map[string]string{
	"pass_thread_control":    "pass",
	"take_thread_control":    "take",
	"request_thread_control": "request",
	"release_thread_control": "release",
	"extend_thread_control":  "extend",
	"thread_owner":           "owner",
}

// handleThreadControl implements POST /{v}/{page-id}/{pass,take,request,
// release,extend}_thread_control and GET /{v}/{page-id}/thread_owner (§6).
// Parameters come from a JSON body, form fields or the query string; recipient
// may be {"id":…} (JSON or bracket form) or a bare IGSID.
func (s *Server) handleThreadControl(w http.ResponseWriter, r *http.Request, version, node, edge string) {
	if f := s.takeFault("handover"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	params, perr := readParams(r)
	page, e := s.auth(r, params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if e := s.resolveNode(page, node, strings.ToLower(r.Method)); e != nil {
		s.writeError(w, version, e)
		return
	}
	if perr != nil {
		s.writeError(w, version, errParam(perr.Error()))
		return
	}
	action := controlEdges[edge]
	wantMethod := http.MethodPost
	if action == "owner" {
		wantMethod = http.MethodGet
	}
	if r.Method != wantMethod {
		s.writeError(w, version, gerr(400, 100, 0, "OAuthException", "Unsupported request - method type: "+strings.ToLower(r.Method)))
		return
	}
	var igsid string
	switch rv := params["recipient"].(type) {
	case map[string]any:
		igsid = idString(rv["id"])
	default:
		igsid = idString(rv)
	}
	if igsid == "" {
		s.writeError(w, version, errParam("The parameter recipient is required"))
		return
	}
	acct := page.IGAccountID
	s.mu.Lock()
	known := s.users[acct][igsid] != nil
	s.mu.Unlock()
	if !known {
		s.writeError(w, version, gerr(400, 100, 33, "OAuthException", fmt.Sprintf(
			"(#100) Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", igsid)))
		return
	}
	if action == "owner" {
		s.writeGraphJSON(w, version, http.StatusOK, s.threadOwnerBody(acct, igsid))
		return
	}
	call := ThreadControlCall{Action: action, AppID: s.opts.AppID, Via: "graph"}
	call.Metadata, _ = params["metadata"].(string)
	if action == "pass" {
		call.TargetAppID = idString(params["target_app_id"])
	}
	var perr2 *graphError
	if action == "extend" {
		d := idString(params["duration"])
		n, err := strconv.ParseFloat(d, 64)
		switch {
		case d == "":
			perr2 = errParam("The parameter duration is required")
		case err != nil:
			perr2 = errParam("param duration must be a number of seconds")
		default:
			call.Duration = time.Duration(n * float64(time.Second))
		}
	}
	var res controlResult
	s.mu.Lock()
	if perr2 != nil {
		// Refused calls are recorded too.
		call.At, call.Error = s.nowLocked(), perr2.message
		th := s.threadLocked(acct, igsid, call.At)
		th.calls = append(th.calls, call)
		e = perr2
	} else {
		res, e = s.controlLocked(acct, igsid, s.nowLocked(), call)
	}
	s.mu.Unlock()
	if e != nil {
		s.log.Info("meta: thread control refused", "account", acct, "igsid", igsid, "action", action, "err", e.message)
		s.writeError(w, version, e)
		return
	}
	if len(res.webhooks) > 0 {
		s.enqueue(res.webhooks)
	}
	s.writeGraphJSON(w, version, http.StatusOK, object{{"success", true}})
}

// threadOwnerBody renders GET thread_owner (§6): the owner and the default
// app see app_id + expiration, other apps only the expiration; idle = empty.
func (s *Server) threadOwnerBody(acct, igsid string) object {
	s.mu.Lock()
	defer s.mu.Unlock()
	th := s.threadLocked(acct, igsid, s.nowLocked())
	if th.owner == "" {
		return object{{"data", []any{}}}
	}
	owner := object{}
	if th.owner == s.opts.AppID || s.defaultAppLocked(acct) == s.opts.AppID {
		owner = append(owner, kv{"app_id", th.owner})
	}
	owner = append(owner, kv{"expiration", th.expiresAt.Unix()})
	return object{{"data", []any{object{{"thread_owner", owner}}}}}
}

// ---- simulated other apps ----

func (s *Server) otherApp(igAccountID, igsid string, call ThreadControlCall) error {
	if call.AppID == "" {
		return errors.New("meta: app ID required")
	}
	if call.AppID == s.opts.AppID {
		return errors.New("meta: " + call.AppID + " is this app (Options.AppID); use the Graph API for its calls")
	}
	call.Via = "sandbox"
	s.mu.Lock()
	res, e := s.controlLocked(igAccountID, igsid, s.nowLocked(), call)
	s.mu.Unlock()
	if e != nil {
		return errors.New("meta: " + call.Action + "_thread_control by app " + call.AppID + " refused: " + e.message)
	}
	if len(res.webhooks) > 0 {
		s.enqueue(res.webhooks)
	}
	return nil
}

// OtherAppTakes simulates another app (e.g. InstagramInboxAppID, a human
// agent) calling take_thread_control. Our app gets take_thread_control if it
// was the owner. Needs CR enabled, and takeover allowed unless appID is an
// Inbox app.
func (s *Server) OtherAppTakes(igAccountID, igsid, appID, metadata string) error {
	return s.otherApp(igAccountID, igsid, ThreadControlCall{Action: "take", AppID: appID, Metadata: metadata})
}

// OtherAppPasses simulates app fromAppID calling pass_thread_control with
// target toAppID ("" = the default app, CR enabled only). Our app gets
// pass_thread_control if toAppID is ours.
func (s *Server) OtherAppPasses(igAccountID, igsid, fromAppID, toAppID, metadata string) error {
	return s.otherApp(igAccountID, igsid, ThreadControlCall{Action: "pass", AppID: fromAppID, TargetAppID: toAppID, Metadata: metadata})
}

// OtherAppRequests simulates another app calling request_thread_control
// (CR disabled only). Our app gets request_thread_control if it owns the
// thread; an idle thread is passed to the requester at once.
func (s *Server) OtherAppRequests(igAccountID, igsid, appID, metadata string) error {
	return s.otherApp(igAccountID, igsid, ThreadControlCall{Action: "request", AppID: appID, Metadata: metadata})
}

// OtherAppReleases simulates the owning app calling release_thread_control:
// the thread becomes idle; no webhook.
func (s *Server) OtherAppReleases(igAccountID, igsid, appID, metadata string) error {
	return s.otherApp(igAccountID, igsid, ThreadControlCall{Action: "release", AppID: appID, Metadata: metadata})
}
