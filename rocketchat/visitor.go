package rocketchat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

// CustomField is a Livechat visitor custom field. Rocket.Chat silently
// ignores keys that are not defined with scope "visitor" (§3).
type CustomField struct {
	Key, Value string
	Overwrite  bool
}

// Visitor is a Livechat guest. Department may be an id or a name on input;
// the server always answers with the id.
type Visitor struct {
	ID, Token, Name, Username, Department string
	CustomFields                          []CustomField
}

type wireCustomField struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Overwrite bool   `json:"overwrite"` // 7.x check() requires all three keys
}

type wireVisitorIn struct {
	Token        string            `json:"token"`
	ID           string            `json:"id,omitempty"`
	Name         string            `json:"name,omitempty"`
	Username     string            `json:"username,omitempty"`
	Department   string            `json:"department,omitempty"`
	CustomFields []wireCustomField `json:"customFields,omitempty"`
}

type wireVisitorOut struct {
	ID           string                     `json:"_id"`
	Token        string                     `json:"token"`
	Name         string                     `json:"name"`
	Username     string                     `json:"username"`
	Department   string                     `json:"department"`
	LivechatData map[string]json.RawMessage `json:"livechatData"`
}

// RegisterVisitor creates or updates (upserts) a visitor with
// POST livechat/visitor. The returned Visitor carries the token FROM THE
// RESPONSE, which differs from v.Token when the server matched an existing
// visitor by phone (trap 4): always store the returned token.
// CustomFields in the result are the stored livechatData, sorted by key.
func (c *Client) RegisterVisitor(ctx context.Context, v Visitor) (Visitor, error) {
	if v.Token == "" {
		return Visitor{}, fmt.Errorf("%w: empty visitor token", ErrInvalidRequest)
	}
	in := wireVisitorIn{Token: v.Token, ID: v.ID, Name: v.Name, Username: v.Username, Department: v.Department}
	for _, f := range v.CustomFields {
		in.CustomFields = append(in.CustomFields, wireCustomField(f))
	}
	var out struct {
		Visitor wireVisitorOut `json:"visitor"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "livechat/visitor",
		body: map[string]any{"visitor": in}, secrets: []string{v.Token}}, &out)
	if err != nil {
		return Visitor{}, err
	}
	w := out.Visitor
	res := Visitor{ID: w.ID, Token: w.Token, Name: w.Name, Username: w.Username, Department: w.Department}
	if res.Token == "" {
		// Spec gap: every documented response carries visitor.token; if a
		// server omits it, the token we sent is the only candidate.
		res.Token = v.Token
	}
	for k, raw := range w.LivechatData {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		res.CustomFields = append(res.CustomFields, CustomField{Key: k, Value: s})
	}
	sort.Slice(res.CustomFields, func(i, j int) bool { return res.CustomFields[i].Key < res.CustomFields[j].Key })
	return res, nil
}
