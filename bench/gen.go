package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/igdirect/bridge/internal/devstack"
	"github.com/igdirect/bridge/sandbox/meta"
)

// msgSeq numbers every message of a run, so a tag is unique across targets and phases.
var msgSeq atomic.Uint64

// msg is one customer message the generator sent, and what became of it.
type msg struct {
	ID      uint64    `json:"id"`
	User    int       `json:"user"`
	Phase   string    `json:"phase"`
	Created time.Time `json:"created"` // Meta's event timestamp = when the webhook was sent
	// Acknowledgement: the first 200 from the webhook endpoint.
	Acked    bool          `json:"acked"`
	Ack      time.Duration `json:"ack_ns"`
	Attempts int           `json:"attempts"`
	Errors   int           `json:"errors"` // non-200 answers and transport errors
	Err      string        `json:"err,omitempty"`
	// From the emulators' records (collect).
	InRoom     time.Time `json:"in_room,omitzero"`  // Rocket.Chat message ts
	Copies     int       `json:"copies"`            // visitor messages carrying the tag
	AgentAt    time.Time `json:"agent_at,omitzero"` // the agent's reply ts
	SentAt     time.Time `json:"sent_at,omitzero"`  // Send API call of that reply (SentMessage.At)
	SentCopies int       `json:"sent_copies"`

	inRoom  chan struct{} // closed when the observer sees the post
	replied chan struct{} // closed when the observer sees the reply's Send API call
	once    [2]sync.Once
}

// gen drives one target with simulated Instagram users.
type gen struct {
	t     *target
	mu    sync.Mutex
	msgs  map[uint64]*msg
	users map[int]string // user index → IGSID
	byTok map[string]int // visitor token → user index
	base  int            // user indices of this generator start here

	inRoomN, repliedN atomic.Int64
}

func newGen(t *target) *gen {
	g := &gen{t: t, msgs: map[uint64]*msg{}, users: map[int]string{}, byTok: map[string]int{}, base: t.nextUsers}
	// A target that runs several scenarios gives each its own customers.
	t.nextUsers += 1_000_000
	t.obs.g.Store(g)
	return g
}

func igsidOf(user int) string { return fmt.Sprintf("69%014d", 1_000_000+user) }

// addUsers makes users [from, to) of this generator known to Meta (with a profile) and to
// the generator, and returns their indices.
func (g *gen) addUsers(from, to int) []int {
	var out []int
	for i := g.base + from; i < g.base+to; i++ {
		id := igsidOf(i)
		g.t.meta.AddUser(devstack.Account, meta.User{IGSID: id, Name: fmt.Sprintf("Bench User %d", i), Username: fmt.Sprintf("bench.user.%d", i)})
		g.mu.Lock()
		g.users[i] = id
		g.byTok[g.t.tokenOf(id)] = i
		g.mu.Unlock()
		out = append(out, i)
	}
	return out
}

func (g *gen) seen(id uint64, reply bool) {
	g.mu.Lock()
	m := g.msgs[id]
	g.mu.Unlock()
	if m == nil {
		return
	}
	if reply {
		m.once[1].Do(func() { g.repliedN.Add(1); close(m.replied) })
	} else {
		m.once[0].Do(func() { g.inRoomN.Add(1); close(m.inRoom) })
	}
}

const (
	maxAttempts    = 6
	firstBackoff   = 250 * time.Millisecond
	attemptTimeout = 10 * time.Second
)

// send delivers one customer message as a signed webhook POST (one event per POST, like
// Meta when it is not batching) and retries a failed delivery like Meta, up to 6 attempts
// over about 8 s. It returns once the message is acknowledged or given up.
func (g *gen) send(user int, phase string) *msg {
	id := msgSeq.Add(1)
	g.mu.Lock()
	igsid := g.users[user]
	g.mu.Unlock()
	text := fmt.Sprintf("bm:%d hello, is the blue one still available? (user %d)", id, user)
	created := time.Now()
	ev := g.t.meta.NewTextEvent(devstack.Account, igsid, text, created)
	entry := meta.Entry{ID: devstack.Account, Time: created.UnixMilli(), Messaging: []meta.Event{ev}}
	m := &msg{ID: id, User: user, Phase: phase, Created: created, inRoom: make(chan struct{}), replied: make(chan struct{})}
	g.mu.Lock()
	g.msgs[id] = m
	g.mu.Unlock()
	backoff := firstBackoff
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
		t0 := time.Now()
		status, body, err := g.t.meta.DeliverOnce(ctx, entry)
		d := time.Since(t0)
		cancel()
		g.mu.Lock()
		m.Attempts = attempt
		if err == nil && status == http.StatusOK {
			m.Acked, m.Ack = true, d
			g.mu.Unlock()
			return m
		}
		m.Errors++
		if err != nil {
			m.Err = err.Error()
		} else {
			m.Err = fmt.Sprintf("HTTP %d %.120s", status, body)
		}
		g.mu.Unlock()
		if attempt < maxAttempts {
			time.Sleep(backoff)
			backoff *= 2
		}
	}
	return m
}

// once sends one message from each user, conc at a time.
func (g *gen) once(users []int, phase string, conc int) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				g.send(u, phase)
			}
		}()
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
}

