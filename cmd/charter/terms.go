package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/license"
)

// loadTerms reads licence terms from a template name or a file.
func loadTerms(arg string) (*license.Terms, error) {
	if t, err := license.Template(arg); err == nil {
		return t, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("licence %q is neither a template nor a readable file: %w\nhint: `charter license templates` lists the templates", arg, err)
	}
	return license.Parse(b)
}

// storeTerms stores licence terms in their canonical form as a blob and
// returns the reference an asset manifest carries: the terms' content id.
func storeTerms(ctx context.Context, env *Env, arg string) (string, error) {
	t, err := loadTerms(arg)
	if err != nil {
		return "", err
	}
	b, err := t.Encode()
	if err != nil {
		return "", err
	}
	c, err := env.UploadClient()
	if err != nil {
		return "", err
	}
	info, err := c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
	if err != nil {
		return "", err
	}
	return info.ID, nil
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}
