package ledger

// Conventional account ids. Charter's services open accounts under these
// names so that settlement, statements and payouts agree on them.

// LicenseeAccount is the prepaid balance or credit line of a licensee.
func LicenseeAccount(did string) string { return "licensee:" + did }

// ContributorAccount holds a contributor's earnings.
func ContributorAccount(did string) string { return "contributor:" + did }

// AssetAccount receives an asset's revenue before it is split.
func AssetAccount(asset string) string { return "asset:" + asset }

// EscrowAccount holds funds of an asset under dispute.
func EscrowAccount(asset string) string { return "escrow:" + asset }

// ExternalAccount is where money enters or leaves the system (a card
// processor, a bank, a chain); it carries AllowNegative.
func ExternalAccount(name string) string { return "external:" + name }

// PlatformFeeAccount is the operator's fee account.
const PlatformFeeAccount = "platform:fee"
