// Package commands parses the admin commands typed in Rocket.Chat ("instagram list",
// "instagram edit casaazul.store welcome=\"Hi!\"", …) and holds the validation they share
// with the admin API. It does no I/O: ingress runs a parsed command through the same
// functions that serve /admin/api.
package commands

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/igdirect/bridge/appsettings"
)

// Trigger is the word commands start with ("instagram list" or "/instagram list").
const Trigger = "instagram"

// Command names.
const (
	Authorize   = "authorize"
	Unauthorize = "unauthorize"
	List        = "list"
	Subscribe   = "subscribe"
	Unsubscribe = "unsubscribe"
	Edit        = "edit"
	Settings    = "settings"
	Help        = "help"
	Console     = "console"
	Setup       = "setup"
	Doctor      = "doctor"
	// SignOut ends every console session and unused sign-in link ("sign out everywhere").
	SignOut = "signout"
)

// aliases maps what admins may type to a command name.
var aliases = map[string]string{
	Authorize: Authorize, Unauthorize: Unauthorize, "uninstall": Unauthorize, List: List,
	Subscribe: Subscribe, Unsubscribe: Unsubscribe, Edit: Edit, Settings: Settings, Help: Help,
	Console: Console, Setup: Setup, Doctor: Doctor, SignOut: SignOut, "logout": SignOut,
}

// names lists the commands, for suggestions.
var names = []string{Authorize, Unauthorize, List, Subscribe, Unsubscribe, Edit, Settings, Help, Console, Setup, Doctor, SignOut}

// Command is a parsed, validated command.
type Command struct {
	Name string
	// Page is the page reference (page ID, Instagram account ID or username) of subscribe,
	// unsubscribe and edit.
	Page string
	// Edit holds the fields of edit; nil = unchanged, "" = clear. ShowPage: edit was given
	// a page and nothing to change, so it shows the page's configuration (as the original
	// app's `/instagram edit <pageId>` opened its form).
	Edit     PageEdit
	ShowPage bool
	// Settings holds the validated, normalised values of settings; empty = show them.
	Settings map[string]string
}

// Changes reports whether running the command changes anything (at Meta, in the database
// or in Temporal). Only users Rocket.Chat says hold the admin or livechat-manager role
// (and are in ROCKETCHAT_COMMAND_USERS, when it is set) may run these; anyone in the setup
// channel may read.
func (c Command) Changes() bool {
	switch c.Name {
	case Authorize, Unauthorize, Subscribe, Unsubscribe, SignOut:
		return true
	case Console:
		return true // a console session may change everything
	case Edit:
		return !c.ShowPage
	case Settings:
		return len(c.Settings) > 0
	}
	return false
}

// PageEdit is the per-page configuration edit changes.
type PageEdit struct {
	Department, Welcome, Finished, Offline *string
}

// Error is a command that cannot run: what is wrong, and how to write it.
type Error struct {
	Msg   string
	Usage string
}

func (e *Error) Error() string {
	if e.Usage == "" {
		return e.Msg
	}
	return e.Msg + "\nUsage: " + e.Usage
}

