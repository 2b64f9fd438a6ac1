package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestHelpEveryCommand runs `charter CMD -h` and `charter help CMD` for
// every command and subcommand: each exits 0, prints its usage line with
// its arguments and one example on stdout, and nothing on stderr. A new
// command without a docs entry fails here.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands {
		var paths [][]string
		if s, ok := c.cmd.(subcommands); ok {
			paths = append(paths, []string{c.name})
			names, _ := subNames(c.name, s)
			for _, n := range names {
				paths = append(paths, []string{c.name, n})
			}
		} else {
			paths = append(paths, []string{c.name})
		}
		for _, p := range paths {
			for _, args := range [][]string{append(append([]string{}, p...), "-h"), append([]string{"help"}, p...)} {
				var out, errb bytes.Buffer
				env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
				if code := runArgs(context.Background(), env, args); code != 0 {
					t.Errorf("charter %s: exit %d, stderr %q", strings.Join(args, " "), code, errb.String())
				}
				if errb.Len() != 0 {
					t.Errorf("charter %s: stderr %q", strings.Join(args, " "), errb.String())
				}
				name := strings.Join(p, " ")
				if !strings.HasPrefix(out.String(), "Usage: charter "+name+" ") && out.String() != "Usage: charter "+name+"\n" && !strings.HasPrefix(out.String(), "Usage: charter "+name+"\n") {
					t.Errorf("charter %s: no usage line: %q", strings.Join(args, " "), out.String())
				}
				if len(p) == 2 || (len(p) == 1 && !isGroup(c)) {
					fs := flagSetOf(lookupPath(p))
					if fs == nil {
						t.Fatalf("charter %s -h: no flag set", name)
					}
					d, ok := docs[fs.Name()]
					if !ok || d.example == "" || d.summary == "" {
						t.Errorf("charter %s: no summary or example in docs (help.go)", name)
					}
					if !strings.Contains(out.String(), "Example:\n  charter ") {
						t.Errorf("charter %s -h: no example", name)
					}
				}
			}
		}
	}
}

// TestHelpValueNames: every flag that takes a value names it in help by
// what it is (FILE, ACCOUNT, EXPRESSION), never the catch-all VALUE nor a
// word of its description, and no usage keeps the back quotes that mark
// a value name. --from is a TIME to earnings and an ACCOUNT to fund.
func TestHelpValueNames(t *testing.T) {
	for _, c := range commands {
		var cmds []command
		if s, ok := c.cmd.(subcommands); ok {
			for _, sub := range s {
				cmds = append(cmds, sub)
			}
		} else {
			cmds = append(cmds, c.cmd)
		}
		for _, cmd := range cmds {
			fs := flagSetOf(cmd)
			if fs == nil {
				continue
			}
			var out bytes.Buffer
			writeFlags(&out, fs)
			fs.VisitAll(func(f *flag.Flag) {
				if v := valueName(f); v == "VALUE" || strings.ContainsAny(v, " `") {
					t.Errorf("charter %s -h: --%s takes %q: name what it takes (a back-quoted `NAME` in its usage, or valueNames)", fs.Name(), f.Name, v)
				}
			})
			if m := placeholder.FindString(out.String()); m != "" {
				t.Errorf("charter %s -h shows the value name %s in back quotes:\n%s", fs.Name(), m, out.String())
			}
		}
	}
	for _, c := range []struct{ cmd, want string }{
		{"fund", "--from ACCOUNT "}, {"withdraw", "--to ACCOUNT "}, {"earnings", "--from TIME "}, {"earnings", "--jq EXPRESSION "},
		{"serve", "--otlp-endpoint URL "}, {"serve", "--settle-interval DURATION "},
	} {
		var out bytes.Buffer
		writeFlags(&out, flagSetOf(lookupPath([]string{c.cmd})))
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("charter %s -h: no %q in\n%s", c.cmd, c.want, out.String())
		}
	}
}

func isGroup(c commandInfo) bool { _, ok := c.cmd.(subcommands); return ok }

func lookupPath(p []string) command {
	c, _ := lookup(p[0])
	if len(p) == 1 {
		return c.cmd
	}
	return c.cmd.(subcommands)[p[1]]
}

func TestSuggest(t *testing.T) {
	known := []string{"grant", "get", "put", "publish", "serve", "settle", "key", "verify", "version"}
	for typed, want := range map[string]string{"grnat": "grant", "grnt": "grant", "publsh": "publish", "serv": "serve", "vresion": "version", "xyzzy": "", "pu": "put", "k": "key"} {
		if got := suggest(typed, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", typed, got, want)
		}
	}
}

// TestJSONShapesDocumented: every command that takes --json has its row
// in docs/spec/cli-json.md.
func TestJSONShapesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/spec/cli-json.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		var names []string
		if s, ok := c.cmd.(subcommands); ok {
			subs, _ := subNames(c.name, s)
			for _, n := range subs {
				names = append(names, c.name+" "+n)
			}
		} else {
			names = append(names, c.name)
		}
		for _, n := range names {
			fs := flagSetOf(lookupPath(strings.Fields(n)))
			if fs == nil || fs.Lookup("json") == nil {
				continue
			}
			if !strings.Contains(string(b), "| `charter "+n+"` |") {
				t.Errorf("docs/spec/cli-json.md has no row for `charter %s`", n)
			}
		}
	}
}
