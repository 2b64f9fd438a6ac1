package visible_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charter-dev/charter/internal/visible"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		s         string
		multiline bool
		char      int  // 1-based position of the refused character; 0: accepted
		r         rune // the refused character
	}{
		{"ascii", "greetings.txt", false, 0, 0},
		{"empty", "", false, 0, 0},
		{"accents", "café – naïve ☕", false, 0, 0},
		{"decomposed accent", "cafe\u0301", false, 0, 0},
		{"hebrew", "שלום.txt", false, 0, 0},
		{"arabic", "مرحبا", false, 0, 0},
		{"persian ZWNJ", "می\u200cخواهم", false, 0, 0},
		{"devanagari ZWJ", "क्\u200dष", false, 0, 0},
		{"emoji ZWJ family", "👨\u200d👩\u200d👧", false, 0, 0},
		{"emoji flag VS16 ZWJ", "🏳\ufe0f\u200d🌈", false, 0, 0},
		{"CJK variation selector", "葛\U000E0100", false, 0, 0},
		{"newline in text", "line one\nline two\tend", true, 0, 0},

		{"RLO trojan", "invoice\u202Efdp.exe", false, 8, 0x202E},
		{"LRO", "\u202Dabc", false, 1, 0x202D},
		{"RLE", "a\u202Bb", false, 2, 0x202B},
		{"LRE", "a\u202Ab", false, 2, 0x202A},
		{"PDF", "a\u202Cb", false, 2, 0x202C},
		{"LRI", "a\u2066b", false, 2, 0x2066},
		{"RLI", "a\u2067b", false, 2, 0x2067},
		{"FSI", "a\u2068b", false, 2, 0x2068},
		{"PDI", "a\u2069b", false, 2, 0x2069},
		{"LRM", "a\u200Eb", false, 2, 0x200E},
		{"RLM even in hebrew", "של\u200Fום", false, 3, 0x200F},
		{"ALM", "a\u061Cb", false, 2, 0x061C},
		{"ZWSP", "ad\u200Bmin", false, 3, 0x200B},
		{"ZWJ in ascii", "ad\u200Dmin", false, 3, 0x200D},
		{"ZWNJ in ascii", "ad\u200Cmin", false, 3, 0x200C},
		{"ZWJ at end of word", "می\u200d", false, 3, 0x200D},
		{"ZWJ at start", "\u200dمی", false, 1, 0x200D},
		{"two joiners", "م\u200d\u200dی", false, 2, 0x200D},
		{"word joiner", "a\u2060b", false, 2, 0x2060},
		{"BOM", "\uFEFFname", false, 1, 0xFEFF},
		{"soft hyphen", "pay\u00ADpal", false, 4, 0x00AD},
		{"invisible times", "a\u2062b", false, 2, 0x2062},
		{"tag character", "a\U000E0041", false, 2, 0xE0041},
		{"hangul filler", "a\u3164b", false, 2, 0x3164},
		{"VS16 after ascii", "admin\uFE0F", false, 6, 0xFE0F},
		{"NUL", "a\x00b", false, 2, 0},
		{"newline in name", "a\nb", false, 2, '\n'},
		{"tab in name", "a\tb", false, 2, '\t'},
		{"CR in text", "a\rb", true, 2, '\r'},
		{"DEL", "a\x7fb", false, 2, 0x7f},
		{"C1", "a\u0085b", false, 2, 0x85},
		{"line separator", "a\u2028b", true, 2, 0x2028},
		{"paragraph separator", "a\u2029b", false, 2, 0x2029},
		{"invalid UTF-8", "ab\xffc", false, 3, utf8.RuneError},
		{"position counts characters not bytes", "ééé\u202E", false, 4, 0x202E},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := visible.Check(tc.s, tc.multiline)
			if tc.char == 0 {
				if err != nil {
					t.Fatalf("Check(%+q) = %v, want accepted", tc.s, err)
				}
				return
			}
			var e *visible.Error
			if !errors.As(err, &e) || !errors.Is(err, visible.ErrRefused) {
				t.Fatalf("Check(%+q) = %v, want a *visible.Error", tc.s, err)
			}
			if e.Char != tc.char || e.Rune != tc.r {
				t.Fatalf("Check(%+q) refused %U at character %d, want %U at %d", tc.s, e.Rune, e.Char, tc.r, tc.char)
			}
			if !strings.Contains(err.Error(), "at character") {
				t.Fatalf("error does not name the position: %v", err)
			}
		})
	}
}

func TestErrorNamesCharacter(t *testing.T) {
	err := visible.Check("invoice\u202Efdp.exe", false)
	want := "U+202E RIGHT-TO-LEFT OVERRIDE at character 8 (byte 7): bidirectional controls make text display in another order than it is stored"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// FuzzCheck: an accepted string holds no bidi control, no format character
// outside a joining word, no control; a refused one is refused at the
// position reported, and everything before it is accepted.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"greetings.txt", "invoice\u202Efdp.exe", "می\u200cخواهم", "ad\u200Dmin", "a\nb", "\xff", "👨\u200d👩", "葛\U000E0100", "a\u2066b\u2069"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		err := visible.Check(s, multiline)
		if err == nil {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %+q", s)
			}
			for _, r := range s {
				bidi := r == 0x061C || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
				format := unicode.Is(unicode.Cf, r) && r != 0x200C && r != 0x200D
				control := unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))
				if bidi || format || control || r == 0x2028 || r == 0x2029 {
					t.Fatalf("accepted %+q holding %U", s, r)
				}
			}
			return
		}
		var e *visible.Error
		if !errors.As(err, &e) {
			t.Fatalf("error is not a *visible.Error: %v", err)
		}
		if e.Byte < 0 || e.Byte >= len(s) {
			t.Fatalf("byte offset %d outside %+q", e.Byte, s)
		}
		if got := utf8.RuneCountInString(s[:e.Byte]) + 1; got != e.Char {
			t.Fatalf("character %d, but byte %d is character %d", e.Char, e.Byte, got)
		}
		if e.Rune != utf8.RuneError {
			if r, _ := utf8.DecodeRuneInString(s[e.Byte:]); r != e.Rune {
				t.Fatalf("reported %U, the text holds %U there", e.Rune, r)
			}
		}
		if visible.Check(s[:e.Byte], multiline) != nil {
			t.Fatalf("the prefix before the refused character is refused too: %+q", s[:e.Byte])
		}
	})
}
