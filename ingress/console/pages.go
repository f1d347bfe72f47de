package console

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// timeNow is the console's clock.
var timeNow = time.Now

// message is a page that only says something.
type message struct {
	Text string
	Link string
}

// fail shows an error of the backend as a page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, title string, err error) {
	v := c.page(w, r, title, "", message{Text: err.Error(), Link: Prefix + "/"})
	c.render(w, statusOf(err), "message", v)
}

// statusOf is the HTTP status an operation's error asks for (opError.HTTPStatus), else 500.
func statusOf(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) && s.HTTPStatus() >= 400 {
		return s.HTTPStatus()
	}
	var ce *commands.Error
	if errors.As(err, &ce) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// stillRunning: an operation that talks to Meta answered "still working" (HTTP 202).
func stillRunning(err error) bool {
	var s interface{ HTTPStatus() int }
	return errors.As(err, &s) && s.HTTPStatus() == http.StatusAccepted
}

type overviewView struct {
	Items    []setupguide.Item
	Missing  []string
	Facts    setupguide.Facts
	Accounts int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	f, err := c.backend.SetupFacts(r.Context())
	if err != nil {
		c.fail(w, r, "Overview", err)
		return
	}
	items := setupguide.Items(f, timeNow())
	c.render(w, http.StatusOK, "overview", c.page(w, r, "Overview", "overview",
		overviewView{Items: items, Missing: setupguide.Missing(items), Facts: f, Accounts: len(f.Connected)}))
}

type accountsView struct {
	Accounts []Account
	Active   int
}

func (c *Console) accounts(w http.ResponseWriter, r *http.Request) {
	acc, err := c.backend.Accounts(r.Context())
	if err != nil {
		c.fail(w, r, "Accounts", err)
		return
	}
	v := accountsView{Accounts: acc}
	for _, a := range acc {
		if a.HasToken {
			v.Active++
		}
	}
	c.render(w, http.StatusOK, "accounts", c.page(w, r, "Instagram accounts", "accounts", v))
}

// subscription subscribes or unsubscribes a page (form field action).
func (c *Console) subscription(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ref := r.PathValue("page")
	subscribe := r.PostFormValue("action") == "subscribe"
	if !subscribe && r.PostFormValue("action") != "unsubscribe" {
		c.flash(w, r, false, "Unknown action; nothing was changed.")
		http.Redirect(w, r, Prefix+"/accounts", http.StatusSeeOther)
		return
	}
	p, err := c.backend.SetSubscription(r.Context(), ref, subscribe, s.who)
	switch {
	case stillRunning(err):
		c.flash(w, r, true, err.Error())
	case err != nil:
		c.flash(w, r, false, err.Error())
	case p.Subscribed:
		c.flash(w, r, true, label(p)+" is subscribed: its messages reach Rocket.Chat.")
	default:
		c.flash(w, r, true, label(p)+" is unsubscribed: Meta stops sending its messages.")
	}
	http.Redirect(w, r, Prefix+"/accounts", http.StatusSeeOther)
}

func label(p store.Page) string {
	if p.IGUsername != "" {
		return p.IGUsername + " (page " + p.PageID + ")"
	}
	return "Page " + p.PageID
}

func (c *Console) authorizePage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "authorize", c.page(w, r, "Start Authentication", "accounts", nil))
}

// authorize starts an authorization and sends the browser straight to Meta's dialog: the
// admin is already here, so no button is sent anywhere (the setup channel is only told
// that an authorization started).
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) {
	res, err := c.backend.Authorize(r.Context(), sessionOf(r).who)
	switch {
	case err != nil:
		c.flash(w, r, false, err.Error())
		http.Redirect(w, r, Prefix+"/accounts", http.StatusSeeOther)
	case res.Pending || res.URL == "":
		c.flash(w, r, false, "The authorization started but the worker did not hand out its link in time (is it running?); click Start Authentication again in a moment.")
		http.Redirect(w, r, Prefix+"/accounts", http.StatusSeeOther)
	default:
		http.Redirect(w, r, res.URL, http.StatusSeeOther)
	}
}

type uninstallView struct {
	Connected []Account
	Removed   int
	Result    *workflows.UnauthorizeResult
}

