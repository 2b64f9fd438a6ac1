package main

import (
	"fmt"
	"strconv"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

// loadSigners loads the user's key and the keys named by --cosign, in
// that order, for statements several owners sign together.
func loadSigners(env *Env, cosign []string) ([]*identity.Key, error) {
	key, err := loadKey(env)
	if err != nil {
		return nil, err
	}
	keys := []*identity.Key{key}
	for _, f := range cosign {
		k, err := identity.Load(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseOwners reads DID=WEIGHT values of flag name; it returns the owners
// and their total weight.
func parseOwners(name string, vals []string) ([]asset.Owner, int64, error) {
	var owners []asset.Owner
	var total int64
	for _, o := range vals {
		k, v, err := splitPair(name, o)
		if err != nil {
			return nil, 0, err
		}
		d, err := identity.ParseDID(k)
		if err != nil {
			return nil, 0, err
		}
		w, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("--%s %s: weight %q is not an integer", name, k, v)
		}
		owners = append(owners, asset.Owner{DID: d, Weight: w})
		total += w
	}
	return owners, total, nil
}

// parseContributors reads DID=PERCENT values of flag name.
func parseContributors(name string, vals []string) ([]asset.Contributor, error) {
	var out []asset.Contributor
	for _, c := range vals {
		k, v, err := splitPair(name, c)
		if err != nil {
			return nil, err
		}
		d, err := identity.ParseDID(k)
		if err != nil {
			return nil, err
		}
		sh, err := parsePercent(v)
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", name, k, err)
		}
		out = append(out, asset.Contributor{DID: d, Share: sh})
	}
	return out, nil
}
