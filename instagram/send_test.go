package instagram

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

func TestSend(t *testing.T) {
	const path = "/v23.0/" + testPageID + "/messages"
	okReply := reply{body: `{"recipient_id":"6871234500000001","message_id":"aWdfMID1"}`}
	tests := []struct {
		name string
		req  SendRequest
		body string
	}{
		{
			name: "text defaults to RESPONSE",
			req:  SendRequest{Recipient: testIGSID, Text: "Yes — 2 days to Lisbon."},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"text":"Yes — 2 days to Lisbon."}}`,
		},
		{
			name: "quick replies",
			req: SendRequest{Recipient: testIGSID, Text: "What do you need?",
				QuickReplies: []QuickReply{{"Track order", "TRACK_ORDER"}, {"Talk to a human", "HUMAN"}}},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"text":"What do you need?","quick_replies":[{"content_type":"text","title":"Track order","payload":"TRACK_ORDER"},{"content_type":"text","title":"Talk to a human","payload":"HUMAN"}]}}`,
		},
		{
			name: "image by url",
			req:  SendRequest{Recipient: testIGSID, Attachment: &Attachment{Type: "image", URL: "https://cdn.example.com/p/lisbon-map.png?a=1&b=<2>"}},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"image","payload":{"url":"https://cdn.example.com/p/lisbon-map.png?a=1&b=<2>"}}}}`,
		},
		{
			name: "file by attachment id",
			req:  SendRequest{Recipient: testIGSID, Attachment: &Attachment{Type: "file", AttachmentID: "1857000000000001"}},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"attachment":{"type":"file","payload":{"attachment_id":"1857000000000001"}}}}`,
		},
		{
			name: "human agent tag",
			req:  SendRequest{Recipient: testIGSID, Text: "Sorry for the delay — refund approved.", MessagingType: "MESSAGE_TAG", Tag: "HUMAN_AGENT"},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT","message":{"text":"Sorry for the delay — refund approved."}}`,
		},
		{
			name: "reply_to is top level",
			req:  SendRequest{Recipient: testIGSID, Text: "This one?", ReplyToMID: "aWdf…R1", MessagingType: "UPDATE"},
			body: `{"recipient":{"id":"6871234500000001"},"messaging_type":"UPDATE","message":{"text":"This one?"},"reply_to":{"mid":"aWdf…R1"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodPost, path, pageQuery(), jsonHeader, tc.body}, okReply})
			got, err := newTestClient(f).Send(context.Background(), testPageID, testPageToken, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got != (SendResponse{RecipientID: testIGSID, MessageID: "aWdfMID1"}) {
				t.Errorf("response = %+v", got)
			}
		})
	}
}

func TestSendWithoutAppSecretOmitsProof(t *testing.T) {
	f := newFakeGraph(t, step{
		want{http.MethodPost, "/v23.0/" + testPageID + "/messages", url.Values{"access_token": {testPageToken}}, jsonHeader,
			`{"recipient":{"id":"6871234500000001"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`},
		reply{body: `{"recipient_id":6871234500000001,"message_id":"m1"}`},
	})
	c := NewClient(f.srv.URL+"/", "v23.0", testAppID, "", nil)
	got, err := c.Send(context.Background(), testPageID, testPageToken, SendRequest{Recipient: testIGSID, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if got.RecipientID != testIGSID { // numeric recipient_id accepted
		t.Errorf("recipient = %q", got.RecipientID)
	}
}

func TestSendValidation(t *testing.T) {
	tests := []struct {
		name   string
		pageID string
		req    SendRequest
	}{
		{"no recipient", testPageID, SendRequest{Text: "x"}},
		{"no content", testPageID, SendRequest{Recipient: testIGSID}},
		{"text and attachment", testPageID, SendRequest{Recipient: testIGSID, Text: "x", Attachment: &Attachment{Type: "image", URL: "u"}}},
		{"attachment without source", testPageID, SendRequest{Recipient: testIGSID, Attachment: &Attachment{Type: "image"}}},
		{"attachment with both sources", testPageID, SendRequest{Recipient: testIGSID, Attachment: &Attachment{Type: "image", URL: "u", AttachmentID: "1"}}},
		{"attachment without type", testPageID, SendRequest{Recipient: testIGSID, Attachment: &Attachment{URL: "u"}}},
		{"tag type without tag", testPageID, SendRequest{Recipient: testIGSID, Text: "x", MessagingType: "MESSAGE_TAG"}},
		{"no page", "", SendRequest{Recipient: testIGSID, Text: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t) // no request may be made
			_, err := newTestClient(f).Send(context.Background(), tc.pageID, testPageToken, tc.req)
			if !errors.Is(err, ErrInvalidRequest) || Classify(err) != Permanent {
				t.Errorf("err = %v, class %v", err, Classify(err))
			}
		})
	}
}

func TestSenderAction(t *testing.T) {
	for _, action := range []string{"typing_on", "typing_off", "mark_seen"} {
		t.Run(action, func(t *testing.T) {
			f := newFakeGraph(t, step{
				want{http.MethodPost, "/v23.0/" + testPageID + "/messages", pageQuery(), jsonHeader,
					`{"recipient":{"id":"6871234500000001"},"sender_action":"` + action + `"}`},
				reply{body: `{"recipient_id":"6871234500000001"}`},
			})
			if err := newTestClient(f).SenderAction(context.Background(), testPageID, testPageToken, testIGSID, action); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("react rejected", func(t *testing.T) {
		f := newFakeGraph(t)
		err := newTestClient(f).SenderAction(context.Background(), testPageID, testPageToken, testIGSID, "react")
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestProfile(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Profile
	}{
		{"full", `{"name":"Ana Costa","username":"ana.costa.pt","profile_pic":"https://scontent.xx.fbcdn.net/v/ana.jpg?oe=6A2573DE","follower_count":312,"id":"6871234500000001"}`,
			Profile{ID: testIGSID, Name: "Ana Costa", Username: "ana.costa.pt", ProfilePic: "https://scontent.xx.fbcdn.net/v/ana.jpg?oe=6A2573DE"}},
		{"null name and pic, numeric id", `{"name":null,"username":"anon","profile_pic":null,"id":6871234500000001}`,
			Profile{ID: testIGSID, Username: "anon"}},
		{"no id echoed", `{"username":"anon"}`, Profile{ID: testIGSID, Username: "anon"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{
				want{http.MethodGet, "/v23.0/" + testIGSID, pageQuery("fields", "name,username,profile_pic"), noBodyHeader, ""},
				reply{body: tc.body},
			})
			got, err := newTestClient(f).Profile(context.Background(), testPageToken, testIGSID)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("consent required 230", func(t *testing.T) {
		f := newFakeGraph(t, step{
			want{http.MethodGet, "/v23.0/" + testIGSID, pageQuery("fields", "name,username,profile_pic"), noBodyHeader, ""},
			reply{status: 400, body: `{"error":{"message":"User consent is required to access user profile","type":"OAuthException","code":230,"fbtrace_id":"Ax"}}`},
		})
		_, err := newTestClient(f).Profile(context.Background(), testPageToken, testIGSID)
		var ge *Error
		if !errors.As(err, &ge) || ge.Code != 230 || Classify(err) != Permanent {
			t.Errorf("err = %v", err)
		}
	})
}

func TestThreadControl(t *testing.T) {
	base := "/v23.0/" + testPageID + "/"
	ok := reply{body: `{"success":true}`}
	c := func(f *fakeGraph) *Client { return newTestClient(f) }
	ctx := context.Background()
	tests := []struct {
		name string
		path string
		body string
		rep  reply
		call func(*Client) error
		ok   bool
	}{
		{"pass numeric app id", "pass_thread_control",
			`{"recipient":{"id":"6871234500000001"},"target_app_id":1217981644879628,"metadata":"escalated: refund"}`, ok,
			func(cl *Client) error {
				return cl.PassThreadControl(ctx, testPageID, testPageToken, testIGSID, InstagramInboxAppID, "escalated: refund")
			}, true},
		{"pass to default app", "pass_thread_control", `{"recipient":{"id":"6871234500000001"}}`, ok,
			func(cl *Client) error { return cl.PassThreadControl(ctx, testPageID, testPageToken, testIGSID, "", "") }, true},
		{"pass non-numeric app id as string", "pass_thread_control",
			`{"recipient":{"id":"6871234500000001"},"target_app_id":"app-x"}`, ok,
			func(cl *Client) error {
				return cl.PassThreadControl(ctx, testPageID, testPageToken, testIGSID, "app-x", "")
			}, true},
		{"take", "take_thread_control", `{"recipient":{"id":"6871234500000001"},"metadata":"agent took over"}`, ok,
			func(cl *Client) error {
				return cl.TakeThreadControl(ctx, testPageID, testPageToken, testIGSID, "agent took over")
			}, true},
		{"request", "request_thread_control", `{"recipient":{"id":"6871234500000001"},"metadata":"please hand over"}`,
			reply{body: `{"success":"true"}`},
			func(cl *Client) error {
				return cl.RequestThreadControl(ctx, testPageID, testPageToken, testIGSID, "please hand over")
			}, true},
		{"release", "release_thread_control", `{"recipient":{"id":"6871234500000001"}}`, ok,
			func(cl *Client) error { return cl.ReleaseThreadControl(ctx, testPageID, testPageToken, testIGSID, "") }, true},
		{"success false", "release_thread_control", `{"recipient":{"id":"6871234500000001"}}`, reply{body: `{"success":false}`},
			func(cl *Client) error { return cl.ReleaseThreadControl(ctx, testPageID, testPageToken, testIGSID, "") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodPost, base + tc.path, pageQuery(), jsonHeader, tc.body}, tc.rep})
			err := tc.call(c(f))
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && (err == nil || Classify(err) != Permanent) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestThreadOwner(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"owner", `{"data":[{"thread_owner":{"app_id":"910000000000001","expiration":1767300000}}]}`, "910000000000001"},
		{"numeric owner", `{"data":[{"thread_owner":{"app_id":1217981644879628}}]}`, "1217981644879628"},
		{"idle", `{"data":[]}`, ""},
		{"hidden owner", `{"data":[{"thread_owner":{"expiration":1767300000}}]}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{
				want{http.MethodGet, "/v23.0/" + testPageID + "/thread_owner", pageQuery("recipient", testIGSID), noBodyHeader, ""},
				reply{body: tc.body},
			})
			got, err := newTestClient(f).ThreadOwner(context.Background(), testPageID, testPageToken, testIGSID)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
