package models_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"rightsportal/internal/apptest"
	"rightsportal/models"
)

// TestPostgresLockedWriteIsBusy: on PostgreSQL a write that cannot get a
// row lock in time (another instance holds the audit chain's head) fails
// with ErrBusy after the lock timeout, writes nothing, and goes through
// once the lock is released. (SQLite's busy and full-disk cases are
// handlers' TestFailureDatabaseBusy and TestFailureDiskFull.)
func TestPostgresLockedWriteIsBusy(t *testing.T) {
	base := os.Getenv("PORTAL_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL only: run with PORTAL_TEST_POSTGRES_DSN, as .ci/run does")
	}
	dsn := apptest.FreshPostgres(t, base)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	st, err := models.Open(context.Background(), models.Options{Driver: "postgres", DSN: dsn + sep + "lock_timeout=300"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	other, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := other.DB()
	t.Cleanup(func() { sqlDB.Close() })

	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	create := func(ref string) error {
		_, err := st.Apply(context.Background(), now, models.Change{
			Create: &models.Request{ID: "00000000-0000-0000-0000-" + ref, Reference: "DSR-BUSY-" + ref[8:], Type: "access",
				Status: "unverified", Jurisdiction: "gdpr", Email: "busy@example.com", FullName: "Busy", Details: "{}",
				VerifyBy: now.Add(72 * time.Hour), DueAt: now.AddDate(0, 1, 0), Approvals: "[]"},
			Event: &models.Event{Action: "submit", FromState: "", ToState: "unverified", ActorKind: "subject"}})
		return err
	}
	hold := other.Begin()
	if err := hold.Exec("SELECT * FROM audit_heads FOR UPDATE").Error; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = create("000000000001")
	if !errors.Is(err, models.ErrBusy) {
		t.Fatalf("write under a held lock: %v, want ErrBusy", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the busy answer took %s", took)
	}
	hold.Rollback()
	var n int64
	other.Model(&models.Request{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d requests written by the refused change", n)
	}
	if err := create("000000000002"); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}
}
