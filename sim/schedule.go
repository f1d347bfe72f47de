package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/workflows"
)

// A schedule is what happens to one conversation, drawn from a seed: the customer writing
// (in bursts and gaps, with attachments, quick replies, unsends, edits, reactions), agents
// answering (text, long, buttons, files), closing and forwarding rooms, the business
// writing from another tool, and the faults of the world (outages, a dead token, an
// account disconnected, a department missing, the thread taken by another app, no agent
// online, settings changed). Activity outcomes, delivery delays and webhook losses are
// drawn while it runs. A failing schedule shrinks to the actions it needs.

// action is one step of a schedule.
type action struct {
	At   time.Duration // from the start
	Kind string
	N    int           // a count, or how far back its target is
	Opt  string        // a variant
	For  time.Duration // how long a fault lasts
}

func (a action) String() string {
	s := fmt.Sprintf("%s %s", fmtDuration(a.At), a.Kind)
	if a.Opt != "" {
		s += " " + a.Opt
	}
	if a.N != 0 {
		s += fmt.Sprintf(" n=%d", a.N)
	}
	if a.For != 0 {
		s += " for " + fmtDuration(a.For)
	}
	return s
}

func fmtDuration(d time.Duration) string {
	return d.Truncate(time.Millisecond).String()
}

// Action kinds.
const (
	actWrite      = "write"   // the customer writes (Opt: kind of message)
	actUnsend     = "unsend"  // the customer unsends their N-th latest message
	actEdit       = "edit"    // the customer edits their N-th latest message
	actReact      = "react"   // the customer reacts (Opt ours: to our N-th latest message)
	actSeen       = "seen"    // the customer sees our messages
	actFlood      = "flood"   // the customer (or a script) sends N messages in a few minutes
	actReply      = "reply"   // the room's agent writes (Opt: kind of message)
	actClose      = "close"   // the agent closes the room
	actForward    = "forward" // the room goes to another agent
	actOtherTool  = "other-tool"
	actDown       = "down"  // Opt service down (refused, timeouts, 5xx) For a while
	actSlow       = "slow"  // Opt service slow
	actFlaky      = "flaky" // Opt service failing often
	actHooksLost  = "webhooks-lost"
	actTokenDead  = "token-dead"
	actDisconnect = "disconnect"
	actDeptGone   = "department-missing"
	actDeptChange = "department-change"
	actThread     = "thread-taken"
	actNoAgents   = "no-agents"
	actSetting    = "setting" // Opt key=value
)

// config is a seed's world: the page, its settings, the agents, the bridge's tunables, and
// how rough the world is.
type config struct {
	Account, PageID, IGSID string
	token                  string
	department             string
	departments            []department
	agents                 []agent
	welcome, offline       string
	finished               string
	settings               map[string]string
	wfSettings             workflows.Settings
	profile                profile
	// lateDeliveries: share of Meta deliveries seconds late (they overtake others);
	// redeliveries: share delivered once more, up to hours later; lostWebhooks: share of
	// Omnichannel webhooks Rocket.Chat gives up on.
	lateDeliveries, redeliveries, lostWebhooks float64
}

type department struct{ id, name string }

type agent struct{ username, name, dept string }

