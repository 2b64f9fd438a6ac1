package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// cmdDoc is what `charter CMD -h` says about one command beyond its flags.
type cmdDoc struct {
	args    string // positional arguments, as the usage line shows them
	summary string // one line; a command group's own summary is register's
	example string // one command line a user can adapt
	globals string // the global flags that apply: s (--server), k (--key), j (--json)
}

// docs are keyed by the command's flag set name ("grant request").
var docs = map[string]cmdDoc{
	"admin rebuild":     {"", "rebuild the catalog from the data folder's log (server stopped)", "charter admin rebuild --data ./charter-data", "j"},
	"admin check":       {"", "compare the catalog with a replay of the log and verify every blob (server stopped)", "charter admin check --data ./charter-data", "j"},
	"admin backup":      {"DIR", "copy the data folder consistently into the new folder DIR (server running or not)", "charter admin backup /backups/charter-2026-12-05 --data ./charter-data", "j"},
	"admin keys":        {"", "make the server key and log key every replica of one deployment shares", "charter admin keys --out /etc/charter/keys", "j"},
	"asset show":        {"ID", "show one registered asset: manifest, owners, contributors, parents, licence, trail", "charter asset show bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse", "sj"},
	"asset lineage":     {"ID", "show what an asset was derived from and what derives from it, with royalties", "charter asset lineage bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse", "sj"},
	"asset list":        {"", "list registered assets", "charter asset list --owner did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "sj"},
	"cat":               {"ID", "write a verified file to stdout", "charter cat bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse | head", "skj"},
	"completion":        {"bash|zsh|fish", "print a shell completion script", "charter completion bash > ~/.local/share/bash-completion/completions/charter", ""},
	"demo":              {"", "run a server seeded with a small real scenario, for a first look at the console", "charter demo --listen 127.0.0.1:7171", ""},
	"dispute open":      {"ASSET", "open a dispute that holds an asset's revenue until it is resolved", "charter dispute open bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse --reason 'contributor missing'", "skj"},
	"dispute resolve":   {"DISPUTE", "resolve a dispute as the asset's owners: release or void the held revenue", "charter dispute resolve DISPUTE-ID --release", "skj"},
	"dispute list":      {"", "list disputes", "charter dispute list --status open", "sj"},
	"earnings":          {"[DID]", "earnings statement of a DID (default: yours) by asset, source and period", "charter earnings --from 2026-12-01 --period month", "skj"},
	"export":            {"ID", "export a file or dataset as a CAR for IPFS/Filecoin", "charter export bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse --car -o data.car", "sj"},
	"fund":              {"DID AMOUNT CURRENCY", "operator deposit into a licensee's prepaid account (signed with the server's key)", "charter fund did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK 50 USD-4 --key charter-data/keys/server.key", "skj"},
	"get":               {"ID", "verified download of a file or dataset (resumes a partial download)", "charter get bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse -o model.bin", "skj"},
	"grant request":     {"ASSET", "ask for a licence grant on an asset for a purpose", "charter grant request bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse --purpose research", "skj"},
	"grant list":        {"", "list grants", "charter grant list --licensee me", "skj"},
	"grant revoke":      {"GRANT", "revoke a grant as the asset's owners", "charter grant revoke GRANT-ID --reason 'terms breached'", "skj"},
	"grant approve":     {"REQUEST", "approve (or --deny) a grant request that waits for the owners", "charter grant approve REQUEST-ID", "skj"},
	"help":              {"[COMMAND [SUBCOMMAND]]", "print the list of commands, or one command's help", "charter help grant request", ""},
	"key new":           {"", "make a new key (an Ed25519 did:key), written owner-only", "charter key new --out ~/keys/alice.key", "kj"},
	"key show":          {"", "print the DID of your key", "charter key show --key ~/keys/alice.key", "kj"},
	"license templates": {"", "list the licence templates with what each allows", "charter license templates", "j"},
	"license show":      {"TEMPLATE|FILE", "describe licence terms: a template name or a terms file", "charter license show research-only", "j"},
	"license check":     {"FILE", "check a licence terms file", "charter license check terms.json", "j"},
	"log checkpoint":    {"", "print the log's newest signed checkpoint", "charter log checkpoint", "sj"},
	"log prove":         {"INDEX", "fetch the receipt bundle (entry, inclusion proof, checkpoint) of one log entry", "charter log prove 42 -o entry42.json", "sj"},
	"log verify":        {"FILE", "offline check of a receipt bundle", "charter log verify entry42.json", "sj"},
	"log audit":         {"", "check that the log only grew since you last looked and that the server's state replays from it", "charter log audit", "sj"},
	"log trust":         {"", "pin the log key this server serves (trust on first use)", "charter log trust", "sj"},
	"propose":           {"ID", "propose a governed change to an asset", "charter propose bafkr4ibvvtmb4q2qsbmh6m6pjjhnj3qmdvvnxwrxdogxc7zb6qxeqhnjse --set-license research-only", "skj"},
	"approve":           {"PROPOSAL", "approve a proposal with your key", "charter approve PROPOSAL-ID", "skj"},
	"proposals":         {"", "list governance proposals", "charter proposals --status pending", "sj"},
	"publish":           {"PATH", "put + register (+ license) in one step", "charter publish ./dataset --license research-only", "skj"},
	"put":               {"PATH", "store a file or a folder (dataset); prints its content id", "charter put ./data.bin", "skj"},
	"serve":             {"", "run the Charter service (embedded defaults, or the backends given as URLs)", "charter serve --data /var/lib/charter --listen 0.0.0.0:7070", "j"},
	"settle":            {"", "charge receipts and usage, split revenue up the lineage, log the ledger root (operator)", "charter settle --key charter-data/keys/server.key", "skj"},
	"s3 credentials":    {"", "print a read credential for S3 and Hugging Face clients, bound to your grants (env vars, or an AWS profile)", "charter s3 credentials --asset ASSET-ID --profile charter --write", "skj"},
	"s3 list":           {"", "list your live read credentials (no secrets)", "charter s3 list", "skj"},
	"s3 revoke":         {"ACCESS_KEY_ID", "revoke one of your read credentials: its next request is refused", "charter s3 revoke CHKABCDEFGHIJKLMNOPQ", "skj"},
	"usage report":      {"GRANT", "report signed usage (tokens, calls, runs) under a grant", "charter usage report GRANT-ID --tokens 12000", "skj"},
	"verify":            {"FILE", "offline check of a receipt, signed statement, grant or proof", "charter verify receipt.json", "sj"},
	"version":           {"", "print the version, commit and Go version of this charter", "charter version --json", "j"},
	"withdraw":          {"AMOUNT CURRENCY", "payout request: transfer your earnings to an external account", "charter withdraw 0.5 USD", "skj"},
}

// globalsFor says which global flags apply to the command whose flag set is
// named name (all three for a command without a doc).
func globalsFor(name string) string {
	if d, ok := docs[name]; ok {
		return d.globals
	}
	return "skj"
}

// valueNames name the value a flag takes in help, where the flag's type
// does not say it.
var valueNames = map[string]string{
	"server": "URL", "key": "FILE", "o": "FILE", "out": "PATH", "receipt": "FILE", "config": "FILE",
	"data": "DIR", "listen": "ADDR", "owner": "DID=WEIGHT", "contributor": "DID=PERCENT", "parent": "ID[=PERCENT]",
	"grant": "ID", "cosign": "FILE", "license": "TEMPLATE|FILE", "set-license": "TEMPLATE|FILE", "set-owners": "DID=WEIGHT",
	"set-contributors": "DID=PERCENT", "asset": "ID", "licensee": "DID|me", "content": "ID", "media": "TYPE", "media-type": "TYPE",
	"from": "TIME", "to": "TIME", "time": "TIME", "period": "day|month", "status": "STATE", "reason": "TEXT", "name": "TEXT",
	"description": "TEXT", "purpose": "PURPOSE", "territory": "CC", "org": "NAME", "id": "ID", "credit-limit": "AMOUNT",
	"log-key": "KEY", "ttl": "DURATION", "profile": "NAME", "endpoint": "URL", "origin": "NAME", "catalog": "URL", "ledger": "URL", "blobs": "URL|DIR", "proven-keys": "DIDS",
	"server-key": "FILE", "log": "URL", "log-format": "json|text", "pprof-addr": "ADDR", "s3-addr": "ADDR", "hf-addr": "ADDR",
	"otlp-endpoint": "URL",
}

// placeholder is a value name a flag's usage gives in back quotes, as the
// flag package's convention has it ("the `ACCOUNT` it goes to"): capitals
// only, so that a command quoted in a usage (`charter settle`) is never
// taken for one.
var placeholder = regexp.MustCompile("`([A-Z][A-Z0-9_|=.\\[\\]-]*)`")

func valueName(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	if m := placeholder.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	if n, ok := valueNames[f.Name]; ok {
		return n
	}
	switch f.Value.(type) {
	case interface{ Get() any }:
		switch f.Value.(flag.Getter).Get().(type) {
		case int, int64, uint, uint64:
			return "N"
		case time.Duration:
			return "DURATION"
		case float64:
			return "NUMBER"
		}
	}
	return "VALUE"
}

// writeHelp prints the help of the command whose flag set is fs.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	d := docs[name]
	line := "charter " + name
	if hasFlags(fs) {
		line += " [flags]"
	}
	if d.args != "" {
		line += " " + d.args
	}
	fmt.Fprintf(w, "Usage: %s\n", line)
	if d.summary != "" {
		fmt.Fprintf(w, "\n%s\n", capitalize(d.summary))
	}
	if d.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", d.example)
	}
	if hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		writeFlags(w, fs)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// writeFlags lists fs's flags as users type them (--name VALUE).
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		left := "--" + f.Name
		if len(f.Name) == 1 {
			left = "-" + f.Name
		}
		if v := valueName(f); v != "" {
			left += " " + v
		}
		u := placeholder.ReplaceAllString(f.Usage, "$1")
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" && def != "[]" && !strings.Contains(u, "default") {
			u += fmt.Sprintf(" (default %s)", def)
		}
		rows = append(rows, row{left, u})
		width = max(width, len(left))
	})
	for _, r := range rows {
		if width > 28 && len(r.left) > 28 {
			fmt.Fprintf(w, "  %s\n  %-28s  %s\n", r.left, "", r.usage)
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", min(width, 28), r.left, r.usage)
	}
}

