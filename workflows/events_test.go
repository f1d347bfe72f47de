package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

func closeAt(env *testsuite.TestWorkflowEnvironment, f *world, at time.Duration) {
	closeRoom(env, f, at, "room1")
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
			f := newWorld()
			f.unsendAction = tt.action
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "oops" }))
			signalAt(env, 2*time.Second, SignalInstagram, ev(env, EventMessage, "m2", 2*time.Second, func(e *InstagramEvent) { e.Text = "keep me" }))
			// The unsend comes after the message is in the room, and is delivered twice.
			signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 4*time.Second, nil))
			signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 4*time.Second, nil))
			closeAt(env, f, 8*time.Second)
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
			f := newWorld()
			f.unsendAction = action
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m0", time.Second, func(e *InstagramEvent) { e.Text = "hello" }))
			// Meta delivers the unsend of m1 before m1 itself (a retried delivery).
			signalAt(env, 3*time.Second, SignalInstagram, ev(env, EventUnsend, "m1", 3*time.Second, nil))
			signalAt(env, 6*time.Second, SignalInstagram, ev(env, EventMessage, "m1", 2*time.Second, func(e *InstagramEvent) { e.Text = "secret" }))
			closeAt(env, f, 10*time.Second)
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
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "the blue one" }))
	signalAt(env, 3*time.Second, SignalInstagram, ev(env, EventEdit, "m1", 3*time.Second, func(e *InstagramEvent) { e.Text = "the navy one"; e.NumEdit = 1 }))
	signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventReaction, "m1", 4*time.Second, func(e *InstagramEvent) { e.Action, e.Emoji = "react", "❤️" }))
	signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventMessage, "m2", 5*time.Second, func(e *InstagramEvent) { e.Text = "yes"; e.ReplyToMID = "m1" }))
	agentWrites(env, f, 6*time.Second, "room1", "a1", "Done!", true)
	signalAt(env, 8*time.Second, SignalInstagram, ev(env, EventReaction, "out-Done!", 8*time.Second, func(e *InstagramEvent) { e.Action, e.Emoji = "react", "👍" }))
	signalAt(env, 9*time.Second, SignalInstagram, ev(env, EventRead, "out-Done!", 9*time.Second, nil))
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, "out-Done!", st.LastSeenMID, "seen receipts update the state without noise")
	}, 12*time.Second)
	closeAt(env, f, 13*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"the navy one", "❤️ Reacted to “the blue one”", "> the blue one\nyes", "👍 Reacted to “Done!”"}, f.roomTexts())
	require.Empty(t, f.notes)
}

func TestEchoesOfOurSendsAndOfOtherTools(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "hi" }))
	agentWrites(env, f, 3*time.Second, "room1", "a1", "hello", true)
	// Our own send's echo (ingress drops most of them; this one raced its send's answer), and
	// a message the business sent from the Instagram app.
	signalAt(env, 4*time.Second, SignalInstagram, ev(env, EventEcho, "out-hello", 4*time.Second, func(e *InstagramEvent) { e.Text = "hello" }))
	signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventEcho, "native-1", 5*time.Second, func(e *InstagramEvent) { e.Text = "sent from my phone" }))
	closeAt(env, f, 9*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi"}, f.roomTexts(), "echoes are never customer messages")
	require.Equal(t, []string{"room1:📱 Sent by the business outside Rocket.Chat: sent from my phone"}, f.notes)
}

func TestPostbacksReferralsAndAttachments(t *testing.T) {
	f := newWorld()
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
	closeAt(env, f, 6*time.Second)
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
	f := newWorld()
	f.unsendAction, f.automated = "delete", map[string]string{AutoWelcome: "Hi!"}
	env := newEnv(t, f)
	// The workflow is started by the unsend (SignalWithStart); its message comes a minute later.
	signalAt(env, 0, SignalInstagram, ev(env, EventUnsend, "m1", 0, nil))
	env.RegisterDelayedCallback(func() {
		require.Empty(t, f.sent, "no welcome before the customer wrote anything")
		require.Zero(t, f.rooms, "no room either")
		env.SignalWorkflow(SignalInstagram, InstagramBatch{Events: []InstagramEvent{
			ev(env, EventMessage, "m1", -time.Second, func(e *InstagramEvent) { e.Text = "secret" }),
			ev(env, EventMessage, "m2", time.Minute, func(e *InstagramEvent) { e.Text = "hello" })}})
	}, time.Minute)
	closeAt(env, f, 2*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hello"}, f.roomTexts())
	require.Equal(t, []string{"Hi!"}, f.sent)
}

func TestDormantRunWithoutMessageEndsQuietly(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoWelcome: "Hi!"}
	env := newEnv(t, f)
	signalAt(env, 0, SignalInstagram, ev(env, EventEdit, "old", 0, func(e *InstagramEvent) { e.Text = "x" }))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.sent)
	require.Zero(t, f.rooms)
}

// TestEditWhileTheMessageIsBeingPosted: an edit that arrives while its message is on its way
// to the room is applied after the post (not to the copy in flight, which would lose it).
func TestEditWhileTheMessageIsBeingPosted(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	slow := true
	env.OnActivity(ActivityPostToRoom, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in PostToRoomInput) (PostToRoomResult, error) {
			if slow {
				slow = false
				time.Sleep(2 * time.Second)
			}
			return f.PostToRoom(ctx, in)
		})
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "the blue one" }))
	signalAt(env, 2500*time.Millisecond, SignalInstagram, ev(env, EventEdit, "m1", 2*time.Second, func(e *InstagramEvent) { e.Text = "the navy one"; e.NumEdit = 1 }))
	closeAt(env, f, 10*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"the navy one"}, f.roomTexts())
}
