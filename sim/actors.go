package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/igdirect/bridge/identity"
	metasb "github.com/igdirect/bridge/sandbox/meta"
	rcsb "github.com/igdirect/bridge/sandbox/rocketchat"
)

// The people of a schedule: the customer, the agents, the business on another tool, and
// the admins (who fix what breaks). Each action is carried out on the emulators, which
// then send their webhooks; actions that cannot apply (an agent reply with no room open)
// do nothing.

// apply carries out action i of the schedule.
func (s *Sim) apply(i int, a action) {
	s.trace("action #%d %s", i, a)
	switch a.Kind {
	case actWrite:
		s.customerWrites(a.Opt)
	case actFlood:
		for k := 0; k < a.N; k++ {
			s.loop.after(time.Duration(k)*150*time.Millisecond, "flood", func() { s.customerWrites("") })
		}
	case actUnsend:
		if m := s.recentCustomerMessage(a.N); m != nil {
			m.unsentAt = s.loop.now
			s.meta.UserUnsends(s.cfg.Account, s.cfg.IGSID, m.mid)
		}
	case actEdit:
		if m := s.recentCustomerMessage(a.N); m != nil && m.text != "" {
			m.edits++
			m.text = fmt.Sprintf("%s (edit %d)", m.marker, m.edits)
			m.editedAt, m.editDelivered = s.loop.now, time.Time{}
			s.meta.UserEvent(s.cfg.Account, s.cfg.IGSID, "message_edit", map[string]any{"mid": m.mid, "text": m.text, "num_edit": m.edits})
		}
	case actReact:
		mid := ""
		if a.Opt == "ours" {
			sent := s.meta.Sent(s.cfg.Account, s.cfg.IGSID)
			if k := len(sent) - a.N; k >= 0 && sent[k].MessageID != "" {
				mid = sent[k].MessageID
			}
		} else if m := s.recentCustomerMessage(a.N); m != nil {
			mid = m.mid
		}
		if mid != "" {
			s.meta.UserReacts(s.cfg.Account, s.cfg.IGSID, mid, []string{"love", "like", "wow", ""}[s.pick("react", 4)])
		}
	case actSeen:
		if sent := s.meta.Sent(s.cfg.Account, s.cfg.IGSID); len(sent) > 0 {
			s.meta.UserSeen(s.cfg.Account, s.cfg.IGSID, sent[len(sent)-1].MessageID)
		}
	case actReply:
		s.agentWrites(a.Opt)
	case actClose:
		if r, ok := s.openRoom(); ok {
			s.closeRoom(r)
		}
	case actForward:
		if r, ok := s.openRoom(); ok {
			for _, ag := range s.cfg.agents {
				if ag.username != r.ServedBy && s.rc.Forward(r.ID, ag.username) == nil {
					break
				}
			}
		}
	case actOtherTool:
		s.otherToolSends()
	case actDown, actSlow, actFlaky:
		mode := map[string]string{actDown: "down", actSlow: "slow", actFlaky: "flaky"}[a.Kind]
		s.faults.windows = append(s.faults.windows, window{svc: a.Opt, from: s.loop.now, to: s.loop.now.Add(a.For), mode: mode})
	case actHooksLost:
		s.faults.windows = append(s.faults.windows, window{svc: "webhooks", from: s.loop.now, to: s.loop.now.Add(a.For), mode: "lost"})
	case actTokenDead:
		s.meta.InvalidateToken(s.cfg.token, 460)
		s.repair(a, "token renewed", s.renewToken)
	case actDisconnect:
		row := s.store.pages[s.cfg.Account]
		row.token = "" // uninstalled: the token is gone
		s.repair(a, "account connected again", func() {
			s.renewToken()
			s.wake("account connected")
		})
	case actDeptGone:
		row := s.store.pages[s.cfg.Account]
		if row.page.Department != "ghost-department" { // not while an earlier one lasts: its fix is the fix
			s.deptBefore = row.page.Department
		}
		row.page.Department = "ghost-department"
		s.repair(a, "department fixed", func() {
			row.page.Department = s.deptBefore // an admin fixes it to a real department
			s.wake("page edited")
		})
	case actDeptChange:
		row := s.store.pages[s.cfg.Account]
		if row.page.Department == "sales" {
			row.page.Department = "support"
		} else {
			row.page.Department = "sales"
		}
		s.wake("page edited")
	case actThread:
		if err := s.meta.OtherAppTakes(s.cfg.Account, s.cfg.IGSID, otherApp, "other-app"); err == nil {
			s.repair(a, "thread given back", func() {
				_ = s.meta.OtherAppPasses(s.cfg.Account, s.cfg.IGSID, otherApp, appID, "done")
			})
		}
	case actNoAgents:
		// The agents of the page's department go home.
		dept := s.store.pages[s.cfg.Account].page.Department
		var away []string
		for _, ag := range s.cfg.agents {
			if s.deptName(ag.dept) == dept {
				away = append(away, ag.username)
				s.rc.SetAgentAvailable(ag.username, false)
			}
		}
		s.repair(a, "agents back", func() {
			for _, u := range away {
				s.rc.SetAgentAvailable(u, true)
			}
		})
	case actSetting:
		k, v, _ := strings.Cut(a.Opt, "=")
		was, had := s.store.settings[k]
		s.store.settings[k] = v
		s.repair(a, "setting back", func() {
			if had {
				s.store.settings[k] = was
			} else {
				delete(s.store.settings, k)
			}
		})
	}
}

