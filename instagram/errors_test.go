package instagram

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// graphErr builds a §4.5 error body.
func graphErr(code, subcode int, typ, msg string) string {
	sub := ""
	if subcode != 0 {
		sub = fmt.Sprintf(`"error_subcode":%d,`, subcode)
	}
	return fmt.Sprintf(`{"error":{"message":%q,"type":%q,"code":%d,%s"fbtrace_id":"AbCdEfGhIjK"}}`, msg, typ, code, sub)
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		rep        reply
		class      Class
		code, sub  int
		retryAfter time.Duration
	}{
		{"4 app limit", reply{status: 400, body: graphErr(4, 0, "OAuthException", "(#4) Application request limit reached")}, RateLimited, 4, 0, 0},
		{"17 user limit", reply{status: 400, body: graphErr(17, 0, "OAuthException", "(#17) User request limit reached")}, RateLimited, 17, 0, 0},
		{"32 page limit", reply{status: 400, body: graphErr(32, 0, "OAuthException", "(#32) Page request limit reached")}, RateLimited, 32, 0, 0},
		{"613 custom limit with Retry-After", reply{status: 400, header: map[string]string{"Retry-After": "30"},
			body: graphErr(613, 0, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.")}, RateLimited, 613, 0, 30 * time.Second},
		{"80002 BUC with regain header", reply{status: 400,
			header: map[string]string{"X-Business-Use-Case-Usage": `{"17841400000000001":[{"type":"instagram","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":5}]}`},
			body:   graphErr(80002, 0, "OAuthException", "(#80002) There have been too many calls to this Instagram account.")}, RateLimited, 80002, 0, 5 * time.Minute},
		{"190 expired", reply{status: 400, body: graphErr(190, 463, "OAuthException", "Error validating access token: Session has expired")}, AuthExpired, 190, 463, 0},
		{"190 password changed", reply{status: 401, body: graphErr(190, 460, "OAuthException", "Error validating access token: password changed")}, AuthExpired, 190, 460, 0},
		{"10/2534022 outside window (IG, HTTP 403)", reply{status: 403, body: graphErr(10, 2534022, "IGApiException", "This message is sent outside of allowed window.")}, OutsideWindow, 10, 2534022, 0},
		{"10/2018278 outside window (Messenger)", reply{status: 400, body: graphErr(10, 2018278, "OAuthException", "(#10) This message is sent outside of allowed window.")}, OutsideWindow, 10, 2018278, 0},
		{"10 permission", reply{status: 400, body: graphErr(10, 0, "OAuthException", "(#10) Permission denied")}, Misconfigured, 10, 0, 0},
		{"100/33 unknown object", reply{status: 400, body: graphErr(100, 33, "GraphMethodException", "Unsupported get request. Object with ID '1' does not exist")}, Permanent, 100, 33, 0},
		{"100 unsupported method", reply{status: 400, body: graphErr(100, 0, "IGApiException", "Unsupported request - method type: post")}, Misconfigured, 100, 0, 0},
		{"551 unavailable", reply{status: 400, body: graphErr(551, 1545041, "OAuthException", "(#551) This person isn't available right now.")}, Permanent, 551, 1545041, 0},
		{"200/1545041", reply{status: 400, body: graphErr(200, 1545041, "OAuthException", "Message Not Sent")}, Permanent, 200, 1545041, 0},
		{"200 dev mode", reply{status: 400, body: graphErr(200, 2018028, "OAuthException", "Cannot message users who are not admins")}, Misconfigured, 200, 2018028, 0},
		{"230 consent", reply{status: 400, body: graphErr(230, 0, "OAuthException", "User consent is required")}, Permanent, 230, 0, 0},
		{"1 unknown", reply{status: 500, body: graphErr(1, 99, "OAuthException", "An unknown error occurred")}, Transient, 1, 99, 0},
		{"2 unexpected", reply{status: 500, body: graphErr(2, 0, "OAuthException", "An unexpected error has occurred. Please retry your request later.")}, Transient, 2, 0, 0},
		{"2/2018344 ToS", reply{status: 400, body: graphErr(2, 2018344, "OAuthException", "Service temporarily unavailable")}, Misconfigured, 2, 2018344, 0},
		{"1200 temporary", reply{status: 500, body: graphErr(1200, 0, "OAuthException", "Temporary send message failure")}, Transient, 1200, 0, 0},
		{"368 policy block", reply{status: 400, body: graphErr(368, 0, "OAuthException", "Temporarily blocked")}, Permanent, 368, 0, 0},
		{"unknown code", reply{status: 400, body: graphErr(123456, 0, "OAuthException", "new thing")}, Permanent, 123456, 0, 0},
		{"unknown code flagged transient", reply{status: 400, body: `{"error":{"message":"x","code":123456,"is_transient":true}}`}, Transient, 123456, 0, 0},
		{"string code", reply{status: 400, body: `{"error":{"message":"x","code":"190","error_subcode":"463"}}`}, AuthExpired, 190, 463, 0},
		{"error body on 200", reply{status: 200, body: graphErr(100, 0, "OAuthException", "(#100) Invalid parameter")}, Permanent, 100, 0, 0},
		{"502 HTML", reply{status: 502, header: map[string]string{"Content-Type": "text/html"},
			body: "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"}, Transient, 0, 0, 0},
		{"503 empty", reply{status: 503}, Transient, 0, 0, 0},
		{"500 plain text", reply{status: 500, header: map[string]string{"Content-Type": "text/plain"}, body: "upstream connect error"}, Transient, 0, 0, 0},
		{"429 no body", reply{status: 429, header: map[string]string{"Retry-After": "12"}}, RateLimited, 0, 0, 12 * time.Second},
		{"404 HTML", reply{status: 404, header: map[string]string{"Content-Type": "text/html"}, body: "<html><title>Not Found</title></html>"}, Permanent, 0, 0, 0},
		{"200 garbage", reply{status: 200, body: "{not json"}, Transient, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodPost, "/v23.0/" + testPageID + "/messages", pageQuery(), jsonHeader,
				`{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`}, tc.rep})
			_, err := newTestClient(f).Send(context.Background(), testPageID, testPageToken, SendRequest{Recipient: testIGSID, Text: "hi"})
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %T %v, want *Error", err, err)
			}
			status := tc.rep.status
			if ge.HTTPStatus != status || ge.Code != tc.code || ge.Subcode != tc.sub {
				t.Errorf("got status %d code %d/%d", ge.HTTPStatus, ge.Code, ge.Subcode)
			}
			if ge.Class() != tc.class || Classify(err) != tc.class || Classify(fmt.Errorf("wrapped: %w", err)) != tc.class {
				t.Errorf("class = %v, want %v (%v)", ge.Class(), tc.class, err)
			}
			if ge.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", ge.RetryAfter, tc.retryAfter)
			}
			if tc.code != 0 && ge.FBTraceID != "AbCdEfGhIjK" && !strings.Contains(tc.rep.body, `"x"`) {
				t.Errorf("fbtrace_id = %q", ge.FBTraceID)
			}
			noLeak(t, err.Error())
		})
	}
}

