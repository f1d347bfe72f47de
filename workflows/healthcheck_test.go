package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
)

func TestHealthCheckReportsOnlyChanges(t *testing.T) {
	pages := []ConnectedPage{
		{PageID: "p1", IGUsername: "one", HasToken: true, Subscribed: true},
		{PageID: "p2", IGUsername: "two", HasToken: true, Subscribed: true},
		{PageID: "p3", IGUsername: "three", HasToken: false}, // disconnected: not checked
	}
	const dead = "Meta no longer accepts the page token"
	tests := []struct {
		name       string
		health     map[string]PageHealth
		healthErr  map[string]error
		wantPosted []string // nil: nothing posted
	}{
		{name: "all healthy", health: map[string]PageHealth{}},
		{name: "known problem is not repeated", health: map[string]PageHealth{"p1": {Problem: dead, PreviousProblem: dead}}},
		{name: "dropped subscription renewed", health: map[string]PageHealth{"p2": {IGUsername: "two", Resubscribed: true}},
			wantPosted: []string{"two", "p2", "dropped the webhook subscription; subscribed again"}},
		{name: "dropped fields renewed", health: map[string]PageHealth{"p2": {IGUsername: "two", Resubscribed: true, MissingFields: []string{"standby"}}},
			wantPosted: []string{"dropped webhook fields standby"}},
		{name: "new problem", health: map[string]PageHealth{"p1": {IGUsername: "one", Problem: dead}},
			wantPosted: []string{"one", "⚠️ " + dead}},
		{name: "recovered", health: map[string]PageHealth{"p1": {IGUsername: "one", PreviousProblem: dead}},
			wantPosted: []string{"recovered (was: " + dead}},
		{name: "check failed", healthErr: map[string]error{"p2": temporal.NewNonRetryableApplicationError("Graph down", ErrGraphRefused, nil)},
			wantPosted: []string{"could not be checked: Graph down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAdmin{connected: pages, health: tt.health, healthErr: tt.healthErr}
			env := newAdminEnv(t, f)
			env.ExecuteWorkflow(HealthCheckWorkflowName)
			require.NoError(t, env.GetWorkflowError())
			var res HealthCheckResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, 2, res.Checked)
			require.NotContains(t, f.calls, "CheckPageHealth p3")
			if tt.wantPosted == nil {
				require.Empty(t, f.posts)
				require.False(t, res.Reported)
				return
			}
			require.True(t, res.Reported)
			require.Len(t, f.posts, 1)
			for _, w := range tt.wantPosted {
				require.Contains(t, f.posts[0].Text, w)
			}
		})
	}
}

func TestUnauthorizeUnsubscribesRevokesThenForgets(t *testing.T) {
	f := &fakeAdmin{
		connected: []ConnectedPage{
			{PageID: "p1", IGUsername: "one", HasToken: true, Subscribed: true},
			{PageID: "p2", IGUsername: "two", HasToken: true},
			{PageID: "p3", HasToken: false},
		},
		subscribeErr: map[string]error{"p2": temporal.NewNonRetryableApplicationError("token dead", ErrGraphRefused, nil)},
		revoke:       RevokeResult{Revoked: 1},
	}
	env := newAdminEnv(t, f)
	env.ExecuteWorkflow(UnauthorizeWorkflowName, UnauthorizeInput{RequestedBy: "bob"})
	require.NoError(t, env.GetWorkflowError())
	var res UnauthorizeResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.Equal(t, []PageOutcome{{PageID: "p1", IGUsername: "one", Unsubscribed: true}, {PageID: "p2", IGUsername: "two", Error: "token dead"}}, res.Pages)
	require.Equal(t, 1, res.Revoke.Revoked)
	require.Equal(t, 2, res.Deleted.PageTokens)
	// Unsubscribing needs the page tokens, and revoking may invalidate them: both come first.
	require.Equal(t, "ListConnectedPages", f.calls[0])
	require.ElementsMatch(t, []string{"UnsubscribePage p1", "UnsubscribePage p2"}, f.calls[1:3])
	require.Equal(t, []string{"RevokeAuthorizations", "ForgetTokens", "PostSetupMessage"}, f.calls[3:])
	for _, w := range []string{"uninstalled (requested by bob)", "p1", "webhooks unsubscribed", "could not unsubscribe (token dead)", "revoked for 1", "Deleted 2 page token(s)"} {
		require.Contains(t, f.posts[0].Text, w)
	}
}

func TestPageSubscriptionCallsTheRightActivity(t *testing.T) {
	for _, subscribe := range []bool{true, false} {
		f := &fakeAdmin{}
		env := newAdminEnv(t, f)
		env.ExecuteWorkflow(PageSubscriptionWorkflowName, PageSubscriptionInput{PageID: "p1", Subscribe: subscribe})
		require.NoError(t, env.GetWorkflowError())
		want := "UnsubscribePage p1"
		if subscribe {
			want = "SubscribePage p1"
		}
		require.Equal(t, []string{want}, f.calls)
	}

	f := &fakeAdmin{subscribeErr: map[string]error{"p1": temporal.NewNonRetryableApplicationError("not connected", ErrUnknownPage, nil)}}
	env := newAdminEnv(t, f)
	env.ExecuteWorkflow(PageSubscriptionWorkflowName, PageSubscriptionInput{PageID: "p1", Subscribe: true})
	var app *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &app)
	require.Equal(t, ErrUnknownPage, app.Type())
}

func TestSetupNoticePosts(t *testing.T) {
	f := &fakeAdmin{}
	env := newAdminEnv(t, f)
	env.ExecuteWorkflow(SetupNoticeWorkflowName, SetupMessage{Text: "hello admins"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []SetupMessage{{Text: "hello admins"}}, f.posts)
}
