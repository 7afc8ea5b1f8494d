package handlers_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// The clock tests compute expected dates from the instants the portal
// recorded (created_at, verified_at, event times), with the standard
// library only: a local date is a time.Time at noon UTC, so that
// AddDate counts whole calendar days.

var clSeq atomic.Int64

func clEmail(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, clSeq.Add(1))
}

func clAct(t *testing.T, a *apptest.App, token, id string, body map[string]any) (int, map[string]any) {
	t.Helper()
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, m
}

func clGet(t *testing.T, a *apptest.App, token, id string) map[string]any {
	t.Helper()
	resp, m := a.GetJSON("/api/v1/requests/"+id, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET request %s: %d %v", id, resp.StatusCode, m)
	}
	return m
}

func clVersion(m map[string]any) int { return int(m["version"].(float64)) }

// clMust acts and fails unless the action gives 200 and state.
func clMust(t *testing.T, a *apptest.App, token, id string, body map[string]any, state string) map[string]any {
	t.Helper()
	code, m := clAct(t, a, token, id, body)
	if code != http.StatusOK || m["status"] != state {
		t.Fatalf("%v: %d %v (want 200 %s)", body["action"], code, m, state)
	}
	return m
}

// clStep acts on the request's current version.
func clStep(t *testing.T, a *apptest.App, token, id string, body map[string]any, state string) map[string]any {
	t.Helper()
	body["version"] = clVersion(clGet(t, a, token, id))
	return clMust(t, a, token, id, body, state)
}

func clSubmit(t *testing.T, a *apptest.App, email, jurisdiction string) string {
	t.Helper()
	id, _ := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Clock Subject", "jurisdiction": jurisdiction})
	return id
}

// clVerify confirms the request filed by email with its mailed link.
func clVerify(t *testing.T, a *apptest.App, email string) {
	t.Helper()
	tok := apptest.TokenFromLink(t, a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
}

// clStatusToken is the token of the status link in the mail to email
// whose subject contains subject.
func clStatusToken(t *testing.T, a *apptest.App, email, subject string) string {
	t.Helper()
	link := a.MailWithSubject(email, subject).Link(t, "/status/")
	return link[strings.LastIndex(link, "/status/")+len("/status/"):]
}

// clPost posts a form to a status page as the subject's browser would.
func clPost(t *testing.T, a *apptest.App, path string, form url.Values) (int, string) {
	t.Helper()
	resp, b := a.Do(http.MethodPost, path, strings.NewReader(form.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
		"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin",
	})
	return resp.StatusCode, html.UnescapeString(string(b))
}

func clPage(t *testing.T, a *apptest.App, path string) string {
	t.Helper()
	resp, b := a.Do(http.MethodGet, path, nil, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
	}
	return html.UnescapeString(string(b))
}

func clLoc(t *testing.T, a *apptest.App) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(a.Cfg.Organisation.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// clDay is the local calendar day of the instant s (RFC 3339), as noon
// UTC of that date.
func clDay(t *testing.T, a *apptest.App, s any) time.Time {
	t.Helper()
	str, _ := s.(string)
	at, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		t.Fatalf("not an instant: %v", s)
	}
	y, m, d := at.In(clLoc(t, a)).Date()
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
}

// clPlusMonths is the same date n months later, or that month's last day
// (Regulation 1182/71).
func clPlusMonths(d time.Time, n int) time.Time {
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d.Day(), last), 12, 0, 0, 0, time.UTC)
}

