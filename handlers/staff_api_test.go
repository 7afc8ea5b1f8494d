package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

// listRequests GETs the staff queue with query q and returns the items
// and the next cursor.
func listRequests(t *testing.T, a *apptest.App, token, q string) ([]map[string]any, string) {
	t.Helper()
	resp, b := a.Do(http.MethodGet, "/api/v1/requests?"+q, nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list ?%s: %d %s", q, resp.StatusCode, b)
	}
	m := apptest.DecodeJSON(t, b)
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("list ?%s: no items array: %s", q, b)
	}
	next, ok := m["next_cursor"].(string)
	if !ok {
		t.Fatalf("list ?%s: next_cursor is not a string: %s", q, b)
	}
	var items []map[string]any
	for _, it := range raw {
		items = append(items, it.(map[string]any))
	}
	return items, next
}

// ids lists the ids of items, sorted, for comparing sets.
func ids(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func wantIDs(t *testing.T, a *apptest.App, token, q string, want ...string) {
	t.Helper()
	items, _ := listRequests(t, a, token, q)
	if got := ids(items); !slices.Equal(got, sorted(want...)) {
		t.Errorf("?%s: got %v, want %v", q, got, sorted(want...))
	}
}

// TestStaffAPIAuth protects the staff API's bearer tokens: none, garbage
// or a disabled member's token gets 401 with WWW-Authenticate.
func TestStaffAPIAuth(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	token := a.StaffToken("officer@example.org", "reviewer")
	id, _ := a.Submit(map[string]any{"type": "access", "email": "jane@example.com", "full_name": "Jane Doe"})
	for name, h := range map[string]map[string]string{
		"no header":       nil,
		"empty bearer":    {"Authorization": "Bearer "},
		"basic":           {"Authorization": "Basic b2ZmaWNlcjpwYXNzd29yZA=="},
		"garbage":         {"Authorization": "Bearer garbage"},
		"well-formed":     {"Authorization": "Bearer rp_" + strings.Repeat("a", 32)},
		"token no scheme": {"Authorization": token},
		"token with sql":  {"Authorization": "Bearer rp_' OR 1=1 --"},
	} {
		for _, path := range []string{"/api/v1/requests", "/api/v1/requests/" + id} {
			resp, b := a.Do(http.MethodGet, path, nil, h)
			checkError(t, resp, b, http.StatusUnauthorized, "")
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: WWW-Authenticate %q", name, path, resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(b), "jane@example.com") {
				t.Errorf("%s %s: 401 leaks request data", name, path)
			}
		}
	}
	resp, b := a.Do(http.MethodGet, "/api/v1/requests", nil, map[string]string{"Authorization": "bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token (lower-case scheme): %d %s", resp.StatusCode, b)
	}
	m := apptest.DecodeJSON(t, b)
	if _, ok := m["items"].([]any); !ok {
		t.Fatalf("no items: %s", b)
	}
	if _, ok := m["next_cursor"]; !ok {
		t.Fatalf("no next_cursor: %s", b)
	}

	execSQL(t, a, "UPDATE staff SET disabled = ? WHERE email = ?", true, "officer@example.org")
	resp, b = a.Do(http.MethodGet, "/api/v1/requests", nil, map[string]string{"Authorization": "Bearer " + token})
	checkError(t, resp, b, http.StatusUnauthorized, "")
	resp, b = a.Do(http.MethodGet, "/api/v1/requests/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
	checkError(t, resp, b, http.StatusUnauthorized, "")
}

// TestStaffListFilters protects the queue's filters of SPEC §7: unverified
// requests hidden by default, then type, status, jurisdiction, q,
// assignee and overdue.
func TestStaffListFilters(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	token := a.StaffToken("officer@example.org", "reviewer")
	other := a.StaffToken("second@example.org", "admin")
	_ = other

	unverified, _ := a.Submit(map[string]any{"type": "access", "email": "waiting@example.com", "full_name": "Wai Ting"})
	access, accessRef := submitVerified(t, a, map[string]any{"type": "access", "email": "ann@example.com", "full_name": "Ann Access", "jurisdiction": "gdpr"})
	erasure, _ := submitVerified(t, a, map[string]any{"type": "erasure", "email": "ed@example.com", "full_name": "Ed Erase", "jurisdiction": "gdpr"})
	lgpd, _ := submitVerified(t, a, map[string]any{"type": "access", "email": "ann@example.com", "full_name": "Ann Access", "jurisdiction": "lgpd"})
	ccpa, _ := submitVerified(t, a, map[string]any{"type": "portability", "email": "carl@example.com", "full_name": "Carl Port", "jurisdiction": "ccpa"})

	// The SPEC §7 request object.
	items, next := listRequests(t, a, token, "")
	if next != "" {
		t.Errorf("next_cursor %q on the only page", next)
	}
	for _, it := range items {
		for _, k := range []string{"id", "reference", "type", "status", "jurisdiction", "email", "full_name", "details",
			"created_at", "verified_at", "due_at", "extended", "assignee", "approvals", "version"} {
			if _, ok := it[k]; !ok {
				t.Errorf("item lacks %q: %v", k, it)
			}
		}
	}
	wantIDs(t, a, token, "", access, erasure, lgpd, ccpa)
	wantIDs(t, a, token, "status=unverified", unverified)
	wantIDs(t, a, token, "status=unverified,verified", unverified, access, erasure, lgpd, ccpa)
	wantIDs(t, a, token, "status=verified", access, erasure, lgpd, ccpa)
	wantIDs(t, a, token, "status=expired")
	wantIDs(t, a, token, "type=erasure", erasure)
	wantIDs(t, a, token, "type=access", access, lgpd)
	wantIDs(t, a, token, "type=access&status=unverified", unverified)
	wantIDs(t, a, token, "jurisdiction=lgpd", lgpd)
	wantIDs(t, a, token, "jurisdiction=ccpa&type=portability", ccpa)
	wantIDs(t, a, token, "jurisdiction=ccpa&type=access")
	wantIDs(t, a, token, "q="+url.QueryEscape(accessRef), access)
	wantIDs(t, a, token, "q="+url.QueryEscape(strings.ToLower(accessRef)), access)
	wantIDs(t, a, token, "q="+url.QueryEscape("ANN@example.com"), access, lgpd)
	wantIDs(t, a, token, "q="+url.QueryEscape("waiting@example.com")+"&status=unverified", unverified)
	wantIDs(t, a, token, "q=nobody%40example.com")
	wantIDs(t, a, token, "q="+url.QueryEscape("%"))
	wantIDs(t, a, token, "q="+url.QueryEscape("' OR '1'='1"))

	// Assignment has no API yet: set it in the database.
	staffID := ""
	if err := a.DB().Raw("SELECT id FROM staff WHERE email = ?", "officer@example.org").Row().Scan(&staffID); err != nil {
		t.Fatal(err)
	}
	execSQL(t, a, "UPDATE requests SET assignee_id = ? WHERE id = ?", staffID, erasure)
	wantIDs(t, a, token, "assignee=unassigned", access, lgpd, ccpa)
	wantIDs(t, a, token, "assignee=me", erasure)
	wantIDs(t, a, other, "assignee=me")
	wantIDs(t, a, other, "assignee=officer%40example.org", erasure)
	wantIDs(t, a, other, "assignee="+staffID, erasure)
	got := staffRequest(t, a, token, erasure)
	if got["assignee"] != "officer@example.org" {
		t.Errorf("assignee shown as %v, want the staff member's address", got["assignee"])
	}

	// Nothing is overdue yet; after 20 days the 15-day LGPD request is,
	// and after 50 days everything verified is.
	wantIDs(t, a, token, "overdue=true")
	wantIDs(t, a, token, "overdue=false", access, erasure, lgpd, ccpa)
	a.Clock.Advance(20 * 24 * time.Hour)
	wantIDs(t, a, token, "overdue=true", lgpd)
	wantIDs(t, a, token, "overdue=1&jurisdiction=gdpr")
	if it := staffRequest(t, a, token, lgpd); it["overdue"] != true {
		t.Errorf("lgpd request not marked overdue: %v", it["overdue"])
	}
	a.Clock.Advance(30 * 24 * time.Hour)
	wantIDs(t, a, token, "overdue=true", access, erasure, lgpd, ccpa)
	// Unverified requests have no deadline running and are never overdue.
	wantIDs(t, a, token, "overdue=true&status=unverified")
}

// TestStaffListInvalidFilters protects the queue against silently
// ignored parameters: each bad value gets 422 naming the parameter.
func TestStaffListInvalidFilters(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	token := a.StaffToken("officer@example.org", "reviewer")
	for _, tc := range []struct{ q, field string }{
		{"status=bogus", "status"},
		{"status=verified,bogus", "status"},
		{"status=verified,", "status"},
		{"type=bogus", "type"},
		{"type=ACCESS", "type"},
		{"jurisdiction=mars", "jurisdiction"},
		{"assignee=nobody%40example.org", "assignee"},
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=500", "limit"},
		{"limit=201", "limit"},
		{"limit=ten", "limit"},
		{"overdue=maybe", "overdue"},
		{"cursor=garbage", "cursor"},
		{"cursor=" + strings.Repeat("A", 300), "cursor"},
		{"cursor=%00%01", "cursor"},
	} {
		resp, b := a.Do(http.MethodGet, "/api/v1/requests?"+tc.q, nil, map[string]string{"Authorization": "Bearer " + token})
		checkError(t, resp, b, http.StatusUnprocessableEntity, tc.field)
	}
	for _, q := range []string{"limit=1", "limit=200", "overdue=false", "assignee=unassigned", "assignee=me"} {
		listRequests(t, a, token, q)
	}
	resp, b := a.Do(http.MethodGet, "/api/v1/requests/01900000-0000-7000-8000-000000000000", nil, map[string]string{"Authorization": "Bearer " + token})
	checkError(t, resp, b, http.StatusNotFound, "")
	resp, b = a.Do(http.MethodGet, "/api/v1/requests/%27%20OR%201=1", nil, map[string]string{"Authorization": "Bearer " + token})
	checkError(t, resp, b, http.StatusNotFound, "")
}

// TestStaffListPagination protects keyset pagination: pages of the asked
// size, ordered by due date, with no duplicates and no gaps, ending with
// an empty cursor.
func TestStaffListPagination(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	token := a.StaffToken("officer@example.org", "reviewer")
	// Jurisdictions with different periods, a day apart, so that the due
	// order differs from the order of filing.
	var all []string
	for i, j := range []string{"gdpr", "lgpd", "ccpa", "gdpr", "lgpd", "uk_gdpr", "ccpa"} {
		id, _ := submitVerified(t, a, map[string]any{"type": "access", "email": fmt.Sprintf("page%d@example.com", i),
			"full_name": "Page Subject", "jurisdiction": j})
		all = append(all, id)
		a.Clock.Advance(24 * time.Hour)
	}
	// One unverified request, which the default queue leaves out.
	a.Submit(map[string]any{"type": "access", "email": "hidden@example.com", "full_name": "Hid Den"})

	var got []map[string]any
	var sizes []int
	cursor := ""
	for page := 0; page < 5; page++ {
		q := "limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		items, next := listRequests(t, a, token, q)
		sizes = append(sizes, len(items))
		got = append(got, items...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("page sizes %v, want [3 3 1]", sizes)
	}
	if g := ids(got); !slices.Equal(g, sorted(all...)) {
		t.Fatalf("paged ids %v, want %v", g, sorted(all...))
	}
	var prev time.Time
	prevID := ""
	var dues []string
	for i, it := range got {
		due, err := time.Parse(time.RFC3339Nano, it["due_at"].(string))
		if err != nil {
			t.Fatalf("due_at %v: %v", it["due_at"], err)
		}
		dues = append(dues, it["due_date"].(string))
		if i > 0 && (due.Before(prev) || due.Equal(prev) && it["id"].(string) < prevID) {
			t.Errorf("item %d (due %s) out of order after due %s", i, due, prev)
		}
		prev, prevID = due, it["id"].(string)
	}
	// The order is not simply the order of filing.
	if slices.Equal(func() []string {
		var s []string
		for _, it := range got {
			s = append(s, it["id"].(string))
		}
		return s
	}(), all) {
		t.Errorf("due order equals filing order; the test does not prove ordering by due date (dues %v)", dues)
	}
	// The whole list in one page agrees with the paged one.
	one, next := listRequests(t, a, token, "limit=200")
	if next != "" || len(one) != len(got) {
		t.Fatalf("single page: %d items, next %q", len(one), next)
	}
	for i := range one {
		if one[i]["id"] != got[i]["id"] {
			t.Errorf("position %d: single page %v, paged %v", i, one[i]["id"], got[i]["id"])
		}
	}
	// An exact multiple of the page size ends with an empty cursor too.
	items, next := listRequests(t, a, token, "limit=7")
	if len(items) != 7 || next != "" {
		t.Errorf("limit=7: %d items, next %q; want 7 and no cursor", len(items), next)
	}
}
