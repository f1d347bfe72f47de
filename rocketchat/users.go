package rocketchat

import (
	"context"
	"net/http"
	"net/url"
)

// UserInfo is what GET users.info says of a Rocket.Chat user. RolesShown is false when
// the answer carries no roles at all: Rocket.Chat shows another user's roles only to a
// caller with the view-full-other-user-info permission.
type UserInfo struct {
	ID, Username string
	Roles        []string
	RolesShown   bool
}

// UserInfo reads a user by id with the bot's credentials (users.info?userId=…): who may
// change the bridge's configuration is decided by the user's roles.
//
// Spec gap: users.info is not in rocketchat-livechat.md. The call follows Rocket.Chat's
// REST API: GET with X-User-Id/X-Auth-Token (§2.3), the user object under "user" with
// `roles` as on the user object of login's `me` (§11.1), errors in the envelope of §2.2
// (an unknown user is a 400).
func (c *Client) UserInfo(ctx context.Context, userID string) (UserInfo, error) {
	var out struct {
		User struct {
			ID       string    `json:"_id"`
			Username string    `json:"username"`
			Roles    *[]string `json:"roles"`
		} `json:"user"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "users.info", query: url.Values{"userId": {userID}}, auth: true}, &out); err != nil {
		return UserInfo{}, err
	}
	u := UserInfo{ID: out.User.ID, Username: out.User.Username}
	if out.User.Roles != nil {
		u.Roles, u.RolesShown = *out.User.Roles, true
	}
	return u, nil
}
