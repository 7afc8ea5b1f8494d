package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/service"
)

// scopedToken makes a token for email with the given scopes and expiry.
func scopedToken(t *testing.T, a *apptest.App, email string, until *time.Time, scopes ...string) string {
	t.Helper()
	tok, err := a.Svc.CreateAPIToken(context.Background(), email, service.TokenOptions{Scopes: scopes, ExpiresAt: until})
	if err != nil {
		t.Fatalf("token %v: %v", scopes, err)
	}
	return tok
}

// TestScopedTokens: a token may do what its scopes name and nothing else
// (403, nothing changed); a token without scopes keeps its owner's full
// reach; an expired token no longer works.
func TestScopedTokens(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	full := a.StaffToken("ada@example.org", "admin")
	readOnly := scopedToken(t, a, "ada@example.org", nil, service.ScopeRequestsRead)
	writeOnly := scopedToken(t, a, "ada@example.org", nil, service.ScopeRequestsWrite)
	id, v, _ := trInState(t, a, full, "verified", "access", "gdpr")
	before := trSnap(t, a, full, id)

	if resp, m := a.GetJSON("/api/v1/requests", readOnly); resp.StatusCode != http.StatusOK {
		t.Fatalf("read-only token lists the queue: %d %v", resp.StatusCode, m)
	}
	if resp, m := a.GetJSON("/api/v1/requests/"+id, readOnly); resp.StatusCode != http.StatusOK {
		t.Fatalf("read-only token reads a request: %d %v", resp.StatusCode, m)
	}
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/requests/" + id + "/actions", trBody("start_review", v)},
		{"/api/v1/requests/" + id + "/notes", map[string]any{"body": "note"}},
		{"/api/v1/requests/bulk", map[string]any{"action": "start_review", "requests": []map[string]any{bulkItem(id, v)}}},
	} {
		resp, m := a.PostJSON(c.path, c.body, bearer(readOnly))
		trRefused(t, "read-only token on "+c.path, resp.StatusCode, m, http.StatusForbidden, "forbidden", "")
		if msg, _ := m["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "requests:write") {
			t.Fatalf("the 403 does not name the scope it lacks: %q", msg)
		}
		trUnchanged(t, a, full, id, before, "read-only token on "+c.path)
	}
	if resp, _ := a.GetJSON("/api/v1/requests", writeOnly); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("write-only token lists the queue: %d, want 403", resp.StatusCode)
	}
	trMust(t, a, writeOnly, id, trBody("start_review", v), "in_review")
	if resp, _ := a.Do("GET", "/metrics", nil, bearer(readOnly)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an admin's read-only token on /metrics: %d, want 403", resp.StatusCode)
	}

	// Expiry: the end of the day named, in the organisation's time zone.
	tomorrow := a.Clock.Now().Add(24 * time.Hour)
	until, err := a.Svc.ParseTokenExpiry(tomorrow.Format(time.DateOnly))
	if err != nil {
		t.Fatal(err)
	}
	short := scopedToken(t, a, "ada@example.org", until, service.ScopeRequestsRead)
	if resp, _ := a.GetJSON("/api/v1/requests", short); resp.StatusCode != http.StatusOK {
		t.Fatalf("a token before its expiry: %d", resp.StatusCode)
	}
	a.Clock.Advance(3 * 24 * time.Hour)
	if resp, _ := a.GetJSON("/api/v1/requests", short); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an expired token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := a.GetJSON("/api/v1/requests", full); resp.StatusCode != http.StatusOK {
		t.Fatalf("a token without scopes or expiry: %d, want 200", resp.StatusCode)
	}
}

// TestScopedTokenOptionsRefused: unknown scopes, admin for a reviewer, an
// expiry in the past or too far ahead make no token, from the service
// and from the tokens page.
func TestScopedTokenOptionsRefused(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	wsStaff(t, a, "rev@example.org", "reviewer")
	ctx := context.Background()
	past := a.Clock.Now().Add(-time.Hour)
	far := a.Clock.Now().Add(3 * 365 * 24 * time.Hour)
	for _, o := range []service.TokenOptions{
		{Scopes: []string{"requests:delete"}},
		{Scopes: []string{service.ScopeAdmin}},
		{ExpiresAt: &past},
		{ExpiresAt: &far},
	} {
		if _, err := a.Svc.CreateAPIToken(ctx, "rev@example.org", o); err == nil {
			t.Fatalf("token with %+v was made", o)
		}
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM api_tokens"); n != 0 {
		t.Fatalf("%d tokens stored after refusals", n)
	}

	b := wsSignedIn(a, "rev@example.org")
	resp, page := b.PostForm("/staff/tokens", url.Values{"scope": {"admin"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "only an admin") {
		t.Fatalf("reviewer asks for admin scope: %d\n%s", resp.StatusCode, page)
	}
	resp, page = b.PostForm("/staff/tokens", url.Values{"scope": {"requests:read"}, "expires": {"yesterday"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "not a date") {
		t.Fatalf("bad expiry: %d\n%s", resp.StatusCode, page)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM api_tokens"); n != 0 {
		t.Fatalf("%d tokens stored after refused forms", n)
	}
	resp, page = b.PostForm("/staff/tokens", url.Values{"scope": {"requests:read", "reports:read"}}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "requests:read reports:read") {
		t.Fatalf("scoped token from the page: %d\n%s", resp.StatusCode, page)
	}
	var reason string
	a.DB().Raw("SELECT reason FROM audit_events WHERE action = 'api_token_create'").Scan(&reason)
	if !strings.Contains(reason, "requests:read, reports:read") {
		t.Fatalf("the audit event does not record the scopes: %q", reason)
	}
}
