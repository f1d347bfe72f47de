package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeAdmin stands in for the administration activities: it records what was called and
// posted, and answers from its fields.
type fakeAdmin struct {
	mu     sync.Mutex
	now    func() time.Time
	calls  []string
	posts  []SetupMessage
	states []CreateOAuthStateInput

	exchangeErr  error
	pages        ConnectPagesResult
	subscribeErr map[string]error
	connected    []ConnectedPage
	health       map[string]PageHealth
	healthErr    map[string]error
	revoke       RevokeResult
	postsFailTil time.Time // PostSetupMessage fails (retryably) until the workflow clock gets here
}

func (f *fakeAdmin) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeAdmin) CreateOAuthState(_ context.Context, in CreateOAuthStateInput) (AuthorizationLink, error) {
	f.record("CreateOAuthState")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = append(f.states, in)
	return AuthorizationLink{OAuthStateRef: OAuthStateRef{Ref: in.Ref, KeyID: "0a1b2c3d"}, ExpiresAt: f.now().Add(in.TTL)}, nil
}

func (f *fakeAdmin) ExchangeOAuthCode(_ context.Context, ref OAuthStateRef) (ExchangeResult, error) {
	f.record("ExchangeOAuthCode")
	return ExchangeResult{}, f.exchangeErr
}

func (f *fakeAdmin) ConnectAuthorizedPages(context.Context, OAuthStateRef) (ConnectPagesResult, error) {
	f.record("ConnectAuthorizedPages")
	return f.pages, nil
}

func (f *fakeAdmin) SubscribePage(_ context.Context, ref PageRef) (SubscriptionResult, error) {
	f.record("SubscribePage " + ref.PageID)
	if err := f.subscribeErr[ref.PageID]; err != nil {
		return SubscriptionResult{}, err
	}
	return SubscriptionResult{PageID: ref.PageID, Subscribed: true}, nil
}

func (f *fakeAdmin) UnsubscribePage(_ context.Context, ref PageRef) (SubscriptionResult, error) {
	f.record("UnsubscribePage " + ref.PageID)
	if err := f.subscribeErr[ref.PageID]; err != nil {
		return SubscriptionResult{}, err
	}
	return SubscriptionResult{PageID: ref.PageID}, nil
}

func (f *fakeAdmin) ListConnectedPages(context.Context) ([]ConnectedPage, error) {
	f.record("ListConnectedPages")
	return f.connected, nil
}

func (f *fakeAdmin) CheckPageHealth(_ context.Context, ref PageRef) (PageHealth, error) {
	f.record("CheckPageHealth " + ref.PageID)
	if err := f.healthErr[ref.PageID]; err != nil {
		return PageHealth{}, err
	}
	h := f.health[ref.PageID]
	h.PageID = ref.PageID
	return h, nil
}

func (f *fakeAdmin) RevokeAuthorizations(context.Context) (RevokeResult, error) {
	f.record("RevokeAuthorizations")
	return f.revoke, nil
}

func (f *fakeAdmin) ForgetTokens(context.Context) (ForgetResult, error) {
	f.record("ForgetTokens")
	return ForgetResult{PageTokens: 2, UserTokens: 1}, nil
}

func (f *fakeAdmin) PostSetupMessage(_ context.Context, m SetupMessage) error {
	if f.now().Before(f.postsFailTil) {
		f.record("PostSetupMessage failed")
		return errors.New("rocketchat: HTTP 503")
	}
	f.record("PostSetupMessage")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, m)
	return nil
}

func newAdminEnv(t *testing.T, f *fakeAdmin) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	for name, fn := range map[string]any{
		AuthorizationWorkflowName: Authorization, UnauthorizeWorkflowName: Unauthorize,
		PageSubscriptionWorkflowName: PageSubscription, HealthCheckWorkflowName: HealthCheck,
		SetupNoticeWorkflowName: SetupNotice,
	} {
		env.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	for name, fn := range map[string]any{
		ActivityCreateOAuthState: f.CreateOAuthState, ActivityExchangeOAuthCode: f.ExchangeOAuthCode,
		ActivityConnectAuthorizedPages: f.ConnectAuthorizedPages, ActivitySubscribePage: f.SubscribePage,
		ActivityUnsubscribePage: f.UnsubscribePage, ActivityListConnectedPages: f.ListConnectedPages,
		ActivityCheckPageHealth: f.CheckPageHealth, ActivityRevokeAuthorizations: f.RevokeAuthorizations,
		ActivityForgetTokens: f.ForgetTokens, ActivityPostSetupMessage: f.PostSetupMessage,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "instagram-authorization:test"})
	f.now = env.Now
	return env
}

// askForLink sends the link update right after start, as ingress does with
// update-with-start, and returns where the answer lands.
func askForLink(t *testing.T, env *testsuite.TestWorkflowEnvironment) *AuthorizationLink {
	link := &AuthorizationLink{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateAuthorizationLink, "link-1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("link update rejected: %v", err) },
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				*link = v.(AuthorizationLink)
			},
		})
	}, 0)
	return link
}

func authResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) AuthorizationResult {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res AuthorizationResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

var twoAccounts = ConnectPagesResult{
	Accounts: []ConnectedAccount{
		{PageID: "102030405060708", PageName: "Casa Azul", IGAccountID: "17841400000000001", IGUsername: "casaazul.store"},
		{PageID: "102030405060709", PageName: "Casa Verde", IGAccountID: "17841400000000002", IGUsername: "casaverde"},
	},
	Skipped: []SkippedPage{{PageID: "102030405060710", Name: "Side Page", Reason: "no Instagram professional account is linked to this page"}},
}

func TestAuthorizationConnectsSubscribesAndReports(t *testing.T) {
	f := &fakeAdmin{pages: twoAccounts}
	env := newAdminEnv(t, f)
	link := askForLink(t, env)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryAuthorization)
		require.NoError(t, err)
		var res AuthorizationResult
		require.NoError(t, v.Get(&res))
		require.Equal(t, AuthWaiting, res.Status)
		env.SignalWorkflow(SignalOAuthCallback, OAuthCallback{CodeStored: true})
	}, 2*time.Minute)
	env.ExecuteWorkflow(AuthorizationWorkflowName, AuthorizationInput{RequestedBy: "bob", DirectTo: "bob"})
	res := authResult(t, env)

	require.Equal(t, AuthConnected, res.Status)
	require.Len(t, res.Accounts, 2)
	require.True(t, res.Accounts[0].Subscribed && res.Accounts[1].Subscribed)
	require.Len(t, f.states, 1)
	require.Len(t, f.states[0].Ref, 43, "32 random bytes, base64url")
	require.Equal(t, DefaultOAuthStateTTL, f.states[0].TTL)
	require.Equal(t, "instagram-authorization:test", f.states[0].WorkflowID)
	require.Equal(t, OAuthStateRef{Ref: f.states[0].Ref, KeyID: "0a1b2c3d"}, link.OAuthStateRef, "the starter gets the reference, not the state")

	require.Equal(t, []string{"CreateOAuthState", "PostSetupMessage", "PostSetupMessage", "ExchangeOAuthCode", "ConnectAuthorizedPages"}, f.calls[:5])
	require.ElementsMatch(t, []string{"SubscribePage 102030405060708", "SubscribePage 102030405060709"}, f.calls[5:7])
	require.Len(t, f.posts, 3)
	button := f.posts[0].Attachments[0]
	require.Equal(t, "@bob", f.posts[0].To, "by direct message to who asked")
	require.Equal(t, "Start Authentication", button.ButtonText)
	require.Empty(t, button.ButtonURL, "the workflow never holds the link")
	require.Equal(t, &link.OAuthStateRef, button.ButtonAuthorization, "the activity makes the link from the reference")
	require.Contains(t, f.posts[0].Text, "requested by bob")
	require.Contains(t, f.posts[1].Text, "sent to bob by direct message")
	done := f.posts[2].Text
	for _, want := range []string{"casaazul.store", "102030405060708", "casaverde", "102030405060709", "Side Page", "webhooks subscribed"} {
		require.Contains(t, done, want)
	}
	require.NotContains(t, done, "@casaazul", "an @ would mention a Rocket.Chat user")
}

func TestAuthorizationOutcomes(t *testing.T) {
	rejected := temporal.NewNonRetryableApplicationError("code has expired", ErrOAuthRejected, nil)
	tests := []struct {
		name         string
		f            *fakeAdmin
		callback     *OAuthCallback // nil: nobody comes back
		wantStatus   string
		wantPosted   string
		wantDetail   string
		wantNoCallTo string
	}{
		{name: "declined on the dialog", f: &fakeAdmin{pages: twoAccounts},
			callback:   &OAuthCallback{Error: "access_denied", ErrorReason: "user_denied", ErrorDescription: "Permissions error"},
			wantStatus: AuthDenied, wantPosted: "declined", wantDetail: "access_denied: Permissions error", wantNoCallTo: "ExchangeOAuthCode"},
		{name: "link expires unused", f: &fakeAdmin{pages: twoAccounts},
			wantStatus: AuthExpired, wantPosted: "was not used. Nothing was stored", wantNoCallTo: "ExchangeOAuthCode"},
		{name: "Meta refuses the code", f: &fakeAdmin{pages: twoAccounts, exchangeErr: rejected},
			callback: &OAuthCallback{CodeStored: true}, wantStatus: AuthFailed, wantPosted: "code has expired",
			wantDetail: "code has expired", wantNoCallTo: "ConnectAuthorizedPages"},
		{name: "no page has an Instagram account", f: &fakeAdmin{pages: ConnectPagesResult{Skipped: twoAccounts.Skipped}},
			callback: &OAuthCallback{CodeStored: true}, wantStatus: AuthFailed, wantPosted: "Side Page",
			wantDetail: "none of the pages", wantNoCallTo: "SubscribePage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newAdminEnv(t, tt.f)
			askForLink(t, env)
			if tt.callback != nil {
				cb := *tt.callback
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalOAuthCallback, cb) }, time.Minute)
			}
			start := env.Now()
			env.ExecuteWorkflow(AuthorizationWorkflowName, AuthorizationInput{})
			res := authResult(t, env)
			require.Equal(t, tt.wantStatus, res.Status)
			require.Contains(t, res.Detail, tt.wantDetail)
			require.Len(t, tt.f.posts, 2, "the button, then the outcome")
			require.Contains(t, tt.f.posts[1].Text, tt.wantPosted)
			for _, c := range tt.f.calls {
				require.False(t, strings.HasPrefix(c, tt.wantNoCallTo), "unexpected %s", c)
			}
			if tt.callback == nil {
				require.GreaterOrEqual(t, env.Now().Sub(start), DefaultOAuthStateTTL, "waits the whole lifetime of the link")
			}
		})
	}
}

