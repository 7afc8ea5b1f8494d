package main

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestSeedCommand: `portal seed --requests N` adds N requests spread over
// every type, jurisdiction and many states, assigns open ones to the
// staff there are, keeps the counts per status right, and draws its
// progress bar; a database it seeded still verifies.
func TestSeedCommand(t *testing.T) {
	e := newTestEnv(t)
	for _, who := range []string{"ann", "bob"} {
		if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", who+"@example.org", "--name", who, "--role", "reviewer"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.run(t, "", "seed", "--requests", "0"); err == nil {
		t.Fatal("--requests 0 accepted")
	}
	out, stderr, err := e.run(t, "", "seed", "--requests", "1200")
	if err != nil || !strings.Contains(out, "added 1200 requests") || !strings.Contains(stderr, "100% 1200/1200") {
		t.Fatalf("seed: %v\n%s\n%s", err, out, stderr)
	}
	db := e.db(t)
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, atLeast := range map[string]int{
		"SELECT COUNT(*) FROM requests":                             1200,
		"SELECT COUNT(DISTINCT type) FROM requests":                 7,
		"SELECT COUNT(DISTINCT jurisdiction) FROM requests":         7,
		"SELECT COUNT(DISTINCT status) FROM requests":               9,
		"SELECT COUNT(DISTINCT assignee_id) FROM requests":          2,
		"SELECT COUNT(*) FROM requests WHERE status = 'in_review'":  100,
		"SELECT COUNT(*) FROM requests WHERE closed_at IS NOT NULL": 500,
	} {
		if n := count(q); n < atLeast {
			t.Errorf("%s = %d, want at least %d", q, n, atLeast)
		}
	}
	var first, last time.Time
	// Ordered rows, not MIN/MAX: SQLite's aggregates lose the column type.
	db.QueryRow("SELECT created_at FROM requests ORDER BY created_at LIMIT 1").Scan(&first)
	db.QueryRow("SELECT created_at FROM requests ORDER BY created_at DESC LIMIT 1").Scan(&last)
	if last.Sub(first) < 300*24*time.Hour {
		t.Errorf("requests filed from %v to %v, want ages spread over most of two years", first, last)
	}
	if n := count("SELECT COUNT(*) FROM requests WHERE assignee_id IS NOT NULL AND status IN ('unverified', 'verified', 'expired')"); n != 0 {
		t.Errorf("%d unconfirmed or unreviewed requests have an assignee", n)
	}
	if n := count(`SELECT COUNT(*) FROM (SELECT status, COUNT(*) AS n FROM requests GROUP BY status) r
		LEFT JOIN status_counts c ON c.status = r.status WHERE c.n IS NULL OR c.n <> r.n`); n != 0 {
		t.Errorf("%d statuses with a wrong kept count", n)
	}
	if out, _, err := e.run(t, "", "audit", "verify"); err != nil {
		t.Fatalf("audit verify after seeding: %v\n%s", err, out)
	}
}

// TestSeedClosedDatesInThePast: a seeded request that is closed closed
// after it was filed (and confirmed) and not after the seed ran, however
// recent it is and however far ahead its due date lies; nor was any
// confirmed in the future.
func TestSeedClosedDatesInThePast(t *testing.T) {
	e := newTestEnv(t)
	if _, stderr, err := e.run(t, "", "seed", "--requests", "1500"); err != nil {
		t.Fatalf("seed: %v\n%s", err, stderr)
	}
	now := time.Now()
	rows, err := e.db(t).Query("SELECT reference, created_at, verified_at, closed_at FROM requests WHERE closed_at IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ref string
		var created, closed time.Time
		var verified sql.NullTime
		if err := rows.Scan(&ref, &created, &verified, &closed); err != nil {
			t.Fatal(err)
		}
		n++
		switch {
		case closed.After(now):
			t.Errorf("%s closed in the future: %v (now %v)", ref, closed, now)
		case closed.Before(created):
			t.Errorf("%s closed %v, before it was filed %v", ref, closed, created)
		case verified.Valid && (verified.Time.After(now) || closed.Before(verified.Time)):
			t.Errorf("%s confirmed %v, closed %v (now %v)", ref, verified.Time, closed, now)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("%d closed requests seeded, want most of 1500", n)
	}
}
