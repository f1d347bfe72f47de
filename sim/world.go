package sim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/ingress"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/cdnfetch"
	"github.com/igdirect/bridge/mediaurl"
	"github.com/igdirect/bridge/rocketchat"
	metasb "github.com/igdirect/bridge/sandbox/meta"
	rcsb "github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// The world around the bridge: Rocket.Chat and Meta (the sandbox emulators, in their
// deterministic mode, on the simulated clock), PostgreSQL (memStore), the network between
// them (transport), and ingress's part in a conversation (turning deliveries into
// signals, with the same functions ingress uses).

// world's fixed names.
const (
	appID      = "910000000000001"  // our Meta app
	otherApp   = "263902037430900"  // another app that takes the thread
	inboxApp   = "1217981644879628" // Meta's inbox, where control goes back on close
	botUserID  = "bot-user-id"
	botToken   = "bot-auth-token"
	appSecret  = "sim-app-secret-0123456789abcdef0123456789"
	simVersion = "v23.0"
)

var (
	visitorKey = bytes.Repeat([]byte{7}, 32)
	mediaKey   = bytes.Repeat([]byte{9}, 32)
)

// worldNow is the world's clock: the running attempt's (its calls take time), or the
// loop's.
func (s *Sim) worldNow() time.Time {
	if s.exec != nil && s.exec.current != nil {
		return s.exec.current.now()
	}
	return s.loop.now
}

// buildWorld sets up the emulators, the store, the transport and the activities.
func (s *Sim) buildWorld() error {
	s.rc = rcsb.New(rcsb.Options{
		OnAgentMessage: true, OnClose: true, OnTaken: true, OnForward: true,
		WebhookURL: "https://" + hostBridge + "/webhooks/rocketchat", WebhookSecret: "sim-webhook-secret",
		BotUserID: botUserID, BotAuthToken: botToken,
		SiteURL: "https://" + hostRC,
		Now:     s.worldNow, Random: newRNG(s.seed, "ids/rocketchat"),
		WebhookSink: func(d rcsb.WebhookDelivery) { s.rcOutbox = append(s.rcOutbox, d) },
	})
	s.rc.SetRequireCloseComment(false)
	for _, d := range s.cfg.departments {
		s.rc.AddDepartment(d.id, d.name, "")
	}
	for _, a := range s.cfg.agents {
		s.rc.AddAgent(rcsb.Agent{Username: a.username, Name: a.name, Departments: []string{a.dept}, Available: true})
	}

	tr := &transport{sim: s, routes: map[string]http.Handler{}, service: map[string]string{
		hostRC: svcRC, hostGraph: svcMeta, hostCDN: svcCDN, hostBridge: svcBridge}}
	s.transport = tr
	mediaClient := &http.Client{Transport: tr}
	s.meta = metasb.New(metasb.Options{AppID: appID, AppSecret: appSecret, Random: newRNG(s.seed, "ids/meta"),
		MediaHTTPClient: mediaClient})
	s.meta.SetNow(s.worldNow)
	s.meta.SetPublicURL("https://" + hostCDN)
	s.meta.AddPage(metasb.Page{PageID: s.cfg.PageID, IGAccountID: s.cfg.Account, Username: "casa.sim", Name: "Casa Sim",
		AccessToken: s.cfg.token})
	s.meta.AddUser(s.cfg.Account, metasb.User{IGSID: s.cfg.IGSID, Name: "Maria Cliente", Username: "maria.cliente"})
	s.meta.SetConversationRouting(s.cfg.Account, true)
	s.meta.SetTakeoverAllowed(s.cfg.Account, true)

	tr.routes[hostRC] = s.rc.Handler()
	tr.routes[hostGraph] = s.meta.Handler()
	tr.routes[hostCDN] = s.meta.Handler()
	tr.routes[hostBridge] = http.HandlerFunc(s.serveBridgeMedia)

	s.store = newMemStore(s)
	s.store.pages[s.cfg.Account] = &pageRow{token: s.cfg.token, page: store.Page{
		PageID: s.cfg.PageID, IGAccountID: s.cfg.Account, IGUsername: "casa.sim", Name: "Casa Sim", Subscribed: true,
		Department: s.cfg.department, WelcomeMessage: s.cfg.welcome, FinishedMessage: s.cfg.finished, OfflineMessage: s.cfg.offline}}
	for k, v := range s.cfg.settings {
		s.store.settings[k] = v
	}

	hc := &http.Client{Transport: tr}
	cdn, err := cdnfetch.New(cdnfetch.Options{Transport: tr})
	if err != nil {
		return err
	}
	s.acts = &activities.Activities{
		Store:      s.store,
		RC:         rocketchat.NewClient("https://"+hostRC, botUserID, botToken, hc),
		IG:         instagram.NewClient("https://"+hostGraph, simVersion, appID, appSecret, hc),
		VisitorKey: visitorKey,
		Settings:   s.cfg.wfSettings,
		Log:        slog.New(slog.DiscardHandler),
		CDN:        cdn,
		PublicURL:  "https://" + hostBridge,
		MediaKey:   mediaKey,
		Clock:      simClock{s},

		SetupChannel: "omnichannel-instagram-setup",
	}
	s.exec = &executor{sim: s, registry: registry(s.acts)}
	return nil
}

