// Package visible holds Charter's one rule for text that people read and
// compare: asset names, licence references, media types, descriptions,
// attribution lines and dataset paths. Text must display as what it is:
// no character in it may reorder what follows it on screen, hide itself, or
// make two different strings look the same. Check is the rule; every place
// a name or path enters Charter (asset manifests and governed changes,
// dataset indexes, licence terms) calls it. docs/spec/asset-manifest.md
// ("Text") spells the rule out for other implementations.
package visible

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrRefused is matched (errors.Is) by every error Check returns.
var ErrRefused = errors.New("text holds a character that does not display as itself")

// Error says which character Check refused and where.
type Error struct {
	Rune rune   // the refused character (utf8.RuneError for invalid UTF-8)
	Char int    // its position, counting characters from 1
	Byte int    // its offset in bytes from 0
	Why  string // the class: "bidirectional control", "invisible character", ...
}

func (e *Error) Error() string {
	if e.Rune == utf8.RuneError {
		return fmt.Sprintf("invalid UTF-8 at character %d (byte %d)", e.Char, e.Byte)
	}
	name := ""
	if n, ok := names[e.Rune]; ok {
		name = " " + n
	}
	return fmt.Sprintf("%U%s at character %d (byte %d): %s", e.Rune, name, e.Char, e.Byte, e.Why)
}

// Unwrap returns ErrRefused.
func (e *Error) Unwrap() error { return ErrRefused }

// The classes of refused characters.
const (
	whyBidi      = "bidirectional controls make text display in another order than it is stored"
	whyInvisible = "invisible characters make different text look the same"
	whyControl   = "control characters do not display"
	whyLine      = "line and paragraph separators break the text"
	whyJoiner    = "a zero-width joiner is allowed only inside a word of a script that joins (between two non-ASCII letters, marks or symbols)"
	whySelector  = "a variation selector is allowed only after a non-ASCII character"
)

// names of the characters an attacker reaches for first.
var names = map[rune]string{
	0x061C: "ARABIC LETTER MARK",
	0x200B: "ZERO WIDTH SPACE",
	0x200C: "ZERO WIDTH NON-JOINER",
	0x200D: "ZERO WIDTH JOINER",
	0x200E: "LEFT-TO-RIGHT MARK",
	0x200F: "RIGHT-TO-LEFT MARK",
	0x202A: "LEFT-TO-RIGHT EMBEDDING",
	0x202B: "RIGHT-TO-LEFT EMBEDDING",
	0x202C: "POP DIRECTIONAL FORMATTING",
	0x202D: "LEFT-TO-RIGHT OVERRIDE",
	0x202E: "RIGHT-TO-LEFT OVERRIDE",
	0x2060: "WORD JOINER",
	0x2066: "LEFT-TO-RIGHT ISOLATE",
	0x2067: "RIGHT-TO-LEFT ISOLATE",
	0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE",
	0xFEFF: "ZERO WIDTH NO-BREAK SPACE",
	0x00AD: "SOFT HYPHEN",
}

// Check reports the first character of s that does not display as itself,
// as an *Error, or nil. Refused are:
//
//   - invalid UTF-8;
//   - control characters (C0, DEL, C1), except newline and tab when
//     multiline is true;
//   - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR;
//   - bidirectional controls: U+061C, U+200E, U+200F, U+202A–U+202E,
//     U+2066–U+2069;
//   - every other format character (Unicode category Cf: U+00AD, U+200B,
//     U+2060–U+2064, U+FEFF, tag characters, ...) and the fillers that
//     render blank (U+115F, U+1160, U+3164, U+FFA0);
//   - U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH JOINER, except
//     between two non-ASCII letters, marks or symbols (as in Persian and
//     Indic words and emoji sequences), where they change how text joins
//     and cannot disguise an ASCII name;
//   - variation selectors except after a non-ASCII character.
func Check(s string, multiline bool) error {
	char := 0
	var prev rune = -1
	for off, r := range s {
		char++
		refuse := func(why string) error { return &Error{Rune: r, Char: char, Byte: off, Why: why} }
		switch {
		case r == utf8.RuneError && !validAt(s, off):
			return &Error{Rune: utf8.RuneError, Char: char, Byte: off}
		case multiline && (r == '\n' || r == '\t'):
		case unicode.IsControl(r):
			return refuse(whyControl)
		case r == 0x2028 || r == 0x2029:
			return refuse(whyLine)
		case isBidi(r):
			return refuse(whyBidi)
		case r == 0x200C || r == 0x200D:
			next, _ := utf8.DecodeRuneInString(s[off+utf8.RuneLen(r):])
			if !joins(prev) || !joins(next) {
				return refuse(whyJoiner)
			}
		case unicode.Is(unicode.Cf, r) || isFiller(r):
			return refuse(whyInvisible)
		case unicode.Is(unicode.Variation_Selector, r):
			if prev < utf8.RuneSelf {
				return refuse(whySelector)
			}
		}
		prev = r
	}
	return nil
}

// validAt reports whether the U+FFFD at s[off:] is really written there
// (rather than standing for invalid bytes).
func validAt(s string, off int) bool {
	_, n := utf8.DecodeRuneInString(s[off:])
	return n == 3
}

func isBidi(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isFiller reports the Hangul fillers, letters that render blank.
func isFiller(r rune) bool { return r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0 }

// joins reports whether r may stand next to a zero-width (non-)joiner: a
// non-ASCII letter, mark or symbol (emoji, including skin-tone modifiers).
func joins(r rune) bool {
	if r < utf8.RuneSelf || r == utf8.RuneError || isFiller(r) {
		return false
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.So, unicode.Sk)
}