func TestErrorMessageFields(t *testing.T) {
	f := newFakeGraph(t, step{want{http.MethodPost, "/v23.0/" + testPageID + "/messages", pageQuery(), jsonHeader,
		`{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`},
		reply{status: 400, body: graphErr(551, 1545041, "OAuthException", "(#551) This person isn't available right now.")}})
	_, err := newTestClient(f).Send(context.Background(), testPageID, testPageToken, SendRequest{Recipient: testIGSID, Text: "hi"})
	want := "instagram: POST /v23.0/102030405060708/messages: graph error 551/1545041 (OAuthException, HTTP 400): (#551) This person isn't available right now. [fbtrace_id AbCdEfGhIjK]"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	var ge *Error
	if errors.As(err, &ge); ge.Type != "OAuthException" || ge.Message != "(#551) This person isn't available right now." {
		t.Errorf("fields = %+v", ge)
	}
}

func TestTransportFailuresAreTransientAndRedacted(t *testing.T) {
	t.Run("client timeout", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodGet, "/v23.0/" + testIGSID, pageQuery("fields", profileFields), noBodyHeader, ""},
			reply{delay: 2 * time.Second, body: `{}`}})
		hc := f.srv.Client()
		hc.Timeout = 50 * time.Millisecond
		c := NewClient(f.srv.URL, testVersion, testAppID, testAppSecret, hc)
		_, err := c.Profile(context.Background(), testPageToken, testIGSID)
		if err == nil || Classify(err) != Transient {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
		if !strings.Contains(err.Error(), "access_token=REDACTED") {
			t.Errorf("expected redacted URL in %q", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodGet, "/v23.0/" + testIGSID, pageQuery("fields", profileFields), noBodyHeader, ""},
			reply{delay: 2 * time.Second, body: `{}`}})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newTestClient(f).Profile(ctx, testPageToken, testIGSID)
		if !errors.Is(err, context.DeadlineExceeded) || Classify(err) != Transient {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := NewClient("http://"+addr, testVersion, testAppID, testAppSecret, nil)
		err = c.Subscribe(context.Background(), testPageID, testPageToken, nil)
		if err == nil || Classify(err) != Transient {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("connection dropped mid-response", func(t *testing.T) {
		srv := newHijackServer(t)
		c := NewClient(srv, testVersion, testAppID, testAppSecret, nil)
		_, err := c.Send(context.Background(), testPageID, testPageToken, SendRequest{Recipient: testIGSID, Text: "x"})
		if err == nil || Classify(err) != Transient {
			t.Fatalf("err = %v (class %v)", err, Classify(err))
		}
		noLeak(t, err.Error())
	})
}

// newHijackServer answers with headers promising a body, then hangs up.
func newHijackServer(t *testing.T) string {
	f := newFakeGraph(t)
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"recipient_id\":")
		_ = buf.Flush()
		conn.Close()
	})
	return f.srv.URL
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Permanent},
		{"canceled", context.Canceled, Transient},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Transient},
		{"net op", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection reset by peer")}, Transient},
		{"unexpected EOF", io.ErrUnexpectedEOF, Transient},
		{"x509", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), Misconfigured},
		{"invalid request", fmt.Errorf("%w: nope", ErrInvalidRequest), Permanent},
		{"unknown", errors.New("boom"), Permanent},
		{"graph error", &Error{Code: 4}, RateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	want := map[Class]string{Transient: "transient", RateLimited: "rate_limited", AuthExpired: "auth_expired",
		OutsideWindow: "outside_window", Permanent: "permanent", Misconfigured: "misconfigured", Class(42): "class(42)"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), s)
		}
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("https://u:p@graph.facebook.com/v23.0/oauth/access_token?client_id=1&client_secret=s3&code=c0de&fb_exchange_token=t&input_token=i&access_token=a&appsecret_proof=p")
	for _, s := range []string{"s3", "c0de", "=t&", "=i&", "=a&", "=p", "u:p"} {
		if strings.Contains(got, s) {
			t.Errorf("%q still in %s", s, got)
		}
	}
	if !strings.Contains(got, "client_id=1") {
		t.Errorf("non-secret param lost: %s", got)
	}
}

