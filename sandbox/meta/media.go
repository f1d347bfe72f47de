package meta

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Media CDN and attachment fetching.
//
// Inbound (§3.2, §3.4, trap 14): customer media is stored by the emulator and
// referenced from webhooks by signed, expiring CDN URLs on the emulator's own
// host, mirroring lookaside.fbsbx.com's form:
//
//	GET /ig_messaging_cdn/?asset_id=<id>&signature=<sig>
//
// 200 with the bytes and Content-Type while valid; 403 once the asset is older
// than Options.MediaTTL (emulated clock) or when the signature does not match;
// 404 after DeleteMedia (deleted story / unsent message).
//
// Outbound (§4.2, trap 27): like Meta, the Send API and the attachment upload
// API fetch an attachment's payload.url before accepting the call, and check
// the fetched media's Content-Type and size against the §4.2 table. The bytes
// are recorded (SentMessage.Media, SentMedia) and stored as a CDN asset that
// the echo's attachment URL points at.

// Media is a customer attachment for UserSendsMedia / NewMediaAttachment.
type Media struct {
	// Type is the webhook attachment type: image, video, audio, file,
	// story_mention, ig_reel, reel, share, ig_post, ig_story, ephemeral,
	// unsupported_type, … (§3.2; open-ended, trap 12).
	Type string
	// ContentType served by the CDN ("" = sniffed from Data).
	ContentType string
	// Name is a file name, served as Content-Disposition by the CDN (it is
	// not part of the webhook: Instagram sends only URLs).
	Name string
	Data []byte
	// Title is the reel title (ig_reel / reel payload.title).
	Title string
}

// SentMedia is one attachment of an accepted Send API call as Meta fetched it.
type SentMedia struct {
	Type         string `json:"type"`                    // attachment type of the send: image, video, audio, file
	URL          string `json:"url,omitempty"`           // the payload.url that was fetched ("" when sent by attachment_id of a filedata upload)
	AttachmentID string `json:"attachment_id,omitempty"` // when sent by attachment_id
	ContentType  string `json:"content_type"`            // the accepted media type (response header, or sniffed)
	Data         []byte `json:"-"`
	Size         int    `json:"size"`
	AssetID      string `json:"asset_id"` // CDN asset holding the bytes; the echo's URL points at it
}

const (
	mediaCDNPath    = "/ig_messaging_cdn/"
	maxImageBytes   = 8 << 20  // §4.2 "8 MB"
	maxMediaBytes   = 25 << 20 // §4.2 "25 MB" (video, audio, file)
	maxMediaFetches = 10       // redirects followed by the fetcher
	fetcherUA       = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
)

// mediaTypes is the §4.2 media table: accepted Content-Types per attachment
// type. Spec gap: "8 MB"/"25 MB" are taken as MiB; "mp4" audio is accepted as
// audio/mp4 or video/mp4 (an mp4 container); the usual aliases of each
// format's media type are accepted.
var mediaTypes = map[string][]string{
	"image": {"image/png", "image/jpeg", "image/jpg", "image/pjpeg"},
	"video": {"video/mp4", "video/ogg", "application/ogg", "video/x-msvideo", "video/avi", "video/msvideo", "video/quicktime", "video/webm"},
	"audio": {"audio/aac", "audio/x-aac", "audio/aacp", "audio/mp4", "audio/x-m4a", "audio/m4a", "video/mp4",
		"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"},
	"file": {"application/pdf"},
}

// uploadOnlyTypes are accepted by the attachment upload API only: §4.2 "gif
// via upload API" ([IGAU]). Spec gap: a GIF sent directly by URL on the Send
// API is rejected like any other unsupported type.
var uploadOnlyTypes = map[string][]string{"image": {"image/gif"}}

func mediaLimit(typ string) int {
	if typ == "image" {
		return maxImageBytes
	}
	return maxMediaBytes
}

type mediaAsset struct {
	contentType, name string
	data              []byte
	stored            time.Time // emulated clock; the URL expires at stored+MediaTTL
	deleted           bool
}

