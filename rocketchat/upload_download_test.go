package rocketchat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// checkMultipart asserts the exact multipart shape of an upload.
func checkMultipart(filename, contentType, content, msg string) func(*testing.T, *http.Request, []byte) {
	return func(t *testing.T, r *http.Request, body []byte) {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			t.Fatalf("content type %q", r.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if p.FormName() != "file" || p.FileName() != filename || p.Header.Get("Content-Type") != contentType || string(got) != content {
			t.Errorf("file part: name=%q file=%q type=%q content=%q", p.FormName(), p.FileName(), p.Header.Get("Content-Type"), got)
		}
		var fields []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			v, _ := io.ReadAll(p)
			fields = append(fields, p.FormName()+"="+string(v))
		}
		wantFields := []string(nil)
		if msg != "" {
			wantFields = []string{"msg=" + msg}
		}
		if strings.Join(fields, "&") != strings.Join(wantFields, "&") {
			t.Errorf("fields %v, want %v", fields, wantFields)
		}
	}
}

func TestUpload(t *testing.T) {
	hdr := map[string]string{"x-visitor-token": testToken, "X-User-Id": "", "X-Auth-Token": "", "Accept": "application/json"}
	okBody := `{"_id":"Wd8nQ2LkPq7sTzX1a","rid":"hG7xQp2Ws9KeLm3Zr","ts":"2025-05-02T10:12:00.000Z","msg":"","token":"ig-17841400000000001",
	 "file":{"_id":"Fq2aZ9","name":"photo.jpg","type":"image/jpeg"},"files":[{"_id":"Fq2aZ9","name":"photo.jpg","type":"image/jpeg"}],
	 "attachments":[{"title":"photo.jpg","type":"file","title_link":"/file-upload/Fq2aZ9/photo.jpg","image_url":"/file-upload/Fq2aZ9/photo.jpg"}],
	 "newRoom":false,"showConnecting":false,"success":true}`
	tests := []struct {
		name        string
		filename    string
		contentType string
		msg         string
		wantType    string
		rep         reply
		want        UploadResult
		is          func(error) bool
	}{
		{"image with caption", "photo.jpg", "image/jpeg", "look at this", "image/jpeg", reply{body: okBody},
			UploadResult{MessageID: "Wd8nQ2LkPq7sTzX1a", FileID: "Fq2aZ9", FileName: "photo.jpg"}, nil},
		{"default content type, files[] only", `we "ird".pdf`, "", "", "application/octet-stream",
			reply{body: `{"_id":"m2","files":[{"_id":"F2","name":"we \"ird\".pdf"}],"success":true}`},
			UploadResult{MessageID: "m2", FileID: "F2", FileName: `we "ird".pdf`}, nil},
		{"type not allowed (reason body)", "x.svg", "image/svg+xml", "", "image/svg+xml",
			reply{status: 400, body: `{"reason":"error-type-not-allowed","success":false}`}, UploadResult{},
			func(err error) bool {
				e, ok := asError(err)
				return ok && e.Reason == "error-type-not-allowed" && e.Code() == "error-type-not-allowed" && e.Message == "" && !IsTransient(err)
			}},
		{"uploads disabled", "a.png", "image/png", "", "image/png",
			reply{status: 400, body: `{"reason":"error-file-upload-disabled","success":false}`}, UploadResult{},
			func(err error) bool {
				e, _ := asError(err)
				return e != nil && e.Code() == "error-file-upload-disabled"
			}},
		{"too large", "a.png", "image/png", "", "image/png",
			reply{status: 400, body: `{"success":false,"error":"error-file-too-large","errorType":"error-file-too-large"}`}, UploadResult{},
			func(err error) bool { e, _ := asError(err); return e != nil && e.Code() == "error-file-too-large" }},
		{"size not allowed (7.x post-check)", "a.png", "image/png", "", "image/png",
			reply{status: 400, body: `{"reason":"error-size-not-allowed","sizeAllowed":"100 MB","success":false}`}, UploadResult{},
			func(err error) bool { e, _ := asError(err); return e != nil && e.Code() == "error-size-not-allowed" }},
		{"unauthorized 403", "a.png", "image/png", "", "image/png",
			reply{status: 403, body: `{"success":false,"error":"unauthorized"}`}, UploadResult{},
			func(err error) bool {
				e, _ := asError(err)
				return e != nil && e.HTTPStatus == 403 && e.Code() == "unauthorized"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/livechat/upload/" + testRID, header: hdr,
				check: checkMultipart(tc.filename, tc.wantType, "BYTES-\x00-\xff", tc.msg)}, tc.rep})
			got, err := newTestClient(f).Upload(context.Background(), testToken, testRID, tc.filename, tc.contentType, strings.NewReader("BYTES-\x00-\xff"), tc.msg)
			if tc.is != nil {
				if !tc.is(err) {
					t.Fatalf("err = %v", err)
				}
				noLeak(t, err.Error())
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v", got, err)
			}
		})
	}
	t.Run("reader failure aborts", func(t *testing.T) {
		f := newFakeRC(t)
		f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		})
		_, err := newTestClient(f).Upload(context.Background(), testToken, testRID, "a", "", io.MultiReader(strings.NewReader("x"), errReader{}), "")
		if err == nil {
			t.Fatal("expected error")
		}
	})
	t.Run("validation", func(t *testing.T) {
		f := newFakeRC(t)
		_, err := newTestClient(f).Upload(context.Background(), testToken, testRID, "", "", strings.NewReader("x"), "")
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("err = %v", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("source broke") }

func TestDownload(t *testing.T) {
	ctx := context.Background()
	t.Run("relative path with bot headers", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/Fz81/boleto%20final.pdf",
			header: map[string]string{"X-User-Id": testUserID, "X-Auth-Token": testAuthToken}},
			reply{header: map[string]string{"Content-Type": "application/pdf"}, body: "%PDF-1.7"}})
		rc, size, err := newTestClient(f).Download(ctx, "/file-upload/Fz81/boleto%20final.pdf", "application/pdf")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		if string(b) != "%PDF-1.7" || size != 8 {
			t.Errorf("got %q %d", b, size)
		}
	})
	t.Run("redirect to foreign host drops credentials", func(t *testing.T) {
		other := newFakeRC(t, step{want{method: http.MethodGet, path: "/elsewhere",
			header: map[string]string{"X-User-Id": "", "X-Auth-Token": ""}}, reply{header: map[string]string{"Content-Type": "image/png"}, body: "ok"}})
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/r/1",
			header: map[string]string{"X-User-Id": testUserID, "X-Auth-Token": testAuthToken}},
			reply{status: http.StatusFound, header: map[string]string{"Location": other.srv.URL + "/elsewhere"}}})
		rc, _, err := newTestClient(f).Download(ctx, "/file-upload/r/1", "image/png")
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})
	t.Run("redirect into the REST API is refused", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/r/1"},
			reply{status: http.StatusFound, header: map[string]string{"Location": "/api/v1/me"}}})
		if _, _, err := newTestClient(f).Download(ctx, "/file-upload/r/1", "image/png"); err == nil {
			t.Fatal("followed a redirect to /api/v1/me with the bot's credentials")
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/x/y", header: map[string]string{"X-Auth-Token": testAuthToken}},
			reply{status: 403, header: map[string]string{"Content-Type": "text/html"}, body: "<html><title>Forbidden</title></html>"}})
		_, _, err := newTestClient(f).Download(ctx, "/file-upload/x/y", "image/png")
		e, ok := asError(err)
		if !ok || e.HTTPStatus != 403 || IsTransient(err) || !strings.Contains(e.Message, "Forbidden") {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("served as another type than declared", func(t *testing.T) {
		for _, served := range []string{"application/json", "text/html; charset=utf-8", "image/svg+xml", ""} {
			f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/Fz81/a.png"},
				reply{header: map[string]string{"Content-Type": served}, body: `{"_id":"bot","username":"bot","roles":["livechat-manager"]}`}})
			if _, _, err := newTestClient(f).Download(ctx, "/file-upload/Fz81/a.png", "image/png"); !errors.Is(err, ErrFileTypeMismatch) {
				t.Errorf("served as %q: err = %v", served, err)
			}
		}
	})
	t.Run("declared type parameters and case do not matter", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/Fz81/a.txt"},
			reply{header: map[string]string{"Content-Type": "Text/Plain; charset=UTF-8"}, body: "hi"}})
		rc, _, err := newTestClient(f).Download(ctx, "/file-upload/Fz81/a.txt", "text/plain; charset=utf-8")
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})
	t.Run("bad paths are refused before any request", func(t *testing.T) {
		f := newFakeRC(t) // any request fails the test
		for _, in := range badFilePaths {
			if _, _, err := newTestClient(f).Download(ctx, in, "image/png"); !errors.Is(err, ErrBadFilePath) || !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%q: err = %v", in, err)
			}
		}
		if _, _, err := newTestClient(f).Download(ctx, "/file-upload/Fz81/a.png", ""); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("no declared type: %v", err)
		}
	})
	t.Run("timeout is transient", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/slow/x"}, reply{delay: 2 * time.Second}})
		hc := f.srv.Client()
		hc.Timeout = 50 * time.Millisecond
		_, _, err := NewClient(f.srv.URL, testUserID, testAuthToken, hc).Download(ctx, "/file-upload/slow/x", "image/png")
		if !IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
}

