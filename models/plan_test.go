package models

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// planRows is how many requests the plan test seeds: enough that SQLite
// would rather sort than scan if no index fits, few enough to stay fast.
const planRows = 5000

// TestQueuePlans: every filter the staff queue offers is answered from an
// index in keyset order, so no page reads the whole table or sorts it.
// The SQL is what ListRequests itself issues, captured from gorm, so the
// test follows the code. The filters are built as parseFilter builds
// them: a status list is always set (QueueStatuses unless asked). The
// plans are checked as the portal runs (it never runs ANALYZE, so SQLite
// has no statistics) and again after an operator's ANALYZE.
func TestQueuePlans(t *testing.T) {
	st, now := planStore(t)
	ctx := context.Background()
	capture := captureSQL(t, st)

	_, next, err := st.ListRequests(ctx, Filter{Statuses: QueueStatuses(), Limit: 50, Now: now})
	if err != nil || next == "" {
		t.Fatalf("first page: next %q, err %v", next, err)
	}
	queue, open := QueueStatuses(), OpenStatuses()
	staffID := planStaff[0]
	cases := []struct {
		name string
		f    Filter
	}{
		{"default queue", Filter{Statuses: queue}},
		{"open", Filter{Statuses: open}},
		{"one status", Filter{Statuses: []string{"in_review"}}},
		{"status list", Filter{Statuses: []string{"verified", "in_review", "awaiting_subject"}}},
		{"status and type", Filter{Statuses: []string{"in_review"}, Type: "erasure"}},
		{"queue and type", Filter{Statuses: queue, Type: "erasure"}},
		{"status and jurisdiction", Filter{Statuses: []string{"in_review"}, Jurisdiction: "ccpa"}},
		{"queue and jurisdiction", Filter{Statuses: queue, Jurisdiction: "ccpa"}},
		{"assignee", Filter{Statuses: queue, Assignee: staffID}},
		{"unassigned", Filter{Statuses: queue, Assignee: Unassigned}},
		{"overdue", Filter{Statuses: queue, Overdue: true}},
		{"due before", Filter{Statuses: queue, DueBefore: now.Add(7 * 24 * time.Hour)}},
		{"q reference", Filter{Statuses: queue, Query: "dsr-p000-0042"}},
		{"q email", Filter{Statuses: queue, Query: "Subject42@example.com"}},
		{"cursor page", Filter{Statuses: queue, Cursor: next}},
		{"cursor page, status and type", Filter{Statuses: []string{"in_review"}, Type: "erasure", Cursor: next}},
		{"cursor page, jurisdiction", Filter{Statuses: queue, Jurisdiction: "ccpa", Cursor: next}},
		{"cursor page, assignee", Filter{Statuses: queue, Assignee: staffID, Cursor: next}},
	}
	for _, stats := range []string{"no statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if _, err := st.wsql.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cases {
			t.Run(stats+"/"+c.name, func(t *testing.T) {
				c.f.Limit, c.f.Now = 50, now
				if _, _, err := st.ListRequests(ctx, c.f); err != nil {
					t.Fatal(err)
				}
				query, vars := capture()
				plan := explain(t, st, query, vars)
				if msg := planProblem(c.f, plan); msg != "" {
					t.Errorf("%s\nSQL: %s\nplan:\n%s", msg, query, plan)
				} else {
					t.Logf("plan:\n%s", plan)
				}
			})
		}
	}
}

