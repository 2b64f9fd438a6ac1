package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

func init() {
	register("version", "print the version, commit and Go version of this charter", versionCmd{})
}

type versionCmd struct{}

// versionInfo is what `charter version --json` prints.
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`            // module version: (devel) for a build from a checkout
	Commit   string `json:"commit,omitempty"`   // vcs.revision
	Time     string `json:"time,omitempty"`     // vcs.time
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Module: "github.com/charter-dev/charter", Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	v.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (versionCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("version takes no arguments")
	}
	v := buildVersion()
	if env.JSON {
		return env.printJSON(v)
	}
	fmt.Fprintf(env.Stdout, "charter %s\n", v.Version)
	if v.Commit != "" {
		dirty := ""
		if v.Modified {
			dirty = " (with uncommitted changes)"
		}
		fmt.Fprintf(env.Stdout, "commit   %s%s %s\n", v.Commit, dirty, v.Time)
	}
	fmt.Fprintf(env.Stdout, "module   %s\ngo       %s %s\n", v.Module, v.Go, v.Platform)
	return nil
}
