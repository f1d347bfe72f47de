package appsettings

import "testing"

func TestValidate(t *testing.T) {
	tests := []struct {
		key, in, want string
		ok            bool
	}{
		{AgentDisplayName, " Username ", "username", true},
		{AgentDisplayName, "nickname", "", false},
		{UnsendAction, "DELETE", "delete", true},
		{FileUploadEnabled, "0", "false", true},
		{FileUploadEnabled, "maybe", "", false},
		{MaxUploadBytes, "1048576", "1048576", true},
		{MaxUploadBytes, "-1", "", false},
		{MaxUploadBytes, "104857600", "104857600", true},
		{MaxUploadBytes, "104857601", "", false},
		{MaxUploadBytes, "9223372036854775807", "", false},
		{AcceptedMediaTypes, "image/*, Video/MP4 ,application/pdf", "image/*,video/mp4,application/pdf", true},
		{AcceptedMediaTypes, "images", "", false},
		{PassBackAppID, "1217981644879628", "1217981644879628", true},
		{PassBackAppID, "abc", "", false},
		{"no_such_key", "x", "", false},
	}
	for _, tt := range tests {
		got, err := Validate(tt.key, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Validate(%q, %q) = %q, %v; want %q ok=%v", tt.key, tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFromMapDefaultsAndOverrides(t *testing.T) {
	d := Defaults()
	if d.AgentDisplayName != "name" || !d.FileUploadEnabled || d.UnsendAction != "mark" || !d.HumanAgentTag {
		t.Fatalf("unexpected defaults %+v", d)
	}
	s, err := FromMap(map[string]string{AgentDisplayName: "username", "from_the_future": "x"})
	if err != nil || s.AgentDisplayName != "username" {
		t.Fatalf("got %+v, %v", s, err)
	}
	if _, err := FromMap(map[string]string{MaxUploadBytes: "lots"}); err == nil {
		t.Fatal("invalid stored value accepted")
	}
}

func TestAcceptsMediaType(t *testing.T) {
	s := Defaults()
	s.AcceptedMediaTypes = []string{"image/*", "video/mp4"}
	for mime, want := range map[string]bool{"image/png": true, "IMAGE/JPEG; q=1": true, "video/mp4": true, "video/webm": false, "application/pdf": false} {
		if got := s.AcceptsMediaType(mime); got != want {
			t.Errorf("%s: got %v want %v", mime, got, want)
		}
	}
}

func TestOriginalAppValuesAndKeys(t *testing.T) {
	for _, tt := range []struct{ key, in, want string }{
		{UnsendAction, "yes", "delete"},
		{UnsendAction, "No", "keep"},
		{HandoverAction, "Take Thread Control", "take"},
		{HandoverAction, "request_thread_control", "request"},
		{MaxUploadBytes, "25MB", "26214400"},
		{MaxUploadBytes, "512 KB", "524288"},
		{MaxUploadBytes, "100MiB", "104857600"},
	} {
		got, err := Validate(tt.key, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Validate(%q, %q) = %q, %v; want %q", tt.key, tt.in, got, err, tt.want)
		}
	}
	if _, err := Validate(MaxUploadBytes, "101MB"); err == nil {
		t.Error("101MB accepted")
	}
	for typed, want := range map[string]string{
		"Agents Display Name": AgentDisplayName, "agents_display_name": AgentDisplayName, "AGENT_DISPLAY_NAME": AgentDisplayName,
		"File Upload Enabled": FileUploadEnabled, "Maximum File Size": MaxUploadBytes, "Accepted Media Types": AcceptedMediaTypes,
		`Delete messages once it has been "Unsend" from Instagram`: UnsendAction,
		"Instagram Handover Protocol Action":                       HandoverAction, "instagram-handover-protocol-metadata": HandoverMetadata,
		"colour": "colour",
	} {
		if got := NormalizeKey(typed); got != want {
			t.Errorf("NormalizeKey(%q) = %q, want %q", typed, got, want)
		}
	}
	for _, d := range Docs {
		if d.Label == "" || d.Help == "" || d.Meaning == "" {
			t.Errorf("%s lacks a label or help text", d.Key)
		}
		if _, err := Validate(d.Key, d.Default); err != nil {
			t.Errorf("%s: default %q invalid: %v", d.Key, d.Default, err)
		}
		for _, c := range d.Choices {
			if v, err := Validate(d.Key, c.Value); err != nil || v != c.Value {
				t.Errorf("%s: choice %q normalises to %q, %v", d.Key, c.Value, v, err)
			}
		}
	}
}