// blast sends total messages round robin over users, conc at a time, as fast as the
// endpoint acknowledges them.
func (g *gen) blast(users []int, phase string, total, conc int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				g.send(users[int(i)%len(users)], phase)
			}
		}()
	}
	wg.Wait()
}

// arrivals: each user writes once, the users spread evenly at rate per second (open loop:
// a slow answer does not delay the next customer).
func (g *gen) arrivals(users []int, phase string, rate float64) {
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		wg.Add(1)
		go func() { defer wg.Done(); g.send(u, phase) }()
	}
	wg.Wait()
}

// paced is an open-loop load: every user writes every len(users)/rate seconds (phases
// staggered), for dur. A user with 8 deliveries still unacknowledged skips a beat (counted).
func (g *gen) paced(users []int, phase string, rate float64, dur time.Duration) (skipped int64) {
	interval := time.Duration(float64(len(users)) / rate * float64(time.Second))
	end := time.Now().Add(dur)
	var skips atomic.Int64
	var wg sync.WaitGroup
	for k, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := time.Duration(int64(interval) * int64(k) / int64(len(users)))
			next := time.Now().Add(offset)
			var inflight atomic.Int32
			var sends sync.WaitGroup
			defer sends.Wait()
			for {
				if next.After(end) {
					return
				}
				time.Sleep(time.Until(next))
				if inflight.Load() >= 8 {
					skips.Add(1)
				} else {
					inflight.Add(1)
					sends.Add(1)
					go func() {
						defer sends.Done()
						defer inflight.Add(-1)
						g.send(u, phase)
					}()
				}
				next = next.Add(interval)
			}
		}()
	}
	wg.Wait()
	return skips.Load()
}

// closedLoop: every user writes, waits until the agent's reply to that message reached
// Instagram (at most replyTimeout), thinks, and writes again, until dur is over.
func (g *gen) closedLoop(users []int, phase string, dur, think, replyTimeout time.Duration) (timeouts int64) {
	end := time.Now().Add(dur)
	var to atomic.Int64
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				m := g.send(u, phase)
				if m.Acked {
					select {
					case <-m.replied:
					case <-time.After(replyTimeout):
						to.Add(1)
					}
				}
				if think > 0 {
					time.Sleep(think)
				}
			}
		}()
	}
	wg.Wait()
	return to.Load()
}

// waitFor waits until every acknowledged message of the phases is in a room (or, with
// replies, also answered on Instagram), or timeout. It reports whether all made it.
func (g *gen) waitFor(phases []string, replies bool, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for _, m := range g.select_(phases) {
		if !m.Acked {
			continue
		}
		ch := m.inRoom
		if replies {
			ch = m.replied
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
	return true
}

// outstanding counts acknowledged messages of the phases not yet seen in a room.
func (g *gen) outstanding(phases []string) int {
	n := 0
	for _, m := range g.select_(phases) {
		if !m.Acked {
			continue
		}
		select {
		case <-m.inRoom:
		default:
			n++
		}
	}
	return n
}

func (g *gen) select_(phases []string) []*msg {
	want := map[string]bool{}
	for _, p := range phases {
		want[p] = true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*msg, 0, len(g.msgs))
	for _, m := range g.msgs {
		if len(phases) == 0 || want[m.Phase] {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// collect reads the emulators' records: the Rocket.Chat ts of every tagged visitor message
// and agent reply, and the time of every Send API call carrying a tag.
func (g *gen) collect() {
	rc := g.t.rc
	type hit struct {
		id     uint64
		ts     time.Time
		visitr bool
	}
	var hits []hit
	for _, r := range rc.AllRooms() {
		g.mu.Lock()
		_, ours := g.byTok[r.VisitorToken]
		g.mu.Unlock()
		if !ours {
			continue
		}
		for _, m := range rc.Messages(r.ID) {
			if m.System != "" || m.Deleted {
				continue
			}
			id, ok := parseTag(m.Msg)
			if !ok {
				continue
			}
			hits = append(hits, hit{id: id, ts: m.TS, visitr: m.Token != ""})
		}
	}
	type sent struct {
		id uint64
		at time.Time
	}
	var sends []sent
	g.mu.Lock()
	users := make([]string, 0, len(g.users))
	for _, igsid := range g.users {
		users = append(users, igsid)
	}
	g.mu.Unlock()
	for _, igsid := range users {
		for _, sm := range g.t.meta.Sent(devstack.Account, igsid) {
			if id, ok := parseTag(sm.Text); ok {
				sends = append(sends, sent{id, sm.At})
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.msgs {
		m.InRoom, m.Copies, m.AgentAt, m.SentAt, m.SentCopies = time.Time{}, 0, time.Time{}, time.Time{}, 0
	}
	for _, h := range hits {
		m := g.msgs[h.id]
		if m == nil {
			continue
		}
		if h.visitr {
			m.Copies++
			if m.InRoom.IsZero() || h.ts.Before(m.InRoom) {
				m.InRoom = h.ts
			}
		} else if m.AgentAt.IsZero() || h.ts.Before(m.AgentAt) {
			m.AgentAt = h.ts
		}
	}
	for _, s := range sends {
		m := g.msgs[s.id]
		if m == nil {
			continue
		}
		m.SentCopies++
		if m.SentAt.IsZero() || s.at.Before(m.SentAt) {
			m.SentAt = s.at
		}
	}
}