// simClock is the activities' clock: the running attempt's.
type simClock struct{ s *Sim }

func (c simClock) Now() time.Time { return c.s.worldNow() }

func (c simClock) Sleep(ctx context.Context, d time.Duration) error {
	if a := attemptOf(ctx); a != nil && !a.spend(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// serveBridgeMedia is ingress's /media/{token}/{name} (ingress/media.go): Meta fetches an
// agent's file from it while it handles the send.
func (s *Sim) serveBridgeMedia(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/media/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	id, err := mediaurl.VerifyWith([][]byte{mediaKey}, parts[0], s.worldNow())
	if err != nil {
		http.Error(w, "media link not valid", http.StatusForbidden)
		return
	}
	m, err := s.store.getMedia(id)
	if err != nil || m.Filename != parts[1] {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.ContentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Filename}))
	_, _ = w.Write(m.Data)
}

// --- ingress ---

// collectOutboxes takes what the emulators sent since the last step (Meta's webhook
// deliveries, Rocket.Chat's Omnichannel webhooks) and schedules their delivery to ingress.
func (s *Sim) collectOutboxes() {
	for _, entries := range s.meta.TakeQueued() {
		s.scheduleMetaDelivery(entries, 0)
	}
	hooks := s.rcOutbox
	s.rcOutbox = nil
	for _, d := range hooks {
		s.scheduleRCWebhook(d)
	}
}

// deliveryKey names a Meta delivery by its first event, for the decisions about it.
func deliveryKey(entries []metasb.Entry) string {
	for _, e := range entries {
		for _, list := range [][]metasb.Event{e.Messaging, e.Standby} {
			for _, ev := range list {
				return fmt.Sprintf("%v", ev)
			}
		}
	}
	return "empty"
}

// scheduleMetaDelivery decides when (and how often) Meta delivers a batch: usually within
// a second or two, sometimes seconds late (deliveries overtake one another), rarely
// minutes late (retries), and now and then once more, up to hours later.
func (s *Sim) scheduleMetaDelivery(entries []metasb.Entry, attempt int) {
	g := newRNG(s.seed, fmt.Sprintf("meta-delivery/%d/%s", attempt, deliveryKey(entries)))
	d := g.between(150*time.Millisecond, 1500*time.Millisecond)
	if !s.calm {
		switch r := g.Float64(); {
		case r < s.cfg.lateDeliveries:
			d = g.between(1500*time.Millisecond, 3*time.Second)
		case r < s.cfg.lateDeliveries+0.03:
			d = g.between(20*time.Second, 10*time.Minute)
		}
		if attempt == 0 && g.chance(s.cfg.redeliveries) {
			again := g.between(30*time.Second, 3*time.Hour)
			s.loop.after(again, "meta redelivery", func() { s.deliverToIngress(entries, attempt+1) })
		}
	}
	// Meta sends it after the event happened (an echo: during the send that caused it,
	// on that attempt's clock).
	base := s.loop.now
	if len(entries) > 0 {
		if t := time.UnixMilli(entries[0].Time); t.After(base) {
			base = t
		}
	}
	s.loop.at(base.Add(d), "meta delivery", func() { s.deliverToIngress(entries, attempt) })
}

// deliverToIngress is ingress receiving a Meta delivery: parse, drop the echoes of our own
// recorded sends, and signal the conversation (starting its workflow for what starts one).
// When ingress cannot take it (the database is down for the echo lookup, or Temporal refuses
// the signal), Meta retries later.
func (s *Sim) deliverToIngress(entries []metasb.Entry, attempt int) {
	s.ingressTakes(entries, attempt, false)
}

