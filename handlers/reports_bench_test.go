package handlers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/workflow"
)

// BenchmarkReports answers GET /api/v1/reports and the reports page
// through the router on SQLite with PORTAL_BENCH_SIZES requests (default
// 10000; "1000000" for the figure in BENCHMARKS.md). The database is
// seeded once into PORTAL_BENCH_DIR (default: the OS temp folder) as
// portal-reports-bench-N.db, as `portal seed` fills one: two years of
// requests, most closed, with refusal reasons, appeals, extensions and
// late answers. (A database made with `portal seed --requests N` may be
// put there under that name instead; seeding a million rows here takes
// a while.)
func BenchmarkReports(b *testing.B) {
	sizes := os.Getenv("PORTAL_BENCH_SIZES")
	if sizes == "" {
		sizes = "10000"
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("PORTAL_BENCH_SIZES: %q", s)
		}
		dir := os.Getenv("PORTAL_BENCH_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		path := filepath.Join(dir, fmt.Sprintf("portal-reports-bench-%d.db", n))
		a := apptest.New(b, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
			c.Database.Driver, c.Database.DSN = "sqlite", path
		}})
		if err := repBenchSeed(a, n); err != nil {
			b.Fatal(err)
		}
		email := fmt.Sprintf("bench-%d@example.org", time.Now().UnixNano())
		tok := a.StaffToken(email, "reviewer")
		signed, err := a.Svc.SignIn(b.Context(), email, "correct horse battery staple", "bench", "")
		if err != nil {
			b.Fatal(err)
		}
		cookie := map[string]string{"Cookie": "portal_session=" + signed.Session}
		year := a.Cfg.Calendar().Today(a.Clock.Now()).Year
		for _, c := range []struct{ name, path string }{
			{"page-year-to-date", "/staff/reports"},
			{"api-year-to-date", "/api/v1/reports"},
			{"api-three-years", fmt.Sprintf("/api/v1/reports?from=%d-01-01&to=%d-12-31", year-2, year)},
			{"api-one-month-ccpa", fmt.Sprintf("/api/v1/reports?from=%d-01-01&to=%d-01-31&jurisdiction=ccpa", year, year)},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				for b.Loop() {
					h := map[string]string{"Authorization": "Bearer " + tok}
					if strings.HasPrefix(c.path, "/staff") {
						h = cookie
					}
					resp, body := a.Do(http.MethodGet, c.path, nil, h)
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
					}
				}
			})
		}
	}
}

// repBenchSeed fills the database up to n requests, as cmd/portal's
// seeder does (same weights), unless it holds them already.
func repBenchSeed(a *apptest.App, n int) error {
	ctx := context.Background()
	var have int64
	if err := a.DB().Model(&models.Request{}).Count(&have).Error; err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 42))
	now := time.Now()
	types, codes := workflow.RequestTypes(), workflow.RejectionCodes()
	jurs := a.Cfg.Jurisdictions.Order
	for done := int(have); done < n; {
		k := min(5000, n-done)
		rows := make([]models.Request, k)
		for i := range rows {
			j := done + i
			t := types[rng.IntN(len(types))]
			jur := jurs[rng.IntN(len(jurs))]
			if !a.Cfg.Policy(jur).Allows(t) {
				jur = a.Cfg.Jurisdictions.Default
			}
			created := now.Add(-time.Duration(rng.Int64N(int64(730 * 24 * time.Hour))))
			st := repBenchState(rng.IntN(100))
			id, _ := uuid.NewV7()
			r := models.Request{ID: id.String(), Reference: fmt.Sprintf("DSR-B%03X-%04X", j>>16&0xfff, j&0xffff),
				Type: string(t), Status: string(st), Jurisdiction: jur, Email: fmt.Sprintf("bench%d@example.com", j),
				FullName: "Bench", Details: "{}", Approvals: "[]", CreatedAt: created, UpdatedAt: created,
				VerifyBy: created.Add(72 * time.Hour), DueAt: created.Add(time.Duration(15+rng.IntN(60)) * 24 * time.Hour)}
			if st.Closed() {
				c := r.DueAt.Add(-time.Duration(rng.IntN(10)) * 24 * time.Hour)
				if rng.IntN(100) < 6 {
					c = r.DueAt.Add(time.Duration(1+rng.IntN(20)) * 24 * time.Hour)
				}
				c = models.Now(c)
				r.ClosedAt = &c
			}
			switch st {
			case workflow.StateRejected:
				r.RefusalReason = string(codes[rng.IntN(len(codes))])
				if rng.IntN(5) == 0 {
					r.AppealUsed, r.AppealOutcome = true, "denied"
				}
			case workflow.StateAppealed:
				r.RefusalReason, r.AppealOutcome = string(workflow.RejectOther), "pending"
			case workflow.StateInReview, workflow.StateCompleted:
				if rng.IntN(50) == 0 {
					r.RefusalReason, r.AppealUsed, r.AppealOutcome = string(workflow.RejectOther), true, "granted"
				}
			}
			r.Extended = st != workflow.StateUnverified && st != workflow.StateExpired && rng.IntN(12) == 0
			rows[i] = r
		}
		if err := a.Store.InsertRequests(ctx, rows); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// repBenchState draws a state with cmd/portal seed's weights.
func repBenchState(p int) workflow.State {
	switch {
	case p < 40:
		return workflow.StateCompleted
	case p < 50:
		return workflow.StateRejected
	case p < 55:
		return workflow.StateWithdrawn
	case p < 62:
		return workflow.StateExpired
	case p < 66:
		return workflow.StateUnverified
	case p < 74:
		return workflow.StateVerified
	case p < 88:
		return workflow.StateInReview
	case p < 93:
		return workflow.StateAwaitingSubject
	case p < 98:
		return workflow.StateApproved
	}
	return workflow.StateAppealed
}
