package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charter-dev/charter/identity"

	"github.com/charter-dev/charter/metering"
)

// money prints an amount as money: units of ledger currency cur ("USD-4")
// as "2.4692 USD". The ledger's currency name (with its decimal places)
// stays in --json, where amounts are whole units of it.
func money(v int64, cur string) string {
	return metering.FormatAmount(v, cur) + " " + currencyCode(cur)
}

// currencyCode is the ISO 4217 code of a ledger currency ("USD" of "USD-4").
func currencyCode(cur string) string {
	code, _, _ := strings.Cut(cur, "-")
	return code
}

// plural writes n and the noun, in the plural unless n is 1: "1 charge",
// "2 charges". Nouns with irregular plurals pass both forms ("entry|entries").
func plural(n int64, noun string) string {
	one, many, irregular := strings.Cut(noun, "|")
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	if !irregular {
		many = one + "s"
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ledgerCurrency resolves a bare currency code a user typed ("USD") to the
// ledger currency of did's accounts (read signed with key) of kind ("licensee", "contributor")
// with that code ("USD-4"), as `charter earnings` prints money without the
// decimal places. A currency with its places, a code none of the accounts
// uses, or accounts that cannot be read leave cur as typed; a code that
// several of them use is refused, naming them.
func ledgerCurrency(ctx context.Context, env *Env, key *identity.Key, did, kind, cur string) (string, error) {
	if strings.Contains(cur, "-") {
		return cur, nil
	}
	c, err := env.Client()
	if err != nil {
		return cur, nil
	}
	accounts, err := c.WithKey(key).Accounts(ctx, did)
	if err != nil {
		return cur, nil
	}
	var found []string
	for _, a := range accounts {
		if strings.HasPrefix(a.Account, kind+":") && currencyCode(a.Currency) == cur && !slices.Contains(found, a.Currency) {
			found = append(found, a.Currency)
		}
	}
	switch len(found) {
	case 0:
		return cur, nil
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fmt.Errorf("%s names the currency of several %s accounts: %s\nhint: name one with its decimal places, e.g. %s", cur, kind, strings.Join(found, ", "), found[len(found)-1])
}
