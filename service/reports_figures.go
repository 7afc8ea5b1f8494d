package service

import (
	"cmp"
	"math"
	"slices"

	"rightsportal/models"
	"rightsportal/workflow"
)

// The arithmetic of the reports: adding grouped rows into figures, and
// reading percentiles off day histograms.

func laterDate(a, b workflow.Date) workflow.Date {
	if a.Before(b) {
		return b
	}
	return a
}

func earlierDate(a, b workflow.Date) workflow.Date {
	if b.Before(a) {
		return b
	}
	return a
}

// add counts one group of requests.
func (f *Figures) add(c models.ReportCount) {
	if f.RefusedBy == nil {
		f.RefusedBy = map[string]int64{}
	}
	f.Received += c.N
	switch st := workflow.State(c.Status); {
	case st == workflow.StateCompleted:
		f.Completed += c.N
	case st == workflow.StateRejected:
		f.Refused += c.N
		f.RefusedBy[c.RefusalReason] += c.N
	case st == workflow.StateWithdrawn:
		f.Withdrawn += c.N
	case st == workflow.StateExpired:
		f.Expired += c.N
	case !st.Closed():
		f.Open += c.N
		if st == workflow.StateUnverified {
			f.Unconfirmed += c.N
		}
	}
	f.Overdue += c.Overdue
	f.ClosedLate += c.Late
	if c.Extended {
		f.Extended += c.N
	}
	switch c.AppealOutcome {
	case "":
	case "pending":
		f.AppealsPending += c.N
	case "granted":
		f.AppealsGranted += c.N
	case "denied":
		f.AppealsDenied += c.N
	}
	if c.AppealOutcome != "" {
		f.Appeals += c.N
	}
}

// add counts n requests of one state into a CCPA line.
func (r *CCPARow) add(status string, n int64) {
	r.Received += n
	switch st := workflow.State(status); {
	case st == workflow.StateCompleted:
		r.Complied += n
	case st == workflow.StateRejected:
		r.Denied += n
	case st == workflow.StateExpired:
		r.Expired += n
	case st == workflow.StateWithdrawn:
		r.Withdrawn += n
	default:
		r.Open += n
	}
}

// reasonOrder is the known refusal codes, then the others found.
func reasonOrder(found map[string]bool) []string {
	var out []string
	for _, c := range workflow.RejectionCodes() {
		out = append(out, string(c))
	}
	var extra []string
	for r := range found {
		if !slices.Contains(out, r) {
			extra = append(extra, r)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// histograms are day histograms by key (a type, a jurisdiction, a CCPA
// year and right, or "" for all).
type histograms map[string]map[int]int64

func newHistograms() histograms { return histograms{} }

func (h histograms) add(key string, days int, n int64) {
	if h[key] == nil {
		h[key] = map[int]int64{}
	}
	h[key][days] += n
}

// dayBar is one bar of a histogram: n requests took days.
type dayBar struct {
	days int
	n    int64
}

// stats reads the nearest-rank median and 90th percentile, the maximum
// and the mean (to one decimal) off one histogram.
func (h histograms) stats(key string) DayStats {
	var bars []dayBar
	var st DayStats
	var sum int64
	for d, n := range h[key] {
		bars = append(bars, dayBar{d, n})
		st.N += n
		sum += int64(d) * n
	}
	if st.N == 0 {
		return st
	}
	slices.SortFunc(bars, func(a, b dayBar) int { return cmp.Compare(a.days, b.days) })
	st.Median, st.P90 = rank(bars, st.N, 50), rank(bars, st.N, 90)
	st.Max = bars[len(bars)-1].days
	st.Mean = math.Round(float64(sum)/float64(st.N)*10) / 10
	return st
}

// rank is the nearest-rank p-th percentile: the value at position
// ⌈p·n/100⌉ of the sorted values.
func rank(bars []dayBar, n, p int64) int {
	want := (p*n + 99) / 100
	var seen int64
	for _, b := range bars {
		seen += b.n
		if seen >= want {
			return b.days
		}
	}
	return bars[len(bars)-1].days
}
