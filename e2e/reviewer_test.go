package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// queueRefs is the references listed in the queue's table.
func queueRefs(tb *tab) []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('table.list tbody tr td.ref > a')].map(a => a.innerText.trim())`)
}

// wantRefs fails unless the queue lists exactly want (in any order).
func wantRefs(tb *tab, what string, want ...string) {
	tb.t.Helper()
	got := queueRefs(tb)
	ok := len(got) == len(want)
	for _, w := range want {
		ok = ok && strings.Contains(strings.Join(got, " "), w)
	}
	if !ok {
		tb.t.Fatalf("%s: queue lists %v, want %v (at %s)", what, got, want, tb.path())
	}
}

// actionButton is the submit button of the file's form for an action.
func actionButton(action string) string {
	return `form.action:has(input[name=action][value=` + action + `]) button[type=submit]`
}

// TestReviewerJourney protects the reviewer's way: sign in, filter the queue, work a request to completion, see the timeline.
func TestReviewerJourney(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.StaffToken("ada@example.org", "admin")
	subject := func(n, typ string, details map[string]any) map[string]any {
		return map[string]any{"type": typ, "email": n + "@example.com", "full_name": "Subject " + n, "details": details}
	}
	// The oldest request is overdue once the clock has moved on.
	_, late := fileVerified(a, subject("late", "access", nil))
	a.Clock.Advance(40 * 24 * time.Hour)
	id, work := fileVerified(a, subject("work", "access", nil))
	_, erase := fileVerified(a, subject("erase", "erasure", nil))
	_, fix := fileVerified(a, subject("fix", "rectification", map[string]any{"correction": "Ann Other"}))

	browser := newBrowser(t)
	tb := newTab(t, a, browser, desktop)
	tb.open("/staff")
	if p := tb.path(); !strings.HasPrefix(p, "/staff/login") {
		t.Fatalf("the workspace signed out: at %s, want the sign-in page", p)
	}
	tb.wantH1("Sign in")
	tb.page("staff-login")
	tb.signIn("ada@example.org")
	tb.wantH1("Queue")
	wantRefs(tb, "whole queue", late, work, erase, fix)
	tb.page("queue")

	tb.choose("#f-status", "verified")
	tb.choose("#f-type", "access")
	tb.press(`form.filters button[type=submit]`)
	q, _ := url.ParseQuery(strings.SplitN(tb.path(), "?", 2)[1])
	if q.Get("status") != "verified" || q.Get("type") != "access" {
		t.Fatalf("filter query %v", q)
	}
	wantRefs(tb, "verified access requests", late, work)
	tb.page("queue-filtered")
	tb.toggle("#f-overdue")
	tb.press(`form.filters button[type=submit]`)
	wantRefs(tb, "overdue verified access requests", late)
	tb.wantText("Overdue by")
	tb.page("queue-overdue")
	tb.press(`a.reset`)
	wantRefs(tb, "reset filters", late, work, erase, fix)

	tb.press(`table.list a[href="/staff/requests/` + id + `"]`)
	tb.wantH1(work)
	tb.wantText("Subject work", "work@example.com")
	tb.page("request-file")
	tb.press(actionButton("start_review"))
	tb.wantText("Done: start_review")
	tb.page("file-in-review")
	tb.press(actionButton("approve"))
	tb.wantText("Done: approve")
	tb.page("file-approved")
	tb.fill("#complete-message", "Here is a copy of all we hold about you.")
	tb.press(actionButton("complete"))
	tb.wantText("Done: complete")
	if r := request(a, id); r.Status != "completed" {
		t.Fatalf("after complete: %s", r.Status)
	}
	timeline := eval[string](tb, `document.querySelector('ol.timeline').innerText`)
	for _, step := range []string{"submit", "verify", "start_review", "approve", "complete", "Here is a copy of all we hold about you."} {
		if !strings.Contains(timeline, step) {
			t.Errorf("timeline lacks %q:\n%s", step, timeline)
		}
	}
	if eval[int](tb, `document.querySelectorAll('form.action').length`) != 0 {
		t.Errorf("a completed request still offers actions")
	}
	tb.page("file-completed")

	tb.press(`header nav a[href="/staff/admin"]`)
	tb.wantH1("Staff and API tokens")
	tb.page("admin")
	a.MailWithSubject("work@example.com", "is complete")
}

// TestReviewerConflict protects against stale decisions: B acting from a page loaded before A acted sees "changed by someone else" and changes nothing.
func TestReviewerConflict(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "reviewer")
	a.StaffToken("bob@example.org", "reviewer")
	id, _ := fileVerified(a, map[string]any{"type": "rectification", "email": "sub@example.com",
		"full_name": "Sub Ject", "details": map[string]any{"correction": "Sub Ject"}})
	act(a, ada, id, map[string]any{"action": "start_review"})

	browser := newBrowser(t)
	tabA := newTab(t, a, browser, desktop, chromedp.WithNewBrowserContext())
	tabA.name += "-A"
	tabB := newTab(t, a, browser, desktop, chromedp.WithNewBrowserContext())
	tabB.name += "-B"
	tabA.signIn("ada@example.org")
	tabB.signIn("bob@example.org")
	tabA.open("/staff/requests/" + id)
	tabB.open("/staff/requests/" + id)
	tabB.page("file-loaded")
	before := request(a, id)

	tabA.press(actionButton("approve"))
	tabA.wantText("Done: approve")
	after := request(a, id)
	if after.Status != "approved" || after.Version == before.Version {
		t.Fatalf("A's approval: %s v%d", after.Status, after.Version)
	}
	eventsAfterA := events(t, a, id)

	// B rejects from the page loaded before A approved.
	tabB.choose("#reject-reason", "other")
	bMessage := "Bob's stale rejection, which must not be applied."
	tabB.fill("#reject-message", bMessage)
	resp := tabB.press(actionButton("reject"))
	tabB.wantStatus("stale rejection", resp, http.StatusConflict)
	tabB.wantText("changed by someone else", "Nothing was saved")
	tabB.page("file-conflict")

	now := request(a, id)
	if now.Status != "approved" || now.Version != after.Version {
		t.Errorf("after B's stale rejection: %s v%d, want approved v%d", now.Status, now.Version, after.Version)
	}
	got := events(t, a, id)
	if len(got) != len(eventsAfterA) {
		t.Errorf("B's stale action added events: %d, want %d", len(got), len(eventsAfterA))
	}
	for _, e := range got {
		if e.Action == "reject" || strings.Contains(e.Message, "stale rejection") {
			t.Errorf("B's rejection was applied: %+v", e)
		}
	}
	for _, m := range a.Relay.Messages() {
		if strings.Contains(string(m.Data), "stale rejection") {
			t.Errorf("B's rejection was mailed")
		}
	}
	// The refused page shows the current state, so B can decide again.
	if eval[int](tabB, `document.querySelectorAll('`+actionButton("reject")+`').length`) != 0 {
		t.Errorf("the conflict page still offers rejection of an approved request")
	}
}

// events is the request's audit trail.
func events(t *testing.T, a *apptest.App, id string) []eventRow {
	t.Helper()
	evs, err := a.Store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]eventRow, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventRow{e.Action, e.Message})
	}
	return out
}

type eventRow struct{ Action, Message string }