type mediaState struct {
	assets  map[string]*mediaAsset
	bySend  map[string][]SentMedia // message id -> fetched attachments
	uploads map[string]string      // attachment_id -> asset id
}

func newMediaState() mediaState {
	return mediaState{assets: map[string]*mediaAsset{}, bySend: map[string][]SentMedia{}, uploads: map[string]string{}}
}

// ---- public URL ----

// SetPublicURL sets the base URL ("http://127.0.0.1:9091") under which
// Handler() is reachable; CDN media URLs are built on it. Without it the base
// is Options.PublicURL, or else learned from the first request served.
func (s *Server) SetPublicURL(u string) {
	s.mu.Lock()
	s.publicURL = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

// learnPublicURL remembers the first request's scheme and host as the base
// URL when none was configured.
func (s *Server) learnPublicURL(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publicURL != "" || r.Host == "" {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	s.publicURL = scheme + "://" + r.Host
}

// ---- assets ----

func (s *Server) mediaSignature(assetID string) string {
	m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
	m.Write([]byte("ig_messaging_cdn:" + assetID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:32]
}

// storeMediaLocked stores bytes as a new CDN asset and returns its id.
func (s *Server) storeMediaLocked(contentType, name string, data []byte) string {
	if contentType == "" {
		contentType = sniff(data)
	}
	var id string
	for {
		id = fmt.Sprintf("179%014d", (s.seq.Add(1)*7919+s.randUint()%1000)%1e14)
		if _, dup := s.media.assets[id]; !dup {
			break
		}
	}
	s.media.assets[id] = &mediaAsset{contentType: contentType, name: name, data: append([]byte(nil), data...), stored: s.nowLocked()}
	return id
}

func (s *Server) mediaURLLocked(assetID string) string {
	base := s.publicURL
	if base == "" {
		// Spec gap (emulator plumbing): nothing tells the emulator its own
		// address before it served a request; the URL then uses Meta's host
		// and will not be fetchable. Call SetPublicURL.
		s.log.Warn("meta: media URL built before the public URL is known; call SetPublicURL", "asset_id", assetID)
		base = "https://lookaside.fbsbx.com"
	}
	return base + mediaCDNPath + "?asset_id=" + assetID + "&signature=" + s.mediaSignature(assetID)
}

// MediaURL returns the signed CDN URL of a stored asset (the same URL for
// every call; it expires MediaTTL after the asset was stored).
func (s *Server) MediaURL(assetID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mediaURLLocked(assetID)
}

// DeleteMedia deletes a stored asset (a deleted story, an unsent message's
// media): its URL answers 404 from now on. Reports whether it existed.
func (s *Server) DeleteMedia(assetID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.media.assets[assetID]
	if a == nil || a.deleted {
		return false
	}
	a.deleted, a.data = true, nil
	return true
}

// NewMediaAttachment stores m's bytes and returns the webhook attachment
// object for it (§3.2) and the asset id, without sending anything. Types
// without content (ephemeral, unsupported_type) store nothing and return "".
func (s *Server) NewMediaAttachment(m Media) (attachment map[string]any, assetID string) {
	typ := m.Type
	if typ == "" {
		typ = "image"
	}
	switch typ {
	case "ephemeral":
		// §3.15: disappearing media is not delivered as content.
		return map[string]any{"type": typ}, ""
	case "unsupported_type":
		// Spec gap: payload shape UNCERTAIN (§3.2); {"url":null} as in the
		// spec's example.
		return map[string]any{"type": typ, "payload": map[string]any{"url": nil}}, ""
	}
	s.mu.Lock()
	assetID = s.storeMediaLocked(m.ContentType, m.Name, m.Data)
	u := s.mediaURLLocked(assetID)
	s.mu.Unlock()
	payload := map[string]any{"url": u}
	switch typ {
	case "ig_story":
		// Spec gap: §3.2 — ig_story uses payload.story_media_url (UNCERTAIN,
		// from Chatwoot's builder) instead of url.
		payload = map[string]any{"story_media_url": u}
	case "ig_reel", "reel":
		// §3.2: "the title, url, and video id for the reel"; the field name
		// reel_video_id is UNCERTAIN.
		if m.Title != "" {
			payload["title"] = m.Title
		}
		payload["reel_video_id"] = s.newNumericID("180")
	}
	return map[string]any{"type": typ, "payload": payload}, assetID
}

// UserSendsMedia is a customer sending one message with attachments (one
// message may carry several, §3.2): the bytes are stored on the CDN, the
// message event's attachments[] carry their CDN URLs, the event is enqueued
// like UserSends (window, standby). Returns the mid.
func (s *Server) UserSendsMedia(igAccountID, igsid string, attachments ...Media) string {
	atts := make([]any, 0, len(attachments))
	for _, m := range attachments {
		a, _ := s.NewMediaAttachment(m)
		atts = append(atts, a)
	}
	return s.UserSends(igAccountID, igsid, map[string]any{"attachments": atts})
}

// SentMedia returns the attachments Meta fetched for an accepted Send API
// call (by its message_id), in request order; nil if it had none.
func (s *Server) SentMedia(messageID string) []SentMedia {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMedia(nil), s.media.bySend[messageID]...)
}

// ---- CDN ----

// serveCDN implements GET|HEAD /ig_messaging_cdn/?asset_id=&signature=.
// Spec gap: the real CDN's error bodies are not documented; short plain-text
// bodies are used. Faults with Endpoint "cdn" apply (status and Body).
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if f := s.takeExactFault("cdn"); f != nil {
		if !s.sleep(r.Context(), f.Delay) {
			return
		}
		if f.fails() {
			status := f.HTTPStatus
			if status == 0 {
				status = http.StatusInternalServerError
			}
			body := f.Body
			if body == "" {
				body = http.StatusText(status)
			}
			http.Error(w, body, status)
			return
		}
	}
	q := r.URL.Query()
	id, sig := q.Get("asset_id"), q.Get("signature")
	if id == "" || sig == "" {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	if !hmac.Equal([]byte(sig), []byte(s.mediaSignature(id))) {
		http.Error(w, "URL signature mismatch", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	a := s.media.assets[id]
	now := s.nowLocked()
	var data []byte
	var ct, name string
	var stored time.Time
	found, expired := a != nil && !a.deleted, false
	if found {
		data, ct, name, stored = a.data, a.contentType, a.name, a.stored
		expired = !now.Before(a.stored.Add(s.opts.MediaTTL))
	}
	s.mu.Unlock()
	switch {
	case !found:
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	case expired:
		http.Error(w, "URL signature expired", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-transform, private, max-age="+strconv.Itoa(int(stored.Add(s.opts.MediaTTL).Sub(now).Seconds())))
	h.Set("Access-Control-Allow-Origin", "*")
	if name != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	}
	http.ServeContent(w, r, "", stored, bytes.NewReader(data))
}

// takeExactFault is takeFault for endpoints outside the Graph API, which "*"
// faults do not cover.
func (s *Server) takeExactFault(endpoint string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Endpoint != endpoint {
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

// ---- outbound fetching ----

var errPrivateAddr = errors.New("address is not publicly reachable")

func (s *Server) newMediaClient() *http.Client {
	c := &http.Client{}
	if s.opts.MediaHTTPClient != nil {
		cp := *s.opts.MediaHTTPClient
		c = &cp
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		if s.opts.RejectPrivateMediaURLs {
			// Resolved addresses are checked too: a public name pointing at
			// 127.0.0.1 is as unreachable for Meta as the literal address.
			d := &net.Dialer{Timeout: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
				host, _, _ := net.SplitHostPort(address)
				if isPrivateHost(host) {
					return errPrivateAddr
				}
				return nil
			}}
			tr.DialContext = d.DialContext
		}
		c.Transport = tr
	}
	c.Timeout = s.opts.MediaFetchTimeout
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxMediaFetches {
			return fmt.Errorf("stopped after %d redirects", maxMediaFetches)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to unsupported scheme %q", req.URL.Scheme)
		}
		if s.opts.RejectPrivateMediaURLs && isPrivateHost(req.URL.Hostname()) {
			return fmt.Errorf("redirect to %s: %w", req.URL.Hostname(), errPrivateAddr)
		}
		return nil
	}
	return c
}

func errFetch(detail string) *graphError {
	return gerr(400, 100, 2018047, "OAuthException", "(#100) Upload attachment failure. Failed to fetch the media from the URL: "+detail)
}

func errMediaType(typ, ct string, viaUpload bool) *graphError {
	allowed := mediaTypes[typ]
	if viaUpload {
		allowed = append(slices.Clone(allowed), uploadOnlyTypes[typ]...)
	}
	if ct == "" {
		ct = "(none)"
	}
	// Spec gap: the error for a wrong media type is undocumented; the
	// upload-failure code 100/2018047 is used with a descriptive message.
	return gerr(400, 100, 2018047, "OAuthException", fmt.Sprintf(
		"(#100) Upload attachment failure. The media's Content-Type %s is not supported for attachment type %s (supported: %s)",
		ct, typ, strings.Join(allowed, ", ")))
}

func errMediaSize(typ string, size int) *graphError {
	return gerr(400, 100, 2018109, "OAuthException", fmt.Sprintf(
		"(#100) Attachment size exceeds allowable limit: %s attachments may be at most %d MB (got %d bytes)", typ, mediaLimit(typ)>>20, size))
}

// checkMedia validates fetched or uploaded bytes against the §4.2 table and
// returns the accepted media type. A missing or generic
// (application/octet-stream) Content-Type is sniffed from the bytes.
// Spec gap: Meta's behaviour for octet-stream is undocumented; sniffing it is
// the lenient choice, a specific but wrong type is rejected.
func checkMedia(typ, declared string, data []byte, viaUpload bool) (string, *graphError) {
	if len(data) > mediaLimit(typ) {
		return "", errMediaSize(typ, len(data))
	}
	if len(data) == 0 {
		return "", errFetch("the media is empty")
	}
	ct := ""
	if declared != "" {
		if mt, _, err := mime.ParseMediaType(declared); err == nil {
			ct = strings.ToLower(mt)
		} else {
			ct = strings.ToLower(strings.TrimSpace(declared))
		}
	}
	if ct == "" || ct == "application/octet-stream" || ct == "binary/octet-stream" {
		ct = sniff(data)
	}
	if slices.Contains(mediaTypes[typ], ct) || (viaUpload && slices.Contains(uploadOnlyTypes[typ], ct)) {
		return ct, nil
	}
	return "", errMediaType(typ, declared, viaUpload)
}

func sniff(data []byte) string {
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	return mt
}

// fetchMedia downloads an attachment URL like Meta's fetcher and validates it
// for the attachment type.
func (s *Server) fetchMedia(ctx context.Context, rawURL, typ string, viaUpload bool) (*SentMedia, *graphError) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errFetch("not an http(s) URL")
	}
	if s.opts.RejectPrivateMediaURLs && isPrivateHost(u.Hostname()) {
		return nil, errFetch(u.Hostname() + " is not publicly reachable")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errFetch(err.Error())
	}
	req.Header.Set("User-Agent", fetcherUA)
	req.Header.Set("Accept", "*/*")
	resp, err := s.mediaClient.Do(req)
	if err != nil {
		s.log.Warn("meta: attachment fetch failed", "url", rawURL, "err", err)
		return nil, errFetch(err.Error())
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		s.log.Warn("meta: attachment fetch failed", "url", rawURL, "status", resp.StatusCode)
		return nil, errFetch("HTTP " + strconv.Itoa(resp.StatusCode))
	}
	limit := mediaLimit(typ)
	if resp.ContentLength > int64(limit) {
		return nil, errMediaSize(typ, int(resp.ContentLength))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, errFetch(err.Error())
	}
	ct, e := checkMedia(typ, resp.Header.Get("Content-Type"), data, viaUpload)
	if e != nil {
		return nil, e
	}
	return &SentMedia{Type: typ, URL: rawURL, ContentType: ct, Data: data, Size: len(data)}, nil
}

// pendingMedia is an outgoing attachment whose media is fetched once the
// send passed every other check.
type pendingMedia struct {
	typ, url, attachmentID string
	payload                map[string]any // the echo attachment's payload; its url is set to the CDN copy
}

// fetchSendMedia fetches (or looks up, for attachment_id) every attachment of
// an accepted-so-far send, stores the bytes as CDN assets and records them on
// sm.
func (s *Server) fetchSendMedia(ctx context.Context, sm *SentMessage) *graphError {
	var got []SentMedia
	for _, p := range sm.pending {
		var m *SentMedia
		if p.url != "" {
			var e *graphError
			if m, e = s.fetchMedia(ctx, p.url, p.typ, false); e != nil {
				return e
			}
			s.mu.Lock()
			m.AssetID = s.storeMediaLocked(m.ContentType, path.Base(urlPath(p.url)), m.Data)
			p.payload["url"] = s.mediaURLLocked(m.AssetID)
			s.mu.Unlock()
		} else {
			s.mu.Lock()
			assetID := s.media.uploads[p.attachmentID]
			a := s.media.assets[assetID]
			if a != nil && !a.deleted {
				m = &SentMedia{Type: p.typ, AttachmentID: p.attachmentID, ContentType: a.contentType, Data: a.data, Size: len(a.data), AssetID: assetID}
				p.payload["url"] = s.mediaURLLocked(assetID)
			}
			s.mu.Unlock()
			if m == nil {
				continue
			}
		}
		got = append(got, *m)
	}
	sm.pending = nil
	sm.media = got
	if len(got) > 0 {
		sm.Media, sm.MediaType = got[0].Data, got[0].ContentType
	}
	return nil
}

func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// nonASCIIName reports whether a file name has non-ASCII characters, which
// the upload API does not support (§4.2, trap 27).
func nonASCIIName(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// uploadMedia fetches or reads the media of an attachment upload request
// (§4.3) and stores it; returns the asset id.
func (s *Server) uploadMedia(ctx context.Context, r *http.Request, typ, rawURL string) (string, *graphError) {
	var data []byte
	var ct, name string
	if rawURL != "" {
		name = path.Base(urlPath(rawURL))
		if nonASCIIName(name) {
			return "", errParam("Upload attachment failure: file names with non-ASCII characters are not supported (" + name + ")")
		}
		m, e := s.fetchMedia(ctx, rawURL, typ, true)
		if e != nil {
			return "", e
		}
		data, ct = m.Data, m.ContentType
	} else {
		fh := r.MultipartForm.File["filedata"][0]
		name = fh.Filename
		if nonASCIIName(name) {
			return "", errParam("Upload attachment failure: file names with non-ASCII characters are not supported (" + name + ")")
		}
		if fh.Size > int64(mediaLimit(typ)) {
			return "", errMediaSize(typ, int(fh.Size))
		}
		f, err := fh.Open()
		if err != nil {
			return "", errParam("Upload attachment failure: " + err.Error())
		}
		data, err = io.ReadAll(io.LimitReader(f, int64(mediaLimit(typ))+1))
		_ = f.Close()
		if err != nil {
			return "", errParam("Upload attachment failure: " + err.Error())
		}
		var e *graphError
		if ct, e = checkMedia(typ, fh.Header.Get("Content-Type"), data, true); e != nil {
			return "", e
		}
	}
	s.mu.Lock()
	id := s.storeMediaLocked(ct, name, data)
	s.mu.Unlock()
	return id, nil
}
