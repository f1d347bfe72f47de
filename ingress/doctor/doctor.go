// Package doctor answers the question admins of every Instagram integration ask most —
// "why don't some customers' messages arrive?" — from what the bridge knows: what Meta
// reports about each page (the Doctor workflow asks it), when each kind of webhook last
// reached ingress, and which conversations are blocked and why. It does no I/O: ingress
// gathers the facts, `instagram doctor` and the console render the same Report.
package doctor

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// RequiredScopes are the permissions without which a page's messages cannot flow (spec §2.4
// and the Send API).
var RequiredScopes = []string{"instagram_basic", "instagram_manage_messages", "pages_manage_metadata", "pages_messaging"}

// Conversation is a conversation that needs attention: waiting for an agent, or blocked.
type Conversation struct {
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Account    string    `json:"account"`
	Username   string    `json:"username,omitempty"`
	Department string    `json:"department,omitempty"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Since      time.Time `json:"since"`
	// UILink opens the conversation in the Temporal UI ("" without TEMPORAL_UI_URL).
	UILink string `json:"ui_link,omitempty"`
}

// Input is everything the report is made of.
type Input struct {
	Now       time.Time
	Pages     []store.Page
	Diagnoses []workflows.PageDiagnosis
	// DiagnoseError says why Meta could not be asked at all ("" when it was).
	DiagnoseError string
	Activity      []store.Activity
	Blocked       []Conversation
	// CommandUsers is how many user ids ROCKETCHAT_COMMAND_USERS lists (who may change
	// things).
	CommandUsers int
}

// Level of a finding.
const (
	OK   = "ok"
	Warn = "warn"
	Bad  = "bad"
	Info = "info"
)

// Finding is one line of the report.
type Finding struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

// Event is when one kind of event of an account last arrived.
type Event struct {
	Kind  string    `json:"kind"`
	Last  time.Time `json:"last"`
	Count int64     `json:"count"`
}

// Account is the report on one page.
type Account struct {
	PageID   string         `json:"page_id"`
	Account  string         `json:"account"`
	Username string         `json:"username,omitempty"`
	Removed  bool           `json:"removed,omitempty"`
	Findings []Finding      `json:"findings"`
	Events   []Event        `json:"events,omitempty"`
	Blocked  []Conversation `json:"blocked,omitempty"`
	// Causes: the account has never delivered a customer message, and these are the usual
	// reasons, most likely first.
	Causes []string `json:"causes,omitempty"`
}

// Label names the account for people.
func (a Account) Label() string {
	if a.Username != "" {
		return a.Username + " (page " + a.PageID + ")"
	}
	return "page " + a.PageID
}

// Report is the whole answer.
type Report struct {
	Global   []Finding `json:"global"`
	Accounts []Account `json:"accounts"`
}

// customerKinds are the events a customer's activity produces (echoes and seen receipts
// prove Meta delivers, but not that customers' messages do).
var customerKinds = []string{workflows.EventMessage, workflows.EventPostback, workflows.EventReaction,
	workflows.EventReferral, workflows.EventEdit, workflows.EventUnsend}

// Build makes the report.
func Build(in Input) Report {
	var r Report
	var metaLast, metaRefused, rcLast, rcRefused, cmdLast time.Time
	byAccount := map[string][]Event{}
	for _, a := range in.Activity {
		refused := strings.HasPrefix(a.Kind, store.RefusedPrefix)
		switch {
		case a.Source == store.SourceInstagram && refused:
			metaRefused = later(metaRefused, a.LastAt)
		case a.Source == store.SourceInstagram:
			metaLast = later(metaLast, a.LastAt)
			if a.Account != "" {
				byAccount[a.Account] = append(byAccount[a.Account], Event{Kind: a.Kind, Last: a.LastAt, Count: a.Count})
			}
		case a.Source == store.SourceRocketChat && refused:
			rcRefused = later(rcRefused, a.LastAt)
		case a.Source == store.SourceRocketChat:
			rcLast = later(rcLast, a.LastAt)
		case a.Source == store.SourceCommand && !refused:
			cmdLast = later(cmdLast, a.LastAt)
		}
	}
	ago := func(t time.Time) string { return setupguide.Ago(t, in.Now) }

	switch {
	case metaLast.IsZero():
		r.Global = append(r.Global, Finding{Bad, "Meta has never delivered a webhook to `/webhooks/instagram`: check the Meta app's Webhooks settings (Instagram product: callback URL, verify token, the `messages` field) and that the app is Live"})
	default:
		r.Global = append(r.Global, Finding{OK, "Meta's webhooks reach us: the last one " + ago(metaLast)})
	}
	if metaRefused.After(metaLast) {
		r.Global = append(r.Global, Finding{Bad, "Meta's last webhook (" + ago(metaRefused) + ") was refused for a signature that does not match: META_APP_SECRET is not this app's secret, so every message is refused"})
	}
	switch {
	case rcLast.IsZero():
		r.Global = append(r.Global, Finding{Bad, "Rocket.Chat's Omnichannel webhook has never reached us: agents' replies are picked up only when a conversation's room is read again (Administration › Omnichannel › Webhooks: URL `…/webhooks/rocketchat`, Secret Token = ROCKETCHAT_WEBHOOK_TOKEN, send on agent messages and chat close)"})
	default:
		r.Global = append(r.Global, Finding{OK, "Rocket.Chat's Omnichannel webhook reaches us: the last call " + ago(rcLast)})
	}
	if rcRefused.After(rcLast) {
		r.Global = append(r.Global, Finding{Bad, "Rocket.Chat's last Omnichannel webhook (" + ago(rcRefused) + ") had a wrong secret token: set it to ROCKETCHAT_WEBHOOK_TOKEN"})
	}
	if !cmdLast.IsZero() {
		r.Global = append(r.Global, Finding{Info, "Last command received " + ago(cmdLast)})
	}
	if in.DiagnoseError != "" {
		r.Global = append(r.Global, Finding{Warn, "Meta could not be asked about the pages: " + in.DiagnoseError})
	}
	r.Global = append(r.Global, Finding{Info, strings.ReplaceAll(setupguide.WhoMayChange(in.CommandUsers), "channel may read", "setup channel may read")})

	diag := map[string]workflows.PageDiagnosis{}
	for _, d := range in.Diagnoses {
		diag[d.PageID] = d
	}
	for _, p := range in.Pages {
		a := Account{PageID: p.PageID, Account: p.IGAccountID, Username: p.IGUsername, Events: byAccount[p.IGAccountID]}
		sort.Slice(a.Events, func(i, j int) bool { return a.Events[i].Last.After(a.Events[j].Last) })
		for _, c := range in.Blocked {
			if c.Account == p.IGAccountID {
				a.Blocked = append(a.Blocked, c)
			}
		}
		if !p.HasToken {
			a.Removed = true
			when := ""
			if p.RemovedAt != nil {
				when = " " + ago(*p.RemovedAt)
			}
			a.Findings = append(a.Findings, Finding{Info, "Removed by an uninstall" + when + ": no token, not subscribed. `instagram authorize` connects it again with its configuration."})
			r.Accounts = append(r.Accounts, a)
			continue
		}
		d, asked := diag[p.PageID]
		var linkBad, subscriptionBad, tokenBad bool
		switch {
		case !asked:
			a.Findings = append(a.Findings, Finding{Warn, "Meta was not asked about this page (see above)"})
		case d.Error != "":
			a.Findings = append(a.Findings, Finding{Warn, "Meta could not be asked: " + d.Error})
		default:
			var f Finding
			f, subscriptionBad = subscriptionFinding(d, p)
			a.Findings = append(a.Findings, f)
			f, tokenBad = tokenFinding(d, in.Now)
			a.Findings = append(a.Findings, f)
			f, linkBad = linkFinding(d, p)
			a.Findings = append(a.Findings, f)
		}
		if p.NeedsReauth && !tokenBad {
			a.Findings = append(a.Findings, Finding{Bad, "Marked as needing re-authorization (Meta refused its token for a send): replies wait until `instagram authorize`"})
		}
		if p.Department == "" {
			a.Findings = append(a.Findings, Finding{Info, "No department: Rocket.Chat routes its conversations to any agent (set one with `instagram edit " + p.PageID + " department=…`)"})
		}
		if n := len(a.Blocked); n > 0 {
			a.Findings = append(a.Findings, Finding{Bad, fmt.Sprintf("%d conversation(s) blocked", n)})
		}
		var lastCustomer time.Time
		for _, e := range a.Events {
			if slices.Contains(customerKinds, e.Kind) {
				lastCustomer = later(lastCustomer, e.Last)
			}
		}
		if lastCustomer.IsZero() {
			a.Causes = causes(metaLast.IsZero(), subscriptionBad, linkBad, tokenBad)
		}
		r.Accounts = append(r.Accounts, a)
	}
	return r
}

func subscriptionFinding(d workflows.PageDiagnosis, p store.Page) (Finding, bool) {
	switch {
	case !d.SubscriptionChecked:
		return Finding{Warn, "Webhook subscription could not be checked: " + d.SubscriptionError}, false
	case !d.Subscribed && p.Subscribed:
		return Finding{Bad, "Meta lists no webhook subscription for our app on this page although it was subscribed (Meta drops subscriptions after failed deliveries): `instagram subscribe " + p.PageID + "`"}, true
	case !d.Subscribed:
		return Finding{Bad, "Not subscribed: Meta does not send this page's messages to us. `instagram subscribe " + p.PageID + "`"}, true
	}
	var missing []string
	for _, f := range instagram.DefaultSubscribedFields {
		if !slices.Contains(d.Fields, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		bad := slices.Contains(missing, "messages")
		level := Warn
		if bad {
			level = Bad
		}
		return Finding{level, "Subscribed with " + list(d.Fields) + ", without " + list(missing) + ": `instagram subscribe " + p.PageID + "` renews it"}, bad
	}
	return Finding{OK, "Webhooks subscribed: " + list(d.Fields)}, false
}

func tokenFinding(d workflows.PageDiagnosis, now time.Time) (Finding, bool) {
	switch {
	case !d.TokenChecked:
		return Finding{Warn, "The token could not be checked (debug_token): " + d.TokenError}, false
	case !d.TokenValid:
		return Finding{Bad, "Meta no longer accepts the page token: `instagram authorize` again"}, true
	}
	var missing []string
	for _, s := range RequiredScopes {
		if !slices.Contains(d.Scopes, s) {
			missing = append(missing, s)
		}
	}
	expiry := "never expires"
	if !d.ExpiresAt.IsZero() {
		expiry = "expires on " + d.ExpiresAt.UTC().Format("2006-01-02")
	}
	if len(missing) > 0 {
		return Finding{Bad, fmt.Sprintf("Token valid (%s, %s) but without %s: authorize again and grant every permission", orUnknown(d.TokenType), expiry, list(missing))}, true
	}
	if !d.ExpiresAt.IsZero() && d.ExpiresAt.Before(now.Add(7*24*time.Hour)) {
		return Finding{Warn, "Token " + expiry + ": `instagram authorize` before then"}, false
	}
	return Finding{OK, fmt.Sprintf("Token valid (%s, %s), permissions %s", orUnknown(d.TokenType), expiry, list(d.Scopes))}, false
}

func linkFinding(d workflows.PageDiagnosis, p store.Page) (Finding, bool) {
	switch {
	case !d.LinkChecked:
		return Finding{Warn, "The page's Instagram account could not be checked: " + d.LinkError}, false
	case d.LinkedAccount == "":
		return Finding{Bad, "The page is no longer linked to an Instagram professional account: link them again (Instagram app › Settings › Account › Sharing to other apps, or Meta Business Suite), then `instagram authorize`"}, true
	case d.LinkedAccount != p.IGAccountID:
		return Finding{Bad, "The page is now linked to Instagram account " + d.LinkedAccount + ", not " + p.IGAccountID + ": `instagram authorize` again"}, true
	}
	return Finding{OK, "Linked to Instagram account " + p.IGAccountID}, false
}

// causes are the usual reasons an account delivers nothing, the ones the bridge saw first.
func causes(metaNever, subscriptionBad, linkBad, tokenBad bool) []string {
	var out []string
	if metaNever {
		out = append(out, "Meta has never called the webhook at all: the app's Webhooks settings (Instagram product) are not set up, or the callback URL is not reachable over HTTPS.")
	}
	if subscriptionBad {
		out = append(out, "This page's webhook subscription is missing (see above).")
	}
	if linkBad {
		out = append(out, "The page is unlinked from its Instagram account (see above).")
	}
	if tokenBad {
		out = append(out, "The token or its permissions (see above).")
	}
	return append(out,
		"The Meta app is in Development mode: Meta delivers messages only from people who have a role on the app (administrators, developers, testers). Switch the app to Live (it needs Advanced Access to instagram_manage_messages) or add the tester.",
		"\"Allow access to messages\" is off in the Instagram app: Settings › Messages and story replies › Message controls › Connected tools.",
		"The Facebook page is no longer linked to the Instagram professional account, or the account is not a professional (business or creator) account.",
	)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "type unknown"
	}
	return s
}
