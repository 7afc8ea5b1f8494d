package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// The scheduled work is run directly (a.Svc.Sweep, a.Svc.PurgeClosed)
// against the app's movable clock. The job engine runs too, to deliver
// mail; its own periodic runs do only what a direct run would do, and
// swApp waits for the first of them so none starts behind a clock jump.

var swSeq atomic.Int64

func swEmail(prefix string) string { return fmt.Sprintf("%s-%d@example.com", prefix, swSeq.Add(1)) }

// swApp starts a portal and waits until the periodic sweep and retention
// jobs the engine runs on start have finished.
func swApp(t *testing.T, cfg func(*config.Config), noJobs bool) *apptest.App {
	t.Helper()
	a := apptest.New(t, apptest.Options{Config: cfg, NoJobs: noJobs})
	if noJobs {
		return a
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := a.QueryInt(`SELECT COUNT(DISTINCT kind) FROM river_job
			WHERE kind IN ('sweep', 'retention') AND state = 'completed'`)
		if n == 2 {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the periodic jobs never ran on start; logs:\n%s", a.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func swSweep(t *testing.T, a *apptest.App) service.SweepReport {
	t.Helper()
	rep, err := a.Svc.Sweep(context.Background())
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return rep
}

func swRequest(t *testing.T, a *apptest.App, id string) *models.Request {
	t.Helper()
	r, err := a.Store.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// swMails are the request's queued or sent mails of kind (to addr, when
// given), from the database: what was written, whether or not the relay
// has it yet.
func swMails(t *testing.T, a *apptest.App, id, kind, addr string) []models.Mail {
	t.Helper()
	all, err := a.Store.MailsFor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []models.Mail
	for _, m := range all {
		if m.Kind == kind && (addr == "" || strings.EqualFold(m.ToAddr, addr)) {
			out = append(out, m)
		}
	}
	return out
}

func swWantMails(t *testing.T, a *apptest.App, id, kind, addr string, n int, when string) []models.Mail {
	t.Helper()
	got := swMails(t, a, id, kind, addr)
	if len(got) != n {
		t.Errorf("%s: %d %s mails to %q, want %d", when, len(got), kind, addr, n)
	}
	return got
}

// swCount counts rows of a table that belong to a request.
func swCount(t *testing.T, a *apptest.App, table, id string) int {
	t.Helper()
	return a.QueryInt("SELECT COUNT(*) FROM "+table+" WHERE request_id = ?", id)
}

func swChainIntact(t *testing.T, a *apptest.App) {
	t.Helper()
	rep, err := a.Store.VerifyChain(context.Background())
	if err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

func swSubmit(t *testing.T, a *apptest.App, email, law string) string {
	t.Helper()
	id, _ := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Sweep Subject", "jurisdiction": law,
		"details": map[string]any{"description": "Everything about my account."}})
	return id
}

func swVerifyLink(t *testing.T, a *apptest.App, email, subject string) string {
	t.Helper()
	return apptest.TokenFromLink(t, a.MailWithSubject(email, subject).Link(t, "/verify?token="))
}

func swVerify(t *testing.T, a *apptest.App, token string) int {
	t.Helper()
	resp, _ := a.PostJSON("/api/v1/verify", map[string]any{"token": token}, nil)
	return resp.StatusCode
}

// swStaff adds a staff member and returns them.
func swStaff(t *testing.T, a *apptest.App, email, role string) *models.Staff {
	t.Helper()
	st, err := a.Svc.AddStaff(context.Background(), email, strings.Split(email, "@")[0], role, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// swAct takes a staff action on the request's current version.
func swAct(t *testing.T, a *apptest.App, st *models.Staff, id string, in service.ActInput) *models.Request {
	t.Helper()
	in.Version = swRequest(t, a, id).Version
	r, err := a.Svc.Act(context.Background(), st, id, in)
	if err != nil {
		t.Fatalf("%s: %v", in.Action, err)
	}
	return r
}

// swInReview files a request under law, confirms it and starts its review
// by st (its assignee).
func swInReview(t *testing.T, a *apptest.App, st *models.Staff, law string) (id, email string) {
	t.Helper()
	email = swEmail("sw-" + law)
	id = swSubmit(t, a, email, law)
	if code := swVerify(t, a, swVerifyLink(t, a, email, "Please confirm")); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	swAct(t, a, st, id, service.ActInput{Action: "start_review"})
	return id, email
}

// swAdvanceTo moves the clock so that it reads until before t.
func swAdvanceTo(a *apptest.App, t time.Time, before time.Duration) {
	if d := t.Add(-before).Sub(a.Clock.Now()); d > 0 {
		a.Clock.Advance(d)
	}
}

// TestSweepVerificationReminder protects the reminder to confirm: one,
// after 24 h, with a new link that works, while the first link keeps
// working until one of them is used; never a second one.
func TestSweepVerificationReminder(t *testing.T) {
	a := swApp(t, nil, false)
	byOld, byNew, done := swEmail("sw-old"), swEmail("sw-new"), swEmail("sw-done")
	oldID, newID, doneID := swSubmit(t, a, byOld, "gdpr"), swSubmit(t, a, byNew, "gdpr"), swSubmit(t, a, done, "gdpr")
	first := map[string]string{byOld: swVerifyLink(t, a, byOld, "Please confirm"), byNew: swVerifyLink(t, a, byNew, "Please confirm")}
	if code := swVerify(t, a, swVerifyLink(t, a, done, "Please confirm")); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}

	a.Clock.Advance(23 * time.Hour)
	swSweep(t, a)
	for _, id := range []string{oldID, newID} {
		swWantMails(t, a, id, "verification_reminder", "", 0, "after 23 h")
	}
	a.Clock.Advance(2 * time.Hour)
	swSweep(t, a)
	swSweep(t, a)
	for _, id := range []string{oldID, newID} {
		swWantMails(t, a, id, "verification_reminder", "", 1, "after 25 h and two sweeps")
	}
	swWantMails(t, a, doneID, "verification_reminder", "", 0, "a confirmed request")

	reminder := map[string]string{}
	for _, e := range []string{byOld, byNew} {
		reminder[e] = swVerifyLink(t, a, e, "Reminder: please confirm")
		if reminder[e] == first[e] {
			t.Fatalf("the reminder repeats the first link")
		}
	}
	if code := swVerify(t, a, first[byOld]); code != http.StatusOK {
		t.Errorf("first link after the reminder: %d", code)
	}
	if code := swVerify(t, a, reminder[byOld]); code != http.StatusGone {
		t.Errorf("reminder link after the first one was used: %d, want 410", code)
	}
	if code := swVerify(t, a, reminder[byNew]); code != http.StatusOK {
		t.Errorf("reminder link: %d", code)
	}
	if code := swVerify(t, a, first[byNew]); code != http.StatusGone {
		t.Errorf("first link after the reminder's was used: %d, want 410", code)
	}
	for _, id := range []string{oldID, newID} {
		if r := swRequest(t, a, id); r.Status != "verified" {
			t.Errorf("request %s is %s", id, r.Status)
		}
	}
}

// TestSweepNoReminderWhenOff protects reminder_after "0s": no reminder.
func TestSweepNoReminderWhenOff(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Verification.ReminderAfter = 0 }, false)
	id := swSubmit(t, a, swEmail("sw-off"), "gdpr")
	a.Clock.Advance(25 * time.Hour)
	if rep := swSweep(t, a); rep.Reminded != 0 {
		t.Errorf("reminders with reminder_after 0: %+v", rep)
	}
	swWantMails(t, a, id, "verification_reminder", "", 0, "reminders off")
}

// TestSweepExpiry protects the expiry of unconfirmed requests: after the
// window the request is expired, its personal data, tokens and mail
// contents are gone (a mail still queued is cancelled), an anonymous stub
// and an "expire" event remain, and the audit chain verifies.
func TestSweepExpiry(t *testing.T) {
	a := swApp(t, nil, false)
	sentTo, queuedTo := swEmail("sw-sent"), swEmail("sw-queued")
	sent := swSubmit(t, a, sentTo, "ccpa")
	link := swVerifyLink(t, a, sentTo, "Please confirm")
	a.Relay.Close()
	queued := swSubmit(t, a, queuedTo, "gdpr")
	before := map[string]*models.Request{sent: swRequest(t, a, sent), queued: swRequest(t, a, queued)}

	a.Clock.Advance(71 * time.Hour)
	swSweep(t, a)
	for id := range before {
		if r := swRequest(t, a, id); r.Status != "unverified" || r.Email == "" {
			t.Fatalf("expired inside the window: %+v", r)
		}
	}
	a.Clock.Advance(2 * time.Hour)
	swSweep(t, a)
	for id, b := range before {
		r := swRequest(t, a, id)
		if r.Status != "expired" || r.Email != "" || r.FullName != "" || r.Details != "{}" || r.PurgedAt == nil {
			t.Errorf("expired request keeps personal data: %+v", r)
		}
		if r.Type != b.Type || r.Jurisdiction != b.Jurisdiction || !r.CreatedAt.Equal(b.CreatedAt) || r.Reference != b.Reference {
			t.Errorf("stub lost its statistics: %+v, was %+v", r, b)
		}
		if n := swCount(t, a, "tokens", id); n != 0 {
			t.Errorf("%d tokens left", n)
		}
		events, err := a.Store.Events(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last := events[len(events)-1]
		if last.Action != "expire" || last.FromState != "unverified" || last.ToState != "expired" || last.ActorKind != "system" {
			t.Errorf("last event: %+v", last)
		}
		for _, m := range swMails(t, a, id, "verification", "") {
			if m.ToAddr != "" || m.Subject != "" || m.TextBody != "" || m.HTMLBody != "" {
				t.Errorf("mail %d keeps its contents: %+v", m.ID, m)
			}
		}
	}
	if code := swVerify(t, a, link); code != http.StatusNotFound {
		t.Errorf("link of an expired request: %d, want 404", code)
	}
	for _, m := range swMails(t, a, queued, "verification", "") {
		if m.Status != models.MailFailed {
			t.Errorf("queued mail of an expired request is %s, want failed", m.Status)
		}
	}
	// A mail worker that tries it again leaves it alone.
	time.Sleep(300 * time.Millisecond)
	for _, m := range swMails(t, a, queued, "verification", "") {
		if m.Status != models.MailFailed || m.TextBody != "" {
			t.Errorf("cancelled mail changed: %+v", m)
		}
	}
	swChainIntact(t, a)
}

// TestSweepRemindsBeforeDue protects the due-date reminder: once, to the
// assignee (or the team when nobody holds the request), inside the
// configured days before the due date; again for a new due date after an
// extension.
func TestSweepRemindsBeforeDue(t *testing.T) {
	a := swApp(t, func(c *config.Config) {
		c.Staff.RemindDaysBefore = 7
		c.Mail.TeamAddress = "team@example.org"
	}, false)
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	id, _ := swInReview(t, a, ann, "gdpr")
	email := swEmail("sw-unassigned")
	unassigned := swSubmit(t, a, email, "gdpr")
	if code := swVerify(t, a, swVerifyLink(t, a, email, "Please confirm")); code != http.StatusOK {
		t.Fatal(code)
	}
	due := swRequest(t, a, id).DueAt

	swAdvanceTo(a, due, 8*24*time.Hour)
	swSweep(t, a)
	swWantMails(t, a, id, "staff_due_soon", "", 0, "8 days before")

	swAdvanceTo(a, due, 6*24*time.Hour)
	swSweep(t, a)
	swSweep(t, a)
	swWantMails(t, a, id, "staff_due_soon", "ann@example.org", 1, "6 days before")
	swWantMails(t, a, id, "staff_due_soon", "", 1, "6 days before, to anyone")
	swWantMails(t, a, unassigned, "staff_due_soon", "team@example.org", 1, "unassigned, 6 days before")
	loc := a.Cfg.Calendar().Loc
	if m := a.MailWithSubject("ann@example.org", "Due "+due.In(loc).Format("Monday, 2 January 2006")); !strings.Contains(m.Subject(), swRequest(t, a, id).Reference) {
		t.Errorf("reminder subject: %s", m.Subject())
	}

	r := swAct(t, a, ann, id, service.ActInput{Action: "extend", Reason: "Archive tapes."})
	newDue := r.DueAt
	if !newDue.After(due.Add(50 * 24 * time.Hour)) {
		t.Fatalf("extended due %s, was %s", newDue, due)
	}
	swSweep(t, a)
	swWantMails(t, a, id, "staff_due_soon", "", 1, "just after the extension")
	swAdvanceTo(a, newDue, 6*24*time.Hour)
	swSweep(t, a)
	got := swWantMails(t, a, id, "staff_due_soon", "ann@example.org", 2, "6 days before the new due date")
	if want := newDue.In(loc).Format("Monday, 2 January 2006"); len(got) == 2 && !strings.Contains(got[1].Subject, want) {
		t.Errorf("second reminder %q does not name %s", got[1].Subject, want)
	}
}

// TestSweepEscalatesOverdue protects the overdue escalation: one mail to
// every active admin and to the assignee, once per due date, and none for
// a request whose clock is paused.
func TestSweepEscalatesOverdue(t *testing.T) {
	a := swApp(t, nil, false)
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	boss := swStaff(t, a, "boss@example.org", "admin")
	swStaff(t, a, "chief@example.org", "admin")
	gone := swStaff(t, a, "gone@example.org", "admin")
	if err := a.Svc.SetDisabled(context.Background(), boss, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	late, _ := swInReview(t, a, ann, "gdpr")
	bossLate, _ := swInReview(t, a, boss, "gdpr")
	paused, _ := swInReview(t, a, ann, "uk_gdpr")
	swAct(t, a, ann, paused, service.ActInput{Action: "request_info", Message: "Which account?"})
	if swRequest(t, a, paused).PausedAt == nil {
		t.Fatal("uk_gdpr question did not pause the clock")
	}

	due := swRequest(t, a, late).DueAt
	swSweep(t, a)
	swWantMails(t, a, late, "staff_overdue", "", 0, "before the due date")
	swAdvanceTo(a, due, -time.Hour)
	swSweep(t, a)
	swSweep(t, a)
	for _, to := range []string{"ann@example.org", "boss@example.org", "chief@example.org"} {
		swWantMails(t, a, late, "staff_overdue", to, 1, "overdue")
		a.MailWithSubject(to, "OVERDUE")
	}
	swWantMails(t, a, late, "staff_overdue", "", 3, "overdue, to anyone")
	// An admin who holds the request is told once.
	swWantMails(t, a, bossLate, "staff_overdue", "boss@example.org", 1, "overdue, held by an admin")
	swWantMails(t, a, bossLate, "staff_overdue", "", 2, "overdue, held by an admin, to anyone")
	swWantMails(t, a, paused, "staff_overdue", "", 0, "paused")
}

// TestSweepExtensionWarning protects the warning before the last day to
// announce an extension: once, only where an extension is still
// possible (not yet used, and the law has one).
func TestSweepExtensionWarning(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Staff.ExtensionWarningDays = 5 }, false)
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	open, _ := swInReview(t, a, ann, "gdpr")
	extended, _ := swInReview(t, a, ann, "gdpr")
	lgpd, _ := swInReview(t, a, ann, "lgpd")
	swAct(t, a, ann, extended, service.ActInput{Action: "extend", Reason: "Complex."})

	swAdvanceTo(a, swRequest(t, a, lgpd).DueAt, 4*24*time.Hour)
	swSweep(t, a)
	swWantMails(t, a, lgpd, "staff_extension_deadline", "", 0, "lgpd, 4 days before")

	due := swRequest(t, a, open).DueAt
	swAdvanceTo(a, due, 6*24*time.Hour)
	swSweep(t, a)
	swWantMails(t, a, open, "staff_extension_deadline", "", 0, "6 days before")
	swAdvanceTo(a, due, 4*24*time.Hour)
	swSweep(t, a)
	swSweep(t, a)
	swWantMails(t, a, open, "staff_extension_deadline", "ann@example.org", 1, "4 days before")
	swWantMails(t, a, extended, "staff_extension_deadline", "", 0, "extended")
	a.MailWithSubject("ann@example.org", "Last chance to extend")
}

// TestSweepExtensionWarningAfterPause: under UK GDPR a pause moves the
// due date on, but an extension must still be announced within the
// first month; the warning follows that day, not the later due date.
func TestSweepExtensionWarningAfterPause(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Staff.ExtensionWarningDays = 5 }, false)
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	id, email := swInReview(t, a, ann, "uk_gdpr")
	announceBy := swRequest(t, a, id).DueAt
	swAct(t, a, ann, id, service.ActInput{Action: "request_info", Message: "Which account number?"})
	link := a.MailWithSubject(email, "A question").Link(t, "/status/")
	a.Clock.Advance(20 * 24 * time.Hour)
	if _, err := a.Svc.ProvideInfo(context.Background(), link[strings.LastIndex(link, "/")+1:], "It is 12345.", "en"); err != nil {
		t.Fatal(err)
	}
	if r := swRequest(t, a, id); !r.DueAt.After(announceBy.AddDate(0, 0, 15)) {
		t.Fatalf("the pause did not move the due date: %v, was %v", r.DueAt, announceBy)
	}
	swAdvanceTo(a, announceBy, 4*24*time.Hour)
	swSweep(t, a)
	swWantMails(t, a, id, "staff_extension_deadline", "ann@example.org", 1, "4 days before the last day to announce")
}

