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
