package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/auditlog"
)

// testServeFlags is a flag set shaped like serve's, for the settings tests.
func testServeFlags() (*flag.FlagSet, *string, *string, *time.Duration, *int64, *bool) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	(&Env{}).globalFlags(fs)
	fs.String("config", "", "")
	data := fs.String("data", "./charter-data", "data folder")
	cat := fs.String("catalog", "", "catalog")
	settle := fs.Duration("settle-interval", time.Minute, "settle")
	max := fs.Int64("max-upload", 10, "max")
	verify := fs.Bool("verify-reads", false, "verify")
	return fs, data, cat, settle, max, verify
}

func writeConfig(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "charter.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSettingsPrecedence(t *testing.T) {
	cfg := writeConfig(t, `
# every kind of value
data = "/from/file"
catalog = "postgres://file@db/charter"
settle-interval = "5s"
max-upload = 1024
verify-reads = true
`)
	fs, data, cat, settle, max, verify := testServeFlags()
	if _, err := parse(fs, []string{"--data", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CHARTER_CATALOG": "postgres://env@db/charter", "CHARTER_DATA": "/from/env", "CHARTER_KEY": "/not/a/setting"}
	if err := fillFlags(fs, cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *data != "/from/flag" {
		t.Errorf("data = %q: the command line wins", *data)
	}
	if *cat != "postgres://env@db/charter" {
		t.Errorf("catalog = %q: the environment wins over the file", *cat)
	}
	if *settle != 5*time.Second || *max != 1024 || !*verify {
		t.Errorf("from the file: settle %v, max-upload %d, verify-reads %v", *settle, *max, *verify)
	}
	if f := fs.Lookup("key"); f != nil && f.Value.String() != "" {
		k := f.Value.String()
		t.Errorf("--key = %q: CHARTER_KEY is the client's variable, not read by fillFlags", k)
	}
}

func TestSettingsDefaultsUnchanged(t *testing.T) {
	fs, data, cat, settle, _, _ := testServeFlags()
	if _, err := parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	if err := fillFlags(fs, "", func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if *data != "./charter-data" || *cat != "" || *settle != time.Minute {
		t.Errorf("defaults changed: data %q, catalog %q, settle %v", *data, *cat, *settle)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"unknown key", `catalgo = "postgres://x"`, nil, []string{`unknown setting "catalgo"`, "hint:", "catalog"}},
		{"table", "[catalog]\nurl = \"x\"", nil, []string{"catalog: a table is not a setting's value", "hint:"}},
		{"float", "max-upload = 1.5", nil, []string{"max-upload: a fractional number", "hint:"}},
		{"bad duration", `settle-interval = "soon"`, nil, []string{`settle-interval = "soon"`, "hint:"}},
		{"syntax", "data = /x", nil, []string{"line 1", "hint:"}},
		{"global flag in file", `key = "k"`, nil, []string{`unknown setting "key"`}},
		{"bad env", "", map[string]string{"CHARTER_MAX_UPLOAD": "lots"}, []string{"CHARTER_MAX_UPLOAD=\"lots\"", "hint:", "--max-upload"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _, _, _, _, _ := testServeFlags()
			if _, err := parse(fs, nil); err != nil {
				t.Fatal(err)
			}
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			err := fillFlags(fs, path, func(k string) string { return tc.env[k] })
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	fs, _, _, _, _, _ := testServeFlags()
	parse(fs, nil)
	if err := fillFlags(fs, "/no/such/charter.toml", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestBackendURLErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func() error
		want string
	}{
		{"catalog scheme", func() error { _, err := openCatalog(ctx, "mysql://x@tcp(h)/db"); return err }, "--catalog"},
		{"ledger scheme", func() error { _, err := openLedger(ctx, "sqlite:///tmp/x"); return err }, "--ledger"},
		{"blobs scheme", func() error { _, err := openBlobs(ctx, "gs://bucket"); return err }, "no blob store for gs://"},
		{"blobs s3 credentials in URL", func() error { _, err := openBlobs(ctx, "s3://key:secret@bucket"); return err }, "credentials"},
		{"log scheme", func() error { _, err := openLog(ctx, "etcd://x", nil, auditlog.Options{}); return err }, "--log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.open()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hint:") && tc.want != "credentials" {
				t.Errorf("error %q: want %q and a hint", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?search_path=s":  "postgres://u:xxxxx@h:5432/db?search_path=s",
		"postgres://u@h/db":                        "postgres://u@h/db",
		"mysql://charter:pw@tcp(127.0.0.1:3306)/l": "mysql://charter:xxxxx@tcp(127.0.0.1:3306)/l",
		"mysql://charter@unix(/run/m.sock)/l":      "mysql://charter@unix(/run/m.sock)/l",
		"/srv/charter/log":                         "/srv/charter/log",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOperationsDocumentsEverySetting: every flag of `charter serve` (each
// also a CHARTER_ variable and a config file key) has its row in
// docs/operations.md.
func TestOperationsDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	defineServeFlags(fs, &Env{})
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(string(b), "| `--"+f.Name) {
			t.Errorf("docs/operations.md has no row for --%s", f.Name)
		}
		if !notSettable[f.Name] && !strings.Contains(string(b), "`"+envName(f.Name)+"`") {
			t.Errorf("docs/operations.md does not name %s", envName(f.Name))
		}
	})
}