// clWorking moves a Saturday or Sunday to the next Monday (the shipped
// configuration has no holidays).
func clWorking(d time.Time) time.Time {
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func clYMD(d time.Time) string { return d.Format(time.DateOnly) }

// clEventAt is the time of the last event of the request with action.
func clEventAt(t *testing.T, m map[string]any, action string) any {
	t.Helper()
	var at any
	for _, e := range m["events"].([]any) {
		ev := e.(map[string]any)
		if ev["action"] == action {
			at = ev["at"]
		}
	}
	if at == nil {
		t.Fatalf("no %s event in %v", action, m["events"])
	}
	return at
}

// clOverdueIDs lists the ids the staff API gives for ?overdue=true.
func clOverdueIDs(t *testing.T, a *apptest.App, token string) []string {
	t.Helper()
	resp, m := a.GetJSON("/api/v1/requests?overdue=true&limit=200", token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overdue list: %d %v", resp.StatusCode, m)
	}
	var out []string
	for _, it := range m["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// TestJurisdictionsAPI protects GET /api/v1/jurisdictions: every shipped
// policy, in the configuration's order, with its rules.
func TestJurisdictionsAPI(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	resp, m := a.GetJSON("/api/v1/jurisdictions", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jurisdictions: %d %v", resp.StatusCode, m)
	}
	var codes []string
	byCode := map[string]map[string]any{}
	for _, it := range m["items"].([]any) {
		p := it.(map[string]any)
		code := p["code"].(string)
		codes = append(codes, code)
		byCode[code] = p
		for _, k := range []string{"period", "clock_starts", "authority"} {
			if s, _ := p[k].(string); s == "" {
				t.Errorf("%s: %s is empty: %v", code, k, p)
			}
		}
		if _, ok := p["max_extension"].(string); !ok {
			t.Errorf("%s: no max_extension: %v", code, p)
		}
		if types, _ := p["types"].([]any); len(types) == 0 {
			t.Errorf("%s: no types: %v", code, p)
		}
	}
	if want := []string{"gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "lgpd"}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	for code, want := range map[string]map[string]any{
		"gdpr":  {"period": "1 month", "clock_starts": "verification", "max_extension": "2 months"},
		"ccpa":  {"period": "45 days", "clock_starts": "submission", "max_extension": "45 days"},
		"vcdpa": {"appeal_window": "60 days", "appeal_decision": "60 days"},
		"cpa":   {"appeal_window": "60 days", "appeal_decision": "45 days", "appeal_extension": "60 days"},
		"lgpd":  {"period": "15 days", "max_extension": "", "appeal_window": ""},
	} {
		for k, v := range want {
			if byCode[code][k] != v {
				t.Errorf("%s.%s = %v, want %v", code, k, byCode[code][k], v)
			}
		}
	}
}

// TestJurisdictionDueAPI protects GET /api/v1/jurisdictions/{code}/due:
// the law's dates for a received day, 404 for an unknown law and 422 for
// a missing or impossible date.
func TestJurisdictionDueAPI(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	for path, want := range map[string]map[string]any{
		// Jan 31 + 1 month → Feb 28 2026, a Saturday → Monday Mar 2;
		// + 3 months → Apr 30, a Thursday.
		"/api/v1/jurisdictions/gdpr/due?received=2026-01-31": {"jurisdiction": "gdpr", "received": "2026-01-31",
			"due_date": "2026-03-02", "max_extended_due_date": "2026-04-30"},
		// Jan 1 + 45 days → Feb 15 (a Sunday, days do not roll); + 90 → Apr 1.
		"/api/v1/jurisdictions/ccpa/due?received=2026-01-01": {"jurisdiction": "ccpa", "received": "2026-01-01",
			"due_date": "2026-02-15", "max_extended_due_date": "2026-04-01"},
		// Jun 15 + 15 days → Jun 30; LGPD has no extension.
		"/api/v1/jurisdictions/lgpd/due?received=2026-06-15": {"jurisdiction": "lgpd", "received": "2026-06-15",
			"due_date": "2026-06-30", "max_extended_due_date": "2026-06-30"},
	} {
		resp, m := a.GetJSON(path, "")
		if resp.StatusCode != http.StatusOK || len(m) != len(want) {
			t.Errorf("%s: %d %v", path, resp.StatusCode, m)
			continue
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", path, k, m[k], v)
			}
		}
	}
	if resp, m := a.GetJSON("/api/v1/jurisdictions/atlantis/due?received=2026-01-31", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown jurisdiction: %d %v", resp.StatusCode, m)
	}
	for _, q := range []string{"", "?received=", "?received=2026-02-30", "?received=2026-13-01",
		"?received=yesterday", "?received=2026-1-5"} {
		resp, m := a.GetJSON("/api/v1/jurisdictions/gdpr/due"+q, "")
		e, _ := m["error"].(map[string]any)
		fields, _ := e["fields"].(map[string]any)
		if resp.StatusCode != http.StatusUnprocessableEntity || fields["received"] == nil {
			t.Errorf("received %q: %d %v, want 422 naming received", q, resp.StatusCode, m)
		}
	}
}

// TestClockStartsBySubmissionOrVerification protects the clock start:
// the CCPA counts 45 days from submission however long verification
// takes; the GDPR counts one month from the day of verification.
func TestClockStartsBySubmissionOrVerification(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Verification.Window = config.Duration(10 * 24 * time.Hour)
	}})
	staff := a.StaffToken("ann@example.org", "reviewer")
	ccpaMail, gdprMail := clEmail("cl-ccpa"), clEmail("cl-gdpr")
	ccpa := clSubmit(t, a, ccpaMail, "ccpa")
	gdpr := clSubmit(t, a, gdprMail, "gdpr")
	a.Clock.Advance(5 * 24 * time.Hour)
	clVerify(t, a, ccpaMail)
	clVerify(t, a, gdprMail)

	m := clGet(t, a, staff, ccpa)
	submitted, verifiedDay := clDay(t, a, m["created_at"]), clDay(t, a, m["verified_at"])
	if got := verifiedDay.Sub(submitted).Hours() / 24; got < 4 || got > 6 {
		t.Fatalf("verified %v days after submission, want about 5", got)
	}
	// 45 calendar days from the day of submission, whatever the weekday.
	if want := clYMD(submitted.AddDate(0, 0, 45)); m["due_date"] != want {
		t.Errorf("ccpa due %v, want %s (submitted %s, verified %s)", m["due_date"], want, clYMD(submitted), clYMD(verifiedDay))
	}

	m = clGet(t, a, staff, gdpr)
	verifiedDay = clDay(t, a, m["verified_at"])
	if want := clYMD(clWorking(clPlusMonths(verifiedDay, 1))); m["due_date"] != want {
		t.Errorf("gdpr due %v, want %s (verified %s)", m["due_date"], want, clYMD(verifiedDay))
	}
	// The due API agrees for the day the clock started.
	_, due := a.GetJSON("/api/v1/jurisdictions/gdpr/due?received="+clYMD(verifiedDay), "")
	if due["due_date"] != m["due_date"] {
		t.Errorf("due API %v, request %v", due["due_date"], m["due_date"])
	}
}

