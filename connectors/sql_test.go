package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/workflow"
)

// Access returns exactly the subject's rows from every system, with the
// query's columns in order and JSON-safe values.
func TestAccessReturnsOnlyTheSubjectsRows(t *testing.T) {
	f := newFixture(t)
	res := run(t, f, "newsletter", job(workflow.TypeAccess, ann))
	if want := []string{"id", "email", "name", "newsletter_opt_in", "restricted", "created_at"}; !reflect.DeepEqual(res.Columns, want) {
		t.Errorf("columns %v, want %v", res.Columns, want)
	}
	if len(res.Rows) != 1 || res.Rows[0]["email"] != ann || res.Rows[0]["created_at"] != "2024-01-02T03:04:05Z" {
		t.Errorf("rows %v", res.Rows)
	}
	if res.NotFound || res.Summary != "found 1 row" {
		t.Errorf("result %+v", res)
	}
	shop := run(t, f, "shop", job(workflow.TypeAccess, ann))
	if want := []string{"email", "name", "address", "order_id", "total", "created_at"}; !reflect.DeepEqual(shop.Columns, want) {
		t.Errorf("shop columns %v, want %v", shop.Columns, want)
	}
	if len(shop.Rows) != 2 || shop.Summary != "found 2 rows" {
		t.Fatalf("shop rows %v", shop.Rows)
	}
	for _, r := range shop.Rows {
		if r["email"] != ann {
			t.Errorf("another subject's row: %v", r)
		}
	}
	if shop.Rows[0]["total"] != 12.5 || shop.Rows[1]["created_at"] != "2024-03-02T11:00:00Z" {
		t.Errorf("shop rows %v", shop.Rows)
	}
	if _, err := json.Marshal(shop.Rows); err != nil {
		t.Errorf("rows are not JSON-safe: %v", err)
	}
}

// Portability returns only the columns its own statement provides.
func TestPortabilityReturnsOnlyProvidedColumns(t *testing.T) {
	f := newFixture(t)
	res := run(t, f, "shop", job(workflow.TypePortability, ann))
	if want := []string{"email", "name", "address"}; !reflect.DeepEqual(res.Columns, want) {
		t.Errorf("columns %v, want %v", res.Columns, want)
	}
	want := []map[string]any{{"email": ann, "name": "Ann Example", "address": "1 Old Street"}}
	if !reflect.DeepEqual(res.Rows, want) {
		t.Errorf("rows %v, want %v", res.Rows, want)
	}
}

// Erasure removes exactly the subject's rows in every table and leaves
// the other subject's; the affected rows of all statements are summed.
func TestErasureRemovesOnlyTheSubjectsRows(t *testing.T) {
	f := newFixture(t)
	res := run(t, f, "shop", job(workflow.TypeErasure, ann))
	if res.Affected != 3 || res.Summary != "erased 3 rows" || res.NotFound {
		t.Errorf("result %+v, want 3 rows erased", res)
	}
	run(t, f, "newsletter", job(workflow.TypeErasure, ann))
	for _, c := range []struct {
		path, q string
		want    int64
	}{
		{f.shop, "SELECT count(*) FROM customers WHERE email = 'ann@example.com'", 0},
		{f.shop, "SELECT count(*) FROM orders WHERE customer_email = 'ann@example.com'", 0},
		{f.newsletter, "SELECT count(*) FROM subscribers WHERE email = 'ann@example.com'", 0},
		{f.shop, "SELECT count(*) FROM customers WHERE email = 'bob@example.com'", 1},
		{f.shop, "SELECT count(*) FROM orders WHERE customer_email = 'bob@example.com'", 1},
		{f.newsletter, "SELECT count(*) FROM subscribers WHERE email = 'bob@example.com'", 1},
	} {
		if n := count(t, c.path, c.q); n != c.want {
			t.Errorf("%s: %d, want %d", c.q, n, c.want)
		}
	}
}

