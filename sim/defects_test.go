package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	metasb "github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/workflows"
)

// Defects of issue 19 in the activities, each reproduced against the emulators with the
// failure the issue names forced at the exact operation. Each failed before its fix.

// TestDatabaseErrorDuringSendIsRetriedNotRefused (issue 19, item 8): PostgreSQL failing
// while a reply's delivery intent is written ("too many clients", "shutting down") is an
// outage to retry, not Meta refusing the reply: no "not delivered" note, the cursor stays,
// and the reply goes out once the database answers.
func TestDatabaseErrorDuringSendIsRetriedNotRefused(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	_, err := s.rc.AgentSend(room, "ana", "a001 your order left today")
	require.NoError(t, err)
	in := workflows.SyncRepliesInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room, LastCustomerAt: s.loop.now}

	s.store.forced["BeginIntent"] = []forcedFailure{{before: pgError("53300", "sorry, too many clients already")}}
	res, err := s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.Empty(t, res.Refused, "a database error is not a refusal")
	require.Error(t, err, "the activity fails, so Temporal retries it")
	require.Empty(t, s.sentTexts())

	s.advance(time.Second)
	res, err = s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.NoError(t, err)
	require.Empty(t, res.Refused)
	require.Len(t, res.Sent, 1)
	require.Equal(t, []string{"Ana Souza: a001 your order left today"}, s.sentTexts())
}

// TestReplyMetaAcceptedIsReportedSentThoughRecordingFailed (issue 19, item 8): Meta took
// the reply, then recording its id failed: the customer has the reply, so the agent must not
// be told "not delivered", and a retry must not send it again.
func TestReplyMetaAcceptedIsReportedSentThoughRecordingFailed(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	_, err := s.rc.AgentSend(room, "ana", "a001 your order left today")
	require.NoError(t, err)
	in := workflows.SyncRepliesInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room, LastCustomerAt: s.loop.now}

	s.store.forced["FinishIntent"] = []forcedFailure{{before: pgError("57P03", "the database system is shutting down")}}
	res, err := s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.Empty(t, res.Refused, "the reply reached Instagram: it was not refused")
	if err == nil {
		require.Len(t, res.Sent, 1, "reported as sent")
	} else {
		// Retried: the intent still says "calling", so the retry settles it (an unknown
		// outcome) instead of sending again.
		s.advance(time.Second)
		res, err = s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
		require.NoError(t, err)
		require.Empty(t, res.Refused)
	}
	require.Len(t, s.sentTexts(), 1, "sent exactly once")
}

// TestDatabaseErrorDuringAutomatedMessageIsRetried (issue 19, item 8, found by the
// simulator): the same for the welcome, offline and finished messages: a database error is
// retried, not a reason to skip the message.
func TestDatabaseErrorDuringAutomatedMessageIsRetried(t *testing.T) {
	s := newTestWorld(t)
	s.store.pages[s.cfg.Account].page.WelcomeMessage = "Hi! We answer in minutes."
	s.testRoom(t)
	in := workflows.SendAutomatedInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, Which: workflows.AutoWelcome, Key: "auto:test:welcome",
		LastCustomerAt: s.loop.now}
	s.store.forced["BeginIntent"] = []forcedFailure{{before: pgError("57P01", "terminating connection due to administrator command")}}
	res, err := s.acts.SendAutomated(s.attemptCtx(time.Minute), in)
	require.Empty(t, res.Skipped, "a database error is no reason to skip the welcome")
	require.Error(t, err)
	res, err = s.acts.SendAutomated(s.attemptCtx(time.Minute), in)
	require.NoError(t, err)
	require.Equal(t, "Hi! We answer in minutes.", res.Text)
	require.Equal(t, []string{"Hi! We answer in minutes."}, s.sentTexts())
}

// TestReplyOlderThanTwentyPagesIsSent (issue 19, item 9): the sync read at most 20 pages
// (1000 messages) of the room back from the newest; an agent reply older than those — the
// room busy while the conversation could not read it (Rocket.Chat down, the run held) —
// was never sent. The walk goes back to the cursor's floor: a local activity hands a long
// walk to a regular one, which reads it all.
func TestReplyOlderThanTwentyPagesIsSent(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	s.advance(time.Second)
	_, err := s.rc.AgentSend(room, "ana", "a001 the reply written first")
	require.NoError(t, err)
	for i := range 1100 {
		s.advance(20 * time.Millisecond)
		_, err := s.acts.PostToRoom(s.attemptCtx(time.Minute), workflows.PostToRoomInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID,
			RoomID: room, Items: []workflows.RoomItem{{Kind: workflows.ItemMessage, MID: fmt.Sprintf("mid-%d", i), Text: fmt.Sprintf("c%04d", i)}}})
		require.NoError(t, err)
	}
	in := workflows.SyncRepliesInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room, LastCustomerAt: s.loop.now, Local: true}
	res, err := s.acts.SyncReplies(s.attemptCtx(10*time.Second), in)
	require.NoError(t, err)
	require.NotNil(t, res.Stop, "a local activity does not walk 23 pages")
	require.Equal(t, workflows.StopContinue, res.Stop.Kind)
	require.True(t, res.Stop.Regular)
	require.Empty(t, s.sentTexts())

	in.Local = false
	res, err = s.acts.SyncReplies(s.attemptCtx(2*time.Minute), in)
	require.NoError(t, err)
	require.Nil(t, res.Stop)
	require.Len(t, res.Sent, 1)
	require.Equal(t, []string{"Ana Souza: a001 the reply written first"}, s.sentTexts())
}