// swClosed builds a GDPR request whose subject answered a question by
// reply (a kept inbound message), with a note, then rejected: closed for
// good, as the GDPR grants no appeal. (A rejection rather than a
// completion keeps the test independent of what completion requires.)
func swClosed(t *testing.T, a *apptest.App, st *models.Staff) (id, email string) {
	t.Helper()
	id, email = swInReview(t, a, st, "gdpr")
	swAct(t, a, st, id, service.ActInput{Action: "request_info", Message: "Which account number?"})
	q := a.MailWithSubject(email, "A question")
	reply := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <%s>\r\n\r\nIt is 12345.\r\n",
		email, q.ReplyTo(t), q.Subject(), strings.Replace(email, "@", ".reply@", 1))
	resp, body := a.Do(http.MethodPost, "/api/v1/inbound/email", strings.NewReader(reply),
		map[string]string{"X-Inbound-Secret": a.Cfg.Mail.Inbound.Secret})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "answered") {
		t.Fatalf("reply: %d %s", resp.StatusCode, body)
	}
	if _, err := a.Svc.AddNote(context.Background(), st, id, "Account 12345 belongs to "+email); err != nil {
		t.Fatal(err)
	}
	r := swAct(t, a, st, id, service.ActInput{Action: "reject", Reason: "not_applicable", Message: "Account 12345 is not ours."})
	if r.Status != "rejected" || r.ClosedAt == nil || r.AppealBy != nil {
		t.Fatalf("not closed for good: %+v", r)
	}
	return id, email
}

