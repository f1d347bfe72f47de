package commands

import (
	"errors"
	"strings"
)

// errUnterminated is returned for a quote that is never closed.
var errUnterminated = errors.New("a quoted value is missing its closing quote")

// closing maps each opening quote to the quote that closes it. Chat clients turn "…" into
// typographic quotes as people type, so those count too.
var closing = map[rune]rune{'"': '"', '“': '”', '„': '“', '«': '»'}

// tokenize splits a command line at whitespace. Quotes group words, anywhere in a token,
// so `welcome="Hi there"` is one token `welcome=Hi there`; inside quotes a backslash
// escapes the next character.
func tokenize(s string) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		inToken bool
		quote   rune // closing quote we are waiting for; 0 outside quotes
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0 && r == '\\':
			escaped = true
		case quote != 0 && (r == quote || (quote == '”' && r == '"')):
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case closing[r] != 0:
			quote, inToken = closing[r], true
		case isSpace(r):
			if inToken {
				out = append(out, cur.String())
				cur.Reset()
				inToken = false
			}
		default:
			cur.WriteRune(r)
			inToken = true
		}
	}
	if quote != 0 {
		return nil, errUnterminated
	}
	if inToken {
		out = append(out, cur.String())
	}
	return out, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0'
}