// TestPauseAwaitingSubject protects the paused clock: under the UK GDPR a
// question stops the clock (never overdue while waiting) and the answer
// adds the waiting days to the due date; under the GDPR, where pausing is
// off, the due date does not move and the request goes overdue.
func TestPauseAwaitingSubject(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ann@example.org", "reviewer")
	type req struct{ id, email string }
	open := func(prefix, law string) req {
		r := req{email: clEmail(prefix)}
		r.id = clSubmit(t, a, r.email, law)
		clVerify(t, a, r.email)
		clStep(t, a, staff, r.id, map[string]any{"action": "start_review"}, "in_review")
		clStep(t, a, staff, r.id, map[string]any{"action": "request_info", "message": "Which account?"}, "awaiting_subject")
		return r
	}
	uk, ukWaiting, eu := open("cl-uk", "uk_gdpr"), open("cl-uk-wait", "uk_gdpr"), open("cl-eu", "gdpr")
	before := map[string]map[string]any{}
	for _, r := range []req{uk, ukWaiting, eu} {
		before[r.id] = clGet(t, a, staff, r.id)
	}
	for _, r := range []req{uk, ukWaiting} {
		if m := before[r.id]; m["paused"] != true || m["overdue"] != false {
			t.Fatalf("uk_gdpr awaiting the subject: paused %v overdue %v", m["paused"], m["overdue"])
		}
	}
	if m := before[eu.id]; m["paused"] != false {
		t.Fatalf("gdpr awaiting the subject is paused: %v", m)
	}

	a.Clock.Advance(10 * 24 * time.Hour)
	for _, r := range []req{uk, eu} {
		tok := clStatusToken(t, a, r.email, "We received")
		if code, body := clPost(t, a, "/status/"+tok+"/answer", url.Values{"message": {"Account 42."}}); code != http.StatusSeeOther {
			t.Fatalf("answer: %d\n%s", code, body)
		}
	}

	m := clGet(t, a, staff, uk.id)
	pausedDay, answeredDay := clDay(t, a, clEventAt(t, m, "request_info")), clDay(t, a, clEventAt(t, m, "provide_info"))
	days := int(answeredDay.Sub(pausedDay).Hours() / 24)
	if days != 10 {
		t.Logf("the local days of the question and the answer are %d apart (a clock change near midnight)", days)
	}
	verifiedDay := clDay(t, a, m["verified_at"])
	// One month from verification, plus the paused days, then off a weekend.
	want := clYMD(clWorking(clPlusMonths(verifiedDay, 1).AddDate(0, 0, days)))
	if m["status"] != "in_review" || m["paused"] != false || m["paused_days"] != float64(days) || m["due_date"] != want {
		t.Errorf("uk_gdpr after the answer: status %v paused %v paused_days %v due %v; want in_review, false, %d, %s (was due %v)",
			m["status"], m["paused"], m["paused_days"], m["due_date"], days, want, before[uk.id]["due_date"])
	}
	m = clGet(t, a, staff, eu.id)
	if m["status"] != "in_review" || m["paused_days"] != float64(0) || m["due_date"] != before[eu.id]["due_date"] {
		t.Errorf("gdpr after the answer: status %v paused_days %v due %v, want in_review, 0, %v",
			m["status"], m["paused_days"], m["due_date"], before[eu.id]["due_date"])
	}

	// Fifty days after the question every unpaused due date has passed;
	// the request still waiting under the UK GDPR is not overdue.
	a.Clock.Advance(40 * 24 * time.Hour)
	overdue := clOverdueIDs(t, a, staff)
	if !slices.Contains(overdue, uk.id) || !slices.Contains(overdue, eu.id) || slices.Contains(overdue, ukWaiting.id) {
		t.Errorf("overdue %v: want %s and %s, not the paused %s", overdue, uk.id, eu.id, ukWaiting.id)
	}
	if m := clGet(t, a, staff, ukWaiting.id); m["paused"] != true || m["overdue"] != false {
		t.Errorf("still waiting: paused %v overdue %v", m["paused"], m["overdue"])
	}
}