// repair schedules the end of a fault, at the latest when the schedule ends.
func (s *Sim) repair(a action, what string, fix func()) {
	at := s.loop.now.Add(a.For)
	if end := s.start.Add(s.length); at.After(end) {
		at = end
	}
	s.repairs++
	s.faultBegins(a.Kind)
	s.loop.at(at, what, func() {
		s.trace("repair: %s", what)
		s.repairs--
		fix()
		s.faultEnds(a.Kind)
	})
}

// renewToken is an admin authorizing the account again: a new token at Meta and in the
// store, and a wake for the conversations waiting for it.
func (s *Sim) renewToken() {
	s.tokens++
	s.cfg.token = fmt.Sprintf("EAAGsimtoken%d", s.tokens)
	s.meta.AddPage(metasb.Page{PageID: s.cfg.PageID, IGAccountID: s.cfg.Account, Username: "casa.sim", Name: "Casa Sim",
		AccessToken: s.cfg.token})
	row := s.store.pages[s.cfg.Account]
	row.token = s.cfg.token
	row.page.NeedsReauth = false
	s.wake("account authorized")
}

func (s *Sim) pick(purpose string, n int) int {
	s.picks++
	return newRNG(s.seed, fmt.Sprintf("%s/%d", purpose, s.picks)).pick(n)
}

// recentCustomerMessage is the customer's n-th latest message not unsent (1: the latest).
func (s *Sim) recentCustomerMessage(n int) *customerMessage {
	for i := len(s.truth.messages) - 1; i >= 0; i-- {
		m := s.truth.messages[i]
		if !m.unsentAt.IsZero() || m.mid == "" {
			continue
		}
		if n--; n <= 0 {
			return m
		}
	}
	return nil
}

