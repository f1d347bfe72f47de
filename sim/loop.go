package sim

import (
	"container/heap"
	"time"
)

// loop is the simulation's clock and agenda: everything that happens, happens in an event
// it runs, one at a time, in time order (ties in the order they were scheduled). Nothing
// else moves the clock, and nothing runs concurrently: a seed replays exactly.
type loop struct {
	now    time.Time
	seq    uint64
	agenda agenda
	steps  int
}

type event struct {
	at   time.Time
	seq  uint64
	what string // for traces
	fn   func()
}

type agenda []*event

func (a agenda) Len() int { return len(a) }
func (a agenda) Less(i, j int) bool {
	if !a[i].at.Equal(a[j].at) {
		return a[i].at.Before(a[j].at)
	}
	return a[i].seq < a[j].seq
}
func (a agenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *agenda) Push(x any)   { *a = append(*a, x.(*event)) }
func (a *agenda) Pop() any {
	old := *a
	e := old[len(old)-1]
	*a = old[:len(old)-1]
	return e
}

// at schedules fn at t (never before now).
func (l *loop) at(t time.Time, what string, fn func()) {
	if t.Before(l.now) {
		t = l.now
	}
	l.seq++
	heap.Push(&l.agenda, &event{at: t, seq: l.seq, what: what, fn: fn})
}

func (l *loop) after(d time.Duration, what string, fn func()) { l.at(l.now.Add(d), what, fn) }

// next is when the next event is due (false: none is).
func (l *loop) next() (time.Time, bool) {
	if len(l.agenda) == 0 {
		return time.Time{}, false
	}
	return l.agenda[0].at, true
}

// step runs the next event; false when there is none.
func (l *loop) step() bool {
	if len(l.agenda) == 0 {
		return false
	}
	e := heap.Pop(&l.agenda).(*event)
	l.now = e.at
	l.steps++
	e.fn()
	return true
}