// TestClockExtension protects the extension: once, to the law's maximum
// for the day the clock started, and never after the due date.
func TestClockExtension(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ann@example.org", "reviewer")
	first, late := clEmail("cl-ext"), clEmail("cl-ext-late")
	id := clSubmit(t, a, first, "gdpr")
	lateID := clSubmit(t, a, late, "gdpr")
	for _, e := range []string{first, late} {
		clVerify(t, a, e)
	}
	for _, r := range []string{id, lateID} {
		clStep(t, a, staff, r, map[string]any{"action": "start_review"}, "in_review")
	}

	m := clGet(t, a, staff, id)
	verifiedDay := clDay(t, a, m["verified_at"])
	_, due := a.GetJSON("/api/v1/jurisdictions/gdpr/due?received="+clYMD(verifiedDay), "")
	if due["due_date"] != m["due_date"] {
		t.Fatalf("due %v, API says %v", m["due_date"], due["due_date"])
	}
	m = clStep(t, a, staff, id, map[string]any{"action": "extend", "reason": "Six systems to search."}, "in_review")
	if m["extended"] != true || m["due_date"] != due["max_extended_due_date"] {
		t.Errorf("extended: %v due %v, want the maximum %v", m["extended"], m["due_date"], due["max_extended_due_date"])
	}
	// Three months from verification, off a weekend: the same as the API.
	if want := clYMD(clWorking(clPlusMonths(verifiedDay, 3))); m["due_date"] != want {
		t.Errorf("extended due %v, want %s (verified %s)", m["due_date"], want, clYMD(verifiedDay))
	}
	if code, body := clAct(t, a, staff, id, map[string]any{"action": "extend", "reason": "Again.", "version": clVersion(m)}); code != http.StatusConflict {
		t.Errorf("second extension: %d %v", code, body)
	}

	// Past the due date (one month and at most three days for a weekend
	// roll) nothing can be extended any more.
	a.Clock.Advance(35 * 24 * time.Hour)
	lm := clGet(t, a, staff, lateID)
	if lm["overdue"] != true {
		t.Fatalf("not overdue 35 days after verification: %v", lm)
	}
	code, body := clAct(t, a, staff, lateID, map[string]any{"action": "extend", "reason": "Too late.", "version": clVersion(lm)})
	if code != http.StatusConflict {
		t.Errorf("extension after the due date: %d %v", code, body)
	}
	if lm2 := clGet(t, a, staff, lateID); lm2["extended"] != false || lm2["due_date"] != lm["due_date"] {
		t.Errorf("refused extension changed the request: %v", lm2)
	}
}

