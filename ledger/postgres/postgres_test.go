package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/postgres"
	"github.com/jackc/pgx/v5"
)

// dsn is the test server: CHARTER_TEST_POSTGRES, or the local server the
// development machines and CI run.
func dsn() string {
	if d := os.Getenv("CHARTER_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var schemas sync.Map // test name -> schema

// open gives each test its own schema, dropped afterwards; a test that
// opens many ledgers (the rapid properties) gets its schema emptied instead
// of a new one each time.
func open(t testing.TB, now func() time.Time) ledger.Ledger {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		if os.Getenv("CHARTER_TEST_POSTGRES") != "" {
			t.Fatalf("PostgreSQL at CHARTER_TEST_POSTGRES: %v", err)
		}
		t.Skipf("no PostgreSQL to test against (%v); set CHARTER_TEST_POSTGRES", err)
	}
	defer conn.Close(ctx)
	if v, ok := schemas.Load(t.Name()); ok {
		schema := v.(string)
		if _, err := conn.Exec(ctx, `TRUNCATE `+schema+`.journal, `+schema+`.transfers, `+schema+`.resolved, `+schema+`.accounts, `+schema+`.state`); err != nil {
			t.Fatal(err)
		}
		l, err := postgres.Open(ctx, dsn(), &postgres.Options{Now: now, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "ledger_test_" + hex.EncodeToString(b)
	schemas.Store(t.Name(), schema)
	l, err := postgres.Open(ctx, dsn(), &postgres.Options{Now: now, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		schemas.Delete(t.Name())
		c, err := pgx.Connect(context.Background(), dsn())
		if err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
			c.Close(context.Background())
		}
	})
	return l
}

func TestSuite(t *testing.T) { ledgertest.Test(t, open) }

func TestTamper(t *testing.T) {
	ctx := context.Background()
	l := open(t, ledgertest.Clock).(*postgres.Ledger)
	defer l.Close()
	if err := l.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "t", Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Audit(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := l.Exec(ctx, `UPDATE accounts SET cp = cp + 1 WHERE id = $1`, ledgertest.Alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Audit(ctx, l); err == nil {
		t.Fatal("edited balance not detected")
	}
	if err := l.Exec(ctx, `UPDATE journal SET hash = $1 WHERE seq = 2`, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.VerifyChain(ctx); err == nil {
		t.Fatal("edited hash not detected")
	}
}
