package sim

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/workflows"
)

// The monitor watches the promise that nothing stalls while the simulation runs: a
// customer who wrote gets a room as soon as an agent of the page's department is online,
// and an agent's message reaches Instagram, once the world has been free of faults for
// longer than the conversation's longest back-off. (The checks after the schedule see only
// the end; a conversation that waits hours too long ends well.)

// stallAfter: how long something may wait once nothing stands in its way (the longest
// back-off of a blocked conversation is 10 minutes, of an agent check 5).
const stallAfter = 15 * time.Minute

// monitorEvery is how often the monitor looks.
const monitorEvery = 2 * time.Minute

// faultBegins and faultEnds track the faults that stand in a conversation's way.
func (s *Sim) faultBegins(kind string) { s.active[kind]++ }

func (s *Sim) faultEnds(kind string) {
	if s.active[kind] > 0 {
		s.active[kind]--
	}
	s.lastFaultEnd = s.loop.now
}

// quietSince is since when no fault stands in the way (false: one does now). Agents being
// away is not one: the monitor asks Rocket.Chat whether an agent is online.
func (s *Sim) quietSince() (time.Time, bool) {
	for kind, n := range s.active {
		switch {
		case n == 0, kind == actNoAgents, kind == actSetting:
		case kind == actThread && s.cfg.settings[appsettings.HandoverAction] == "take":
			// The bridge takes the thread back before it sends.
		default:
			return time.Time{}, false
		}
	}
	since := s.lastFaultEnd
	now := s.loop.now
	for _, w := range s.faults.windows {
		if !now.Before(w.from) && now.Before(w.to) {
			return time.Time{}, false
		}
		if !w.to.After(now) && w.to.After(since) {
			since = w.to
		}
	}
	return since, true
}

// agentOnline reports whether an agent of the page's current department is available.
func (s *Sim) agentOnline() bool {
	dept := s.store.pages[s.cfg.Account].page.Department
	var id string
	for _, d := range s.cfg.departments {
		if d.name == dept {
			id = d.id
		}
	}
	for _, a := range s.rc.Agents() {
		if a.Available && slices.Contains(a.Departments, id) {
			return true
		}
	}
	return false
}

func (s *Sim) startMonitor() {
	var tick func()
	tick = func() {
		s.monitor()
		if s.loop.now.Before(s.end.Add(-time.Hour)) {
			s.loop.after(monitorEvery, "monitor", tick)
		}
	}
	s.loop.after(monitorEvery, "monitor", tick)
}

func (s *Sim) monitor() {
	now := s.loop.now
	if s.aborted {
		return
	}
	online := s.agentOnline()
	if online && s.onlineSince.IsZero() {
		s.onlineSince = now
	} else if !online {
		s.onlineSince = time.Time{}
	}
	quiet, ok := s.quietSince()
	if !ok {
		return
	}
	s.monitorCustomer(now, quiet)
	s.monitorAgent(now, quiet)
}

// monitorCustomer: the customer's latest message waits for a room although an agent is
// online.
func (s *Sim) monitorCustomer(now, quiet time.Time) {
	if s.onlineSince.IsZero() || s.stalledCustomer {
		return
	}
	var last *customerMessage
	for _, m := range s.truth.messages {
		if !m.delivered.IsZero() && m.unsentAt.IsZero() && (last == nil || m.delivered.After(last.delivered)) {
			last = m
		}
	}
	if last == nil {
		return
	}
	since := maxTime(maxTime(last.delivered, quiet), s.onlineSince)
	if now.Sub(since) < stallAfter {
		return
	}
	token := identity.VisitorToken(visitorKey, s.cfg.Account, s.cfg.IGSID)
	rooms := s.rc.Rooms(token)
	for _, r := range rooms {
		if r.CreatedAt.After(last.delivered) || r.Open || r.ClosedAt.After(last.delivered) {
			return // it had a room (whether its message is in it, the final checks tell)
		}
	}
	s.stalledCustomer = true
	s.violate("stalled", "the customer wrote %s at +%s and waits for a room %s later, although agents of department %q have been online for %s",
		last.marker, fmtDuration(last.delivered.Sub(simStart)), now.Sub(last.delivered).Round(time.Second),
		s.store.pages[s.cfg.Account].page.Department, now.Sub(s.onlineSince).Round(time.Second))
}

// monitorAgent: an agent's message is neither on Instagram nor refused long after it was
// written, with nothing in its way.
func (s *Sim) monitorAgent(now, quiet time.Time) {
	if s.stalledAgent || len(s.truth.agent) == 0 {
		return
	}
	if s.active[actThread] > 0 && s.cfg.settings[appsettings.HandoverAction] != "take" {
		return
	}
	var w *agentWrite
	for i := len(s.truth.agent) - 1; i >= 0; i-- {
		if now.Sub(maxTime(s.truth.agent[i].at, quiet)) >= stallAfter {
			w = &s.truth.agent[i]
			break
		}
	}
	if w == nil || s.agentDone[w.marker] {
		return
	}
	for _, m := range s.meta.Sent(s.cfg.Account, s.cfg.IGSID) {
		if strings.Contains(m.Text, w.marker) || strings.Contains(string(m.Attachment), w.marker) {
			s.agentDone[w.marker] = true
			return
		}
	}
	note := identity.MessageID(workflows.ItemNote, "note:refused:"+w.id)
	for _, r := range s.rooms() { // the note may be in the customer's next room (its own had closed)
		for _, m := range r.msgs {
			if m.ID == note || m.Username == "bot" && (strings.HasPrefix(m.Msg, notDelivered) || strings.HasPrefix(m.Msg, perhapsNotDelivered)) &&
				strings.Contains(m.Msg, w.marker) {
				s.agentDone[w.marker] = true
				return
			}
		}
	}
	if _, ok := s.noteWaiting(w.marker); ok {
		s.agentDone[w.marker] = true
		return
	}
	s.stalledAgent = true
	s.violate("stalled", "agent message %s written at +%s is not on Instagram %s later, and the agent was not told why",
		w.marker, fmtDuration(w.at.Sub(simStart)), now.Sub(w.at).Round(time.Second))
}

// noteWaiting: a "not delivered" note about the agent message marked so is kept for the
// customer's next room (its own room closed before Rocket.Chat could show it: a closed
// room takes no messages) — the agent is told there.
func (s *Sim) noteWaiting(marker string) (string, bool) {
	text, ok := s.waitingNote(notDelivered, marker)
	_, reason, _ := strings.Cut(text, " — ")
	return reason, ok
}

// waitingNote is the note beginning with prefix and naming marker that the conversation's
// memory keeps for the customer's next room, if any.
func (s *Sim) waitingNote(prefix, marker string) (string, bool) {
	for _, raw := range s.store.notes {
		var notes []struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(raw, &notes) != nil {
			continue
		}
		for _, n := range notes {
			if strings.HasPrefix(n.Text, prefix) && strings.Contains(n.Text, marker) {
				return n.Text, true
			}
		}
	}
	return "", false
}
