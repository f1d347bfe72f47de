package workflows

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// world stands in for Rocket.Chat, Meta and the database with in-memory behaviour, so the
// tests check what customers and agents get, not which calls the workflow made.
type world struct {
	mu  sync.Mutex
	now func() time.Time

	settings     Settings
	unsendAction string
	memory       *Hashes          // what SaveConversation kept
	memoryNotes  []InstagramEvent // and the notes it kept
	spool        map[EventKey]InstagramEvent

	// Rocket.Chat.
	agentsFrom    time.Time         // OpenRoom reports no agent until the workflow clock reaches this
	registerErr   error             // RegisterVisitor fails with this (nil: succeeds)
	rooms         int               // rooms opened
	closed        map[string]bool   // rooms closed: posts are refused
	posted        []string          // "room:text" of customer messages in posting order
	notes         []string          // "room:text" of notes
	noteIDs       map[string]bool   // note keys posted (Rocket.Chat skips an _id it has)
	room          map[string]string // current text by message key (edits and deletions applied)
	roomOrder     []string
	visitorFields map[string]string
	replies       map[string][]fakeReply // the agents' messages of each room, in Rocket.Chat order

	// Meta.
	sent      []string          // texts (and "[file]") Meta accepted, in order
	intents   map[string]string // delivery key → mid of a send Meta took ("" = outcome unknown)
	automated map[string]string // page texts: welcome, offline, finished
	// unknownTaken / unknownLost: the next sends' answers are lost; Meta took them (an echo
	// follows) or did not.
	unknownTaken, unknownLost int
	// refuseWhileOtherOwns: Meta refuses sends while another app owns the thread.
	refuseWhileOtherOwns bool
	authDead             bool // the page token is refused
	refuseAll            string
	passedBack           int
	notices              []string
	syncs                int

	// Departments: the page's department as RegisterVisitor reads it (default d1), and the
	// departments with an agent online (nil: every department).
	departmentID string
	online       map[string]bool
	// automatedStop: SendAutomated stops with this (Meta down for it) while set.
	automatedStop *Stop
	// loadErr: LoadConversation fails with this while set (and loadFailures > 0: that many times).
	loadErr      error
	loadFailures int
	// loads counts LoadConversation calls; passBacks and roomsOpened the times of those.
	loads       int
	passBacks   []time.Time
	roomsOpened map[string]time.Time
}

type fakeReply struct {
	ID, Text string
	TS       time.Time
}

func newWorld() *world {
	return &world{closed: map[string]bool{}, noteIDs: map[string]bool{}, room: map[string]string{},
		replies: map[string][]fakeReply{}, intents: map[string]string{}, roomsOpened: map[string]time.Time{}}
}

func (f *world) LoadConversation(_ context.Context, in LoadConversationInput) (LoadConversationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.loadErr != nil && f.loadFailures >= 0 {
		if f.loadFailures > 0 {
			if f.loadFailures--; f.loadFailures == 0 {
				f.loadFailures = -1 // then it works
			}
		}
		return LoadConversationResult{}, f.loadErr
	}
	s := f.settings
	s.UnsendAction = f.unsendAction
	if s.UnsendAction == "" {
		s.UnsendAction = "mark"
	}
	res := LoadConversationResult{Settings: s}
	if in.Memory && f.memory != nil {
		res.Seen = *f.memory
		res.Notes = f.memoryNotes
	}
	return res, nil
}

func (f *world) SaveConversation(_ context.Context, in SaveConversationInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := in.Seen
	f.memory = &seen
	f.memoryNotes = in.Notes
	return nil
}

// SpoolEvents and UnspoolEvents keep the inbound queue's overflow (PostgreSQL's table).
func (f *world) SpoolEvents(_ context.Context, in SpoolEventsInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool == nil {
		f.spool = map[EventKey]InstagramEvent{}
	}
	for k := range f.spool {
		if !in.Acked.IsZero() && !in.Acked.Less(k) {
			delete(f.spool, k)
		}
	}
	for _, ev := range in.Events {
		f.spool[keyOf(ev)] = ev
	}
	return nil
}

