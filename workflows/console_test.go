package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/igdirect/bridge/setupguide"
)

// fakeConsole stands in for the activities of the console workflows.
type fakeConsole struct {
	fakeAdmin
	diag      map[string]PageDiagnosis
	diagErr   map[string]error
	facts     setupguide.Facts
	marked    int
	postErr   error
	deps      []Department
	linkInput []ConsoleLinkInput
}

func (f *fakeConsole) DiagnosePage(_ context.Context, ref PageRef) (PageDiagnosis, error) {
	f.record("DiagnosePage " + ref.PageID)
	if err := f.diagErr[ref.PageID]; err != nil {
		return PageDiagnosis{}, err
	}
	return f.diag[ref.PageID], nil
}

func (f *fakeConsole) SetupFacts(context.Context) (setupguide.Facts, error) { return f.facts, nil }

func (f *fakeConsole) MarkSetupGuidePosted(context.Context) error {
	f.marked++
	return nil
}

func (f *fakeConsole) ListDepartments(context.Context) ([]Department, error) { return f.deps, nil }

func (f *fakeConsole) SendConsoleLink(_ context.Context, in ConsoleLinkInput) (ConsoleLinkResult, error) {
	f.linkInput = append(f.linkInput, in)
	return ConsoleLinkResult{SentTo: "@" + in.Username}, nil
}

func (f *fakeConsole) post(ctx context.Context, m SetupMessage) error {
	if f.postErr != nil {
		return f.postErr
	}
	return f.PostSetupMessage(ctx, m)
}

func newConsoleEnv(t *testing.T, f *fakeConsole) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	for name, fn := range map[string]any{
		DoctorWorkflowName: Doctor, SetupGuideWorkflowName: SetupGuide, DepartmentsWorkflowName: RocketChatDepartments,
		ConsoleLinkWorkflowName: ConsoleLink,
	} {
		env.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	for name, fn := range map[string]any{
		ActivityListConnectedPages: f.ListConnectedPages, ActivityDiagnosePage: f.DiagnosePage,
		ActivitySetupFacts: f.SetupFacts, ActivityMarkSetupGuidePosted: f.MarkSetupGuidePosted,
		ActivityPostSetupMessage: f.post, ActivityListDepartments: f.ListDepartments, ActivitySendConsoleLink: f.SendConsoleLink,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	f.now = env.Now
	return env
}

func TestDoctorAsksMetaAboutEveryConnectedPage(t *testing.T) {
	f := &fakeConsole{
		fakeAdmin: fakeAdmin{connected: []ConnectedPage{
			{PageID: "p1", IGUsername: "one", HasToken: true},
			{PageID: "p2", IGUsername: "two", HasToken: true},
			{PageID: "p3", IGUsername: "removed"}, // no token: nothing to ask Meta with
		}},
		diag:    map[string]PageDiagnosis{"p1": {PageID: "p1", IGUsername: "one", Subscribed: true, TokenValid: true}},
		diagErr: map[string]error{"p2": temporal.NewNonRetryableApplicationError("Graph down", ErrGraphRefused, nil)},
	}
	env := newConsoleEnv(t, f)
	env.ExecuteWorkflow(DoctorWorkflowName)
	require.NoError(t, env.GetWorkflowError())
	var got []PageDiagnosis
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Len(t, got, 2)
	require.True(t, got[0].Subscribed)
	require.Equal(t, "p2", got[1].PageID)
	require.Equal(t, "two", got[1].IGUsername, "a failed check still names the page")
	require.Contains(t, got[1].Error, "Graph down")
	require.NotContains(t, f.calls, "DiagnosePage p3")
}

func TestSetupGuide(t *testing.T) {
	facts := setupguide.Facts{PublicURL: "https://bridge.example.com", SetupChannel: "omnichannel-instagram-setup"}

	t.Run("posts what is missing with both buttons", func(t *testing.T) {
		f := &fakeConsole{facts: facts}
		env := newConsoleEnv(t, f)
		env.ExecuteWorkflow(SetupGuideWorkflowName, SetupGuideInput{RequestedBy: "maria"})
		require.NoError(t, env.GetWorkflowError())
		var res SetupGuideResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.True(t, res.Posted)
		require.Contains(t, res.Missing, "Instagram accounts")
		require.Len(t, f.posts, 1)
		m := f.posts[0]
		for _, want := range []string{"requested by maria", "https://bridge.example.com/webhooks/rocketchat", "https://bridge.example.com/webhooks/instagram",
			"https://bridge.example.com/oauth/callback", "https://bridge.example.com/rocketchat/command", "no account connected yet",
			"the Omnichannel webhook has not called us yet", "*Still missing:*"} {
			require.Contains(t, m.Text, want)
		}
		require.Len(t, m.Attachments, 3)
		require.Equal(t, "Start Authentication", m.Attachments[0].ButtonText)
		require.Equal(t, "https://bridge.example.com/console/authorize", m.Attachments[0].ButtonURL)
		require.Equal(t, "https://bridge.example.com/console/", m.Attachments[1].ButtonURL)
		// The sign-in button types the command as whoever clicks it: the link is theirs.
		require.Equal(t, "instagram console", m.Attachments[2].ButtonMsg)
		require.Empty(t, m.Attachments[2].ButtonURL)
		require.Zero(t, f.marked, "only the first-start guide is recorded")
	})

	t.Run("first start posts once", func(t *testing.T) {
		posted := facts
		posted.GuidePosted = true
		f := &fakeConsole{facts: posted}
		env := newConsoleEnv(t, f)
		env.ExecuteWorkflow(SetupGuideWorkflowName, SetupGuideInput{FirstStart: true})
		require.NoError(t, env.GetWorkflowError())
		require.Empty(t, f.posts)

		f = &fakeConsole{facts: facts}
		env = newConsoleEnv(t, f)
		env.ExecuteWorkflow(SetupGuideWorkflowName, SetupGuideInput{FirstStart: true})
		require.NoError(t, env.GetWorkflowError())
		require.Len(t, f.posts, 1)
		require.Contains(t, f.posts[0].Text, "is running")
		require.Equal(t, 1, f.marked)
	})

	t.Run("a guide that cannot be posted fails the workflow and is not recorded", func(t *testing.T) {
		f := &fakeConsole{facts: facts, postErr: temporal.NewNonRetryableApplicationError("no such channel", "SetupChannelRefused", nil)}
		env := newConsoleEnv(t, f)
		env.ExecuteWorkflow(SetupGuideWorkflowName, SetupGuideInput{FirstStart: true})
		require.Error(t, env.GetWorkflowError())
		require.Zero(t, f.marked)
	})
}

func TestDepartmentsAndConsoleLink(t *testing.T) {
	f := &fakeConsole{deps: []Department{{ID: "d1", Name: "Instagram", Enabled: true}}}
	env := newConsoleEnv(t, f)
	env.ExecuteWorkflow(DepartmentsWorkflowName)
	var deps []Department
	require.NoError(t, env.GetWorkflowResult(&deps))
	require.Equal(t, f.deps, deps)

	env = newConsoleEnv(t, f)
	env.ExecuteWorkflow(ConsoleLinkWorkflowName, ConsoleLinkInput{UserID: "u1", Username: "maria"})
	var res ConsoleLinkResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "@maria", res.SentTo)
	require.Equal(t, []ConsoleLinkInput{{UserID: "u1", Username: "maria"}}, f.linkInput)
}