// StripTrigger returns the command part of a message, and false when the message is not a
// command. An outgoing integration may see every message of its channel; only those that
// start with the integration's trigger word or with "instagram" / "/instagram" are ours.
func StripTrigger(text, triggerWord string) (string, bool) {
	t := strings.TrimSpace(text)
	for _, w := range []string{triggerWord, "/" + Trigger, Trigger} {
		if w == "" || len(t) < len(w) || !strings.EqualFold(t[:len(w)], w) {
			continue
		}
		rest := t[len(w):]
		if r, _ := utf8.DecodeRuneInString(rest); rest == "" || isSpace(r) {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// Parse parses a command line without its trigger word. An empty line is Help.
func Parse(line string) (Command, error) {
	args, err := tokenize(line)
	if err != nil {
		return Command{}, &Error{Msg: err.Error()}
	}
	if len(args) == 0 {
		return Command{Name: Help}, nil
	}
	word := strings.ToLower(args[0])
	name, ok := aliases[word]
	if !ok {
		msg := fmt.Sprintf("Unknown command `%s`.", args[0])
		if s := suggest(word); s != "" {
			msg += fmt.Sprintf(" Did you mean `%s %s`?", Trigger, s)
		}
		return Command{}, &Error{Msg: msg + " Type `" + Trigger + " help` for the list of commands."}
	}
	cmd := Command{Name: name}
	args = args[1:]
	switch name {
	case Help:
		return cmd, nil
	case Authorize, Unauthorize, List, Console, Setup, Doctor, SignOut:
		if len(args) > 0 {
			return Command{}, &Error{Msg: fmt.Sprintf("`%s` takes no arguments.", name), Usage: Usage(name)}
		}
	case Subscribe, Unsubscribe:
		if len(args) != 1 {
			return Command{}, &Error{Msg: fmt.Sprintf("`%s` needs exactly one page.", name), Usage: Usage(name)}
		}
		if cmd.Page, err = pageRef(name, args[0]); err != nil {
			return Command{}, err
		}
	case Edit:
		if len(args) == 0 {
			return Command{}, &Error{Msg: "`edit` needs a page (its ID or Instagram username; see `" + Trigger + " list`).", Usage: Usage(name)}
		}
		if cmd.Page, err = pageRef(name, args[0]); err != nil {
			return Command{}, err
		}
		if len(args) == 1 {
			cmd.ShowPage = true
			return cmd, nil
		}
		if cmd.Edit, err = parseEdit(args[1:]); err != nil {
			return Command{}, err
		}
	case Settings:
		pairs, err := assignments(name, args)
		if err != nil {
			return Command{}, err
		}
		if cmd.Settings, err = ValidateSettings(pairs); err != nil {
			return Command{}, err
		}
	}
	return cmd, nil
}

// pageRef checks the page argument (resolved later against the connected pages).
func pageRef(cmd, ref string) (string, error) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "@")
	if ref == "" || strings.Contains(ref, "=") || len(ref) > 100 {
		return "", &Error{Msg: "The first argument must be a page ID or an Instagram username (see `" + Trigger + " list`).", Usage: Usage(cmd)}
	}
	return ref, nil
}

// assignments reads key=value arguments; keys are case-insensitive and may not repeat.
func assignments(cmd string, args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, &Error{Msg: fmt.Sprintf("`%s` is not of the form key=value (quote values with spaces: key=\"two words\").", a), Usage: Usage(cmd)}
		}
		if _, dup := out[k]; dup {
			return nil, &Error{Msg: fmt.Sprintf("`%s` is given twice.", k), Usage: Usage(cmd)}
		}
		out[k] = v
	}
	return out, nil
}

func parseEdit(args []string) (PageEdit, error) {
	var e PageEdit
	pairs, err := assignments(Edit, args)
	if err != nil {
		return e, err
	}
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		f, ok := PageFieldOf(k)
		if !ok {
			return e, &Error{Msg: fmt.Sprintf("Unknown field `%s`; a page has department, welcome, finished and offline (or the original app's labels: Department, Welcome Message, Conversation Finished Message, Default message for offline service).", k), Usage: Usage(Edit)}
		}
		if *f.of(&e) != nil {
			return e, &Error{Msg: fmt.Sprintf("`%s` is given twice.", f.Key), Usage: Usage(Edit)}
		}
		v := pairs[k]
		*f.of(&e) = &v
	}
	return ValidatePageEdit(e)
}

// ValidateSettings validates application settings (appsettings.Validate) all at once and
// returns their normalised values under their keys (aliases and the original app's labels
// are accepted); every bad one is named in the error, and nothing is valid unless all are.
// The command, the admin API and the console all change settings through this.
func ValidateSettings(values map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	var problems []string
	for _, typed := range slices.Sorted(maps.Keys(values)) {
		k := appsettings.NormalizeKey(typed)
		if _, dup := out[k]; dup {
			problems = append(problems, fmt.Sprintf("%s is given twice", k))
			continue
		}
		v, err := appsettings.Validate(k, values[typed])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out[k] = v
	}
	if len(problems) > 0 {
		return nil, &Error{Msg: "Nothing was changed: " + strings.Join(problems, "; ") + ".", Usage: Usage(Settings)}
	}
	return out, nil
}

// suggest returns the command closest to a mistyped word (at most two edits away).
func suggest(word string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if d := distance(word, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short words.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
