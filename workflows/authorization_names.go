package workflows

import "time"

// Workflow type names of authorization and administration (issue 5). The conversation
// workflow's names live in names.go.
const (
	// AuthorizationWorkflowName connects Instagram accounts through Meta's OAuth dialog.
	AuthorizationWorkflowName = "Authorization"
	// UnauthorizeWorkflowName removes every subscription, revokes the app and forgets tokens.
	UnauthorizeWorkflowName = "Unauthorize"
	// PageSubscriptionWorkflowName subscribes or unsubscribes one page's webhooks.
	PageSubscriptionWorkflowName = "PageSubscription"
	// HealthCheckWorkflowName checks tokens and subscriptions; a schedule runs it.
	HealthCheckWorkflowName = "HealthCheck"
	// SetupNoticeWorkflowName posts one message in the setup channel. Ingress never calls
	// Rocket.Chat itself, so what it has to tell admins goes through this workflow.
	SetupNoticeWorkflowName = "SetupNotice"
)

// Handlers of the authorization workflow.
const (
	// UpdateAuthorizationLink returns an AuthorizationLink once the OAuth state is stored,
	// so the starter (command or admin API) gets the URL in the same round trip.
	UpdateAuthorizationLink = "authorization-link"
	// SignalOAuthCallback carries an OAuthCallback (ingress → workflow).
	SignalOAuthCallback = "oauth-callback"
	// QueryAuthorization returns an AuthorizationResult with the progress so far.
	QueryAuthorization = "authorization"
)

// Activity names of authorization and administration.
const (
	ActivityCreateOAuthState       = "CreateOAuthState"
	ActivityExchangeOAuthCode      = "ExchangeOAuthCode"
	ActivityConnectAuthorizedPages = "ConnectAuthorizedPages"
	ActivitySubscribePage          = "SubscribePage"
	ActivityUnsubscribePage        = "UnsubscribePage"
	ActivityListConnectedPages     = "ListConnectedPages"
	ActivityCheckPageHealth        = "CheckPageHealth"
	ActivityRevokeAuthorizations   = "RevokeAuthorizations"
	ActivityForgetTokens           = "ForgetTokens"
	ActivityPostSetupMessage       = "PostSetupMessage"
)

// Application error types of the administration activities (non-retryable).
const (
	// ErrOAuthRejected: Meta refused the code or the token exchange for good (expired,
	// already used, wrong redirect URI, app misconfigured).
	ErrOAuthRejected = "OAuthRejected"
	// ErrGraphRefused: a Graph API call failed for a reason retrying cannot fix.
	ErrGraphRefused = "GraphRefused"
	// ErrUnknownPage: no connected page with that ID.
	ErrUnknownPage = "UnknownPage"
)

// Authorization outcomes (AuthorizationResult.Status).
const (
	AuthWaiting   = "waiting"   // link issued, nobody came back from Meta yet
	AuthWorking   = "working"   // code received, connecting accounts
	AuthConnected = "connected" // at least one account connected
	AuthDenied    = "denied"    // the user cancelled or declined on Meta's dialog
	AuthExpired   = "expired"   // the link expired unused
	AuthFailed    = "failed"    // Meta refused the code, or no account could be connected
)

// Paths of ingress's OAuth endpoints. The worker builds the link and the redirect URI
// (which Meta compares byte for byte) from PUBLIC_URL and these; ingress serves them.
const (
	OAuthStartPath    = "/oauth/start"
	OAuthCallbackPath = "/oauth/callback"
)

// DefaultOAuthStateTTL is how long an authorization link stays valid. Meta's codes live
// for minutes; a person needs a few to click through the dialog.
const DefaultOAuthStateTTL = 15 * time.Minute

// oauthGrace keeps the workflow waiting a little past the state's expiry in the database,
// which is the authority: a callback accepted just before expiry still finds the workflow.
const oauthGrace = time.Minute

// HealthCheckScheduleID is the ID of the Temporal schedule that runs HealthCheck (and of
// the workflows it starts); the worker creates or updates it at start.
const HealthCheckScheduleID = "instagram-health-check"

// DefaultHealthCheckInterval is how often the schedule runs the health check.
const DefaultHealthCheckInterval = time.Hour
