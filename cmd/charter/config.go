package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Settings of `charter serve` come from four places, the first that has
// one winning: the command line, the environment (CHARTER_<FLAG>, the
// flag's name in capitals with '_' for '-': CHARTER_CATALOG,
// CHARTER_SETTLE_INTERVAL), the config file (--config FILE or
// CHARTER_CONFIG: TOML, one key per flag, named as the flag), and the
// flag's default. See docs/operations.md, "Configuration".

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return "CHARTER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// notSettable are flags that the environment and the config file do not
// set: the global client flags (which have their own variables) and the
// config file itself.
var notSettable = map[string]bool{"server": true, "key": true, "json": true, "jq": true, "config": true}

// fillFlags sets each flag of fs that the command line left unset from
// getenv and then from the config file at path ("" for none).
func fillFlags(fs *flag.FlagSet, path string, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var file map[string]string
	if path != "" {
		var err error
		if file, err = readConfig(path, fs); err != nil {
			return err
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || notSettable[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v\nhint: it sets --%s (%s); unset it or give a valid value", envName(f.Name), v, e, f.Name, f.Usage)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %s = %q: %v\nhint: it sets --%s (%s)", path, f.Name, v, e, f.Name, f.Usage)
			}
		}
	})
	return err
}

// readConfig reads a TOML config file: top-level keys named after the
// flags of fs, with strings, whole numbers or booleans as values. An
// unknown key is an error, so that a misspelt setting is not silently
// ignored.
func readConfig(path string, fs *flag.FlagSet) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist\nhint: check --config or CHARTER_CONFIG", path)
		}
		return nil, fmt.Errorf("config file: %w", err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(raw), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config file %s, line %d: %s\nhint: it is TOML: one `name = value` per line, strings in double quotes", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	var known []string
	fs.VisitAll(func(f *flag.Flag) {
		if !notSettable[f.Name] {
			known = append(known, f.Name)
		}
	})
	// One file serves `charter serve` and the admin commands run on the
	// same deployment: a setting of serve that this command does not
	// take is skipped.
	serveOnly := map[string]bool{}
	if fs.Name() != "serve" {
		sfs := flag.NewFlagSet("serve", flag.ContinueOnError)
		defineServeFlags(sfs, &Env{})
		sfs.VisitAll(func(f *flag.Flag) {
			if !notSettable[f.Name] && fs.Lookup(f.Name) == nil {
				serveOnly[f.Name] = true
			}
		})
	}
	out := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if serveOnly[k] {
			continue
		}
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("config file %s: unknown setting %q\nhint: the settings are the flags of `charter %s`, named without dashes in front: %s", path, k, fs.Name(), strings.Join(known, ", "))
		}
		switch v := m[k].(type) {
		case string:
			out[k] = v
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, fmt.Errorf("config file %s: %s: a %s is not a setting's value\nhint: give a string in double quotes (durations too: \"30s\"), a whole number or true/false", path, k, tomlKind(v))
		}
	}
	return out, nil
}

func tomlKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "table"
	case []any, []map[string]any:
		return "list"
	case float64:
		return "fractional number"
	default:
		return "date or time"
	}
}
