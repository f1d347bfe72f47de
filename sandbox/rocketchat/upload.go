package rocketchat

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"image"
	_ "image/gif" // image dimensions
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

func (f *fileRec) json() obj {
	return obj{{"_id", f.ID}, {"name", f.Name}, {"type", f.Type}, {"size", f.Size}, {"format", fileFormat(f.Name)}}
}

func fileFormat(name string) string {
	ext := path.Ext(name)
	if ext == "" {
		return ""
	}
	return strings.ToLower(ext[1:])
}

func fileURL(f *fileRec) string { return "/file-upload/" + f.ID + "/" + encodeURI(f.Name) }

// fileAttachment builds the message attachment of an uploaded file (relative URLs).
func fileAttachment(f *fileRec, description string) obj {
	u := fileURL(f)
	a := obj{{"title", f.Name}, {"type", "file"}}
	major := strings.SplitN(f.Type, "/", 2)[0]
	if major != "image" && major != "audio" && major != "video" {
		a = append(a, field{"format", fileFormat(f.Name)})
	}
	if description != "" {
		a = append(a, field{"description", description})
	}
	a = append(a, field{"title_link", u}, field{"title_link_download", true})
	switch major {
	case "image":
		a = append(a, field{"image_url", u}, field{"image_type", f.Type}, field{"image_size", f.Size})
		if f.Width > 0 {
			a = append(a, field{"image_dimensions", obj{{"width", f.Width}, {"height", f.Height}}})
		}
	case "audio":
		a = append(a, field{"audio_url", u}, field{"audio_type", f.Type}, field{"audio_size", f.Size})
	case "video":
		a = append(a, field{"video_url", u}, field{"video_type", f.Type}, field{"video_size", f.Size})
	default:
		a = append(a, field{"size", f.Size})
	}
	a = append(a, field{"fileId", f.ID})
	return a
}

// fileUploadJSON is normalizeMessageFileUpload's block (absolute URL + JWT).
func (s *Server) fileUploadJSON(m *msgRec) obj {
	f := m.File
	p := s.siteURL() + fileURL(f)
	if s.set.upload.ProtectFiles && s.set.upload.JWT {
		p += "?token=" + s.fileJWT(f.ID, m.RID, m.U.ID)
	}
	return obj{{"publicFilePath", p}, {"type", f.Type}, {"size", f.Size}}
}

// fileJWT signs an HS256 JWT {fileId, rid, userId, iat} like generateJWTToFileUrls.
// Spec gap: no expiry (the real token's lifetime is not in the spec).
func (s *Server) fileJWT(fileID, rid, userID string) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := enc.EncodeToString(mustMarshal(obj{{"fileId", fileID}, {"rid", rid}, {"userId", userID}, {"iat", s.nowMS().Unix()}}))
	mac := hmac.New(sha256.New, s.jwtKey)
	mac.Write([]byte(h + "." + p))
	return h + "." + p + "." + enc.EncodeToString(mac.Sum(nil))
}

func (s *Server) validJWT(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	mac := hmac.New(sha256.New, s.jwtKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	return err == nil && hmac.Equal(sig, mac.Sum(nil))
}

// mimeAllowed is fileUploadIsValidContentType: blacklist wins, empty or "*"
// whitelist allows all, entries may be "type/*".
func mimeAllowed(t, white, black string) bool {
	matches := func(list string) bool {
		for _, e := range strings.Split(list, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if e == "*" || e == t {
				return true
			}
			if strings.HasSuffix(e, "/*") && strings.HasPrefix(t, strings.TrimSuffix(e, "*")) {
				return true
			}
		}
		return false
	}
	if strings.TrimSpace(black) != "" && matches(black) {
		return false
	}
	if strings.TrimSpace(white) == "" || strings.TrimSpace(white) == "*" {
		return true
	}
	return matches(white)
}

// getMimeType: the part's Content-Type unless missing/octet-stream, else from the extension.
func getMimeType(partType, name string) string {
	t, _, _ := mime.ParseMediaType(partType)
	if t != "" && t != "application/octet-stream" {
		return t
	}
	if byExt := mime.TypeByExtension(path.Ext(name)); byExt != "" {
		bt, _, _ := mime.ParseMediaType(byExt)
		return bt
	}
	return "application/octet-stream"
}

var errTooLarge = errors.New("too large")

// POST livechat/upload/:rid (7.x upload.ts order of checks).
func (s *Server) hUpload(c *reqCtx) (obj, error) {
	token := c.r.Header.Get("X-Visitor-Token")
	if token == "" {
		return nil, forbiddenUnauthorized()
	}
	s.mu.Lock()
	up := s.set.upload
	if !up.Enabled || !up.LivechatEnabled {
		s.mu.Unlock()
		return nil, failureReason("error-file-upload-disabled")
	}
	v := s.visitorByToken(token)
	if v == nil {
		s.mu.Unlock()
		return nil, forbiddenUnauthorized()
	}
	rid := c.params["rid"]
	r := s.roomByIDAndToken(rid, token)
	if r == nil || !r.Open {
		s.mu.Unlock()
		return nil, forbiddenUnauthorized()
	}
	s.mu.Unlock()

	maxSize := up.MaxFileSize
	if maxSize == 0 {
		maxSize = 104857600
	}
	var (
		fileName, partType string
		data               []byte
		haveFile           bool
		fields             = map[string]any{}
	)
	// Spec gap: a non-multipart request is reported like a missing file.
	if mr, err := c.r.MultipartReader(); err == nil {
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, plainErr(err.Error())
			}
			if part.FileName() == "" {
				b, _ := io.ReadAll(io.LimitReader(part, 1<<20))
				fields[part.FormName()] = string(b)
				continue
			}
			if part.FormName() != "file" {
				return nil, coreError("invalid-field")
			}
			if haveFile {
				// Spec gap: the upstream rejects with a bare string; the body is ours.
				return nil, plainErr("Just 1 file is allowed")
			}
			haveFile = true
			fileName, partType = part.FileName(), part.Header.Get("Content-Type")
			rd := io.Reader(part)
			if maxSize > 0 {
				rd = io.LimitReader(part, maxSize+1)
			}
			data, err = io.ReadAll(rd)
			if err != nil {
				return nil, plainErr(err.Error())
			}
			if maxSize > 0 && int64(len(data)) > maxSize {
				return nil, coreError("error-file-too-large")
			}
		}
	}
	if !haveFile {
		return nil, coreError("No file uploaded")
	}
	typ := getMimeType(partType, fileName)
	if !mimeAllowed(typ, up.WhiteList, up.BlackList) {
		return nil, failureReason("error-type-not-allowed")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.storeFileLocked(fileName, typ, data, rid, v.ID)
	desc, _ := fields["description"].(string)
	delete(fields, "description")
	if err := checkUploadFields(fields); err != nil {
		return nil, err
	}
	r = s.rooms[rid]
	if r == nil || !r.Open {
		return nil, forbiddenUnauthorized()
	}
	text, _ := fields["msg"].(string)
	m := s.saveVisitorMessageLocked(r, v, s.randomID(), text, f, []obj{fileAttachment(f, desc)})
	res := s.msgJSON(m, false)
	res = append(res, field{"newRoom", false}, field{"showConnecting", false})
	return res, nil
}