// generate draws a seed's world and schedule over length.
func generate(seed uint64, length time.Duration) (config, []action) {
	g := newRNG(seed, "schedule")
	c := config{
		Account: "17841400000000001", PageID: "100000000000001", IGSID: "1000000000000001",
		token: "EAAGsimtoken0", department: "sales",
		departments: []department{{"D-sales", "sales"}, {"D-support", "support"}},
		agents:      []agent{{"ana", "Ana Souza", "D-sales"}, {"bob", "Bob Lima", "D-sales"}, {"carla", "Carla Reis", "D-support"}},
		settings:    map[string]string{},
	}
	if g.chance(0.8) {
		c.welcome = "Hi! An agent will be with you shortly."
	}
	if g.chance(0.7) {
		c.offline = "We are offline now; we answer as soon as we are back."
	}
	if g.chance(0.7) {
		c.finished = "Thanks for writing to us!"
	}
	c.settings[appsettings.UnsendAction] = []string{"delete", "mark", "keep"}[g.pick(3)]
	c.settings[appsettings.AgentDisplayName] = []string{"name", "username", "none"}[g.pick(3)]
	if g.chance(0.15) {
		c.settings[appsettings.FileUploadEnabled] = "false"
	}
	if g.chance(0.3) {
		c.settings[appsettings.PassBackAppID] = inboxApp
		c.settings[appsettings.HandoverAction] = "take"
	} else if g.chance(0.3) {
		c.settings[appsettings.HandoverAction] = []string{"take", "request"}[g.pick(2)]
	}
	c.wfSettings = workflows.Settings{CloseLinger: g.between(30*time.Second, 5*time.Minute), ReauthRetry: time.Minute,
		ReorderWindow: []time.Duration{0, 2 * time.Second}[g.pick(2)]} // off, or REORDER_WINDOW's default
	switch g.pick(3) {
	case 0: // calm
		c.profile = profile{transient: 0.002, unknown: 0.001, lostBefore: 0.001, crash: 0.001, slow: 0.005}
	case 1:
		c.profile = profile{transient: 0.02, unknown: 0.01, lostBefore: 0.01, crash: 0.01, slow: 0.02}
	default: // stormy
		c.profile = profile{transient: 0.06, unknown: 0.03, lostBefore: 0.02, crash: 0.03, slow: 0.05}
	}
	c.lateDeliveries = []float64{0, 0.05, 0.2}[g.pick(3)]
	c.redeliveries = []float64{0, 0.02, 0.08}[g.pick(3)]
	c.lostWebhooks = []float64{0, 0.05, 0.25}[g.pick(3)]

	var acts []action
	add := func(at time.Duration, kind, opt string, n int, dur time.Duration) {
		if at < length {
			acts = append(acts, action{At: at, Kind: kind, Opt: opt, N: n, For: dur})
		}
	}
	writes := []string{"", "", "", "", "", "image", "video", "file", "share", "story", "qr", "reply", "postback", "long", "emoji"}
	replies := []string{"", "", "", "", "", "", "", "long", "buttons", "file", "two", "two", "attach", "odd"}
	for t := time.Duration(0); t < length; {
		burst := 1 + g.pick(3)
		if g.chance(0.2) {
			burst += 2 + g.pick(5)
		}
		at := t
		for i := 0; i < burst; i++ {
			add(at, actWrite, writes[g.pick(len(writes))], 0, 0)
			at += g.between(300*time.Millisecond, 4*time.Second)
		}
		if g.chance(0.12) {
			add(at+g.between(time.Second, 90*time.Second), actUnsend, "", 1+g.pick(2), 0)
		}
		if g.chance(0.08) {
			add(at+g.between(time.Second, 60*time.Second), actEdit, "", 1+g.pick(2), 0)
		}
		if g.chance(0.1) {
			add(at+g.between(time.Second, 60*time.Second), actReact, []string{"", "ours"}[g.pick(2)], 1+g.pick(2), 0)
		}
		if g.chance(0.1) {
			add(at+g.between(time.Second, 30*time.Second), actSeen, "", 0, 0)
		}
		if g.chance(0.85) {
			rt := at + g.between(2*time.Second, 90*time.Second)
			for k := 1 + g.pick(2); k > 0; k-- {
				add(rt, actReply, replies[g.pick(len(replies))], 0, 0)
				rt += g.between(time.Second, 40*time.Second)
			}
			if g.chance(0.2) {
				add(rt+g.between(5*time.Second, 10*time.Minute), actClose, "", 0, 0)
			}
		}
		if g.chance(0.04) {
			add(at+g.between(time.Second, 5*time.Minute), actForward, "", 0, 0)
		}
		if g.chance(0.05) {
			add(at+g.between(time.Second, 5*time.Minute), actOtherTool, "", 0, 0)
		}
		switch r := g.Float64(); {
		case r < 0.65:
			t = at + g.between(5*time.Second, 3*time.Minute)
		case r < 0.95:
			t = at + g.between(3*time.Minute, 30*time.Minute)
		default:
			t = at + g.between(30*time.Minute, 4*time.Hour)
		}
	}
	if g.chance(0.03) {
		at := g.between(0, length/2)
		add(at, actNoAgents, "", 0, g.between(20*time.Minute, 2*time.Hour))
		add(at+time.Minute, actFlood, "", 1100+g.pick(1500), 0)
	}
	faultKinds := []string{actDown, actDown, actSlow, actFlaky, actHooksLost, actTokenDead, actDisconnect, actDeptGone,
		actDeptChange, actThread, actThread, actNoAgents, actNoAgents, actSetting}
	services := []string{svcRC, svcMeta, svcDB, svcCDN}
	for n := g.pick(7); n > 0; n-- {
		kind := faultKinds[g.pick(len(faultKinds))]
		at := g.between(0, length)
		dur := g.between(10*time.Second, 30*time.Minute)
		opt := ""
		switch kind {
		case actDown, actSlow, actFlaky:
			opt = services[g.pick(len(services))]
		case actNoAgents:
			dur = g.between(time.Minute, 3*time.Hour)
		case actSetting:
			opt = []string{appsettings.AgentDisplayName + "=username", appsettings.AgentDisplayName + "=none",
				appsettings.FileUploadEnabled + "=false", appsettings.HumanAgentTag + "=false"}[g.pick(4)]
		}
		add(at, kind, opt, 0, dur)
	}
	sortActions(acts)
	return c, acts
}

func sortActions(acts []action) {
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].At < acts[j].At })
}

// describe lists a schedule, one action a line.
func describe(acts []action, keep []int) string {
	var b strings.Builder
	for _, i := range keep {
		fmt.Fprintf(&b, "  #%d %s\n", i, acts[i])
	}
	return b.String()
}
