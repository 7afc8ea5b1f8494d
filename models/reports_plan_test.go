package models

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestReportPlan: the report is one scan of idx_requests_report that
// reads nothing from the table and sorts nothing (grouping in index
// order), for every shape of query, with and without statistics. That
// is what keeps a report over a million requests under a second
// (BENCHMARKS.md); a plan that reads rows from the table or sorts for
// the GROUP BY is several times slower.
func TestReportPlan(t *testing.T) {
	st, now := planStore(t)
	ctx := context.Background()
	var (
		mu    sync.Mutex
		query string
		vars  []any
	)
	err := st.r.Callback().Row().After("gorm:row").Register("reports_plan_test:capture", func(db *gorm.DB) {
		if strings.Contains(db.Statement.SQL.String(), " FROM requests") {
			mu.Lock()
			query, vars = db.Statement.SQL.String(), append([]any(nil), db.Statement.Vars...)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	cases := map[string]ReportQuery{
		"one year":          {From: year(2026), To: now},
		"three years":       {From: year(2024), To: now, YearStarts: []time.Time{year(2025), year(2026)}},
		"one jurisdiction":  {From: year(2025), To: now, Jurisdiction: "ccpa", YearStarts: []time.Time{year(2026)}},
		"one day, no match": {From: now, To: now.Add(24 * time.Hour), Jurisdiction: "lgpd"},
	}
	for _, stats := range []string{"no statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if _, err := st.wsql.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for name, q := range cases {
			t.Run(stats+"/"+name, func(t *testing.T) {
				q.Now, q.AnsweredStatuses = now, []string{"completed", "rejected"}
				if _, err := st.ReportCounts(ctx, q); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				sql, args := query, vars
				query = ""
				mu.Unlock()
				if sql == "" {
					t.Fatal("no report query was captured")
				}
				plan := explain(t, st, sql, args)
				if !strings.Contains(plan, "SCAN requests USING COVERING INDEX idx_requests_report") || strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("the report does not group in one scan of its covering index:\n%s\nSQL: %s", plan, sql)
				}
			})
		}
	}
}
