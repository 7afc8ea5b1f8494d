package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/models"
)

// Tests for paths no other test walked: tokens in the logs of the reply
// path, fifty signed-in staff sessions racing on one request, the download
// code's own lifetime, an objection to direct marketing that runs without
// approval, and the deadline marks of the queue and the request file.
// Helpers carry a gp prefix so that they do not collide with the other
// handler tests.

// TestLogsHoldNoReplyTokens protects the logs on the reply path: the
// subject confirms by reply and later answers a staff question by reply
// through the inbound webhook, among replies the portal ignores (a forged
// sender, an auto-reply, the same reply twice, an unknown token), all
// logged at debug level. No token of the flow appears in the logs: not
// the reply tokens of the Reply-To addresses, not the verification link
// token, not the status tokens; nor does any reply address.
func TestLogsHoldNoReplyTokens(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	secrets := map[string]string{"API token": staff}
	email := trEmail("gp-logs")
	id, vm := pending(t, a, email)
	secrets["verification link token"] = apptest.TokenFromLink(t, vm.Link(t, "/verify?token="))
	secrets["verification reply token"] = hzReplyToken(t, vm)
	to := vm.ReplyTo(t)

	// Confirmation by reply, after two replies that must not count.
	for name, raw := range map[string][]byte{
		"forged sender": subjectReply("Mallory", "mallory@evil.example", to, vm, header{"Return-Path", "<mallory@evil.example>"}),
		"auto-reply":    subjectReply("Reply Tester", email, to, vm, header{"Auto-Submitted", "auto-replied"}),
	} {
		if outcome, reason := inboundOutcome(t, a, raw); outcome != "ignored" {
			t.Fatalf("%s to the verification reply address: %q (%s), want ignored", name, outcome, reason)
		}
	}
	confirm := subjectReply("Reply Tester", email, to, vm)
	if outcome, reason := inboundOutcome(t, a, confirm); outcome != "verified" {
		t.Fatalf("the subject's reply: %q (%s), want verified", outcome, reason)
	}
	if outcome, _ := inboundOutcome(t, a, confirm); outcome != "ignored" {
		t.Fatalf("the same reply twice: %q, want ignored", outcome)
	}
	secrets["acknowledgment status token"] = fulStatusToken(t, a.MailWithSubject(email, "We received"))

	// A question, answered by reply after a reply from someone else.
	wsAct(a, staff, id, map[string]any{"action": "start_review"})
	wsAct(a, staff, id, map[string]any{"action": "request_info", "message": "Which customer number do you have?"})
	q := a.MailWithSubject(email, "A question")
	secrets["question reply token"] = hzReplyToken(t, q)
	secrets["question status token"] = fulStatusToken(t, q)
	if out := spInbound(t, a, spReply(t, q, "mallory@example.com", "It is 666.", "", 1)); out == "answered" {
		t.Fatal("a reply from another address answered the question")
	}
	if out := spInbound(t, a, spReply(t, q, email, "It is 4711-0815.", "", 2)); out != "answered" {
		t.Fatalf("the subject's answer by reply: %q, want answered", out)
	}
	if out := spInbound(t, a, spReply(t, q, email, "And 4711-0816.", "", 3)); out == "answered" {
		t.Fatal("a second reply answered again")
	}
	if s := statusOf(t, a, staff, id); s != "in_review" {
		t.Fatalf("status %s after the answer, want in_review", s)
	}

	// A reply to an address whose token the portal does not know.
	unknown := hzRandomToken()
	secrets["unknown reply token"] = unknown
	stray := subjectReply("Reply Tester", email, a.Cfg.Mail.ReplyLocal+"+"+unknown+"@"+a.Cfg.Mail.ReplyDomain, vm)
	if outcome, _ := inboundOutcome(t, a, stray); outcome != "unmatched" {
		t.Fatalf("reply with an unknown token: %q, want unmatched", outcome)
	}

	logs := a.Logs.String()
	for _, want := range []string{"route=/api/v1/inbound/email", "outcome=verified", "outcome=answered", "outcome=ignored"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the logs did not capture the reply flow (no %q):\n%s", want, logs)
		}
	}
	lower := strings.ToLower(logs)
	for what, v := range secrets {
		if len(v) < 16 {
			t.Fatalf("%s %q is too short to look for", what, v)
		}
		if strings.Contains(lower, strings.ToLower(v)) {
			t.Errorf("the logs hold the %s", what)
		}
	}
	if prefix := strings.ToLower(a.Cfg.Mail.ReplyLocal + "+"); strings.Contains(lower, prefix) {
		t.Errorf("the logs hold a reply address (%s…)", prefix)
	}
}

