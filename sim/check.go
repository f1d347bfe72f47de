package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/identity"
	metasb "github.com/igdirect/bridge/sandbox/meta"
	rcsb "github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// The promises, checked once the world has settled (no faults for 30 hours, every room
// closed by its agent): what Rocket.Chat and Instagram show, what the runs did, and what
// they carried.

// Bounds of the invariants.
const (
	// orderWindow: deliveries Meta reorders within this are posted in the customer's order.
	orderWindow = 2 * time.Second
	// carryLimit bounds a continue-as-new input (the state carried to the next run).
	carryLimit = 512 << 10
	// Busy-loop bounds: timers and activities a run may start in any minute — beyond
	// timersPerMinute and activitiesPerMinute only as many as the signals it took in the ten
	// minutes before (a flood of messages is work with a cause: each burst's messages wait
	// the reorder window, a timer per post; a spin is work without one).
	timersPerMinute     = 60
	activitiesPerMinute = 300
	causeWindow         = 10 * time.Minute
)

// Texts of the bridge's notes the checks recognise (workflows/render.go, outbound.go).
const (
	unsentMarker = "🚫 _Unsent by the customer_"
	notDelivered = "⚠️ Not delivered to Instagram: "
	// perhapsNotDelivered: an unknown outcome nobody can settle any more (workflows/outbound.go).
	perhapsNotDelivered = "⚠️ Perhaps not delivered to Instagram: "
	sentOutside         = "📱 Sent by the business outside Rocket.Chat"
	unsentNote          = "↩️ The customer unsent"
	editedNote          = "✏️ The customer edited a message: "
	notShownMediaRe     = "not shown here"
)

// permanentReasons are the refusals of an agent's message that a fault of the world
// explains for good (the agent is told; nothing will ever send it). A refusal for another
// reason (the database was down, a timeout) broke the promise.
var permanentReasons = []string{
	"more than 7 days", "more than 24 hours", "no longer connected", "file sharing is turned off",
	"Instagram does not take", "not an accepted media type", "quick replies", "kept control of this Instagram conversation",
	"outside Instagram's messaging window", "isn't available", "the file is", "larger than the",
	"has no text of its own", "could not be read",
}

var agentMarker = regexp.MustCompile(`\ba\d{3}(\.\d+)?\b`)

// roomView is one of the customer's rooms with its messages.
type roomView struct {
	room rcsb.Room
	msgs []rcsb.Message
}

func (s *Sim) rooms() []roomView {
	token := identity.VisitorToken(visitorKey, s.cfg.Account, s.cfg.IGSID)
	var out []roomView
	for _, r := range s.rc.Rooms(token) {
		out = append(out, roomView{room: r, msgs: s.rc.Messages(r.ID)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].room.CreatedAt.Before(out[j].room.CreatedAt) })
	return out
}

func (s *Sim) check() {
	rooms := s.rooms()
	for _, r := range rooms { // what the agents saw, for the trace
		for _, m := range r.msgs {
			s.trace("room %s: %s %q (file %v, deleted %v) %s", r.room.ID, m.Username, m.Msg, m.File != nil, m.Deleted, fileName(m))
		}
	}
	s.checkCustomerMessages(rooms)
	s.checkAgentMessages(rooms)
	s.checkNotes(rooms)
	s.checkThreadControl(rooms)
	s.checkRuns()
}

// posted is where a part of a customer message is in the rooms.
type posted struct {
	room int
	msg  rcsb.Message
}

// partKey is the key of a message's part (workflows: 0 is the text).
func partKey(mid string, part int) string {
	if part == 0 {
		return mid
	}
	return fmt.Sprintf("%s#%d", mid, part)
}

// findPart finds part k of message mid: by its _id (text, link lines, media posted as a
// line), or by the uploaded file's name.
func findPart(rooms []roomView, mid string, k int) []posted {
	key := partKey(mid, k)
	id := identity.MessageID(workflows.ItemMessage, key)
	base := activities.MediaBaseName(key)
	var out []posted
	for ri, r := range rooms {
		for _, m := range r.msgs {
			if m.ID == id || m.File != nil && strings.TrimSuffix(m.File.Name, path.Ext(m.File.Name)) == base {
				out = append(out, posted{room: ri, msg: m})
			}
		}
	}
	return out
}

