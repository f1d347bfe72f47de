// Package safetext makes text that came from a customer or from Meta safe to post into
// Rocket.Chat, where it is rendered as Rocket.Chat markdown and scanned for mentions:
//
//   - a markdown link or image, [x](javascript:…) or ![](http://tracker), would become a
//     link (or an image loaded by every agent's browser) in a note the bot signs;
//   - <https://example.com|text> is Rocket.Chat's other link syntax;
//   - @all, @here or @someone would notify the whole workspace, or a chosen user, in the
//     name of the bot (a livechat manager);
//   - bidi controls (U+202E …) make a text read differently from what it is.
//
// Neutralize keeps the text readable and changes as little as it can: it breaks each
// construct by a visible, harmless substitution rather than by escaping, because
// Rocket.Chat's message parser has no general escape character.
//
// The package is pure: no I/O, no clock, no randomness, no maps. Workflow code calls it.
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Substitutions. Each keeps the look of the text and cannot start the construct it
// replaces.
const (
	// fullwidthAt replaces an @ that would start a mention.
	fullwidthAt = '＠' // U+FF20
	// brokenBar replaces the | of a <url|text> link.
	brokenBar = '¦' // U+00A6
	// replacement stands for a removed bidi control, so the agent sees something was there.
	replacement = '\uFFFD'
)

// Neutralize returns s with links, images, mentions and bidi controls made inert. It is
// idempotent: neutralizing twice changes nothing more.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, string(replacement))
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var prev rune // last rune written ("start of text" = 0)
	for i, r := range s {
		switch {
		case isBidiControl(r):
			r = replacement
		case r == '(' && prev == ']':
			// [title](url) and ![alt](url) need "](" exactly; "] (" is text.
			b.WriteByte(' ')
		case r == '@' && mentionStart(prev) && nameRuneAt(s, i+1):
			r = fullwidthAt
		case r == '|' && insideAngleLink(s, i):
			r = brokenBar
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// isBidiControl: the embedding, override and isolate controls (U+202A–U+202E,
// U+2066–U+2069). The marks U+200E/U+200F only affect neutral characters and stay.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// mentionStart reports whether an @ after prev can start a mention. Rocket.Chat treats
// "name@host" as text (an e-mail address), so only an @ at the start of the text or after
// something that is not part of a word or an address can mention anyone.
func mentionStart(prev rune) bool {
	if prev == 0 {
		return true
	}
	return !(unicode.IsLetter(prev) || unicode.IsDigit(prev) || strings.ContainsRune("._%+-", prev))
}

// nameRuneAt reports whether s[i:] starts with a character a user or channel name (or all,
// here) can start with.
func nameRuneAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r)
}

// insideAngleLink reports whether the | at s[i] is inside <…> on one line, where
// Rocket.Chat would read <url|title> as a link.
func insideAngleLink(s string, i int) bool {
	open := strings.LastIndexAny(s[:i], "<>\n")
	if open < 0 || s[open] != '<' {
		return false
	}
	closeAt := strings.IndexAny(s[i:], "<>\n")
	return closeAt >= 0 && s[i+closeAt] == '>'
}

// graveAccent replaces a backtick inside a code span, which would end it.
const graveAccent = 'ˋ' // U+02CB

// Code returns s as an inline code span (`s`) that nothing in s can end early: the text is
// neutralized, its backticks become ˋ and line breaks spaces. What Meta or a customer
// chose (a page name, a username, an id) is shown this way in the bot's answers.
func Code(s string) string {
	s = Neutralize(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '`':
			return graveAccent
		case '\n', '\r':
			return ' '
		}
		return r
	}, s)
	return "`" + s + "`"
}
