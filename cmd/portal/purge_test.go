package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rightsportal/models"
)

// purgeStore opens the test environment's database directly.
func purgeStore(t *testing.T, e testEnv) *models.Store {
	t.Helper()
	st, err := models.Open(context.Background(), models.Options{Driver: e["PORTAL_DATABASE_DRIVER"], DSN: e["PORTAL_DATABASE_DSN"], MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// purgeOldRequest writes a completed request that closed three years ago,
// beyond the shipped 24 months of retention, and returns its id.
func purgeOldRequest(t *testing.T, e testEnv) (id, ref string) {
	t.Helper()
	ctx := context.Background()
	st := purgeStore(t, e)
	defer st.Close()
	now := time.Now()
	r := &models.Request{ID: "00000000-0000-7000-8000-000000000001", Reference: "DSR-0000-0001", Type: "access",
		Status: "verified", Jurisdiction: "gdpr", Email: "old@example.com", FullName: "Old Subject", Details: "{}",
		VerifyBy: now.Add(72 * time.Hour), DueAt: now.AddDate(0, 1, 0), Approvals: "[]"}
	if _, err := st.Apply(ctx, now, models.Change{Create: r}); err != nil {
		t.Fatal(err)
	}
	closed := now.AddDate(-3, 0, 0)
	if _, err := st.Apply(ctx, now, models.Change{RequestID: r.ID, Version: 1,
		Set: map[string]any{"status": "completed", "closed_at": closed}}); err != nil {
		t.Fatal(err)
	}
	return r.ID, r.Reference
}

func purgeRequest(t *testing.T, e testEnv, id string) *models.Request {
	t.Helper()
	st := purgeStore(t, e)
	defer st.Close()
	r, err := st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPurgeCommand protects `portal purge`: the dry run reports what
// would go (nothing on a fresh database, an old closed request otherwise)
// and changes nothing; the real run removes the personal data and a
// second dry run finds nothing left.
func TestPurgeCommand(t *testing.T) {
	e := newTestEnv(t)
	if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "ada@example.org", "--name", "Ada", "--role", "admin"); err != nil {
		t.Fatalf("staff add: %v", err)
	}
	out, _, err := e.run(t, "", "purge", "--dry-run")
	if err != nil || !strings.Contains(out, "would purge the personal data of 0 closed requests") {
		t.Fatalf("dry run on a fresh database: %v\n%s", err, out)
	}

	id, ref := purgeOldRequest(t, e)
	out, _, err = e.run(t, "", "purge", "--dry-run")
	if err != nil || !strings.Contains(out, ref+"\tcompleted") || !strings.Contains(out, "would purge the personal data of 1 closed requests") {
		t.Fatalf("dry run with an old request: %v\n%s", err, out)
	}
	if r := purgeRequest(t, e, id); r.Email != "old@example.com" || r.PurgedAt != nil {
		t.Fatalf("the dry run changed the request: %+v", r)
	}

	out, _, err = e.run(t, "", "purge")
	if err != nil || !strings.Contains(out, ref) || !strings.Contains(out, "purged the personal data of 1 closed requests") {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	if r := purgeRequest(t, e, id); r.Email != "" || r.FullName != "" || r.PurgedAt == nil || r.Status != "completed" {
		t.Errorf("after the purge: %+v", r)
	}
	out, _, err = e.run(t, "", "purge", "--dry-run")
	if err != nil || !strings.Contains(out, "would purge the personal data of 0 closed requests") {
		t.Errorf("dry run after the purge: %v\n%s", err, out)
	}
	if out, _, err := e.run(t, "", "audit", "verify"); err != nil {
		t.Errorf("audit chain after the purge: %v\n%s", err, out)
	}
}

// TestPurgeNeedsADatabase protects against a mistyped database path:
// purge, with or without --dry-run, fails naming the path and creates
// nothing.
func TestPurgeNeedsADatabase(t *testing.T) {
	e := newTestEnv(t)
	e["PORTAL_DATABASE_DRIVER"], e["PORTAL_DATABASE_DSN"] = "sqlite", filepath.Join(t.TempDir(), "missing.db")
	for _, args := range [][]string{{"purge", "--dry-run"}, {"purge"}} {
		out, _, err := e.run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "missing.db") {
			t.Errorf("%v on a missing database: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(e["PORTAL_DATABASE_DSN"]); err == nil {
		t.Fatal("a database file was created")
	}
}
