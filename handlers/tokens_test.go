package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// tokenEvent is an API token's audit event as stored.
type tokenEvent struct {
	Action    string
	FromState string
	ToState   string
	ActorKind string
	ActorID   string
	Reason    string
}

// tokenEvents lists the audit events of API tokens, oldest first.
func tokenEvents(t *testing.T, a *apptest.App) []tokenEvent {
	t.Helper()
	var out []tokenEvent
	err := a.DB().Raw(`SELECT action, from_state, to_state, actor_kind, actor_id, reason FROM audit_events
		WHERE action IN ('api_token_create', 'api_token_revoke') ORDER BY id`).Scan(&out).Error
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantChainIntact fails unless the audit hash chain verifies.
func wantChainIntact(t *testing.T, a *apptest.App) {
	t.Helper()
	rep, err := a.Store.VerifyChain(context.Background())
	if err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

// newOwnToken makes a token on the staff member's own tokens page and
// returns it and its id.
func newOwnToken(t *testing.T, a *apptest.App, b *apptest.Browser, ownerID string) (string, int64) {
	t.Helper()
	resp, body := b.PostForm("/staff/tokens", nil, nil)
	wsWant(t, "new own token", resp, body, http.StatusOK)
	m := wsTokenRE.FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(m[1], "rp_") {
		t.Fatalf("no rp_ token shown:\n%s", body)
	}
	toks, err := a.Store.APITokens(context.Background(), ownerID)
	if err != nil || len(toks) == 0 {
		t.Fatalf("stored tokens: %v %v", toks, err)
	}
	return m[1], toks[0].ID
}

// TestTokensNotForOthers protects four eyes: an admin cannot get a
// working API token in a colleague's name, by either form; the request
// is refused with 403 and nothing is created or audited.
func TestTokensNotForOthers(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ada@example.org", "admin")
	rita := wsStaff(t, a, "rita@example.org", "reviewer")
	b := wsSignedIn(a, "ada@example.org")
	for _, path := range []string{"/staff/admin/tokens", "/staff/tokens"} {
		resp, body := b.PostForm(path, url.Values{"staff_id": {rita.ID}}, nil)
		wsWant(t, "admin asks "+path+" for a colleague's token", resp, body, http.StatusForbidden)
		if !strings.Contains(body, "someone else") || strings.Contains(body, "rp_") {
			t.Errorf("%s: the refusal should say why and show no token:\n%s", path, body)
		}
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM api_tokens"); n != 0 {
		t.Errorf("%d token rows after the refusals, want 0", n)
	}
	if evs := tokenEvents(t, a); len(evs) != 0 {
		t.Errorf("audit events after the refusals: %+v", evs)
	}
	// The admin page offers no way to make one either.
	_, body := b.Get("/staff/admin")
	if strings.Contains(body, `name="staff_id"`) {
		t.Errorf("the admin page still has a form naming whose token to make")
	}
}

// TestTokensOwnLifecycle protects a reviewer's own tokens: the page is
// linked from the workspace, a new token is shown once and works on the
// API, names its creator, and stops working once revoked; each step is
// audited with the reviewer as actor, and the chain verifies. Nobody
// revokes a colleague's token but an admin, and a cross-site post makes
// nothing.
func TestTokensOwnLifecycle(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	rita := wsStaff(t, a, "rita@example.org", "reviewer")
	adaToken := a.StaffToken("ada@example.org", "admin")
	b := wsSignedIn(a, rita.Email)
	resp, body := b.Get("/staff")
	if !strings.Contains(body, `href="/staff/tokens"`) {
		t.Errorf("the workspace does not link to the tokens page")
	}
	resp, body = b.Get("/staff/tokens")
	wsWant(t, "tokens page", resp, body, http.StatusOK)

	token, id := newOwnToken(t, a, b, rita.ID)
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusOK {
		t.Fatalf("own token on the API: %d %v", resp.StatusCode, m)
	}
	_, body = b.Get("/staff/tokens")
	if strings.Contains(body, token) || !strings.Contains(body, token[:7]) || !strings.Contains(body, rita.Email) {
		t.Errorf("tokens page should list the token by prefix, made by rita:\n%s", body)
	}
	if strings.Contains(body, adaToken[:7]) {
		t.Errorf("a reviewer's tokens page lists a colleague's token")
	}
	row, err := a.Store.APIToken(context.Background(), id)
	if err != nil || row.CreatedByKind != "staff" || row.CreatedBy != rita.ID || row.StaffID != rita.ID {
		t.Fatalf("token row: %+v %v", row, err)
	}

	// A colleague's token is not hers to revoke.
	ada, _ := a.Store.StaffByEmail(context.Background(), "ada@example.org")
	adaToks, _ := a.Store.APITokens(context.Background(), ada.ID)
	resp, body = b.PostForm(fmt.Sprintf("/staff/tokens/%d/revoke", adaToks[0].ID), nil, nil)
	wsWant(t, "reviewer revokes a colleague's token", resp, body, http.StatusForbidden)
	if resp, _ := a.GetJSON("/api/v1/requests", adaToken); resp.StatusCode != http.StatusOK {
		t.Errorf("the colleague's token stopped working: %d", resp.StatusCode)
	}
	// Forms are refused from another site like every other.
	resp, body = b.PostForm("/staff/tokens", nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	wsWant(t, "cross-site new token", resp, body, http.StatusForbidden)
	if n := wsCount(t, a, "SELECT COUNT(*) FROM api_tokens WHERE staff_id = ?", rita.ID); n != 1 {
		t.Errorf("%d tokens of rita after a cross-site post, want 1", n)
	}

	resp, body = b.PostForm(fmt.Sprintf("/staff/tokens/%d/revoke", id), nil, nil)
	wsWantRedirect(t, "revoke own token", resp, body, "/staff/tokens")
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %v", resp.StatusCode, m)
	}

	evs := tokenEvents(t, a)
	want := []tokenEvent{
		{"api_token_create", "", "active", "operator", "", ""}, // a.StaffToken: the operator's way
		{"api_token_create", "", "active", "staff", rita.ID, ""},
		{"api_token_revoke", "active", "revoked", "staff", rita.ID, ""},
	}
	if len(evs) != len(want) {
		t.Fatalf("token audit events: %+v", evs)
	}
	for i, w := range want {
		e := evs[i]
		e.Reason = ""
		if e != w {
			t.Errorf("event %d: %+v, want %+v", i, evs[i], w)
		}
	}
	if !strings.Contains(evs[1].Reason, fmt.Sprintf("API token %d (%s…)", id, token[:7])) || !strings.Contains(evs[1].Reason, rita.Email) {
		t.Errorf("create event's reason %q does not name the token and its owner", evs[1].Reason)
	}
	wantChainIntact(t, a)
}

// TestTokensAdminRevokesColleague protects an admin's part: they revoke a
// colleague's token and it stops at once, audited with the admin as
// actor; disabling an account revokes its tokens, audited the same way.
func TestTokensAdminRevokesColleague(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	ada := wsStaff(t, a, "ada@example.org", "admin")
	rita := wsStaff(t, a, "rita@example.org", "reviewer")
	rb := wsSignedIn(a, rita.Email)
	first, firstID := newOwnToken(t, a, rb, rita.ID)
	second, secondID := newOwnToken(t, a, rb, rita.ID)

	b := wsSignedIn(a, ada.Email)
	_, body := b.Get("/staff/admin")
	if !strings.Contains(body, first[:7]) || !strings.Contains(body, second[:7]) {
		t.Errorf("the admin page does not list the colleague's tokens")
	}
	resp, body := b.PostForm(fmt.Sprintf("/staff/admin/tokens/%d/revoke", firstID), nil, nil)
	wsWantRedirect(t, "admin revokes", resp, body, "/staff/admin")
	if resp, _ := a.GetJSON("/api/v1/requests", first); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token revoked by the admin: %d", resp.StatusCode)
	}
	if resp, _ := a.GetJSON("/api/v1/requests", second); resp.StatusCode != http.StatusOK {
		t.Errorf("the other token stopped too: %d", resp.StatusCode)
	}
	resp, body = b.PostForm("/staff/admin/staff/"+rita.ID, url.Values{"change": {"disable"}}, nil)
	wsWantRedirect(t, "disable", resp, body, "/staff/admin")

	evs := tokenEvents(t, a)
	if len(evs) != 4 {
		t.Fatalf("token audit events: %+v", evs)
	}
	for i, id := range map[int]int64{2: firstID, 3: secondID} {
		e := evs[i]
		if e.Action != "api_token_revoke" || e.ActorKind != "staff" || e.ActorID != ada.ID ||
			!strings.Contains(e.Reason, fmt.Sprintf("API token %d ", id)) {
			t.Errorf("event %d: %+v, want the revocation of token %d by the admin", i, e, id)
		}
	}
	if !strings.Contains(evs[3].Reason, "account disabled") {
		t.Errorf("the disable's revocation does not say why: %q", evs[3].Reason)
	}
	wantChainIntact(t, a)
}
