package ingress

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"go.temporal.io/sdk/converter"
)

// The payload codec endpoint (POST /codec/decode, /codec/encode), on the admin listener:
// the Temporal UI and CLI send it the encrypted payloads of a history and get them back
// readable (temporal-go.md §4.4). It decrypts anything it is given, so it is closed
// unless CODEC_AUTH_TOKEN is set, and then answers only with that token — as a bearer
// token (CLI: --codec-auth "Bearer …") or as the first path segment, for the UI, which
// cannot add headers of its own: --ui-codec-endpoint http://127.0.0.1:9081/codec/<token>
// (anyone who can open that UI can read conversations; see README). Browsers may call it
// only from the UI's origins (CODEC_CORS_ORIGINS).

// maxCodecBody bounds one request: the UI sends a page of history events at a time.
const maxCodecBody = 8 << 20

// SetPayloadCodec enables the codec endpoint with the processes' codec.
func (s *Server) SetPayloadCodec(c converter.PayloadCodec) {
	s.codec = converter.NewPayloadCodecHTTPHandler(c)
}

func (s *Server) addCodecRoutes(r *mux.Router) {
	r.PathPrefix("/codec/").HandlerFunc(s.serveCodec)
}

func (s *Server) serveCodec(w http.ResponseWriter, r *http.Request) {
	if s.codec == nil || s.cfg.CodecAuthToken.Value() == "" {
		writeError(w, http.StatusNotFound, "the codec endpoint is off: set CODEC_AUTH_TOKEN")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !slices.Contains(s.cfg.CodecOrigins(), origin) {
			s.log.Warn("Codec request from an origin not in CODEC_CORS_ORIGINS refused", "origin", origin, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "origin not allowed: add it to CODEC_CORS_ORIGINS")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Max-Age", "600")
	}
	if r.Method == http.MethodOptions { // CORS preflight: browsers send no credentials
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "POST payloads to /codec/decode or /codec/encode")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/codec/")
	token, op, withToken := strings.Cut(rest, "/")
	if !withToken {
		token, op = "", rest
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = bearer
		}
	}
	if op != "decode" && op != "encode" {
		writeError(w, http.StatusNotFound, "no such endpoint: use /codec/decode or /codec/encode")
		return
	}
	if !secretEqual(token, s.cfg.CodecAuthToken) {
		s.log.Warn("Codec request without the right token refused", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="codec"`)
		writeError(w, http.StatusUnauthorized, "the codec endpoint needs CODEC_AUTH_TOKEN")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCodecBody)
	// The SDK's handler dispatches on the path suffix; hand it the path without the token.
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/codec/" + op
	r2.URL.RawPath = ""
	s.codec.ServeHTTP(w, r2)
}
