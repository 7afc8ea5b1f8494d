package models_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"rightsportal/models"
)

// benchSizes are the queue sizes the benchmarks run at; PORTAL_BENCH_SIZES
// overrides ("10000,1000000"). Seeded databases are kept in
// PORTAL_BENCH_DIR (default: the OS temp folder) so that a million rows
// are written once, not per run.
func benchSizes() []int {
	v := os.Getenv("PORTAL_BENCH_SIZES")
	if v == "" {
		return []int{10_000}
	}
	var out []int
	for _, f := range filepath.SplitList(v) {
		for _, p := range splitComma(f) {
			if n, err := strconv.Atoi(p); err == nil && n > 0 {
				out = append(out, n)
			}
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

var benchStores sync.Map

// benchStore opens (seeding once) a store with n requests.
func benchStore(b *testing.B, n int) *models.Store {
	if s, ok := benchStores.Load(n); ok {
		return s.(*models.Store)
	}
	dir := os.Getenv("PORTAL_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("portal-bench-%d.db", n))
	_, statErr := os.Stat(path)
	st, err := models.Open(context.Background(), models.Options{Driver: "sqlite", DSN: path})
	if err != nil {
		b.Fatal(err)
	}
	if statErr != nil {
		seedBench(b, st, n)
	}
	benchStores.Store(n, st)
	return st
}

func seedBench(b *testing.B, st *models.Store, n int) {
	now := time.Now()
	states := []string{"completed", "completed", "completed", "in_review", "in_review", "verified", "awaiting_subject", "approved", "rejected", "withdrawn", "expired", "unverified"}
	types := []string{"access", "rectification", "erasure", "restriction", "objection", "portability", "consent_withdrawal"}
	for done := 0; done < n; {
		k := min(5000, n-done)
		rows := make([]models.Request, k)
		for i := range rows {
			j := done + i
			id, _ := uuid.NewV7()
			created := now.Add(-time.Duration(j%700) * 24 * time.Hour)
			rows[i] = models.Request{ID: id.String(), Reference: fmt.Sprintf("DSR-B%03X-%04X", j>>16&0xfff, j&0xffff),
				Type: types[j%len(types)], Status: states[j%len(states)], Jurisdiction: "gdpr",
				Email: fmt.Sprintf("bench%d@example.com", j), FullName: "Bench", Details: "{}", Approvals: "[]",
				CreatedAt: created, UpdatedAt: created, VerifyBy: created, DueAt: created.Add(time.Duration(j%45) * 24 * time.Hour)}
		}
		if err := st.InsertRequests(context.Background(), rows); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// BenchmarkQueueFirstPage is the default queue's first page (50 rows,
// ordered by due date).
func BenchmarkQueueFirstPage(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			st := benchStore(b, n)
			f := models.Filter{Statuses: models.QueueStatuses(), Limit: 50, Now: time.Now()}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := st.ListRequests(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueueDeepPage is a page far into the list: keyset pagination
// makes it cost what the first page costs.
func BenchmarkQueueDeepPage(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			st := benchStore(b, n)
			ctx := context.Background()
			f := models.Filter{Statuses: models.QueueStatuses(), Limit: 200, Now: time.Now()}
			// Walk to about 90% of the list once, with big pages.
			for seen := 0; seen < n*9/10; seen += 200 {
				_, next, err := st.ListRequests(ctx, f)
				if err != nil || next == "" {
					break
				}
				f.Cursor = next
			}
			f.Limit = 50
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := st.ListRequests(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueueFiltered is a filtered first page (one status and type).
func BenchmarkQueueFiltered(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			st := benchStore(b, n)
			f := models.Filter{Statuses: []string{"in_review"}, Type: "erasure", Limit: 50, Now: time.Now()}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := st.ListRequests(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQueueOverdue is the overdue filter's first page.
func BenchmarkQueueOverdue(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			st := benchStore(b, n)
			f := models.Filter{Statuses: models.QueueStatuses(), Overdue: true, Limit: 50, Now: time.Now()}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := st.ListRequests(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
