// Package ledger is Charter's double-entry ledger: accounts, transfers and a
// hash-chained journal from which every balance can be rebuilt.
//
// Money is an int64 count of a currency's smallest unit. A transfer moves an
// amount from one account (debit) to another (credit) of the same currency;
// the sum of every account's net balance (credits minus debits) is always
// zero. Transfers carry caller-chosen ids that are idempotency keys: sending
// the same transfer twice is a no-op that returns the original, sending a
// different transfer under a used id fails with ErrIDConflict.
//
// The semantics follow TigerBeetle's: transfers flagged Linked form a chain
// that applies all or nothing; a Pending transfer reserves funds that a later
// PostPending transfer moves (in full or in part) or a VoidPending transfer
// releases; accounts may not be debited past their credits plus their credit
// limit unless they carry AllowNegative. Nothing is ever edited or deleted:
// a mistake is corrected by a reversal transfer (see Reversal).
//
// Every accepted account and transfer is appended to a journal whose rows are
// chained by SHA-256 (see Entry and ChainHash); the chain head is the
// journal's Root, which settlement logs in the transparency log.
//
// This package holds the domain types and the pure state machine (Apply);
// storage backends live in sub-packages (ledger/sqlite), revenue splits in
// ledger/split, and the shared backend test suite in ledger/ledgertest.
package ledger

import (
	"context"
	"iter"
)

// Poster applies batches of transfers.
type Poster interface {
	// CreateTransfers applies ts in order in one storage transaction and
	// returns one Result per transfer. A failed transfer (Result.Err set)
	// leaves no trace; a failure inside a linked chain fails the whole
	// chain. The returned error is reserved for storage failures, in which
	// case nothing was applied.
	CreateTransfers(ctx context.Context, ts []Transfer) ([]Result, error)
}

// AccountCreator opens accounts.
type AccountCreator interface {
	// CreateAccounts opens accounts; an account that already exists with the
	// same definition is a no-op, one with a different definition fails
	// with ErrIDConflict. Either all accounts are created or none.
	CreateAccounts(ctx context.Context, as ...Account) error
}

// Reader looks up accounts and transfers.
type Reader interface {
	// LookupAccount returns the account and its balance, or ErrAccountNotFound.
	LookupAccount(ctx context.Context, id string) (AccountBalance, error)
	// LookupTransfer returns the journaled transfer, or ErrTransferNotFound.
	LookupTransfer(ctx context.Context, id string) (Record, error)
	// Balances returns every account's stored balance.
	Balances(ctx context.Context) (map[string]Balance, error)
}

// Journal exposes the hash-chained journal.
type Journal interface {
	// JournalRoot returns the size and head hash of the journal.
	JournalRoot(ctx context.Context) (Root, error)
	// Entries yields journal entries in order starting at sequence from
	// (1-based), each with the chain hash stored beside it.
	Entries(ctx context.Context, from uint64) iter.Seq2[JournalRow, error]
	// VerifyChain recomputes every row's hash from its entry and the
	// previous hash; an edited, reordered or deleted row gives
	// ErrChainBroken.
	VerifyChain(ctx context.Context) (Root, error)
	// Replay rebuilds every balance from the journal alone.
	Replay(ctx context.Context) (map[string]Balance, error)
}

// Batch is an all-or-nothing unit of work for Committer: transfers with
// per-transfer results (as CreateTransfers), then follow-up transfers and
// state writes computed from those results inside the same storage
// transaction.
type Batch struct {
	Transfers []Transfer
	// Then, if set, runs inside the transaction after Transfers were
	// applied. It returns follow-up transfers, which must all succeed (or
	// already exist) or the whole batch is rolled back with
	// ErrBatchRejected, and state records to store beside the journal
	// (such as split carries). state reads a record as of the transaction.
	Then Then
}

// Then computes a Batch's follow-up transfers and state writes from the
// results of its transfers; state reads a record as of the transaction.
type Then func(results []Result, state func(key string) ([]byte, error)) (follow []Transfer, writes map[string][]byte, err error)

// Committer applies Batches and keeps the state records they write.
type Committer interface {
	// Commit applies b in one storage transaction and returns the results
	// of b.Transfers followed by those of the follow-up transfers.
	Commit(ctx context.Context, b Batch) ([]Result, error)
	// State returns the record stored under key, or nil.
	State(ctx context.Context, key string) ([]byte, error)
}

// StatesReader reads several state records in one round trip. Backends
// offer it beside Committer.State; a caller finds it by type assertion.
type StatesReader interface {
	// States returns the records stored under keys; a key without a
	// record is absent from the map.
	States(ctx context.Context, keys []string) (map[string][]byte, error)
}

// Ledger is everything a storage backend provides. Callers should depend on
// the smaller role interfaces above where they can.
type Ledger interface {
	AccountCreator
	Poster
	Reader
	PostingReader
	Journal
	Committer
	Close() error
}

// JournalRow is one stored journal row.
type JournalRow struct {
	Seq   uint64
	Entry Entry
	Hash  [32]byte // stored chain hash: sha256(previous hash || Entry.Canonical())
}

// Root identifies the journal's state: its number of entries and the chain
// hash of the last one (all zeros for an empty journal).
type Root struct {
	Size uint64
	Hash [32]byte
}
