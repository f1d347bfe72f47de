// Package ingress is the bridge's HTTP front door. It is deliberately thin: it verifies
// each request (HMAC signature, shared tokens), parses it, and hands every event to
// Temporal before answering. It never calls Rocket.Chat or Meta itself. If Temporal cannot
// take an event, it answers 5xx so that the sender retries: an event is either in Temporal
// or still at the sender.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/ingress/console"
	"github.com/igdirect/bridge/internal/hostcheck"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/internal/metrics"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Server holds the dependencies of the handlers.
type Server struct {
	cfg      *config.Config
	temporal client.Client
	store    *store.Store // admin API and readiness; may be nil in tests of the webhooks
	// visitorKeys check visitor tokens: the current key first, then those of
	// TOKEN_ENCRYPTION_OLD_KEYS, so rooms opened before a rotation still map back.
	visitorKeys [][]byte
	log         *slog.Logger
	// unknownKinds remembers the event kinds already logged as not handled.
	unknownKinds sync.Map
	// ring derives OAuth states from workflow references (SetKeyRing).
	ring *keys.Ring
	// mediaKeys check the signed URLs of agents' files served to Meta (see media.go).
	mediaKeys [][]byte
	// metrics counts webhooks (see observability.go); nil: not measured.
	metrics *metrics.Registry
	// codec serves the payload codec endpoint (codec.go); nil: off.
	codec http.Handler
	// adminWaitTime bounds how long an admin operation waits for its workflow (0 = the
	// default, below Rocket.Chat's outgoing-integration timeout).
	adminWaitTime time.Duration
	// activity counts webhook and command calls for the doctor (activity.go).
	activity *activityRecorder
	// console serves the web console on the public listener (console.go); nil without a
	// database.
	console http.Handler
	// bodies bounds the memory of webhook bodies read before their signature is checked
	// (bodyBudget); bodyWait is how long a read waits for its share (0 = defaultBodyWait).
	bodies   *bodyBudget
	bodyWait time.Duration
	// roles keeps Rocket.Chat's recent answers about users' roles (rights.go).
	roles rolesCache
}

// New builds the server. temporal may be a lazy client: handlers answer 503 while Temporal
// is unreachable.
func New(cfg *config.Config, tc client.Client, st *store.Store, visitorKey []byte, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, temporal: tc, store: st, visitorKeys: [][]byte{visitorKey}, log: log, activity: newActivityRecorder(),
		bodies: newBodyBudget(cfg.MaxWebhookBody)}
	if st != nil {
		s.console = s.newConsole().Handler()
	}
	return s
}

// SetKeyRing sets every key ingress checks with from the key ring: visitor tokens and
// media URLs of the current and the old keys. Ingress gets no token-sealing key for
// reading: its store is seal-only.
func (s *Server) SetKeyRing(r *keys.Ring) {
	s.ring = r
	s.visitorKeys = r.Keys(keys.VisitorToken)
	s.mediaKeys = r.Keys(keys.MediaURL)
}

// oauthState derives the OAuth state an Authorization workflow refers to.
func (s *Server) oauthState(ref workflows.OAuthStateRef) (string, error) {
	if s.ring == nil {
		return "", errors.New("no keys configured")
	}
	m, ok := s.ring.ByIDString(ref.KeyID)
	if !ok || !identity.ValidOAuthRef(ref.Ref) {
		return "", errors.New("unknown key id or malformed reference")
	}
	return identity.OAuthState(m.Key(keys.OAuthState), ref.Ref), nil
}

// Handler returns the public routes: what Meta, Rocket.Chat and admins' browsers must
// reach. Everything else (admin API, metrics, readiness, the codec endpoint) is on
// AdminHandler, served on ADMIN_ADDR, which is loopback by default. A reverse proxy in
// front of INGRESS_ADDR should forward exactly these paths (README, "HTTP endpoints").
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.Use(s.measure)
	r.HandleFunc("/media/{token}/{name}", s.serveMedia).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/webhooks/instagram", s.verifyInstagram).Methods(http.MethodGet)
	r.HandleFunc("/webhooks/instagram", s.receiveInstagram).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/rocketchat", s.receiveRocketChat).Methods(http.MethodPost)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	s.addPublicAccountRoutes(r) // OAuth and /rocketchat/command (admin_accounts.go)
	if s.console != nil {
		r.PathPrefix(console.Prefix + "/").Handler(s.console)
		r.Path(console.Prefix).Handler(s.console)
	}
	notFound(r)
	return r
}

// PublicPaths are the path prefixes Handler serves: the allow-list for a reverse proxy
// in front of the public listener (README).
var PublicPaths = []string{"/webhooks/instagram", "/webhooks/rocketchat", "/rocketchat/command",
	workflows.OAuthStartPath, workflows.OAuthCallbackPath, "/media/", "/healthz", console.Prefix + "/"}

// AdminHandler returns the internal routes, for operators and monitoring only: the admin
// API (bearer ADMIN_API_TOKEN), /metrics, /readyz, /healthz and the payload codec
// endpoint the Temporal UI decrypts histories with (codec.go). Only requests addressed to
// an IP address, localhost or ADMIN_HOSTS are answered (DNS rebinding; package hostcheck).
func (s *Server) AdminHandler() http.Handler {
	r := mux.NewRouter()
	r.Handle("/metrics", s.metricsHandler()).Methods(http.MethodGet)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	s.addCodecRoutes(r)
	admin := r.PathPrefix("/admin/api").Subrouter()
	admin.Use(s.requireAdmin)
	admin.HandleFunc("/pages", s.listPages).Methods(http.MethodGet)
	admin.HandleFunc("/pages/{page}", s.connectPage).Methods(http.MethodPut)
	admin.HandleFunc("/pages/{page}", s.getPage).Methods(http.MethodGet)
	admin.HandleFunc("/pages/{page}", s.editPage).Methods(http.MethodPatch)
	s.addAdminAccountRoutes(admin) // accounts and settings (admin_accounts.go)
	notFound(r)
	return hostcheck.Handler(s.cfg.AdminHostNames(), "ADMIN_HOSTS", r)
}

func notFound(r *mux.Router) {
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether both backends the ingress depends on are reachable.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"temporal": "ok", "database": "ok"}
	status := http.StatusOK
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = "unreachable", http.StatusServiceUnavailable
	}
	if s.store != nil {
		if err := s.store.Ping(ctx); err != nil {
			checks["database"], status = "unreachable", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, checks)
}

// secretEqual compares a presented secret with the configured one in constant time, as
// digests (config.Secret.Matches). An unconfigured secret never matches.
func secretEqual(presented string, configured config.Secret) bool {
	return configured.Matches(presented)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with {"error": "..."}; every refusal says what was wrong.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// NewHTTPServer is how both listeners serve: with bounds on every phase of a request, so
// a client that sends its headers or body byte by byte (slowloris) holds a connection for
// seconds, not forever. Bodies are also capped by each handler.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
