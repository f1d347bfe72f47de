package meta

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ---- subscribed_apps (§8.1) ----
//
// A page's subscription of the app is what makes webhooks flow (§2.4).
// Pages added with AddPage start subscribed with defaultSubscribedFields so
// that emulators configured in code deliver at once; POST subscribed_apps
// sets the field list, DELETE (or DropSubscription, or the DisableAfter
// threshold of the delivery queue, or DELETE /me/permissions) removes it.
//
// Spec gap: the field list is recorded and reported but does not filter
// which events are delivered.

var defaultSubscribedFields = []string{"messages", "messaging_postbacks", "message_reactions", "messaging_seen",
	"messaging_referrals", "messaging_handovers", "standby"}

// pageWebhookFields are the names accepted by POST /{page-id}/subscribed_apps:
// the Page object's webhook fields (§8.1, trap 30).
//
// Spec gap: Meta's exact enum is unconfirmed (§8.1). The list holds the
// Messenger/Page fields; the Instagram-object spellings (messaging_referral,
// messaging_handover, comments, mentions…) are rejected, so a client mixing
// the two up fails loudly. Messenger-only fields (message_echoes,
// message_reads, message_deliveries, message_edits) are accepted although
// they do nothing for Instagram.
var pageWebhookFields = []string{
	"messages", "messaging_postbacks", "messaging_optins", "messaging_optouts", "message_deliveries", "message_reads",
	"message_echoes", "message_edits", "message_reactions", "messaging_seen", "messaging_referrals", "messaging_handovers",
	"messaging_policy_enforcement", "messaging_account_linking", "messaging_checkout_updates", "messaging_payments",
	"messaging_pre_checkouts", "messaging_game_plays", "messaging_feedback", "messaging_customer_information",
	"messaging_in_thread_lead_form_submit", "standby", "feed", "mention", "name", "picture", "category",
	"description", "conversations", "email", "website", "ratings", "leadgen", "live_videos", "videos",
	"inbox_labels", "response_feedback", "send_cart", "calls",
}

// SubscribedFields returns the fields the app is subscribed to for the page,
// or nil when it is not subscribed (or the page is unknown).
func (s *Server) SubscribedFields(pageID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byPageID[pageID]
	if p == nil || !s.subscribedLocked(p) {
		return nil
	}
	return append([]string{}, s.subscribedFieldsLocked(p)...)
}

// DropSubscription silently removes the app's subscription of the page, as
// Meta does after delivery failures without telling anyone (trap 7): queued
// and future events of its IG account are dropped until it is subscribed
// again (POST subscribed_apps or Resubscribe).
func (s *Server) DropSubscription(pageID string) {
	s.mu.Lock()
	p := s.byPageID[pageID]
	if p == nil {
		s.mu.Unlock()
		return
	}
	delete(s.oauth.subFields, pageID)
	acct := p.IGAccountID
	if acct == "" {
		s.oauth.unsubNoIG[pageID] = true
	}
	s.mu.Unlock()
	if acct != "" {
		s.Unsubscribe(acct)
	}
}

// subscribePage (re)subscribes the app to the page with the given fields.
func (s *Server) subscribePage(pageID string, fields []string) {
	s.mu.Lock()
	p := s.byPageID[pageID]
	if p == nil {
		s.mu.Unlock()
		return
	}
	s.oauth.subFields[pageID] = fields
	delete(s.oauth.unsubNoIG, pageID)
	acct := p.IGAccountID
	s.mu.Unlock()
	if acct != "" {
		s.Resubscribe(acct)
	}
}

func (s *Server) subscribedLocked(p *Page) bool {
	if p.IGAccountID == "" {
		return !s.oauth.unsubNoIG[p.PageID]
	}
	return !s.disabled[p.IGAccountID]
}

func (s *Server) subscribedFieldsLocked(p *Page) []string {
	if f := s.oauth.subFields[p.PageID]; f != nil {
		return f
	}
	return defaultSubscribedFields
}

// parseSubscribedFields accepts "a,b" strings and JSON / bracket-form arrays.
func parseSubscribedFields(v any) []string {
	var raw []string
	switch x := v.(type) {
	case string:
		raw = strings.Split(x, ",")
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				raw = append(raw, strings.Split(s, ",")...)
			} else {
				raw = append(raw, fmt.Sprint(e))
			}
		}
	}
	var out []string
	for _, f := range raw {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) handleSubscribedApps(w http.ResponseWriter, r *http.Request, version, node string) {
	if f := s.takeFault("*"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	params, _ := readParams(r)
	page, e := s.auth(r, params)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if e := s.resolveNode(page, node, strings.ToLower(r.Method)); e != nil {
		s.writeError(w, version, e)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		data := []any{}
		if p := s.byPageID[page.PageID]; p != nil && s.subscribedLocked(p) {
			fields := []any{}
			for _, f := range s.subscribedFieldsLocked(p) {
				fields = append(fields, f)
			}
			data = append(data, object{{"category", "Business"}, {"link", "https://sandbox.invalid/"}, {"name", sandboxAppName},
				{"id", s.opts.AppID}, {"subscribed_fields", fields}})
		}
		s.mu.Unlock()
		s.writeGraphJSON(w, version, http.StatusOK, object{{"data", data}})
	case http.MethodPost:
		fields := parseSubscribedFields(params["subscribed_fields"])
		if len(fields) == 0 {
			s.writeError(w, version, errParam("The parameter subscribed_fields is required."))
			return
		}
		var uniq []string
		for i, f := range fields {
			if !slices.Contains(pageWebhookFields, f) {
				s.writeError(w, version, errParam(fmt.Sprintf("Param subscribed_fields[%d] must be one of {%s} - got \"%s\"",
					i, strings.Join(pageWebhookFields, ", "), f)))
				return
			}
			if !slices.Contains(uniq, f) {
				uniq = append(uniq, f)
			}
		}
		// Spec gap: a POST replaces the previous field list (not a union).
		s.subscribePage(page.PageID, uniq)
		s.writeGraphJSON(w, version, http.StatusOK, object{{"success", true}})
	case http.MethodDelete:
		s.DropSubscription(page.PageID)
		s.writeGraphJSON(w, version, http.StatusOK, object{{"success", true}})
	default:
		s.writeError(w, version, gerr(400, 100, 0, "OAuthException", "Unsupported request - method type: "+strings.ToLower(r.Method)))
	}
}