// customerWrites is the customer sending a message of kind opt.
func (s *Sim) customerWrites(opt string) {
	s.seq++
	marker := fmt.Sprintf("c%03d", s.seq)
	m := &customerMessage{marker: marker, written: s.loop.now}
	msg := map[string]any{}
	text := marker + " " + words(s.seq, 3+s.seq%9)
	switch opt {
	case "image", "video", "file", "story":
		att := metasb.Media{Type: opt, Data: []byte(marker + strings.Repeat(".", 200))}
		switch opt {
		case "image":
			att.ContentType = "image/jpeg"
		case "video":
			att.ContentType = "video/mp4"
		case "file":
			att.ContentType, att.Name = "application/pdf", marker+".pdf"
		case "story":
			att.Type, att.ContentType = "story_mention", "image/jpeg"
		}
		payload, _ := s.meta.NewMediaAttachment(att)
		msg["attachments"] = []any{payload}
		m.media = 1
		if s.seq%2 == 0 {
			text = "" // media alone
		}
	case "share":
		msg["attachments"] = []any{map[string]any{"type": "share", "payload": map[string]any{"url": "https://www.instagram.com/p/" + marker}}}
		m.links = 1
	case "qr":
		msg["quick_reply"] = map[string]any{"payload": "QR_" + marker}
		m.quickReply = "QR_" + marker
	case "reply":
		if prev := s.recentCustomerMessage(1); prev != nil {
			msg["reply_to"] = map[string]any{"mid": prev.mid}
		}
	case "long":
		text = marker + " " + words(s.seq, 220)
	case "emoji":
		text = marker + " 👋🏽 Olá, ça va? Привет 🙂"
	case "postback":
		s.meta.UserEvent(s.cfg.Account, s.cfg.IGSID, "postback", map[string]any{"mid": "pb-" + marker, "title": marker + " Get started", "payload": "START"})
		return
	}
	if text != "" {
		msg["text"] = text
	}
	m.text = text
	m.mid = s.meta.UserSends(s.cfg.Account, s.cfg.IGSID, msg)
	s.truth.messages = append(s.truth.messages, m)
	s.truth.byMID[m.mid] = m
}

// words is some text to say.
func words(seed, n int) string {
	vocab := []string{"hello", "order", "delivery", "size", "colour", "price", "tomorrow", "please", "thanks",
		"question", "return", "exchange", "shoes", "blue", "medium", "when", "where", "status", "invoice", "gift"}
	out := make([]string, n)
	for i := range out {
		out[i] = vocab[(seed*7+i*13)%len(vocab)]
	}
	return strings.Join(out, " ")
}

// openRoom is the customer's open room in Rocket.Chat, if any.
func (s *Sim) openRoom() (rcsb.Room, bool) {
	for _, r := range s.rc.Rooms(identity.VisitorToken(visitorKey, s.cfg.Account, s.cfg.IGSID)) {
		if r.Open {
			return r, true
		}
	}
	return rcsb.Room{}, false
}

func (s *Sim) closeRoom(r rcsb.Room) {
	agentName := r.ServedBy
	if agentName == "" {
		agentName = s.cfg.agents[0].username
	}
	if err := s.rc.CloseRoom(r.ID, agentName, ""); err == nil {
		s.truth.closes = append(s.truth.closes, roomClose{room: r.ID, at: s.loop.now})
	}
}

