package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/client"
	"github.com/itchyny/gojq"
)

// compileJQ parses a --jq expression.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("not a jq expression: %s", jqWords(err))
	}
	c, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("not a jq expression: %s", jqWords(err))
	}
	return c, nil
}

func jqWords(err error) string { return strings.TrimPrefix(err.Error(), "gojq: ") }

// printJQ runs --jq on v's JSON form and prints each result: strings raw
// (one per line, as jq -r), everything else as compact JSON.
func (e *Env) printJQ(v any) error {
	code, err := compileJQ(e.JQ)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var in any
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	iter := code.Run(in)
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := r.(error); ok {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq %s: %s\nhint: the JSON this command prints is described in docs/spec/cli-json.md; run it with --json to see it", e.JQ, jqWords(err))
		}
		if s, ok := r.(string); ok {
			fmt.Fprintln(e.Stdout, s)
			continue
		}
		out, err := gojq.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.Stdout, string(out))
	}
}

// cliProblem is the problem object a failed command prints on stdout under
// --json: RFC 9457 members as the server's problems have them, plus the
// exit status. A server's problem is passed on whole (with its status);
// a problem the CLI finds has type .../cli-error and no status.
type cliProblem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status,omitempty"` // the server's HTTP status, when the server refused
	Detail   string `json:"detail"`
	Hint     string `json:"hint,omitempty"`
	Instance string `json:"instance,omitempty"`
	Exit     int    `json:"exit"` // the command's exit status
}

const cliErrorType = api.ProblemTypeBase + "cli-error"

// problemOf builds the problem object of err (already explained) for
// command name.
func problemOf(err error, name string, exit int) cliProblem {
	msg := err.Error()
	detail, hint, _ := strings.Cut(msg, "\nhint: ")
	p := api.Problem{Type: cliErrorType, Title: "charter " + name + " failed", Detail: detail, Hint: hint}
	var ce *client.Error
	if errors.As(err, &ce) {
		p = ce.Problem
		if p.Hint == "" {
			p.Hint = hint
		}
		// The user's words: the detail as the CLI shows it.
		if d := inUserWords(p.Detail); d != "" {
			p.Detail = d
		}
	}
	return cliProblem{Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail, Hint: p.Hint, Instance: p.Instance, Exit: exit}
}

// wantsJSON reports whether args ask for JSON output (--json or --jq
// anywhere before a lone --), so that an error found before the command
// parses its flags still prints a problem object.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--json" || a == "-json" || a == "--json=true" || a == "--jq" || a == "-jq" || strings.HasPrefix(a, "--jq=") || strings.HasPrefix(a, "-jq="):
			return true
		}
	}
	return false
}