// swWithdrawn is a confirmed request the subject withdrew.
func swWithdrawn(t *testing.T, a *apptest.App) string {
	t.Helper()
	email := swEmail("sw-withdrawn")
	id := swSubmit(t, a, email, "ccpa")
	if code := swVerify(t, a, swVerifyLink(t, a, email, "Please confirm")); code != http.StatusOK {
		t.Fatalf("verify: %d", code)
	}
	link := a.MailWithSubject(email, "We received").Link(t, "/status/")
	if _, err := a.Svc.Withdraw(context.Background(), link[strings.LastIndex(link, "/")+1:]); err != nil {
		t.Fatal(err)
	}
	return id
}

func swListed(items []service.PurgeItem, id string) bool {
	for _, it := range items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// TestRetentionPurgeWalksEveryBatch: more candidates than one batch are
// all listed by the dry run and all purged, and a first batch made only
// of requests kept for an open appeal does not stop the walk.
func TestRetentionPurgeWalksEveryBatch(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Retention.ClosedRequests = "24 months" }, true)
	ctx := context.Background()
	now := a.Clock.Now()
	var rs []models.Request
	add := func(i int, st workflow.State, due time.Time, appealBy *time.Time) {
		closed := now.AddDate(-3, 0, 0)
		rs = append(rs, models.Request{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Reference: fmt.Sprintf("DSR-B%03d-%04d", i/10000, i%10000),
			Type: "access", Status: string(st), Jurisdiction: "gdpr", Email: fmt.Sprintf("b%d@example.com", i), FullName: "Batch Subject",
			Details: "{}", Approvals: "[]", CreatedAt: closed.AddDate(0, -1, 0), UpdatedAt: closed, VerifyBy: closed,
			DueAt: due, ClosedAt: &closed, AppealBy: appealBy})
	}
	open := now.AddDate(0, 0, 30)
	for i := range 210 { // due first: the whole first batch waits on an appeal
		add(i, workflow.StateRejected, now.AddDate(-4, 0, 0), &open)
	}
	for i := 210; i < 660; i++ {
		add(i, workflow.StateCompleted, now.AddDate(-3, 0, i), nil)
	}
	if err := a.Store.InsertRequests(ctx, rs); err != nil {
		t.Fatal(err)
	}
	items, err := a.Svc.PurgeClosed(ctx, true)
	if err != nil || len(items) != 450 {
		t.Fatalf("dry run listed %d of 450: %v", len(items), err)
	}
	items, err = a.Svc.PurgeClosed(ctx, false)
	if err != nil || len(items) != 450 {
		t.Fatalf("purge removed %d of 450: %v", len(items), err)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM requests WHERE purged_at IS NOT NULL"); n != 450 {
		t.Fatalf("%d purged, want 450", n)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM requests WHERE purged_at IS NULL AND status = 'rejected'"); n != 210 {
		t.Fatalf("%d rejected requests kept for their appeal, want 210", n)
	}
}

