package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNeutralize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// The bad inputs.
		{"@all look at this", "＠all look at this"},
		{"hey @here and @ana.souza!", "hey ＠here and ＠ana.souza!"},
		{"[x](javascript:alert(1))", "[x] (javascript:alert(1))"},
		{"![](http://tracker.example/p.gif)", "![] (http://tracker.example/p.gif)"},
		{"pay here: [bank](https://evil.example) now", "pay here: [bank] (https://evil.example) now"},
		{"<https://evil.example|your order>", "<https://evil.example¦your order>"},
		{"abc\u202Egnp.exe", "abc\uFFFDgnp.exe"},
		{"\u2066isolated\u2069 \u202Aembedded\u202C", "\uFFFDisolated\uFFFD \uFFFDembedded\uFFFD"},
		{"(@all)", "(＠all)"},
		{">@all", ">＠all"},
		{"line\n@all", "line\n＠all"},
		{"@@all", "@＠all"},
		// Left alone: what is not a link, mention or control.
		{"write to ana@example.com", "write to ana@example.com"},
		{"price: 10 @ 2", "price: 10 @ 2"},
		{"a | b, x < y > z", "a | b, x < y > z"},
		{"<3 and 1 | 2", "<3 and 1 | 2"},
		{"see https://shop.example/p?id=1", "see https://shop.example/p?id=1"},
		{"[not a link] (just brackets)", "[not a link] (just brackets)"},
		{"*bold* _italic_ ~strike~", "*bold* _italic_ ~strike~"},
		{"olá \u200F RLM mark stays", "olá \u200F RLM mark stays"},
		{"", ""},
		{"trailing @", "trailing @"},
		{"invalid \xff utf8", "invalid \uFFFD utf8"},
	} {
		if got := Neutralize(tt.in); got != tt.want {
			t.Errorf("Neutralize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNeutralize checks the properties every output has, whatever the input: no markdown
// link opener, no mention, no bidi control, valid UTF-8, and a second pass changes nothing.
func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"@all", "[x](y)", "![](z)", "<a|b>", "\u202E", "a@b", "]]((", "<<|>>", "@\n@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Neutralize(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", in)
		}
		if strings.Contains(out, "](") {
			t.Fatalf("link opener in %q (from %q)", out, in)
		}
		for _, r := range out {
			if isBidiControl(r) {
				t.Fatalf("bidi control in %q", out)
			}
		}
		var prev rune
		for i, r := range out {
			if r == '@' && mentionStart(prev) && nameRuneAt(out, i+1) {
				t.Fatalf("mention left in %q (from %q)", out, in)
			}
			if r == '|' && insideAngleLink(out, i) {
				t.Fatalf("<url|text> link left in %q", out)
			}
			prev = r
		}
		if again := Neutralize(out); again != out {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
	})
}

func TestCode(t *testing.T) {
	for in, want := range map[string]string{
		"casaazul.store":                 "`casaazul.store`",
		"a`b":                            "`aˋb`",
		"x` @all [phish](https://e.vil)": "`xˋ ＠all [phish] (https://e.vil)`",
		"two\nlines":                     "`two lines`",
		"":                               "``",
	} {
		if got := Code(in); got != want {
			t.Errorf("Code(%q) = %q, want %q", in, got, want)
		}
	}
}