// badFilePaths are file ids and title links an agent message (or a forged webhook, or a
// tampered workflow input) may carry: none may become a request with the bot's headers.
var badFilePaths = []string{
	"", "/file-upload/", "/file-upload/Fz81", "/file-upload/Fz81/", "/file-upload//a.png",
	"/file-upload/../api/v1/me", "/file-upload/Fz81/../../api/v1/me", "/file-upload/%2e%2e/api/v1/me",
	"/file-upload/Fz81/%2e%2e", "/file-upload/Fz81/..", "/file-upload/Fz81/.", "/file-upload/Fz81/%2E%2E",
	"/file-upload/Fz81/%252e%252e", "/file-upload/Fz81/a%2fb", "/file-upload/Fz81/a%5cb", "/file-upload/Fz81/a\\b",
	"/file-upload/Fz81/a.png/extra", "/file-upload/Fz81/a.png?token=x", "/file-upload/Fz81/a.png#x",
	"/file-upload/Fz81/a.png%3Fx=1%00", "/file-upload/Fz8%31/a.png", "/file-upload/Fz 81/a.png", "/file-upload/Fz81/a b.png",
	"/file-upload/Fz81/a%zz", "/file-upload/Fz81/a%0a.png", "/file-upload/Fz81/%c0%ae%c0%ae",
	"file-upload/Fz81/a.png", "/api/v1/me", "/File-Upload/Fz81/a.png",
	"http://chat.example/file-upload/Fz81/a.png", "https://evil.example/file-upload/Fz81/a.png",
	"//evil.example/file-upload/Fz81/a.png", "ftp://x/y", "\\evil.example\\share",
}

