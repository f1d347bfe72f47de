package ingress

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/igdirect/bridge/mediaurl"
	"github.com/igdirect/bridge/store"
)

// serveMedia serves an agent's file to Meta under the signed, short-lived URL the worker
// put in the Send API call (GET /media/{token}/{name}). The file comes from PostgreSQL,
// where the worker stored it, so any ingress replica can serve it. A wrong or expired
// token gets 403, a file past its time 404.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	id, err := mediaurl.VerifyWith(s.mediaKeys, mux.Vars(r)["token"], time.Now())
	if err != nil {
		status := http.StatusForbidden
		if errors.Is(err, mediaurl.ErrMalformed) {
			status = http.StatusNotFound
		}
		writeError(w, status, "media link not valid: "+err.Error())
		return
	}
	m, err := s.store.GetMedia(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "media no longer available")
		return
	} else if err != nil {
		writeError(w, http.StatusServiceUnavailable, "media not readable now")
		return
	}
	w.Header().Set("Content-Type", m.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(m.Data)
}