func (s *Sim) checkCustomerMessages(rooms []roomView) {
	action := s.cfg.settings[appsettings.UnsendAction]
	settled := s.start.Add(s.length)
	type firstPost struct {
		m     *customerMessage
		room  int
		index int
		at    time.Time
	}
	var firsts []firstPost
	for _, m := range s.truth.messages {
		if m.delivered.IsZero() {
			s.violate("lost", "customer message %s (%q) was never delivered by Meta", m.marker, m.text)
			continue
		}
		parts := m.media + m.links
		if m.text != "" || parts == 0 {
			parts++
		}
		first := 0
		if m.text == "" && parts > 0 {
			first = 1
		}
		unsent := !m.unsentDelivered.IsZero()
		for k := first; k < first+parts; k++ {
			found := findPart(rooms, m.mid, k)
			live := found[:0:0]
			for _, p := range found {
				if !p.msg.Deleted {
					live = append(live, p)
				}
			}
			switch {
			case len(found) > 1:
				var where []string
				for _, p := range found {
					where = append(where, fmt.Sprintf("%s:%s %q %s", rooms[p.room].room.ID, p.msg.ID, truncateText(p.msg.Msg, 40), fileName(p.msg)))
				}
				s.violate("exactly-once", "customer message %s part %d is in the rooms %d times: %s", m.marker, k, len(found), strings.Join(where, "; "))
			case !unsent && len(live) == 0:
				s.violate("lost", "customer message %s part %d (%q) is in no room", m.marker, k, m.text)
			}
			for _, p := range live {
				if unsent && action != "keep" && !strings.HasPrefix(p.msg.Msg, unsentMarker) && !strings.Contains(p.msg.Msg, notShownMediaRe) {
					closed := rooms[p.room].room.ClosedAt
					switch {
					case p.msg.TS.After(m.unsentDelivered):
						s.violate("unsent-shown", "customer message %s was posted as written into room %s %s after its unsend reached ingress (unsend_action %s)",
							m.marker, rooms[p.room].room.ID, p.msg.TS.Sub(m.unsentDelivered).Round(time.Millisecond), action)
					case !closed.Before(settled) && m.unsentDelivered.Before(settled):
						s.violate("unsent-shown", "customer message %s is still shown as written in room %s although its unsend reached ingress before the world settled (unsend_action %s)",
							m.marker, rooms[p.room].room.ID, action)
					}
				}
			}
			if k == first && len(live) > 0 {
				ri := live[0].room
				firsts = append(firsts, firstPost{m: m, room: ri, index: slices.IndexFunc(rooms[ri].msgs, func(x rcsb.Message) bool { return x.ID == live[0].msg.ID }),
					at: live[0].msg.TS})
			}
		}
		if !unsent && m.edits > 0 && !m.editDelivered.IsZero() && m.editDelivered.Before(settled) && m.text != "" {
			parts := findPart(rooms, m.mid, 0)
			// (A message posted late carries the time it was written after its text.)
			// (The room's text may quote the message it replies to, or the time it was
			// written when it was posted late.)
			ok := len(parts) > 0 && slices.Contains(strings.Split(parts[0].msg.Msg, "\n"), m.text)
			for _, r := range rooms {
				for _, x := range r.msgs {
					ok = ok || strings.Contains(x.Msg, editedNote+m.text)
				}
			}
			if !ok && len(parts) > 0 && !rooms[parts[0].room].room.ClosedAt.Before(settled) {
				s.violate("edit", "customer message %s shows %q, not its last edit %q", m.marker, parts[0].msg.Msg, m.text)
			}
		}
	}
	// Order: a message written before another is posted before it, unless Meta delivered
	// it more than orderWindow after the other.
	for i, x := range firsts {
		for _, y := range firsts[i+1:] {
			a, b := x, y
			if b.m.written.Before(a.m.written) {
				a, b = b, a
			}
			if a.m.delivered.Sub(b.m.delivered) > orderWindow {
				continue // a came late: it cannot take its place
			}
			if !a.m.unsentDelivered.IsZero() {
				continue // unsent: its text (and the note that it is late) is gone from the room
			}
			if (a.room > b.room || a.room == b.room && a.index > b.index) && !strings.Contains(findFirst(rooms, a.m).Msg, "before the message above") {
				s.violate("order", "customer message %s (written %s before %s) is posted after it (delivered %s apart)",
					a.m.marker, b.m.written.Sub(a.m.written).Round(time.Millisecond), b.m.marker,
					a.m.delivered.Sub(b.m.delivered).Round(time.Millisecond))
			}
		}
	}
}

// agentMessage is an agent's message in a room.
type agentMessage struct {
	room    int
	msg     rcsb.Message
	markers []string
	file    string // the file's marker (its name's prefix), "" without a file
}

