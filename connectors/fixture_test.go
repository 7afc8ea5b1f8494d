package connectors

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"rightsportal/config"
	"rightsportal/workflow"
)

// The organisation's systems: a newsletter list and a shop, each in a
// SQLite file of its own. Ann is the subject; Bob must never be touched.
const (
	ann = "ann@example.com"
	bob = "bob@example.com"
)

var newsletterSchema = []string{
	`CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL,
		newsletter_opt_in INTEGER NOT NULL DEFAULT 1, restricted INTEGER NOT NULL DEFAULT 0, created_at DATETIME NOT NULL)`,
	`INSERT INTO subscribers (email, name, created_at) VALUES
		('ann@example.com', 'Ann Example', '2024-01-02 03:04:05'),
		('bob@example.com', 'Bob Other', '2024-02-03 04:05:06')`,
}

var shopSchema = []string{
	`CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, address TEXT NOT NULL,
		marketing_opt_in INTEGER NOT NULL DEFAULT 1, restricted INTEGER NOT NULL DEFAULT 0)`,
	`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_email TEXT NOT NULL REFERENCES customers(email),
		total REAL NOT NULL, created_at DATETIME NOT NULL)`,
	`INSERT INTO customers (email, name, address) VALUES
		('ann@example.com', 'Ann Example', '1 Old Street'),
		('bob@example.com', 'Bob Other', '2 Other Road')`,
	`INSERT INTO orders (customer_email, total, created_at) VALUES
		('ann@example.com', 12.5, '2024-03-01 10:00:00'),
		('ann@example.com', 30, '2024-03-02 11:00:00'),
		('bob@example.com', 7, '2024-03-03 12:00:00')`,
}

func newsletterSystem(dsn string) config.System {
	return config.System{Code: "newsletter", Name: "Newsletter", Connector: config.Connector{
		Kind: config.ConnectorSQL, Driver: "sqlite", DSN: dsn,
		Statements: config.SQLStatements{
			Find:            "SELECT id, email, name, newsletter_opt_in, restricted, created_at FROM subscribers WHERE email = @email ORDER BY id",
			Portability:     "SELECT email, name FROM subscribers WHERE email = @email",
			Erase:           []string{"DELETE FROM subscribers WHERE email = @email"},
			Restrict:        []string{"UPDATE subscribers SET restricted = 1 WHERE email = @email"},
			Object:          []string{"UPDATE subscribers SET newsletter_opt_in = 0 WHERE email = @email"},
			WithdrawConsent: []string{"UPDATE subscribers SET newsletter_opt_in = 0 WHERE email = @email AND @consent = 'newsletter'"},
			Rectify:         []string{"UPDATE subscribers SET name = @value WHERE email = @email"},
		},
	}}
}

func shopSystem(dsn string) config.System {
	return config.System{Code: "shop", Name: "Shop", Connector: config.Connector{
		Kind: config.ConnectorSQL, Driver: "sqlite", DSN: dsn,
		Statements: config.SQLStatements{
			Find: "SELECT id, email, name, address, marketing_opt_in, restricted FROM customers WHERE email = @email",
			Export: `SELECT c.email, c.name, c.address, o.id AS order_id, o.total, o.created_at
				FROM customers c LEFT JOIN orders o ON o.customer_email = c.email
				WHERE c.email = @email ORDER BY o.id`,
			Portability: "SELECT email, name, address FROM customers WHERE email = @email",
			Erase: []string{
				"DELETE FROM orders WHERE customer_email = @email",
				"DELETE FROM customers WHERE email = @email",
			},
			Restrict:        []string{"UPDATE customers SET restricted = 1 WHERE email = @email"},
			Object:          []string{"UPDATE customers SET marketing_opt_in = 0 WHERE email = @email"},
			WithdrawConsent: []string{"UPDATE customers SET marketing_opt_in = 0 WHERE email = @email AND @consent = 'marketing'"},
			Rectify:         []string{"UPDATE customers SET address = @value WHERE email = @email"},
		},
	}}
}

// fixture is the organisation's two databases and a registry over them.
type fixture struct {
	reg              *Registry
	newsletter, shop string // file paths
}

// newFixture creates the databases; change may alter the systems before
// the registry is built.
func newFixture(t *testing.T, change ...func(systems []config.System)) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{newsletter: filepath.Join(dir, "newsletter.db"), shop: filepath.Join(dir, "shop.db")}
	create(t, f.newsletter, newsletterSchema)
	create(t, f.shop, shopSchema)
	systems := []config.System{newsletterSystem(f.newsletter), shopSystem(f.shop),
		{Code: "support", Name: "Support desk", Connector: config.Connector{Kind: config.ConnectorManual, Team: "support", Instructions: "Delete the tickets."}}}
	for _, c := range change {
		c(systems)
	}
	f.reg = NewRegistry(systems, http.DefaultClient, time.Now)
	t.Cleanup(func() {
		if err := f.reg.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return f
}

func openFile(t *testing.T, path string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

func create(t *testing.T, path string, stmts []string) {
	t.Helper()
	db := openFile(t, path)
	for _, s := range stmts {
		if err := db.Exec(s).Error; err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
}

// count answers a counting query against a fixture file.
func count(t *testing.T, path, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := openFile(t, path).Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// text answers a query for one string against a fixture file.
func text(t *testing.T, path, q string, args ...any) string {
	t.Helper()
	var s string
	if err := openFile(t, path).Raw(q, args...).Scan(&s).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func job(right workflow.RequestType, email string) Job {
	return Job{Right: right, RequestID: "req-1", Reference: "DSR-0001", Email: email, Name: "Ann Example", Delivery: "task-1-attempt-1"}
}

func run(t *testing.T, f fixture, system string, j Job) Result {
	t.Helper()
	res, err := f.reg.Run(context.Background(), system, j)
	if err != nil {
		t.Fatalf("run %s in %s: %v", j.Right, system, err)
	}
	return res
}
