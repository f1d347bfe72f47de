package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/workflows"
)

// The simulator's world without a schedule, for tests of the activities against the
// emulators and the in-memory store: calm (no random faults; a test forces the ones it
// wants), on a clock the test moves.

func newTestWorld(t *testing.T) *Sim {
	t.Helper()
	cfg, _ := generate(1, time.Hour)
	cfg.settings = map[string]string{appsettings.UnsendAction: "mark", appsettings.AgentDisplayName: "name"}
	cfg.welcome, cfg.offline, cfg.finished = "", "", ""
	s := &Sim{seed: 1, cfg: cfg, length: time.Hour, start: simStart, truth: newTruth(), calm: true,
		searchAttributes: map[string]string{}, active: map[string]int{}, agentDone: map[string]bool{}}
	s.loop.now = simStart
	s.end = simStart.Add(48 * time.Hour)
	s.faults = &faults{sim: s, rngs: map[string]*rng{}}
	s.server.sim = s
	s.wfLog = traceLogger{s}
	require.NoError(t, s.buildWorld())
	return s
}

// attemptCtx is the context of a fresh attempt of an activity, with budget. The world's
// clock follows the attempt (its calls and waits take time) until the next attempt or
// advance.
func (s *Sim) attemptCtx(budget time.Duration) context.Context {
	s.settleClock()
	a := &attempt{n: 1, start: s.loop.now, deadline: s.loop.now.Add(budget)}
	if s.exec == nil {
		s.exec = &executor{}
	}
	s.exec.current = a
	return attemptContext{Context: context.Background(), a: a}
}

// settleClock moves the loop's clock to where the last attempt's left it.
func (s *Sim) settleClock() {
	if s.exec != nil && s.exec.current != nil {
		s.loop.now = maxTime(s.loop.now, s.exec.current.now())
		s.exec.current = nil
	}
}

// testRoom has the customer write (so Meta's window is open) and opens their room through
// the activities, as a conversation does.
func (s *Sim) testRoom(t *testing.T) string {
	t.Helper()
	s.customerWrites("")
	ctx := s.attemptCtx(time.Minute)
	v, err := s.acts.RegisterVisitor(ctx, workflows.RegisterVisitorInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID})
	require.NoError(t, err)
	r, err := s.acts.OpenRoom(ctx, workflows.OpenRoomInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID, DepartmentID: v.DepartmentID})
	require.NoError(t, err)
	require.NotEmpty(t, r.RoomID)
	return r.RoomID
}

// sentTexts is what Instagram received from us, in order.
func (s *Sim) sentTexts() []string {
	var out []string
	for _, m := range s.meta.Sent(s.cfg.Account, s.cfg.IGSID) {
		out = append(out, m.Text)
	}
	return out
}

// advance moves the world's clock.
func (s *Sim) advance(d time.Duration) {
	s.settleClock()
	s.loop.now = s.loop.now.Add(d)
}
