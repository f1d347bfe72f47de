package instagram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// PageAccount is one Page the user can manage, with its Page token and the
// linked Instagram professional account (empty IG fields = none linked).
type PageAccount struct{ PageID, Name, AccessToken, IGAccountID, IGUsername string }

// pagesFields asks for exactly what PageAccount holds (§8.1).
const pagesFields = "id,name,access_token,instagram_business_account{id,username}"

// maxPages bounds paging.next chains so a looping server cannot hold a
// worker forever. 100 pages of 25 is far beyond any real account.
const maxPages = 100

// Pages lists the user's Pages via me/accounts, following paging.next.
// Pages not selected during login are absent (trap 29). With a long-lived
// user token the returned Page tokens do not expire.
func (c *Client) Pages(ctx context.Context, userToken string) ([]PageAccount, error) {
	var all []PageAccount
	cl := call{method: http.MethodGet, path: "me/accounts", query: url.Values{"fields": {pagesFields}},
		token: userToken, proof: true}
	seen := map[string]bool{}
	for range maxPages {
		var out struct {
			Data []struct {
				ID                       ID     `json:"id"`
				Name                     string `json:"name"`
				AccessToken              string `json:"access_token"`
				InstagramBusinessAccount *struct {
					ID       ID     `json:"id"`
					Username string `json:"username"`
				} `json:"instagram_business_account"`
			} `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.do(ctx, cl, &out); err != nil {
			return nil, err
		}
		for _, d := range out.Data {
			p := PageAccount{PageID: string(d.ID), Name: d.Name, AccessToken: d.AccessToken}
			if ig := d.InstagramBusinessAccount; ig != nil {
				p.IGAccountID, p.IGUsername = string(ig.ID), ig.Username
			}
			all = append(all, p)
		}
		next := out.Paging.Next
		if next == "" || len(out.Data) == 0 || seen[next] {
			return all, nil
		}
		seen[next] = true
		abs, err := c.sameOrigin(next)
		if err != nil {
			return nil, err
		}
		// paging.next already carries access_token; do() sets it again
		// (same value) and adds appsecret_proof if missing.
		cl = call{method: http.MethodGet, absURL: abs, token: userToken, proof: true}
	}
	return nil, fmt.Errorf("instagram: me/accounts paging exceeded %d pages", maxPages)
}

// sameOrigin resolves a paging URL against graphURL and refuses other
// hosts, so a forged "next" can never receive the user's token.
func (c *Client) sameOrigin(raw string) (string, error) {
	base, err := url.Parse(c.graphURL + "/")
	if err != nil {
		return "", fmt.Errorf("instagram: invalid graph URL")
	}
	u, err := base.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return "", fmt.Errorf("instagram: refusing paging.next outside %s", base.Host)
	}
	return u.String(), nil
}

// DefaultSubscribedFields are the Page-level webhook fields for Instagram
// messaging. Page names are plural (messaging_referrals,
// messaging_handovers) unlike the Instagram dashboard fields (trap 30).
var DefaultSubscribedFields = []string{
	"messages",
	"messaging_postbacks",
	"message_reactions",
	"messaging_seen",
	"messaging_referrals",
	"messaging_handovers",
	"standby",
}

// Subscribe subscribes our app to the Page's webhooks:
// POST {page}/subscribed_apps?subscribed_fields=a,b. A nil or empty fields
// list means DefaultSubscribedFields. Re-subscribing is how a Page is
// recovered after Meta silently disabled delivery (trap 7).
func (c *Client) Subscribe(ctx context.Context, pageID, pageToken string, fields []string) error {
	if pageID == "" {
		return fmt.Errorf("%w: empty page id", ErrInvalidRequest)
	}
	if len(fields) == 0 {
		fields = DefaultSubscribedFields
	}
	var out successResponse
	return c.do(ctx, call{method: http.MethodPost, path: seg(pageID) + "/subscribed_apps",
		query: url.Values{"subscribed_fields": {strings.Join(fields, ",")}},
		token: pageToken, proof: true, usageID: pageID, check: out.check}, &out)
}

// Unsubscribe removes our app's webhook subscription for the Page.
func (c *Client) Unsubscribe(ctx context.Context, pageID, pageToken string) error {
	if pageID == "" {
		return fmt.Errorf("%w: empty page id", ErrInvalidRequest)
	}
	var out successResponse
	return c.do(ctx, call{method: http.MethodDelete, path: seg(pageID) + "/subscribed_apps",
		token: pageToken, proof: true, usageID: pageID, check: out.check}, &out)
}

// SubscribedFields returns the fields our app (by app id) is subscribed to
// on the Page, or nil when our app is not subscribed. Used by the
// subscription health check (trap 7).
func (c *Client) SubscribedFields(ctx context.Context, pageID, pageToken string) ([]string, error) {
	if pageID == "" {
		return nil, fmt.Errorf("%w: empty page id", ErrInvalidRequest)
	}
	var out struct {
		Data []struct {
			ID               ID       `json:"id"`
			SubscribedFields []string `json:"subscribed_fields"`
		} `json:"data"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: seg(pageID) + "/subscribed_apps",
		token: pageToken, proof: true, usageID: pageID}, &out); err != nil {
		return nil, err
	}
	for _, d := range out.Data {
		if string(d.ID) == c.appID {
			if d.SubscribedFields == nil {
				return []string{}, nil // subscribed, but with no fields
			}
			return d.SubscribedFields, nil
		}
	}
	return nil, nil
}

// PageInstagramAccount returns the id of the Instagram professional account linked to the
// Page, "" when none is (GET {page}?fields=instagram_business_account, spec §8.1): what
// tells an admin that the page was unlinked from its Instagram account.
func (c *Client) PageInstagramAccount(ctx context.Context, pageID, pageToken string) (string, error) {
	if pageID == "" {
		return "", fmt.Errorf("%w: empty page id", ErrInvalidRequest)
	}
	var out struct {
		IG *struct {
			ID ID `json:"id"`
		} `json:"instagram_business_account"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: seg(pageID),
		query: url.Values{"fields": {"instagram_business_account{id}"}},
		token: pageToken, proof: true, usageID: pageID}, &out); err != nil {
		return "", err
	}
	if out.IG == nil {
		return "", nil
	}
	return string(out.IG.ID), nil
}