func (c *Console) uninstallPage(w http.ResponseWriter, r *http.Request) {
	acc, err := c.backend.Accounts(r.Context())
	if err != nil {
		c.fail(w, r, "Uninstall", err)
		return
	}
	v := uninstallView{}
	for _, a := range acc {
		if a.HasToken {
			v.Connected = append(v.Connected, a)
		} else {
			v.Removed++
		}
	}
	c.render(w, http.StatusOK, "uninstall", c.page(w, r, "Uninstall", "accounts", v))
}

func (c *Console) uninstall(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("confirm") != "uninstall" {
		c.flash(w, r, false, "Tick the box to confirm the uninstall; nothing was changed.")
		http.Redirect(w, r, Prefix+"/uninstall", http.StatusSeeOther)
		return
	}
	res, err := c.backend.Uninstall(r.Context(), sessionOf(r).who)
	if err != nil {
		c.fail(w, r, "Uninstall", err)
		return
	}
	c.render(w, http.StatusOK, "uninstall", c.page(w, r, "Uninstalled", "accounts", uninstallView{Result: &res}))
}

// pageForm is the Edit Page Config form with its values (stored, or what was typed when
// saving failed).
type pageForm struct {
	Page        store.Page
	Fields      []formField
	Departments []departmentOption
	// DepartmentsError says why Rocket.Chat's departments could not be listed (the form
	// then takes a typed name, checked on save).
	DepartmentsError string
	Error            string
}

type formField struct {
	commands.PageField
	Value string
}

type departmentOption struct {
	Value, Label string
	Selected     bool
}

func (c *Console) pagePage(w http.ResponseWriter, r *http.Request) {
	p, err := c.backend.Page(r.Context(), r.PathValue("page"))
	if err != nil {
		c.fail(w, r, "Edit Page Config", err)
		return
	}
	c.renderPageForm(w, r, http.StatusOK, p, map[string]string{"department": p.Department, "welcome_message": p.WelcomeMessage,
		"finished_message": p.FinishedMessage, "offline_message": p.OfflineMessage}, "")
}

func (c *Console) renderPageForm(w http.ResponseWriter, r *http.Request, status int, p store.Page, values map[string]string, formErr string) {
	f := pageForm{Page: p, Error: formErr}
	for _, pf := range commands.PageFields {
		f.Fields = append(f.Fields, formField{PageField: pf, Value: values[pf.APIKey]})
	}
	deps, err := c.backend.Departments(r.Context())
	if err != nil {
		f.DepartmentsError = err.Error()
	} else {
		f.Departments = departmentOptions(deps, values["department"])
	}
	c.render(w, status, "page", c.page(w, r, "Edit Page Config", "accounts", f))
}

// departmentOptions lists Rocket.Chat's departments by name, and the current value when it
// is not one of them (it was deleted or renamed in Rocket.Chat): saving the form unchanged
// keeps it, and the label says what is wrong.
func departmentOptions(deps []workflows.Department, current string) []departmentOption {
	sort.Slice(deps, func(i, j int) bool { return strings.ToLower(deps[i].Name) < strings.ToLower(deps[j].Name) })
	out := []departmentOption{{Value: "", Label: "— none: Rocket.Chat's default routing —", Selected: current == ""}}
	found := current == ""
	for _, d := range deps {
		l := d.Name
		if !d.Enabled {
			l += " (disabled in Rocket.Chat)"
		}
		sel := current == d.Name || current == d.ID
		found = found || sel
		out = append(out, departmentOption{Value: d.Name, Label: l, Selected: sel})
	}
	if !found {
		out = append(out, departmentOption{Value: current, Label: current + " — not a department in Rocket.Chat!", Selected: true})
	}
	return out
}

