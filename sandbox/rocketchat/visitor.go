package rocketchat

import (
	"fmt"
	"regexp"
	"strings"
)

// validateEmail's regular expression (apps/meteor/lib/emailValidator).
var emailRE = regexp.MustCompile(`^(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$`)

func (s *Server) visitorByToken(token string) *visitorRec {
	if id, ok := s.tokens[token]; ok {
		return s.visitors[id]
	}
	return nil
}

func (s *Server) deptByIDOrName(ref string) *deptRec {
	if d := s.depts[ref]; d != nil {
		return d
	}
	for _, id := range s.deptOrder {
		if s.depts[id].Name == ref {
			return s.depts[id]
		}
	}
	return nil
}

// visitorJSON is the stored ILivechatVisitor document.
func (v *visitorRec) json() obj {
	o := obj{{"_id", v.ID}, {"token", v.Token}, {"username", v.Username}, {"status", v.Status}}
	if v.Name != "" {
		o = append(o, field{"name", v.Name})
	}
	o = append(o, field{"ts", iso(v.TS)}, field{"_updatedAt", iso(v.UpdatedAt)})
	if len(v.Emails) > 0 {
		var arr []obj
		for _, e := range v.Emails {
			arr = append(arr, obj{{"address", e}})
		}
		o = append(o, field{"visitorEmails", arr})
	}
	if len(v.Phones) > 0 {
		var arr []obj
		for _, p := range v.Phones {
			arr = append(arr, obj{{"phoneNumber", p}})
		}
		o = append(o, field{"phone", arr})
	}
	if v.Department != "" {
		o = append(o, field{"department", v.Department})
	}
	if len(v.LivechatData) > 0 {
		o = append(o, field{"livechatData", v.LivechatData})
	}
	o = append(o, field{"contactId", v.ContactID})
	return o
}

// POST livechat/visitor (7.x visitor.ts + Visitors.ts registerGuest).
func (s *Server) hVisitorPost(c *reqCtx) (obj, error) {
	if err := checkVisitorBody(c.body); err != nil {
		return nil, err
	}
	vm := c.body["visitor"].(map[string]any)
	token := c.str(vm, "token")
	if strings.TrimSpace(token) == "" {
		return nil, meteorErr("error-invalid-token", "Token cannot be empty")
	}
	name, email, dept := c.str(vm, "name"), c.str(vm, "email"), c.str(vm, "department")
	phone, username, id := c.str(vm, "phone"), c.str(vm, "username"), c.str(vm, "id")

	s.mu.Lock()
	defer s.mu.Unlock()

	if email != "" {
		email = strings.ToLower(strings.TrimSpace(email))
		if !emailRE.MatchString(email) {
			// Spec gap: the real error may carry `details`; the emulator sends none.
			return nil, meteorErr("error-invalid-email", fmt.Sprintf("Invalid email %s", email))
		}
	}
	byToken := s.visitorByToken(token)
	deptID := ""
	if dept != "" && (byToken == nil || byToken.Department != dept) {
		d := s.deptByIDOrName(dept)
		if d == nil {
			return nil, meteorErr("error-invalid-department", "The provided department is invalid")
		}
		deptID = d.ID
	}

	now := s.nowMS()
	v := byToken
	keepToken := false
	if v == nil && phone != "" {
		for _, cand := range s.visitors {
			for _, p := range cand.Phones {
				if p == phone {
					v = cand
				}
			}
		}
		keepToken = v != nil
	}
	if v == nil && email != "" {
		for _, cand := range s.visitors {
			for _, e := range cand.Emails {
				if e == email {
					v = cand
				}
			}
		}
	}
	if v == nil {
		s.guestCount++
		if id == "" {
			id = s.randomID()
		}
		if username == "" {
			username = fmt.Sprintf("guest-%d", s.guestCount)
		}
		v = &visitorRec{ID: id, Username: username, TS: now, ContactID: s.hexID()}
		s.visitors[v.ID] = v
	}
	if !keepToken && v.Token != token {
		if v.Token != "" && s.tokens[v.Token] == v.ID {
			delete(s.tokens, v.Token)
		}
		v.Token = token
		s.tokens[token] = v.ID
	}
	v.Status = "online"
	if phone != "" {
		v.Phones = []string{phone}
	}
	if name != "" {
		v.Name = name
	}
	if email != "" {
		v.Emails = []string{email}
	}
	if deptID != "" {
		v.Department = deptID
	}
	v.UpdatedAt = now

	// saveRoomInfo on the visitor's open rooms.
	for _, r := range s.roomList {
		if r.Open && r.Token == v.Token {
			if v.Name != "" {
				r.FName = v.Name
			}
			r.UpdatedAt = now
		}
	}

	// customFields are applied by the *sent* token (updateLivechatDataByToken):
	// when a phone match kept another token they are silently lost, as upstream.
	if cfs, ok := vm["customFields"].([]any); ok && len(cfs) > 0 {
		target := s.visitorByToken(token)
		for _, x := range cfs {
			cf := x.(map[string]any)
			key, val := c.str(cf, "key"), c.str(cf, "value")
			overwrite, _ := cf["overwrite"].(bool)
			if s.customFields != nil && !s.customFields[key] {
				s.log.Warn("rocketchat: ignoring unknown visitor custom field", "key", key)
				continue
			}
			if target == nil {
				continue
			}
			if target.LivechatData == nil {
				target.LivechatData = map[string]string{}
			}
			if _, exists := target.LivechatData[key]; exists && !overwrite {
				continue
			}
			target.LivechatData[key] = val
		}
	}
	return obj{{"visitor", v.json()}}, nil
}

// GET livechat/visitor/:token
func (s *Server) hVisitorGet(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(c.params["token"])
	if v == nil {
		return nil, meteorErr("invalid-token", "")
	}
	return obj{{"visitor", v.json()}}, nil
}

// DELETE livechat/visitor/:token
func (s *Server) hVisitorDelete(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(c.params["token"])
	if v == nil {
		return nil, meteorErr("invalid-token", "")
	}
	for _, r := range s.roomList {
		if r.Open && r.VisitorID == v.ID {
			// Spec gap: reason text of visitor-has-open-rooms chosen by us.
			return nil, meteorErr("visitor-has-open-rooms", "Cannot remove visitor which has open rooms")
		}
	}
	delete(s.visitors, v.ID)
	delete(s.tokens, v.Token)
	return obj{{"visitor", obj{{"_id", v.ID}, {"ts", iso(s.nowMS())}}}}, nil
}