func (f *world) UnspoolEvents(_ context.Context, in UnspoolEventsInput) (UnspoolEventsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []EventKey
	for k := range f.spool {
		if !in.After.IsZero() && !in.After.Less(k) {
			delete(f.spool, k)
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	var res UnspoolEventsResult
	for i, k := range keys {
		if i < in.Limit {
			res.Events = append(res.Events, f.spool[k])
			continue
		}
		if res.Remaining == 0 {
			res.Next = k
		}
		res.Remaining++
	}
	return res, nil
}

func (f *world) RegisterVisitor(_ context.Context, in RegisterVisitorInput) (VisitorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registerErr != nil {
		return VisitorInfo{}, f.registerErr
	}
	dept := f.departmentID
	if dept == "" {
		dept = "d1"
	}
	return VisitorInfo{Name: "Ana", Username: "ana." + in.IGSID, Department: "dept-" + dept, DepartmentID: dept}, nil
}

func (f *world) OpenRoom(_ context.Context, in OpenRoomInput) (OpenRoomResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var visitor *VisitorInfo
	if f.departmentID != "" && in.DepartmentID != f.departmentID {
		// The page points at another department now: the visitor is registered there.
		visitor = &VisitorInfo{Name: "Ana", Username: "ana." + in.IGSID, Department: "dept-" + f.departmentID, DepartmentID: f.departmentID}
		in.DepartmentID = f.departmentID
	}
	if f.now != nil && f.now().Before(f.agentsFrom) || f.online != nil && !f.online[in.DepartmentID] {
		return OpenRoomResult{NoAgent: true, Visitor: visitor}, nil
	}
	f.rooms++
	id := fmt.Sprintf("room%d", f.rooms)
	if f.now != nil {
		f.roomsOpened[id] = f.now()
	}
	return OpenRoomResult{RoomID: id, Agent: "bob", Visitor: visitor}, nil
}

func (f *world) PostToRoom(_ context.Context, in PostToRoomInput) (PostToRoomResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, it := range in.Items {
		// Rocket.Chat takes edits and deletions of a visitor's message in a closed room too
		// (the message is found by its _id, spec §5.3), nothing else.
		if f.closed[in.RoomID] && it.Kind != ItemEdit && it.Kind != ItemDelete {
			return PostToRoomResult{Posted: i, RoomClosed: true}, nil
		}
		switch it.Kind {
		case ItemNote:
			if !f.noteIDs[it.MID] {
				f.noteIDs[it.MID] = true
				f.notes = append(f.notes, in.RoomID+":"+it.Text)
			}
		case ItemMessage:
			if _, dup := f.room[it.MID]; !dup {
				f.posted = append(f.posted, in.RoomID+":"+it.Text)
				f.roomOrder = append(f.roomOrder, it.MID)
			}
			f.room[it.MID] = it.Text
		case ItemEdit:
			f.room[it.MID] = it.Text
		case ItemDelete:
			delete(f.room, it.MID)
		case ItemVisitorFields:
			f.visitorFields = it.Fields
		case ItemUpload:
			return PostToRoomResult{}, temporal.NewNonRetryableApplicationError("uploads go to UploadToRoom", "Bug", nil)
		}
	}
	return PostToRoomResult{Posted: len(in.Items)}, nil
}

func (f *world) UploadToRoom(_ context.Context, in UploadInput) (PostToRoomResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed[in.RoomID] {
		return PostToRoomResult{RoomClosed: true}, nil
	}
	if _, dup := f.room[in.Item.MID]; !dup {
		f.roomOrder = append(f.roomOrder, in.Item.MID)
	}
	f.room[in.Item.MID] = "[upload " + in.Item.URL + "] " + in.Item.Caption
	return PostToRoomResult{Posted: 1}, nil
}

// roomTexts is what the rooms show now, in posting order.
func (f *world) roomTexts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range f.roomOrder {
		if t, ok := f.room[k]; ok {
			out = append(out, t)
		}
	}
	return out
}

// send is Meta's Send API behind a delivery intent, as the real activities do it.
func (f *world) send(key, text string, resolved []Resolution, otherAppOwns bool) (string, *Stop) {
	for _, r := range resolved {
		if r.Key == key {
			if r.MID != "" {
				f.intents[key] = r.MID
				return r.MID, nil
			}
			delete(f.intents, key) // not delivered: send again
		}
	}
	if mid, ok := f.intents[key]; ok {
		if mid == "" {
			return "", &Stop{Kind: StopUnknown, Expect: &Expectation{Key: key, Text: text}}
		}
		return mid, nil
	}
	switch {
	case f.authDead:
		return "", &Stop{Kind: StopAuth, Reason: "token refused"}
	case otherAppOwns && f.refuseWhileOtherOwns:
		return "", &Stop{Kind: StopHeld, Reason: "not the thread owner"}
	case f.unknownTaken > 0:
		f.unknownTaken--
		f.sent = append(f.sent, text)
		f.intents[key] = ""
		return "", &Stop{Kind: StopUnknown, Expect: &Expectation{Key: key, Text: text}}
	case f.unknownLost > 0:
		f.unknownLost--
		f.intents[key] = ""
		return "", &Stop{Kind: StopUnknown, Expect: &Expectation{Key: key, Text: text}}
	}
	mid := "out-" + text
	f.sent = append(f.sent, text)
	f.intents[key] = mid
	return mid, nil
}

func (f *world) SyncReplies(_ context.Context, in SyncRepliesInput) (SyncRepliesResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	res := SyncRepliesResult{Cursor: in.Cursor, RoomClosed: f.closed[in.RoomID]}
	for _, m := range f.replies[in.RoomID] {
		if in.Cursor.Handled(m.ID, m.TS) {
			continue
		}
		switch {
		case in.Discard != "":
			res.Refused = append(res.Refused, RefusedReply{ID: m.ID, What: fmt.Sprintf("%q", m.Text), Reason: in.Discard})
		case f.refuseAll != "":
			res.Refused = append(res.Refused, RefusedReply{ID: m.ID, What: fmt.Sprintf("%q", m.Text), Reason: f.refuseAll})
		default:
			mid, stop := f.send("rc:"+m.ID+"#0", m.Text, in.Resolved, in.OtherAppOwns)
			if stop != nil {
				res.Stop = stop
				return res, nil
			}
			res.Sent = append(res.Sent, SentReply{ID: m.ID, Text: m.Text, MIDs: []string{mid}})
		}
		res.Cursor.Advance(m.ID, m.TS, f.now())
	}
	return res, nil
}

func (f *world) SendAutomated(_ context.Context, in SendAutomatedInput) (SendAutomatedResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	text := f.automated[in.Which]
	if text == "" {
		return SendAutomatedResult{Skipped: "not configured"}, nil
	}
	if f.automatedStop != nil {
		return SendAutomatedResult{Stop: f.automatedStop}, nil
	}
	var resolved []Resolution
	if in.Resolved != nil {
		resolved = []Resolution{*in.Resolved}
	}
	mid, stop := f.send(in.Key, text, resolved, false)
	if stop != nil {
		return SendAutomatedResult{Stop: stop}, nil
	}
	return SendAutomatedResult{Text: text, MessageIDs: []string{mid}}, nil
}

func (f *world) PassBack(context.Context, PassBackInput) (PassBackResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passedBack++
	if f.now != nil {
		f.passBacks = append(f.passBacks, f.now())
	}
	return PassBackResult{}, nil
}

func (f *world) PostNote(_ context.Context, in NoteInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.noteIDs[in.Key] && !f.closed[in.RoomID] {
		f.noteIDs[in.Key] = true
		f.notes = append(f.notes, in.RoomID+":"+in.Text)
	}
	return nil
}

func (f *world) NotifyAdmins(_ context.Context, in NoticeInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !in.Clear && in.Text != "" {
		f.notices = append(f.notices, in.Text)
	}
	return nil
}

func (f *world) sentTexts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

func (f *world) noteTexts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.notes...)
}

