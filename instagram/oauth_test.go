package instagram

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestDialogURL(t *testing.T) {
	c := NewClient("https://graph.facebook.com", "v23.0", testAppID, testAppSecret, nil)
	tests := []struct {
		name   string
		scopes []string
		want   string
	}{
		{"default scopes", DefaultScopes,
			"https://www.facebook.com/v23.0/dialog/oauth?client_id=910000000000001&redirect_uri=https%3A%2F%2Fapp.example.com%2Fmeta%2Fcallback&response_type=code&scope=instagram_basic%2Cinstagram_manage_messages%2Cpages_manage_metadata%2Cpages_show_list%2Cpages_messaging%2Cpages_read_engagement%2Cbusiness_management&state=8f1c"},
		{"no scopes", nil,
			"https://www.facebook.com/v23.0/dialog/oauth?client_id=910000000000001&redirect_uri=https%3A%2F%2Fapp.example.com%2Fmeta%2Fcallback&response_type=code&state=8f1c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.DialogURL("https://www.facebook.com/", "https://app.example.com/meta/callback", "8f1c", tc.scopes)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestTokenExchange(t *testing.T) {
	const path = "/v23.0/oauth/access_token"
	tests := []struct {
		name  string
		query url.Values
		rep   reply
		call  func(*Client) (Token, error)
		want  Token
		class Class // when an error is expected
		isErr bool
	}{
		{"code", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "code": {"AQDcode123456"},
			"redirect_uri": {"https://app.example.com/meta/callback"}},
			reply{body: `{"access_token":"EAAGshort","token_type":"bearer","expires_in":7199}`},
			func(c *Client) (Token, error) {
				return c.ExchangeCode(context.Background(), "AQDcode123456", "https://app.example.com/meta/callback")
			},
			Token{AccessToken: "EAAGshort", ExpiresIn: 7199}, 0, false},
		{"code without expires_in", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "code": {"AQDcode123456"},
			"redirect_uri": {"https://app.example.com/cb"}},
			reply{body: `{"access_token":"EAAGlong","token_type":"bearer"}`},
			func(c *Client) (Token, error) {
				return c.ExchangeCode(context.Background(), "AQDcode123456", "https://app.example.com/cb")
			},
			Token{AccessToken: "EAAGlong"}, 0, false},
		{"long lived", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "grant_type": {"fb_exchange_token"},
			"fb_exchange_token": {"EAAGshort-token"}},
			reply{body: `{"access_token":"EAAGlong","token_type":"bearer","expires_in":"5183944"}`},
			func(c *Client) (Token, error) { return c.LongLivedToken(context.Background(), "EAAGshort-token") },
			Token{AccessToken: "EAAGlong", ExpiresIn: 5183944}, 0, false},
		{"code reused", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "code": {"AQDcode123456"},
			"redirect_uri": {"https://app.example.com/cb"}},
			reply{status: 400, body: `{"error":{"message":"This authorization code has been used. code=AQDcode123456","type":"OAuthException","code":100,"error_subcode":36009,"fbtrace_id":"A1"}}`},
			func(c *Client) (Token, error) {
				return c.ExchangeCode(context.Background(), "AQDcode123456", "https://app.example.com/cb")
			},
			Token{}, Permanent, true},
		{"expired short token", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "grant_type": {"fb_exchange_token"},
			"fb_exchange_token": {"EAAGshort-token"}},
			reply{status: 400, body: `{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}`},
			func(c *Client) (Token, error) { return c.LongLivedToken(context.Background(), "EAAGshort-token") },
			Token{}, AuthExpired, true},
		{"2xx without token", url.Values{"client_id": {testAppID}, "client_secret": {testAppSecret}, "grant_type": {"fb_exchange_token"},
			"fb_exchange_token": {"EAAGshort-token"}},
			reply{body: `{}`},
			func(c *Client) (Token, error) { return c.LongLivedToken(context.Background(), "EAAGshort-token") },
			Token{}, Permanent, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodGet, path, tc.query, noBodyHeader, ""}, tc.rep})
			got, err := tc.call(newTestClient(f))
			if tc.isErr {
				if err == nil || Classify(err) != tc.class {
					t.Fatalf("err = %v (class %v), want class %v", err, Classify(err), tc.class)
				}
				noLeak(t, err.Error())
				if strings.Contains(err.Error(), "AQDcode123456") || strings.Contains(err.Error(), "EAAGshort-token") {
					t.Errorf("credential leaked: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	t.Run("no app secret", func(t *testing.T) {
		c := NewClient("http://127.0.0.1:1", "v23.0", testAppID, "", nil)
		if _, err := c.ExchangeCode(context.Background(), "x", "y"); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPages(t *testing.T) {
	q1 := tokenQuery(testUserToken, "fields", pagesFields)
	var f *fakeGraph
	f = newFakeGraph(t,
		step{want{http.MethodGet, "/v23.0/me/accounts", q1, noBodyHeader, ""}, reply{}},
		step{want{http.MethodGet, "/v23.0/me/accounts", tokenQuery(testUserToken, "fields", pagesFields, "after", "QVFIcursor2", "limit", "25"), noBodyHeader, ""},
			reply{body: `{"data":[{"id":"102030405060710","name":"Third","access_token":"EAAG…PAT3"}],"paging":{"cursors":{"before":"b","after":"a"}}}`}},
	)
	// The first answer's paging.next must point at the fake itself.
	f.steps[0].reply.body = `{"data":[
	  {"id":"102030405060708","name":"Casa Azul Store","access_token":"EAAG…PAT","tasks":["MANAGE"],
	   "instagram_business_account":{"id":"17841400000000001","username":"casaazul.store"}},
	  {"id":102030405060709,"name":"Side Page","access_token":"EAAG…PAT2","tasks":["MODERATE"]}],
	 "paging":{"cursors":{"before":"QVFI","after":"QVFIcursor2"},
	   "next":"` + f.srv.URL + `/v23.0/me/accounts?access_token=` + testUserToken + `&fields=` + url.QueryEscape(pagesFields) + `&limit=25&after=QVFIcursor2"}}`
	got, err := newTestClient(f).Pages(context.Background(), testUserToken)
	if err != nil {
		t.Fatal(err)
	}
	want := []PageAccount{
		{PageID: "102030405060708", Name: "Casa Azul Store", AccessToken: "EAAG…PAT", IGAccountID: "17841400000000001", IGUsername: "casaazul.store"},
		{PageID: "102030405060709", Name: "Side Page", AccessToken: "EAAG…PAT2"},
		{PageID: "102030405060710", Name: "Third", AccessToken: "EAAG…PAT3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestPagesRefusesForeignNext(t *testing.T) {
	f := newFakeGraph(t, step{
		want{http.MethodGet, "/v23.0/me/accounts", tokenQuery(testUserToken, "fields", pagesFields), noBodyHeader, ""},
		reply{body: `{"data":[{"id":"1","name":"A"}],"paging":{"next":"https://evil.example.com/v23.0/me/accounts?after=x"}}`},
	})
	_, err := newTestClient(f).Pages(context.Background(), testUserToken)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("err = %v", err)
	}
}

func TestSubscriptions(t *testing.T) {
	path := "/v23.0/" + testPageID + "/subscribed_apps"
	ctx := context.Background()
	t.Run("subscribe default fields", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodPost, path,
			pageQuery("subscribed_fields", "messages,messaging_postbacks,message_reactions,messaging_seen,messaging_referrals,messaging_handovers,standby"),
			noBodyHeader, ""}, reply{body: `{"success":true}`}})
		if err := newTestClient(f).Subscribe(ctx, testPageID, testPageToken, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("subscribe custom fields, string success", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodPost, path, pageQuery("subscribed_fields", "messages,standby"), noBodyHeader, ""},
			reply{body: `{"success":"true"}`}})
		if err := newTestClient(f).Subscribe(ctx, testPageID, testPageToken, []string{"messages", "standby"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("subscribe permission error", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodPost, path, pageQuery("subscribed_fields", "messages"), noBodyHeader, ""},
			reply{status: 403, body: `{"error":{"message":"(#200) Requires pages_manage_metadata permission","type":"OAuthException","code":200}}`}})
		err := newTestClient(f).Subscribe(ctx, testPageID, testPageToken, []string{"messages"})
		if Classify(err) != Misconfigured {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unsubscribe", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodDelete, path, pageQuery(), noBodyHeader, ""}, reply{body: `{"success":true}`}})
		if err := newTestClient(f).Unsubscribe(ctx, testPageID, testPageToken); err != nil {
			t.Fatal(err)
		}
	})
	fieldsTests := []struct {
		name, body string
		want       []string
	}{
		{"ours", `{"data":[{"category":"Business","name":"Other","id":"910000000000009","subscribed_fields":["feed"]},{"category":"Business","link":"https://app.example.com","name":"My App","id":"910000000000001","subscribed_fields":["messages","standby"]}]}`,
			[]string{"messages", "standby"}},
		{"numeric id", `{"data":[{"id":910000000000001,"subscribed_fields":["messages"]}]}`, []string{"messages"}},
		{"not subscribed", `{"data":[{"id":"910000000000009","subscribed_fields":["feed"]}]}`, nil},
		{"none", `{"data":[]}`, nil},
		{"no fields", `{"data":[{"id":"910000000000001"}]}`, []string{}},
	}
	for _, tc := range fieldsTests {
		t.Run("fields "+tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodGet, path, pageQuery(), noBodyHeader, ""}, reply{body: tc.body}})
			got, err := newTestClient(f).SubscribedFields(ctx, testPageID, testPageToken)
			if err != nil || !reflect.DeepEqual(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestRevokePermissions(t *testing.T) {
	f := newFakeGraph(t, step{want{http.MethodDelete, "/v23.0/me/permissions", tokenQuery(testUserToken), noBodyHeader, ""},
		reply{body: `{"success":true}`}})
	if err := newTestClient(f).RevokePermissions(context.Background(), testUserToken); err != nil {
		t.Fatal(err)
	}
}

func TestDebugToken(t *testing.T) {
	q := url.Values{"input_token": {testPageToken}, "access_token": {testAppID + "|" + testAppSecret}}
	tests := []struct {
		name, body string
		want       TokenInfo
	}{
		{"page token", `{"data":{"app_id":"910000000000001","type":"PAGE","application":"My App","data_access_expires_at":1774999999,
		  "expires_at":0,"is_valid":true,"profile_id":"102030405060708","scopes":["instagram_basic","instagram_manage_messages","pages_messaging"],
		  "granular_scopes":[{"scope":"instagram_manage_messages","target_ids":["17841400000000001"]}],"user_id":"1000000000000001"}}`,
			TokenInfo{Valid: true, Type: "PAGE", ProfileID: testPageID, Scopes: []string{"instagram_basic", "instagram_manage_messages", "pages_messaging"}}},
		{"expired", `{"data":{"app_id":"910000000000001","type":"USER","expires_at":1767225600,"is_valid":false,
		  "error":{"code":190,"message":"Error validating access token: Session has expired","subcode":463},"scopes":[]}}`,
			TokenInfo{Type: "USER", ExpiresAt: 1767225600, Scopes: []string{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodGet, "/debug_token", q, noBodyHeader, ""}, reply{body: tc.body}})
			got, err := newTestClient(f).DebugToken(context.Background(), testPageToken)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	t.Run("error does not leak app token", func(t *testing.T) {
		f := newFakeGraph(t, step{want{http.MethodGet, "/debug_token", q, noBodyHeader, ""},
			reply{status: 400, body: `{"error":{"message":"Invalid OAuth access token signature: 910000000000001|app-secret-0123456789","type":"OAuthException","code":190}}`}})
		_, err := newTestClient(f).DebugToken(context.Background(), testPageToken)
		if Classify(err) != AuthExpired {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
}

func TestPageInstagramAccount(t *testing.T) {
	ctx := context.Background()
	path := "/v23.0/" + testPageID
	for _, tc := range []struct{ name, body, want string }{
		{"linked", `{"instagram_business_account":{"id":"17841400000000001"},"id":"` + testPageID + `"}`, "17841400000000001"},
		{"unlinked: the field is left out", `{"id":"` + testPageID + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t, step{want{http.MethodGet, path, pageQuery("fields", "instagram_business_account{id}"), noBodyHeader, ""}, reply{body: tc.body}})
			got, err := newTestClient(f).PageInstagramAccount(ctx, testPageID, testPageToken)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
