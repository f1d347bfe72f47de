package instagram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultScopes is the classic-scope list for Facebook Login for the
// Page-linked flow (§8.1), plus pages_read_engagement, which the User
// Profile API requires (§7) and Chatwoot also requests.
var DefaultScopes = []string{
	"instagram_basic",
	"instagram_manage_messages",
	"pages_manage_metadata",
	"pages_show_list",
	"pages_messaging",
	"pages_read_engagement",
	"business_management",
}

// Token is an OAuth access token. ExpiresIn is in seconds; 0 means Meta
// did not say (treat as unknown, not as "never").
type Token struct {
	AccessToken string
	ExpiresIn   int64
}

// DialogURL builds the Facebook Login dialog URL
// {dialogBase}/{v}/dialog/oauth?client_id=…&redirect_uri=…&state=…&response_type=code&scope=a,b.
// dialogBase is like "https://www.facebook.com". Scopes are comma-joined
// (Meta's documented separator); an empty list omits scope, for FLfB
// configurations that carry their own permissions.
func (c *Client) DialogURL(dialogBase, redirectURI, state string, scopes []string) string {
	q := url.Values{
		"client_id":     {c.appID},
		"redirect_uri":  {redirectURI},
		"state":         {state},
		"response_type": {"code"},
	}
	if len(scopes) > 0 {
		q.Set("scope", strings.Join(scopes, ","))
	}
	return strings.TrimRight(dialogBase, "/") + "/" + c.version + "/dialog/oauth?" + q.Encode()
}

type wireToken struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   flexInt `json:"expires_in"`
}

func (c *Client) tokenCall(ctx context.Context, q url.Values, secrets ...string) (Token, error) {
	if c.appSecret == "" {
		return Token{}, fmt.Errorf("%w: app secret not configured", ErrInvalidRequest)
	}
	q.Set("client_id", c.appID)
	q.Set("client_secret", c.appSecret)
	var out wireToken
	err := c.do(ctx, call{method: http.MethodGet, path: "oauth/access_token", query: q, secrets: secrets,
		check: func() string {
			if out.AccessToken == "" {
				return "token response without access_token"
			}
			return ""
		}}, &out)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: out.AccessToken, ExpiresIn: int64(out.ExpiresIn)}, nil
}

// ExchangeCode trades the dialog's ?code= for a user access token. The
// redirectURI must be byte-identical to the one used in DialogURL.
// Code-flow tokens are sometimes already long-lived (§8.1, UNCERTAIN), so
// callers should read ExpiresIn and still call LongLivedToken.
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI string) (Token, error) {
	if code == "" {
		return Token{}, fmt.Errorf("%w: empty code", ErrInvalidRequest)
	}
	return c.tokenCall(ctx, url.Values{"redirect_uri": {redirectURI}, "code": {code}}, code)
}

// LongLivedToken exchanges a short-lived user token for a ~60-day one
// (grant_type=fb_exchange_token). Page tokens fetched with it do not expire.
func (c *Client) LongLivedToken(ctx context.Context, shortToken string) (Token, error) {
	if shortToken == "" {
		return Token{}, fmt.Errorf("%w: empty token", ErrInvalidRequest)
	}
	return c.tokenCall(ctx, url.Values{"grant_type": {"fb_exchange_token"}, "fb_exchange_token": {shortToken}}, shortToken)
}

// RevokePermissions removes the app from the user (DELETE me/permissions),
// used when a workspace disconnects Instagram.
func (c *Client) RevokePermissions(ctx context.Context, userToken string) error {
	var out successResponse
	return c.do(ctx, call{method: http.MethodDelete, path: "me/permissions", token: userToken, proof: true,
		check: out.check}, &out)
}

// TokenInfo is what debug_token says about a token. ExpiresAt is epoch
// seconds, 0 = never expires. Scopes are the granted permissions.
type TokenInfo struct {
	Valid     bool
	Type      string // USER, PAGE, APP…
	ProfileID string // the Page id for Page tokens
	ExpiresAt int64
	Scopes    []string
}

// DebugToken inspects token with the app token appID|appSecret
// (GET {graph}/debug_token, unversioned exactly as §8.1 shows it; Graph
// also serves a versioned path, but the spec's form is the contract). An invalid or expired
// token is reported as Valid=false with a nil error: Meta answers 200 with
// is_valid:false for those.
func (c *Client) DebugToken(ctx context.Context, token string) (TokenInfo, error) {
	if c.appSecret == "" {
		return TokenInfo{}, fmt.Errorf("%w: app secret not configured", ErrInvalidRequest)
	}
	var out struct {
		Data struct {
			IsValid   bool     `json:"is_valid"`
			Type      string   `json:"type"`
			ProfileID ID       `json:"profile_id"`
			ExpiresAt flexInt  `json:"expires_at"`
			Scopes    []string `json:"scopes"`
		} `json:"data"`
	}
	appToken := c.appID + "|" + c.appSecret
	// No appsecret_proof: the app token already is the secret, and the
	// token under inspection travels as input_token.
	err := c.do(ctx, call{method: http.MethodGet, path: "debug_token", unversioned: true,
		query: url.Values{"input_token": {token}}, token: appToken, secrets: []string{token, appToken}}, &out)
	if err != nil {
		return TokenInfo{}, err
	}
	d := out.Data
	return TokenInfo{Valid: d.IsValid, Type: d.Type, ProfileID: string(d.ProfileID), ExpiresAt: int64(d.ExpiresAt), Scopes: d.Scopes}, nil
}