// TestRetentionPurge protects the retention purge: requests closed
// longer ago than the period lose their personal data, notes, replies,
// tokens and mail contents but keep their state, type and dates and get a
// "purge" event; the audit chain still verifies; the dry run changes
// nothing; a request closed more recently is untouched.
func TestRetentionPurge(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Retention.ClosedRequests = "24 months" }, false)
	ctx := context.Background()
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	old, _ := swClosed(t, a, ann)
	withdrawn := swWithdrawn(t, a)
	closedAt := *swRequest(t, a, old).ClosedAt
	a.Clock.Advance(31 * 24 * time.Hour)
	recent, _ := swClosed(t, a, ann)
	for _, id := range []string{old, recent} {
		if swCount(t, a, "notes", id) != 1 || swCount(t, a, "inbound_messages", id) != 1 || swCount(t, a, "tokens", id) == 0 {
			t.Fatalf("test request %s lacks a note, a reply or tokens", id)
		}
	}
	// 24 months and 2 days after the first requests closed; the third
	// closed 31 days later, about 23 months ago.
	swAdvanceTo(a, closedAt.AddDate(2, 0, 2), 0)

	before := map[string]*models.Request{old: swRequest(t, a, old), withdrawn: swRequest(t, a, withdrawn)}
	nEvents := map[string]int{old: swCount(t, a, "audit_events", old), withdrawn: swCount(t, a, "audit_events", withdrawn)}
	items, err := a.Svc.PurgeClosed(ctx, true)
	if err != nil || len(items) != 2 || !swListed(items, old) || !swListed(items, withdrawn) {
		t.Fatalf("dry run: %+v %v", items, err)
	}
	for id := range before {
		if r := swRequest(t, a, id); r.Email == "" || r.PurgedAt != nil || r.Version != before[id].Version ||
			swCount(t, a, "audit_events", id) != nEvents[id] {
			t.Fatalf("the dry run changed the request: %+v", r)
		}
	}
	if swCount(t, a, "notes", old) != 1 {
		t.Fatal("the dry run deleted a note")
	}

	items, err = a.Svc.PurgeClosed(ctx, false)
	if err != nil || len(items) != 2 || !swListed(items, old) || !swListed(items, withdrawn) {
		t.Fatalf("purge: %+v %v", items, err)
	}
	for id, b := range before {
		r := swRequest(t, a, id)
		if r.Email != "" || r.FullName != "" || r.Details != "{}" || r.PurgedAt == nil {
			t.Errorf("personal data kept: %+v", r)
		}
		if r.Status != b.Status || r.Type != b.Type || r.Jurisdiction != b.Jurisdiction || r.Reference != b.Reference ||
			!r.CreatedAt.Equal(b.CreatedAt) || !r.VerifiedAt.Equal(*b.VerifiedAt) || !r.ClosedAt.Equal(*b.ClosedAt) || !r.DueAt.Equal(b.DueAt) {
			t.Errorf("stub lost its statistics: %+v\nwas %+v", r, b)
		}
		for _, table := range []string{"notes", "inbound_messages", "tokens"} {
			if n := swCount(t, a, table, id); n != 0 {
				t.Errorf("%d %s left", n, table)
			}
		}
		mails, err := a.Store.MailsFor(ctx, id)
		if err != nil || len(mails) == 0 {
			t.Fatalf("mails: %v %v", mails, err)
		}
		for _, m := range mails {
			if m.ToAddr != "" || m.Subject != "" || m.TextBody != "" || m.HTMLBody != "" || m.ReplyTo != "" {
				t.Errorf("mail %d (%s) keeps its contents: %+v", m.ID, m.Kind, m)
			}
		}
		events, err := a.Store.Events(ctx, id)
		if err != nil || len(events) != nEvents[id]+1 {
			t.Fatalf("events after the purge: %d (was %d) %v", len(events), nEvents[id], err)
		}
		if e := events[len(events)-1]; e.Action != "purge" || e.ActorKind != "system" || e.FromState != b.Status || e.ToState != b.Status {
			t.Errorf("purge event: %+v", e)
		}
		for _, e := range events[:len(events)-1] {
			if e.Message != "" || e.Reason != "" {
				t.Errorf("event %d keeps its text: %+v", e.ID, e)
			}
		}
	}
	swChainIntact(t, a)

	if r := swRequest(t, a, recent); r.Email == "" || r.PurgedAt != nil || swCount(t, a, "notes", recent) != 1 || swCount(t, a, "inbound_messages", recent) != 1 {
		t.Errorf("a request closed 23 months ago was purged: %+v", r)
	}
	if items, err := a.Svc.PurgeClosed(ctx, true); err != nil || len(items) != 0 {
		t.Errorf("second dry run: %+v %v", items, err)
	}
}

