package auditlog

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/transparency-dev/tessera/api/layout"
)

// tamperedLogError is the refusal to use a log whose storage does not
// match its signed checkpoint, in the operator's terms: which folder, file
// and entry, and what to do. It matches ErrTampered.
type tamperedLogError struct {
	msg string
	err error
}

func (e *tamperedLogError) Error() string { return e.msg }
func (e *tamperedLogError) Unwrap() error { return e.err }

// ExplainTampered rewrites an error that wraps *TamperedError for the
// operator of the log in the folder logDir (inside a data folder); other
// errors are returned as they are.
func ExplainTampered(logDir string, err error) error {
	var te *TamperedError
	if !errors.As(err, &te) {
		return err
	}
	if real, e := filepath.EvalSymlinks(logDir); e == nil {
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
