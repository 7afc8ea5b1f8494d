package connectors_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/internal/apptest"
	"rightsportal/workflow"
)

// These tests run the sample organisation's sql systems
// (examples/organisation.yaml) against a real PostgreSQL server: the
// statements as the example writes them, bound by the connector. They
// run when PORTAL_TEST_POSTGRES_DSN names a server (.ci/run sets it in
// its second pass).

const (
	janeEmail = "jane@example.com"
	maxEmail  = "max@example.com"
)

// orgPostgres is examples/mkorg/organisation.sql in PostgreSQL: the
// same tables, columns and rows, with real timestamps for the dates.
var orgPostgres = []string{
	`CREATE TABLE subscribers (
		id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		email TEXT NOT NULL,
		name TEXT NOT NULL,
		newsletter_opt_in INTEGER NOT NULL DEFAULT 1,
		restricted INTEGER NOT NULL DEFAULT 0,
		subscribed_at TIMESTAMPTZ NOT NULL)`,
	`CREATE TABLE customers (
		id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL,
		address TEXT NOT NULL,
		marketing_opt_in INTEGER NOT NULL DEFAULT 1,
		restricted INTEGER NOT NULL DEFAULT 0,
		created_at TIMESTAMPTZ NOT NULL)`,
	`CREATE TABLE orders (
		id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		customer_email TEXT NOT NULL REFERENCES customers(email),
		item TEXT NOT NULL,
		total_cents INTEGER NOT NULL,
		ordered_at TIMESTAMPTZ NOT NULL)`,
	`INSERT INTO subscribers (email, name, subscribed_at) VALUES
		('jane@example.com', 'Jane Doe', '2025-03-01T09:00:00Z'),
		('max@example.com', 'Max Mustermann', '2025-05-12T17:30:00Z')`,
	`INSERT INTO customers (email, name, address, created_at) VALUES
		('jane@example.com', 'Jane Doe', '1 Example Street, Exampletown', '2024-11-20T10:00:00Z'),
		('max@example.com', 'Max Mustermann', 'Musterweg 2, Musterstadt', '2025-01-02T08:15:00Z')`,
	`INSERT INTO orders (customer_email, item, total_cents, ordered_at) VALUES
		('jane@example.com', 'Blue teapot', 2990, '2025-02-14T12:00:00Z'),
		('jane@example.com', 'Green cups (4)', 1850, '2025-06-01T15:20:00Z'),
		('max@example.com', 'Red kettle', 4200, '2025-04-04T09:45:00Z')`,
}

// sampleOrg is the sample organisation's database and a registry over its
// systems, with a connection of our own to look.
type sampleOrg struct {
	reg *connectors.Registry
	db  *sql.DB
}

// newPGOrg creates the sample organisation in a fresh PostgreSQL
// database; change may alter the sql systems (newsletter, shop) before
// the registry is built.
func newPGOrg(t *testing.T, change ...func(newsletter, shop *config.Connector)) sampleOrg {
	t.Helper()
	base := os.Getenv("PORTAL_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PORTAL_TEST_POSTGRES_DSN is not set: start a server with export PORTAL_TEST_POSTGRES_DSN=$(scripts/pgtest.sh)")
	}
	dsn := apptest.FreshPostgres(t, base)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range orgPostgres {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("organisation schema: %v", err)
		}
	}
	return sampleOrg{reg: orgRegistry(t, "postgres", dsn, change), db: db}
}

// newSQLiteOrg is the same organisation in SQLite
// (examples/mkorg/organisation.sql), for the checks both drivers must
// pass.
func newSQLiteOrg(t *testing.T, change ...func(newsletter, shop *config.Connector)) sampleOrg {
	t.Helper()
	dsn := apptest.OrgFixture(t, t.TempDir())
	return sampleOrg{reg: orgRegistry(t, "sqlite", dsn, change), db: apptest.OrgDB(t, dsn)}
}

// orgRegistry builds a registry over examples/organisation.yaml's
// systems, its sql systems on driver and dsn.
func orgRegistry(t *testing.T, driver, dsn string, change []func(newsletter, shop *config.Connector)) *connectors.Registry {
	t.Helper()
	systems := apptest.OrgSystems(t, dsn, "https://support.example.invalid/")
	conns := map[string]*config.Connector{}
	for i := range systems {
		if c := &systems[i].Connector; c.Kind == config.ConnectorSQL {
			c.Driver = driver
			conns[systems[i].Code] = c
		}
	}
	if conns["newsletter"] == nil || conns["shop"] == nil {
		t.Fatalf("organisation.yaml has no sql systems newsletter and shop")
	}
	for _, c := range change {
		c(conns["newsletter"], conns["shop"])
	}
	reg := connectors.NewRegistry(systems, http.DefaultClient, time.Now)
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return reg
}