// TestRetentionKeepsOpenAppeal protects a rejected request's appeal: its
// data is not purged while the subject may still appeal, even when the
// retention period is shorter than the appeal window.
func TestRetentionKeepsOpenAppeal(t *testing.T) {
	a := swApp(t, func(c *config.Config) { c.Retention.ClosedRequests = "30 days" }, false)
	ctx := context.Background()
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	id, _ := swInReview(t, a, ann, "vcdpa")
	r := swAct(t, a, ann, id, service.ActInput{Action: "reject", Reason: "excessive", Message: "Asked last week."})
	if r.AppealBy == nil {
		t.Fatal("a VCDPA rejection has no appeal window")
	}
	a.Clock.Advance(40 * 24 * time.Hour)
	items, err := a.Svc.PurgeClosed(ctx, false)
	if err != nil || swListed(items, id) {
		t.Fatalf("purge inside the appeal window: %+v %v", items, err)
	}
	if r := swRequest(t, a, id); r.Email == "" || r.PurgedAt != nil {
		t.Fatalf("purged while an appeal is open: %+v", r)
	}
	swAdvanceTo(a, *r.AppealBy, -time.Hour)
	if items, err := a.Svc.PurgeClosed(ctx, false); err != nil || !swListed(items, id) {
		t.Fatalf("purge after the appeal window: %+v %v", items, err)
	}
	if r := swRequest(t, a, id); r.Email != "" || r.PurgedAt == nil || r.Status != "rejected" {
		t.Errorf("after the window: %+v", r)
	}
	swChainIntact(t, a)
}