// TestReplyWithAFieldOfUnknownShapeIsSent (issue 19, item 9): a message whose stored
// document has a field of a shape the client does not know ("file" as a string, from an
// older Rocket.Chat or an app) made the whole history page's message unreadable: the reply
// was skipped without a word. Its text is sent.
func TestReplyWithAFieldOfUnknownShapeIsSent(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	_, err := s.rc.AgentSendOdd(room, "ana", "a001 your parcel is on its way", map[string]any{"file": "legacy-reference"})
	require.NoError(t, err)
	in := workflows.SyncRepliesInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room, LastCustomerAt: s.loop.now}
	res, err := s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.NoError(t, err)
	require.Empty(t, res.Refused)
	require.Equal(t, []string{"Ana Souza: a001 your parcel is on its way"}, s.sentTexts())
}

// TestUploadWhoseAnswerWasLostIsNotPostedTwice (issue 19, found by the simulator): Rocket.Chat
// took a customer's file but its answer was lost (a timeout after the request); the retry
// uploaded the file again and the room showed it twice. The lost answer is an unknown
// outcome: the room's history settles it, and the file is there once.
func TestUploadWhoseAnswerWasLostIsNotPostedTwice(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	payload, _ := s.meta.NewMediaAttachment(metasb.Media{Type: "image", ContentType: "image/jpeg", Data: []byte("c001 a photo" + strings.Repeat(".", 200))})
	url := payload["payload"].(map[string]any)["url"].(string)
	in := workflows.UploadInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room,
		Item: workflows.RoomItem{Kind: workflows.ItemUpload, MID: "mid-photo#0", URL: url, Text: "📷 Image: " + url}}

	s.faults.forced = map[string][]faultKind{"POST /api/v1/livechat/upload/": {faultTimeoutAfter}}
	_, err := s.acts.UploadToRoom(s.attemptCtx(time.Minute), in)
	if err != nil { // Temporal retries the activity
		_, err = s.acts.UploadToRoom(s.attemptCtx(time.Minute), in)
	}
	require.NoError(t, err)
	files := 0
	for _, m := range s.rc.Messages(room) {
		if m.File != nil {
			files++
		}
	}
	require.Equal(t, 1, files, "the file is in the room once")
}

// TestUnknownSendWithoutEchoIsFoundInTheThread (issue 19, item 11): Meta took a reply, its
// answer was lost and its echo never came (lost, or delivered to another app holding the
// thread). Sending it again on the echo's absence alone put it twice on the customer's
// phone: the thread is read first, and the reply found there is done.
func TestUnknownSendWithoutEchoIsFoundInTheThread(t *testing.T) {
	s := newTestWorld(t)
	room := s.testRoom(t)
	_, err := s.rc.AgentSend(room, "ana", "a001 your order left today")
	require.NoError(t, err)
	in := workflows.SyncRepliesInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, RoomID: room, LastCustomerAt: s.loop.now}

	s.faults.forced = map[string][]faultKind{"POST /" + simVersion + "/" + s.cfg.PageID + "/messages": {faultTimeoutAfter}}
	res, err := s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.NoError(t, err)
	require.NotNil(t, res.Stop)
	require.Equal(t, workflows.StopUnknown, res.Stop.Kind)
	require.Len(t, s.sentTexts(), 1, "Meta took it")

	s.advance(10 * time.Second) // no echo came
	x := res.Stop.Expect
	in.Cursor = res.Cursor
	in.Resolved = []workflows.Resolution{{Key: x.Key, Text: x.Text, Type: x.Type, Since: x.At}}
	res, err = s.acts.SyncReplies(s.attemptCtx(time.Minute), in)
	require.NoError(t, err)
	require.Nil(t, res.Stop)
	require.Equal(t, []string{"Ana Souza: a001 your order left today"}, s.sentTexts(), "sent once")
}
