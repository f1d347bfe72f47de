// Package meta is a faithful emulator of Meta's Instagram Messaging platform
// ("Messenger API support for Instagram"): the Graph API endpoints a business
// integration calls (Send API, user profile, a few page/app edges) and the
// signed webhook sender that pushes customer events to the integration.
//
// It is written from /work/shared/specs/instagram-messaging.md (section
// numbers in comments refer to that document). Where the spec is UNCERTAIN,
// the choice made is documented in a "Spec gap:" comment.
//
// Besides the Graph API and the webhook sender, the emulator serves customer
// media from a signed, expiring CDN on its own host and fetches outgoing
// attachment URLs like Meta does (media.go), and models Conversation Routing
// / the handover protocol with standby delivery (routing.go), and answers
// the read-only Conversations API from what Meta keeps of each thread,
// whether or not its webhooks arrived (conversations.go).
//
// Clocks: event timestamps, entry.time, the 24 h / 7 d messaging windows,
// CDN URL expiry, thread-control expiry, the Send API and Conversations API
// rate-limit buckets and message created_time use the emulated clock (Now, SetNow,
// AdvanceClock). Webhook retry scheduling, the delivery timeout and the
// DisableAfter threshold use real time, because they are driven by real
// timers.
package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. Only AppSecret is required.
type Options struct {
	AppID        string        // default "910000000000001"
	AppSecret    string        // HMAC key for webhook signatures (required)
	WebhookURL   string        // where webhooks go; may be set later with SetWebhookURL
	RetryInitial time.Duration // first retry delay after a failed delivery (default 500ms)
	RetryMax     time.Duration // cap of exponential backoff (default 30s)
	DisableAfter time.Duration // after failing this long continuously, the subscription is disabled and delivery stops (default 1h), per spec §2.3
	RawUTF8      bool          // if true send raw UTF-8 bodies instead of Meta's \uXXXX-escaped ones (robustness testing)
	Logger       *slog.Logger  // nil = discard

	// Additions (all optional).

	// Random is the source of the ids the server makes up (message ids, tokens, trace
	// ids); nil means crypto/rand. A seeded source makes a run repeatable (the
	// conversation simulator); with it, also set the clock (SetNow) and deliver with
	// TakeQueued instead of a WebhookURL.
	Random io.Reader

	// APIVersion is sent as the Facebook-API-Version header of webhook
	// deliveries (the subscription's version, §1.2). Default "v23.0".
	APIVersion string
	// DeliveryTimeout bounds one webhook POST. Default 20s (§2.3).
	DeliveryTimeout time.Duration
	// MaxBatch is how many queued deliveries of one account may be merged
	// into a single POST (§2.2). Default 1 = no batching.
	MaxBatch int
	// EscapeSlashes additionally writes "/" as "\/" in webhook bodies and
	// Graph responses.
	// Spec gap: the spec only mentions \uXXXX escaping; PHP-style slash
	// escaping is commonly seen in Graph output but not documented there, so
	// it is off by default.
	EscapeSlashes bool
	// EchoBeforeResponse makes every successful Send API call deliver its
	// echo webhook (first attempt completed, bounded to 10 s) before the HTTP
	// response is written (§3.8, trap 4). Also settable per call with
	// Fault.EchoFirst or at runtime with SetEchoBeforeResponse.
	EchoBeforeResponse bool
	// TextRatePerSec / MediaRatePerSec are the per-IG-account Send API
	// limits (§5). Defaults 300 and 10.
	TextRatePerSec  int
	MediaRatePerSec int
	// ConversationsRatePerSec is the per-IG-account limit of the
	// Conversations API (§5 "Conversations API | 2 calls/s";
	// conversations.go). Default 2. A harness that freezes the clock (SetNow
	// without advancing it) gets only this many calls ever: raise it there.
	ConversationsRatePerSec int
	// DenyHumanAgent simulates an app without the Human Agent feature: any
	// HUMAN_AGENT tagged send fails with code 10.
	DenyHumanAgent bool
	// RejectPrivateMediaURLs makes attachment URLs pointing to localhost or
	// private/loopback IPs (literally, after DNS resolution, or through a
	// redirect) fail like Meta's fetcher does (§4.2, trap 27). Off by default
	// because tests serve media from 127.0.0.1.
	RejectPrivateMediaURLs bool
	// HTTPClient is used for webhook deliveries (its Timeout is ignored in
	// favour of DeliveryTimeout). Default: a fresh http.Client.
	HTTPClient *http.Client

	// Media CDN and attachment fetching (media.go).

	// MediaTTL is how long a CDN media URL (/ig_messaging_cdn/?asset_id=…)
	// keeps working after the asset was stored, on the emulated clock;
	// afterwards it answers 403 (trap 14). Default 24h.
	MediaTTL time.Duration
	// PublicURL is the base URL ("http://127.0.0.1:9091") under which
	// Handler() is reachable; CDN media URLs are built on it. If empty it can
	// be set later with SetPublicURL, otherwise it is learned from the first
	// request the handler serves.
	PublicURL string
	// MediaFetchTimeout bounds the fetch of an outgoing attachment URL (the
	// whole request, redirects included). Default 10s.
	MediaFetchTimeout time.Duration
	// MediaHTTPClient is used to fetch outgoing attachment URLs (its Timeout
	// is replaced by MediaFetchTimeout; redirects are followed up to 10).
	// Default: a fresh client.
	MediaHTTPClient *http.Client
}

