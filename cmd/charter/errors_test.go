package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goInternals are what a message from Go's own packages, or from ours
// unexplained, looks like: a package prefix, a parser's words, a byte dump.
var goInternals = regexp.MustCompile(`(?m)` + strings.Join([]string{
	`encoding/\w+`, `strconv\.\w+`, `invalid byte`, `invalid character`, `unexpected end of JSON`, `cannot unmarshal`,
	`\bjson: `, `multibase`, `varint`, `selected encoding`, `runtime error`, `goroutine \d`, `panic:`, `%!`,
	`\\x[0-9a-fA-F]{2}`, `\[\d+( \d+){7,}\]`, `<nil>`, `&\{`, `parsing time "`, `\bunexpected EOF\b`, `illegal base`,
	`(^|: )(asset|content|identity|license|grant|ledger|receipt|registry|catalog|client|httpsig|car|blob|auditlog|metering|settlement|lease|crowd|api|server|cid|hex|base64|base32|x509|ed25519|toml|cedar|url|http|net|os|io|fs|time|flag|dsse|multihash|unixfs|dirlock|datadir)(/\w+)?: `,
	`[\x00-\x08\x0e-\x1f]`,
}, "|"))

// badArgs are malformed (and well-formed but unknown) values for each kind
// of positional argument a usage line names.
func badArgs(dir string) map[string][]string {
	bin := filepath.Join(dir, "binary.bin")
	os.WriteFile(bin, []byte{0xff, 0xfe, 0x00, 0x01, 0x80, 0x81, 0x9c}, 0o644)
	txt := filepath.Join(dir, "text.txt")
	os.WriteFile(txt, []byte("hello"), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o644)
	wrongJSON := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrongJSON, []byte(`{"payloadType": 7, "payload": "!!"}`), 0o644)
	ids := []string{"foo", "bafkr4i", "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "zz\u00e9", "../x", "", "0123456789abcdef0123456789abcdef"}
	files := []string{filepath.Join(dir, "missing", "file"), bin, txt, empty, wrongJSON, dir}
	return map[string][]string{
		"ID": ids, "ASSET": ids, "GRANT": ids, "REQUEST": ids, "DISPUTE": ids, "PROPOSAL": ids,
		"DID":      {"notadid", "did:key:zzz", "did:key:z6Mk", "did:web:example.com", ""},
		"[DID]":    {"notadid", "did:key:zzz"},
		"AMOUNT":   {"abc", "-5", "1.234567891234", "1e9", "0x10", "99999999999999999999999999", "", "1,5"},
		"CURRENCY": {"US$", "usd", "XXXX-99", "USD-99", ""},
		"PATH":     files, "FILE": files, "TEMPLATE|FILE": append([]string{"nosuchtemplate"}, files...),
		"DIR":   {filepath.Join(dir, "text.txt", "sub")},
		"INDEX": {"-1", "abc", "99999999999999999999", "4000000000"},
	}
}

// goodArg is a value of the right shape for the positions not under test.
var goodArg = map[string]string{
	"ID": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "ASSET": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te",
	"GRANT": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "REQUEST": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te",
	"DISPUTE": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "PROPOSAL": "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te",
	"DID": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "AMOUNT": "5", "CURRENCY": "USD", "INDEX": "0",
}

