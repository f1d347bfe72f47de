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
		rc, ct, size, err := newTestClient(f).Download(ctx, "/file-upload/Fz81/boleto%20final.pdf")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		if string(b) != "%PDF-1.7" || ct != "application/pdf" || size != 8 {
			t.Errorf("got %q %q %d", b, ct, size)
		}
	})
	t.Run("absolute same-origin URL keeps query", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/Fz81/a.png", query: q("token", "eyJhbGciOi"),
			header: map[string]string{"X-User-Id": testUserID, "X-Auth-Token": testAuthToken}},
			reply{header: map[string]string{"Content-Type": "image/png"}, body: "png"}})
		rc, ct, _, err := newTestClient(f).Download(ctx, f.srv.URL+"/file-upload/Fz81/a.png?token=eyJhbGciOi")
		if err != nil || ct != "image/png" {
			t.Fatalf("%v %q", err, ct)
		}
		rc.Close()
	})
	t.Run("foreign host gets no credentials", func(t *testing.T) {
		other := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/x/y", query: q("token", "jwt"),
			header: map[string]string{"X-User-Id": "", "X-Auth-Token": ""}}, reply{body: "ok"}})
		f := newFakeRC(t)
		rc, _, _, err := newTestClient(f).Download(ctx, other.srv.URL+"/file-upload/x/y?token=jwt")
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})
	t.Run("redirect to foreign host drops credentials", func(t *testing.T) {
		other := newFakeRC(t, step{want{method: http.MethodGet, path: "/elsewhere",
			header: map[string]string{"X-User-Id": "", "X-Auth-Token": ""}}, reply{body: "ok"}})
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/r/1",
			header: map[string]string{"X-User-Id": testUserID, "X-Auth-Token": testAuthToken}},
			reply{status: http.StatusFound, header: map[string]string{"Location": other.srv.URL + "/elsewhere"}}})
		rc, _, _, err := newTestClient(f).Download(ctx, "/file-upload/r/1")
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})
	t.Run("forbidden", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/x/y", header: map[string]string{"X-Auth-Token": testAuthToken}},
			reply{status: 403, header: map[string]string{"Content-Type": "text/html"}, body: "<html><title>Forbidden</title></html>"}})
		_, _, _, err := newTestClient(f).Download(ctx, "file-upload/x/y")
		e, ok := asError(err)
		if !ok || e.HTTPStatus != 403 || IsTransient(err) || !strings.Contains(e.Message, "Forbidden") {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("bad inputs", func(t *testing.T) {
		f := newFakeRC(t)
		for _, in := range []string{"", "ftp://x/y", "//evil.example.com/file-upload/x"} {
			if _, _, _, err := newTestClient(f).Download(ctx, in); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%q: err = %v", in, err)
			}
		}
	})
	t.Run("timeout is transient", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/file-upload/slow/x"}, reply{delay: 2 * time.Second}})
		hc := f.srv.Client()
		hc.Timeout = 50 * time.Millisecond
		_, _, _, err := NewClient(f.srv.URL, testUserID, testAuthToken, hc).Download(ctx, "/file-upload/slow/x")
		if !IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
}

func TestBaseURLWithPrefix(t *testing.T) {
	f := newFakeRC(t, step{want{method: http.MethodGet, path: "/chat/api/v1/livechat/room", query: q("token", testToken)},
		reply{body: `{"room":{"_id":"r","open":true},"newRoom":false,"success":true}`}},
		step{want{method: http.MethodGet, path: "/chat/file-upload/a/b"}, reply{body: "x"}})
	c := NewClient(f.srv.URL+"/chat/", testUserID, testAuthToken, nil)
	if _, _, err := c.Room(context.Background(), testToken); err != nil {
		t.Fatal(err)
	}
	rc, _, _, err := c.Download(context.Background(), "/file-upload/a/b")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}