func orgJob(right workflow.RequestType, email string) connectors.Job {
	return connectors.Job{Right: right, RequestID: "req-1", Reference: "DSR-0001", Email: email, Name: "Jane Doe", Delivery: "task-1-attempt-1"}
}

func (o sampleOrg) run(t *testing.T, system string, j connectors.Job) connectors.Result {
	t.Helper()
	res, err := o.reg.Run(context.Background(), system, j)
	if err != nil {
		t.Fatalf("run %s in %s: %v", j.Right, system, err)
	}
	return res
}

// int answers a query of one integer.
func (o sampleOrg) int(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := o.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// text answers a query of one string.
func (o sampleOrg) text(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	if err := o.db.QueryRow(q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// sameInstant checks that a row's time value is the RFC 3339 text of
// want, whatever zone the driver reads it in.
func sameInstant(t *testing.T, got any, want string) {
	t.Helper()
	s, _ := got.(string)
	g, err := time.Parse(time.RFC3339Nano, s)
	w, _ := time.Parse(time.RFC3339, want)
	if err != nil || !g.Equal(w) {
		t.Errorf("time %#v, want the instant %s", got, want)
	}
}

// Access runs each system's export (or find) statement and returns
// Jane's rows only, in the statement's column order, with JSON-safe
// values: PostgreSQL integers as int64, timestamps as RFC 3339 text.
func TestPostgresAccessReturnsJanesRows(t *testing.T) {
	o := newPGOrg(t)
	shop := o.run(t, "shop", orgJob(workflow.TypeAccess, janeEmail))
	if want := []string{"email", "name", "address", "item", "total_cents", "ordered_at"}; !reflect.DeepEqual(shop.Columns, want) {
		t.Errorf("shop columns %v, want %v", shop.Columns, want)
	}
	if len(shop.Rows) != 2 || shop.Summary != "found 2 rows" || shop.NotFound {
		t.Fatalf("shop %+v", shop)
	}
	for i, want := range []struct {
		item  string
		cents int64
		at    string
	}{{"Blue teapot", 2990, "2025-02-14T12:00:00Z"}, {"Green cups (4)", 1850, "2025-06-01T15:20:00Z"}} {
		r := shop.Rows[i]
		if r["email"] != janeEmail || r["name"] != "Jane Doe" || r["address"] != "1 Example Street, Exampletown" ||
			r["item"] != want.item || r["total_cents"] != want.cents {
			t.Errorf("shop row %d: %v", i, r)
		}
		sameInstant(t, r["ordered_at"], want.at)
	}
	if _, err := json.Marshal(shop.Rows); err != nil {
		t.Errorf("rows are not JSON-safe: %v", err)
	}

	news := o.run(t, "newsletter", orgJob(workflow.TypeAccess, janeEmail))
	if want := []string{"email", "name", "newsletter_opt_in", "restricted", "subscribed_at"}; !reflect.DeepEqual(news.Columns, want) {
		t.Errorf("newsletter columns %v, want %v", news.Columns, want)
	}
	if len(news.Rows) != 1 || news.Rows[0]["email"] != janeEmail || news.Rows[0]["newsletter_opt_in"] != int64(1) || news.Rows[0]["restricted"] != int64(0) {
		t.Fatalf("newsletter rows %v", news.Rows)
	}
	sameInstant(t, news.Rows[0]["subscribed_at"], "2025-03-01T09:00:00Z")

	// The e-mail address is matched after trimming and lower-casing.
	if res := o.run(t, "newsletter", orgJob(workflow.TypeAccess, " Jane@Example.com ")); len(res.Rows) != 1 {
		t.Errorf("mixed-case address found %d rows", len(res.Rows))
	}
}

// Portability returns only the columns its own statement provides.
func TestPostgresPortabilityReturnsOnlyProvidedColumns(t *testing.T) {
	o := newPGOrg(t)
	for system, want := range map[string][]map[string]any{
		"shop":       {{"email": janeEmail, "name": "Jane Doe", "address": "1 Example Street, Exampletown"}},
		"newsletter": {{"email": janeEmail, "name": "Jane Doe"}},
	} {
		res := o.run(t, system, orgJob(workflow.TypePortability, janeEmail))
		if !reflect.DeepEqual(res.Rows, want) || len(res.Columns) != len(want[0]) || res.Summary != "found 1 row" {
			t.Errorf("%s: %+v, want rows %v", system, res, want)
		}
	}
}

// A subject the organisation does not know is NotFound, for a query and
// for a change.
func TestPostgresUnknownSubjectIsNotFound(t *testing.T) {
	o := newPGOrg(t)
	res := o.run(t, "shop", orgJob(workflow.TypeAccess, "carol@example.com"))
	if !res.NotFound || res.Rows == nil || len(res.Rows) != 0 || res.Summary != "found 0 rows" {
		t.Errorf("access %+v", res)
	}
	res = o.run(t, "shop", orgJob(workflow.TypeErasure, "carol@example.com"))
	if !res.NotFound || res.Affected != 0 || res.Summary != "no rows matched" {
		t.Errorf("erasure %+v", res)
	}
}

// Erasure removes Jane's rows in every table, counts the rows of both
// statements, and leaves Max's rows alone; a second run finds nothing.
func TestPostgresErasureRemovesOnlyJanesRows(t *testing.T) {
	o := newPGOrg(t)
	if res := o.run(t, "shop", orgJob(workflow.TypeErasure, janeEmail)); res.Affected != 3 || res.Summary != "erased 3 rows" || res.NotFound {
		t.Errorf("shop %+v, want 3 rows erased (2 orders, 1 customer)", res)
	}
	if res := o.run(t, "newsletter", orgJob(workflow.TypeErasure, janeEmail)); res.Affected != 1 || res.Summary != "erased 1 row" {
		t.Errorf("newsletter %+v", res)
	}
	for _, c := range []struct {
		q    string
		who  string
		want int64
	}{
		{"SELECT count(*) FROM customers WHERE email = $1", janeEmail, 0},
		{"SELECT count(*) FROM orders WHERE customer_email = $1", janeEmail, 0},
		{"SELECT count(*) FROM subscribers WHERE email = $1", janeEmail, 0},
		{"SELECT count(*) FROM customers WHERE email = $1", maxEmail, 1},
		{"SELECT count(*) FROM orders WHERE customer_email = $1", maxEmail, 1},
		{"SELECT count(*) FROM subscribers WHERE email = $1", maxEmail, 1},
	} {
		if n := o.int(t, c.q, c.who); n != c.want {
			t.Errorf("%s [%s]: %d, want %d", c.q, c.who, n, c.want)
		}
	}
	if res := o.run(t, "shop", orgJob(workflow.TypeErasure, janeEmail)); !res.NotFound || res.Affected != 0 {
		t.Errorf("second erasure %+v", res)
	}
}

// Restriction and objection set their flags on Jane's rows only.
func TestPostgresRestrictionAndObjectionTouchOnlyJane(t *testing.T) {
	o := newPGOrg(t)
	for _, system := range []string{"shop", "newsletter"} {
		if res := o.run(t, system, orgJob(workflow.TypeRestriction, janeEmail)); res.Affected != 1 || res.Summary != "restricted 1 row" {
			t.Errorf("restrict %s: %+v", system, res)
		}
		if res := o.run(t, system, orgJob(workflow.TypeObjection, janeEmail)); res.Affected != 1 || res.Summary != "applied the objection to 1 row" {
			t.Errorf("object %s: %+v", system, res)
		}
	}
	for _, c := range []struct {
		q         string
		jane, max int64
	}{
		{"SELECT restricted FROM customers WHERE email = $1", 1, 0},
		{"SELECT restricted FROM subscribers WHERE email = $1", 1, 0},
		{"SELECT marketing_opt_in FROM customers WHERE email = $1", 0, 1},
		{"SELECT newsletter_opt_in FROM subscribers WHERE email = $1", 0, 1},
	} {
		if n := o.int(t, c.q, janeEmail); n != c.jane {
			t.Errorf("%s [jane]: %d, want %d", c.q, n, c.jane)
		}
		if n := o.int(t, c.q, maxEmail); n != c.max {
			t.Errorf("%s [max]: %d, want %d", c.q, n, c.max)
		}
	}
}

// Withdrawing one consent (lower(@consent) LIKE …) clears only that
// consent's opt-in, and only Jane's.
func TestPostgresConsentWithdrawalTouchesOnlyTheNamedConsent(t *testing.T) {
	o := newPGOrg(t)
	j := orgJob(workflow.TypeConsentWithdrawal, janeEmail)
	j.Details = workflow.Details{Consent: "Newsletter"}
	if res := o.run(t, "newsletter", j); res.Affected != 1 || res.Summary != "withdrew consent on 1 row" {
		t.Errorf("newsletter %+v", res)
	}
	if res := o.run(t, "shop", j); res.Affected != 0 || !res.NotFound {
		t.Errorf("shop %+v: the marketing consent was not withdrawn", res)
	}
	if n := o.int(t, "SELECT newsletter_opt_in FROM subscribers WHERE email = $1", janeEmail); n != 0 {
		t.Errorf("jane's newsletter consent kept")
	}
	if n := o.int(t, "SELECT newsletter_opt_in FROM subscribers WHERE email = $1", maxEmail); n != 1 {
		t.Errorf("max's newsletter consent withdrawn")
	}
	if n := o.int(t, "SELECT marketing_opt_in FROM customers WHERE email = $1", janeEmail); n != 1 {
		t.Errorf("jane's marketing consent withdrawn too")
	}
}

// Rectification applies the value staff chose (@value) to Jane's rows
// only; Lookup shows the current row before and after; a job without a
// value is refused before anything runs.
func TestPostgresRectificationAppliesTheValue(t *testing.T) {
	o := newPGOrg(t)
	j := orgJob(workflow.TypeRectification, janeEmail)
	j.Details = workflow.Details{Inaccurate: "name", Correction: "Jane Q. Doe"}
	j.Value = "Jane Q. Doe"
	before, err := o.reg.Lookup(context.Background(), "shop", j)
	if err != nil || len(before.Rows) != 1 || before.Rows[0]["name"] != "Jane Doe" {
		t.Fatalf("lookup %+v, %v", before, err)
	}
	for _, system := range []string{"shop", "newsletter"} {
		if res := o.run(t, system, j); res.Affected != 1 || res.Summary != "corrected 1 row" {
			t.Errorf("%s %+v", system, res)
		}
	}
	for _, table := range []string{"customers", "subscribers"} {
		if got := o.text(t, "SELECT name FROM "+table+" WHERE email = $1", janeEmail); got != j.Value {
			t.Errorf("%s: jane's name %q, want %q", table, got, j.Value)
		}
		if got := o.text(t, "SELECT name FROM "+table+" WHERE email = $1", maxEmail); got != "Max Mustermann" {
			t.Errorf("%s: max's name %q", table, got)
		}
	}
	after, err := o.reg.Lookup(context.Background(), "newsletter", j)
	if err != nil || len(after.Rows) != 1 || after.Rows[0]["name"] != j.Value {
		t.Errorf("lookup after %+v, %v", after, err)
	}
	j.Value = " "
	if _, err := o.reg.Run(context.Background(), "shop", j); !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("a rectification without a value ran: %v", err)
	}
}

// A failing second statement rolls back the first, whether the
// statement is at fault (a permanent failure) or the run times out (a
// temporary one).
func TestPostgresFailingStatementRollsBackTheTransaction(t *testing.T) {
	o := newPGOrg(t, func(news, shop *config.Connector) {
		shop.Statements.Erase = []string{
			"DELETE FROM orders WHERE customer_email = @email",
			"DELETE FROM customers WHERE email = @email AND no_such_column = 1",
		}
		news.Statements.Erase = []string{
			"DELETE FROM subscribers WHERE email = @email",
			"SELECT pg_sleep(5)",
		}
	})
	_, err := o.reg.Run(context.Background(), "shop", orgJob(workflow.TypeErasure, janeEmail))
	if !errors.Is(err, connectors.ErrPermanent) || !strings.Contains(err.Error(), "statement 2") {
		t.Errorf("err = %v, want a permanent failure of statement 2", err)
	}
	if n := o.int(t, "SELECT count(*) FROM orders WHERE customer_email = $1", janeEmail); n != 2 {
		t.Errorf("%d of jane's 2 orders left: the first statement was not rolled back", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = o.reg.Run(ctx, "newsletter", orgJob(workflow.TypeErasure, janeEmail))
	if err == nil || errors.Is(err, connectors.ErrPermanent) || !strings.Contains(err.Error(), "statement 2") {
		t.Errorf("err = %v, want a temporary failure of statement 2", err)
	}
	if n := o.int(t, "SELECT count(*) FROM subscribers WHERE email = $1", janeEmail); n != 1 {
		t.Errorf("jane's subscription deleted by a run that timed out")
	}
	// The pool is still usable after the cancelled transaction.
	if res := o.run(t, "newsletter", orgJob(workflow.TypeAccess, janeEmail)); len(res.Rows) != 1 {
		t.Errorf("access after the timeout: %+v", res)
	}
}

// The foreign key holds: deleting a customer who still has orders is a
// permanent failure and deletes nothing.
func TestPostgresForeignKeyViolationIsPermanent(t *testing.T) {
	o := newPGOrg(t, func(_, shop *config.Connector) {
		shop.Statements.Erase = []string{"DELETE FROM customers WHERE email = @email"}
	})
	if _, err := o.reg.Run(context.Background(), "shop", orgJob(workflow.TypeErasure, janeEmail)); !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("err = %v, want a permanent constraint failure", err)
	}
	if n := o.int(t, "SELECT count(*) FROM customers WHERE email = $1", janeEmail); n != 1 {
		t.Errorf("customer deleted despite orders")
	}
}

// Values are bound, never written into the statement: an address built
// to widen the WHERE clause matches nothing, and a value built to end
// the statement is stored as text.
func TestPostgresInjectedValuesAreBound(t *testing.T) {
	o := newPGOrg(t)
	evil := "x' OR '1'='1"
	if res := o.run(t, "shop", orgJob(workflow.TypeAccess, evil)); !res.NotFound {
		t.Errorf("access found %v", res.Rows)
	}
	if res := o.run(t, "shop", orgJob(workflow.TypeErasure, evil)); res.Affected != 0 {
		t.Errorf("erasure affected %d rows", res.Affected)
	}
	j := orgJob(workflow.TypeRectification, janeEmail)
	j.Value = "'); DROP TABLE customers; --"
	o.run(t, "shop", j)
	if got := o.text(t, "SELECT name FROM customers WHERE email = $1", janeEmail); got != j.Value {
		t.Errorf("name %q, want the value as text", got)
	}
	if n := o.int(t, "SELECT count(*) FROM customers"); n != 2 {
		t.Errorf("%d customers left, want 2", n)
	}
}

// PostgreSQL's own syntax binds: a cast straight after a parameter, a
// parameter used twice, in parentheses, beside || and a comment.
func TestPostgresParameterSyntax(t *testing.T) {
	o := newPGOrg(t, func(_, shop *config.Connector) {
		shop.Statements.Rectify = []string{
			"UPDATE customers -- the address, with the reference\n" +
				"SET address = @value::text||' ('||@reference||')' /* @email */\n" +
				"WHERE email = lower(@email::text) AND (@email) <> '' AND name = @name",
		}
	})
	j := orgJob(workflow.TypeRectification, janeEmail)
	j.Value = "5 New Street"
	if res := o.run(t, "shop", j); res.Affected != 1 {
		t.Fatalf("affected %d", res.Affected)
	}
	if got := o.text(t, "SELECT address FROM customers WHERE email = $1", janeEmail); got != "5 New Street (DSR-0001)" {
		t.Errorf("address %q", got)
	}
	if got := o.text(t, "SELECT address FROM customers WHERE email = $1", maxEmail); got != "Musterweg 2, Musterstadt" {
		t.Errorf("max's address %q", got)
	}
}

// Text inside string literals is never a parameter: a '?' or an @name
// there stays as written, on both drivers: the drivers bind the
// parameters, not gorm's placeholder parser, which knows no quotes.
func TestStringLiteralsAreNotParameters(t *testing.T) {
	for _, c := range []struct {
		driver string
		newOrg func(*testing.T, ...func(_, _ *config.Connector)) sampleOrg
	}{{"sqlite", newSQLiteOrg}, {"postgres", newPGOrg}} {
		t.Run(c.driver, func(t *testing.T) {
			o := c.newOrg(t, func(_, shop *config.Connector) {
				shop.Statements.Rectify = []string{
					"UPDATE customers SET address = @value || ' (moved? write to @email , ' || @reference || ')' " +
						"WHERE email = @email AND address <> '@email'",
				}
			})
			j := orgJob(workflow.TypeRectification, janeEmail)
			j.Value = "5 New Street"
			if res := o.run(t, "shop", j); res.Affected != 1 {
				t.Fatalf("affected %d", res.Affected)
			}
			if got, want := o.text(t, "SELECT address FROM customers WHERE email = $1", janeEmail), "5 New Street (moved? write to @email , DSR-0001)"; got != want {
				t.Errorf("address %q, want %q", got, want)
			}
		})
	}
}
