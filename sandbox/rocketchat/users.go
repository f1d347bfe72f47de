package rocketchat

// GET users.info?userId=…|username=… (authenticated): a user's public profile, and — for
// a caller with the permission view-full-other-user-info, or about the caller itself — the
// full one, which carries the user's roles (`roles`, as on the user object of `login`'s
// `me`, spec §11.1). Agents are users too.
//
// Spec gap: the spec does not describe users.info. The emulator follows Rocket.Chat's
// REST API as documented for it: the user object under "user"; without either
// parameter 400 Meteor.Error error-user-param-not-provided; an unknown user 400
// {"success":false,"error":"User not found."} (API.v1.failure, no errorType); the roles
// only in the full profile.
func (s *Server) hUsersInfo(c *reqCtx) (obj, error) {
	id, name := c.str(c.query, "userId"), c.str(c.query, "username")
	if id == "" && name == "" {
		return nil, meteorErr("error-user-param-not-provided", `The required "userId" or "username" param was not provided`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		uid, username, display string
		roles                  []string
		found                  bool
	)
	for _, u := range s.users {
		if id != "" && u.ID == id || id == "" && u.Username == name {
			uid, username, display, roles, found = u.ID, u.Username, u.Name, u.roleList(), true
			break
		}
	}
	if !found {
		for _, a := range s.agents {
			if id != "" && a.ID == id || id == "" && a.Username == name {
				uid, username, display, roles, found = a.ID, a.Username, a.Name, []string{"user", "livechat-agent"}, true
				break
			}
		}
	}
	if !found {
		return nil, plainErr("User not found.")
	}
	user := obj{{"_id", uid}, {"username", username}, {"name", display}, {"status", "online"}, {"active", true}, {"type", "user"}}
	if c.user.ID == uid || c.user.can("view-full-other-user-info") {
		user = append(user, field{"roles", roles})
	}
	return obj{{"user", user}}, nil
}

// roleList is the user's roles (["user"] when none were given).
func (u *userRec) roleList() []string {
	if u.Roles == nil {
		return []string{"user"}
	}
	return append([]string(nil), u.Roles...)
}