// Page is a Facebook Page with its linked Instagram professional account.
type Page struct{ PageID, IGAccountID, Username, Name, AccessToken string }

// User is an Instagram customer, identified by its IGSID (scoped to the
// business). Name may be "" (profile returns null name).
type User struct{ IGSID, Name, Username string }

type userState struct {
	User
	lastMsg     time.Time // last customer message / window opener; zero = never
	consented   bool      // has messaged (profile API consent, §7)
	unavailable bool      // 551/1545041 on send (§10)
	generated   bool
}

// ErrDisabled is returned by WaitDelivered when a subscription was disabled
// after failing for DisableAfter; its queued deliveries were dropped.
var ErrDisabled = errors.New("meta: webhook subscription disabled after continuous delivery failures")

// Server is the emulator. Create it with New, mount Handler(), and Close it.
type Server struct {
	randMu sync.Mutex // guards opts.Random
	opts   Options
	log    *slog.Logger
	client *http.Client

	ctx     context.Context
	cancel  context.CancelFunc
	closeCh chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Uint64

	mu         sync.Mutex
	changed    chan struct{}
	closed     bool
	nowFn      func() time.Time
	offset     time.Duration
	webhookURL string
	echoFirst  bool

	pages     []*Page
	byPageID  map[string]*Page
	byIGID    map[string]*Page
	byToken   map[string]*Page
	badTokens map[string]int // token -> 190 subcode

	users     map[string]map[string]*userState // igAccountID -> igsid -> user
	userOrder map[string][]string

	sent        map[string][]SentMessage // igAccountID + "/" + igsid
	sentOrder   []string
	attachments map[string]string // attachment_id -> type
	faults      []*Fault
	buckets     map[string]*bucket

	queues   map[string]*acctQueue
	attempts []Attempt
	disabled map[string]bool
	dropped  int

	oauth oauthState // Facebook Login grants, codes, tokens; page subscriptions (oauth.go, subscriptions.go)

	publicURL   string       // base URL of Handler() for CDN media URLs (media.go)
	media       mediaState   // CDN assets, fetched outgoing media (media.go)
	mediaClient *http.Client // fetches outgoing attachment URLs (media.go)
	routing     routingState // Conversation Routing: per-thread owner, per-account settings (routing.go)
	convs       convState    // what Meta keeps of each thread, for the Conversations API (conversations.go)
}

// New creates a Server. It panics if AppSecret is empty.
func New(o Options) *Server {
	if o.AppSecret == "" {
		panic("meta: Options.AppSecret is required")
	}
	if o.AppID == "" {
		o.AppID = "910000000000001"
	}
	if o.RetryInitial <= 0 {
		o.RetryInitial = 500 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.RetryMax < o.RetryInitial {
		o.RetryMax = o.RetryInitial
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = time.Hour
	}
	if o.APIVersion == "" {
		o.APIVersion = "v23.0"
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 20 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1
	}
	if o.TextRatePerSec <= 0 {
		o.TextRatePerSec = 300
	}
	if o.MediaRatePerSec <= 0 {
		o.MediaRatePerSec = 10
	}
	if o.ConversationsRatePerSec <= 0 {
		o.ConversationsRatePerSec = 2
	}
	if o.MediaTTL <= 0 {
		o.MediaTTL = 24 * time.Hour
	}
	if o.MediaFetchTimeout <= 0 {
		o.MediaFetchTimeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		client = &c
	}
	client.Timeout = o.DeliveryTimeout
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:        o,
		log:         log,
		client:      client,
		ctx:         ctx,
		cancel:      cancel,
		closeCh:     make(chan struct{}),
		changed:     make(chan struct{}),
		nowFn:       time.Now,
		webhookURL:  o.WebhookURL,
		echoFirst:   o.EchoBeforeResponse,
		byPageID:    map[string]*Page{},
		byIGID:      map[string]*Page{},
		byToken:     map[string]*Page{},
		badTokens:   map[string]int{},
		users:       map[string]map[string]*userState{},
		userOrder:   map[string][]string{},
		sent:        map[string][]SentMessage{},
		attachments: map[string]string{},
		buckets:     map[string]*bucket{},
		queues:      map[string]*acctQueue{},
		disabled:    map[string]bool{},
		oauth:       newOAuthState(),
		publicURL:   strings.TrimSuffix(o.PublicURL, "/"),
		media:       newMediaState(),
		routing:     newRoutingState(),
		convs:       newConvState(),
	}
	s.mediaClient = s.newMediaClient()
	return s
}

