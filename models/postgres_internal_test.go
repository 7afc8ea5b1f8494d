package models

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPgDSNLockTimeout: the lock timeout is added to both DSN forms, and
// an operator's own is kept.
func TestPgDSNLockTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@db/portal?sslmode=require": "postgres://u:p@db/portal?lock_timeout=10000&sslmode=require",
		"postgresql://db/portal":                   "postgresql://db/portal?lock_timeout=10000",
		"host=db dbname=portal sslmode=disable":    "host=db dbname=portal sslmode=disable lock_timeout=10000",
		"postgres://db/portal?lock_timeout=2000":   "postgres://db/portal?lock_timeout=2000",
		"host=db dbname=portal lock_timeout=500":   "host=db dbname=portal lock_timeout=500",
	} {
		if got := pgDSN(in); got != want {
			t.Errorf("pgDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPgBusy: the answers that mean "not now" become ErrBusy; others
// stay what they are.
func TestPgBusy(t *testing.T) {
	for code, busy := range map[string]bool{"55P03": true, "53100": true, "53200": true, "53300": true, "23505": false, "42P01": false} {
		err := pgBusy(&pgconn.PgError{Code: code, Message: "x"})
		if errors.Is(err, ErrBusy) != busy {
			t.Errorf("code %s: busy %v, want %v", code, errors.Is(err, ErrBusy), busy)
		}
	}
	if pgBusy(nil) != nil {
		t.Error("nil became an error")
	}
}