func (s *Server) storeFileLocked(name, typ string, data []byte, rid, userID string) *fileRec {
	f := &fileRec{ID: s.randomID(), Name: name, Type: typ, RID: rid, UserID: userID, Size: len(data),
		Data: data, Uploaded: s.nowMS()}
	if strings.HasPrefix(typ, "image/") {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			f.Width, f.Height = cfg.Width, cfg.Height
		}
	}
	s.files[f.ID] = f
	return f
}

// serveFile is GET /file-upload/:fileId/:name (FileUpload.requestCanAccessFiles).
// Errors are bare 403/404 without body, like the real handler.
//
// Spec gap: X-User-Id/X-Auth-Token (or rc_uid/rc_token) of any known REST
// user are accepted for every file (the real server also requires room
// membership with FileUpload_Restrict_to_room_members; the emulator's bot is
// treated as a member of every room).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	if s.isDown() {
		dropConnection(w)
		return
	}
	if s.applyFault(w, r, "GET /file-upload/:fileId/:name", r.Method+" "+r.URL.Path) {
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/file-upload/")
	id, _, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	f := s.files[id]
	if f == nil || id == "" {
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ok := s.canAccessFileLocked(r)
	up := s.set.upload
	s.mu.Unlock()
	if !ok && up.ProtectFiles {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	disp := "inline"
	if _, dl := r.URL.Query()["download"]; dl {
		disp = "attachment"
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Header().Set("Cache-Control", "max-age=31536000")
	w.Header().Set("Content-Type", f.Type)
	w.Header().Set("Content-Disposition", disp+`; filename="`+encodeURI(f.Name)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.Data)
	}
}

func (s *Server) canAccessFileLocked(r *http.Request) bool {
	q := r.URL.Query()
	rcUID, rcToken, rcRID, rcType := q.Get("rc_uid"), q.Get("rc_token"), q.Get("rc_rid"), q.Get("rc_room_type")
	if rcUID == "" {
		cookie := func(n string) string {
			if c, err := r.Cookie(n); err == nil {
				return c.Value
			}
			return ""
		}
		if v := cookie("rc_uid"); v != "" || cookie("rc_token") != "" {
			rcUID, rcToken, rcRID, rcType = v, cookie("rc_token"), cookie("rc_rid"), cookie("rc_room_type")
		}
	}
	// Room directive of livechat: visitor token + rid of one of its rooms (open or closed).
	if rcType == "l" && rcToken != "" && rcRID != "" && s.roomByIDAndToken(rcRID, rcToken) != nil {
		return true
	}
	if s.set.upload.JWT {
		if t := q.Get("token"); t != "" && s.validJWT(t) {
			return true
		}
	}
	uid, tok := rcUID, rcToken
	if uid == "" {
		uid = r.Header.Get("X-User-Id")
	}
	if tok == "" {
		tok = r.Header.Get("X-Auth-Token")
	}
	if u := s.users[uid]; uid != "" && u != nil && tok != "" && u.Token == tok {
		return true
	}
	return false
}
