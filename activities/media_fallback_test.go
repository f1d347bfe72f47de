package activities

import (
	"strings"
	"testing"
)

// TestMediaFallbackIsNeutralised (issue 20, item 3): the message for media that is not
// copied into the room carries the customer's text; a mention or a link in it stays text.
func TestMediaFallbackIsNeutralised(t *testing.T) {
	got := mediaFallbackText("📎 image from the customer: @all [Re-authorize now](https://evil.example/login)\nhttps://lookaside.fbsbx.com/x", "Meta answered HTTP 404")
	for _, bad := range []string{"@all", "]("} {
		if strings.Contains(got, bad) {
			t.Errorf("%q survives: %s", bad, got)
		}
	}
	if !strings.Contains(got, "https://lookaside.fbsbx.com/x") || !strings.Contains(got, "not shown here: Meta answered HTTP 404") {
		t.Errorf("the link and the reason must stay readable: %s", got)
	}
}
