package sqlite

import (
	"context"
	"fmt"
)

// The methods in this file put a catalog into states that applying the
// log cannot produce: what an older version, a lost file or an operator's
// edit leaves behind. They exist for the tests of the checks and repairs
// that must catch such states (charter admin check, rebuild, settlement
// idempotence), so that no test outside this package writes its SQL. They
// are not part of any catalog role.

// ResetQuotaCounters forgets every grant's served counters, as a rebuild
// did before counters were carried over.
func (c *Catalog) ResetQuotaCounters(ctx context.Context) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.db.ExecContext(ctx, `DELETE FROM grant_usage`); err != nil {
		return fmt.Errorf("catalog: reset quota counters: %w", err)
	}
	return nil
}

// ForgetSettled moves the settlement watermark back to 0, as if no
// settlement entry had been applied, keeping everything else.
func (c *Catalog) ForgetSettled(ctx context.Context) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.db.ExecContext(ctx, `UPDATE settle_watermark SET through = 0`); err != nil {
		return fmt.Errorf("catalog: forget settlements: %w", err)
	}
	return nil
}