// badFlags are malformed flag values, per command.
var badFlags = map[string][][]string{
	"earnings":        {{"--from", "yesterday"}, {"--to", "2026-13-45"}, {"--period", "year"}},
	"fund":            {{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "5", "USD", "--credit-limit", "abc"}},
	"usage report":    {{"bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "--tokens", "-1"}, {"x", "--time", "noon"}, {"bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te", "--tokens", "1e3"}},
	"publish":         {{"PATH", "--owner", "foo"}, {"PATH", "--contributor", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK=200"}, {"PATH", "--parent", "foo=5"}, {"PATH", "--parent", "bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te=abc"}, {"PATH", "--license", "nosuch"}, {"PATH", "--threshold", "-1"}, {"PATH", "--grant", "foo"}, {"PATH", "--cosign", "missing.key"}},
	"propose":         {{"ID", "--set-owners", "foo=1"}, {"ID", "--set-contributors", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK=x"}, {"ID", "--expires", "5"}, {"ID", "--set-license", "nosuch"}},
	"grant request":   {{"ID", "--purpose", "world-domination"}, {"ID", "--purpose", "train", "--territory", "Narnia"}, {"ID", "--purpose", "train", "-o", "/nonexistent/dir/g.json"}},
	"grant list":      {{"--asset", "foo"}, {"--licensee", "notadid"}},
	"asset list":      {{"--owner", "notadid"}, {"--content", "foo"}, {"--media", "a b"}},
	"dispute list":    {{"--asset", "foo"}, {"--status", "weird"}},
	"proposals":       {{"--asset", "foo"}, {"--status", "weird"}},
	"get":             {{"ID", "--parallel", "0"}, {"ID", "--parallel", "-3"}},
	"withdraw":        {{"5", "USD", "--to", ""}},
	"verify":          {{"FILE", "--log-key", "notakey"}},
	"export":          {{"ID", "-o", "/nonexistent/dir/x.car", "--car"}},
	"serve":           {{"--scrub-interval", "5"}, {"--max-upload", "abc"}, {"--catalog", "foo://bar"}, {"--listen", "not an address"}, {"--proven-keys", "a,b"}},
	"admin check":     {{"--data", "/nonexistent/charter"}},
	"admin backup":    {{"DIR", "--data", "/nonexistent/charter"}},
	"dispute open":    {{"ID", "--reason", ""}},
	"dispute resolve": {{"ID", "--release", "--void"}},
}

// TestNoGoInternals runs every command with malformed ids, DIDs, paths,
// amounts and flag values against a real server, and fails on any message
// that carries a Go package prefix, a parser's internals or a byte dump,
// and on any error without a hint.
func TestNoGoInternals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command with bad input; without -short")
	}
	dir := t.TempDir()
	// Commands that default to ./charter-data (admin check, backup…) must
	// not write into the package folder.
	t.Chdir(dir)
	url, _ := trustServer(t, filepath.Join(dir, "data"), "")
	c := &cli{t: t, server: url, state: filepath.Join(dir, "state")}
	key := filepath.Join(dir, "me.key")
	c.ok(key, "key", "new")
	bad := badArgs(dir)
	runOne := func(args []string) {
		code, out, errs := c.run(key, args...)
		msg := out + errs
		if m := goInternals.FindString(errs); m != "" {
			t.Errorf("charter %q: Go internals %q reach the user:\n%s", args, m, msg)
		}
		if code != 0 && !strings.Contains(errs, "hint:") && !strings.Contains(errs, "Usage:") {
			t.Errorf("charter %q: an error without a hint:\n%s", args, errs)
		}
		if testing.Verbose() {
			t.Logf("charter %q: exit %d\n%s", args, code, strings.TrimSpace(msg))
		}
	}
	for _, ci := range commands {
		paths := [][]string{{ci.name}}
		if s, ok := ci.cmd.(subcommands); ok {
			paths = nil
			names, _ := subNames(ci.name, s)
			for _, n := range names {
				paths = append(paths, []string{ci.name, n})
			}
		}
		for _, p := range paths {
			name := strings.Join(p, " ")
			if name == "serve" || name == "demo" || name == "completion" || name == "admin keys" || name == "admin rebuild" {
				continue // they start servers or write folders: only their bad flags below
			}
			d := docs[flagSetOf(lookupPath(p)).Name()]
			kinds := strings.Fields(d.args)
			for i, k := range kinds {
				for _, v := range bad[k] {
					args := append([]string{}, p...)
					for j, k2 := range kinds {
						switch {
						case j == i:
							args = append(args, v)
						case goodArg[k2] != "":
							args = append(args, goodArg[k2])
						default:
							args = append(args, filepath.Join(dir, "text.txt"))
						}
					}
					runOne(args)
				}
			}
			// Too many arguments.
			runOne(append(append([]string{}, p...), "a", "b", "c", "d"))
			// An unknown flag.
			runOne(append(append([]string{}, p...), "--no-such-flag"))
		}
	}
	for name, cases := range badFlags {
		for _, fl := range cases {
			args := strings.Fields(name)
			for _, a := range fl {
				switch {
				case a == "PATH" || a == "FILE":
					a = filepath.Join(dir, "text.txt")
				case a == "DIR":
					a = filepath.Join(dir, "backup-"+fmt.Sprint(len(args)))
				case goodArg[a] != "":
					a = goodArg[a]
				}
				args = append(args, a)
			}
			runOne(args)
		}
	}
}

// TestDemoOnTakenPort: `charter demo` on an address in use says so and
// offers the next free one, and says nothing else (before, a log line of
// the server it had opened and cancelled came first: "level=ERROR
// msg=\"listing unindexed datasets\" err=\"context canceled\""); the demo
// seeds nothing. `charter serve` on a taken address is as clean.
func TestDemoOnTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	demo := filepath.Join(t.TempDir(), "demo")
	code, _, errs := runCLI(context.Background(), "demo", "--data", demo, "--listen", l.Addr().String())
	if code == 0 || !strings.Contains(errs, "the address is taken") || !regexp.MustCompile(`hint: 127\.0\.0\.1:\d+ is free: charter demo --listen 127\.0\.0\.1:\d+`).MatchString(errs) {
		t.Fatalf("demo on a taken port: exit %d\n%s", code, errs)
	}
	if !strings.HasPrefix(errs, "charter demo: cannot listen on ") || strings.Count(errs, "\n") != 2 {
		t.Errorf("demo on a taken port: want the error and its hint alone, got\n%s", errs)
	}
	if _, err := os.Stat(filepath.Join(demo, "catalog.db")); err == nil {
		t.Errorf("demo on a taken port made a catalog in %s", demo)
	}
	code, _, errs = runCLI(context.Background(), "serve", "--data", filepath.Join(t.TempDir(), "data"), "--listen", l.Addr().String(), "--log-format", "text")
	if code == 0 || !strings.HasPrefix(errs, "charter serve: cannot listen on "+l.Addr().String()) || !strings.Contains(errs, "hint:") || strings.Contains(errs, "level=") {
		t.Errorf("serve on a taken port: exit %d, want the error and its hint alone:\n%s", code, errs)
	}
}
