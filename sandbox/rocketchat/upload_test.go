package rocketchat

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/require"
)

type part struct {
	field, filename, ctype string
	data                   []byte
}

func (e *env) upload(rid, token string, parts ...part) resp {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", p.ctype)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.field+`"`)
		}
		w, err := mw.CreatePart(h)
		require.NoError(e.t, err)
		_, _ = w.Write(p.data)
	}
	require.NoError(e.t, mw.Close())
	req, err := http.NewRequest("POST", e.ts.URL+"/api/v1/livechat/upload/"+rid, &buf)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("X-Visitor-Token", token)
	}
	res, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp{status: res.StatusCode, body: m, raw: string(raw), header: res.Header}
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 3, 2))))
	return buf.Bytes()
}

// 00-rooms.ts livechat/upload + §6 + traps 3, 23.
func TestUpload(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	rid2 := e.chat("other")
	img := part{"file", "photo.png", "image/png", pngBytes(t)}
	unauthorized := map[string]any{"success": false, "error": "unauthorized"}

	cases := []struct {
		name   string
		setup  func()
		rid    string
		token  string
		parts  []part
		status int
		body   map[string]any
	}{
		{"no header", nil, rid, "", []part{img}, 403, unauthorized},
		{"bad token", nil, rid, "nope", []part{img}, 403, unauthorized},
		{"room of another visitor", nil, rid2, "tok", []part{img}, 403, unauthorized},
		{"no file", nil, rid, "tok", []part{{field: "description", data: []byte("x")}}, 400,
			map[string]any{"success": false, "error": "No file uploaded", "errorType": "No file uploaded"}},
		{"wrong field name", nil, rid, "tok", []part{{"attachment", "a.png", "image/png", []byte("x")}}, 400,
			map[string]any{"success": false, "error": "invalid-field", "errorType": "invalid-field"}},
		{"svg blacklisted by default", nil, rid, "tok", []part{{"file", "a.svg", "image/svg+xml", []byte("<svg/>")}}, 400,
			map[string]any{"reason": "error-type-not-allowed", "success": false}},
		{"whitelist wildcard", func() {
			u := DefaultUploadSettings()
			u.WhiteList = "image/*"
			e.s.SetUploadSettings(u)
		}, rid, "tok", []part{{"file", "a.pdf", "application/pdf", []byte("%PDF")}}, 400,
			map[string]any{"reason": "error-type-not-allowed", "success": false}},
		{"too large", func() {
			u := DefaultUploadSettings()
			u.MaxFileSize = 4
			e.s.SetUploadSettings(u)
		}, rid, "tok", []part{{"file", "a.txt", "text/plain", []byte("12345")}}, 400,
			map[string]any{"success": false, "error": "error-file-too-large", "errorType": "error-file-too-large"}},
		{"groupable is always a string", func() { e.s.SetUploadSettings(DefaultUploadSettings()) }, rid, "tok",
			[]part{img, {field: "groupable", data: []byte("true")}}, 400,
			map[string]any{"success": false, "error": "Match error: Expected boolean, got string in field groupable"}},
		{"unknown field", nil, rid, "tok", []part{img, {field: "foo", data: []byte("x")}}, 400,
			map[string]any{"success": false, "error": "Match error: Unknown key in field foo"}},
		{"FileUpload_Enabled off (checked before the visitor)", func() {
			u := DefaultUploadSettings()
			u.Enabled = false
			e.s.SetUploadSettings(u)
		}, rid, "nope", []part{img}, 400, map[string]any{"reason": "error-file-upload-disabled", "success": false}},
		{"Livechat_fileupload_enabled off", func() {
			u := DefaultUploadSettings()
			u.LivechatEnabled = false
			e.s.SetUploadSettings(u)
		}, rid, "tok", []part{img}, 400, map[string]any{"reason": "error-file-upload-disabled", "success": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := e.upload(tc.rid, tc.token, tc.parts...)
			require.Equal(t, tc.status, r.status, r.raw)
			require.Equal(t, tc.body, r.body)
		})
	}
	e.s.SetUploadSettings(DefaultUploadSettings())

	r := e.upload(rid, "tok", img, part{field: "description", data: []byte("a caption")}, part{field: "msg", data: []byte("look")})
	require.Equal(t, 200, r.status, r.raw)
	require.NotContains(t, r.body, "message", "message fields are at the top level")
	require.Equal(t, "look", r.body["msg"])
	require.Equal(t, false, r.body["newRoom"])
	files := r.body["files"].([]any)
	f0 := files[0].(map[string]any)
	require.Equal(t, "photo.png", f0["name"])
	att := r.body["attachments"].([]any)[0].(map[string]any)
	fileID := f0["_id"].(string)
	require.Equal(t, "/file-upload/"+fileID+"/photo.png", att["image_url"])
	require.Equal(t, "a caption", att["description"])
	require.Equal(t, map[string]any{"width": float64(3), "height": float64(2)}, att["image_dimensions"])

	dl := func(q string, hdr map[string]string) int {
		return e.do("GET", "/file-upload/"+fileID+"/photo.png"+q, nil, hdr).status
	}
	require.Equal(t, 200, dl("?rc_token=tok&rc_room_type=l&rc_rid="+rid, nil))
	require.Equal(t, 403, dl("?rc_token=other&rc_room_type=l&rc_rid="+rid, nil))
	require.Equal(t, 403, dl("", nil))
	require.Equal(t, 200, dl("", botHdr))
	require.Equal(t, 404, e.do("GET", "/file-upload/nope/x.png", nil, botHdr).status)

	// GET message normalises fileUpload with an absolute URL
	mr := e.do("GET", "/api/v1/livechat/message/"+r.body["_id"].(string)+"?token=tok&rid="+rid, nil, nil)
	fu := mr.body["message"].(map[string]any)["fileUpload"].(map[string]any)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/file-upload/`+fileID+`/photo\.png\?token=`, fu["publicFilePath"])

	// still downloadable after close; uploads to a closed room are 403
	require.Equal(t, 200, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid, "token": "tok"}, nil).status)
	require.Equal(t, 200, dl("?rc_token=tok&rc_room_type=l&rc_rid="+rid, nil))
	require.Equal(t, 403, e.upload(rid, "tok", img).status)

	msgs := e.s.Messages(rid)
	require.NotNil(t, msgs[0].File)
	require.Equal(t, "image/png", msgs[0].File.Type)
	require.NotEmpty(t, msgs[0].File.Data)
}