func (s *Sim) checkAgentMessages(rooms []roomView) {
	isAgent := map[string]bool{}
	for _, a := range s.cfg.agents {
		isAgent[a.username] = true
	}
	var agentMsgs []agentMessage
	refused := map[string]string{}   // marker → reason
	refusedID := map[string]string{} // note _id → reason
	perhaps := map[string]bool{}     // markers the agent was told may not have been delivered
	for ri, r := range rooms {
		for _, m := range r.msgs {
			if m.Username == "bot" && strings.HasPrefix(m.Msg, perhapsNotDelivered) {
				for _, mk := range agentMarker.FindAllString(m.Msg, 1) {
					perhaps[mk] = true
				}
			}
			if m.Username == "bot" && strings.HasPrefix(m.Msg, notDelivered) {
				what, reason, _ := strings.Cut(strings.TrimPrefix(m.Msg, notDelivered), " — ")
				for _, mk := range agentMarker.FindAllString(what, 1) {
					refused[mk] = reason
				}
				refusedID[m.ID] = reason
			}
		}
		for _, m := range r.msgs {
			if !isAgent[m.Username] || m.System != "" || m.Token != "" {
				continue
			}
			text := m.Msg
			if len(m.Attachments) > 0 {
				b, _ := json.Marshal(m.Attachments)
				text += " " + string(b)
			}
			am := agentMessage{room: ri, msg: m, markers: agentMarker.FindAllString(text, -1)}
			if m.File != nil {
				am.file = agentMarker.FindString(m.File.Name)
			}
			if len(am.markers) == 0 && am.file == "" {
				continue
			}
			agentMsgs = append(agentMsgs, am)
		}
	}
	s.stats.agentMessages = len(agentMsgs)
	var ours []metasb.SentMessage
	for _, m := range s.meta.Sent(s.cfg.Account, s.cfg.IGSID) {
		if !s.truth.otherTool[m.MessageID] && m.SenderAction == "" {
			ours = append(ours, m)
		}
	}
	// Where each marker went on Instagram (index of the send), and how often.
	seen := map[string][]int{}
	for i, m := range ours {
		for _, mk := range agentMarker.FindAllString(m.Text, -1) {
			seen[mk] = append(seen[mk], i)
		}
		if len(m.Attachment) > 0 {
			if mk := agentMarker.FindString(string(m.Attachment)); mk != "" {
				seen["file:"+mk] = append(seen["file:"+mk], i)
			}
		}
	}
	last := -1
	for _, am := range agentMsgs {
		first := am.file
		if len(am.markers) > 0 {
			first = am.markers[0]
		}
		reason, wasRefused := refused[first]
		if !wasRefused {
			reason, wasRefused = s.noteWaiting(first)
		}
		if r, ok := refusedID[identity.MessageID(workflows.ItemNote, "note:refused:"+am.msg.ID)]; ok {
			reason, wasRefused = r, true
		}
		keys := append([]string(nil), am.markers...)
		if am.file != "" {
			keys = append(keys, "file:"+am.file)
		}
		sentAll, sentAny := true, false
		for _, k := range keys {
			switch n := len(seen[k]); {
			case n > 1:
				s.violate("exactly-once", "agent message %s reached Instagram %d times", k, n)
			case n == 0:
				sentAll = false
			default:
				sentAny = true
			}
		}
		switch {
		case perhaps[first]:
			// Told it may not have been delivered (its outcome could not be settled): either
			// way is the truth.
		case wasRefused:
			if sentAll {
				s.violate("told-wrong", "agent message %s reached Instagram, yet the agent was told it was not delivered (%s)", first, reason)
			}
			if !permanentReason(reason) {
				s.violate("refused-transient", "agent message %s was refused for a reason that is not final: %s", first, reason)
			}
		case !sentAll:
			s.violate("lost", "agent message %s (room %s) is not on Instagram and the agent was not told why", first, rooms[am.room].room.ID)
		}
		if sentAny && !wasRefused {
			idx := seen[keys[0]][0]
			if idx < last {
				s.violate("order", "agent message %s reached Instagram before an agent message written earlier", first)
			}
			last = max(last, idx)
		}
	}
}

func permanentReason(reason string) bool {
	for _, p := range permanentReasons {
		if strings.Contains(reason, p) {
			return true
		}
	}
	return false
}