// Close stops background delivery goroutines and aborts in-flight deliveries
// and fault delays. Queued deliveries are abandoned.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closeCh)
	s.cancel()
	s.notifyLocked()
	s.mu.Unlock()
	s.wg.Wait()
	s.mediaClient.CloseIdleConnections()
}

// Handler serves the Graph API (any /vNN.N/ prefix, or none), the media CDN
// under /ig_messaging_cdn/ and the control API under /sandbox/.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.learnPublicURL(r)
		if r.URL.Path == "/ig_messaging_cdn" || r.URL.Path == "/ig_messaging_cdn/" {
			s.serveCDN(w, r)
			return
		}
		if r.URL.Path == "/sandbox" || strings.HasPrefix(r.URL.Path, "/sandbox/") {
			s.serveControl(w, r)
			return
		}
		s.serveGraph(w, r)
	})
}

// SetWebhookURL sets (or changes) the webhook callback URL and starts
// delivering anything queued.
func (s *Server) SetWebhookURL(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = url
	for key := range s.queues {
		s.kickLocked(key)
	}
}

// SetEchoBeforeResponse toggles the echo-before-response race for all sends.
func (s *Server) SetEchoBeforeResponse(on bool) {
	s.mu.Lock()
	s.echoFirst = on
	s.mu.Unlock()
}

// ---- clock ----

// SetNow replaces the emulated clock's time source (nil = time.Now) and
// resets any AdvanceClock offset.
func (s *Server) SetNow(f func() time.Time) {
	if f == nil {
		f = time.Now
	}
	s.mu.Lock()
	s.nowFn = f
	s.offset = 0
	s.mu.Unlock()
}

// AdvanceClock moves the emulated clock forward by d.
func (s *Server) AdvanceClock(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// Now returns the emulated time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return s.nowFn().Add(s.offset) }

// ---- pages and users ----

// AddPage registers (or replaces) a Page and its IG account. An empty
// AccessToken gets a generated "EAAG…" token; read it back with Pages().
func (s *Server) AddPage(p Page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addPageLocked(p)
}

func (s *Server) addPageLocked(p Page) *Page {
	if p.AccessToken == "" {
		p.AccessToken = "EAAG" + s.randToken(60)
	}
	if old, ok := s.byPageID[p.PageID]; ok {
		delete(s.byIGID, old.IGAccountID)
		delete(s.byToken, old.AccessToken)
		*old = p
		if p.IGAccountID != "" {
			s.byIGID[p.IGAccountID] = old
		}
		s.byToken[p.AccessToken] = old
		return old
	}
	pp := &p
	s.pages = append(s.pages, pp)
	s.byPageID[p.PageID] = pp
	if p.IGAccountID != "" { // pages without a linked IG account are allowed (§8.1)
		s.byIGID[p.IGAccountID] = pp
	}
	s.byToken[p.AccessToken] = pp
	s.notifyLocked()
	return pp
}

// Pages returns the registered pages (with their tokens), in insertion order.
func (s *Server) Pages() []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Page, 0, len(s.pages))
	for _, p := range s.pages {
		out = append(out, *p)
	}
	return out
}

// InvalidateToken makes a page token fail with code 190 and the given
// subcode (e.g. 460 password changed, 463 expired; 0 = no subcode), §10.
func (s *Server) InvalidateToken(token string, subcode int) {
	s.mu.Lock()
	s.badTokens[token] = subcode
	s.mu.Unlock()
}

// AddUser registers a customer of an IG account. A user added this way has
// not messaged yet: sends to them fail (window closed) and the profile API
// answers code 230 until they send something.
func (s *Server) AddUser(igAccountID string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(igAccountID, u)
}

func (s *Server) addUserLocked(acct string, u User) *userState {
	m := s.users[acct]
	if m == nil {
		m = map[string]*userState{}
		s.users[acct] = m
	}
	if us, ok := m[u.IGSID]; ok {
		us.User = u
		return us
	}
	us := &userState{User: u}
	m[u.IGSID] = us
	s.userOrder[acct] = append(s.userOrder[acct], u.IGSID)
	s.notifyLocked()
	return us
}