// planProblem names what is wrong with the plan of a page: reading the
// table row by row, or sorting rows that no index hands over in order.
//
// A sort is fine in two cases, where it is bounded by the page, not by
// the table. An exact lookup by reference or e-mail sorts a handful of
// rows. A list of statuses is searched one status at a time on
// idx_requests_queue_status (status, due_at, id): each status's rows come
// in page order, and SQLite's ORDER BY … LIMIT optimisation leaves a
// status as soon as its next row would not make the page, so the sorter
// merges at most limit rows per status. That holds only if nothing else
// is left to test row by row: a type, jurisdiction or assignee the index
// does not hold would make a status's stream run on until enough rows
// match, the whole table when none does.
func planProblem(f Filter, plan string) string {
	var searches []string
	sorted := false
	for _, line := range strings.Split(plan, "\n") {
		d := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(d, "SCAN requests") && !strings.Contains(d, "USING INDEX") && !strings.Contains(d, "USING COVERING INDEX"):
			return "the table is scanned without an index"
		case strings.HasPrefix(d, "SEARCH requests"), strings.HasPrefix(d, "SCAN requests"):
			searches = append(searches, d)
		case strings.Contains(d, "USE TEMP B-TREE FOR ORDER BY"):
			sorted = true
		}
	}
	if !sorted {
		return ""
	}
	lookup, merge := f.Query != "", len(f.Statuses) > 1 && f.Type == "" && f.Jurisdiction == "" && f.Assignee == ""
	for _, d := range searches {
		lookup = lookup && (strings.Contains(d, "INDEX idx_requests_reference (") || strings.Contains(d, "INDEX idx_requests_email ("))
		merge = merge && strings.Contains(d, "INDEX idx_requests_queue_status (status=?")
	}
	if lookup || merge {
		return ""
	}
	return "the rows are sorted for the page, and no index bounds what is read before the sort"
}

// planStaff are the assignees of the seeded requests.
var planStaff = []string{"a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000002", "a0000000-0000-4000-8000-000000000003"}

// planStore opens a new SQLite store holding planRows requests shaped
// like `portal seed`'s: mostly closed, spread over types, jurisdictions,
// two years of due dates and a few assignees. It returns the store and
// the instant the data was made at.
func planStore(t *testing.T) (*Store, time.Time) {
	t.Helper()
	st, err := Open(context.Background(), Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := Now(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	rng := rand.New(rand.NewPCG(1, 2))
	states := []string{"completed", "completed", "completed", "completed", "rejected", "withdrawn", "expired",
		"unverified", "verified", "in_review", "in_review", "awaiting_subject", "approved", "appealed"}
	types := []string{"access", "rectification", "erasure", "restriction", "objection", "portability", "consent_withdrawal"}
	jurisdictions := []string{"gdpr", "gdpr", "gdpr", "gdpr", "uk_gdpr", "ccpa"}
	rows := make([]Request, planRows)
	for i := range rows {
		id, _ := uuid.NewV7()
		created := now.Add(-time.Duration(rng.Int64N(int64(730 * 24 * time.Hour))))
		r := Request{ID: id.String(), Reference: fmt.Sprintf("DSR-P%03X-%04X", i>>16&0xfff, i&0xffff),
			Type: types[rng.IntN(len(types))], Status: states[rng.IntN(len(states))],
			Jurisdiction: jurisdictions[rng.IntN(len(jurisdictions))],
			Email:        fmt.Sprintf("subject%d@example.com", i), FullName: "Plan Subject", Details: "{}", Approvals: "[]",
			CreatedAt: created, UpdatedAt: created, VerifyBy: created.Add(72 * time.Hour),
			DueAt: created.Add(time.Duration(15+rng.IntN(60)) * 24 * time.Hour)}
		if r.Status != "unverified" && r.Status != "verified" && r.Status != "expired" && rng.IntN(4) > 0 {
			r.AssigneeID = &planStaff[rng.IntN(len(planStaff))]
		}
		rows[i] = r
	}
	if err := st.InsertRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return st, now
}

// captureSQL records the last query gorm ran on the requests table
// through the store's read pool, and returns a function that hands it
// over (and fails the test if there was none).
func captureSQL(t *testing.T, st *Store) func() (string, []any) {
	t.Helper()
	var (
		mu    sync.Mutex
		query string
		vars  []any
	)
	err := st.r.Callback().Query().After("gorm:query").Register("plan_test:capture", func(db *gorm.DB) {
		if db.Statement.Table != "requests" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		query, vars = db.Statement.SQL.String(), append([]any(nil), db.Statement.Vars...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() (string, []any) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if query == "" {
			t.Fatal("no query on requests was captured")
		}
		q, v := query, vars
		query, vars = "", nil
		return q, v
	}
}

// explain is SQLite's plan for query, one step a line, indented by depth.
func explain(t *testing.T, st *Store, query string, vars []any) string {
	t.Helper()
	rows, err := st.rsql.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, vars...)
	if err != nil {
		t.Fatalf("explain: %v\nSQL: %s", err, query)
	}
	defer rows.Close()
	depth := map[int]int{}
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		depth[id] = depth[parent] + 1
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth[id]-1), detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(b.String(), "\n")
}
