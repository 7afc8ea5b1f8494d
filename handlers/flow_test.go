package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// TestCoreLoopThroughAPI files a request, confirms it with the link from
// the real mail, and finds it in the staff API with its timeline.
func TestCoreLoopThroughAPI(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	id, ref := a.Submit(map[string]any{"type": "access", "email": "Jane.Doe@Example.com", "full_name": "Jane Doe"})

	m := a.MailTo("jane.doe@example.com", 1)
	if !strings.Contains(m.Subject(), ref) {
		t.Fatalf("subject %q lacks reference %s", m.Subject(), ref)
	}
	link := m.Link(t, "/verify?token=")
	token := apptest.TokenFromLink(t, link)

	resp, body := a.PostJSON("/api/v1/verify", map[string]any{"token": token}, nil)
	if resp.StatusCode != http.StatusOK || body["status"] != "verified" || body["reference"] != ref {
		t.Fatalf("verify: %d %v", resp.StatusCode, body)
	}
	ack := a.MailTo("jane.doe@example.com", 2)
	if !strings.Contains(ack.Text, ref) || !strings.Contains(ack.Text, "We will answer by") {
		t.Fatalf("acknowledgment lacks reference or due date:\n%s", ack.Text)
	}

	// The same token again: spent.
	resp, body = a.PostJSON("/api/v1/verify", map[string]any{"token": token}, nil)
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("second verify: want 410, got %d %v", resp.StatusCode, body)
	}

	staff := a.StaffToken("officer@example.org", "reviewer")
	resp, got := a.GetJSON("/api/v1/requests/"+id, staff)
	if resp.StatusCode != http.StatusOK || got["status"] != "verified" || got["due_at"] == nil {
		t.Fatalf("get: %d %v", resp.StatusCode, got)
	}
	events := got["events"].([]any)
	if len(events) != 2 || events[0].(map[string]any)["action"] != "submit" || events[1].(map[string]any)["action"] != "verify" {
		t.Fatalf("events: %v", events)
	}
}
