package server

import (
	"path/filepath"

	"github.com/charter-dev/charter/auditlog"
)

// explainTampered rewrites an error that wraps *auditlog.TamperedError for
// the operator of the log in logDir (auditlog.ExplainTampered); other
// errors, and every error of a log that is not in a folder (logDir ""),
// are returned as they are.
func explainTampered(logDir string, err error) error {
	if logDir == "" {
		return err
	}
	return auditlog.ExplainTampered(logDir, err)
}

// logDir is the log folder of the data folder dir, "" when there is none.
func logDir(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "log")
}
