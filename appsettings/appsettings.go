// Package appsettings defines the application-wide settings admins edit (`instagram
// settings key=value`, PUT /admin/api/settings): their keys, defaults, validation and
// typed form. Values are stored as text in the app_settings table; this package is the
// only place that knows what they mean. It does no I/O.
package appsettings

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Keys of the settings.
const (
	AgentDisplayName   = "agent_display_name"   // name | username | none: how replies are signed on Instagram
	UnsendAction       = "unsend_action"        // delete | mark | keep: what a customer's unsend does in the room
	FileUploadEnabled  = "file_upload_enabled"  // true | false
	MaxUploadBytes     = "max_upload_bytes"     // integer, bytes
	AcceptedMediaTypes = "accepted_media_types" // comma-separated MIME types, type/* wildcards
	HandoverAction     = "handover_action"      // none | take | request: before an agent's message
	HandoverMetadata   = "handover_metadata"    // string passed with thread-control calls
	PassBackAppID      = "pass_back_app_id"     // app to pass control to on close ("" = don't)
	HumanAgentTag      = "human_agent_tag"      // true | false: tag human replies between 24 h and 7 days
)

// MaxUploadBytesLimit bounds max_upload_bytes: a transfer streams through the worker and
// holds one of its few transfer slots (and Rocket.Chat's default upload limit is the
// same 100 MiB; Instagram's own is 25 MB).
const MaxUploadBytesLimit = 100 << 20

// Doc describes one setting for help texts, the console and the admin API. Label is the
// label of Rocket.Chat's own Instagram Direct app for the settings it had (Original), ours
// for the others; Aliases are the other keys admins may type (the label in snake case).
type Doc struct {
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Original bool     `json:"original"`
	Default  string   `json:"default"`
	Allowed  string   `json:"allowed"`
	Meaning  string   `json:"meaning"`
	Help     string   `json:"help"`
	Choices  []Choice `json:"choices,omitempty"`
	Aliases  []string `json:"aliases,omitempty"`
}

// Choice is one value of a setting with a fixed set of values, as the console lists it.
type Choice struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

var onOff = []Choice{{"true", "Enabled"}, {"false", "Disabled"}}

// Docs lists every setting, in the order help texts and the console show them: the
// original app's settings in its order, then ours.
var Docs = []Doc{
	{Key: AgentDisplayName, Label: "Agents Display Name", Original: true, Default: "name", Allowed: "name, username, none",
		Meaning: "how an agent's reply is signed on Instagram",
		Help:    "Whether customers see the agent's name (\"Ana Souza: Hello\"), username (\"ana: Hello\") or nothing (\"Hello\") before each reply.",
		Choices: []Choice{{"name", "Name"}, {"username", "Username"}, {"none", "None"}}, Aliases: []string{"agents_display_name"}},
	{Key: FileUploadEnabled, Label: "File Upload Enabled", Original: true, Default: "true", Allowed: "true, false",
		Meaning: "share files between Instagram and Rocket.Chat",
		Help:    "Off: customers' images, videos, audio and files are not copied into the room (the room gets a note with the link), and agents' files are not sent (the agent gets a note). Applies both ways.",
		Choices: onOff, Aliases: []string{"file_upload", "file_sharing"}},
	{Key: MaxUploadBytes, Label: "Maximum File Size", Original: true, Default: "26214400", Allowed: "bytes (or KB, MB with a unit), 1 to 104857600",
		Meaning: "largest file shared in either direction",
		Help:    "In bytes; 25 MB is 26214400 (a unit is accepted too: 25MB, 512KB, binary units as Rocket.Chat counts them). Instagram's own limits apply on top: images 8 MB, other files 25 MB.",
		Aliases: []string{"maximum_file_size", "max_file_size"}},
	{Key: AcceptedMediaTypes, Label: "Accepted Media Types", Original: true, Default: "image/*,video/*,audio/*,application/pdf", Allowed: "MIME types, type/* allowed",
		Meaning: "media types shared",
		Help:    "Comma-separated MIME types; image/* accepts every image. Applies both ways: a customer's file of another type reaches the room as a note with its link, an agent's comes back to the agent as a note.",
		Aliases: []string{"accepted_media_types", "media_types"}},
	{Key: UnsendAction, Label: "Delete messages once it has been \"Unsend\" from Instagram", Original: true, Default: "mark", Allowed: "delete, mark, keep",
		Meaning: "what happens in the room when a customer unsends a message",
		Help:    "delete removes the message (and its file) from the room; mark replaces it with \"🚫 Unsent by the customer\"; keep leaves it and adds a note. The original app's yes/no: yes is delete, no is keep.",
		Choices: []Choice{{"delete", "Delete the message"}, {"mark", "Replace it with \"Unsent\""}, {"keep", "Keep it and add a note"}},
		Aliases: []string{"delete_messages_once_it_has_been_unsend_from_instagram", "delete_messages_once_unsend_from_instagram", "delete_unsent_messages"}},
	{Key: HandoverAction, Label: "Instagram Handover Protocol Action", Original: true, Default: "none", Allowed: "none, take, request",
		Meaning: "thread-control action before an agent's message is sent",
		Help:    "When another app owns the Instagram thread (Meta's conversation routing), what to do before sending an agent's message: nothing (the reply waits until control comes back), take thread control (works only when this app is the default/primary app in the page's conversation routing), or request it from the owner.",
		Choices: []Choice{{"none", "None"}, {"take", "Take Thread Control"}, {"request", "Request Thread Control"}},
		Aliases: []string{"instagram_handover_protocol_action", "handover_protocol_action"}},
	{Key: HandoverMetadata, Label: "Instagram Handover Protocol Metadata", Original: true, Default: "rocketchat-agent", Allowed: "text",
		Meaning: "metadata passed with every thread-control call",
		Help:    "Passed along with every thread-control request, e.g. a custom payload for the other app. At most 1000 characters.",
		Aliases: []string{"instagram_handover_protocol_metadata", "handover_protocol_metadata"}},
	{Key: PassBackAppID, Label: "Pass thread control back to app", Default: "", Allowed: "app ID or empty",
		Meaning: "app that gets thread control back when a conversation closes",
		Help:    "The Meta app ID that gets thread control when an agent closes the conversation (e.g. 1217981644879628, Meta's Instagram inbox); empty keeps it.",
		Aliases: []string{"pass_back_app", "pass_back"}},
	{Key: HumanAgentTag, Label: "Human agent tag (7-day window)", Default: "true", Allowed: "true, false",
		Meaning: "send human replies 24 h–7 d after the customer's last message with the HUMAN_AGENT tag",
		Help:    "On: between 24 hours and 7 days after the customer's last message, agents' replies go with Meta's HUMAN_AGENT tag (the app needs the Human Agent permission). Off, or past 7 days: the agent gets a note that the reply cannot be sent.",
		Choices: onOff, Aliases: []string{"human_agent"}},
}

