package license

import (
	"slices"
	"strings"
)

// Purpose is what a licensee wants to do with an asset. It is the Cedar
// action of a request: purpose train is Action::"train".
type Purpose string

// The purposes of the licence vocabulary.
const (
	Train      Purpose = "train"
	FineTune   Purpose = "fine-tune"
	Infer      Purpose = "infer"
	Evaluate   Purpose = "evaluate"
	Embed      Purpose = "embed"
	Synthesize Purpose = "synthesize"
	Research   Purpose = "research"
)

// Purposes returns every purpose of the vocabulary in canonical (byte-wise
// sorted) order.
func Purposes() []Purpose {
	return []Purpose{Embed, Evaluate, FineTune, Infer, Research, Synthesize, Train}
}

// Valid reports whether p is in the vocabulary.
func (p Purpose) Valid() bool { return slices.Contains(Purposes(), p) }

// Who says who may license an asset.
type Who string

// Who values.
const (
	// Anyone may license.
	Anyone Who = "anyone"
	// Listed allows only the listed principals (did:key) and the members of
	// the listed organisations.
	Listed Who = "listed"
)

// Approval says whether a request that the terms allow is granted at once
// or waits for the owners.
type Approval string

// Approval values.
const (
	Automatic Approval = "automatic"
	Owners    Approval = "owners"
)

// Stacking says how a derivative's royalty share combines with the shares
// further up the lineage.
type Stacking string

// Stacking values.
const (
	// Relative: the share is taken from what the derivative earns.
	Relative Stacking = "relative"
	// Absolute: the share is taken from the gross revenue of every
	// derivative, however deep.
	Absolute Stacking = "absolute"
)

// PriceModel says what a price is charged for.
type PriceModel string

// Price models.
const (
	Free           PriceModel = "free"
	Flat           PriceModel = "flat"
	PerGiB         PriceModel = "per_gib"
	PerRequest     PriceModel = "per_request"
	Per1kTokens    PriceModel = "per_1k_tokens"
	PerTrainingRun PriceModel = "per_training_run"
)

func priceModels() []PriceModel {
	return []PriceModel{Free, Flat, PerGiB, PerRequest, Per1kTokens, PerTrainingRun}
}

// Whole is 100% in parts per million, the unit of royalty shares; it is
// the unit of the asset package's shares (asset.Whole).
const Whole = 1_000_000

// MaxSafeInteger bounds every amount and quota: 2^53-1, the largest integer
// that every JSON implementation reads exactly (RFC 7493, I-JSON).
const MaxSafeInteger = 1<<53 - 1

// MaxExponent bounds a price's decimal exponent.
const MaxExponent = 18

// iso4217 maps the active ISO 4217 currency codes to their minor units.
// Codes without a minor unit (precious metals, testing codes) are left out.
var iso4217 = func() map[string]int {
	m := map[string]int{}
	for _, c := range strings.Fields(`AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV
		BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN
		ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR
		KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
		NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP
		SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES
		WST XCD XCG YER ZAR ZMW ZWG`) {
		m[c] = 2
	}
	for _, c := range strings.Fields(`BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF`) {
		m[c] = 0
	}
	for _, c := range strings.Fields(`BHD IQD JOD KWD LYD OMR TND`) {
		m[c] = 3
	}
	for _, c := range strings.Fields(`CLF UYW`) {
		m[c] = 4
	}
	return m
}()

// MinorUnits returns the ISO 4217 minor units of currency code c (2 for
// USD, 0 for JPY) and whether c is an ISO 4217 currency at all.
func MinorUnits(c string) (int, bool) {
	n, ok := iso4217[c]
	return n, ok
}

// iso3166 holds the 249 officially assigned ISO 3166-1 alpha-2 codes.
var iso3166 = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
		BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
		CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
		DE DJ DK DM DO DZ
		EC EE EG EH ER ES ET
		FI FJ FK FM FO FR
		GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
		HK HM HN HR HT HU
		ID IE IL IM IN IO IQ IR IS IT
		JE JM JO JP
		KE KG KH KI KM KN KP KR KW KY KZ
		LA LB LC LI LK LR LS LT LU LV LY
		MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
		NA NC NE NF NG NI NL NO NP NR NU NZ
		OM
		PA PE PF PG PH PK PL PM PN PR PS PT PW PY
		QA
		RE RO RS RU RW
		SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
		TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
		UA UG UM US UY UZ
		VA VC VE VG VI VN VU
		WF WS
		YE YT
		ZA ZM ZW`) {
		m[c] = true
	}
	return m
}()

// ValidTerritory reports whether c is an assigned ISO 3166-1 alpha-2 code
// (upper case).
func ValidTerritory(c string) bool { return iso3166[c] }
