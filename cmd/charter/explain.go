package main

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/visible"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// hinted is an error with a user-facing message in place of its own; it
// still matches what it wraps.
type hinted struct {
	msg string
	err error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Unwrap() error { return h.err }

// userWords rewrites what only makes sense to a Go programmer: package
// prefixes of sentinel errors ("content: "), the encoding/json and os
// packages' wording. Applied to every error a command returns.
var userWords = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(^|: |\n|\()(asset|content|identity|license|grant|ledger|receipt|registry|catalog|client|httpsig|car|blob|auditlog|metering|settlement|lease|crowd|api|server|dsse|datadir|dirlock|toml|credential|governance)(/\w+)?: `), "$1"},
	{regexp.MustCompile(`json: cannot unmarshal (\w+) into Go (?:struct field|value) \S*?\.?(\w*) of type \S+`), `field "$2" holds a $1 of the wrong kind`},
	{regexp.MustCompile(`: want multicodec ed25519-pub \(0xed01\) and a 32-byte key`), ": the part after did:key: is not an Ed25519 public key"},
	{regexp.MustCompile(`json: unknown field "(\w+)"`), `unknown field "$1"`},
	{regexp.MustCompile(`(not valid JSON at byte \d+): .*`), "$1"},
	{regexp.MustCompile(`invalid character '.+?' [a-z ]+`), "text that is not JSON"},
	{regexp.MustCompile(`unexpected end of JSON input|unexpected EOF`), "the text ends too early"},
	{regexp.MustCompile(`(?:open|stat|lstat|read|mkdir|chdir) (\S+): not a directory`), "$1: part of that path is a file, not a folder"},
	{regexp.MustCompile(`(?:open|stat|lstat|read) (\S+): no such file or directory`), "$1: no such file or folder"},
	{regexp.MustCompile(`read (\S+): is a directory`), "$1 is a folder; a file is needed here"},
	{regexp.MustCompile(`(?:open|stat|lstat|read|mkdir) (\S+): permission denied`), "$1: permission denied"},
	{regexp.MustCompile(`strconv\.\w+: parsing "(.*?)": invalid syntax`), `"$1" is not a number`},
	{regexp.MustCompile(`strconv\.\w+: parsing "(.*?)": value out of range`), `"$1" is too large`},
	{regexp.MustCompile(`parsing time "(.*?)"(?: as ".*?")?: .*`), `"$1" is not a time (want 2026-12-05 or 2026-12-05T10:00:00Z)`},
	{regexp.MustCompile(`time: invalid duration "(.*?)"`), `"$1" is not a duration (want a number and a unit: 90s, 15m, 72h)`},
	{regexp.MustCompile(`time: missing unit in duration "(.*?)"`), `"$1" has no unit (want 90s, 15m, 72h)`},
}

func inUserWords(msg string) string {
	for _, w := range userWords {
		msg = w.re.ReplaceAllString(msg, w.with)
	}
	return msg
}

// explain speaks the user's terms for errors that come from malformed
// input anywhere in a command: it replaces messages that only make sense
// to a Go programmer, and adds a hint to an error that has none. Commands
// keep returning wrapped errors; the mapping lives here, in one place.
func explain(err error) error {
	msg := err.Error()
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && msg == pe.Error() && errors.Is(err, fs.ErrNotExist) {
		// "stat x: no such file or directory" names a system call.
		return &hinted{fmt.Sprintf("%s: no such file or folder\nhint: check the path (relative paths start in the current folder)", pe.Path), err}
	}
	msg = inUserWords(msg)
	if strings.Contains(msg, "\nhint:") {
		return &hinted{msg, err}
	}
	if hint := hintFor(err); hint != "" {
		return &hinted{msg + "\nhint: " + hint, err}
	}
	return &hinted{msg, err}
}

// hintFor is what to do next about err, or "" when nothing specific is
// known.
func hintFor(err error) string {
	var ce *client.Error
	switch {
	case errors.Is(err, content.ErrBadID):
		return "ids are what `charter put` and `charter publish` print (bafkr4i...); `charter asset list` lists registered assets"
	case errors.Is(err, visible.ErrRefused):
		return "retype the text without that character; invisible and direction-changing characters often come in with copy and paste"
	case errors.Is(err, identity.ErrBadDID):
		return "a DID looks like did:key:z6Mk...; `charter key show` prints yours"
	case errors.Is(err, identity.ErrBadKey):
		return "a key file is what `charter key new` writes; pass yours with --key FILE"
	case errors.Is(err, identity.ErrBadEnvelope):
		return "the file is not a Charter document (a receipt, grant, statement or proof bundle as charter writes them)"
	case errors.Is(err, metering.ErrCurrency):
		return "a currency is an ISO 4217 code, with -N for N decimal places: USD, USD-2, EUR-4"
	case errors.Is(err, metering.ErrQuantity) && strings.Contains(err.Error(), "(at most 0 decimals"):
		return "name the currency with its decimal places, as `charter earnings` lists it: USD-4 holds 4 decimals (2.4692 USD is \"2.4692 USD-4\")"
	case errors.Is(err, metering.ErrQuantity), errors.Is(err, metering.ErrOverflow):
		return "amounts are plain decimal numbers such as 12.50, with at most as many decimals as the currency has (USD-2: 2, USD-4: 4), no sign"
	case errors.Is(err, license.ErrInvalidTerms):
		return "licence terms are JSON; `charter license show research-only --json > terms.json` gives a file to start from"
	case errors.Is(err, grant.ErrInvalid), errors.Is(err, grant.ErrMalformed):
		return "purposes are train, fine-tune, infer, evaluate, embed, synthesize, research; territories are two-letter country codes such as DE"
	case errors.Is(err, asset.ErrInvalid):
		return "see `charter publish -h` and `charter propose -h` for what owners, contributors, parents and thresholds take"
	case errors.Is(err, fs.ErrNotExist):
		return "check the path (relative paths start in the current folder)"
	case errors.Is(err, fs.ErrPermission):
		return "check the file's permissions, or pick a path you may write"
	case errors.As(err, &ce):
		switch s := ce.Problem.Status; {
		case s == 404:
			return "check the id: ids are what `charter put`, `publish` and `grant request` print; `charter asset list` lists registered assets"
		case s == 401:
			return "the server could not verify your signed request: check --key and this machine's clock"
		case s == 403:
			return "your key may not do this: only the owners (or the licensee, or the operator) may"
		case s == 409:
			return "it changed since you looked: look again and repeat the command"
		case s == 413:
			return "it is larger than this server accepts (its --max-upload)"
		case s == 429 || s == 503:
			return "the server is busy or a daily limit was reached: try again later"
		case s >= 500:
			return "the server failed; its operator finds the details in the server log under the request id"
		case s == 400 || s == 422:
			return "the server refused a value you passed"
		}
	}
	return ""
}

// withUsageHint adds the command's usage line and example to an error
// that still has no hint (a wrong number of arguments, a missing flag).
func withUsageHint(err error, name string) error {
	msg := err.Error()
	if strings.Contains(msg, "\nhint:") {
		return err
	}
	d, ok := docs[name]
	if !ok {
		return &hinted{msg + "\nhint: run `charter " + name + " -h` for its usage", err}
	}
	line := "charter " + name
	if d.args != "" {
		line += " " + d.args
	}
	return &hinted{fmt.Sprintf("%s\nhint: usage: %s [flags], for example: %s (`charter %s -h` for more)", msg, line, d.example, name), err}
}
