package models

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportQuery selects the requests a report counts: those received
// (created_at) in [From, To), of one jurisdiction or ("") all.
type ReportQuery struct {
	From, To     time.Time
	Jurisdiction string
	// Now is the instant "overdue now" is judged at.
	Now time.Time
	// OpenStatuses are the states in which a past due date makes a
	// request overdue (as the queue's overdue filter counts them).
	OpenStatuses []string
	// AnsweredStatuses are the states whose days from receipt to
	// closing are collected (ReportCount.Days).
	AnsweredStatuses []string
	// YearStarts are the instants, inside (From, To), at which a new
	// calendar year begins in the organisation's time zone, in order
	// (at most maxYearStarts). A request's year is the index of the year
	// it was received in: 0 before YearStarts[0], 1 before
	// YearStarts[1], and so on. The caller computes them because SQLite
	// knows no named time zones.
	YearStarts []time.Time
}

// maxYearStarts bounds the year boundaries: a year index is packed into
// four bits of each day count (see ReportCounts).
const maxYearStarts = 15

// ReportCount is how many requests share a type, jurisdiction, state,
// refusal reason, appeal outcome and extension mark; Late and Overdue
// count the ones among them closed after their due date and open past
// it now.
type ReportCount struct {
	Type, Jurisdiction, Status, RefusalReason, AppealOutcome string
	Extended                                                 bool
	N, Late, Overdue                                         int64
	// PerYear splits N by the year of receipt (len(YearStarts)+1).
	PerYear []int64
	// Days is the histogram of whole days from receipt to closing
	// (24-hour periods, counted down) of the group's requests when its
	// state is one of AnsweredStatuses, by year of receipt.
	Days map[YearDays]int64
}

// YearDays is one bar of a days histogram: requests received in year
// (an index, as in ReportQuery.YearStarts) and closed after days.
type YearDays struct{ Year, Days int }

// reportSource is the requests table as the reports read it. On SQLite
// the report index is named: without statistics (the portal never runs
// ANALYZE) the planner would rather walk a queue index for its first
// column and read every row from the table, ten times slower than the
// covering index. Its column order (type, jurisdiction, status,
// refusal_reason, appeal_outcome, extended, …) is the GROUP BY's, so
// SQLite groups while it scans instead of sorting the rows first;
// PostgreSQL hashes.
func (s *Store) reportSource() string {
	if s.driver == "postgres" {
		return "requests"
	}
	return "requests INDEXED BY idx_requests_report"
}