// DocOf returns the documentation of a key.
func DocOf(key string) (Doc, bool) {
	for _, d := range Docs {
		if d.Key == key {
			return d, true
		}
	}
	return Doc{}, false
}

// NormalizeKey maps what an admin typed — a key, an alias, or the original app's label in
// any case, with spaces, hyphens or quotes ("Agents Display Name") — to the setting's key.
// Unknown names are returned normalised, for the error message.
func NormalizeKey(typed string) string {
	k := Snake(typed)
	for _, d := range Docs {
		if k == d.Key || k == Snake(d.Label) {
			return d.Key
		}
		for _, a := range d.Aliases {
			if k == a {
				return d.Key
			}
		}
	}
	return k
}

// Snake lowercases and turns every run of characters other than letters and digits into
// one underscore: `Delete messages once it has been "Unsend" from Instagram` →
// delete_messages_once_it_has_been_unsend_from_instagram. The keys the original app's labels
// give, for settings and page fields alike.
func Snake(s string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	return b.String()
}

// Settings is the typed form.
type Settings struct {
	AgentDisplayName   string   `json:"agent_display_name"`
	UnsendAction       string   `json:"unsend_action"`
	FileUploadEnabled  bool     `json:"file_upload_enabled"`
	MaxUploadBytes     int64    `json:"max_upload_bytes"`
	AcceptedMediaTypes []string `json:"accepted_media_types"`
	HandoverAction     string   `json:"handover_action"`
	HandoverMetadata   string   `json:"handover_metadata"`
	PassBackAppID      string   `json:"pass_back_app_id"`
	HumanAgentTag      bool     `json:"human_agent_tag"`
}

// Defaults returns the settings with every default applied.
func Defaults() Settings {
	s, err := FromMap(nil)
	if err != nil {
		panic(err) // the defaults above are valid
	}
	return s
}

