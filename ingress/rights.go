package ingress

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/workflows"
)

// Who may change things (issue 20). Reading is open to everyone in the setup channel; a
// change (a command that changes something, `instagram console`, every request of a console
// session from a sign-in link) needs a Rocket.Chat user who holds one of managerRoles, as
// Rocket.Chat itself says (users.info with the bot's credentials, through a workflow:
// ingress never calls Rocket.Chat), and — with ROCKETCHAT_COMMAND_USERS set — who is listed
// there too. When the roles cannot be read, the change is refused: never allowed.

// managerRoles are the Rocket.Chat roles that may change the bridge's configuration.
var managerRoles = []string{"admin", "livechat-manager"}

// rolesTTL is how long an answer of Rocket.Chat about a user's roles is used: a role
// taken away counts within it. Failures are not kept.
const (
	rolesTTL       = 30 * time.Second
	rolesCacheSize = 1000
)

type rolesEntry struct {
	roles []string
	at    time.Time
}

// rolesCache keeps Rocket.Chat's recent answers about users' roles.
type rolesCache struct {
	mu sync.Mutex
	m  map[string]rolesEntry
}

func (c *rolesCache) get(userID string, now time.Time) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[userID]
	if !ok || now.Sub(e.at) >= rolesTTL {
		return nil, false
	}
	return e.roles, true
}

func (c *rolesCache) put(userID string, roles []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= rolesCacheSize {
		c.m = map[string]rolesEntry{} // a full cache starts again: it only saves round trips
	}
	c.m[userID] = rolesEntry{roles: roles, at: now}
}

// mayChange tells whether a Rocket.Chat user may change things: nil, or a refusal to
// show them (403: they may not; 503: it cannot be told now, so nothing is done).
func (s *Server) mayChange(ctx context.Context, userID, username string) error {
	if userID == "" {
		return refuse(http.StatusForbidden, "Rocket.Chat did not say who you are (no user id), so nothing that changes anything can run.")
	}
	if allowed := s.cfg.CommandUsers(); len(allowed) > 0 && !slices.Contains(allowed, userID) {
		return refuse(http.StatusForbidden, "Only the users listed in ROCKETCHAT_COMMAND_USERS may change anything here, and your user id %s is not one of them.", safetext.Code(userID))
	}
	roles, err := s.userRoles(ctx, userID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if slices.Contains(managerRoles, r) {
			return nil
		}
	}
	held := "none"
	if len(roles) > 0 {
		held = strings.Join(roles, ", ")
	}
	return refuse(http.StatusForbidden, "Only Rocket.Chat users with the `admin` or `livechat-manager` role may change anything here; Rocket.Chat says your roles are: %s.", held)
}

// userRoles reads a user's roles from Rocket.Chat (RocketChatUserRoles workflow), or from
// an answer of the last rolesTTL.
func (s *Server) userRoles(ctx context.Context, userID string) ([]string, error) {
	now := time.Now()
	if roles, ok := s.roles.get(userID, now); ok {
		return roles, nil
	}
	if s.temporal == nil {
		return nil, refuse(http.StatusServiceUnavailable, "Your Rocket.Chat roles could not be checked (no Temporal connection), so nothing was done.")
	}
	ctx, cancel := context.WithTimeout(ctx, departmentsWait)
	defer cancel()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "rocketchat-user-roles:" + randomHex(6), TaskQueue: s.cfg.TemporalTaskQueue,
		WorkflowExecutionTimeout: time.Minute, StaticSummary: "Read a Rocket.Chat user's roles: who may change things",
	}, workflows.UserRolesWorkflowName, workflows.UserRolesInput{UserID: userID})
	if err != nil {
		s.log.Error("Could not start the user roles workflow", "error", err)
		return nil, refuse(http.StatusServiceUnavailable, "Your Rocket.Chat roles could not be checked (Temporal is not reachable), so nothing was done. Try again in a moment.")
	}
	var out workflows.UserRoles
	err = run.Get(ctx, &out)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		s.roles.put(userID, out.Roles, now)
		return out.Roles, nil
	case errors.As(err, &app):
		s.log.Warn("User roles not readable", "user_id", userID, "error", app.Message())
		return nil, refuse(http.StatusServiceUnavailable, "Your Rocket.Chat roles could not be read (%s), so nothing was done.", app.Message())
	case ctx.Err() != nil:
		return nil, refuse(http.StatusServiceUnavailable, "Your Rocket.Chat roles could not be read in time (is the worker running, is Rocket.Chat reachable?), so nothing was done.")
	}
	s.log.Error("User roles workflow failed", "user_id", userID, "error", err)
	return nil, refuse(http.StatusServiceUnavailable, "Your Rocket.Chat roles could not be read (%v), so nothing was done.", err)
}