func TestFileUploadPath(t *testing.T) {
	for _, tt := range []struct{ id, name, want string }{
		{"Fz81", "boleto final.pdf", "/file-upload/Fz81/boleto%20final.pdf"},
		{"aBc-12_x", "invoice #12 (1).pdf", "/file-upload/aBc-12_x/invoice%20%2312%20%281%29.pdf"},
		{"Fz81", "fotografia-ação.jpg", "/file-upload/Fz81/fotografia-a%C3%A7%C3%A3o.jpg"},
		{"Fz81", "a..b.png", "/file-upload/Fz81/a..b.png"},
	} {
		got, err := FileUploadPath(tt.id, tt.name)
		if err != nil || got != tt.want {
			t.Errorf("FileUploadPath(%q, %q) = %q, %v; want %q", tt.id, tt.name, got, err, tt.want)
			continue
		}
		id, name, err := ParseFileUploadPath(got)
		if err != nil || id != tt.id || name != tt.name {
			t.Errorf("round trip of %q: %q %q %v", got, id, name, err)
		}
	}
	for _, bad := range []struct{ id, name string }{{"", "a"}, {"..", "a"}, {"a/b", "c"}, {"Fz81", ""}, {"Fz81", ".."},
		{"Fz81", "."}, {"Fz81", "a/b"}, {"Fz81", "a\\b"}, {"Fz81", "%2e%2e"}, {"Fz81", "a\x00b"}, {"Fz81", "a\nb"},
		{"Fz81", strings.Repeat("a", 256)}, {"Fz81?x=1", "a"}, {"Fz81", "\xff"}} {
		if p, err := FileUploadPath(bad.id, bad.name); !errors.Is(err, ErrBadFilePath) {
			t.Errorf("FileUploadPath(%q, %q) = %q, %v", bad.id, bad.name, p, err)
		}
	}
	for _, in := range badFilePaths {
		if id, name, err := ParseFileUploadPath(in); err == nil {
			t.Errorf("ParseFileUploadPath(%q) accepted: %q %q", in, id, name)
		}
	}
	// Rocket.Chat's own title links (encodeURI of the name) are accepted.
	if _, name, err := ParseFileUploadPath("/file-upload/Fz81/boleto%20final(1).pdf"); err != nil || name != "boleto final(1).pdf" {
		t.Errorf("encodeURI form: %q %v", name, err)
	}
}

func TestBaseURLWithPrefix(t *testing.T) {
	f := newFakeRC(t, step{want{method: http.MethodGet, path: "/chat/api/v1/livechat/room", query: q("token", testToken)},
		reply{body: `{"room":{"_id":"r","open":true},"newRoom":false,"success":true}`}},
		step{want{method: http.MethodGet, path: "/chat/file-upload/a/b"}, reply{header: map[string]string{"Content-Type": "text/plain"}, body: "x"}})
	c := NewClient(f.srv.URL+"/chat/", testUserID, testAuthToken, nil)
	if _, _, err := c.Room(context.Background(), testToken); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.Download(context.Background(), "/file-upload/a/b", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}
