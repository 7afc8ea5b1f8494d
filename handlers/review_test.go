package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// act posts a staff action through the API and returns the status and body.
func act(a *apptest.App, token, id string, body map[string]any) (int, map[string]any) {
	a.T.Helper()
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, m
}

func version(m map[string]any) int { return int(m["version"].(float64)) }

// verified files a request of type t and confirms it by link.
func verified(a *apptest.App, email, t string, details any) (id string, v int) {
	a.T.Helper()
	body := map[string]any{"type": t, "email": email, "full_name": "Test Subject"}
	if details != nil {
		body["details"] = details
	}
	id, _ = a.Submit(body)
	tok := apptest.TokenFromLink(a.T, a.MailWithSubject(email, "Please confirm").Link(a.T, "/verify?token="))
	resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil)
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	return id, 2
}

// TestFourEyesErasureThroughAPI walks an erasure from review to completion:
// a question answered by reply, two approvals by two different staff, the
// stale-version and disallowed-action refusals, and every subject mail.
func TestFourEyesErasureThroughAPI(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "admin")
	id, v := verified(a, "sub@example.com", "erasure", nil)

	code, m := act(a, ann, id, map[string]any{"action": "start_review", "version": v})
	if code != 200 || m["status"] != "in_review" || m["assignee"] != "ann@example.org" {
		t.Fatalf("start_review: %d %v", code, m)
	}
	v = version(m)
	// Stale version: refused, nothing changes.
	if code, m := act(a, bob, id, map[string]any{"action": "request_info", "message": "x", "version": v - 1}); code != 409 {
		t.Fatalf("stale version: %d %v", code, m)
	}
	// Not allowed from this state.
	if code, m := act(a, ann, id, map[string]any{"action": "complete", "message": "x", "version": v}); code != 409 {
		t.Fatalf("complete from in_review: %d %v", code, m)
	}
	// A subject's action through the staff API: forbidden.
	if code, m := act(a, ann, id, map[string]any{"action": "withdraw", "version": v}); code != 403 {
		t.Fatalf("withdraw by staff: %d %v", code, m)
	}
	code, m = act(a, ann, id, map[string]any{"action": "request_info", "message": "Which account number?", "version": v})
	if code != 200 || m["status"] != "awaiting_subject" {
		t.Fatalf("request_info: %d %v", code, m)
	}
	q := a.MailWithSubject("sub@example.com", "A question")
	if !strings.Contains(q.Text, "Which account number?") {
		t.Fatalf("question mail:\n%s", q.Text)
	}
	reply := fmt.Sprintf("From: Sub <sub@example.com>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <r1@example.com>\r\n\r\nIt is 12345.\r\n\r\nOn Mon, someone wrote:\r\n> Which account number?\r\n",
		q.ReplyTo(t), q.Subject())
	resp, body := a.Do("POST", "/api/v1/inbound/email", strings.NewReader(reply), map[string]string{"X-Inbound-Secret": a.Cfg.Mail.Inbound.Secret})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"answered"`) {
		t.Fatalf("reply: %d %s", resp.StatusCode, body)
	}
	_, m = a.GetJSON("/api/v1/requests/"+id, ann)
	if m["status"] != "in_review" {
		t.Fatalf("after answer: %v", m["status"])
	}
	events := m["events"].([]any)
	last := events[len(events)-1].(map[string]any)
	if last["action"] != "provide_info" || last["message"] != "It is 12345." {
		t.Fatalf("answer event: %v", last)
	}
	v = version(m)
	code, m = act(a, ann, id, map[string]any{"action": "approve", "version": v})
	if code != 200 || m["status"] != "in_review" || len(m["approvals"].([]any)) != 1 {
		t.Fatalf("first approval: %d %v", code, m)
	}
	v = version(m)
	if code, m := act(a, ann, id, map[string]any{"action": "approve", "version": v}); code != 409 {
		t.Fatalf("same staff twice: %d %v", code, m)
	}
	code, m = act(a, bob, id, map[string]any{"action": "approve", "version": v})
	if code != 200 || m["status"] != "approved" {
		t.Fatalf("second approval: %d %v", code, m)
	}
	code, m = act(a, bob, id, map[string]any{"action": "complete", "message": "All your data is deleted.", "version": version(m)})
	if code != 200 || m["status"] != "completed" {
		t.Fatalf("complete: %d %v", code, m)
	}
	done := a.MailWithSubject("sub@example.com", "is complete")
	if !strings.Contains(done.Text, "All your data is deleted.") || !strings.Contains(done.Text, "/status/") {
		t.Fatalf("completion mail:\n%s", done.Text)
	}
}
