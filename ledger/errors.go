package ledger

import "errors"

// Sentinel errors. Callers match them with errors.Is; the wrapped messages
// name the ids involved and end with a hint for the user where one helps.
var (
	// ErrInvalid reports a malformed account or transfer (bad id, flags
	// that do not go together, missing fields).
	ErrInvalid = errors.New("ledger: invalid")
	// ErrAmount reports a negative or zero amount where a positive one is
	// required.
	ErrAmount = errors.New("ledger: invalid amount")
	// ErrOverflow reports an amount or balance that would not fit in int64.
	ErrOverflow = errors.New("ledger: amount overflow")
	// ErrIDConflict reports a used id sent again with different content.
	ErrIDConflict = errors.New("ledger: id already used with different content")
	// ErrAccountNotFound reports a transfer naming an unknown account.
	ErrAccountNotFound = errors.New("ledger: account not found")
	// ErrTransferNotFound reports a lookup of an unknown transfer.
	ErrTransferNotFound = errors.New("ledger: transfer not found")
	// ErrCurrencyMismatch reports a transfer between accounts of different
	// currencies.
	ErrCurrencyMismatch = errors.New("ledger: accounts have different currencies")
	// ErrExceedsLimit reports a debit that would take an account past its
	// credits plus its credit limit.
	ErrExceedsLimit = errors.New("ledger: insufficient funds")
	// ErrPendingNotFound reports a post or void of an unknown transfer.
	ErrPendingNotFound = errors.New("ledger: pending transfer not found")
	// ErrNotPending reports a post or void of a transfer that is not pending.
	ErrNotPending = errors.New("ledger: transfer is not pending")
	// ErrAlreadyResolved reports a post or void of a pending transfer that
	// was already posted or voided.
	ErrAlreadyResolved = errors.New("ledger: pending transfer already resolved")
	// ErrExceedsPending reports a post larger than its pending transfer, or a
	// post or void whose accounts differ from the pending transfer's.
	ErrExceedsPending = errors.New("ledger: post does not match its pending transfer")
	// ErrReversal reports a reversal that does not mirror its original
	// (same amount, debit and credit swapped) or targets a pending transfer.
	ErrReversal = errors.New("ledger: reversal does not mirror its original")
	// ErrAlreadyReversed reports a second reversal of one transfer.
	ErrAlreadyReversed = errors.New("ledger: transfer already reversed")
	// ErrLinkedEventFailed marks the other members of a linked chain in which
	// one transfer failed.
	ErrLinkedEventFailed = errors.New("ledger: another transfer in the linked chain failed")
	// ErrLinkedChainOpen reports a batch whose last transfer is flagged Linked.
	ErrLinkedChainOpen = errors.New("ledger: linked chain not closed")
	// ErrBatchRejected reports a Batch whose follow-up transfers failed;
	// nothing of the batch was applied. It wraps the first failure.
	ErrBatchRejected = errors.New("ledger: batch rejected")
	// ErrChainBroken reports a journal whose hash chain does not verify.
	ErrChainBroken = errors.New("ledger: journal hash chain broken")
	// ErrBadEntry reports bytes that are not a canonical journal entry.
	ErrBadEntry = errors.New("ledger: malformed journal entry")
	// ErrBadPosting reports a postings index row that is not a posting line
	// of a journaled transfer (DecodePostingLine).
	ErrBadPosting = errors.New("ledger: malformed postings index row")
)