// agentWrites is the agent of the open room writing a message of kind opt.
func (s *Sim) agentWrites(opt string) {
	r, ok := s.openRoom()
	if !ok || r.ServedBy == "" {
		return
	}
	s.seq++
	marker := fmt.Sprintf("a%03d", s.seq)
	agentName := r.ServedBy
	switch opt {
	case "long":
		var b strings.Builder
		for k := 1; b.Len() < 2600; k++ {
			fmt.Fprintf(&b, "%s.%d %s. ", marker, k, words(s.seq+k, 25))
		}
		s.send(r, marker, func() (rcsb.Message, error) { return s.rc.AgentSend(r.ID, agentName, strings.TrimSpace(b.String())) })
	case "buttons":
		s.send(r, marker, func() (rcsb.Message, error) {
			return s.rc.AgentSend(r.ID, agentName, marker+" which size? [[Small]] [[Medium]] [[Large|SIZE_L]]")
		})
	case "file":
		text := ""
		if s.seq%2 == 0 {
			text = marker + " here is the invoice"
		}
		s.send(r, marker, func() (rcsb.Message, error) {
			return s.rc.AgentSendFile(r.ID, agentName, rcsb.File{Name: marker + "-invoice.pdf", Type: "application/pdf",
				Data: append([]byte("%PDF-1.4 "), bytes.Repeat([]byte(marker), 50)...)}, text)
		})
	case "two":
		// A second message right after the first (a human types it: not in the same
		// millisecond, which would leave Rocket.Chat's order undefined).
		s.send(r, marker, func() (rcsb.Message, error) { return s.rc.AgentSend(r.ID, agentName, marker+" one moment") })
		s.seq++
		second := fmt.Sprintf("a%03d", s.seq)
		at := s.loop.now.Add(newRNG(s.seed, "two/"+marker).between(100*time.Millisecond, 3*time.Second))
		s.loop.at(at, "second reply", func() {
			if r2, ok := s.openRoom(); ok && r2.ID == r.ID && r2.ServedBy != "" {
				s.send(r2, second, func() (rcsb.Message, error) { return s.rc.AgentSend(r.ID, r2.ServedBy, second+" "+words(s.seq, 6)) })
			}
		})
	case "attach":
		// A quote of the customer's message, with no text of its own.
		s.send(r, marker, func() (rcsb.Message, error) {
			return s.rc.AgentSendAttachments(r.ID, agentName, "", []any{map[string]any{
				"text": marker + " quoted: " + words(s.seq, 5), "author_name": "maria.cliente", "message_link": "https://" + hostRC + "/live/" + r.ID}})
		})
	case "odd":
		// A message with a field of a shape this client does not know.
		s.send(r, marker, func() (rcsb.Message, error) {
			return s.rc.AgentSendOdd(r.ID, agentName, marker+" "+words(s.seq, 5), map[string]any{"file": "legacy-reference"})
		})
	default:
		s.send(r, marker, func() (rcsb.Message, error) {
			return s.rc.AgentSend(r.ID, agentName, marker+" "+words(s.seq, 4+s.seq%7))
		})
	}
}

// otherToolSends is the business answering from the Instagram app: Meta takes the message
// and echoes it like ours.
func (s *Sim) otherToolSends() {
	s.seq++
	body, _ := json.Marshal(map[string]any{"recipient": map[string]string{"id": s.cfg.IGSID},
		"message": map[string]string{"text": fmt.Sprintf("o%03d sent from the Instagram app", s.seq)}})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost,
		"https://"+hostGraph+"/"+simVersion+"/"+s.cfg.PageID+"/messages?access_token="+s.cfg.token, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var out struct {
		MessageID string `json:"message_id"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) == nil && out.MessageID != "" {
		s.truth.otherTool[out.MessageID] = true
	}
}

// settle ends the schedule's troubles: no more faults, every agent online, and later
// every room closed, so that whatever the bridge still owes must now get done.
func (s *Sim) settle() {
	s.calm = true
	s.trace("settle: faults off")
	for _, ag := range s.cfg.agents {
		s.rc.SetAgentAvailable(ag.username, true)
	}
	var closeRooms func()
	closeRooms = func() {
		if r, ok := s.openRoom(); ok {
			s.trace("settle: room %s closed", r.ID)
			s.closeRoom(r)
		}
		if s.loop.now.Before(s.end.Add(-time.Hour)) {
			s.loop.after(20*time.Minute, "close every room", closeRooms)
		}
	}
	s.loop.after(20*time.Minute, "close every room", closeRooms)
}

// send posts an agent message and records it (its marker and id).
func (s *Sim) send(r rcsb.Room, marker string, post func() (rcsb.Message, error)) {
	if m, err := post(); err == nil {
		s.truth.agent = append(s.truth.agent, agentWrite{marker: marker, at: s.loop.now, room: r.ID, id: m.ID})
	}
}

func (s *Sim) deptName(id string) string {
	for _, d := range s.cfg.departments {
		if d.id == id {
			return d.name
		}
	}
	return ""
}
