package commands

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/igdirect/bridge/appsettings"
)

// A page's configuration fields, as the original app's "Edit Page Config" form named them,
// and the one validation every way of changing them goes through (command, admin API,
// console): ValidatePageEdit for the values, MatchDepartment for the department against the
// list Rocket.Chat returns.

// MaxMessageBytes bounds a page's automated messages: they are sent to Instagram, whose
// Send API refuses texts over 1000 UTF-8 bytes (instagram-messaging.md §4.2).
const MaxMessageBytes = 1000

// MaxDepartmentLen bounds a department reference (a name or an ID, one line).
const MaxDepartmentLen = 200

// PageField documents one field of a page's configuration.
type PageField struct {
	// Key is the command's key; APIKey the admin API's JSON field (and the console's form
	// field); Label the original app's label.
	Key, APIKey, Label string
	Help               string
	// Aliases are the other keys admins may type (the label in snake case among them).
	Aliases []string
	// MaxBytes bounds a message (0 for the department).
	MaxBytes int
	of       func(*PageEdit) **string
}

// PageFields lists the fields in the original form's order.
var PageFields = []PageField{
	{Key: "department", APIKey: "department", Label: "Department",
		Help:    "The Rocket.Chat Omnichannel department whose agents serve this page's conversations. Empty: Rocket.Chat's default routing.",
		Aliases: []string{"dept"}, of: func(e *PageEdit) **string { return &e.Department }},
	{Key: "welcome", APIKey: "welcome_message", Label: "Welcome Message",
		Help:    "First message the customer receives when a conversation starts.",
		Aliases: []string{"welcome_message"}, MaxBytes: MaxMessageBytes, of: func(e *PageEdit) **string { return &e.Welcome }},
	{Key: "finished", APIKey: "finished_message", Label: "Conversation Finished Message",
		Help:    "Sent to the customer when an agent closes the conversation.",
		Aliases: []string{"finished_message", "conversation_finished_message"}, MaxBytes: MaxMessageBytes, of: func(e *PageEdit) **string { return &e.Finished }},
	{Key: "offline", APIKey: "offline_message", Label: "Default message for offline service",
		Help:    "Sent once when no agent of the department is online; the messages wait and reach the room when an agent is back.",
		Aliases: []string{"offline_message", "default_message_for_offline_service", "offline_service_message"}, MaxBytes: MaxMessageBytes, of: func(e *PageEdit) **string { return &e.Offline }},
}

// PageFieldOf finds a field by key, alias, API key or the original label in any case
// ("Welcome Message").
func PageFieldOf(typed string) (PageField, bool) {
	k := appsettings.Snake(typed)
	for _, f := range PageFields {
		if k == f.Key || k == f.APIKey || k == appsettings.Snake(f.Label) {
			return f, true
		}
		for _, a := range f.Aliases {
			if k == a {
				return f, true
			}
		}
	}
	return PageField{}, false
}

// ValidatePageEdit trims every given field and checks it: a department on one line of at
// most 200 characters, messages of valid UTF-8 within Instagram's 1000 bytes. Every problem
// is named; the edit is valid only if all fields are.
func ValidatePageEdit(e PageEdit) (PageEdit, error) {
	var problems []string
	for _, f := range PageFields {
		p := f.of(&e)
		if *p == nil {
			continue
		}
		v := strings.TrimSpace(**p)
		if err := checkPageField(f, v); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		*p = &v
	}
	if len(problems) > 0 {
		return PageEdit{}, &Error{Msg: "Nothing was changed: " + strings.Join(problems, " ")}
	}
	return e, nil
}

// CheckPageField validates one value of the field key (any name PageFieldOf knows).
func CheckPageField(key, value string) error {
	f, ok := PageFieldOf(key)
	if !ok {
		return &Error{Msg: fmt.Sprintf("Unknown field `%s`.", key)}
	}
	return checkPageField(f, value)
}

func checkPageField(f PageField, value string) error {
	if f.MaxBytes == 0 {
		if len(value) > MaxDepartmentLen || strings.ContainsAny(value, "\r\n") || !utf8.ValidString(value) {
			return &Error{Msg: fmt.Sprintf("A department is a Rocket.Chat department name or ID: one line, at most %d characters.", MaxDepartmentLen)}
		}
		return nil
	}
	if !utf8.ValidString(value) {
		return &Error{Msg: fmt.Sprintf("%s (`%s`) is not valid UTF-8 text.", f.Label, f.Key)}
	}
	if len(value) > f.MaxBytes {
		return &Error{Msg: fmt.Sprintf("%s (`%s`) is %d bytes long; Instagram accepts at most %d bytes per message.", f.Label, f.Key, len(value), f.MaxBytes)}
	}
	return nil
}

// Department is a Rocket.Chat Omnichannel department as the worker read it.
type Department struct {
	ID, Name string
	Enabled  bool
}

// MatchDepartment finds what an admin typed among Rocket.Chat's departments: its ID or its
// name exactly, or its name in another case when only one department has that name. It
// returns the reference to store (the name as Rocket.Chat spells it, or the ID as typed),
// or an error that lists what exists. Rocket.Chat registers a visitor in a department by
// ID or exact name, so nothing else may be stored.
func MatchDepartment(typed string, deps []Department) (Department, error) {
	var folded []Department
	for _, d := range deps {
		if typed == d.ID || typed == d.Name {
			return d, nil
		}
		if strings.EqualFold(typed, d.Name) {
			folded = append(folded, d)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	if len(deps) == 0 {
		return Department{}, &Error{Msg: fmt.Sprintf("Rocket.Chat has no department `%s` (it has no departments at all: create one in Omnichannel › Departments). Nothing was changed.", typed)}
	}
	var names []string
	for i, d := range deps {
		if i == 20 {
			names = append(names, fmt.Sprintf("and %d more", len(deps)-20))
			break
		}
		names = append(names, "`"+d.Name+"`")
	}
	return Department{}, &Error{Msg: fmt.Sprintf("Rocket.Chat has no department `%s`. Nothing was changed. Departments: %s.", typed, strings.Join(names, ", "))}
}