func newEnv(t *testing.T, f *world) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	env.RegisterWorkflowWithOptions(Conversation, workflow.RegisterOptions{Name: ConversationWorkflowName})
	for name, fn := range map[string]any{
		ActivityLoadConversation: f.LoadConversation, ActivitySaveConversation: f.SaveConversation,
		ActivityRegisterVisitor: f.RegisterVisitor, ActivityOpenRoom: f.OpenRoom, ActivityPostToRoom: f.PostToRoom,
		ActivityUploadToRoom: f.UploadToRoom, ActivitySyncReplies: f.SyncReplies, ActivitySendAutomated: f.SendAutomated,
		ActivityPostNote: f.PostNote, ActivityPassBack: f.PassBack, ActivityNotifyAdmins: f.NotifyAdmins,
		ActivitySpoolEvents: f.SpoolEvents, ActivityUnspoolEvents: f.UnspoolEvents,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "instagram:acct:user1"})
	// A conversation that spins (a timer every millisecond, an activity without end) fails
	// its test at once instead of running until the test's deadline. Tests that count
	// timers or activities themselves replace these listeners.
	timers, starts := 0, 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) {
		if timers++; timers > busyLoopLimit {
			panic(fmt.Sprintf("busy loop: the conversation started more than %d timers", busyLoopLimit))
		}
	})
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) {
		if starts++; starts > busyLoopLimit {
			panic(fmt.Sprintf("busy loop: the conversation started more than %d activities", busyLoopLimit))
		}
	})
	if f.settings == (Settings{}) {
		f.settings = Settings{ReorderWindow: 500 * time.Millisecond, CloseLinger: time.Minute, ReauthRetry: time.Minute}
	}
	f.now = env.Now
	return env
}