// clRejected builds a request under law, rejected by token, and returns
// its id and subject address.
func clRejected(t *testing.T, a *apptest.App, token, law string) (string, string) {
	t.Helper()
	email := clEmail("cl-" + law)
	id := clSubmit(t, a, email, law)
	clVerify(t, a, email)
	clStep(t, a, token, id, map[string]any{"action": "start_review"}, "in_review")
	clStep(t, a, token, id, map[string]any{"action": "reject", "reason": "excessive",
		"message": "You asked the same thing last week."}, "rejected")
	return id, email
}

// clFlat is a mail's text with line breaks and runs of spaces folded.
func clFlat(m *apptest.Mail) string { return strings.Join(strings.Fields(m.Text), " ") }

const clAppealForm = `/appeal"`

// TestAppealEndToEnd protects the appeal of SPEC §3 under the VCDPA: the
// rejection offers it until 60 days after the decision, the appeal gets a
// 60-day clock of its own from the day it is received, only another staff
// member decides it, and a denial names the Attorney General and ends all
// appeals.
func TestAppealEndToEnd(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "reviewer")
	loc := clLoc(t, a)
	id, email := clRejected(t, a, ann, "vcdpa")

	m := clGet(t, a, ann, id)
	rejectedDay := clDay(t, a, clEventAt(t, m, "reject"))
	appealBy := rejectedDay.AddDate(0, 0, 60)
	if got := clDay(t, a, m["appeal_by"]); !got.Equal(appealBy) {
		t.Errorf("appeal_by %s, want %s (rejected %s + 60 days)", clYMD(got), clYMD(appealBy), clYMD(rejectedDay))
	}
	byText := time.Date(appealBy.Year(), appealBy.Month(), appealBy.Day(), 12, 0, 0, 0, loc).Format("Monday, 2 January 2006")
	rejection := a.MailWithSubject(email, "Our decision on your")
	if txt := clFlat(rejection); !strings.Contains(txt, "appeal this decision to us until "+byText) || !strings.Contains(txt, "Virginia Attorney General") {
		t.Errorf("rejection mail does not offer the appeal until %s:\n%s", byText, rejection.Text)
	}
	tok := clStatusToken(t, a, email, "Our decision on your")
	if page := clPage(t, a, "/status/"+tok); !strings.Contains(page, clAppealForm) || !strings.Contains(page, byText) {
		t.Errorf("status page offers no appeal until %s:\n%s", byText, page)
	}

	// A refused appeal text is shown beside its field, and kept.
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"Bad\x00byte and my reasons"}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(body, `aria-describedby="appeal-error"`) || !strings.Contains(body, `id="appeal-error"`) || !strings.Contains(body, "my reasons") {
		t.Fatalf("refused appeal: %d\n%s", code, body)
	}

	// The subject appeals three days later: the decision is due 60 days
	// after the appeal arrived.
	a.Clock.Advance(3 * 24 * time.Hour)
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"I asked only once."}}); code != http.StatusSeeOther {
		t.Fatalf("appeal: %d\n%s", code, body)
	}
	m = clGet(t, a, ann, id)
	appealedDay := clDay(t, a, clEventAt(t, m, "appeal"))
	if want := clYMD(appealedDay.AddDate(0, 0, 60)); m["status"] != "appealed" || m["due_date"] != want {
		t.Errorf("after the appeal: %v due %v, want appealed due %s", m["status"], m["due_date"], want)
	}
	if got := clFlat(a.MailWithSubject(email, "We received your appeal")); !strings.Contains(got, "VCDPA") {
		t.Errorf("appeal confirmation: %s", got)
	}
	a.MailWithSubject("ann@example.org", "Appeal filed")

	// The staff member who rejected may not decide; another one denies.
	v := clVersion(m)
	for _, action := range []string{"grant_appeal", "deny_appeal"} {
		if code, body := clAct(t, a, ann, id, map[string]any{"action": action, "reason": "Mine.", "version": v}); code != http.StatusForbidden {
			t.Errorf("%s by the rejecter: %d %v", action, code, body)
		}
	}
	m = clMust(t, a, bob, id, map[string]any{"action": "deny_appeal", "reason": "It repeats last week's request.", "version": v}, "rejected")
	stored, err := a.Store.Request(t.Context(), id)
	if err != nil || !stored.AppealUsed {
		t.Fatalf("appeal_used after the denial: %v %v", stored, err)
	}
	if got := clFlat(a.MailWithSubject(email, "Our decision on your appeal")); !strings.Contains(got, "Virginia Attorney General") {
		t.Errorf("denial does not name the regulator: %s", got)
	}

	// No second appeal.
	if page := clPage(t, a, "/status/"+tok); strings.Contains(page, clAppealForm) {
		t.Errorf("status page offers a second appeal:\n%s", page)
	}
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"Again."}}); code != http.StatusConflict {
		t.Errorf("second appeal: %d\n%s", code, body)
	}
	if m := clGet(t, a, ann, id); m["status"] != "rejected" {
		t.Errorf("after a refused second appeal: %v", m["status"])
	}
}

