package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ---- errors (§4.5, §10) ----

type graphError struct {
	status  int
	message string
	typ     string
	code    int
	subcode int
	extra   object // additional fields, e.g. is_transient
}

func (e *graphError) Error() string { return e.message }

func gerr(status, code, subcode int, typ, msg string) *graphError {
	return &graphError{status: status, code: code, subcode: subcode, typ: typ, message: msg}
}

func errParam(msg string) *graphError {
	return gerr(400, 100, 0, "OAuthException", "(#100) "+msg)
}

func errNoObject(method, id string) *graphError {
	return gerr(400, 100, 33, "GraphMethodException", fmt.Sprintf(
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
		method, id))
}

var tokenSubcodeMsg = map[int]string{
	458: "Error validating access token: The user has not authorized application.",
	459: "Error validating access token: You cannot access the app till you log in to www.facebook.com and follow the instructions given.",
	460: "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
	463: "Error validating access token: Session has expired.",
	464: "Error validating access token: Sessions for the user are not allowed because the user is not a confirmed user.",
	467: "Error validating access token: The session is invalid because the user logged out.",
	492: "Error validating access token: The user is not a member of the Page.",
}

func (s *Server) writeError(w http.ResponseWriter, version string, e *graphError) {
	o := object{{"message", e.message}, {"type", e.typ}, {"code", e.code}}
	if e.subcode != 0 {
		o = append(o, kv{"error_subcode", e.subcode})
	}
	o = append(o, e.extra...)
	o = append(o, kv{"fbtrace_id", s.fbtraceID()})
	if e.code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+strings.ReplaceAll(e.message, `"`, `'`)+`"`)
	}
	s.writeGraphJSON(w, version, e.status, object{{"error", o}})
}