// ingressTakes is ingress's handling of a delivery (waited: it already waited for sends in
// flight).
func (s *Sim) ingressTakes(entries []metasb.Entry, attempt int, waited bool) {
	body, err := s.meta.Body(entries...)
	if err != nil {
		panic(err)
	}
	env, err := instagram.ParseWebhook(body)
	if err != nil {
		s.violate("webhook", "ingress cannot parse Meta's delivery: %v", err)
		return
	}
	ds, _ := ingress.InstagramDeliveries(env, appID)
	var mids []string
	for _, d := range ds {
		if d.Event.Kind == workflows.EventEcho && d.Event.MID != "" {
			mids = append(mids, d.Event.MID)
		}
	}
	retry := func() {
		g := newRNG(s.seed, fmt.Sprintf("meta-retry/%d/%s", attempt, deliveryKey(entries)))
		s.loop.after(g.between(time.Second, 30*time.Second), "meta retry", func() { s.ingressTakes(entries, attempt+1, false) })
	}
	known := map[string]bool{}
	if len(mids) > 0 {
		if w := s.faults.active(svcDB); w != nil && w.mode == "down" && !s.calm {
			retry()
			return
		}
		known = s.store.ourMessages(mids, s.loop.now)
		if len(known) < len(mids) && !waited && s.store.sendInFlight(s.cfg.Account, s.cfg.IGSID, s.loop.now) {
			// An echo may overtake its send's answer: ingress waits up to 500 ms for the
			// answer to be recorded (ingress/instagram.go, dropOwnEchoes).
			s.loop.after(500*time.Millisecond, "ingress waits for a send", func() { s.ingressTakes(entries, attempt, true) })
			return
		}
	}
	var events []workflows.InstagramEvent
	for _, d := range ds {
		if d.Account != s.cfg.Account || d.IGSID != s.cfg.IGSID {
			continue
		}
		if d.Event.Kind == workflows.EventEcho && known[d.Event.MID] {
			continue
		}
		events = append(events, d.Event)
		s.truth.delivered(d.Event, s.loop.now)
	}
	if len(events) == 0 {
		return
	}
	if s.opts.Trace != nil {
		var b strings.Builder
		for _, ev := range events {
			fmt.Fprintf(&b, " %s:%s", ev.Kind, shortMID(s, ev.MID))
		}
		s.trace("ingress: Meta delivery%s", b.String())
	}
	recorded, refused := s.server.signalStart(workflows.SignalInstagram, workflows.InstagramBatch{Events: events}, ingress.StartsConversation(events))
	if refused {
		retry()
	}
	for _, ev := range events {
		if recorded && ev.Kind == workflows.EventEcho && s.truth.otherTool[ev.MID] {
			s.truth.otherToolSignalled[ev.MID] = true
		}
	}
}

// scheduleRCWebhook decides the fate of an Omnichannel webhook: Rocket.Chat posts it at
// once and retries a failure 20 s later, up to 5 times; some are lost for good, some come
// twice, and they overtake one another.
func (s *Sim) scheduleRCWebhook(d rcsb.WebhookDelivery) {
	g := newRNG(s.seed, fmt.Sprintf("rc-webhook/%s/%s/%s", d.Type, d.RID, d.Payload))
	delay := g.between(5*time.Millisecond, 300*time.Millisecond)
	if !s.calm {
		lost := s.cfg.lostWebhooks
		if w := s.faults.active("webhooks"); w != nil {
			lost = 0.7
		}
		if g.chance(lost) {
			s.stats.lostWebhooks++
			return
		}
		if g.chance(0.05) {
			delay += 20 * time.Second * time.Duration(1+g.pick(3))
		}
		if g.chance(0.04) {
			s.loop.after(delay+g.between(time.Second, 60*time.Second), "rc webhook again", func() { s.deliverRCWebhook(d) })
		}
	}
	s.loop.after(delay, "rc webhook", func() { s.deliverRCWebhook(d) })
}

// deliverRCWebhook is ingress receiving an Omnichannel webhook (ingress/rocketchat.go).
func (s *Sim) deliverRCWebhook(d rcsb.WebhookDelivery) {
	p, err := rocketchat.ParseWebhook(d.Payload)
	if err != nil {
		s.violate("webhook", "ingress cannot parse Rocket.Chat's webhook: %v", err)
		return
	}
	account, igsid, err := identity.ParseVisitorTokenWith([][]byte{visitorKey}, p.Visitor.Token)
	if err != nil || account != s.cfg.Account || igsid != s.cfg.IGSID {
		return
	}
	ev, ok := ingress.RocketChatEvent(p, botUserID)
	if !ok {
		return
	}
	s.trace("ingress: Rocket.Chat webhook %s room %s", ev.Kind, ev.RoomID)
	s.server.signalStart(workflows.SignalRocketChat, ev, false)
}

// wake is ingress after an admin's change (ingress/wake.go): the conversations in the
// states it wakes get a wake signal.
func (s *Sim) wake(reason string) {
	if s.server.open == nil {
		return
	}
	state := s.searchAttributes[workflows.SAState.GetName()]
	for _, st := range ingress.WokenStates {
		if st == state {
			s.server.signalStart(workflows.SignalWake, workflows.WakeEvent{Reason: reason}, false)
			return
		}
	}
}

// shortMID names a mid in the trace: the customer message's marker when it is one.
func shortMID(s *Sim, mid string) string {
	if m := s.truth.byMID[mid]; m != nil {
		return m.marker
	}
	if len(mid) > 12 {
		return "…" + mid[len(mid)-8:]
	}
	return mid
}
