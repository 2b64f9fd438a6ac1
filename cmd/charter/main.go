// Command charter is the Charter CLI and server.
//
// Run `charter help` for the list of commands. Every command takes
// --server URL (env CHARTER_SERVER), --key FILE (env CHARTER_KEY) and
// --json (one JSON object on stdout, nothing else). Errors go to stderr
// with a non-zero exit status.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/charter-dev/charter/client"
)

// command is one subcommand. Each lives in its own file.
type command interface {
	// Run runs the command with its arguments (after the command name).
	Run(ctx context.Context, env *Env, args []string) error
}

type commandInfo struct {
	name    string
	summary string
	cmd     command
}

var commands []commandInfo

func register(name, summary string, c command) {
	commands = append(commands, commandInfo{name, summary, c})
}

// Env is what every command gets: global options and the standard streams.
type Env struct {
	Server string
	Key    string
	JSON   bool
	JQ     string // --jq: a jq expression applied to the JSON output
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// globalFlags adds those of --server, --key and --json to fs that the
// command uses (docs says which).
func (e *Env) globalFlags(fs *flag.FlagSet) {
	g := globalsFor(fs.Name())
	if strings.Contains(g, "s") {
		fs.StringVar(&e.Server, "server", e.Server, "Charter server URL (env CHARTER_SERVER)")
	}
	if strings.Contains(g, "k") {
		fs.StringVar(&e.Key, "key", e.Key, "your key file (env CHARTER_KEY)")
	}
	if strings.Contains(g, "j") {
		fs.BoolVar(&e.JSON, "json", e.JSON, "print one JSON object on stdout (docs/spec/cli-json.md)")
		fs.Func("jq", "print what the jq `EXPRESSION` selects from the JSON output (implies --json; strings print raw)", func(s string) error {
			e.JQ, e.JSON = s, true
			_, err := compileJQ(s)
			return err
		})
	}
}

// Client returns a client for the configured server.
func (e *Env) Client() (*client.Client, error) { return client.New(e.Server) }

// printJSON prints v as the command's one JSON object, or what --jq
// selects from it.
func (e *Env) printJSON(v any) error {
	if e.JQ != "" {
		return e.printJQ(v)
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parse parses args with flags allowed before, between and after the
// positional arguments, as users type them.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{fs}
			}
			// A negative number reads as a flag to the flag package.
			if m := negativeArg.FindStringSubmatch(err.Error()); m != nil {
				return nil, fmt.Errorf("%s: no argument takes a negative number (amounts, counts and log indexes have no sign)\nhint: run `charter %s -h` for its arguments", m[1], fs.Name())
			}
			// The flag package says "parse error" for a value that is not a
			// number (strconv's words); say it in the user's.
			msg := dashDash.ReplaceAllString(flagErrorWords(fs, err.Error()), "$1--$2")
			return nil, fmt.Errorf("%s\nhint: run `charter %s -h` for its flags", msg, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// hoistGlobals lets the global flags come before the command, as in
// `charter --server URL asset list` or `charter --json version` (gh and
// kubectl take them there): they are moved after the command and its
// subcommand, where each command parses them. `charter --version` is
// `charter version`.
func hoistGlobals(args []string) []string {
	var globals []string
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--version" || a == "-version" {
			return append([]string{"version"}, append(globals, args[i+1:]...)...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			break
		}
		switch name {
		case "json":
			globals = append(globals, a)
			i++
			continue
		case "server", "key", "jq":
			if hasValue {
				globals = append(globals, a)
				i++
				continue
			}
			if i+1 < len(args) {
				globals = append(globals, a, args[i+1])
				i += 2
				continue
			}
		}
		break
	}
	if len(globals) == 0 || i == len(args) {
		return args
	}
	n := 1 // the command, and a group's subcommand
	if c, ok := lookup(args[i]); ok {
		if _, group := c.cmd.(subcommands); group && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			n = 2
		}
	}
	out := append([]string{}, args[i:i+n]...)
	out = append(out, globals...)
	return append(out, args[i+n:]...)
}

// negativeArg is the flag package's error for an argument such as -1.
var negativeArg = regexp.MustCompile(`^flag provided but not defined: (-[0-9][0-9.]*)$`)

// dashDash writes long flags as users type them (--name, not -name).
var dashDash = regexp.MustCompile(`(flag |: )-([a-z][\w-]+)`)

var badFlagValue = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -([\w-]+): (parse error|value out of range)`)

// flagErrorWords says what was wrong with a flag's value in the words of
// its type, where the flag package says strconv's "parse error".
func flagErrorWords(fs *flag.FlagSet, msg string) string {
	m := badFlagValue.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	f := fs.Lookup(m[2])
	if f == nil {
		return msg
	}
	what := "not a whole number"
	if m[3] == "value out of range" {
		what = "number too large"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			what = "not a duration (a number and a unit: 90s, 15m, 72h)"
		case bool:
			what = "not true or false"
		case float64:
			what = "not a number"
		}
	}
	return fmt.Sprintf("invalid value %q for flag --%s: %s", m[1], m[2], what)
}

type usageError struct{ fs *flag.FlagSet }

func (u usageError) Error() string {
	var b strings.Builder
	writeHelp(&b, u.fs)
	return b.String()
}

func defaultKeyPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "charter.key"
	}
	return filepath.Join(dir, "charter", "key")
}

func newEnv() *Env {
	e := &Env{Server: os.Getenv("CHARTER_SERVER"), Key: os.Getenv("CHARTER_KEY"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if e.Server == "" {
		e.Server = client.DefaultServer
	}
	if e.Key == "" {
		e.Key = defaultKeyPath()
	}
	return e
}

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runArgs(ctx, newEnv(), os.Args[1:])
}

func runArgs(ctx context.Context, env *Env, args []string) int {
	args = hoistGlobals(args)
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	if isHelpArg(args[0]) {
		if len(args) == 1 {
			usage(env.Stdout)
			return 0
		}
		// charter help CMD [SUB]: that command's help.
		return runArgs(ctx, env, append(append([]string{}, args[1:]...), "-h"))
	}
	name := args[0]
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(env.Stderr, "charter: unknown command %q\n", name)
		if s := suggest(name, append(commandNames(), "help")); s != "" {
			fmt.Fprintf(env.Stderr, "hint: did you mean `charter %s`? `charter help` lists them all\n", s)
		} else {
			fmt.Fprintln(env.Stderr, "hint: run `charter help` for the list")
		}
		if wantsJSON(args[1:]) {
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(cliProblem{Type: cliErrorType, Title: "unknown command", Detail: fmt.Sprintf("unknown command %q", name), Hint: "run `charter help` for the list", Exit: 2})
		}
		return 2
	}
	if s, ok := c.cmd.(subcommands); ok {
		if len(args) == 1 {
			writeGroupHelp(env.Stderr, c, s)
			return 2
		}
		if isHelpArg(args[1]) {
			writeGroupHelp(env.Stdout, c, s)
			return 0
		}
	}
	err := c.cmd.Run(ctx, env, args[1:])
	if err == nil {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		// Only -h returns a usageError: the help the user asked for.
		fmt.Fprint(env.Stdout, err)
		return 0
	}
	full := commandName(c, args[1:])
	err = withUsageHint(explain(err), full)
	// Named as typed, subcommand included: "charter asset show: ...".
	fmt.Fprintf(env.Stderr, "charter %s: %v\n", full, err)
	if env.JSON || wantsJSON(args[1:]) {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(problemOf(err, full, 1))
	}
	return 1
}

// commandName is the name of the command args run under c, as its flag
// set and docs know it ("asset list" for `asset ls`).
func commandName(c commandInfo, args []string) string {
	cmd := c.cmd
	if s, ok := c.cmd.(subcommands); ok {
		if len(args) == 0 || s[args[0]] == nil {
			return c.name
		}
		cmd = s[args[0]]
	}
	if fs := flagSetOf(cmd); fs != nil {
		return fs.Name()
	}
	return c.name
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "charter: verified storage, licensing and settlement for files, datasets and models")
	fmt.Fprintln(w, "\nUsage: charter COMMAND [flags] [ARGS]\n\nCommands:")
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `charter help COMMAND` (or `charter COMMAND -h`) for a command's usage, flags and an example.")
	fmt.Fprintln(w, "Client commands take --server URL (env CHARTER_SERVER); signing ones --key FILE (env CHARTER_KEY); all --json and --jq EXPRESSION,")
	fmt.Fprintln(w, "before or after the command: charter --json version, charter asset list --jq '.assets | length'.")
}

// subcommands dispatches a command group such as `charter key new`.
type subcommands map[string]command

func (s subcommands) Run(ctx context.Context, env *Env, args []string) error {
	var names []string
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return fmt.Errorf("missing subcommand\nhint: one of: %s", strings.Join(names, ", "))
	}
	c, ok := s[args[0]]
	if !ok {
		if m := suggest(args[0], names); m != "" {
			return fmt.Errorf("unknown subcommand %q\nhint: did you mean %q? (one of: %s)", args[0], m, strings.Join(names, ", "))
		}
		return fmt.Errorf("unknown subcommand %q\nhint: one of: %s", args[0], strings.Join(names, ", "))
	}
	return c.Run(ctx, env, args[1:])
}
