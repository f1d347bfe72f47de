package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/config"
)

// rolesTemporal answers the workflow that reads a Rocket.Chat user's roles as the worker
// would, from roles (user id → roles; absent: the user does not exist), and counts the
// lookups. Other workflows are not expected here.
type rolesTemporal struct {
	client.Client
	mu      sync.Mutex
	roles   map[string][]string
	failing bool
	lookups int
}

type rolesRun struct {
	client.WorkflowRun
	answer string
	err    error
}

func (r rolesRun) GetID() string { return "rocketchat-user-roles:test" }
func (r rolesRun) Get(_ context.Context, out any) error {
	if r.err != nil {
		return r.err
	}
	return json.Unmarshal([]byte(r.answer), out)
}

func (f *rolesTemporal) ExecuteWorkflow(_ context.Context, _ client.StartWorkflowOptions, name any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "RocketChatUserRoles" {
		return nil, errors.New("unexpected workflow " + name.(string))
	}
	f.lookups++
	raw, _ := json.Marshal(args[0])
	var in struct {
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(raw, &in)
	roles, ok := f.roles[in.UserID]
	switch {
	case f.failing:
		return rolesRun{err: errors.New("activity error: Rocket.Chat is unreachable")}, nil
	case !ok:
		return rolesRun{err: errors.New("User not found.")}, nil
	}
	answer, _ := json.Marshal(map[string]any{"user_id": in.UserID, "roles": roles})
	return rolesRun{answer: string(answer)}, nil
}

// TestChangesNeedAManagerRole (issue 20, item 1): with ROCKETCHAT_COMMAND_USERS empty,
// only users Rocket.Chat says hold `admin` or `livechat-manager` may change anything;
// everyone in the setup channel may read; when the roles cannot be read, the change is
// refused; ROCKETCHAT_COMMAND_USERS narrows it further. Answers are kept briefly.
func TestChangesNeedAManagerRole(t *testing.T) {
	const token = "s3cret-command-token"
	open := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "omnichannel-instagram-setup"}
	narrowed := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "omnichannel-instagram-setup", RocketChatCommandUsers: "uJoao, uMaria"}
	as := func(uid, name, text string) string {
		return `{"token":"` + token + `","channel_id":"GsetupRoom01","channel_name":"omnichannel-instagram-setup","user_id":"` + uid + `","user_name":"` + name + `","text":"` + text + `"}`
	}
	roles := map[string][]string{"uMaria": {"user", "admin"}, "uLuis": {"user", "livechat-manager"}, "uJoao": {"user", "livechat-agent"}}
	tests := []struct {
		name     string
		cfg      *config.Config
		failing  bool
		body     string
		want     string
		lookedUp bool
	}{
		{"an admin changes", open, false, as("uMaria", "maria", "instagram unauthorize"), "no database connection", true},
		{"a livechat manager changes", open, false, as("uLuis", "luis", "instagram settings unsend_action=delete"), "no database connection", true},
		{"an agent may not uninstall", open, false, as("uJoao", "joao", "instagram unauthorize"), "Only Rocket.Chat users with the `admin` or `livechat-manager` role", true},
		{"an agent may not open the console", open, false, as("uJoao", "joao", "instagram console"), "`livechat-manager` role", true},
		{"an agent may not authorize", open, false, as("uJoao", "joao", "instagram authorize"), "your roles are: user, livechat-agent", true},
		{"an agent may not sign everyone out", open, false, as("uJoao", "joao", "instagram signout"), "`livechat-manager` role", true},
		{"an agent reads", open, false, as("uJoao", "joao", "instagram list"), "no database connection", false},
		{"an agent shows a page", open, false, as("uJoao", "joao", "instagram edit casa"), "no database connection", false},
		{"an unknown user may not", open, false, as("uGhost", "ghost", "instagram unauthorize"), "could not be read", true},
		{"roles unreadable: refused", open, true, as("uMaria", "maria", "instagram unauthorize"), "could not be read", true},
		{"no user id", open, false, `{"token":"` + token + `","channel_name":"omnichannel-instagram-setup","text":"instagram authorize"}`, "did not say who you are", false},
		{"listed but no manager role", narrowed, false, as("uJoao", "joao", "instagram unauthorize"), "`livechat-manager` role", true},
		{"a manager not listed", narrowed, false, as("uLuis", "luis", "instagram unauthorize"), "ROCKETCHAT_COMMAND_USERS", false},
		{"listed and admin", narrowed, false, as("uMaria", "maria", "instagram unauthorize"), "no database connection", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &rolesTemporal{roles: roles, failing: tt.failing}
			s := New(tt.cfg, tc, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			req := httptest.NewRequest(http.MethodPost, "/rocketchat/command", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tt.want)
			require.Equal(t, tt.lookedUp, tc.lookups > 0, "roles looked up")
		})
	}

	t.Run("answers are kept briefly", func(t *testing.T) {
		tc := &rolesTemporal{roles: roles}
		s := New(open, tc, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		for range 3 {
			req := httptest.NewRequest(http.MethodPost, "/rocketchat/command", strings.NewReader(as("uMaria", "maria", "instagram unauthorize")))
			req.Header.Set("Content-Type", "application/json")
			s.Handler().ServeHTTP(httptest.NewRecorder(), req)
		}
		require.Equal(t, 1, tc.lookups)
		tc.failing = true // a failure is not kept: the next lookup after the cache is asked again
		require.NoError(t, s.mayChange(context.Background(), "uMaria", "maria"), "still within the cache")
	})
}
