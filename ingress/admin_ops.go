package ingress

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/ingress/console"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// The administration operations. Rocket.Chat commands (commands.go) and the admin API
// (admin_accounts.go) both call these, so a command and its API endpoint cannot drift
// apart. Operations that talk to Meta run as workflows (ingress never calls Meta itself);
// the rest are database reads and writes.

// opError is a refusal an admin should read: Status for the API, Msg for both.
type opError struct {
	Status int
	Msg    string
}

func (e *opError) Error() string { return e.Msg }

// HTTPStatus is the status the console answers with.
func (e *opError) HTTPStatus() int { return e.Status }

func refuse(status int, format string, args ...any) error {
	return &opError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// defaultAdminWait is how long an operation waits for its workflow before answering
// "still running": below Rocket.Chat's 20 s outgoing-integration timeout.
const defaultAdminWait = 15 * time.Second

func (s *Server) adminWait() time.Duration {
	if s.adminWaitTime > 0 {
		return s.adminWaitTime
	}
	return defaultAdminWait
}

// authorizeResult answers an authorize request.
type authorizeResult struct {
	WorkflowID   string    `json:"workflow_id"`
	URL          string    `json:"authorization_url,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	SetupChannel string    `json:"setup_channel"`
	// Pending: the workflow started but did not hand out its link in time (worker busy or
	// down); with SentTo it sends the button there when it runs.
	Pending bool `json:"pending,omitempty"`
	// SentTo is the Rocket.Chat user the button goes to by direct message ("" for the
	// admin API and the console, whose caller gets the link).
	SentTo string `json:"-"`
}

// authorize starts an Authorization workflow and returns its link, in one round trip
// (update-with-start, temporal-go.md §1.11). directTo is the Rocket.Chat username the
// workflow sends the Start Authentication button to by direct message (who typed the
// command); "" when the caller takes the link itself (admin API, console).
func (s *Server) authorize(ctx context.Context, who, directTo string) (authorizeResult, error) {
	id := "instagram-authorization:" + time.Now().UTC().Format("20060102T150405Z") + ":" + randomHex(4)
	res := authorizeResult{WorkflowID: id, SetupChannel: s.cfg.RocketChatSetupChannel, SentTo: directTo}
	ctx, cancel := context.WithTimeout(ctx, s.adminWait())
	defer cancel()
	op := s.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: id, TaskQueue: s.cfg.TemporalTaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Bounds a run whose worker vanished; a normal one ends within TTL + a minute.
		WorkflowExecutionTimeout: workflows.DefaultOAuthStateTTL + time.Hour,
		StaticSummary:            "Instagram authorization requested by " + who,
	}, workflows.AuthorizationWorkflowName, workflows.AuthorizationInput{RequestedBy: who, DirectTo: directTo})
	h, err := s.temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: workflows.UpdateAuthorizationLink, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err == nil {
		s.audit(who, "authorization started", "workflow_id", id)
		var link workflows.AuthorizationLink
		if err = h.Get(ctx, &link); err == nil {
			// The workflow hands back a reference; the link (the state) is derived here.
			state, serr := s.oauthState(link.OAuthStateRef)
			if serr != nil {
				s.log.Error("Authorization link not derivable", "workflow_id", id, "key_id", link.KeyID, "error", serr)
				msg := "The authorization was started but its link cannot be made here (TOKEN_ENCRYPTION_KEY differs between worker and ingress?)."
				if directTo != "" {
					msg += " The worker sends you the button by direct message all the same."
				}
				return res, refuse(http.StatusServiceUnavailable, "%s", msg)
			}
			res.URL, res.ExpiresAt = identity.OAuthStartURL(s.cfg.PublicURL+workflows.OAuthStartPath, state), link.ExpiresAt
			return res, nil
		}
	}
	started, serr := s.workflowStarted(id)
	if serr == nil && started {
		s.log.Warn("Authorization workflow started but gave no link in time", "workflow_id", id, "error", err)
		res.Pending = true
		return res, nil
	}
	s.log.Error("Could not start the authorization workflow", "error", err)
	return res, refuse(http.StatusServiceUnavailable, "Temporal is not reachable; nothing was started. Try again in a moment.")
}

// workflowStarted tells whether a workflow exists (after a call that timed out).
func (s *Server) workflowStarted(id string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false, err
	}
	return true, nil
}

// runAdminWorkflow starts a workflow and waits a bounded time for its result.
func (s *Server) runAdminWorkflow(ctx context.Context, opts client.StartWorkflowOptions, name string, in, out any) error {
	opts.TaskQueue = s.cfg.TemporalTaskQueue
	if opts.WorkflowExecutionTimeout == 0 {
		opts.WorkflowExecutionTimeout = time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, s.adminWait())
	defer cancel()
	run, err := s.temporal.ExecuteWorkflow(ctx, opts, name, in)
	if err != nil {
		s.log.Error("Could not start an administration workflow", "workflow", name, "error", err)
		return refuse(http.StatusServiceUnavailable, "Temporal is not reachable; nothing was changed. Try again in a moment.")
	}
	err = run.Get(ctx, out)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return refuse(http.StatusAccepted, "Still working on it (Temporal workflow `%s`); check `instagram list` in a minute.", run.GetID())
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		status := http.StatusBadGateway // Meta refused
		if app.Type() == workflows.ErrUnknownPage {
			status = http.StatusConflict
		}
		return refuse(status, "%s", app.Message())
	}
	s.log.Error("Administration workflow failed", "workflow", name, "workflow_id", run.GetID(), "error", err)
	return refuse(http.StatusInternalServerError, "The operation failed (Temporal workflow `%s`): %v", run.GetID(), err)
}

// unauthorize uninstalls: one workflow at a time; a second request joins the running one.
func (s *Server) unauthorize(ctx context.Context, who string) (workflows.UnauthorizeResult, error) {
	var res workflows.UnauthorizeResult
	err := s.runAdminWorkflow(ctx, client.StartWorkflowOptions{
		ID: "instagram-unauthorize", WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary: "Instagram uninstall requested by " + who,
	}, workflows.UnauthorizeWorkflowName, workflows.UnauthorizeInput{RequestedBy: who}, &res)
	if err == nil {
		s.audit(who, "uninstalled", "pages", len(res.Pages), "page_tokens_deleted", res.Deleted.PageTokens)
	}
	return res, err
}

// findPage resolves what an admin typed (page ID, account ID or username).
func (s *Server) findPage(ctx context.Context, ref string) (store.Page, error) {
	p, err := s.store.FindPage(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return p, refuse(http.StatusNotFound, "No connected page matches `%s`; see `instagram list`.", ref)
	}
	if err != nil {
		s.log.Error("Could not read pages", "error", err)
		return p, refuse(http.StatusInternalServerError, "Could not read the pages from the database.")
	}
	return p, nil
}

// setSubscription subscribes or unsubscribes a page's webhooks and returns the page.
func (s *Server) setSubscription(ctx context.Context, ref string, subscribe bool, who string) (store.Page, error) {
	p, err := s.findPage(ctx, ref)
	if err != nil {
		return p, err
	}
	if !p.HasToken {
		return p, refuse(http.StatusConflict, "Page %s has no token; connect it with `instagram authorize` first.", p.PageID)
	}
	verb := "Unsubscribe"
	if subscribe {
		verb = "Subscribe"
	}
	var res workflows.SubscriptionResult
	err = s.runAdminWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "instagram-subscription:" + p.PageID + ":" + randomHex(4),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("%s page %s (requested by %s)", verb, p.PageID, who),
	}, workflows.PageSubscriptionWorkflowName, workflows.PageSubscriptionInput{PageID: p.PageID, Subscribe: subscribe, RequestedBy: who}, &res)
	if err != nil {
		return p, err
	}
	s.audit(who, strings.ToLower(verb)+"d webhooks", "page", p.PageID)
	return s.findPage(ctx, p.PageID)
}

// editPageConfig changes a page's department and automated messages: the one way the
// command, the admin API and the console change them. Every value is checked first
// (commands.ValidatePageEdit), then a department that changes against Rocket.Chat's
// departments (read by the worker); nothing is stored unless everything is valid.
func (s *Server) editPageConfig(ctx context.Context, ref string, e commands.PageEdit, who string) (store.Page, error) {
	e, err := commands.ValidatePageEdit(e)
	if err != nil {
		return store.Page{}, &opError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	p, err := s.findPage(ctx, ref)
	if err != nil {
		return p, err
	}
	if err := s.checkDepartment(ctx, &e, p.Department); err != nil {
		return p, err
	}
	p, err = s.store.UpdatePageConfig(ctx, p.PageID, store.PageConfig{
		Department: e.Department, WelcomeMessage: e.Welcome, FinishedMessage: e.Finished, OfflineMessage: e.Offline,
	})
	if errors.Is(err, store.ErrNotFound) {
		return p, refuse(http.StatusNotFound, "No connected page matches `%s`; see `instagram list`.", ref)
	}
	if err != nil {
		s.log.Error("Could not update page", "error", err)
		return p, refuse(http.StatusInternalServerError, "Could not update the page in the database.")
	}
	s.audit(who, "page configuration changed", "page", p.PageID, "fields", editedFields(e))
	s.wakeBlocked(p.IGAccountID, "page edited")
	return p, nil
}

// editedFields names the fields an edit sets, for the audit log (not their values: a
// message may hold anything).
func editedFields(e commands.PageEdit) []string {
	var out []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"department", e.Department}, {"welcome", e.Welcome}, {"finished", e.Finished}, {"offline", e.Offline}} {
		if f.v != nil {
			out = append(out, f.name)
		}
	}
	return out
}

// checkDepartment checks a department that an edit changes against Rocket.Chat's
// departments, and replaces what was typed with the reference Rocket.Chat knows (its
// spelling of the name, or the ID). Clearing the department, or leaving it as it is, needs
// no check: a page must stay editable while Rocket.Chat is away.
func (s *Server) checkDepartment(ctx context.Context, e *commands.PageEdit, current string) error {
	if e.Department == nil || *e.Department == "" || *e.Department == current {
		return nil
	}
	deps, err := s.departments(ctx)
	if err != nil {
		return err
	}
	d, err := commands.MatchDepartment(*e.Department, toCommandDepartments(deps))
	if err != nil {
		return &opError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	ref := d.Name
	if *e.Department == d.ID {
		ref = d.ID
	}
	e.Department = &ref
	return nil
}

func toCommandDepartments(deps []workflows.Department) []commands.Department {
	out := make([]commands.Department, 0, len(deps))
	for _, d := range deps {
		out = append(out, commands.Department{ID: d.ID, Name: d.Name, Enabled: d.Enabled})
	}
	return out
}

// departmentsWait bounds a read of Rocket.Chat's departments (the activity gives up after
// 12 s): an admin is waiting, and a command must answer within Rocket.Chat's 20 s.
const departmentsWait = 14 * time.Second

// departments reads Rocket.Chat's Omnichannel departments through the worker, which holds
// the bot's credentials (ingress never calls Rocket.Chat itself).
func (s *Server) departments(ctx context.Context) ([]workflows.Department, error) {
	ctx, cancel := context.WithTimeout(ctx, departmentsWait)
	defer cancel()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "rocketchat-departments:" + randomHex(6), TaskQueue: s.cfg.TemporalTaskQueue,
		WorkflowExecutionTimeout: time.Minute, StaticSummary: "Read Rocket.Chat's Omnichannel departments",
	}, workflows.DepartmentsWorkflowName)
	if err != nil {
		s.log.Error("Could not start the departments workflow", "error", err)
		return nil, refuse(http.StatusServiceUnavailable, "Temporal is not reachable, so Rocket.Chat's departments could not be checked; nothing was changed.")
	}
	var deps []workflows.Department
	err = run.Get(ctx, &deps)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return deps, nil
	case errors.As(err, &app):
		return nil, refuse(http.StatusBadGateway, "Rocket.Chat's departments could not be read (%s); nothing was changed.", app.Message())
	case ctx.Err() != nil:
		return nil, refuse(http.StatusServiceUnavailable, "Rocket.Chat's departments could not be read in time (is the worker running, is Rocket.Chat reachable?); nothing was changed.")
	}
	s.log.Error("Departments workflow failed", "workflow_id", run.GetID(), "error", err)
	return nil, refuse(http.StatusBadGateway, "Rocket.Chat's departments could not be read; nothing was changed.")
}

// audit logs a change with who made it (a Rocket.Chat user, "admin API", or a console
// session's admin).
func (s *Server) audit(who, what string, attrs ...any) {
	s.log.Info("Admin change: "+what, append([]any{"by", who}, attrs...)...)
}

// accountView is a page as `list`, GET /admin/api/accounts and the console show it.
type accountView = console.Account

func (s *Server) accounts(ctx context.Context) ([]accountView, error) {
	pages, err := s.store.Pages(ctx)
	if err != nil {
		s.log.Error("Could not list pages", "error", err)
		return nil, refuse(http.StatusInternalServerError, "Could not read the pages from the database.")
	}
	health, err := s.store.Health(ctx)
	if err != nil {
		s.log.Error("Could not read page health", "error", err)
		return nil, refuse(http.StatusInternalServerError, "Could not read the pages from the database.")
	}
	out := make([]accountView, 0, len(pages))
	for _, p := range pages {
		h := health[p.PageID]
		out = append(out, accountView{Page: p, HealthProblem: h.Problem, CheckedAt: h.CheckedAt})
	}
	return out, nil
}

// settingView is one application setting with its documentation (the original app's
// label and help text among it).
type settingView = console.Setting

// settings returns every setting's effective value (stored, else default).
func (s *Server) settings(ctx context.Context) ([]settingView, error) {
	stored, err := s.store.Settings(ctx)
	if err != nil {
		s.log.Error("Could not read settings", "error", err)
		return nil, refuse(http.StatusInternalServerError, "Could not read the settings from the database.")
	}
	out := make([]settingView, 0, len(appsettings.Docs))
	for _, d := range appsettings.Docs {
		v, ok := stored[d.Key]
		if !ok {
			v = d.Default
		}
		out = append(out, settingView{Doc: d, Value: v})
	}
	return out, nil
}

// updateSettings validates every value first and stores them all, or none: the one way the
// command, the admin API and the console change settings.
func (s *Server) updateSettings(ctx context.Context, values map[string]string, who string) ([]settingView, error) {
	valid, err := commands.ValidateSettings(values)
	if err != nil {
		return nil, &opError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	if len(valid) > 0 {
		if err := s.store.SetSettings(ctx, valid); err != nil {
			s.log.Error("Could not store settings", "error", err)
			return nil, refuse(http.StatusInternalServerError, "Could not store the settings; nothing was changed.")
		}
		s.audit(who, "settings changed", "settings", valid)
	}
	return s.settings(ctx)
}

// randomToken is a fresh 32-byte random value, URL-safe (cookie values).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
