package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/charter-dev/charter/api"
	"os"
	"strings"

	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/receipt"
)

func init() {
	register("verify", "offline check of a receipt, signed statement, grant or proof: verify FILE", verifyCmd{})
}

// verifyCmd is `charter verify` and `charter log verify` (name says which).
type verifyCmd struct{ name string }

// verifyResult is the --json output of verify.
type verifyResult struct {
	Kind        string   `json:"kind"`
	Valid       bool     `json:"valid"`
	PayloadType string   `json:"payload_type,omitempty"`
	Signers     []string `json:"signers,omitempty"`
	LogIndex    *uint64  `json:"log_index,omitempty"`
	LogOrigin   string   `json:"log_origin,omitempty"`
	LogSize     uint64   `json:"log_size,omitempty"`
	LogRoot     string   `json:"log_root,omitempty"`
	LogKey      string   `json:"log_key,omitempty"`
	Checks      []string `json:"checks"`
}

func (v verifyCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet(cmp.Or(v.name, "verify"), flag.ContinueOnError)
	env.globalFlags(fs)
	logKey := fs.String("log-key", "", "the log verifier key you trust (default: the key inside the file)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("verify takes one FILE")
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	key, pinned, err := offlineLogKey(env, *logKey)
	if err != nil {
		return err
	}
	res, err := verifyDocument(raw, key)
	if err != nil {
		if pinned && errors.Is(err, receipt.ErrUntrustedLog) {
			return fmt.Errorf("%w; the log key you pinned for %s is %q\nhint: check it against another log with --log-key or --server; if this server's operator moved to a new log on purpose, re-pin with `charter log trust --reset`", err, env.Server, key)
		}
		return err
	}
	if pinned && res.Kind != "envelope" {
		res.Checks = append(res.Checks, "log key is the one you pinned for "+env.Server)
	}
	if env.JSON {
		return env.printJSON(res)
	}
	for _, c := range res.Checks {
		fmt.Fprintln(env.Stdout, "ok  "+c)
	}
	fmt.Fprintf(env.Stdout, "%s: valid\n", pos[0])
	return nil
}

// verifyDocument recognises what raw is and checks it without a server.
func verifyDocument(raw []byte, logKey string) (*verifyResult, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		where := ""
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			where = fmt.Sprintf(" (not valid JSON at byte %d)", se.Offset)
		}
		return nil, fmt.Errorf("not a Charter document: the file is not a JSON object%s\nhint: verify reads receipt bundles (`charter log prove INDEX -o FILE`, `charter publish --receipt FILE`), grant answers and signed statements", where)
	}
	switch {
	case probe["decision_receipt"] != nil:
		var ans api.GrantAnswer
		if err := json.Unmarshal(raw, &ans); err != nil {
			return nil, err
		}
		return verifyGrantAnswer(&ans, logKey)
	case string(probe["format"]) == `"`+RegistrationFormat+`"`:
		var doc registrationDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("not a registration document: %w", err)
		}
		return verifyRegistration(&doc, logKey)
	case probe["format"] != nil:
		b, err := receipt.Parse(raw)
		if err != nil {
			return nil, err
		}
		return verifyBundle(b, logKey)
	case probe["payloadType"] != nil:
		envl, err := identity.ParseEnvelope(raw)
		if err != nil {
			return nil, err
		}
		signers, _, err := identity.Verify(envl, envl.PayloadType)
		if err != nil {
			return nil, err
		}
		res := &verifyResult{Kind: "envelope", Valid: true, PayloadType: envl.PayloadType}
		for _, s := range signers {
			res.Signers = append(res.Signers, s.String())
		}
		res.Checks = []string{"DSSE signatures by " + strings.Join(res.Signers, ", ") + " (not a log receipt: inclusion not checked)"}
		return res, nil
	}
	return nil, fmt.Errorf("unknown document: neither a receipt bundle nor a DSSE envelope\nhint: `charter log prove INDEX -o FILE` writes a receipt bundle")
}

func verifyBundle(b *receipt.Bundle, logKey string) (*verifyResult, error) {
	r, err := receipt.Verify(b, logKey)
	if err != nil {
		return nil, err
	}
	idx := r.Index
	res := &verifyResult{Kind: "receipt", Valid: true, PayloadType: r.PayloadType, LogIndex: &idx,
		LogOrigin: r.Checkpoint.Origin, LogSize: r.Checkpoint.Size, LogRoot: hex.EncodeToString(r.Checkpoint.Hash[:]), LogKey: b.LogKey}
	for _, s := range r.Signers {
		res.Signers = append(res.Signers, s.String())
	}
	res.Checks = []string{
		fmt.Sprintf("statement %s signed by %s", r.PayloadType, strings.Join(res.Signers, ", ")),
		fmt.Sprintf("entry %d (%s) included in the log at size %d", r.Index, r.EntryType, r.Checkpoint.Size),
		fmt.Sprintf("checkpoint signed by log %s", r.Checkpoint.Origin),
	}
	if logKey == "" {
		res.Checks = append(res.Checks, "log key taken from the file; pass --log-key to pin the log you trust")
	}
	return res, nil
}
