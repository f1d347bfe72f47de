package ingress

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/igdirect/bridge/mediaurl"
	"github.com/igdirect/bridge/store"
)

// serveMedia serves an agent's file to Meta under the signed, short-lived URL the worker
// put in the Send API call (GET /media/{token}/{name}). The file comes from PostgreSQL,
// where the worker stored it, so any ingress replica can serve it. A malformed token (or a
// name that is not the file's) gets 404, a wrong or expired one 403, a file past its time
// 404. HEAD, Range and conditional requests are answered by http.ServeContent.
//
// The answer is made inert for a browser that is sent the link: it is a download
// (Content-Disposition: attachment), never sniffed, and rendered, if at all, in a
// sandbox with nothing allowed (CSP), so a file an agent uploaded cannot run script on
// ingress's origin, where the OAuth pages live.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	id, err := mediaurl.VerifyWith(s.mediaKeys, vars["token"], time.Now())
	if err != nil {
		status := http.StatusForbidden
		if errors.Is(err, mediaurl.ErrMalformed) {
			status = http.StatusNotFound
		}
		writeError(w, status, "media link not valid: "+err.Error())
		return
	}
	if s.store == nil {
		writeError(w, http.StatusServiceUnavailable, "media not readable now")
		return
	}
	m, err := s.store.GetMedia(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && vars["name"] != m.Filename {
		writeError(w, http.StatusNotFound, "media no longer available")
		return
	} else if err != nil {
		writeError(w, http.StatusServiceUnavailable, "media not readable now")
		return
	}
	h := w.Header()
	h.Set("Content-Type", m.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Filename}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "private, max-age=300")
	http.ServeContent(w, r, m.Filename, time.Time{}, bytes.NewReader(m.Data))
}