func TestUsageTracking(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hdr := func(app, page, buc string) map[string]string {
		h := map[string]string{}
		if app != "" {
			h["X-App-Usage"] = app
		}
		if page != "" {
			h["X-Page-Usage"] = page
		}
		if buc != "" {
			h["X-Business-Use-Case-Usage"] = buc
		}
		return h
	}
	path := "/v23.0/" + testPageID + "/thread_owner"
	q := pageQuery("recipient", testIGSID)
	f := newFakeGraph(t,
		step{want{http.MethodGet, path, q, noBodyHeader, ""}, reply{body: `{"data":[]}`, header: hdr(
			`{"call_count":28,"total_cputime":25,"total_time":25}`,
			`{"call_count":40,"total_cputime":"5","total_time":6}`,
			`{"17841400000000001":[{"type":"instagram","call_count":12,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":0},{"type":"messenger","call_count":90,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3}]}`)}},
		step{want{http.MethodGet, path, q, noBodyHeader, ""}, reply{body: `{"data":[]}`, header: hdr(`{"call_count":10,"total_cputime":99,"total_time":1}`, "", "")}},
		step{want{http.MethodGet, path, q, noBodyHeader, ""}, reply{body: `{"data":[]}`, header: hdr(`{"call_count":1,"total_cputime":2,"total_time":3}`, "not json", "")}},
	)
	c := newTestClient(f)
	c.now = func() time.Time { return now }
	if _, ok := c.LastUsage(testPageID); ok {
		t.Fatal("usage before any call")
	}
	ctx := context.Background()
	if _, err := c.ThreadOwner(ctx, testPageID, testPageToken, testIGSID); err != nil {
		t.Fatal(err)
	}
	check := func(id string, want Usage) {
		t.Helper()
		got, ok := c.LastUsage(id)
		if !ok || got != want {
			t.Errorf("LastUsage(%s) = %+v, %v; want %+v", id, got, ok, want)
		}
	}
	check(testPageID, Usage{CallCount: 40, TotalCPUTime: 25, TotalTime: 25})
	check(testAppID, Usage{CallCount: 28, TotalCPUTime: 25, TotalTime: 25})
	check("17841400000000001", Usage{CallCount: 90, TotalCPUTime: 3, TotalTime: 4, RegainAccessIn: 3 * time.Minute})

	now = now.Add(30 * time.Second) // within the window: highest value wins
	if _, err := c.ThreadOwner(ctx, testPageID, testPageToken, testIGSID); err != nil {
		t.Fatal(err)
	}
	check(testPageID, Usage{CallCount: 40, TotalCPUTime: 99, TotalTime: 25})
	check("17841400000000001", Usage{CallCount: 90, TotalCPUTime: 3, TotalTime: 4, RegainAccessIn: 150 * time.Second})

	now = now.Add(2 * time.Minute) // window passed: the next observation replaces
	if _, err := c.ThreadOwner(ctx, testPageID, testPageToken, testIGSID); err != nil {
		t.Fatal(err)
	}
	check(testPageID, Usage{CallCount: 1, TotalCPUTime: 2, TotalTime: 3})
	check("17841400000000001", Usage{CallCount: 90, TotalCPUTime: 3, TotalTime: 4, RegainAccessIn: 30 * time.Second}) // still throttled
	now = now.Add(time.Minute)
	if _, ok := c.LastUsage("17841400000000001"); ok {
		t.Error("stale usage still reported")
	}
}

func TestUsageConcurrent(t *testing.T) {
	tr := newUsageTracker()
	h := http.Header{}
	h.Set("X-App-Usage", `{"call_count":5,"total_cputime":5,"total_time":5}`)
	now := time.Now()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				tr.observe(h, now, fmt.Sprint("page", i), "app")
				tr.get("app", now)
			}
		}()
	}
	wg.Wait()
	if u, ok := tr.get("app", now); !ok || u.CallCount != 5 {
		t.Errorf("got %+v %v", u, ok)
	}
}