// Restriction sets the flag on the subject's rows only.
func TestRestrictionSetsTheFlag(t *testing.T) {
	f := newFixture(t)
	res := run(t, f, "shop", job(workflow.TypeRestriction, ann))
	if res.Affected != 1 || res.Summary != "restricted 1 row" {
		t.Errorf("result %+v", res)
	}
	if n := count(t, f.shop, "SELECT restricted FROM customers WHERE email = ?", ann); n != 1 {
		t.Errorf("ann restricted = %d", n)
	}
	if n := count(t, f.shop, "SELECT restricted FROM customers WHERE email = ?", bob); n != 0 {
		t.Errorf("bob restricted = %d", n)
	}
}

// An objection (to direct marketing) clears the marketing opt-in.
func TestObjectionClearsTheOptIn(t *testing.T) {
	f := newFixture(t)
	run(t, f, "shop", job(workflow.TypeObjection, ann))
	if n := count(t, f.shop, "SELECT marketing_opt_in FROM customers WHERE email = ?", ann); n != 0 {
		t.Errorf("ann still opted in")
	}
	if n := count(t, f.shop, "SELECT marketing_opt_in FROM customers WHERE email = ?", bob); n != 1 {
		t.Errorf("bob opted out")
	}
}

// Withdrawing one consent clears only that consent's opt-in (@consent).
func TestConsentWithdrawalTouchesOnlyTheNamedConsent(t *testing.T) {
	f := newFixture(t)
	j := job(workflow.TypeConsentWithdrawal, ann)
	j.Details = workflow.Details{Consent: "newsletter"}
	if res := run(t, f, "newsletter", j); res.Affected != 1 {
		t.Errorf("newsletter %+v", res)
	}
	if res := run(t, f, "shop", j); res.Affected != 0 || !res.NotFound || res.Summary != "no rows matched" {
		t.Errorf("shop %+v: the marketing consent was not withdrawn", res)
	}
	if n := count(t, f.newsletter, "SELECT newsletter_opt_in FROM subscribers WHERE email = ?", ann); n != 0 {
		t.Errorf("newsletter consent kept")
	}
	if n := count(t, f.shop, "SELECT marketing_opt_in FROM customers WHERE email = ?", ann); n != 1 {
		t.Errorf("marketing consent withdrawn too")
	}
	if n := count(t, f.newsletter, "SELECT newsletter_opt_in FROM subscribers WHERE email = ?", bob); n != 1 {
		t.Errorf("bob's consent withdrawn")
	}
}

// Rectification applies the value staff chose (@value); Lookup shows the
// current row before and after.
func TestRectificationAppliesTheValue(t *testing.T) {
	f := newFixture(t)
	j := job(workflow.TypeRectification, ann)
	j.Details = workflow.Details{Inaccurate: "address", Correction: "5 New Street"}
	j.Value = "5 New Street, Flat 2"
	before, err := f.reg.Lookup(context.Background(), "shop", j)
	if err != nil || len(before.Rows) != 1 || before.Rows[0]["address"] != "1 Old Street" {
		t.Fatalf("lookup %+v, %v", before, err)
	}
	if res := run(t, f, "shop", j); res.Affected != 1 || res.Summary != "corrected 1 row" {
		t.Errorf("result %+v", res)
	}
	if got := text(t, f.shop, "SELECT address FROM customers WHERE email = ?", ann); got != j.Value {
		t.Errorf("address %q, want %q", got, j.Value)
	}
	if got := text(t, f.shop, "SELECT address FROM customers WHERE email = ?", bob); got != "2 Other Road" {
		t.Errorf("bob's address %q", got)
	}
	after, _ := f.reg.Lookup(context.Background(), "shop", j)
	if after.Rows[0]["address"] != j.Value {
		t.Errorf("lookup after %v", after.Rows)
	}
	j.Value = " "
	if _, err := f.reg.Run(context.Background(), "shop", j); !errors.Is(err, ErrPermanent) {
		t.Errorf("a rectification without a value ran: %v", err)
	}
}

// A failing second statement rolls back the first: nothing is deleted,
// and a bad statement is a permanent failure.
func TestFailingStatementRollsBackTheTransaction(t *testing.T) {
	f := newFixture(t, func(s []config.System) {
		s[1].Connector.Statements.Erase = []string{
			"DELETE FROM orders WHERE customer_email = @email",
			"DELETE FROM customers WHERE email = @email AND no_such_column = 1",
		}
	})
	_, err := f.reg.Run(context.Background(), "shop", job(workflow.TypeErasure, ann))
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "statement 2") {
		t.Fatalf("err = %v, want a permanent failure of statement 2", err)
	}
	if n := count(t, f.shop, "SELECT count(*) FROM orders WHERE customer_email = ?", ann); n != 2 {
		t.Errorf("%d of ann's 2 orders left: the first statement was not rolled back", n)
	}
}

