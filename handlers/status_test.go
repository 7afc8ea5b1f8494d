package handlers_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/service"
)

// spGet opens a status page (or any public page) and returns its status
// and unescaped body.
func spGet(t *testing.T, a *apptest.App, path string) (int, string) {
	t.Helper()
	resp, b := a.Do(http.MethodGet, path, nil, map[string]string{"Accept": "text/html"})
	return resp.StatusCode, html.UnescapeString(string(b))
}

// spPost posts a form as a browser on the same site would.
func spPost(t *testing.T, a *apptest.App, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, b := a.Do(http.MethodPost, path, strings.NewReader(form.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
		"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin",
	})
	return resp, html.UnescapeString(string(b))
}

func spWant(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

func spNot(t *testing.T, what, body string, not ...string) {
	t.Helper()
	for _, n := range not {
		if strings.Contains(body, n) {
			t.Errorf("%s shows %q:\n%s", what, n, body)
		}
	}
}

// spLastEvent is the newest event of a request's timeline.
func spLastEvent(t *testing.T, a *apptest.App, staff, id string) map[string]any {
	t.Helper()
	ev := trEvents(trGet(t, a, staff, id))
	return ev[len(ev)-1]
}

// TestStatusPageAndAnswer protects the subject's status page: it opens
// from the acknowledgment's link, shows reference, state, due date and a
// timeline without staff addresses or notes, offers an answer form for an
// open question, and an answer puts the request back into review and
// tells the assignee.
func TestStatusPageAndAnswer(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	a.StaffToken("bob@example.org", "reviewer")
	email := trEmail("sp-answer")
	id, ref := trSubmitVerified(t, a, email, "access", "gdpr")
	tok := trStatusToken(t, a, email)
	page := "/status/" + tok

	code, body := spGet(t, a, page)
	if code != http.StatusOK {
		t.Fatalf("status page: %d\n%s", code, body)
	}
	m := trGet(t, a, ann, id)
	due, err := time.Parse(time.DateOnly, m["due_date"].(string))
	if err != nil {
		t.Fatal(err)
	}
	spWant(t, "status page", body, ref, "received, waiting for review", due.Format("Monday, 2 January 2006"),
		"You made the request.", "You confirmed your e-mail address.", page+"/withdraw")
	spNot(t, "status page without a question", body, page+"/answer")

	v := version(m)
	v = version(trMust(t, a, ann, id, trBody("start_review", v), "in_review"))
	v = version(trMust(t, a, ann, id, map[string]any{"action": "assign", "assignee": "bob@example.org", "version": v}, "in_review"))
	if resp, n := a.PostJSON("/api/v1/requests/"+id+"/notes", map[string]any{"body": "INTERNAL-NOTE-7731 subject sounded unsure"},
		map[string]string{"Authorization": "Bearer " + ann}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("note: %d %v", resp.StatusCode, n)
	}
	trMust(t, a, ann, id, map[string]any{"action": "request_info", "message": "Which customer number do you have?", "version": v}, "awaiting_subject")

	code, body = spGet(t, a, page)
	if code != http.StatusOK {
		t.Fatalf("status page: %d", code)
	}
	spWant(t, "status page with a question", body, "waiting for your answer", "Which customer number do you have?",
		`action="`+page+`/answer"`, `name="message"`, "Our privacy team started reviewing your request.")
	spNot(t, "status page", body, "ann@example.org", "bob@example.org", "INTERNAL-NOTE-7731", "assigned to")

	// An empty answer is refused and changes nothing.
	before := trSnap(t, a, ann, id)
	for _, empty := range []string{"", "  \n "} {
		resp, b := spPost(t, a, page+"/answer", url.Values{"message": {empty}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("empty answer: %d\n%s", resp.StatusCode, b)
		}
	}
	trUnchanged(t, a, ann, id, before, "an empty answer")

	resp, b := spPost(t, a, page+"/answer", url.Values{"message": {"It is 4711-0815."}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), page) {
		t.Fatalf("answer: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	if s := trGet(t, a, ann, id)["status"]; s != "in_review" {
		t.Errorf("after the answer: %v, want in_review", s)
	}
	e := spLastEvent(t, a, ann, id)
	if e["action"] != "provide_info" || e["message"] != "It is 4711-0815." || e["actor_kind"] != "subject" ||
		e["from"] != "awaiting_subject" || e["to"] != "in_review" {
		t.Errorf("answer event: %v", e)
	}
	told := a.MailWithSubject("bob@example.org", "The subject answered")
	if !strings.Contains(told.Subject(), ref) {
		t.Errorf("assignee's mail: %s", told.Subject())
	}
	_, body = spGet(t, a, page)
	spWant(t, "status page after the answer", body, "You answered.", "It is 4711-0815.", "being reviewed")
	spNot(t, "status page after the answer", body, page+"/answer")

	// No question open any more: a second answer is refused.
	before = trSnap(t, a, ann, id)
	resp, b = spPost(t, a, page+"/answer", url.Values{"message": {"And another thing."}})
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("answer without a question: %d\n%s", resp.StatusCode, b)
	}
	trUnchanged(t, a, ann, id, before, "an answer without a question")
}

// TestStatusWithdraw protects withdrawal from the status page: a
// confirmation page, nothing without confirm=yes, then withdrawn with a
// confirmation mail from verified, in_review and awaiting_subject, and a
// 409 once the request is decided.
func TestStatusWithdraw(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")

	t.Run("unverified has no status link", func(t *testing.T) {
		email := trEmail("sp-unverified")
		a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Test Subject"})
		if m := a.MailWithSubject(email, "Please confirm"); strings.Contains(m.Text, "/status/") {
			t.Errorf("verification mail carries a status link:\n%s", m.Text)
		}
	})
	for _, state := range []string{"verified", "in_review", "awaiting_subject"} {
		t.Run(state, func(t *testing.T) {
			id, _, email := trInState(t, a, ann, state, "access", "gdpr")
			ref := trGet(t, a, ann, id)["reference"].(string)
			page := "/status/" + trStatusToken(t, a, email)
			before := trSnap(t, a, ann, id)
			code, body := spGet(t, a, page+"/withdraw")
			if code != http.StatusOK {
				t.Fatalf("confirmation page: %d\n%s", code, body)
			}
			spWant(t, "confirmation page", body, ref, `action="`+page+`/withdraw"`, `name="confirm"`, `value="yes"`)
			for _, form := range []url.Values{{}, {"confirm": {"no"}}, {"confirm": {"YES "}}} {
				if resp, b := spPost(t, a, page+"/withdraw", form); resp.StatusCode != http.StatusUnprocessableEntity {
					t.Errorf("withdraw with %v: %d\n%s", form, resp.StatusCode, b)
				}
			}
			trUnchanged(t, a, ann, id, before, "the confirmation page and unconfirmed posts")

			resp, b := spPost(t, a, page+"/withdraw", url.Values{"confirm": {"yes"}})
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), page) {
				t.Fatalf("withdraw: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), b)
			}
			e := spLastEvent(t, a, ann, id)
			if e["action"] != "withdraw" || e["from"] != state || e["to"] != "withdrawn" || e["actor_kind"] != "subject" {
				t.Errorf("withdraw event: %v", e)
			}
			if s := trGet(t, a, ann, id)["status"]; s != "withdrawn" {
				t.Errorf("status %v after withdrawal", s)
			}
			if m := a.MailWithSubject(email, "is withdrawn"); !strings.Contains(m.Text, ref) {
				t.Errorf("withdrawal mail:\n%s", m.Text)
			}
			if state != "verified" {
				a.MailWithSubject("ann@example.org", "Withdrawn by the subject: "+ref)
			}
			if state == "awaiting_subject" {
				q := a.MailWithSubject(email, "A question")
				if out := spInbound(t, a, spReply(t, q, email, "Too late?", "", 10)); out == "answered" {
					t.Error("a reply to the question answered a withdrawn request")
				}
			}
			_, body = spGet(t, a, page)
			spWant(t, "status page after withdrawal", body, "withdrawn", "You withdrew the request.")
			spNot(t, "status page after withdrawal", body, page+"/withdraw", page+"/answer")
			before = trSnap(t, a, ann, id)
			if resp, b := spPost(t, a, page+"/withdraw", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusConflict {
				t.Errorf("second withdrawal: %d\n%s", resp.StatusCode, b)
			}
			trUnchanged(t, a, ann, id, before, "a second withdrawal")
		})
	}
	for _, state := range []string{"approved", "completed"} {
		t.Run(state, func(t *testing.T) {
			id, _, email := trInState(t, a, ann, state, "access", "gdpr")
			page := "/status/" + trStatusToken(t, a, email)
			_, body := spGet(t, a, page+"/withdraw")
			spWant(t, "confirmation page of a decided request", body, "can no longer be withdrawn")
			spNot(t, "confirmation page of a decided request", body, `name="confirm"`)
			before := trSnap(t, a, ann, id)
			if resp, b := spPost(t, a, page+"/withdraw", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusConflict {
				t.Errorf("withdraw from %s: %d\n%s", state, resp.StatusCode, b)
			}
			trUnchanged(t, a, ann, id, before, "withdraw from "+state)
		})
	}
}

// TestStatusTokenIsolation protects the status link as the only key: a
// random, malformed or other-purpose token opens nothing, and one
// request's link never shows another's data.
func TestStatusTokenIsolation(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	emailA, emailB := trEmail("sp-a"), trEmail("sp-b")
	idA, refA := trSubmitVerified(t, a, emailA, "access", "gdpr")
	_, refB := trSubmitVerified(t, a, emailB, "erasure", "gdpr")
	tokA, tokB := trStatusToken(t, a, emailA), trStatusToken(t, a, emailB)
	verifyA := apptest.TokenFromLink(t, a.MailWithSubject(emailA, "Please confirm").Link(t, "/verify?token="))

	for _, c := range []struct{ tok, own, other string }{{tokA, refA, refB}, {tokB, refB, refA}} {
		for _, path := range []string{"/status/" + c.tok, "/status/" + c.tok + "/withdraw"} {
			code, body := spGet(t, a, path)
			if code != http.StatusOK {
				t.Fatalf("%s: %d", path, code)
			}
			spWant(t, path, body, c.own)
			spNot(t, path, body, c.other, emailA, emailB)
		}
	}

	// A question on A, so that its reply address carries a token too.
	v := version(trGet(t, a, ann, idA))
	v = version(trMust(t, a, ann, idA, trBody("start_review", v), "in_review"))
	trMust(t, a, ann, idA, map[string]any{"action": "request_info", "message": "Which customer number?", "version": v}, "awaiting_subject")
	reply := a.MailWithSubject(emailA, "A question").ReplyTo(t)
	replyTok := strings.TrimPrefix(reply[:strings.IndexByte(reply, '@')], "privacy+")

	emailC := trEmail("sp-c")
	idC, _ := a.Submit(map[string]any{"type": "access", "email": emailC, "full_name": "Test Subject"})
	verifyC := apptest.TokenFromLink(t, a.MailWithSubject(emailC, "Please confirm").Link(t, "/verify?token="))

	random, _ := service.NewToken()
	beforeA, beforeC := trSnap(t, a, ann, idA), trSnap(t, a, ann, idC)
	for name, tok := range map[string]string{
		"random":                 random,
		"malformed":              "not-a-token",
		"too long":               tokA + "a",
		"used verification link": verifyA,
		"open verification link": verifyC,
		"question reply address": replyTok,
	} {
		for _, path := range []string{"/status/" + tok, "/status/" + tok + "/withdraw"} {
			if code, body := spGet(t, a, path); code != http.StatusNotFound {
				t.Errorf("%s token, GET %s: %d\n%s", name, path, code, body)
			} else {
				spNot(t, name+" token", body, refA, refB, emailA)
			}
		}
		if resp, _ := spPost(t, a, "/status/"+tok+"/withdraw", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s token, withdraw: %d", name, resp.StatusCode)
		}
		if resp, _ := spPost(t, a, "/status/"+tok+"/answer", url.Values{"message": {"hi"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s token, answer: %d", name, resp.StatusCode)
		}
	}
	trUnchanged(t, a, ann, idA, beforeA, "posts with foreign tokens")
	trUnchanged(t, a, ann, idC, beforeC, "posts with foreign tokens")
}

// spReply is a reply to the question mail q from the given sender, with
// extra header lines.
func spReply(t *testing.T, q *apptest.Mail, from, text, extra string, n int) string {
	t.Helper()
	return fmt.Sprintf("From: Someone <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <sp-%d@example.com>\r\n%s\r\n%s\r\n\r\nOn Mon, the privacy team wrote:\r\n> %s\r\n",
		from, q.ReplyTo(t), q.Subject(), n, extra, text, "Which customer number?")
}

// spInbound posts a raw message to the inbound webhook and returns the
// outcome it reports.
func spInbound(t *testing.T, a *apptest.App, raw string) string {
	t.Helper()
	resp, b := a.Do(http.MethodPost, "/api/v1/inbound/email", strings.NewReader(raw), map[string]string{"X-Inbound-Secret": a.Cfg.Mail.Inbound.Secret})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound: %d %s", resp.StatusCode, b)
	}
	out, _ := apptest.DecodeJSON(t, b)["outcome"].(string)
	return out
}

// TestStatusAnswerByReply protects answering a question by mail: a reply
// from the subject's address answers it; an auto-reply, a reply from
// another address, or a second reply once answered do not.
func TestStatusAnswerByReply(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	id, v, email := trInState(t, a, ann, "in_review", "access", "gdpr")
	trMust(t, a, ann, id, map[string]any{"action": "request_info", "message": "Which customer number?", "version": v}, "awaiting_subject")
	q := a.MailWithSubject(email, "A question")
	if q.ReplyTo(t) == "" {
		t.Fatal("question mail without Reply-To")
	}

	before := trSnap(t, a, ann, id)
	for name, raw := range map[string]string{
		"auto-reply":    spReply(t, q, email, "I am out of office until Monday.", "Auto-Submitted: auto-replied\r\n", 1),
		"other address": spReply(t, q, "mallory@example.com", "It is 666.", "", 2),
	} {
		if out := spInbound(t, a, raw); out == "answered" {
			t.Errorf("%s answered the question", name)
		}
	}
	trUnchanged(t, a, ann, id, before, "ignored replies")

	if out := spInbound(t, a, spReply(t, q, email, "It is 12345.", "", 3)); out != "answered" {
		t.Fatalf("the subject's reply: %q", out)
	}
	m := trGet(t, a, ann, id)
	e := trEvents(m)[len(trEvents(m))-1]
	if m["status"] != "in_review" || e["action"] != "provide_info" || e["message"] != "It is 12345." {
		t.Errorf("after the reply: %v, event %v", m["status"], e)
	}
	a.MailWithSubject("ann@example.org", "The subject answered")

	before = trSnap(t, a, ann, id)
	if out := spInbound(t, a, spReply(t, q, email, "Also 67890.", "", 4)); out == "answered" {
		t.Error("a second reply to an answered question counted")
	}
	trUnchanged(t, a, ann, id, before, "a second reply")
}

// TestStatusLinksRevoked protects replacing a leaked status link: staff
// give a reason, every earlier link stops opening the page, the subject
// is mailed a new one that works, the timeline keeps who and why, and a
// stale form changes nothing.
func TestStatusLinksRevoked(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.StaffToken("ann@example.org", "reviewer")
	ann := a.StaffToken("ann2@example.org", "admin")
	email := trEmail("sp-revoke")
	id, ref := trSubmitVerified(t, a, email, "access", "gdpr")
	old := trStatusToken(t, a, email)
	if code, _ := spGet(t, a, "/status/"+old); code != http.StatusOK {
		t.Fatalf("status page before: %d", code)
	}
	b := a.Browser()
	b.SignIn("ann2@example.org", "correct horse battery staple")
	v := version(trGet(t, a, ann, id))
	page := "/staff/requests/" + id + "/status-links"
	resp, body := b.PostForm(page, url.Values{"version": {strconv.Itoa(v)}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "say why") {
		t.Fatalf("without a reason: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.PostForm(page, url.Values{"version": {strconv.Itoa(v - 1)}, "link_reason": {"stale"}}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale version: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.PostForm(page, url.Values{"version": {strconv.Itoa(v)}, "link_reason": {"Subject forwarded the mail to a colleague."}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace the link: %d\n%s", resp.StatusCode, body)
	}
	if code, body := spGet(t, a, "/status/"+old); code == http.StatusOK || strings.Contains(body, ref) {
		t.Fatalf("the old link still opens the page: %d", code)
	}
	m := a.MailWithSubject(email, "A new link")
	link := m.Link(t, "/status/")
	fresh := link[strings.LastIndex(link, "/status/")+len("/status/"):]
	if code, body := spGet(t, a, "/status/"+fresh); code != http.StatusOK || !strings.Contains(body, ref) {
		t.Fatalf("the new link: %d", code)
	}
	ev := spLastEvent(t, a, ann, id)
	if ev["action"] != "revoke_status_links" || ev["reason"] != "Subject forwarded the mail to a colleague." || ev["actor"] == nil {
		t.Fatalf("timeline: %v", ev)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM audit_events WHERE request_id = ? AND action = 'revoke_status_links'", id); n != 1 {
		t.Fatalf("%d revocation events, want 1 (the refused tries wrote none)", n)
	}
}

// TestCancelUnverified protects the unverified → withdrawn row of SPEC
// §3 from the outside: the verification link's page offers to withdraw,
// withdrawing closes the request with an audited event and a mail, and
// the link can then neither confirm nor withdraw again.
func TestCancelUnverified(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	email := trEmail("sp-cancel")
	id, ref := a.Submit(map[string]any{"type": "erasure", "email": email, "full_name": "Not Me"})
	token := apptest.TokenFromLink(t, a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token="))
	code, page := spGet(t, a, "/verify?token="+token)
	if code != http.StatusOK {
		t.Fatalf("verify page: %d", code)
	}
	spWant(t, "verify page", page, `action="/verify/cancel"`, ref)

	resp, body := spPost(t, a, "/verify/cancel", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d\n%s", resp.StatusCode, body)
	}
	spWant(t, "cancelled page", body, "Request withdrawn", ref)
	r := trGet(t, a, ann, id)
	if r["status"] != "withdrawn" {
		t.Fatalf("after cancel: %v", r["status"])
	}
	if ev := spLastEvent(t, a, ann, id); ev["action"] != "withdraw" || ev["from"] != "unverified" || ev["actor_kind"] != "subject" {
		t.Fatalf("event: %v", ev)
	}
	if m := a.MailWithSubject(email, "withdrawn"); !strings.Contains(m.Text, ref) {
		t.Fatalf("withdrawal mail:\n%s", m.Text)
	}
	resp, body = spPost(t, a, "/verify", url.Values{"token": {token}})
	if resp.StatusCode < 400 || strings.Contains(body, "Request confirmed") {
		t.Fatalf("the spent link confirmed a withdrawn request: %d", resp.StatusCode)
	}
	if resp, _ := spPost(t, a, "/verify/cancel", url.Values{"token": {token}}); resp.StatusCode < 400 {
		t.Fatalf("cancel twice: %d", resp.StatusCode)
	}
	if resp, _ := spPost(t, a, "/verify/cancel", url.Values{"token": {"not a token"}}); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("a malformed token: %d", resp.StatusCode)
	}
	if got := trGet(t, a, ann, id)["status"]; got != "withdrawn" {
		t.Fatalf("status moved on: %v", got)
	}
}