// gpAnswer is what one browser got back.
type gpAnswer struct {
	code           int
	location, body string
}

// gpFormRace posts forms[i] to path from browsers[i], all at once (as
// nearly as a barrier allows), as the browsers' own form posts.
func gpFormRace(t *testing.T, a *apptest.App, browsers []*apptest.Browser, path string, forms []url.Values) []gpAnswer {
	t.Helper()
	out := make([]gpAnswer, len(forms))
	errs := make([]error, len(forms))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range forms {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, a.URL(path), strings.NewReader(forms[i].Encode()))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("Origin", a.Server.URL)
			<-start
			resp, err := browsers[i].Client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			errs[i] = err
			out[i] = gpAnswer{resp.StatusCode, resp.Header.Get("Location"), string(b)}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// gpOneWinner checks that exactly one post was taken (303 back to the
// file) and every other got the refusal page (409, changed by someone
// else, nothing saved); it returns the winner's index.
func gpOneWinner(t *testing.T, answers []gpAnswer, id, action string) int {
	t.Helper()
	winner := -1
	codes := make([]int, len(answers))
	for i, ans := range answers {
		codes[i] = ans.code
	}
	for i, ans := range answers {
		switch ans.code {
		case http.StatusSeeOther:
			if winner >= 0 {
				t.Fatalf("two winners: %d and %d (codes %v)", winner, i, codes)
			}
			if want := "/staff/requests/" + id + "?done=" + action; ans.location != want {
				t.Fatalf("the winner was sent to %q, want %q", ans.location, want)
			}
			winner = i
		case http.StatusConflict:
			if !strings.Contains(ans.body, "changed by someone else") || !strings.Contains(ans.body, "Nothing was saved") {
				t.Errorf("session %d: 409 without the refusal message: %q", i, wsAlert(ans.body))
			}
		default:
			t.Fatalf("session %d got %d (codes %v)\n%s", i, ans.code, codes, ans.body)
		}
	}
	if winner < 0 {
		t.Fatalf("no winner: %v", codes)
	}
	return winner
}

// TestFiftyStaffSessionsAtOnce: fifty staff members, each signed in with
// a session cookie, post the same decision form of one request, on the
// same version, at the same moment. Exactly one wins (303 to the file),
// the 49 others get the file again with 409 "changed by someone else";
// the version moves by one, one audit event is written (the winner's),
// only the winner's mail is queued, and the audit chain stays valid.
// Three rounds: start_review (the winner takes the request), request_info
// with fifty different questions, and the first of an erasure's two
// approvals, which must not count twice.
func TestFiftyStaffSessionsAtOnce(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	const n = 50
	// Sign-in throttling counts only failures, so fifty good sign-ins from
	// one client pass. One argon2 hash serves every account (AddStaff
	// would hash fifty times); each sign-in still checks the password.
	first := wsStaff(t, a, "session-00@example.org", "reviewer")
	staff := []*models.Staff{first}
	for i := 1; i < n; i++ {
		st := &models.Staff{ID: uuid.NewString(), Email: fmt.Sprintf("session-%02d@example.org", i),
			Name: fmt.Sprintf("Session %02d", i), Role: models.RoleReviewer, PasswordHash: first.PasswordHash}
		if err := a.Store.CreateStaff(ctx, st); err != nil {
			t.Fatal(err)
		}
		staff = append(staff, st)
	}
	browsers := make([]*apptest.Browser, n)
	cookies := map[string]bool{}
	for i, st := range staff {
		browsers[i] = wsSignedIn(a, st.Email)
		c := browsers[i].Cookie("portal_session")
		if c == "" || cookies[c] {
			t.Fatalf("sign-in %d: no session of its own", i)
		}
		cookies[c] = true
	}

	// race posts one form per session on the request's current version and
	// checks what every race must leave; it returns the winner and the
	// forms.
	race := func(t *testing.T, id, action string, extra func(i int) url.Values) (int, []url.Values) {
		t.Helper()
		before := wsRequest(a, id)
		events, _ := a.Store.Events(ctx, id)
		mails, _ := a.Store.MailsFor(ctx, id)
		forms := make([]url.Values, n)
		for i := range forms {
			forms[i] = url.Values{"action": {action}, "version": {fmt.Sprint(before.Version)}}
			for k, v := range extra(i) {
				forms[i][k] = v
			}
		}
		winner := gpOneWinner(t, gpFormRace(t, a, browsers, "/staff/requests/"+id+"/actions", forms), id, action)
		after := wsRequest(a, id)
		if after.Version != before.Version+1 {
			t.Errorf("version %d after one winning decision on %d", after.Version, before.Version)
		}
		eventsAfter, _ := a.Store.Events(ctx, id)
		if len(eventsAfter) != len(events)+1 {
			t.Fatalf("%d audit events written, want 1", len(eventsAfter)-len(events))
		}
		if last := eventsAfter[len(eventsAfter)-1]; last.Action != action || last.ActorID != staff[winner].ID {
			t.Errorf("the event is %s by %s, want %s by the winner %s", last.Action, last.ActorID, action, staff[winner].ID)
		}
		mailsAfter, _ := a.Store.MailsFor(ctx, id)
		want := 0
		if action == "request_info" {
			want = 1
		}
		if len(mailsAfter) != len(mails)+want {
			t.Errorf("%d mails queued, want %d", len(mailsAfter)-len(mails), want)
		}
		if rep, err := a.Store.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
		return winner, forms
	}
	none := func(int) url.Values { return nil }

	id, _ := flVerified(t, a, "access")
	t.Run("start_review", func(t *testing.T) {
		winner, _ := race(t, id, "start_review", none)
		r := wsRequest(a, id)
		if r.Status != "in_review" || r.AssigneeID == nil || *r.AssigneeID != staff[winner].ID {
			t.Errorf("after the race: %s, assignee %v, want in_review with the winner %s", r.Status, r.AssigneeID, staff[winner].ID)
		}
	})
	t.Run("request_info", func(t *testing.T) {
		winner, forms := race(t, id, "request_info", func(i int) url.Values {
			return url.Values{"message": {fmt.Sprintf("Question %02d: which account do you mean?", i)}}
		})
		q := forms[winner].Get("message")
		if r := wsRequest(a, id); r.Status != "awaiting_subject" {
			t.Errorf("after the race: %s, want awaiting_subject", r.Status)
		}
		events, _ := a.Store.Events(ctx, id)
		if last := events[len(events)-1]; last.Message != q {
			t.Errorf("the event's message %q is not the winner's %q", last.Message, q)
		}
		mails, _ := a.Store.MailsFor(ctx, id)
		if m := mails[len(mails)-1]; m.Kind != "request_info" || !strings.Contains(m.TextBody, q) {
			t.Errorf("the mail is %s and does not carry the winner's question %q", m.Kind, q)
		}
	})
	t.Run("first approval of an erasure", func(t *testing.T) {
		eid, _ := flVerified(t, a, "erasure")
		resp, body := browsers[0].PostForm("/staff/requests/"+eid+"/actions",
			url.Values{"action": {"start_review"}, "version": {fmt.Sprint(wsRequest(a, eid).Version)}}, nil)
		wsWantRedirect(t, "start review", resp, body, "/staff/requests/"+eid+"?done=start_review")
		winner, _ := race(t, eid, "approve", none)
		if r := wsRequest(a, eid); r.Status != "in_review" || r.Approvals != fmt.Sprintf(`[%q]`, staff[winner].ID) {
			t.Errorf("after the race: %s approvals %s, want in_review with only the winner %s", r.Status, r.Approvals, staff[winner].ID)
		}
	})
}

// TestDownloadCodeLifetimeAndWindow protects the two clocks of a
// download: a mailed code works for 30 minutes (as its mail says), so one
// 31 minutes old is refused while a fresh one 29 minutes old works; and
// the package's own 7-day window ends every download, even with a code
// that is still within its 30 minutes.
func TestDownloadCodeLifetimeAndWindow(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, nil)
	ctx := context.Background()
	ann := a.StaffToken("ann@example.org", "admin")
	id := fulVerified(a, "access", nil)
	fulApprove(a, ann, id)
	fulWait(a, ann, id, "package built", fulStates(models.TaskDone, "newsletter", "shop", "support", ""))
	fulAct(a, ann, id, "complete", map[string]any{"message": "Here is your data."})
	token := fulStatusToken(t, a.MailWithSubject(fulJane, "is complete"))
	downloads := func() (int, int) {
		t.Helper()
		p, err := a.Store.PackageOf(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Downloads, fulPortalCount(t, a, "SELECT COUNT(*) FROM audit_events WHERE request_id = ? AND action = 'download'", id)
	}

	stale := fulNewCode(a, token, 1)
	if m := fulMailN(a, fulJane, "Your download code", 1); !strings.Contains(m.Text, "for 30 minutes") {
		t.Errorf("the code mail does not say how long the code works:\n%s", m.Text)
	}
	a.Clock.Advance(31 * time.Minute)
	resp, body := fulDownload(a, token, stale)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "The code is wrong, expired or was used") {
		t.Fatalf("a code 31 minutes old: %d\n%.500s", resp.StatusCode, body)
	}
	if d, e := downloads(); d != 0 || e != 0 {
		t.Fatalf("a refused code counted: %d downloads, %d events", d, e)
	}

	fresh := fulNewCode(a, token, 2)
	a.Clock.Advance(29 * time.Minute)
	resp, body = fulDownload(a, token, fresh)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("a code 29 minutes old: %d %s\n%.500s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	fulZip(t, body)
	if d, e := downloads(); d != 1 || e != 1 {
		t.Fatalf("the download: %d downloads, %d events, want 1 and 1", d, e)
	}

	// The window: seven days from the release at completion.
	p, err := a.Store.PackageOf(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// (Release and expiry read the clock apart, microseconds apart.)
	if p.ReleasedAt == nil || p.ExpiresAt == nil || (p.ExpiresAt.Sub(*p.ReleasedAt)-7*24*time.Hour).Abs() > time.Second {
		t.Fatalf("download window: released %v, expires %v; want seven days", p.ReleasedAt, p.ExpiresAt)
	}
	a.Clock.Advance(p.ExpiresAt.Sub(a.Clock.Now()) - 10*time.Minute)
	late := fulNewCode(a, token, 3) // the window is still open: a code is sent
	a.Clock.Advance(11 * time.Minute)
	resp, body = fulDownload(a, token, late)
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "The download period has ended") {
		t.Fatalf("a live code after the window ended: %d\n%.500s", resp.StatusCode, body)
	}
	if d, e := downloads(); d != 1 || e != 1 {
		t.Fatalf("a download after the window counted: %d downloads, %d events", d, e)
	}
}

// TestFulfilmentAutoRunDirectMarketing protects fulfilment.auto_run for
// objection_direct_marketing: verifying an objection to direct marketing
// starts its tasks at once, without review or approval, and stops the
// marketing in every system (not for anyone else); the approval that
// follows creates no second set of tasks; and a right not listed (a
// consent withdrawal) still waits for approval.
func TestFulfilmentAutoRunDirectMarketing(t *testing.T) {
	hook := newFulHook(t)
	a, org := fulApp(t, hook, func(c *config.Config) {
		c.Fulfilment.AutoRun = []string{"objection_direct_marketing"}
	})
	ann := a.StaffToken("ann@example.org", "admin")
	flag := func(table, col, email string) string {
		t.Helper()
		return fulOrgRows(t, org, "SELECT "+col+" AS v FROM "+table+" WHERE email = ?", email)[0]["v"]
	}
	if flag("subscribers", "newsletter_opt_in", fulJane) != "1" || flag("customers", "marketing_opt_in", fulJane) != "1" {
		t.Fatal("the fixture does not start with Jane opted in")
	}

	id := fulVerified(a, "objection", map[string]any{"direct_marketing": true})
	if r := fulGet(a, ann, id); len(r.Tasks) != 3 {
		t.Fatalf("verification created no tasks for an auto-run objection: %s %+v", r.Status, r.Tasks)
	}
	r := fulWait(a, ann, id, "objection tasks done without approval", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	if r.Status != "verified" || fulHasEvent(r, "start_review") || fulHasEvent(r, "approve") {
		t.Fatalf("the tasks ran, but the request is %s with events %+v", r.Status, r.Events)
	}
	if flag("subscribers", "newsletter_opt_in", fulJane) != "0" || flag("customers", "marketing_opt_in", fulJane) != "0" {
		t.Fatal("the objection did not stop the marketing")
	}
	if flag("subscribers", "newsletter_opt_in", "max@example.com") != "1" || flag("customers", "marketing_opt_in", "max@example.com") != "1" {
		t.Fatal("the objection changed another person's flags")
	}
	if c := hook.accepted(); len(c) != 1 || c[0].Right != "objection" || c[0].Email != fulJane {
		t.Fatalf("webhook calls: %+v", c)
	}

	// Approval follows; the work already done is not done again.
	fulApprove(a, ann, id)
	fulSettled(a)
	if r := fulGet(a, ann, id); r.Status != "approved" || len(r.Tasks) != 3 {
		t.Fatalf("after approval: %s %+v", r.Status, r.Tasks)
	}
	if c := hook.accepted(); len(c) != 1 {
		t.Fatalf("approval ran the webhook again: %+v", c)
	}
	fulAct(a, ann, id, "complete", map[string]any{"message": "We stopped all direct marketing to you."})

	// Only the rights listed run early.
	cid := fulVerified(a, "consent_withdrawal", map[string]any{"consent": "newsletter"})
	if r := fulGet(a, ann, cid); len(r.Tasks) != 0 {
		t.Fatalf("a consent withdrawal ran without approval, though auto_run does not list it: %+v", r.Tasks)
	}
}

// gpDaysLeft is the number of days from today, in the organisation's
// time zone, to the due date: what "N days left" must say.
func gpDaysLeft(t *testing.T, a *apptest.App, dueDate string) int {
	t.Helper()
	loc, err := time.LoadLocation(a.Cfg.Organisation.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	now := a.Clock.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	due, err := time.Parse(time.DateOnly, dueDate)
	if err != nil {
		t.Fatalf("due date %q: %v", dueDate, err)
	}
	return int(due.Sub(today).Hours() / 24)
}

// gpLocalDate is t's date in the organisation's time zone.
func gpLocalDate(t *testing.T, a *apptest.App, at time.Time) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(a.Cfg.Organisation.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	at = at.In(loc)
	return time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
}

// TestWorkspaceDeadlineMarks protects what the queue and the request
// file say about each deadline: the days left to the due date, the
// paused clock of a UK GDPR request waiting for the subject (and not of a
// GDPR one, whose clock runs on), the days a pause added once it ends,
// the extended mark, and the acknowledgment deadline of the CCPA (ten
// business days), which the GDPR does not have.
func TestWorkspaceDeadlineMarks(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	b := fulBrowser(a, "ann@example.org")
	if len(a.Cfg.Organisation.Holidays) != 0 {
		t.Fatal("the test counts business days without holidays")
	}
	running, _ := trSubmitVerified(t, a, trEmail("gp-running"), "access", "gdpr")
	paused, _, pausedEmail := trInState(t, a, ann, "awaiting_subject", "access", "uk_gdpr")
	waiting, _, _ := trInState(t, a, ann, "awaiting_subject", "access", "gdpr")
	extended, v, _ := trInState(t, a, ann, "in_review", "access", "gdpr")
	trMust(t, a, ann, extended, map[string]any{"action": "extend", "reason": "Many systems to search.", "version": v}, "in_review")
	ccpa, _ := trSubmitVerified(t, a, trEmail("gp-ccpa"), "access", "ccpa")
	ref := func(id string) string { return wsRequest(a, id).Reference }
	due := func(id string) string { return trGet(t, a, ann, id)["due_date"].(string) }
	daysLeft := func(id string) string { return fmt.Sprintf("%d days left", gpDaysLeft(t, a, due(id))) }
	today := gpLocalDate(t, a, a.Clock.Now()).Format(time.DateOnly)

	rows, _, _ := wsQueue(t, b, "status=all")
	row := func(id string) string {
		t.Helper()
		r, ok := rows[ref(id)]
		if !ok {
			t.Fatalf("%s is not in the queue", ref(id))
		}
		return r
	}
	for _, id := range []string{running, waiting, extended, ccpa} {
		spWant(t, "queue row of "+ref(id), row(id), "<td>"+due(id), daysLeft(id))
		spNot(t, "queue row of "+ref(id), row(id), "clock paused")
	}
	spWant(t, "queue row of the paused request", row(paused), "<td>"+due(paused), "clock paused")
	spNot(t, "queue row of the paused request", row(paused), "days left")
	spWant(t, "queue row of the extended request", row(extended), `<span class="badge">extended</span>`)
	for _, id := range []string{running, paused, waiting, ccpa} {
		spNot(t, "queue row of "+ref(id), row(id), "extended")
	}

	file := func(id string) string { t.Helper(); return fulPage(t, b, "/staff/requests/"+id) }
	body := file(running)
	spWant(t, "file of the running request", body, "<dt>Due</dt><dd>"+due(running)+" · "+daysLeft(running)+"</dd>")
	spNot(t, "file of the running request", body, "Acknowledge by", "<strong>paused</strong>", "Paused so far", "· extended")

	body = file(paused)
	spWant(t, "file of the paused request", body, "UK GDPR · 1 month",
		"clock pauses while waiting for the subject",
		"<dt>Clock</dt><dd><strong>paused</strong> since "+today+" (waiting for the subject)")
	body = file(waiting)
	spNot(t, "file of a GDPR request waiting for the subject", body, "<strong>paused</strong>", "clock pauses")
	spWant(t, "file of a GDPR request waiting for the subject", body, " · "+daysLeft(waiting)+"</dd>")

	body = file(extended)
	spWant(t, "file of the extended request", body, "<dt>Due</dt><dd>"+due(extended)+" · "+daysLeft(extended)+" · extended</dd>")

	// The CCPA's acknowledgment: ten business days after the day of
	// receipt.
	ack := gpLocalDate(t, a, wsRequest(a, ccpa).CreatedAt)
	for n := 0; n < 10; {
		ack = ack.AddDate(0, 0, 1)
		if wd := ack.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	body = file(ccpa)
	spWant(t, "file of the CCPA request", body, "<dt>Acknowledge by</dt><dd>"+ack.Format(time.DateOnly)+" (receipt was confirmed",
		" · "+daysLeft(ccpa)+"</dd>")

	// Three days on, the subject answers: the pause ends, its days count.
	a.Clock.Advance(3 * 24 * time.Hour)
	resp, _ := spPost(t, a, "/status/"+trStatusToken(t, a, pausedEmail)+"/answer", url.Values{"message": {"Customer 4711."}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer: %d", resp.StatusCode)
	}
	b.SignIn("ann@example.org", fulStaffPW) // the session ended meanwhile
	body = file(paused)
	spWant(t, "file after the pause", body, "<dt>Paused so far</dt><dd>3 days, added to the due date</dd>",
		"<dt>Due</dt><dd>"+due(paused)+" · "+daysLeft(paused)+"</dd>")
	spNot(t, "file after the pause", body, "<strong>paused</strong>")
	rows, _, _ = wsQueue(t, b, "status=all")
	spWant(t, "queue row after the pause", row(paused), daysLeft(paused))
	spNot(t, "queue row after the pause", row(paused), "clock paused")
}