// busyLoopLimit: more timers or activities than any test's conversation needs.
const busyLoopLimit = 20000

func msg(env *testsuite.TestWorkflowEnvironment, mid, text string, offset time.Duration) InstagramEvent {
	return InstagramEvent{Kind: EventMessage, MID: mid, Text: text, Timestamp: env.Now().Add(offset).UnixMilli()}
}

// signalAt signals at a time: an Instagram event goes as a one-event batch (one delivery).
func signalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, name string, arg any) {
	if ev, ok := arg.(InstagramEvent); ok {
		arg = InstagramBatch{Events: []InstagramEvent{ev}}
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, at)
}

// agentWrites has an agent write in a room at a time: the message is in the room's history
// from then on; the webhook wakes the conversation (unless lost).
func agentWrites(env *testsuite.TestWorkflowEnvironment, f *world, at time.Duration, room, id, text string, webhook bool) {
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.replies[room] = append(f.replies[room], fakeReply{ID: id, Text: text, TS: env.Now()})
		f.mu.Unlock()
		if webhook {
			env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: room})
		}
	}, at)
}

// closeRoom closes a room in Rocket.Chat at a time, with its webhook.
func closeRoom(env *testsuite.TestWorkflowEnvironment, f *world, at time.Duration, room string) {
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.closed[room] = true
		f.mu.Unlock()
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: room})
	}, at)
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) StateView {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	require.NoError(t, err)
	var st StateView
	require.NoError(t, v.Get(&st))
	return st
}

// ev builds an Instagram event at an offset from the test's start.
func ev(env *testsuite.TestWorkflowEnvironment, kind, mid string, at time.Duration, fill func(*InstagramEvent)) InstagramEvent {
	e := InstagramEvent{Kind: kind, MID: mid, Timestamp: env.Now().Add(at).UnixMilli()}
	if fill != nil {
		fill(&e)
	}
	return e
}
