package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/setupguide/gather"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Operations of the console and of the commands that guide admins: the sign-in link, the
// setup guide, the doctor and the conversations that need attention. Like admin_ops.go,
// the commands and the console both call these.

// consoleURL is the public address of a console page (path "" is the console's root).
func (s *Server) consoleURL(path string) string {
	return s.cfg.PublicURL + "/console" + path
}

// sendConsoleLink sends the user a one-time sign-in link by direct message.
func (s *Server) sendConsoleLink(ctx context.Context, userID, username string) (workflows.ConsoleLinkResult, error) {
	var res workflows.ConsoleLinkResult
	if username == "" {
		return res, refuse(http.StatusBadRequest, "Rocket.Chat did not say who you are (no user_name in the integration's request), so there is nobody to send a sign-in link to.")
	}
	err := s.runAdminWorkflow(ctx, client.StartWorkflowOptions{
		ID:            "instagram-console-link:" + randomHex(6),
		StaticSummary: "Console sign-in link for " + username,
	}, workflows.ConsoleLinkWorkflowName, workflows.ConsoleLinkInput{UserID: userID, Username: username}, &res)
	if err == nil {
		s.audit(username, "console sign-in link sent", "user_id", userID)
	}
	return res, err
}

// signOutEverywhere ends every console session and unused sign-in link (the console's
// "Sign out everywhere" and `instagram signout`).
func (s *Server) signOutEverywhere(ctx context.Context, who string) (store.EndedSessions, error) {
	ended, err := s.store.EndConsoleSessions(ctx)
	if err != nil {
		s.log.Error("Console sessions not ended", "error", err)
		return ended, refuse(http.StatusInternalServerError, "The console sessions could not be ended (database unreachable?); try again.")
	}
	s.audit(who, "signed everyone out of the console", "sessions", ended.Sessions, "links", ended.Links)
	return ended, nil
}

// postSetupGuide posts the setup instructions in the setup channel.
func (s *Server) postSetupGuide(ctx context.Context, who string) (workflows.SetupGuideResult, error) {
	var res workflows.SetupGuideResult
	s.flushActivity(ctx) // what this ingress saw in the last seconds counts too
	err := s.runAdminWorkflow(ctx, client.StartWorkflowOptions{
		ID:            "instagram-setup-guide:" + randomHex(6),
		StaticSummary: "Setup instructions requested by " + who,
	}, workflows.SetupGuideWorkflowName, workflows.SetupGuideInput{RequestedBy: who}, &res)
	return res, err
}

// setupFacts reads what the setup guide says, as the worker does for its message.
func (s *Server) setupFacts(ctx context.Context) (setupguide.Facts, error) {
	s.flushActivity(ctx)
	f, err := gather.Facts(ctx, s.store, gather.Config{PublicURL: s.cfg.PublicURL, SetupChannel: s.cfg.RocketChatSetupChannel,
		MetaAppID: s.cfg.MetaAppID != "", CommandsEnabled: s.cfg.RocketChatCommandToken.Value() != "",
		AdminAPIToken: s.cfg.AdminAPIToken.Value() != "", CommandUsers: len(s.cfg.CommandUsers())})
	if err != nil {
		s.log.Error("Could not read the setup facts", "error", err)
		return f, refuse(http.StatusInternalServerError, "Could not read the setup state from the database.")
	}
	return f, nil
}

// doctor gathers what the report needs: the pages, what Meta says about them (Doctor
// workflow; a report without it is still worth having), the webhook activity and the
// blocked conversations.
func (s *Server) doctor(ctx context.Context) (doctor.Report, error) {
	in := doctor.Input{Now: time.Now(), CommandUsers: len(s.cfg.CommandUsers())}
	s.flushActivity(ctx)
	var err error
	if in.Pages, err = s.store.Pages(ctx); err != nil {
		s.log.Error("Could not list pages", "error", err)
		return doctor.Report{}, refuse(http.StatusInternalServerError, "Could not read the pages from the database.")
	}
	if in.Activity, err = s.store.WebhookActivity(ctx); err != nil {
		s.log.Error("Could not read webhook activity", "error", err)
		return doctor.Report{}, refuse(http.StatusInternalServerError, "Could not read the webhook activity from the database.")
	}
	var (
		wg      sync.WaitGroup
		diagErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		diagErr = s.runAdminWorkflow(ctx, client.StartWorkflowOptions{
			ID: "instagram-doctor:" + randomHex(6), StaticSummary: "Doctor: what Meta reports about the connected pages",
		}, workflows.DoctorWorkflowName, nil, &in.Diagnoses)
	}()
	blocked, berr := s.attention(ctx, workflows.StateBlocked, 200)
	wg.Wait()
	if diagErr != nil {
		var oe *opError
		if errors.As(diagErr, &oe) {
			in.DiagnoseError = oe.Msg
		} else {
			in.DiagnoseError = diagErr.Error()
		}
	}
	if berr != nil {
		s.log.Warn("Blocked conversations not listed for the doctor", "error", berr)
	}
	in.Blocked = blocked
	return doctor.Build(in), nil
}