// Foreign keys are enforced (_foreign_keys=on): deleting a customer who
// still has orders fails instead of leaving orphans.
func TestForeignKeysAreEnforced(t *testing.T) {
	f := newFixture(t, func(s []config.System) {
		s[1].Connector.Statements.Erase = []string{"DELETE FROM customers WHERE email = @email"}
	})
	if _, err := f.reg.Run(context.Background(), "shop", job(workflow.TypeErasure, ann)); !errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want a permanent constraint failure", err)
	}
	if n := count(t, f.shop, "SELECT count(*) FROM customers WHERE email = ?", ann); n != 1 {
		t.Errorf("customer deleted despite orders")
	}
}

// A subject the system does not know is NotFound, for a query and for a
// change.
func TestNotFoundWhenTheSubjectHasNoRows(t *testing.T) {
	f := newFixture(t)
	res := run(t, f, "shop", job(workflow.TypeAccess, "carol@example.com"))
	if !res.NotFound || len(res.Rows) != 0 || res.Rows == nil || res.Summary != "found 0 rows" {
		t.Errorf("access %+v", res)
	}
	res = run(t, f, "newsletter", job(workflow.TypeErasure, "carol@example.com"))
	if !res.NotFound || res.Affected != 0 {
		t.Errorf("erasure %+v", res)
	}
}

// Values are bound, never written into the statement: an e-mail address
// built to widen the WHERE clause matches nothing and deletes nothing.
func TestInjectedEmailIsBound(t *testing.T) {
	f := newFixture(t)
	evil := "x' OR '1'='1"
	if res := run(t, f, "shop", job(workflow.TypeAccess, evil)); !res.NotFound {
		t.Errorf("access found %v", res.Rows)
	}
	if res := run(t, f, "shop", job(workflow.TypeErasure, evil)); res.Affected != 0 {
		t.Errorf("erasure affected %d rows", res.Affected)
	}
	j := job(workflow.TypeRectification, ann)
	j.Value = "'); DROP TABLE customers; --"
	run(t, f, "shop", j)
	if n := count(t, f.shop, "SELECT count(*) FROM customers"); n != 2 {
		t.Errorf("%d customers left, want 2", n)
	}
	if n := count(t, f.shop, "SELECT count(*) FROM orders"); n != 3 {
		t.Errorf("%d orders left, want 3", n)
	}
}

// Lookup runs the find statement and returns the subject's current row.
func TestLookupReturnsTheCurrentRow(t *testing.T) {
	f := newFixture(t)
	res, err := f.reg.Lookup(context.Background(), "newsletter", job(workflow.TypeRectification, ann))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0]["name"] != "Ann Example" || res.Rows[0]["newsletter_opt_in"] != int64(1) {
		t.Errorf("rows %v", res.Rows)
	}
	if _, err := f.reg.Lookup(context.Background(), "support", job(workflow.TypeRectification, ann)); !errors.Is(err, ErrPermanent) {
		t.Errorf("lookup in a manual system: %v", err)
	}
}

// Parameters bind next to operators, tabs and parentheses, across lines
// and beside comments; parameters a statement does not use are not
// passed; an unknown parameter or a '?' is refused before anything runs.
func TestStatementParameters(t *testing.T) {
	f := newFixture(t, func(s []config.System) {
		s[1].Connector.Statements.Rectify = []string{
			"UPDATE customers -- set the address, @not_a_parameter\n" +
				"SET address = @value||' (corrected '||@reference||')' /* ? */\n" +
				"WHERE email =\t@email\tAND name = 'Ann Example' AND '@x' <> (@name)",
		}
	})
	j := job(workflow.TypeRectification, ann)
	j.Value = "9 Lane"
	if res := run(t, f, "shop", j); res.Affected != 1 {
		t.Fatalf("affected %d", res.Affected)
	}
	if got := text(t, f.shop, "SELECT address FROM customers WHERE email = ?", ann); got != "9 Lane (corrected DSR-0001)" {
		t.Errorf("address %q", got)
	}
	for stmt, want := range map[string]string{
		"SELECT * FROM customers WHERE email = @emial": "unknown parameter @emial",
		"SELECT * FROM customers WHERE email = ?":      "'?' is not allowed",
		"SELECT * FROM customers WHERE email = 'x":     "unterminated",
	} {
		_, _, err := bind(stmt, j)
		if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", stmt, err, want)
		}
	}
	got, vars, err := bind("SELECT 1 WHERE @email = @email", j)
	if err != nil || len(vars) != 1 || !reflect.DeepEqual(vars[0], map[string]any{"email": ann}) {
		t.Errorf("bind: %q %v %v", got, vars, err)
	}
}

