package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/igdirect/bridge/setupguide"
)

// Workflows behind the console, the commands that match the original app and the setup
// guidance (issue 14). Ingress never calls Rocket.Chat or Meta itself: what it needs from
// them (Rocket.Chat's departments, a direct message with a sign-in link, what Meta reports
// about a page) it gets through these.

// Workflow type names.
const (
	// DepartmentsWorkflowName reads Rocket.Chat's Omnichannel departments with the bot's
	// credentials: what a page's department is checked against, and the console's list.
	DepartmentsWorkflowName = "RocketChatDepartments"
	// ConsoleLinkWorkflowName sends an admin a one-time sign-in link by direct message.
	ConsoleLinkWorkflowName = "ConsoleLink"
	// DoctorWorkflowName asks Meta about every connected page (`instagram doctor`).
	DoctorWorkflowName = "Doctor"
	// SetupGuideWorkflowName posts the setup instructions in the setup channel.
	SetupGuideWorkflowName = "SetupGuide"
	// UserRolesWorkflowName reads a Rocket.Chat user's roles with the bot's credentials:
	// who may change things (issue 20).
	UserRolesWorkflowName = "RocketChatUserRoles"
)

// Activity names.
const (
	ActivityListDepartments      = "ListDepartments"
	ActivitySendConsoleLink      = "SendConsoleLink"
	ActivityDiagnosePage         = "DiagnosePage"
	ActivitySetupFacts           = "SetupFacts"
	ActivityMarkSetupGuidePosted = "MarkSetupGuidePosted"
	ActivityReadUserRoles        = "ReadUserRoles"
)

// UserRolesInput names the Rocket.Chat user whose roles to read.
type UserRolesInput struct {
	UserID string `json:"user_id"`
}

// UserRoles is a Rocket.Chat user's roles, as Rocket.Chat's users.info shows them.
type UserRoles struct {
	UserID   string   `json:"user_id"`
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
}

// ErrRocketChatRefused: Rocket.Chat refused a call for a reason retrying cannot fix (the
// bot lacks a permission, the user does not exist).
const ErrRocketChatRefused = "RocketChatRefused"

// Department is a Rocket.Chat Omnichannel department.
type Department struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// ConsoleLinkInput asks for a sign-in link for a Rocket.Chat user (who typed `instagram
// console`). The link itself is made, stored (as a hash) and sent by the activity: it never
// enters workflow history.
type ConsoleLinkInput struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

