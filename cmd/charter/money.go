package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
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
// ledger currency of did's accounts (read signed with key) of kind
// ("licensee", "contributor") with that code ("USD-4"), as `charter
// earnings` prints money without the decimal places; a licensee without
// such an account yet gets the currency its grants are priced in. A currency with its places, a code none of the accounts
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
	accounts, _ := c.WithKey(key).Accounts(ctx, did) // unreadable: none
	var found []string
	for _, a := range accounts {
		if strings.HasPrefix(a.Account, kind+":") && currencyCode(a.Currency) == cur && !slices.Contains(found, a.Currency) {
			found = append(found, a.Currency)
		}
	}
	if len(found) == 0 && kind == "licensee" {
		// No prepaid account yet: the currencies the licensee's grants
		// are priced in.
		found = grantCurrencies(ctx, c, did, cur)
	}
	switch len(found) {
	case 0:
		return cur, nil
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fmt.Errorf("%s is ambiguous: the %s's accounts or grants are in %s\nhint: name one with its decimal places, e.g. %s", cur, kind, strings.Join(found, " and "), found[len(found)-1])
}

// grantCurrencies lists the ledger currencies with code cur that the
// prices of did's unrevoked grants are in (at most 32 grants' terms read).
func grantCurrencies(ctx context.Context, c *client.Client, did, cur string) []string {
	l, err := c.Grants(ctx, "", did)
	if err != nil {
		return nil
	}
	var found []string
	seen := map[content.ID]bool{}
	for _, r := range l.Grants {
		if r.Revoked || len(seen) >= 32 {
			continue
		}
		e, err := identity.ParseEnvelope(r.Envelope)
		if err != nil {
			continue
		}
		g, err := grant.OpenGrant(e)
		if err != nil || seen[g.Terms] {
			continue
		}
		seen[g.Terms] = true
		t, _, err := fetchTerms(ctx, c, g.Terms)
		if err != nil || t.Price.Currency != cur {
			continue
		}
		if lc := metering.Currency(t.Price); !slices.Contains(found, lc) {
			found = append(found, lc)
		}
	}
	return found
}
