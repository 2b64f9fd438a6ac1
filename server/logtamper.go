package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/charter-dev/charter/auditlog"
	"github.com/transparency-dev/tessera/api/layout"
)

// tamperedLogError is the refusal to start on a log whose storage does not
// match its signed checkpoint, in the operator's terms: which folder, file
// and entry, and what to do. It matches auditlog.ErrTampered.
type tamperedLogError struct {
	msg string
	err error
}

func (e *tamperedLogError) Error() string { return e.msg }
func (e *tamperedLogError) Unwrap() error { return e.err }

// explainTampered rewrites an error that wraps *auditlog.TamperedError for
// the operator of the log in logDir; other errors, and every error of a log
// that is not in a folder (logDir ""), are returned as they are.
func explainTampered(logDir string, err error) error {
	var te *auditlog.TamperedError
	if logDir == "" || !errors.As(err, &te) {
		return err
	}
	if real, e := filepath.EvalSymlinks(logDir); e == nil { // rebuild and check reach the log through a link
		logDir = real
	}
	data := filepath.Dir(logDir)
	msg := fmt.Sprintf("the transparency log in %s was changed outside Charter: %s %s\n"+
		"hint: Charter does not serve, rebuild or check from a log it cannot prove. Stop every process using %s, "+
		"move %s aside (keep it to find out what happened), restore the log folder from your latest backup "+
		"(docs/operations.md) and start again. Never edit files under %s by hand.",
		logDir, te.Subject(logDir), te.Problem, data, logDir, logDir)
	if te.File == layout.CheckpointPath {
		msg += fmt.Sprintf(" If %s was replaced, put back the log key the log was created with instead.", filepath.Join(data, "keys"))
	}
	return &tamperedLogError{msg: msg, err: err}
}

// logDir is the log folder of the data folder dir, "" when there is none.
func logDir(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "log")
}