// SetUserUnavailable marks a known user as "isn't available right now"
// (blocked the business, deactivated…): sends fail with 551/1545041 and the
// profile is not viewable.
// Spec gap: the profile error for such users is not documented; 100/33 is used.
func (s *Server) SetUserUnavailable(igAccountID, igsid string, unavailable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	us := s.ensureUserLocked(igAccountID, igsid)
	us.unavailable = unavailable
}

// ensureUserLocked returns the user, creating it with a generated name.
func (s *Server) ensureUserLocked(acct, igsid string) *userState {
	if us, ok := s.users[acct][igsid]; ok {
		return us
	}
	n := s.seq.Add(1)
	first := firstNames[int(n)%len(firstNames)]
	last := lastNames[int(n/7)%len(lastNames)]
	us := s.addUserLocked(acct, User{
		IGSID:    igsid,
		Name:     first + " " + last,
		Username: strings.ToLower(first+"."+last) + strconv.FormatUint(n, 10),
	})
	us.generated = true
	return us
}

// newIGSIDLocked generates a fresh 16-digit IGSID.
func (s *Server) newIGSIDLocked() string {
	for {
		n := s.seq.Add(1)
		id := fmt.Sprintf("68%06d%08d", n%1000000, s.randUint()%100000000)
		found := false
		for _, m := range s.users {
			if _, ok := m[id]; ok {
				found = true
			}
		}
		if !found {
			return id
		}
	}
}

// recordUserActivityLocked marks a window opener (message, postback,
// referral) from the user at ts.
func (s *Server) recordUserActivityLocked(acct, igsid string, ts time.Time) {
	us := s.ensureUserLocked(acct, igsid)
	us.consented = true
	if ts.After(us.lastMsg) {
		us.lastMsg = ts
	}
	s.notifyLocked()
}

var firstNames = []string{"Ana", "Bruno", "Carla", "Diego", "Elena", "Filipe", "Greta", "Hugo", "Ines", "Joao", "Katja", "Lars"}
var lastNames = []string{"Costa", "Silva", "Berg", "Novak", "Rossi", "Lind", "Moreau", "Tanaka"}

// ---- change notification ----

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated under s.mu) holds, ctx ends or the
// server is closed.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		closed := s.closed
		s.mu.Unlock()
		if ok {
			return nil
		}
		if closed {
			return errors.New("meta: server closed")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// sleep waits d, returning false if ctx ended or the server closed first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closeCh:
		return false
	}
}

// ---- ids ----

// newMID builds an Instagram-style message id: base64 of
// "ig_message_item:1:IGMessageThread:<igid>:<thread>:<item>" (~160 chars,
// starting "aWdf", §3.1). URL-safe alphabet, no padding.
func (s *Server) newMID(acct, igsid string) string {
	thread := threadNumber(acct, igsid)
	n := s.seq.Add(1)
	item := fmt.Sprintf("32%019d%017d", s.randUint()%1e19, (n*1000003+s.randUint()%1000)%1e17)
	raw := "ig_message_item:1:IGMessageThread:" + acct + ":" + thread + ":" + item
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// threadNumber is the IGMessageThread number of (account, user) inside mids
// and conversation ids: derived, not random, so the same pair always gets the
// same thread and ids stay repeatable with Options.Random.
func threadNumber(acct, igsid string) string {
	h := fnv.New64a()
	h.Write([]byte(acct + "/" + igsid))
	return fmt.Sprintf("340282366841710300949128%015d", h.Sum64()%1e15)
}

func (s *Server) newNumericID(prefix string) string {
	n := s.seq.Add(1)
	return fmt.Sprintf("%s%07d%06d", prefix, n%10000000, s.randUint()%1000000)
}

func (s *Server) randToken(n int) string {
	b := make([]byte, n)
	s.randRead(b)
	out := base64.RawURLEncoding.EncodeToString(b)
	out = strings.NewReplacer("-", "Z", "_", "x").Replace(out)
	return out[:n]
}

func (s *Server) fbtraceID() string { return "A" + s.randToken(10) }

func (s *Server) randUint() uint64 {
	var b [8]byte
	s.randRead(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// randRead fills b from Options.Random (crypto/rand when unset).
func (s *Server) randRead(b []byte) {
	if s.opts.Random == nil {
		_, _ = rand.Read(b)
		return
	}
	s.randMu.Lock()
	defer s.randMu.Unlock()
	_, _ = io.ReadFull(s.opts.Random, b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
