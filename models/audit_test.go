package models_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"rightsportal/internal/apptest"
	"rightsportal/models"
)

// auditChain is a store with a few requests and their audit events, and a raw
// connection to the same database to tamper with (gorm, so that the same
// SQL with ? placeholders runs on SQLite and PostgreSQL).
type auditChain struct {
	store *models.Store
	db    *gorm.DB
	now   time.Time
	seq   int
}

// newAuditChain opens a store on a new SQLite file, or on a fresh
// PostgreSQL database when PORTAL_TEST_POSTGRES_DSN names a server.
func newAuditChain(t *testing.T) *auditChain {
	t.Helper()
	driver, dsn := "sqlite", filepath.Join(t.TempDir(), "audit.db")
	var dialector gorm.Dialector = sqlite.Open("file:" + dsn + "?_busy_timeout=10000")
	if base := os.Getenv("PORTAL_TEST_POSTGRES_DSN"); base != "" {
		driver, dsn = "postgres", apptest.FreshPostgres(t, base)
		dialector = postgres.Open(dsn)
	}
	st, err := models.Open(context.Background(), models.Options{Driver: driver, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close(); st.Close() })
	return &auditChain{store: st, db: db, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// tick is the time of the next write, a second after the last.
func (c *auditChain) tick() time.Time {
	c.now = c.now.Add(time.Second)
	return c.now
}

func (c *auditChain) mail() *models.Mail {
	c.seq++
	return &models.Mail{Kind: "test", ToAddr: "subject@example.com", Subject: "s", TextBody: "t", HTMLBody: "<p>h</p>",
		MessageID: fmt.Sprintf("<audit-test-%d@example.org>", c.seq)}
}

// create files a request with its submit event and returns its id.
func (c *auditChain) create(t *testing.T, tokens ...*models.Token) string {
	t.Helper()
	c.seq++
	id := fmt.Sprintf("00000000-0000-0000-0000-%012d", c.seq)
	now := c.tick()
	_, err := c.store.Apply(context.Background(), now, models.Change{
		Create: &models.Request{ID: id, Reference: fmt.Sprintf("DSR-TEST-%04d", c.seq), Type: "access", Status: "unverified",
			Jurisdiction: "gdpr", Email: "subject@example.com", FullName: "Test Subject", Details: "{}",
			VerifyBy: now.Add(72 * time.Hour), DueAt: now.AddDate(0, 1, 0), Approvals: "[]"},
		Tokens: tokens,
		Event:  &models.Event{Action: "submit", ToState: "unverified", ActorKind: "subject"},
		Mails:  []*models.Mail{c.mail()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// step moves request id from version v with one audited, version-guarded
// update and returns the new version.
func (c *auditChain) step(t *testing.T, id string, v int, action, from, to, reason, message string) int {
	t.Helper()
	r, err := c.store.Apply(context.Background(), c.tick(), models.Change{RequestID: id, Version: v,
		Set:   map[string]any{"status": to},
		Event: &models.Event{Action: action, FromState: from, ToState: to, ActorKind: "staff", ActorID: "staff-1", Reason: reason, Message: message},
		Mails: []*models.Mail{c.mail()},
	})
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if r.Version != v+1 || r.Status != to {
		t.Fatalf("%s: version %d status %s", action, r.Version, r.Status)
	}
	return r.Version
}

// build writes two requests whose events interleave (the chain is one
// across requests) and returns the event ids in order: submit A, submit
// B, verify A (reason), start_review A, verify B, request_info A
// (message), start_review B.
func (c *auditChain) build(t *testing.T) []int64 {
	t.Helper()
	a := c.create(t)
	b := c.create(t)
	va := c.step(t, a, 1, "verify", "unverified", "verified", "link", "")
	va = c.step(t, a, va, "start_review", "verified", "in_review", "", "")
	vb := c.step(t, b, 1, "verify", "unverified", "verified", "reply", "")
	c.step(t, a, va, "request_info", "in_review", "awaiting_subject", "", "Which customer number do you have?")
	c.step(t, b, vb, "start_review", "verified", "in_review", "", "")
	ids := c.ids(t)
	if len(ids) != 7 {
		t.Fatalf("%d events, want 7", len(ids))
	}
	return ids
}

func (c *auditChain) ids(t *testing.T) []int64 {
	t.Helper()
	rows, err := c.db.Raw("SELECT id FROM audit_events ORDER BY id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func (c *auditChain) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	res := c.db.Exec(q, args...)
	if res.Error != nil {
		t.Fatalf("%s: %v", q, res.Error)
	}
	if res.RowsAffected != 1 {
		t.Fatalf("%s changed %d rows", q, res.RowsAffected)
	}
}

func (c *auditChain) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := c.db.Raw("SELECT COUNT(*) FROM " + table).Row().Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (c *auditChain) verify(t *testing.T) models.ChainReport {
	t.Helper()
	rep, err := c.store.VerifyChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestAuditChainIntact protects the happy path: an untouched chain of
// events over several requests verifies, every event counted.
func TestAuditChainIntact(t *testing.T) {
	c := newAuditChain(t)
	if rep := c.verify(t); rep.BrokenAt != 0 || rep.Events != 0 {
		t.Fatalf("empty chain: %+v", rep)
	}
	c.build(t)
	if rep := c.verify(t); rep.BrokenAt != 0 || rep.Events != 7 || rep.Problem != "" {
		t.Fatalf("intact chain: %+v", rep)
	}
}

// TestAuditChainDetectsEdits protects tamper evidence: a changed state,
// reason, message, time or actor of one event is reported at that event.
func TestAuditChainDetectsEdits(t *testing.T) {
	for _, c := range []struct {
		name  string
		index int // which event of build's chain
		query string
		arg   any
	}{
		{"to_state", 3, "UPDATE audit_events SET to_state = ? WHERE id = ?", "approved"},
		{"from_state", 4, "UPDATE audit_events SET from_state = ? WHERE id = ?", "in_review"},
		{"reason", 2, "UPDATE audit_events SET reason = ? WHERE id = ?", "phone call"},
		{"message", 5, "UPDATE audit_events SET message = ? WHERE id = ?", "Nothing more needed."},
		{"created_at", 3, "UPDATE audit_events SET created_at = ? WHERE id = ?", time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"actor_id", 3, "UPDATE audit_events SET actor_id = ? WHERE id = ?", "staff-2"},
		{"action", 6, "UPDATE audit_events SET action = ? WHERE id = ?", "approve"},
		{"request_id", 1, "UPDATE audit_events SET request_id = ? WHERE id = ?", "00000000-0000-0000-0000-000000000001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newAuditChain(t)
			ids := ch.build(t)
			ch.exec(t, c.query, c.arg, ids[c.index])
			rep := ch.verify(t)
			if rep.BrokenAt != ids[c.index] || rep.Problem == "" {
				t.Fatalf("edited %s of event %d: report %+v", c.name, ids[c.index], rep)
			}
		})
	}
}

// TestAuditChainDetectsRemovalAndRehash protects the links: a deleted
// middle event, or an edited event whose own hash was recomputed, is
// caught at the event after it.
func TestAuditChainDetectsRemovalAndRehash(t *testing.T) {
	t.Run("delete", func(t *testing.T) {
		c := newAuditChain(t)
		ids := c.build(t)
		c.exec(t, "DELETE FROM audit_events WHERE id = ?", ids[3])
		if rep := c.verify(t); rep.BrokenAt != ids[4] {
			t.Fatalf("deleted event %d: report %+v, want a break at %d", ids[3], rep, ids[4])
		}
	})
	t.Run("rehash", func(t *testing.T) {
		c := newAuditChain(t)
		ids := c.build(t)
		events, err := c.store.Events(context.Background(), "00000000-0000-0000-0000-000000000001")
		if err != nil {
			t.Fatal(err)
		}
		var e *models.Event
		for i := range events {
			if events[i].ID == ids[5] {
				e = &events[i]
			}
		}
		if e == nil || e.Action != "request_info" {
			t.Fatalf("event %d not found in %+v", ids[5], events)
		}
		e.Message = "Nothing more needed."
		e.ContentHash = models.ContentHash(e.Reason, e.Message)
		e.Hash = models.EventHash(e)
		c.exec(t, "UPDATE audit_events SET message = ?, content_hash = ?, hash = ? WHERE id = ?", e.Message, e.ContentHash, e.Hash, e.ID)
		if rep := c.verify(t); rep.BrokenAt != ids[6] {
			t.Fatalf("rehashed event %d: report %+v, want a break at %d", ids[5], rep, ids[6])
		}
	})
}

// tables counts the rows an action writes, to show that a refused one
// wrote none.
func (c *auditChain) tables(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range []string{"audit_events", "mails", "tokens", "inbound_messages", "river_job"} {
		out[tb] = c.count(t, tb)
	}
	return out
}

func (c *auditChain) request(t *testing.T, id string) (version int, status string) {
	t.Helper()
	if err := c.db.Raw("SELECT version, status FROM requests WHERE id = ?", id).Row().Scan(&version, &status); err != nil {
		t.Fatal(err)
	}
	return version, status
}

// TestAuditStaleVersionWritesNothing protects the version guard: a change
// made on a stale version is ErrConflict and leaves no state, event,
// token, mail or mail job behind.
func TestAuditStaleVersionWritesNothing(t *testing.T) {
	c := newAuditChain(t)
	id := c.create(t)
	v := c.step(t, id, 1, "verify", "unverified", "verified", "link", "")
	before := c.tables(t)
	_, err := c.store.Apply(context.Background(), c.tick(), models.Change{RequestID: id, Version: v - 1,
		Set:     map[string]any{"status": "in_review"},
		Tokens:  []*models.Token{{Purpose: models.TokenStatus, Hash: "stale-token-hash", ExpiresAt: c.now.Add(time.Hour)}},
		Event:   &models.Event{Action: "start_review", FromState: "verified", ToState: "in_review", ActorKind: "staff", ActorID: "staff-1"},
		Mails:   []*models.Mail{c.mail()},
		Inbound: &models.Inbound{MessageID: "<x@example.com>", FromAddr: "subject@example.com", Purpose: "test", Raw: []byte("x"), ReceivedAt: c.now},
	})
	if !errors.Is(err, models.ErrConflict) {
		t.Fatalf("stale version: %v, want ErrConflict", err)
	}
	if after := c.tables(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused change wrote rows: before %v after %v", before, after)
	}
	if gotV, st := c.request(t, id); gotV != v || st != "verified" {
		t.Errorf("request at version %d %s, want %d verified", gotV, st, v)
	}
	if _, err := c.store.Apply(context.Background(), c.tick(), models.Change{RequestID: "no-such-request", Version: 1,
		Set: map[string]any{"status": "in_review"}, Event: &models.Event{Action: "start_review"}}); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("unknown request: %v, want ErrNotFound", err)
	}
	if rep := c.verify(t); rep.BrokenAt != 0 || rep.Events != 2 {
		t.Errorf("chain after refusals: %+v", rep)
	}
}

// TestAuditUsedTokenWritesNothing protects single-use tokens: spending a
// token twice, or another request's token, is ErrTokenUsed and the whole
// change is rolled back.
func TestAuditUsedTokenWritesNothing(t *testing.T) {
	c := newAuditChain(t)
	exp := c.now.Add(72 * time.Hour)
	id := c.create(t, &models.Token{Purpose: models.TokenVerifyLink, Hash: "hash-of-a", ExpiresAt: exp})
	other := c.create(t, &models.Token{Purpose: models.TokenVerifyLink, Hash: "hash-of-b", ExpiresAt: exp})
	verify := func(id string, v int, hash string) (*models.Request, error) {
		return c.store.Apply(context.Background(), c.tick(), models.Change{RequestID: id, Version: v,
			Set: map[string]any{"status": "verified"}, UseTokens: []string{hash},
			Tokens: []*models.Token{{Purpose: models.TokenStatus, Hash: fmt.Sprintf("status-%d", c.seq), ExpiresAt: exp}},
			Event:  &models.Event{Action: "verify", FromState: "unverified", ToState: "verified", ActorKind: "subject", Reason: "link"},
			Mails:  []*models.Mail{c.mail()}})
	}
	before := c.tables(t)
	if _, err := verify(id, 1, "hash-of-b"); !errors.Is(err, models.ErrTokenUsed) {
		t.Fatalf("another request's token: %v, want ErrTokenUsed", err)
	}
	if after := c.tables(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused change wrote rows: before %v after %v", before, after)
	}
	if _, err := verify(id, 1, "hash-of-a"); err != nil {
		t.Fatalf("first use: %v", err)
	}
	// Back to unverified by hand is not possible through Apply's rules, so
	// spend the same token again from the request's current version.
	before = c.tables(t)
	if _, err := verify(id, 2, "hash-of-a"); !errors.Is(err, models.ErrTokenUsed) {
		t.Fatalf("second use: %v, want ErrTokenUsed", err)
	}
	if after := c.tables(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused change wrote rows: before %v after %v", before, after)
	}
	if v, st := c.request(t, id); v != 2 || st != "verified" {
		t.Errorf("request at version %d %s after the refused change, want 2 verified", v, st)
	}
	if v, st := c.request(t, other); v != 1 || st != "unverified" {
		t.Errorf("other request at version %d %s, want 1 unverified", v, st)
	}
	if rep := c.verify(t); rep.BrokenAt != 0 || rep.Events != 3 {
		t.Errorf("chain after refusals: %+v", rep)
	}
}

// TestAuditChainDetectsTailRemoval protects against removing the newest
// events: the chain must end where its head (kept apart) says.
func TestAuditChainDetectsTailRemoval(t *testing.T) {
	c := newAuditChain(t)
	ids := c.build(t)
	c.exec(t, "DELETE FROM audit_events WHERE id = ?", ids[len(ids)-1])
	rep := c.verify(t)
	if rep.BrokenAt != ids[len(ids)-2] || rep.Problem == "" {
		t.Fatalf("tail removal not detected: %+v", rep)
	}
}

// TestAuditChainPurgedText: emptying an event's text is a break unless the
// request was purged on record (expire or purge event); a real purge
// keeps the chain verifiable.
func TestAuditChainPurgedText(t *testing.T) {
	c := newAuditChain(t)
	ids := c.build(t)
	c.exec(t, "UPDATE audit_events SET message = '' WHERE id = ?", ids[5])
	if rep := c.verify(t); rep.BrokenAt != ids[5] {
		t.Fatalf("silently emptied text not detected: %+v", rep)
	}
	c.exec(t, "UPDATE audit_events SET message = ? WHERE id = ?", "Which customer number do you have?", ids[5])
	if rep := c.verify(t); rep.BrokenAt != 0 {
		t.Fatalf("restored chain broken: %+v", rep)
	}
	// The purge: request A (the first created) loses its data on record.
	var a string
	if err := c.db.Raw("SELECT request_id FROM audit_events WHERE id = ?", ids[0]).Row().Scan(&a); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := c.db.Raw("SELECT version FROM requests WHERE id = ?", a).Row().Scan(&v); err != nil {
		t.Fatal(err)
	}
	_, err := c.store.Apply(context.Background(), c.tick(), models.Change{RequestID: a, Version: v, Purge: true,
		Set:   map[string]any{},
		Event: &models.Event{Action: "purge", FromState: "awaiting_subject", ToState: "awaiting_subject", ActorKind: "system"}})
	if err != nil {
		t.Fatal(err)
	}
	var msg, email string
	c.db.Raw("SELECT message FROM audit_events WHERE id = ?", ids[5]).Row().Scan(&msg)
	c.db.Raw("SELECT email FROM requests WHERE id = ?", a).Row().Scan(&email)
	if msg != "" || email != "" {
		t.Fatalf("purge left personal data: message %q email %q", msg, email)
	}
	if rep := c.verify(t); rep.BrokenAt != 0 {
		t.Fatalf("purged chain must verify: %+v", rep)
	}
}