func (s *Server) writeGraphJSON(w http.ResponseWriter, version string, status int, v any) {
	b, err := s.encodeWire(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("x-fb-trace-id", s.randToken(11))
	h.Set("x-fb-rev", "1023456789")
	h.Set("facebook-api-version", version)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ---- faults ----

// Fault makes Graph endpoints misbehave. Faults are matched in insertion
// order; the first matching one applies.
type Fault struct {
	Endpoint      string        // "send", "profile", "conversations" (Conversations API: list, conversation and message nodes), "oauth" (token endpoints, me/accounts, debug_token, me/permissions), "handover" (thread-control edges, thread_owner), "cdn" (media CDN, not covered by "*": HTTPStatus/Body/Delay only), "webhook" (unused) or "*" (any Graph call)
	Count         int           // how many calls it applies to (0 = until cleared)
	HTTPStatus    int           // e.g. 400, 500, 403 (0 with Code set = 400)
	Code, Subcode int           // Graph error code/subcode for the error body (0 = plain 5xx with a generic body)
	Message       string        // error message (default: a Meta-like message for the code)
	Delay         time.Duration // sleep before answering
	AfterAccept   bool          // the send IS recorded (and echoed) but the response is then delayed/failed: "unknown outcome"

	// Additions.

	// Body, if set, is written verbatim (e.g. an HTML 502 page) instead of a
	// Graph error envelope.
	Body string
	// EchoFirst delivers the echo of this send before answering (see
	// Options.EchoBeforeResponse). Only meaningful for accepted sends.
	EchoFirst bool
}

func (f *Fault) fails() bool { return f.HTTPStatus != 0 || f.Code != 0 || f.Body != "" }

// InjectFault adds a fault.
func (s *Server) InjectFault(f Fault) {
	if f.Endpoint == "" {
		f.Endpoint = "*"
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// takeFault consumes one use of the first fault matching endpoint.
func (s *Server) takeFault(endpoint string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Endpoint != endpoint && f.Endpoint != "*" {
			continue
		}
		cp := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &cp
	}
	return nil
}

func (s *Server) writeFault(w http.ResponseWriter, version string, f *Fault) {
	status := f.HTTPStatus
	if status == 0 {
		status = 400
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	if f.Code == 0 {
		// Spec gap: Meta's 5xx body is not in the spec; the generic Graph
		// "unexpected error" (code 2, is_transient) is used for a fault
		// without a code. is_transient itself is UNCERTAIN (§4.5).
		msg := f.Message
		if msg == "" {
			msg = "An unexpected error has occurred. Please retry your request later."
		}
		e := gerr(status, 2, 0, "OAuthException", msg)
		e.extra = object{{"is_transient", true}}
		s.writeError(w, version, e)
		return
	}
	msg := f.Message
	if msg == "" {
		msg = defaultMessages[f.Code]
		if msg == "" {
			msg = "An unknown error occurred"
		}
		msg = "(#" + strconv.Itoa(f.Code) + ") " + msg
	}
	typ := "OAuthException"
	if f.Code == 10 && f.Subcode == 2534022 {
		typ = "IGApiException"
	}
	s.writeError(w, version, gerr(status, f.Code, f.Subcode, typ, msg))
}

var defaultMessages = map[int]string{
	1:    "An unknown error occurred",
	2:    "An unexpected error has occurred. Please retry your request later.",
	4:    "Application request limit reached",
	10:   "This message is sent outside of allowed window.",
	17:   "User request limit reached",
	32:   "Page request limit reached",
	100:  "Invalid parameter",
	190:  "Invalid OAuth access token - Cannot parse access token",
	200:  "Permissions error",
	230:  "User consent is required to access user profile",
	368:  "The action attempted has been deemed abusive or is otherwise disallowed",
	551:  "This person isn't available right now.",
	613:  "Calls to this api have exceeded the rate limit.",
	1200: "Temporary send message failure. Please try again later.",
}

// ---- rate limits (§5) ----

type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time) bool {
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(b.rate, b.tokens+d*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

func (s *Server) bucketLocked(acct, class string) *bucket {
	key := acct + ":" + class
	b := s.buckets[key]
	if b == nil {
		rate := float64(s.opts.TextRatePerSec)
		switch class {
		case "media":
			rate = float64(s.opts.MediaRatePerSec)
		case "conversations":
			rate = float64(s.opts.ConversationsRatePerSec)
		}
		b = &bucket{rate: rate, tokens: rate, last: s.nowLocked()}
		s.buckets[key] = b
	}
	return b
}

// allow takes a token from the account's bucket for the class ("text",
// "media" or "conversations"); separate buckets per account and media class
// (trap 24).
func (s *Server) allow(acct, class string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bucketLocked(acct, class).take(s.nowLocked())
}

// usageHeader renders X-Business-Use-Case-Usage for the account (§5).
// Spec gap: the BUC "type" for IG messaging is UNCERTAIN; "instagram" is used.
func (s *Server) usageHeader(acct string) string {
	s.mu.Lock()
	b := s.bucketLocked(acct, "text")
	pct := int((b.rate - b.tokens) / b.rate * 100)
	s.mu.Unlock()
	pct = max(0, min(100, pct))
	v, _ := marshalOrdered(object{{acct, []any{object{{"type", "instagram"}, {"call_count", pct},
		{"total_cputime", min(pct, 1)}, {"total_time", min(pct, 1)}, {"estimated_time_to_regain_access", 0}}}}})
	return string(v)
}

// ---- routing ----

var versionRe = regexp.MustCompile(`^/v\d+(\.\d+)?(/|$)`)

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	version := s.opts.APIVersion
	if m := versionRe.FindString(path); m != "" {
		version = strings.Trim(m, "/")
		path = strings.TrimPrefix(path, strings.TrimSuffix(m, "/"))
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	if s.serveOAuthGraph(w, r, version, segs) {
		return
	}
	method := strings.ToLower(r.Method)
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		s.handleNode(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "messages" && r.Method == http.MethodPost:
		s.handleSend(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "conversations" && r.Method == http.MethodGet:
		s.handleConversations(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "messages" && r.Method == http.MethodGet && s.isConversationID(segs[0]):
		s.handleConversationMessages(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "message_attachments" && r.Method == http.MethodPost:
		s.handleAttachmentUpload(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "subscribed_apps":
		s.handleSubscribedApps(w, r, version, segs[0])
	case len(segs) == 2 && controlEdges[segs[1]] != "":
		s.handleThreadControl(w, r, version, segs[0], segs[1])
	case len(segs) >= 1 && len(segs) <= 2:
		if f := s.takeFault("*"); f != nil && s.applyPlainFault(w, r, version, f) {
			return
		}
		if _, e := s.auth(r, nil); e != nil {
			s.writeError(w, version, e)
			return
		}
		if len(segs) == 2 {
			s.writeError(w, version, gerr(400, 100, 0, "OAuthException", "Unsupported request - method type: "+method))
			return
		}
		s.writeError(w, version, errNoObject(method, segs[0]))
	default:
		s.writeError(w, version, gerr(400, 2500, 0, "OAuthException", "Unknown path components: "+path))
	}
}

// applyPlainFault handles a fault for endpoints without accept semantics:
// sleeps Delay, writes the error if the fault fails. Returns true if the
// response was written (or the client went away).
func (s *Server) applyPlainFault(w http.ResponseWriter, r *http.Request, version string, f *Fault) bool {
	if !s.sleep(r.Context(), f.Delay) {
		return true
	}
	if f.fails() {
		s.writeFault(w, version, f)
		return true
	}
	return false
}

// ---- auth ----

// auth finds the page for the request's access token (query/body
// access_token or Authorization: Bearer/OAuth) and checks appsecret_proof.
func (s *Server) auth(r *http.Request, params map[string]any) (*Page, *graphError) {
	token := r.URL.Query().Get("access_token")
	if token == "" && params != nil {
		token, _ = params["access_token"].(string)
	}
	if token == "" {
		if h := r.Header.Get("Authorization"); h != "" {
			if k, v, ok := strings.Cut(h, " "); ok && (strings.EqualFold(k, "Bearer") || strings.EqualFold(k, "OAuth")) {
				token = strings.TrimSpace(v)
			}
		}
	}
	if token == "" {
		// Spec gap: real Graph may answer code 104 for a missing token; the
		// 190 family is used as the brief/§10 describe.
		return nil, gerr(400, 190, 0, "OAuthException", "An active access token must be used to query information about the current user.")
	}
	s.mu.Lock()
	p := s.byToken[token]
	sub, bad := s.badTokens[token]
	s.mu.Unlock()
	if bad {
		msg := tokenSubcodeMsg[sub]
		if msg == "" {
			msg = "Error validating access token: The session is invalid."
		}
		return nil, gerr(400, 190, sub, "OAuthException", msg)
	}
	if e := s.oauthAuthErr(r, token); e != nil {
		return nil, e
	}
	if p == nil {
		return nil, gerr(400, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
	}
	proof := r.URL.Query().Get("appsecret_proof")
	if proof == "" && params != nil {
		proof, _ = params["appsecret_proof"].(string)
	}
	if proof != "" {
		m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
		m.Write([]byte(token))
		if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(hex.EncodeToString(m.Sum(nil)))) {
			return nil, gerr(400, 100, 0, "GraphMethodException", "Invalid appsecret_proof provided in the API argument")
		}
	}
	cp := *p
	return &cp, nil
}

// resolveNode checks that a node id used with an edge belongs to the token's
// page: "me", the page id or its IG account id.
func (s *Server) resolveNode(p *Page, node, method string) *graphError {
	if node == "me" || node == p.PageID || node == p.IGAccountID {
		return nil
	}
	s.mu.Lock()
	_, isPage := s.byPageID[node]
	_, isIG := s.byIGID[node]
	s.mu.Unlock()
	if isPage || isIG {
		// Spec gap: the exact error for another page's token is undocumented;
		// a 200-class permissions error is used.
		return gerr(403, 200, 0, "OAuthException", "(#200) The access token does not have permission to act on behalf of this Page or Instagram account")
	}
	return errNoObject(method, node)
}

// ---- request parameters ----

// readParams collects Graph call parameters: a JSON body, or form /
// multipart fields (values that are JSON documents are decoded, bracket
// encoded keys like message[quick_replies][0][title] are nested), plus query
// parameters not present in the body.
func readParams(r *http.Request) (map[string]any, error) {
	params := map[string]any{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return nil, fmt.Errorf("invalid multipart body: %w", err)
		}
		var pairs [][2]string
		for _, k := range sortedKeys(r.MultipartForm.Value) {
			for _, v := range r.MultipartForm.Value[k] {
				pairs = append(pairs, [2]string{k, v})
			}
		}
		setPairs(params, pairs)
	default:
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return nil, err
		}
		trimmed := bytes.TrimSpace(body)
		if ct == "application/json" || (len(trimmed) > 0 && trimmed[0] == '{') {
			if len(trimmed) > 0 {
				v, err := normalize(trimmed)
				if err != nil {
					return nil, fmt.Errorf("Invalid JSON in request body")
				}
				m, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("Invalid JSON in request body: expected an object")
				}
				params = m
			}
		} else if len(trimmed) > 0 {
			pairs, err := parseFormOrdered(string(trimmed))
			if err != nil {
				return nil, err
			}
			setPairs(params, pairs)
		}
	}
	var qpairs [][2]string
	for k, vs := range r.URL.Query() {
		root, _, _ := strings.Cut(k, "[")
		if _, exists := params[root]; exists {
			continue
		}
		for _, v := range vs {
			qpairs = append(qpairs, [2]string{k, v})
		}
	}
	setPairs(params, qpairs)
	return params, nil
}

func parseFormOrdered(body string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(body, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("invalid form encoding")
		}
		vu, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("invalid form encoding")
		}
		out = append(out, [2]string{ku, vu})
	}
	return out, nil
}

// setPairs applies form pairs in order (Rack-style bracket nesting), then
// decodes JSON-valued top-level params and turns numeric-keyed maps into
// arrays.
func setPairs(params map[string]any, pairs [][2]string) {
	for _, p := range pairs {
		path := splitKey(p[0])
		if len(path) == 0 {
			continue
		}
		var v any = p[1]
		if len(path) == 1 {
			t := strings.TrimSpace(p[1])
			if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
				if n, err := normalize([]byte(t)); err == nil {
					v = n
				}
			}
		}
		setParam(params, path, v)
	}
	for k, v := range params {
		params[k] = arrayify(v)
	}
}

// splitKey turns "a[b][][c]" into ["a","b","","c"].
func splitKey(k string) []string {
	i := strings.IndexByte(k, '[')
	if i < 0 {
		return []string{k}
	}
	out := []string{k[:i]}
	rest := k[i:]
	for len(rest) > 0 && rest[0] == '[' {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			break
		}
		out = append(out, rest[1:j])
		rest = rest[j+1:]
	}
	return out
}

func setParam(m map[string]any, path []string, v any) {
	k, rest := path[0], path[1:]
	if len(rest) == 0 {
		m[k] = v
		return
	}
	if rest[0] == "" {
		arr, _ := m[k].([]any)
		if len(rest) == 1 {
			m[k] = append(arr, v)
			return
		}
		var last map[string]any
		if len(arr) > 0 {
			last, _ = arr[len(arr)-1].(map[string]any)
		}
		if last != nil && !hasPath(last, rest[1:]) {
			setParam(last, rest[1:], v)
			m[k] = arr
			return
		}
		nm := map[string]any{}
		setParam(nm, rest[1:], v)
		m[k] = append(arr, nm)
		return
	}
	child, _ := m[k].(map[string]any)
	if child == nil {
		child = map[string]any{}
	}
	setParam(child, rest, v)
	m[k] = child
}

func hasPath(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) == 1 || path[1] == "" {
		return true
	}
	c, ok := v.(map[string]any)
	if !ok {
		return true
	}
	return hasPath(c, path[1:])
}

func arrayify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		numeric := len(x) > 0
		for k := range x {
			if _, err := strconv.Atoi(k); err != nil {
				numeric = false
			}
			x[k] = arrayify(x[k])
		}
		if !numeric {
			return x
		}
		idx := make([]int, 0, len(x))
		byIdx := map[int]any{}
		for k, e := range x {
			n, _ := strconv.Atoi(k)
			idx = append(idx, n)
			byIdx[n] = e
		}
		slices.Sort(idx)
		arr := make([]any, 0, len(idx))
		for _, n := range idx {
			arr = append(arr, byIdx[n])
		}
		return arr
	case []any:
		for i := range x {
			x[i] = arrayify(x[i])
		}
	}
	return v
}

// ---- misc helpers ----

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := marshalOrdered(v)
	if err != nil {
		return nil
	}
	return b
}

func isPrivateHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
}
