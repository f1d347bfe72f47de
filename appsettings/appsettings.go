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

// Doc describes one setting for help texts and the admin API.
type Doc struct {
	Key, Default, Allowed, Meaning string
}

// Docs lists every setting, in the order help texts show them.
var Docs = []Doc{
	{AgentDisplayName, "name", "name, username, none", "how an agent's reply is signed on Instagram"},
	{UnsendAction, "mark", "delete, mark, keep", "what happens in the room when a customer unsends a message"},
	{FileUploadEnabled, "true", "true, false", "share files between Instagram and Rocket.Chat"},
	{MaxUploadBytes, "26214400", "bytes", "largest file shared in either direction"},
	{AcceptedMediaTypes, "image/*,video/*,audio/*,application/pdf", "MIME types, type/* allowed", "media types shared"},
	{HandoverAction, "none", "none, take, request", "thread-control action before an agent's message is sent"},
	{HandoverMetadata, "rocketchat-agent", "text", "metadata passed with every thread-control call"},
	{PassBackAppID, "", "app ID or empty", "app that gets thread control back when a conversation closes"},
	{HumanAgentTag, "true", "true, false", "send human replies 24 h–7 d after the customer's last message with the HUMAN_AGENT tag"},
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
		return oneOf("delete", "mark", "keep")
	case HandoverAction:
		return oneOf("none", "take", "request")
	case FileUploadEnabled, HumanAgentTag:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", fmt.Errorf("%s must be true or false, not %q", key, value)
		}
		return strconv.FormatBool(b), nil
	case MaxUploadBytes:
		n, err := strconv.ParseInt(v, 10, 64)
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
