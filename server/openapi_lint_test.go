package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// openAPILintDir holds Redocly CLI (npm ci there; .ci/run does it), its
// config (the recommended rules) and the problems accepted, with reasons.
const openAPILintDir = "testdata/openapilint"

// TestOpenAPILint runs a standard OpenAPI linter, Redocly CLI with its
// recommended rules, on the /openapi.json a running server answers: every
// operation has a summary, a 4xx answer and its security (signed, view
// token, or explicitly none), and the document is valid OpenAPI 3.1.
// Warnings fail too; the only accepted problems are listed, with their
// reasons, in testdata/openapilint/.redocly.lint-ignore.yaml.
func TestOpenAPILint(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join(openAPILintDir, "node_modules", ".bin", "redocly"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missingLinter(t, err)
	}
	if _, err := os.Stat(bin); err != nil {
		missingLinter(t, err)
	}
	_, hs := newTestServer(t)
	resp, err := http.Get(hs.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), served, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"redocly.yaml", ".redocly.lint-ignore.yaml"} {
		b, err := os.ReadFile(filepath.Join(openAPILintDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "lint", "openapi.json", "--config", "redocly.yaml", "--format", "json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.Output()
	var report struct {
		Totals   struct{ Errors, Warnings, Ignored int }
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string
			Message  string
			Location []struct{ Pointer string }
		}
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("redocly lint: %v; its report does not parse (%v):\n%s\n%s", err, jerr, out, stderr)
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("%s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if report.Totals.Errors+report.Totals.Warnings != 0 || err != nil {
		t.Errorf("redocly lint: %d errors, %d warnings (%v)", report.Totals.Errors, report.Totals.Warnings, err)
	}
	if report.Totals.Ignored != 5 {
		t.Errorf("%d problems ignored, want the 5 listed in .redocly.lint-ignore.yaml: an accepted problem is gone (drop it from the list) or the list stopped applying", report.Totals.Ignored)
	}
}

func missingLinter(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("node or Redocly CLI missing (%v): .ci/run installs it with npm ci in server/%s", err, openAPILintDir)
	}
	t.Skipf("node or Redocly CLI missing (%v); hint: (cd server/%s && npm ci)", err, openAPILintDir)
}
