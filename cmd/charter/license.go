package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/charter-dev/charter/license"
)

func init() {
	register("license", "licence terms: templates, show, check", subcommands{
		"templates": licenseTemplatesCmd{},
		"show":      licenseShowCmd{},
		"check":     licenseCheckCmd{},
	})
}

type licenseTemplatesCmd struct{}

func (licenseTemplatesCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("license templates", flag.ContinueOnError)
	env.globalFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"templates": license.Templates()})
	}
	for _, n := range license.TemplateNames() {
		t, _ := license.Template(n)
		fmt.Fprintf(env.Stdout, "== %s\n%s\n\n", n, t.Describe())
	}
	return nil
}

type licenseShowCmd struct{}

func (licenseShowCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("license show", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("license show takes a template name or a terms FILE")
	}
	t, err := loadTerms(pos[0])
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(t)
	}
	fmt.Fprintln(env.Stdout, t.Describe())
	return nil
}

type licenseCheckCmd struct{}

func (licenseCheckCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("license check", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("license check takes a terms FILE")
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	t, err := license.Parse(b)
	if err != nil {
		return err
	}
	h, _ := t.Hash()
	if env.JSON {
		return env.printJSON(map[string]any{"valid": true, "hash": h})
	}
	fmt.Fprintf(env.Stdout, "%s: valid licence terms\n%s\n", pos[0], t.Describe())
	return nil
}
