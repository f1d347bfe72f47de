package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/workflows"
)

// ReadUserRoles reads a Rocket.Chat user's roles with the bot's credentials (users.info):
// what decides who may change the bridge's configuration (issue 20). Rocket.Chat shows
// another user's roles only to a caller with view-full-other-user-info; an answer without
// them is a refusal, never "no roles".
func (a *Admin) ReadUserRoles(ctx context.Context, in workflows.UserRolesInput) (workflows.UserRoles, error) {
	if in.UserID == "" {
		return workflows.UserRoles{}, temporal.NewNonRetryableApplicationError("no Rocket.Chat user id to read the roles of", workflows.ErrRocketChatRefused, nil)
	}
	u, err := a.RC.UserInfo(ctx, in.UserID)
	if err != nil {
		return workflows.UserRoles{}, rcRefusal(err, "Rocket.Chat did not let the bot read user "+in.UserID+" (users.info)")
	}
	if !u.RolesShown {
		return workflows.UserRoles{}, temporal.NewNonRetryableApplicationError(
			"Rocket.Chat does not show the bot user other users' roles: give the bot user the view-full-other-user-info permission",
			workflows.ErrRocketChatRefused, nil)
	}
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return workflows.UserRoles{UserID: u.ID, Username: u.Username, Roles: roles}, nil
}
