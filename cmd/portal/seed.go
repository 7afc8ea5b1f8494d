package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"rightsportal/models"
	"rightsportal/workflow"
)

// seedCommand is `portal seed --requests N`: fills the database with
// realistic requests (types, states, jurisdictions, ages, assignees) for
// benchmarks and demos, with a progress bar on standard error.
func seedCommand(ctx context.Context, path string, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("requests", 10000, "how many requests to add")
	seed := fs.Uint64("seed", 1, "random seed, for repeatable data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 10_000_000 {
		return fmt.Errorf("--requests must be from 1 to 10000000")
	}
	a, err := openApp(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	staff, err := a.store.AllStaff(ctx)
	if err != nil {
		return err
	}
	g := seeder{rng: rand.New(rand.NewPCG(*seed, 42)), cfg: a, staff: staff, now: time.Now()}
	const batch = 5000
	start := time.Now()
	for done := 0; done < *n; {
		k := min(batch, *n-done)
		rows := make([]models.Request, k)
		for i := range rows {
			rows[i] = g.request(done + i)
		}
		if err := a.store.InsertRequests(ctx, rows); err != nil {
			return err
		}
		done += k
		progress(stderr, done, *n, start)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintln(stderr)
	fmt.Fprintf(stdout, "added %d requests in %s\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

// progress draws a one-line bar: [#####.....] 50% 500000/1000000 12s.
func progress(w io.Writer, done, total int, start time.Time) {
	const width = 30
	filled := done * width / total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(w, "\r[%s] %3d%% %d/%d %s", bar, done*100/total, done, total, time.Since(start).Round(time.Second))
}

type seeder struct {
	rng   *rand.Rand
	cfg   *app
	staff []models.Staff
	now   time.Time
	// lastOpen is the latest open, verified request made, which the next
	// one sometimes repeats (a duplicate, as verification would flag it).
	lastOpen *models.Request
}

// request makes the i-th request: ages up to two years, states weighted
// as a real queue looks (most closed, some open, a few unconfirmed).
func (g *seeder) request(i int) models.Request {
	types := workflow.RequestTypes()
	t := types[g.rng.IntN(len(types))]
	codes := g.cfg.cfg.Jurisdictions.Order
	j := codes[g.rng.IntN(len(codes))]
	if pol := g.cfg.cfg.Policy(j); !pol.Allows(t) {
		j = g.cfg.cfg.Jurisdictions.Default
	}
	created := g.now.Add(-time.Duration(g.rng.Int64N(int64(730 * 24 * time.Hour))))
	st := g.state()
	id, _ := uuid.NewV7()
	r := models.Request{ID: id.String(), Reference: fmt.Sprintf("DSR-S%03X-%04X", i>>16&0xfff, i&0xffff),
		Type: string(t), Status: string(st), Jurisdiction: j,
		Email: fmt.Sprintf("subject%d@example.com", i), FullName: fmt.Sprintf("Seeded Subject %d", i),
		Details: "{}", Approvals: "[]", CreatedAt: created, UpdatedAt: created,
		VerifyBy: created.Add(72 * time.Hour), DueAt: created.Add(time.Duration(15+g.rng.IntN(60)) * 24 * time.Hour)}
	if st != workflow.StateUnverified && st != workflow.StateExpired {
		// Not after now: a request filed an hour ago was not confirmed
		// tomorrow.
		v := clampTime(created.Add(time.Duration(g.rng.IntN(48))*time.Hour), created, g.now)
		r.VerifiedAt = &v
	}
	if st.Closed() {
		c := r.DueAt.Add(-time.Duration(g.rng.IntN(10)) * 24 * time.Hour)
		if g.rng.IntN(100) < 6 { // some answers are late
			c = r.DueAt.Add(time.Duration(1+g.rng.IntN(20)) * 24 * time.Hour)
		}
		// Due dates of recent requests lie ahead, but a closed request
		// closed in the past, after it was filed (and confirmed):
		// reports and retention count from closed_at.
		lo := created
		if r.VerifiedAt != nil {
			lo = *r.VerifiedAt
		}
		c = clampTime(c, lo, g.now)
		r.ClosedAt = &c
	}
	g.outcome(&r, st)
	if len(g.staff) > 0 && st != workflow.StateUnverified && st != workflow.StateVerified && st != workflow.StateExpired {
		id := g.staff[g.rng.IntN(len(g.staff))].ID
		r.AssigneeID = &id
	}
	return r
}

// clampTime is t, moved into [lo, hi].
func clampTime(t, lo, hi time.Time) time.Time {
	if t.After(hi) {
		t = hi
	}
	if t.Before(lo) {
		t = lo
	}
	return t
}

// outcome adds what a request's history leaves on its row: refusal
// reasons, appeals and their outcomes, extensions and duplicates.
func (g *seeder) outcome(r *models.Request, st workflow.State) {
	switch st {
	case workflow.StateRejected:
		codes := workflow.RejectionCodes()
		r.RefusalReason = string(codes[g.rng.IntN(len(codes))])
		if g.rng.IntN(5) == 0 {
			r.AppealUsed, r.AppealOutcome = true, "denied"
		}
	case workflow.StateAppealed:
		r.RefusalReason, r.AppealOutcome = string(workflow.RejectOther), "pending"
	case workflow.StateInReview, workflow.StateCompleted:
		if g.rng.IntN(50) == 0 {
			r.RefusalReason, r.AppealUsed, r.AppealOutcome = string(workflow.RejectOther), true, "granted"
		}
	}
	if r.VerifiedAt != nil && st != workflow.StateWithdrawn && g.rng.IntN(12) == 0 {
		r.Extended = true
	}
	open := r.VerifiedAt != nil && !st.Closed() && st != workflow.StateAppealed
	if !open {
		return
	}
	if prev := g.lastOpen; prev != nil && g.rng.IntN(25) == 0 {
		r.Email, r.FullName, r.Type, r.Jurisdiction = prev.Email, prev.FullName, prev.Type, prev.Jurisdiction
		r.DuplicateOf = &prev.ID
		return
	}
	g.lastOpen = r
}

func (g *seeder) state() workflow.State {
	p := g.rng.IntN(100)
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
