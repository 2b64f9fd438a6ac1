package main

import (
	"fmt"
	"strings"

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
