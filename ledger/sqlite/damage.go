package sqlite

import (
	"context"
	"fmt"
)

// ForgeCredit raises an account's posted credits by amount without a
// journal entry, as a hand edit of ledger.db does. It exists for the tests
// of the checks that must catch such an edit (charter admin check), so
// that no test outside this package writes the ledger's SQL.
func (l *Ledger) ForgeCredit(ctx context.Context, account string, amount int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.db.ExecContext(ctx, `UPDATE accounts SET cp = cp + ? WHERE id = ?`, amount, account)
	if err != nil {
		return fmt.Errorf("ledger: forge credit of %s: %w", account, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("ledger: forge credit: no account %s", account)
	}
	return nil
}