// ReportCounts counts the requests q selects in one scan, grouped in
// the database: the answer has a row per combination of the grouped
// columns that occurs (a few hundred), never a row per request.
//
// Three figures are not plain sums. Overdue is the past-due count of the
// groups in an open state (see below). The split by year is a count per
// year boundary rather than a GROUP BY on the year, and the days to
// close travel as one list per group (the day count times 16 plus the
// year, joined with commas), which Go turns into a histogram: grouping
// by year or by days would make SQLite sort every row, and at a million
// requests that sort took as long as the whole scan. Percentiles need
// every answered request's days anyway; this way they come in a few
// hundred strings instead of one row each.
func (s *Store) ReportCounts(ctx context.Context, q ReportQuery) ([]ReportCount, error) {
	if len(q.YearStarts) > maxYearStarts {
		return nil, fmt.Errorf("models: report over %d year boundaries", len(q.YearStarts))
	}
	open := q.OpenStatuses
	if len(open) == 0 {
		open = OpenStatuses()
	}
	year, yearArgs := yearCase(q.YearStarts)
	days, concat := s.daysSQL()
	sel := `type, jurisdiction, status, refusal_reason, appeal_outcome, extended, COUNT(*) AS n,
		SUM(CASE WHEN closed_at > due_at THEN 1 ELSE 0 END) AS late,
		SUM(CASE WHEN due_at < ? AND paused_at IS NULL THEN 1 ELSE 0 END) AS past_due, ` +
		fmt.Sprintf(concat, "CASE WHEN status IN ? AND closed_at IS NOT NULL THEN "+days+" * 16 + "+year+" END") + " AS days"
	args := append([]any{Now(q.Now), q.AnsweredStatuses}, yearArgs...)
	for _, t := range q.YearStarts {
		sel += ", SUM(CASE WHEN created_at < ? THEN 1 ELSE 0 END)"
		args = append(args, Now(t))
	}
	tx := s.r.WithContext(ctx).Table(s.reportSource()).Select(sel, args...).
		Where("created_at >= ? AND created_at < ?", Now(q.From), Now(q.To))
	if q.Jurisdiction != "" {
		// On SQLite the unary plus keeps the planner from treating the
		// jurisdiction as an index constraint, which it then answers by
		// sorting for the GROUP BY instead of grouping in index order.
		if s.driver == "postgres" {
			tx = tx.Where("jurisdiction = ?", q.Jurisdiction)
		} else {
			tx = tx.Where("+jurisdiction = ?", q.Jurisdiction)
		}
	}
	rows, err := tx.Group("type, jurisdiction, status, refusal_reason, appeal_outcome, extended").Rows()
	if err != nil {
		return nil, fmt.Errorf("models: report counts: %w", err)
	}
	defer rows.Close()
	var out []ReportCount
	for rows.Next() {
		c, err := scanReportCount(rows, len(q.YearStarts))
		if err != nil {
			return nil, fmt.Errorf("models: report counts: %w", err)
		}
		// Past due counts as overdue only in an open state; the state is
		// a group key, so it is decided here once per group instead of
		// once per row in SQL.
		if !slices.Contains(open, c.Status) {
			c.Overdue = 0
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("models: report counts: %w", err)
	}
	return out, nil
}

// daysSQL is the whole days from created_at to closed_at, and the
// aggregate that joins values with commas, in the database's dialect.
func (s *Store) daysSQL() (days, concat string) {
	if s.driver == "postgres" {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM (closed_at - created_at)) / 86400) AS BIGINT)",
			"STRING_AGG(CAST(%s AS TEXT), ',')"
	}
	// julianday() is exact to the millisecond: rounded to whole
	// milliseconds before dividing, a request closed exactly a day after
	// it came in is 1 day old, not 0.99999….
	return "(CAST((julianday(closed_at) - julianday(created_at)) * 86400000 + 0.5 AS INTEGER) / 86400000)",
		"GROUP_CONCAT(%s)"
}

// scanReportCount reads one group: the fixed columns, the day list and
// the running counts before each year boundary.
func scanReportCount(rows interface{ Scan(...any) error }, bounds int) (ReportCount, error) {
	var c ReportCount
	var days *string
	before := make([]int64, bounds)
	dest := []any{&c.Type, &c.Jurisdiction, &c.Status, &c.RefusalReason, &c.AppealOutcome, &c.Extended,
		&c.N, &c.Late, &c.Overdue, &days}
	for i := range before {
		dest = append(dest, &before[i])
	}
	if err := rows.Scan(dest...); err != nil {
		return c, err
	}
	c.PerYear = make([]int64, bounds+1)
	var prev int64
	for i := range c.PerYear {
		cum := c.N
		if i < bounds {
			cum = before[i]
		}
		c.PerYear[i], prev = cum-prev, cum
	}
	if days == nil || *days == "" {
		return c, nil
	}
	c.Days = map[YearDays]int64{}
	for v := range strings.SplitSeq(*days, ",") {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("day list: %w", err)
		}
		// Floor division, so that a (bad) negative day count keeps its
		// year: -1 day of year 2 is -14 = -1*16 + 2.
		d := n >> 4
		c.Days[YearDays{Year: int(n - d<<4), Days: int(d)}]++
	}
	return c, nil
}

// yearCase is the SQL that numbers the calendar year of created_at by
// the boundaries the caller computed in the organisation's time zone.
func yearCase(starts []time.Time) (string, []any) {
	if len(starts) == 0 {
		return "0", nil
	}
	var b strings.Builder
	args := make([]any, 0, len(starts))
	b.WriteString("(CASE")
	for i, t := range starts {
		fmt.Fprintf(&b, " WHEN created_at < ? THEN %d", i)
		args = append(args, Now(t))
	}
	fmt.Fprintf(&b, " ELSE %d END)", len(starts))
	return b.String(), args
}