func TestAuthorizationReportsFailedSubscription(t *testing.T) {
	f := &fakeAdmin{pages: twoAccounts, subscribeErr: map[string]error{
		"102030405060709": temporal.NewNonRetryableApplicationError("(#200) permission missing", ErrGraphRefused, nil),
	}}
	env := newAdminEnv(t, f)
	askForLink(t, env)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalOAuthCallback, OAuthCallback{CodeStored: true}) }, time.Second)
	env.ExecuteWorkflow(AuthorizationWorkflowName, AuthorizationInput{})
	res := authResult(t, env)
	require.Equal(t, AuthConnected, res.Status)
	require.True(t, res.Accounts[0].Subscribed)
	require.False(t, res.Accounts[1].Subscribed)
	require.Equal(t, "(#200) permission missing", res.Accounts[1].SubscribeError)
	require.Contains(t, f.posts[1].Text, "instagram subscribe 102030405060709")
}

func TestAuthorizationConnectsWhileRocketChatIsDown(t *testing.T) {
	f := &fakeAdmin{pages: twoAccounts}
	env := newAdminEnv(t, f)
	f.postsFailTil = env.Now().Add(2 * time.Minute)
	askForLink(t, env)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalOAuthCallback, OAuthCallback{CodeStored: true}) }, time.Minute)
	env.ExecuteWorkflow(AuthorizationWorkflowName, AuthorizationInput{RequestedBy: "bob", DirectTo: "bob"})
	res := authResult(t, env)
	require.Equal(t, AuthConnected, res.Status)
	exchanged := slices.Index(f.calls, "ExchangeOAuthCode")
	posted := slices.Index(f.calls, "PostSetupMessage")
	require.Greater(t, posted, exchanged, "accounts connected before Rocket.Chat came back: %v", f.calls)
	require.Len(t, f.posts, 3)
	require.Equal(t, "Start Authentication", f.posts[0].Attachments[0].ButtonText, "button first, then where it went, then the outcome")
	require.Contains(t, f.posts[1].Text, "sent to bob")
}

// TestAuthorizationButtonGoesByDirectMessage (issue 20, item 2): the live Start
// Authentication link is bound to the first browser that opens it, so it goes only to the
// admin who asked, by direct message; the setup channel learns only that it was sent. An
// authorization started elsewhere (admin API, console: the caller has the link) posts no
// button anywhere. (Inputs and posts are read as JSON, as Temporal carries them.)
func TestAuthorizationButtonGoesByDirectMessage(t *testing.T) {
	asJSON := func(m SetupMessage) string {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	t.Run("from the command", func(t *testing.T) {
		f := &fakeAdmin{pages: twoAccounts}
		env := newAdminEnv(t, f)
		askForLink(t, env)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalOAuthCallback, OAuthCallback{CodeStored: true}) }, time.Minute)
		env.ExecuteWorkflow(AuthorizationWorkflowName, map[string]any{"requested_by": "maria.admin", "direct_to": "maria.admin"})
		authResult(t, env)
		require.GreaterOrEqual(t, len(f.posts), 3)
		dm, line := asJSON(f.posts[0]), asJSON(f.posts[1])
		require.Contains(t, dm, `"to":"@maria.admin"`, "the button goes by direct message")
		require.Contains(t, dm, `"button_authorization"`)
		require.NotContains(t, line, `"to"`, "then a line in the setup channel")
		require.NotContains(t, line, "button_authorization", "without the link")
		require.Contains(t, f.posts[1].Text, "sent to maria.admin by direct message")
		for _, p := range f.posts[1:] {
			require.NotContains(t, asJSON(p), "button_authorization", "no later post carries the link")
		}
	})
	t.Run("from the admin API or the console", func(t *testing.T) {
		f := &fakeAdmin{pages: twoAccounts}
		env := newAdminEnv(t, f)
		askForLink(t, env)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalOAuthCallback, OAuthCallback{CodeStored: true}) }, time.Minute)
		env.ExecuteWorkflow(AuthorizationWorkflowName, map[string]any{"requested_by": "admin API"})
		authResult(t, env)
		for _, p := range f.posts {
			require.NotContains(t, asJSON(p), "button_authorization", "the caller has the link; nobody else gets it")
			require.NotContains(t, asJSON(p), `"to"`)
		}
		require.Contains(t, f.posts[0].Text, "authorization started (requested by admin API)")
	})
}
