package rocketchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Config is the part of GET livechat/config the bridge uses. Online means
// "a room can be created now" (§8.1; always true when chats without agents
// are accepted, trap 17). RoomID and the agent fields are set only when the
// visitor has an open room (served by an agent).
type Config struct {
	Enabled, Online          bool
	RoomID                   string
	AgentUsername, AgentName string
}

// Config fetches livechat/config. visitorToken and department are optional
// and omitted when empty (the route rejects unknown keys, not empty ones,
// but an empty department would be looked up). A disabled Livechat answers
// {"enabled":false} with no online key: Online is then false.
func (c *Client) Config(ctx context.Context, visitorToken, department string) (Config, error) {
	q := url.Values{}
	if visitorToken != "" {
		q.Set("token", visitorToken)
	}
	if department != "" {
		q.Set("department", department)
	}
	var out struct {
		Config struct {
			Enabled bool `json:"enabled"`
			Online  bool `json:"online"`
			Room    *struct {
				ID string `json:"_id"`
			} `json:"room"`
			Agent *struct {
				Username string `json:"username"`
				Name     string `json:"name"`
			} `json:"agent"`
		} `json:"config"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "livechat/config", query: q,
		secrets: []string{visitorToken}}, &out); err != nil {
		return Config{}, err
	}
	cf := out.Config
	res := Config{Enabled: cf.Enabled, Online: cf.Enabled && cf.Online}
	if cf.Room != nil {
		res.RoomID = cf.Room.ID
	}
	if cf.Agent != nil { // {"hiddenInfo":true} leaves both empty
		res.AgentUsername, res.AgentName = cf.Agent.Username, cf.Agent.Name
	}
	return res, nil
}

// Department is a Livechat department.
type Department struct {
	ID, Name string
	Enabled  bool
}

// departmentsPageSize is the count per request; maxDepartmentPages bounds
// the loop against servers that never report a total.
const (
	departmentsPageSize = 100
	maxDepartmentPages  = 100
)

// Departments lists every department (enabled or not) with the bot's
// credentials, following count/offset/total pagination (§9).
func (c *Client) Departments(ctx context.Context) ([]Department, error) {
	var all []Department
	offset := 0
	for range maxDepartmentPages {
		var out struct {
			Departments []struct {
				ID      string `json:"_id"`
				Name    string `json:"name"`
				Enabled bool   `json:"enabled"`
			} `json:"departments"`
			Total int `json:"total"`
		}
		q := url.Values{"count": {strconv.Itoa(departmentsPageSize)}, "offset": {strconv.Itoa(offset)}}
		if err := c.do(ctx, request{method: http.MethodGet, path: "livechat/department", query: q, auth: true}, &out); err != nil {
			return nil, err
		}
		for _, d := range out.Departments {
			all = append(all, Department{ID: d.ID, Name: d.Name, Enabled: d.Enabled})
		}
		offset += len(out.Departments)
		if len(out.Departments) == 0 || offset >= out.Total {
			return all, nil
		}
	}
	return nil, fmt.Errorf("rocketchat: livechat/department paging exceeded %d pages", maxDepartmentPages)
}
