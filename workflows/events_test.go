package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

// ev builds an Instagram event at an offset from the test's start.
func ev(env *testsuite.TestWorkflowEnvironment, kind, mid string, at time.Duration, fill func(*InstagramEvent)) InstagramEvent {
	e := InstagramEvent{Kind: kind, MID: mid, Timestamp: env.Now().Add(at).UnixMilli()}
	if fill != nil {
		fill(&e)
	}
	return e
}

func closeAt(env *testsuite.TestWorkflowEnvironment, at time.Duration) {
	signalAt(env, at, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
}

func TestUnsendSettings(t *testing.T) {
	tests := []struct {
		action    string
		wantRoom  []string
		wantNotes int
	}{
		{"delete", []string{"keep me"}, 0},
		{"mark", []string{unsentMarker, "keep me"}, 0},
		{"keep", []string{"oops", "keep me"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			f := &fakeActivities{unsendAction: tt.action}
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "oops" }))
			signalAt(env, 2*time.Second, SignalInstagram, ev(env, EventMessage, "m2", 2*time.Second, func(e *InstagramEvent) { e.Text = "keep me" }))
			// The unsend comes after the message is in the room, and is delivered twice.
			signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 4*time.Second, nil))
			signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 4*time.Second, nil))
			closeAt(env, 8*time.Second)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			require.NoError(t, env.GetWorkflowError())
			require.Equal(t, tt.wantRoom, f.roomTexts())
			require.Len(t, f.notes, tt.wantNotes)
		})
	}
}

func TestUnsendBeforeItsMessageWaitsForIt(t *testing.T) {
	for _, action := range []string{"delete", "mark"} {
		t.Run(action, func(t *testing.T) {
			f := &fakeActivities{unsendAction: action}
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m0", time.Second, func(e *InstagramEvent) { e.Text = "hello" }))
			// Meta delivers the unsend of m1 before m1 itself (a retried delivery).
			signalAt(env, 3*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 3*time.Second, nil))
			signalAt(env, 6*time.Second, SignalInstagram, ev(env, EventMessage, "m1", 2*time.Second, func(e *InstagramEvent) { e.Text = "secret" }))
			closeAt(env, 10*time.Second)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			require.NoError(t, env.GetWorkflowError())
			for _, p := range f.posted {
				require.NotContains(t, p, "secret", "an unsent message must never show")
			}
			if action == "mark" {
				require.Equal(t, []string{"hello", unsentMarker}, f.roomTexts())
			} else {
				require.Equal(t, []string{"hello"}, f.roomTexts())
			}
		})
	}
}

func TestEditsReactionsRepliesAndSeen(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "the blue one" }))
	signalAt(env, 3*time.Second, SignalInstagram, ev(env, EventEdit, "m1", 3*time.Second, func(e *InstagramEvent) { e.Text = "the navy one"; e.NumEdit = 1 }))
	signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventReaction, "m1", 4*time.Second, func(e *InstagramEvent) { e.Action, e.Emoji = "react", "❤️" }))
	signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventMessage, "m2", 5*time.Second, func(e *InstagramEvent) { e.Text = "yes"; e.ReplyToMID = "m1" }))
	signalAt(env, 6*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "Done!"}}})
	signalAt(env, 8*time.Second, SignalInstagram, ev(env, EventReaction, "out-Done!", 8*time.Second, func(e *InstagramEvent) { e.Action, e.Emoji = "react", "👍" }))
	signalAt(env, 9*time.Second, SignalInstagram, ev(env, EventRead, "out-Done!", 9*time.Second, nil))
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, "out-Done!", st.LastSeenMID, "seen receipts update the state without noise")
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	}, 12*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"the navy one", "❤️ Reacted to “the blue one”", "> the blue one\nyes", "👍 Reacted to “Done!”"}, f.roomTexts())
	require.Empty(t, f.notes)
}

func TestEchoesOfOurSendsAndOfOtherTools(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "hi" }))
	signalAt(env, 3*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "hello"}}})
	// Our own send's echo, and a message the business sent from the Instagram app.
	signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventEcho, "out-hello", 4*time.Second, func(e *InstagramEvent) { e.Text = "hello" }))
	signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventEcho, "native-1", 5*time.Second, func(e *InstagramEvent) { e.Text = "sent from my phone" }))
	closeAt(env, 9*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi"}, f.roomTexts(), "echoes are never customer messages")
	require.Equal(t, []string{"room1:📱 Sent by the business outside Rocket.Chat: sent from my phone"}, f.notes)
}

func TestPostbacksReferralsAndAttachments(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, ev(env, EventPostback, "pb1", time.Second, func(e *InstagramEvent) {
		e.Title, e.Payload = "Opening hours?", "FAQ_HOURS"
		e.Referral = &Referral{Ref: "qr_packaging", Source: "SHORTLINKS", Type: "OPEN_THREAD"}
	}))
	signalAt(env, 2*time.Second, SignalInstagram, ev(env, EventMessage, "m1", 2*time.Second, func(e *InstagramEvent) {
		e.Text = "Track my order"
		e.QuickReplyPayload = "TRACK_ORDER"
		e.Attachments = []Attachment{{Type: "story_mention", URL: "https://cdn/st"}, {Type: "hologram"}}
	}))
	closeAt(env, 6*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{
		"🔘 Tapped “Opening hours?” _(payload FAQ_HOURS)_\n🔗 Came through an ig.me link (ref qr_packaging)",
		"Track my order\n_(quick reply, payload TRACK_ORDER)_",
		"[upload https://cdn/st] 📣 Mentioned you in their story (stories disappear after 24 hours)",
		"📎 Sent an attachment of a kind not supported yet (\"hologram\")",
	}, f.roomTexts())
	require.Equal(t, map[string]string{"instagram_referral_source": "SHORTLINKS", "instagram_referral_ref": "qr_packaging"}, f.visitorFields)
}

func TestRunStartedByUnsendStaysDormantUntilItsMessage(t *testing.T) {
	f := &fakeActivities{unsendAction: "delete", automated: map[string]string{AutoWelcome: "Hi!"}}
	env := newEnv(t, f)
	// The workflow is started by the unsend (SignalWithStart); its message comes a minute later.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalInstagram, ev(env, EventUnsend, "m1", 0, nil))
	}, 0)
	env.RegisterDelayedCallback(func() {
		require.Empty(t, f.sent, "no welcome before the customer wrote anything")
		require.Zero(t, f.rooms, "no room either")
		env.SignalWorkflow(SignalInstagram, ev(env, EventMessage, "m1", -time.Second, func(e *InstagramEvent) { e.Text = "secret" }))
		env.SignalWorkflow(SignalInstagram, ev(env, EventMessage, "m2", time.Minute, func(e *InstagramEvent) { e.Text = "hello" }))
	}, time.Minute)
	closeAt(env, 2*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hello"}, f.roomTexts())
	require.Equal(t, []string{"Hi!"}, f.sent)
}

func TestDormantRunWithoutMessageEndsQuietly(t *testing.T) {
	f := &fakeActivities{automated: map[string]string{AutoWelcome: "Hi!"}}
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalInstagram, ev(env, EventEdit, "old", 0, func(e *InstagramEvent) { e.Text = "x" }))
	}, 0)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.sent)
	require.Zero(t, f.rooms)
}
