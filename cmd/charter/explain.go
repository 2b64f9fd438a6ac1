package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/visible"
)

// hinted is an error with a user-facing message in place of its own; it
// still matches what it wraps.
type hinted struct {
	msg string
	err error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Unwrap() error { return h.err }

// explain speaks the user's terms for errors that come from malformed
// input anywhere in a command: it adds a hint to an error that has none,
// and replaces messages that only make sense to a Go programmer. Commands
// keep returning wrapped errors; the mapping lives here, in one place.
func explain(err error) error {
	msg := err.Error()
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && msg == pe.Error() && errors.Is(err, fs.ErrNotExist) {
		// "stat x: no such file or directory" names a system call.
		return &hinted{fmt.Sprintf("%s: no such file or folder\nhint: check the path (relative paths start in the current folder)", pe.Path), err}
	}
	if strings.Contains(msg, "\nhint:") {
		return err
	}
	var hint string
	switch {
	case errors.Is(err, content.ErrBadID):
		hint = "ids are what `charter put` and `charter publish` print (bafkr4i...); `charter asset list` lists registered assets"
	case errors.Is(err, visible.ErrRefused):
		hint = "retype the text without that character; invisible and direction-changing characters often come in with copy and paste"
	case errors.Is(err, identity.ErrBadDID):
		hint = "a DID looks like did:key:z6Mk...; `charter key show` prints yours"
	default:
		return err
	}
	return &hinted{msg + "\nhint: " + hint, err}
}