// attentionQueryWait bounds the state query of one conversation; attentionQueries how many
// run at once.
const (
	attentionQueryWait = 3 * time.Second
	attentionQueries   = 8
)

// attention lists running conversations in a state ("" = waiting for an agent or
// blocked), newest first, at most limit, with why each is blocked (its `state` query) and
// its link in the Temporal UI.
func (s *Server) attention(ctx context.Context, state string, limit int) ([]doctor.Conversation, error) {
	states := []string{workflows.StateWaitingForAgent, workflows.StateBlocked}
	if state != "" {
		states = []string{state}
	}
	quoted := make([]string, len(states))
	for i, st := range states {
		quoted[i] = "'" + st + "'"
	}
	query := fmt.Sprintf("%s IN (%s) AND ExecutionStatus = 'Running'", workflows.SAState.GetName(), strings.Join(quoted, ", "))
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var (
		out   []doctor.Conversation
		token []byte
	)
	for len(out) < limit {
		resp, err := s.temporal.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.cfg.TemporalNamespace, Query: query, PageSize: int32(min(limit, 100)), NextPageToken: token})
		if err != nil {
			return out, err
		}
		for _, e := range resp.GetExecutions() {
			if len(out) == limit {
				break
			}
			c := doctor.Conversation{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
				Since: e.GetStartTime().AsTime()}
			fields := e.GetSearchAttributes().GetIndexedFields()
			c.Account, c.Username = keyword(fields[workflows.SAAccount.GetName()]), keyword(fields[workflows.SAUsername.GetName()])
			c.Department, c.State = keyword(fields[workflows.SADepartment.GetName()]), keyword(fields[workflows.SAState.GetName()])
			c.UILink = s.temporalUILink(c.WorkflowID, c.RunID)
			if c.State == workflows.StateWaitingForAgent {
				c.Reason = "waiting for an agent of the department to be available"
			}
			out = append(out, c)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	// Why each blocked conversation is blocked: only the workflow knows (its state query).
	sem := make(chan struct{}, attentionQueries)
	var wg sync.WaitGroup
	for i := range out {
		if out[i].State != workflows.StateBlocked {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(c *doctor.Conversation) {
			defer func() { <-sem; wg.Done() }()
			qctx, cancel := context.WithTimeout(ctx, attentionQueryWait)
			defer cancel()
			var v workflows.StateView
			resp, err := s.temporal.QueryWorkflow(qctx, c.WorkflowID, c.RunID, workflows.QueryState)
			if err == nil {
				err = resp.Get(&v)
			}
			if err != nil {
				c.Reason = "blocked (its state could not be read: is the worker running?)"
				return
			}
			c.Reason = v.BlockedReason
			if c.Reason == "" {
				c.Reason = "blocked"
			}
		}(&out[i])
	}
	wg.Wait()
	return out, nil
}

// keyword reads a Keyword search attribute from a visibility record (search attributes
// are plain JSON payloads, never encrypted: operators search by them).
func keyword(p *commonpb.Payload) string {
	var v string
	if p == nil || converter.GetDefaultDataConverter().FromPayload(p, &v) != nil {
		return ""
	}
	return v
}

// temporalUILink opens a conversation's run in the Temporal UI (TEMPORAL_UI_URL).
func (s *Server) temporalUILink(workflowID, runID string) string {
	base := strings.TrimRight(s.cfg.TemporalUIURL, "/")
	if base == "" {
		return ""
	}
	return base + "/namespaces/" + url.PathEscape(s.cfg.TemporalNamespace) + "/workflows/" + url.PathEscape(workflowID) + "/" + url.PathEscape(runID) + "/history"
}