func (c *Console) savePage(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("page")
	p, err := c.backend.Page(r.Context(), ref)
	if err != nil {
		c.fail(w, r, "Edit Page Config", err)
		return
	}
	values := map[string]string{}
	var e commands.PageEdit
	for _, f := range []struct {
		key string
		dst **string
	}{{"department", &e.Department}, {"welcome_message", &e.Welcome}, {"finished_message", &e.Finished}, {"offline_message", &e.Offline}} {
		if vs, ok := r.PostForm[f.key]; ok && len(vs) == 1 {
			v := strings.ReplaceAll(vs[0], "\r\n", "\n") // browsers send textarea lines with CRLF
			values[f.key] = v
			*f.dst = &v
		}
	}
	if len(values) == 0 {
		c.renderPageForm(w, r, http.StatusBadRequest, p, values, "The form sent no field; nothing was changed.")
		return
	}
	saved, err := c.backend.EditPage(r.Context(), p.PageID, e, sessionOf(r).who)
	if err != nil {
		c.renderPageForm(w, r, statusOf(err), p, values, err.Error())
		return
	}
	c.flash(w, r, true, "Saved the page config of "+label(saved)+".")
	http.Redirect(w, r, Prefix+"/pages/"+saved.PageID, http.StatusSeeOther)
}

type settingsView struct {
	Original, Ours []Setting
	Error          string
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request) {
	set, err := c.backend.Settings(r.Context())
	if err != nil {
		c.fail(w, r, "Settings", err)
		return
	}
	c.render(w, http.StatusOK, "settings", c.page(w, r, "Settings", "settings", splitSettings(set, nil, "")))
}

func splitSettings(set []Setting, typed map[string]string, formErr string) settingsView {
	v := settingsView{Error: formErr}
	for _, s := range set {
		if t, ok := typed[s.Key]; ok {
			s.Value = t
		}
		if s.Original {
			v.Original = append(v.Original, s)
		} else {
			v.Ours = append(v.Ours, s)
		}
	}
	return v
}

// saveSettings sends the settings the form changed (all validated at once, all or none).
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request) {
	current, err := c.backend.Settings(r.Context())
	if err != nil {
		c.fail(w, r, "Settings", err)
		return
	}
	typed := map[string]string{}
	changed := map[string]string{}
	for _, s := range current {
		vs, ok := r.PostForm[s.Key]
		if !ok || len(vs) != 1 {
			continue
		}
		typed[s.Key] = vs[0]
		if strings.TrimSpace(vs[0]) != s.Value {
			changed[s.Key] = vs[0]
		}
	}
	if len(changed) == 0 {
		c.flash(w, r, true, "Nothing changed.")
		http.Redirect(w, r, Prefix+"/settings", http.StatusSeeOther)
		return
	}
	if _, err := c.backend.UpdateSettings(r.Context(), changed, sessionOf(r).who); err != nil {
		c.render(w, statusOf(err), "settings", c.page(w, r, "Settings", "settings", splitSettings(current, typed, err.Error())))
		return
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.flash(w, r, true, "Saved: "+strings.Join(keys, ", ")+". Changes apply to the next message.")
	http.Redirect(w, r, Prefix+"/settings", http.StatusSeeOther)
}

type attentionView struct {
	Conversations []doctor.Conversation
	// AccountNames: Instagram account ID → its username, for the Account column.
	AccountNames map[string]string
	Waiting      int
	Blocked      int
	Error        string
}

func (c *Console) attention(w http.ResponseWriter, r *http.Request) {
	conv, err := c.backend.Attention(r.Context())
	v := attentionView{Conversations: conv, AccountNames: map[string]string{}}
	if err != nil {
		v.Error = err.Error()
	}
	if accounts, aerr := c.backend.Accounts(r.Context()); aerr == nil {
		for _, a := range accounts {
			if a.IGUsername != "" {
				v.AccountNames[a.IGAccountID] = a.IGUsername
			}
		}
	}
	for _, cv := range conv {
		if cv.State == workflows.StateBlocked {
			v.Blocked++
		} else {
			v.Waiting++
		}
	}
	c.render(w, http.StatusOK, "attention", c.page(w, r, "Conversations needing attention", "attention", v))
}

func (c *Console) doctor(w http.ResponseWriter, r *http.Request) {
	rep, err := c.backend.Doctor(r.Context())
	if err != nil {
		c.fail(w, r, "Doctor", err)
		return
	}
	c.render(w, http.StatusOK, "doctor", c.page(w, r, "Doctor", "doctor", rep))
}