// checkNotes: a note says a message was sent outside Rocket.Chat only for messages the
// business did send from another tool.
// Every message the business sent from another tool while the conversation ran is shown
// to the agents.
func (s *Sim) checkNotes(rooms []roomView) {
	shown := map[string]bool{}
	otherMarker := regexp.MustCompile(`\bo\d{3,}\b`)
	for _, r := range rooms {
		for _, m := range r.msgs {
			if m.Username != "bot" || !strings.Contains(m.Msg, sentOutside) {
				continue
			}
			mk := otherMarker.FindString(m.Msg)
			if mk == "" {
				s.violate("echo", "room %s says a message of ours was sent outside Rocket.Chat: %q", r.room.ID, m.Msg)
			}
			shown[mk] = true
		}
	}
	if len(rooms) == 0 {
		return
	}
	for _, m := range s.meta.Sent(s.cfg.Account, s.cfg.IGSID) {
		if s.truth.otherToolSignalled[m.MessageID] {
			if mk := otherMarker.FindString(m.Text); mk != "" && !shown[mk] {
				if _, ok := s.waitingNote(sentOutside, mk); ok {
					continue // the room had closed: the note waits for the customer's next room
				}
				s.violate("note-lost", "the business's message %s from another tool reached the conversation but no room shows it", mk)
			}
		}
	}
}

// checkThreadControl: thread control is passed to another app only while no room is open.
func (s *Sim) checkThreadControl(rooms []roomView) {
	for _, c := range s.meta.ThreadControlCalls(s.cfg.Account, s.cfg.IGSID) {
		if c.AppID != appID || c.Action != "pass" || c.Error != "" {
			continue
		}
		for _, r := range rooms {
			if r.room.CreatedAt.Before(c.At) && (r.room.Open || r.room.ClosedAt.After(c.At)) {
				s.violate("thread-control", "thread control was passed to app %s at +%s while room %s was open",
					c.TargetAppID, fmtDuration(c.At.Sub(simStart)), r.room.ID)
			}
		}
	}
}

// checkRuns: every run ended, quiet; none spun; what each carried stayed small.
func (s *Sim) checkRuns() {
	if r := s.server.open; r != nil {
		st := r.conv.State()
		v := r.conv.View()
		s.violate("stalled", "%s is still running %s after the world settled: %s, %d pending, %d to send, blocked %q/%q, room %q closed=%v",
			r.id, fmtDuration(s.loop.now.Sub(s.start.Add(s.length))), v.Status, len(st.Pending), len(st.Out), st.InBlocked.Kind, st.OutBlocked.Kind, st.RoomID, st.RoomClosed)
	}
	for _, r := range s.server.runs {
		if n, at, signals := busiestMinute(r.stats.timerStarts, r.stats.signalTimes); n > timersPerMinute+signals {
			s.violate("busy-loop", "%s started %d timers in the minute from +%s, having taken %d signals in the %s before",
				r.id, n, fmtDuration(at.Sub(simStart)), signals, causeWindow)
		}
		if n, at, signals := busiestMinute(r.stats.activityStarts, r.stats.signalTimes); n > activitiesPerMinute+signals {
			s.violate("busy-loop", "%s started %d activities in the minute from +%s, having taken %d signals in the %s before",
				r.id, n, fmtDuration(at.Sub(simStart)), signals, causeWindow)
		}
	}
	if s.stats.maxCarry > carryLimit {
		s.violate("carry", "a run continued as new with %d bytes of input (bound %d)", s.stats.maxCarry, carryLimit)
	}
}

// busiestMinute is the minute with the most activity starts beyond their cause: how many
// started in it, when it starts, and how many signals came in the causeWindow before its end.
func busiestMinute(starts, signals []time.Time) (int, time.Time, int) {
	worst, n, at, causes := math.MinInt, 0, time.Time{}, 0
	j := 0
	for i := range starts {
		for starts[i].Sub(starts[j]) >= time.Minute {
			j++
		}
		c := 0
		for _, t := range signals {
			if !t.Before(starts[j].Add(-causeWindow)) && !t.After(starts[i]) {
				c++
			}
		}
		if over := i - j + 1 - c; over > worst {
			worst, n, at, causes = over, i-j+1, starts[j], c
		}
	}
	return n, at, causes
}

// maxPerMinute is the most events in any minute, and when that minute starts.
func maxPerMinute(ts []time.Time) (int, time.Time) {
	best, at, j := 0, time.Time{}, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Minute {
			j++
		}
		if n := i - j + 1; n > best {
			best, at = n, ts[j]
		}
	}
	return best, at
}

// findFirst is the room message of a customer message's first part.
func findFirst(rooms []roomView, m *customerMessage) rcsb.Message {
	for k := 0; k <= m.media+m.links; k++ {
		if p := findPart(rooms, m.mid, k); len(p) > 0 {
			return p[0].msg
		}
	}
	return rcsb.Message{}
}

// fileName is the name of a room message's file, for the trace ("" without one).
func fileName(m rcsb.Message) string {
	if m.File == nil {
		return ""
	}
	return m.File.Name
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