// TestSweepConcurrentRunsSendOnce protects "safe when several instances
// run": two sweeps at once send each notice (verification reminder, due
// reminder, extension warning, escalation) once.
func TestSweepConcurrentRunsSendOnce(t *testing.T) {
	a := swApp(t, nil, false)
	ann := swStaff(t, a, "ann@example.org", "reviewer")
	swStaff(t, a, "boss@example.org", "admin")
	var busy []string
	for range 4 {
		id, _ := swInReview(t, a, ann, "gdpr")
		busy = append(busy, id)
	}
	var idle []string
	for range 4 {
		idle = append(idle, swSubmit(t, a, swEmail("sw-idle"), "gdpr"))
	}
	both := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = a.Svc.Sweep(context.Background())
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent sweep: %v", err)
			}
		}
	}

	a.Clock.Advance(25 * time.Hour)
	both()
	for _, id := range idle {
		swWantMails(t, a, id, "verification_reminder", "", 1, "two sweeps at once")
	}
	a.Clock.Advance(48 * time.Hour)
	both()
	for _, id := range idle {
		if n := swCount(t, a, "audit_events", id); n != 2 {
			t.Errorf("%d events on an expired request, want submit and one expire", n)
		}
	}

	due := swRequest(t, a, busy[0]).DueAt
	for _, id := range busy {
		if d := swRequest(t, a, id).DueAt; !d.Equal(due) {
			t.Fatalf("test requests have different due dates: %s, %s", d, due)
		}
	}
	swAdvanceTo(a, due, 4*24*time.Hour)
	both()
	for _, id := range busy {
		swWantMails(t, a, id, "staff_due_soon", "", 1, "two sweeps at once")
		swWantMails(t, a, id, "staff_extension_deadline", "", 1, "two sweeps at once")
	}
	swAdvanceTo(a, due, -time.Hour)
	both()
	for _, id := range busy {
		swWantMails(t, a, id, "staff_overdue", "boss@example.org", 1, "two sweeps at once")
		swWantMails(t, a, id, "staff_overdue", "ann@example.org", 1, "two sweeps at once")
	}
}