// TestAppealRulesPerLaw protects where an appeal exists: none under the
// GDPR (whose rejection names the supervisory authority), a granted one
// reopens the review, and none after the window closes.
func TestAppealRulesPerLaw(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "reviewer")

	gdpr, gdprMail := clRejected(t, a, ann, "gdpr")
	rejection := clFlat(a.MailWithSubject(gdprMail, "Our decision on your"))
	if !strings.Contains(rejection, "supervisory authority") || strings.Contains(rejection, "appeal this decision") {
		t.Errorf("gdpr rejection mail: %s", rejection)
	}
	tok := clStatusToken(t, a, gdprMail, "Our decision on your")
	if page := clPage(t, a, "/status/"+tok); strings.Contains(page, clAppealForm) {
		t.Errorf("gdpr status page offers an appeal:\n%s", page)
	}
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"Please."}}); code != http.StatusConflict {
		t.Errorf("gdpr appeal: %d\n%s", code, body)
	}
	if m := clGet(t, a, ann, gdpr); m["status"] != "rejected" || m["appeal_by"] != nil {
		t.Errorf("gdpr after a refused appeal: %v appeal_by %v", m["status"], m["appeal_by"])
	}

	granted, grantedMail := clRejected(t, a, ann, "ctdpa")
	tok = clStatusToken(t, a, grantedMail, "Our decision on your")
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"I asked once."}}); code != http.StatusSeeOther {
		t.Fatalf("ctdpa appeal: %d\n%s", code, body)
	}
	clStep(t, a, bob, granted, map[string]any{"action": "grant_appeal", "reason": "Your request was new."}, "in_review")
	a.MailWithSubject(grantedMail, "Your appeal was granted")

	late, lateMail := clRejected(t, a, ann, "vcdpa")
	tok = clStatusToken(t, a, lateMail, "Our decision on your")
	// Past the end of the 60th day after the rejection, whatever the
	// time of day and any clock change.
	a.Clock.Advance(61*24*time.Hour + 2*time.Hour)
	if page := clPage(t, a, "/status/"+tok); strings.Contains(page, clAppealForm) {
		t.Errorf("status page offers an appeal after the window:\n%s", page)
	}
	if code, body := clPost(t, a, "/status/"+tok+"/appeal", url.Values{"message": {"Late."}}); code != http.StatusConflict {
		t.Errorf("appeal after the window: %d\n%s", code, body)
	}
	if m := clGet(t, a, ann, late); m["status"] != "rejected" {
		t.Errorf("after a late appeal: %v", m["status"])
	}
}
