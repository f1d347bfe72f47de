package workflows

import "time"

// Payloads of the authorization and administration workflows. None carries a token, an
// OAuth code or the OAuth state: workflow history is visible in the Temporal UI (and,
// encrypted, in Temporal's database). Activities read and write secrets in the store
// themselves. The state is a bearer credential for 15 minutes, so the workflow holds only
// a reference to it (OAuthStateRef): the state is an HMAC of the reference under a key
// only the worker and ingress have (identity.OAuthState).

// AuthorizationInput starts an AuthorizationWorkflow.
type AuthorizationInput struct {
	// RequestedBy names who asked (a Rocket.Chat username, or "admin API"), for messages.
	RequestedBy string `json:"requested_by,omitempty"`
	// DirectTo is the Rocket.Chat username the Start Authentication button is sent to by
	// direct message (who typed `instagram authorize`). Empty (admin API, console: the
	// caller has the link): no button is posted anywhere. The link is bound to the first
	// browser that opens it, so it never goes to the setup channel.
	DirectTo string `json:"direct_to,omitempty"`
	// TTL is how long the link stays valid; DefaultOAuthStateTTL when zero.
	TTL time.Duration `json:"ttl,omitempty"`
}

// AuthorizationLink is what the starter gets back through UpdateAuthorizationLink: the
// reference of the state (the starter, ingress, derives the link from it) and its expiry.
type AuthorizationLink struct {
	OAuthStateRef
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateOAuthStateInput stores a new single-use state derived from Ref; the activity
// answers with the key it used, as an AuthorizationLink.
type CreateOAuthStateInput struct {
	Ref        string        `json:"ref"`
	WorkflowID string        `json:"workflow_id"`
	TTL        time.Duration `json:"ttl"`
}

// OAuthCallback is what came back from Meta's dialog. The code itself is not here: ingress
// stores it sealed next to the state (the same transaction that consumes the state) and
// only says that it did, so the code never enters workflow history.
type OAuthCallback struct {
	CodeStored       bool   `json:"code_stored,omitempty"`
	Error            string `json:"error,omitempty"` // e.g. access_denied
	ErrorReason      string `json:"error_reason,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// OAuthStateRef names an authorization's state without being it: the state is
// identity.OAuthState(<OAuth-state key KeyID>, Ref). Activities use it to find the stored
// code and user token, ingress and PostSetupMessage to build the link.
type OAuthStateRef struct {
	Ref   string `json:"ref"`
	KeyID string `json:"key_id"`
}

// ExchangeResult says how long the stored user token lives (zero = Meta did not say).
type ExchangeResult struct {
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ConnectedAccount is a page with its Instagram professional account, as connected.
type ConnectedAccount struct {
	PageID      string `json:"page_id"`
	PageName    string `json:"page_name,omitempty"`
	IGAccountID string `json:"ig_account_id"`
	IGUsername  string `json:"ig_username,omitempty"`
	Subscribed  bool   `json:"subscribed"`
	// SubscribeError says why the webhook subscription failed, when it did.
	SubscribeError string `json:"subscribe_error,omitempty"`
}

// SkippedPage is a page the user granted that could not be connected.
type SkippedPage struct {
	PageID string `json:"page_id"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// ConnectPagesResult lists what ConnectAuthorizedPages stored.
type ConnectPagesResult struct {
	Accounts []ConnectedAccount `json:"accounts"`
	Skipped  []SkippedPage      `json:"skipped,omitempty"`
}

// AuthorizationResult is the outcome (and, through QueryAuthorization, the progress).
type AuthorizationResult struct {
	Status      string             `json:"status"`
	RequestedBy string             `json:"requested_by,omitempty"`
	Accounts    []ConnectedAccount `json:"accounts,omitempty"`
	Skipped     []SkippedPage      `json:"skipped,omitempty"`
	// Detail explains a denial or a failure in words for the admin.
	Detail string `json:"detail,omitempty"`
}

// PageRef names a connected page by its Facebook page ID.
type PageRef struct {
	PageID string `json:"page_id"`
}

// SubscriptionResult is a page's webhook subscription after (un)subscribing.
type SubscriptionResult struct {
	PageID     string   `json:"page_id"`
	IGUsername string   `json:"ig_username,omitempty"`
	Subscribed bool     `json:"subscribed"`
	Fields     []string `json:"fields,omitempty"`
}

// PageSubscriptionInput starts a PageSubscriptionWorkflow.
type PageSubscriptionInput struct {
	PageID      string `json:"page_id"`
	Subscribe   bool   `json:"subscribe"`
	RequestedBy string `json:"requested_by,omitempty"`
}

// ConnectedPage is what the health check and uninstall need to know about a page.
type ConnectedPage struct {
	PageID      string `json:"page_id"`
	IGAccountID string `json:"ig_account_id"`
	IGUsername  string `json:"ig_username,omitempty"`
	HasToken    bool   `json:"has_token"`
	Subscribed  bool   `json:"subscribed"`
}

// PageHealth is the outcome of checking one page.
type PageHealth struct {
	PageID     string `json:"page_id"`
	IGUsername string `json:"ig_username,omitempty"`
	// Resubscribed: our subscription had been dropped (or lost fields) and was renewed.
	Resubscribed  bool     `json:"resubscribed,omitempty"`
	MissingFields []string `json:"missing_fields,omitempty"`
	// Problem is what is wrong now ("" = healthy); PreviousProblem what the last check
	// found, so only changes are reported.
	Problem         string `json:"problem,omitempty"`
	PreviousProblem string `json:"previous_problem,omitempty"`
}

// HealthCheckResult summarises one health-check run.
type HealthCheckResult struct {
	Checked  int          `json:"checked"`
	Changes  []PageHealth `json:"changes,omitempty"`
	Reported bool         `json:"reported"`
}

// UnauthorizeInput starts an UnauthorizeWorkflow (uninstall).
type UnauthorizeInput struct {
	RequestedBy string `json:"requested_by,omitempty"`
}

// PageOutcome tells what happened to one page during uninstall.
type PageOutcome struct {
	PageID       string `json:"page_id"`
	IGUsername   string `json:"ig_username,omitempty"`
	Unsubscribed bool   `json:"unsubscribed"`
	Error        string `json:"error,omitempty"`
}

// RevokeResult counts the user authorizations revoked at Meta (DELETE me/permissions).
// AlreadyRevoked counts stored tokens whose login had no grant left (e.g. a second token
// of a login revoked through the first).
type RevokeResult struct {
	Revoked        int      `json:"revoked"`
	AlreadyRevoked int      `json:"already_revoked,omitempty"`
	Failed         []string `json:"failed,omitempty"`
}

// ForgetResult counts what was deleted from the database.
type ForgetResult struct {
	PageTokens  int `json:"page_tokens"`
	UserTokens  int `json:"user_tokens"`
	OAuthStates int `json:"oauth_states"`
}

// UnauthorizeResult is the outcome of an uninstall.
type UnauthorizeResult struct {
	Pages   []PageOutcome `json:"pages"`
	Revoke  RevokeResult  `json:"revoke"`
	Deleted ForgetResult  `json:"deleted"`
}

// SetupMessage is a message for the setup channel. A button is a link (Rocket.Chat
// attachment action), so clicking it opens the browser and involves no interaction API.
type SetupMessage struct {
	Text        string            `json:"text"`
	Attachments []SetupAttachment `json:"attachments,omitempty"`
	// To, when set, is where the message goes instead of the setup channel: "@username"
	// for a direct message.
	To string `json:"to,omitempty"`
}

// SetupAttachment is one attachment of a SetupMessage, with an optional link button.
type SetupAttachment struct {
	Title      string `json:"title,omitempty"`
	Text       string `json:"text,omitempty"`
	Color      string `json:"color,omitempty"`
	ButtonText string `json:"button_text,omitempty"`
	ButtonURL  string `json:"button_url,omitempty"`
	// ButtonMsg, instead of a URL: a click sends this text into the setup channel as the
	// user who clicked (a command, run as them).
	ButtonMsg string `json:"button_msg,omitempty"`
	// ButtonAuthorization makes the button the authorization link of this state: the
	// activity derives the URL, so it is never in the workflow's history.
	ButtonAuthorization *OAuthStateRef `json:"button_authorization,omitempty"`
}