// flagSetOf returns the flag set of a command without running it: every
// command parses its flags before it does anything, and -h stops it there.
func flagSetOf(c command) *flag.FlagSet {
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	err := c.Run(context.Background(), env, []string{"-h"})
	var u usageError
	if errors.As(err, &u) {
		return u.fs
	}
	return nil
}

// lookup finds a top-level command by name.
func lookup(name string) (commandInfo, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return commandInfo{}, false
}

// subNames lists a group's subcommands, aliases after the name they stand
// for: ["list (ls)", "show"] as names and a map from alias to its name.
func subNames(group string, s subcommands) (names []string, aliasOf map[string]string) {
	aliasOf = map[string]string{}
	for n, c := range s {
		if fs := flagSetOf(c); fs != nil && fs.Name() != group+" "+n && strings.HasPrefix(fs.Name(), group+" ") {
			if _, ok := s[strings.TrimPrefix(fs.Name(), group+" ")]; ok {
				aliasOf[n] = strings.TrimPrefix(fs.Name(), group+" ")
				continue
			}
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, aliasOf
}

// writeGroupHelp prints the help of a command group such as `charter key`.
func writeGroupHelp(w io.Writer, c commandInfo, s subcommands) {
	names, aliasOf := subNames(c.name, s)
	fmt.Fprintf(w, "Usage: charter %s COMMAND [flags] [ARGS]\n\n%s\n\nCommands:\n", c.name, capitalize(c.summary))
	for _, n := range names {
		label := n
		for a, of := range aliasOf {
			if of == n {
				label += " (" + a + ")"
			}
		}
		d := docs[c.name+" "+n]
		fmt.Fprintf(w, "  %-18s %s\n", label, d.summary)
	}
	fmt.Fprintf(w, "\nRun `charter %s COMMAND -h` for a command's flags and an example.\n", c.name)
}

func isHelpArg(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

// suggest returns the known name closest to a mistyped one, or "".
func suggest(typed string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := editDistance(typed, k)
		if strings.HasPrefix(k, typed) && len(typed) >= 2 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if bestD > max(1, len(typed)/3) && !strings.HasPrefix(best, typed) {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (with adjacent swaps).
func editDistance(a, b string) int {
	n, m := len(a), len(b)
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
		d[i][0] = i
	}
	for j := 0; j <= m; j++ {
		d[0][j] = j
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[n][m]
}

func commandNames() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.name)
	}
	return out
}