// ConsoleLinkResult says where the link went and until when it works.
type ConsoleLinkResult struct {
	SentTo    string    `json:"sent_to"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ConsoleLinkTTL is how long a sign-in link works.
const ConsoleLinkTTL = 10 * time.Minute

// PageDiagnosis is what Meta reports about one connected page. Each part records its own
// error, so one refusal does not hide the rest.
type PageDiagnosis struct {
	PageID     string `json:"page_id"`
	IGUsername string `json:"ig_username,omitempty"`
	// Subscription (GET {page}/subscribed_apps): whether our app is listed, with which fields.
	SubscriptionChecked bool     `json:"subscription_checked"`
	Subscribed          bool     `json:"subscribed"`
	Fields              []string `json:"fields,omitempty"`
	SubscriptionError   string   `json:"subscription_error,omitempty"`
	// Token (debug_token).
	TokenChecked bool      `json:"token_checked"`
	TokenValid   bool      `json:"token_valid"`
	TokenType    string    `json:"token_type,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"` // zero: never
	TokenError   string    `json:"token_error,omitempty"`
	// The page's Instagram professional account (GET {page}?fields=instagram_business_account).
	LinkChecked   bool   `json:"link_checked"`
	LinkedAccount string `json:"linked_account,omitempty"` // "" = no Instagram account linked
	LinkError     string `json:"link_error,omitempty"`
	// Error: the page could not be checked at all (no token stored, Meta unreachable).
	Error string `json:"error,omitempty"`
}

// SetupGuideInput asks for the setup instructions. FirstStart: posted by the worker when
// it starts, once per installation.
type SetupGuideInput struct {
	RequestedBy string `json:"requested_by,omitempty"`
	FirstStart  bool   `json:"first_start,omitempty"`
}

// SetupGuideResult says whether the guide was posted and what was still missing.
type SetupGuideResult struct {
	Posted  bool     `json:"posted"`
	Missing []string `json:"missing,omitempty"`
}

// readCtx is for a quick read an admin waits for (the console's department list): a few
// tries within seconds, then the admin is told.
func readCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    8 * time.Second,
		ScheduleToCloseTimeout: 12 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 300 * time.Millisecond, MaximumInterval: 2 * time.Second,
			NonRetryableErrorTypes: []string{ErrRocketChatRefused, ErrGraphRefused, ErrUnknownPage}},
	})
}

// RocketChatDepartments lists Rocket.Chat's Omnichannel departments.
func RocketChatDepartments(ctx workflow.Context) ([]Department, error) {
	var out []Department
	err := workflow.ExecuteActivity(readCtx(ctx), ActivityListDepartments).Get(ctx, &out)
	return out, err
}

// RocketChatUserRoles reads a user's roles (users.info). A refusal (unknown user, roles
// not shown to the bot) is final; the caller refuses the change either way.
func RocketChatUserRoles(ctx workflow.Context, in UserRolesInput) (UserRoles, error) {
	var out UserRoles
	err := workflow.ExecuteActivity(readCtx(ctx), ActivityReadUserRoles, in).Get(ctx, &out)
	return out, err
}

// ConsoleLink sends a one-time console sign-in link by direct message.
func ConsoleLink(ctx workflow.Context, in ConsoleLinkInput) (ConsoleLinkResult, error) {
	var res ConsoleLinkResult
	err := workflow.ExecuteActivity(readCtx(ctx), ActivitySendConsoleLink, in).Get(ctx, &res)
	return res, err
}

// Doctor asks Meta about every page that has a token, all at once.
func Doctor(ctx workflow.Context) ([]PageDiagnosis, error) {
	var pages []ConnectedPage
	if err := workflow.ExecuteActivity(storeCtx(ctx), ActivityListConnectedPages).Get(ctx, &pages); err != nil {
		return nil, err
	}
	var (
		out     []PageDiagnosis
		futures []workflow.Future
	)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    20 * time.Second,
		ScheduleToCloseTimeout: 25 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	for _, p := range pages {
		if !p.HasToken {
			continue
		}
		out = append(out, PageDiagnosis{PageID: p.PageID, IGUsername: p.IGUsername})
		futures = append(futures, workflow.ExecuteActivity(actx, ActivityDiagnosePage, PageRef{PageID: p.PageID}))
	}
	for i, f := range futures {
		var d PageDiagnosis
		if err := f.Get(ctx, &d); err != nil {
			out[i].Error = errorText(err)
			continue
		}
		out[i] = d
	}
	return out, nil
}

// SetupGuide posts the setup instructions with what is still missing. At first start it
// posts only if it never did (the worker starts it at every start).
func SetupGuide(ctx workflow.Context, in SetupGuideInput) (SetupGuideResult, error) {
	var facts setupguide.Facts
	if err := workflow.ExecuteActivity(storeCtx(ctx), ActivitySetupFacts).Get(ctx, &facts); err != nil {
		return SetupGuideResult{}, err
	}
	items := setupguide.Items(facts, workflow.Now(ctx))
	res := SetupGuideResult{Missing: setupguide.Missing(items)}
	if in.FirstStart && facts.GuidePosted {
		return res, nil
	}
	if err := postSetupAsync(ctx, SetupGuideMessage(facts, items, in)).Get(ctx, nil); err != nil {
		return res, err
	}
	res.Posted = true
	if in.FirstStart {
		if err := workflow.ExecuteActivity(storeCtx(ctx), ActivityMarkSetupGuidePosted).Get(ctx, nil); err != nil {
			return res, err
		}
	}
	return res, nil
}

// SetupGuideMessage is the counterpart of the original app's install message: what to
// configure where, the URLs to paste, what is still missing, and two buttons.
func SetupGuideMessage(f setupguide.Facts, items []setupguide.Item, in SetupGuideInput) SetupMessage {
	intro := "👋 *Instagram Direct for Rocket.Chat* is running. To receive Instagram Direct messages in Omnichannel:"
	if !in.FirstStart {
		intro = "*Instagram Direct setup*" + requestedBy(in.RequestedBy) + ":"
	}
	missing := setupguide.Missing(items)
	outro := "\nEverything is set up. `instagram doctor` answers \"why doesn't a message arrive?\"; `instagram help` lists the commands."
	if len(missing) > 0 {
		outro = "\n*Still missing:* " + joinList(missing) + ". Type `instagram setup` to see this again, `instagram doctor` when messages do not arrive."
	}
	return SetupMessage{
		Text: intro + setupguide.Markdown(items) + outro,
		Attachments: []SetupAttachment{
			{Title: "Connect Instagram accounts", Color: "#1d74f5", ButtonText: "Start Authentication", ButtonURL: f.AuthorizeURL(),
				Text: "Opens the console (sign in with `instagram console` or ADMIN_API_TOKEN), then Meta's login dialog."},
			{Title: "Web console", Color: "#2de0a5", ButtonText: "Open console", ButtonURL: f.ConsoleURL(),
				Text: "Accounts, page configuration, settings, conversations that need attention, diagnosis."},
			{Title: "Sign in to the console", Color: "#2de0a5", ButtonText: "Send me a sign-in link", ButtonMsg: "instagram console",
				Text: "Types `instagram console` for you: the bot sends you a one-time sign-in link by direct message (10 minutes)."},
		},
	}
}

func joinList(xs []string) string {
	out := ""
	for i, x := range xs {
		switch {
		case i == 0:
		case i == len(xs)-1:
			out += " and "
		default:
			out += ", "
		}
		out += x
	}
	return out
}