// Manual systems, unknown systems, rights a system does not serve and
// jobs without an e-mail address are refused for good.
func TestRefusedJobs(t *testing.T) {
	f := newFixture(t, func(s []config.System) { s[0].Connector.Rights = []string{"erasure"} })
	for _, c := range []struct {
		system string
		j      Job
	}{
		{"support", job(workflow.TypeErasure, ann)},
		{"nowhere", job(workflow.TypeErasure, ann)},
		{"newsletter", job(workflow.TypeAccess, ann)},
		{"shop", job(workflow.TypeErasure, "  ")},
		{"shop", job("gossip", ann)},
	} {
		if _, err := f.reg.Run(context.Background(), c.system, c.j); !errors.Is(err, ErrPermanent) {
			t.Errorf("%s %s %q: %v, want a permanent failure", c.system, c.j.Right, c.j.Email, err)
		}
	}
}

// A missing SQLite file is a temporary failure and is never created: the
// database is the organisation's, not ours.
func TestMissingSQLiteFileIsNotCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.db")
	reg := NewRegistry([]config.System{newsletterSystem(path)}, nil, nil)
	defer reg.Close()
	_, err := reg.Run(context.Background(), "newsletter", job(workflow.TypeAccess, ann))
	if err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want a temporary failure", err)
	}
	t.Log(err)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the database file was created")
	}
}

// An unreachable PostgreSQL database is a temporary failure, and the run
// is bounded by the caller's context.
func TestUnreachablePostgresIsTemporary(t *testing.T) {
	sys := newsletterSystem("postgres://portal:secret@127.0.0.1:1/org?sslmode=disable&connect_timeout=5")
	sys.Connector.Driver = "postgres"
	reg := NewRegistry([]config.System{sys}, nil, nil)
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := reg.Run(ctx, "newsletter", job(workflow.TypeErasure, ann))
	if err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want a temporary failure", err)
	}
	t.Log(err)
}

// Runs from 8 goroutines share one lazily opened pool safely, readers and
// writers alike.
func TestConcurrentRuns(t *testing.T) {
	f := newFixture(t)
	create(t, f.newsletter, []string{`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 8)
		INSERT INTO subscribers (email, name, created_at) SELECT 'user' || i || '@example.com', 'User', '2024-01-01 00:00:00' FROM n`})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 1; i <= 8; i++ {
		wg.Go(func() {
			email := fmt.Sprintf("user%d@example.com", i)
			for _, right := range []workflow.RequestType{workflow.TypeAccess, workflow.TypeRestriction, workflow.TypeErasure} {
				res, err := f.reg.Run(context.Background(), "newsletter", job(right, email))
				if err != nil || res.NotFound {
					errs <- fmt.Errorf("%s %s: %+v %v", email, right, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, f.newsletter, "SELECT count(*) FROM subscribers"); n != 2 {
		t.Errorf("%d subscribers left, want ann and bob", n)
	}
}

// Driver values become JSON-safe: times as RFC 3339, bytes as text or
// base64, non-finite floats as text.
func TestJSONValue(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 7200))
	for _, c := range []struct{ in, want any }{
		{ts, "2024-05-06T07:08:09+02:00"},
		{[]byte("plain"), "plain"},
		{[]byte{0xff, 0x00}, "/wA="},
		{math.Inf(1), "+Inf"},
		{int64(3), int64(3)},
		{nil, nil},
	} {
		if got := jsonValue(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("jsonValue(%v) = %#v, want %#v", c.in, got, c.want)
		}
	}
}
