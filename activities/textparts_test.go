package activities

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/rocketchat"
)

func TestSplitTextKeepsBytesAndBoundaries(t *testing.T) {
	sentence := "Olá, tudo bem? 🙂 Enviamos para Lisboa em dois dias. "
	long := strings.Repeat(sentence, 60)
	tests := []struct {
		name string
		text string
	}{
		{"short", "hello"},
		{"exactly 1000 bytes", strings.Repeat("a", 1000)},
		{"multibyte sentences", long},
		{"no spaces", strings.Repeat("€", 700)},
		{"paragraphs", strings.Repeat("first paragraph line\n\n", 80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := splitText(tt.text, maxTextBytes)
			var joined []string
			for _, p := range parts {
				require.LessOrEqual(t, len(p), maxTextBytes)
				require.True(t, utf8.ValidString(p), "a character was cut in two")
				joined = append(joined, p)
			}
			squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
			require.Equal(t, squash(tt.text), squash(strings.Join(joined, "")), "nothing lost or reordered")
			if len(tt.text) <= maxTextBytes {
				require.Len(t, parts, 1)
			}
		})
	}
	parts := splitText(long, maxTextBytes)
	require.True(t, strings.HasSuffix(parts[0], "dias."), "cut at a sentence boundary, got %q", parts[0][len(parts[0])-20:])
}

func TestQuickReplies(t *testing.T) {
	text, qrs := quickReplies("What do you need? [[Track order|TRACK_ORDER]] [[Talk to a human being, please]]",
		[]rocketchat.Button{{Title: "Prices", Payload: "PRICES"}})
	require.Equal(t, "What do you need?", text)
	require.Equal(t, []instagram.QuickReply{
		{Title: "Track order", Payload: "TRACK_ORDER"},
		{Title: "Talk to a human bein", Payload: "Talk to a human being, please"},
		{Title: "Prices", Payload: "PRICES"},
	}, qrs)
	text, qrs = quickReplies("no buttons [here]", nil)
	require.Equal(t, "no buttons [here]", text)
	require.Empty(t, qrs)
}

func TestInstagramMediaLimits(t *testing.T) {
	for ctype, want := range map[string]string{"image/png": "image", "image/jpeg": "image", "video/mp4": "video",
		"audio/x-m4a": "audio", "application/pdf": "file", "image/svg+xml": "", "application/zip": ""} {
		got, _ := instagramMedia(ctype)
		require.Equal(t, want, got, ctype)
	}
	_, imageLimit := instagramMedia("image/png")
	require.Equal(t, int64(8<<20), imageLimit)
}

func TestSigned(t *testing.T) {
	require.Equal(t, "Ana Agent: hi", signed("hi", "Ana Agent", "ana", "name"))
	require.Equal(t, "ana: hi", signed("hi", "", "ana", "name"))
	require.Equal(t, "ana: hi", signed("hi", "Ana Agent", "ana", "username"))
	require.Equal(t, "hi", signed("hi", "Ana Agent", "ana", "none"))
}

func TestASCIIFileNames(t *testing.T) {
	require.Equal(t, "relat_rio_2026.pdf", asciiName("relatório 2026.pdf"))
	name := mediaFileName("aWdfZAG1faXRlbToxOk", "image/png")
	require.Regexp(t, `^instagram-[0-9a-f]{12}\.png$`, name, "named after the mid, so an upload is found again in the room")
	require.Equal(t, name, mediaFileName("aWdfZAG1faXRlbToxOk", "image/png"))
	require.NotEqual(t, name, mediaFileName("another mid", "image/png"))
}

// TestReplyContentSignsAndCarriesButtons: every agent_display_name, with and without text,
// buttons and a file. A reply that is only buttons still has a text for Instagram to show
// them under — also with "none", where it used to send nothing at all (issue 14.4).
func TestReplyContentSignsAndCarriesButtons(t *testing.T) {
	agent := rocketchat.HistoryUser{ID: "a1", Username: "ana", Name: "Ana Souza"}
	file := &rocketchat.WebhookFile{Name: "menu.pdf", Type: "application/pdf"}
	tests := []struct {
		name, msg, mode string
		file            *rocketchat.WebhookFile
		wantText        string
		wantButtons     int
	}{
		{"text, name", "Hello", "name", nil, "Ana Souza: Hello", 0},
		{"text, username", "Hello", "username", nil, "ana: Hello", 0},
		{"text, none", "Hello", "none", nil, "Hello", 0},
		{"buttons only, none", "[[Yes]] [[No|NO]]", "none", nil, "👇", 2},
		{"buttons only, name", "[[Yes]] [[No|NO]]", "name", nil, "Ana Souza: 👇", 2},
		{"buttons only, username", "[[Yes]]", "username", nil, "ana: 👇", 1},
		{"text and buttons, none", "Which one? [[A]] [[B]]", "none", nil, "Which one?", 2},
		{"file only", "", "name", file, "", 0},
		{"file with text", "the menu", "name", file, "Ana Souza: the menu", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, qrs := replyContent(rocketchat.HistoryMessage{Msg: tt.msg, U: agent, File: tt.file}, tt.mode)
			require.Equal(t, tt.wantText, text)
			require.Len(t, qrs, tt.wantButtons)
		})
	}
}
