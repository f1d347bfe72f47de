package activities

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/rocketchat"
)

// Instagram limits (spec instagram §4.2, trap 20).
const (
	maxTextBytes     = 1000 // UTF-8 bytes, not characters
	maxQuickReplies  = 13
	maxQuickReplyLen = 20 // characters; Meta truncates longer titles
)

// buttonSyntax is how an agent types quick replies: [[Title]] or [[Title|PAYLOAD]] anywhere
// in the message (documented in README).
var buttonSyntax = regexp.MustCompile(`\[\[([^\[\]|]+)(?:\|([^\[\]]+))?\]\]`)

// quickReplies takes the agent's buttons (typed, or Rocket.Chat action buttons) out of the
// text and returns Instagram quick replies, titles truncated to Instagram's 20 characters.
func quickReplies(text string, buttons []rocketchat.Button) (string, []instagram.QuickReply) {
	var qrs []instagram.QuickReply
	add := func(title, payload string) {
		title = strings.TrimSpace(title)
		if title == "" {
			return
		}
		if payload = strings.TrimSpace(payload); payload == "" {
			payload = title
		}
		if r := []rune(title); len(r) > maxQuickReplyLen {
			title = string(r[:maxQuickReplyLen])
		}
		qrs = append(qrs, instagram.QuickReply{Title: title, Payload: payload})
	}
	for _, m := range buttonSyntax.FindAllStringSubmatch(text, -1) {
		add(m[1], m[2])
	}
	for _, b := range buttons {
		add(b.Title, b.Payload)
	}
	if len(qrs) > 0 {
		text = strings.TrimSpace(buttonSyntax.ReplaceAllString(text, ""))
	}
	return text, qrs
}

// splitText cuts a text into parts of at most max UTF-8 bytes, preferring paragraph, line,
// sentence and word boundaries, and never cutting a character in two.
func splitText(text string, max int) []string {
	var parts []string
	for len(text) > max {
		cut := bestCut(text[:max+1])
		if cut <= 0 {
			cut = max
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
		}
		parts = append(parts, strings.TrimRight(text[:cut], " \n"))
		text = strings.TrimLeft(text[cut:], " \n")
	}
	if text != "" || len(parts) == 0 {
		parts = append(parts, text)
	}
	return parts
}

// bestCut finds the last good boundary in window (whose last byte is beyond the limit).
func bestCut(window string) int {
	limit := len(window) - 1
	for _, sep := range []string{"\n\n", "\n", ". ", "! ", "? ", " "} {
		if i := strings.LastIndex(window[:limit], sep); i > limit/2 {
			return i + len(sep)
		}
	}
	return -1
}