// Validate checks one value and returns its normalised text form.
func Validate(key, value string) (string, error) {
	v := strings.TrimSpace(value)
	oneOf := func(allowed ...string) (string, error) {
		lv := strings.ToLower(v)
		for _, a := range allowed {
			if lv == a {
				return a, nil
			}
		}
		return "", fmt.Errorf("%s must be one of %s, not %q", key, strings.Join(allowed, ", "), value)
	}
	switch key {
	case AgentDisplayName:
		return oneOf("name", "username", "none")
	case UnsendAction:
		// The original app's setting was a yes/no "delete messages once unsent".
		switch strings.ToLower(v) {
		case "true", "yes", "on":
			return "delete", nil
		case "false", "no", "off":
			return "keep", nil
		}
		return oneOf("delete", "mark", "keep")
	case HandoverAction:
		switch Snake(v) {
		case "take_thread_control":
			return "take", nil
		case "request_thread_control":
			return "request", nil
		}
		return oneOf("none", "take", "request")
	case FileUploadEnabled, HumanAgentTag:
		switch strings.ToLower(v) {
		case "yes", "on", "enabled":
			v = "true"
		case "no", "off", "disabled":
			v = "false"
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%s must be true or false, not %q", key, value)
		}
		return strconv.FormatBool(b), nil
	case MaxUploadBytes:
		n, err := parseBytes(v)
		if err != nil || n < 1 || n > MaxUploadBytesLimit {
			return "", fmt.Errorf("%s must be a number of bytes from 1 to %d (100 MiB), not %q", key, MaxUploadBytesLimit, value)
		}
		return strconv.FormatInt(n, 10), nil
	case AcceptedMediaTypes:
		var out []string
		for _, t := range strings.Split(v, ",") {
			t = strings.ToLower(strings.TrimSpace(t))
			if t == "" {
				continue
			}
			major, minor, ok := strings.Cut(t, "/")
			if !ok || major == "" || minor == "" || strings.ContainsAny(t, " ;") {
				return "", fmt.Errorf("%s: %q is not a MIME type like image/png or image/*", key, t)
			}
			out = append(out, t)
		}
		return strings.Join(out, ","), nil
	case HandoverMetadata:
		if len(v) > 1000 {
			return "", fmt.Errorf("%s must be at most 1000 characters", key)
		}
		return v, nil
	case PassBackAppID:
		for _, r := range v {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("%s must be a numeric Meta app ID or empty", key)
			}
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown setting %q (known: %s)", key, strings.Join(KeyNames(), ", "))
}

// parseBytes reads a size: plain bytes, or a number with KB/KiB, MB/MiB (binary, as
// Rocket.Chat's file upload settings count them).
func parseBytes(v string) (int64, error) {
	num := strings.TrimSpace(v)
	mult := int64(1)
	lower := strings.ToLower(num)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10}, {"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > MaxUploadBytesLimit {
		return 0, fmt.Errorf("not a size")
	}
	return n * mult, nil
}

// KeyNames lists the known keys, sorted.
func KeyNames() []string {
	out := make([]string, 0, len(Docs))
	for _, d := range Docs {
		out = append(out, d.Key)
	}
	sort.Strings(out)
	return out
}

// FromMap builds the typed settings from stored values; missing keys take their defaults,
// and unknown keys (from a newer version) are ignored.
func FromMap(stored map[string]string) (Settings, error) {
	get := func(key string) (string, error) {
		raw, ok := stored[key]
		if !ok {
			for _, d := range Docs {
				if d.Key == key {
					raw = d.Default
				}
			}
		}
		return Validate(key, raw)
	}
	var s Settings
	var err error
	must := func(key string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = get(key)
		return v
	}
	s.AgentDisplayName = must(AgentDisplayName)
	s.UnsendAction = must(UnsendAction)
	s.FileUploadEnabled = must(FileUploadEnabled) == "true"
	s.MaxUploadBytes, _ = strconv.ParseInt(must(MaxUploadBytes), 10, 64)
	if types := must(AcceptedMediaTypes); types != "" {
		s.AcceptedMediaTypes = strings.Split(types, ",")
	}
	s.HandoverAction = must(HandoverAction)
	s.HandoverMetadata = must(HandoverMetadata)
	s.PassBackAppID = must(PassBackAppID)
	s.HumanAgentTag = must(HumanAgentTag) == "true"
	return s, err
}

// AcceptsMediaType reports whether a MIME type is in AcceptedMediaTypes (type/* wildcards).
func (s Settings) AcceptsMediaType(mime string) bool {
	mime = strings.ToLower(strings.TrimSpace(strings.Split(mime, ";")[0]))
	major, _, _ := strings.Cut(mime, "/")
	for _, t := range s.AcceptedMediaTypes {
		if t == "*/*" || t == mime || (strings.HasSuffix(t, "/*") && strings.TrimSuffix(t, "/*") == major) {
			return true
		}
	}
	return false
}
