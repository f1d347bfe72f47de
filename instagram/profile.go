package instagram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Profile is the subset of the User Profile API (§7) the bridge shows to
// agents. Name and ProfilePic may be empty (null on the wire); ProfilePic is
// a signed CDN URL that expires after a few days (trap 14).
type Profile struct{ ID, Name, Username, ProfilePic string }

// profileFields is what we ask for; each extra field costs review scope.
const profileFields = "name,username,profile_pic"

// Profile fetches GET {graph}/{v}/{igsid}?fields=name,username,profile_pic.
// Expect code 230 for people who never wrote to the business (trap 31).
func (c *Client) Profile(ctx context.Context, pageToken, igsid string) (Profile, error) {
	if igsid == "" {
		return Profile{}, fmt.Errorf("%w: empty igsid", ErrInvalidRequest)
	}
	var out struct {
		ID         ID      `json:"id"`
		Name       *string `json:"name"`
		Username   *string `json:"username"`
		ProfilePic *string `json:"profile_pic"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: seg(igsid), query: url.Values{"fields": {profileFields}},
		token: pageToken, proof: true}, &out)
	if err != nil {
		return Profile{}, err
	}
	p := Profile{ID: string(out.ID), Name: deref(out.Name), Username: deref(out.Username), ProfilePic: deref(out.ProfilePic)}
	if p.ID == "" {
		p.ID = igsid
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
