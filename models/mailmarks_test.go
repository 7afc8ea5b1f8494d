package models_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestMailMarksBesideIntake: the send worker's marks (sent, attempt,
// failed) go through the same writer as intake (on SQLite, into its group
// commits). Marks made from many goroutines while requests are filed all
// land, each on its own mail, and the changes filed meanwhile do too.
func TestMailMarksBesideIntake(t *testing.T) {
	c := newAuditChain(t)
	for range 30 {
		c.create(t)
	}
	var ids []int64
	if err := c.db.Raw("SELECT id FROM mails ORDER BY id").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	if len(ids) != 30 {
		t.Fatalf("%d mails queued, want 30", len(ids))
	}
	// Queued mail carries its sealed links; a final mark drops them.
	if err := c.db.Exec("UPDATE mails SET sealed = ?", []byte{1, 2, 3}).Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sentAt := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				err = c.store.MailSent(ctx, id, sentAt)
			case 1:
				err = c.store.MailAttempt(ctx, id, "451 try later")
			default:
				err = c.store.MailFailed(ctx, id, "550 no such user")
			}
			errs <- err
		})
	}
	// Intake meanwhile, from the test's goroutine (create is not safe for
	// concurrent use; the store is).
	for range 10 {
		c.create(t)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		ID        int64
		Status    string
		Attempts  int
		LastError string
		Sealed    []byte
	}
	var rows []row
	if err := c.db.Raw("SELECT id, status, attempts, last_error, sealed FROM mails ORDER BY id").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 40 {
		t.Fatalf("%d mails, want 40 (30 marked, 10 filed meanwhile)", len(rows))
	}
	want := map[int]struct{ status, err string }{0: {"sent", ""}, 1: {"queued", "451 try later"}, 2: {"failed", "550 no such user"}}
	for i, r := range rows[:30] {
		w := want[i%3]
		if r.Status != w.status || r.LastError != w.err || r.Attempts != 1 {
			t.Errorf("mail %d: status %q, attempts %d, error %q; want %q, 1, %q", r.ID, r.Status, r.Attempts, r.LastError, w.status, w.err)
		}
		if (w.status != "queued") != (r.Sealed == nil) {
			t.Errorf("mail %d (%s): sealed secrets %v", r.ID, r.Status, r.Sealed)
		}
	}
	for _, r := range rows[30:] {
		if r.Status != "queued" || r.Attempts != 0 {
			t.Errorf("mail %d filed meanwhile: status %q, attempts %d; want queued, 0", r.ID, r.Status, r.Attempts)
		}
	}
}
