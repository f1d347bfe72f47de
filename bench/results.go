package main

import (
	"time"
)

// PhaseResult is what one phase of a scenario measured on one target.
type PhaseResult struct {
	Name     string    `json:"name"`
	Users    int       `json:"users"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"` // end of sending
	Duration float64   `json:"duration_s"`

	Sent       int `json:"sent"`
	Acked      int `json:"acked"`
	NotAcked   int `json:"not_acked"` // given up after every retry: lost at the sender
	Errors     int `json:"errors"`    // non-200 answers and transport errors, retries included
	InRoom     int `json:"in_room"`
	Lost       int `json:"lost"` // acknowledged, never in a room
	Duplicates int `json:"duplicates"`
	Replied    int `json:"replied"` // agent replies that reached the Send API
	ReplyDups  int `json:"reply_duplicates"`

	Ack      Dist `json:"ack"`
	Inbound  Dist `json:"inbound"`  // webhook sent → message in the room
	Outbound Dist `json:"outbound"` // agent message → Send API call

	OfferedRate  float64 `json:"offered_per_s,omitempty"`
	AckedRate    float64 `json:"acked_per_s"`
	InboundRate  float64 `json:"inbound_per_s"`  // messages that reached a room within the window, per second
	OutboundRate float64 `json:"outbound_per_s"` // replies sent to Instagram within the window, per second

	Skipped       int64 `json:"skipped,omitempty"`
	ReplyTimeouts int64 `json:"reply_timeouts,omitempty"`

	// AllInRoom is the time from the first send until the last message was in a room.
	AllInRoom  float64   `json:"all_in_room_s,omitempty"`
	LastInRoom time.Time `json:"last_in_room,omitzero"`

	Procs map[string]ProcFigures `json:"procs,omitempty"`
}

// phaseResult summarises the messages of a phase. The rates count what happened inside
// [start, end].
func phaseResult(g *gen, name string, users int, start, end time.Time) PhaseResult {
	r := PhaseResult{Name: name, Users: users, Start: start, End: end, Duration: end.Sub(start).Seconds()}
	var ack, in, out []time.Duration
	inWin, outWin, ackWin := 0, 0, 0
	for _, m := range g.select_([]string{name}) {
		r.Sent++
		r.Errors += m.Errors
		if !m.Acked {
			r.NotAcked++
			continue
		}
		r.Acked++
		ack = append(ack, m.Ack)
		if ackAt := m.Created.Add(m.Ack); !ackAt.After(end) {
			ackWin++
		}
		if m.InRoom.IsZero() {
			r.Lost++
		} else {
			r.InRoom++
			in = append(in, max(0, m.InRoom.Sub(m.Created)))
			if !m.InRoom.Before(start) && !m.InRoom.After(end) {
				inWin++
			}
			if m.InRoom.After(r.LastInRoom) {
				r.LastInRoom = m.InRoom
			}
		}
		if m.Copies > 1 {
			r.Duplicates += m.Copies - 1
		}
		if !m.SentAt.IsZero() {
			r.Replied++
			if !m.AgentAt.IsZero() {
				out = append(out, max(0, m.SentAt.Sub(m.AgentAt)))
			}
			if !m.SentAt.Before(start) && !m.SentAt.After(end) {
				outWin++
			}
		}
		if m.SentCopies > 1 {
			r.ReplyDups += m.SentCopies - 1
		}
	}
	r.Ack, r.Inbound, r.Outbound = distOf(ack), distOf(in), distOf(out)
	if d := r.Duration; d > 0 {
		r.OfferedRate = float64(r.Sent) / d
		r.AckedRate = float64(ackWin) / d
		r.InboundRate = float64(inWin) / d
		r.OutboundRate = float64(outWin) / d
	}
	if !r.LastInRoom.IsZero() {
		r.AllInRoom = r.LastInRoom.Sub(start).Seconds()
	}
	return r
}

// cpuTotal sums the CPU seconds of the processes that make up a target (the bridge:
// worker, ingress, Temporal, PostgreSQL; the baseline: the relay).
func cpuTotal(p map[string]ProcFigures) float64 {
	s := 0.0
	for name, f := range p {
		switch name {
		case benchProc, machineName, othersName, "wall":
		default:
			s += f.CPUSeconds
		}
	}
	return s
}
