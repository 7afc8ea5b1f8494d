package apptest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// FreshPostgres creates an empty database for one test on the server of
// base (PORTAL_TEST_POSTGRES_DSN, see scripts/pgtest.sh), drops it when
// the test ends, and returns its DSN. With that variable set, every test
// built on apptest runs against PostgreSQL instead of SQLite; tests that
// open a store of their own call it too.
func FreshPostgres(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("apptest: create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// DB is a separate connection pool to the app's database (opened on
// the first call, closed when the test ends) for tests that look at rows
// directly or tamper with them. It is gorm, so the same SQL with ?
// placeholders runs on SQLite and PostgreSQL alike.
func (a *App) DB() *gorm.DB {
	a.T.Helper()
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	if a.db != nil {
		return a.db
	}
	// A test may have given the SQLite DSN a file: prefix or parameters.
	path, _, _ := strings.Cut(strings.TrimPrefix(a.Cfg.Database.DSN, "file:"), "?")
	var d gorm.Dialector = sqlite.Open("file:" + path + "?_busy_timeout=10000")
	if a.Cfg.Database.Driver == "postgres" {
		d = postgres.Open(a.Cfg.Database.DSN)
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		a.T.Fatal(err)
	}
	sqlDB, _ := db.DB()
	a.T.Cleanup(func() { sqlDB.Close() })
	a.db = db
	return db
}

// Postgres tells whether the app runs on PostgreSQL, for the few
// checks that must name a catalogue or a function of their own.
func (a *App) Postgres() bool { return a.Cfg.Database.Driver == "postgres" }

// QueryInt answers a query of one integer (a COUNT(*), a counter
// column) on a.DB(), failing the test when it finds no row.
func (a *App) QueryInt(query string, args ...any) int {
	a.T.Helper()
	var n int
	if err := a.DB().Raw(query, args...).Row().Scan(&n); err != nil {
		a.T.Fatalf("%s: %v", query, err)
	}
	return n
}

// Exec runs one statement on a.DB().
func (a *App) Exec(stmt string, args ...any) {
	a.T.Helper()
	if err := a.DB().Exec(stmt, args...).Error; err != nil {
		a.T.Fatalf("%s: %v", stmt, err)
	}
}

// Count counts the rows of table matching where (optional).
func (a *App) Count(db *gorm.DB, table, where string, args ...any) int64 {
	a.T.Helper()
	q := db.Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		a.T.Fatalf("count %s: %v", table, err)
	}
	return n
}
