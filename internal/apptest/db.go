package apptest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// freshPostgres creates an empty database for one test on the server of
// base (PORTAL_TEST_POSTGRES_DSN, see scripts/pgtest.sh), drops it when
// the test ends, and returns its DSN. With that variable set, every test
// built on apptest runs against PostgreSQL instead of SQLite.
func freshPostgres(t testing.TB, base string) string {
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

// DB opens a separate connection to the app's database for tests that
// look at rows directly or tamper with them. It is gorm, so the same
// SQL with ? placeholders runs on SQLite and PostgreSQL alike.
func (a *App) DB() *gorm.DB {
	a.T.Helper()
	var d gorm.Dialector = sqlite.Open("file:" + a.Cfg.Database.DSN + "?_busy_timeout=10000")
	if a.Cfg.Database.Driver == "postgres" {
		d = postgres.Open(a.Cfg.Database.DSN)
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		a.T.Fatal(err)
	}
	sqlDB, _ := db.DB()
	a.T.Cleanup(func() { sqlDB.Close() })
	return db
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
