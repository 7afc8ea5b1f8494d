package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// bulkResults indexes a bulk answer's results by request id.
func bulkResults(t *testing.T, m map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, ok := m["results"].([]any)
	if !ok {
		t.Fatalf("no results in %v", m)
	}
	for _, r := range list {
		r := r.(map[string]any)
		out[r["id"].(string)] = r
	}
	return out
}

func bulkItem(id string, v int) map[string]any { return map[string]any{"id": id, "version": v} }

// TestBulkMixedOutcomes: one call over valid, stale, not-allowed and
// unknown requests does each valid one on its own (its own event and
// mail) and says per request what happened; the others are unchanged.
func TestBulkMixedOutcomes(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "admin")
	a.StaffToken("bo@example.org", "reviewer")
	var ok []string
	var items []map[string]any
	for i := 0; i < 3; i++ {
		id, v, _ := trInState(t, a, ada, "verified", "access", "gdpr")
		ok = append(ok, id)
		items = append(items, bulkItem(id, v))
	}
	stale, sv, _ := trInState(t, a, ada, "verified", "access", "gdpr")
	closed, cv, _ := trInState(t, a, ada, "completed", "access", "gdpr")
	items = append(items, bulkItem(stale, sv-1+2), bulkItem(closed, cv), bulkItem("no-such-request", 1))
	before := map[string]trSnapshot{stale: trSnap(t, a, ada, stale), closed: trSnap(t, a, ada, closed)}

	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "start_review", "assignee": "bo@example.org",
		"requests": items}, bearer(ada))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk: %d %v", resp.StatusCode, m)
	}
	res := bulkResults(t, m)
	for _, id := range ok {
		if res[id]["outcome"] != "done" || res[id]["status"] != "in_review" {
			t.Fatalf("request %s: %v, want done in_review", id, res[id])
		}
		got := trGet(t, a, ada, id)
		if got["assignee"] == nil || !strings.Contains(got["assignee"].(string), "bo") {
			t.Fatalf("request %s assignee %v, want bo", id, got["assignee"])
		}
		n := 0
		for _, e := range trEvents(got) {
			if e["action"] == "start_review" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("request %s has %d start_review events, want its own one", id, n)
		}
	}
	if res[stale]["outcome"] != "stale_version" || res[closed]["outcome"] != "not_allowed" || res["no-such-request"]["outcome"] != "not_found" {
		t.Fatalf("outcomes: stale %v, closed %v, unknown %v", res[stale], res[closed], res["no-such-request"])
	}
	for id, b := range before {
		trUnchanged(t, a, ada, id, b, "a refused bulk item")
	}
	if s := m["summary"].(map[string]any); s["done"] != float64(3) || s["stale_version"] != float64(1) {
		t.Fatalf("summary %v", s)
	}
	// Each request got its own notice to the assignee.
	if n := len(dupMails(t, a, "bo@example.org", "", 3)); n != 3 {
		t.Fatalf("bo got %d mails, want one per request", n)
	}
}

// TestBulkRefusedWhole: a call that cannot be right for any request is
// refused before anything is done, with the field that is wrong.
func TestBulkRefusedWhole(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "admin")
	id, v, _ := trInState(t, a, ada, "in_review", "access", "gdpr")
	before := trSnap(t, a, ada, id)
	one := []map[string]any{bulkItem(id, v)}
	many := make([]map[string]any, 501)
	for i := range many {
		many[i] = bulkItem("r"+strconv.Itoa(i), 1)
	}
	for _, c := range []struct {
		what  string
		body  map[string]any
		field string
	}{
		{"no action", map[string]any{"requests": one}, "action"},
		{"an action bulk does not do", map[string]any{"action": "complete", "message": "x", "requests": one}, "action"},
		{"reject without a reason code", map[string]any{"action": "reject", "message": "x", "requests": one}, "reason"},
		{"reject with an unknown code", map[string]any{"action": "reject", "reason": "because", "message": "x", "requests": one}, "reason"},
		{"reject without a message", map[string]any{"action": "reject", "reason": "excessive", "requests": one}, "message"},
		{"no requests", map[string]any{"action": "start_review", "requests": []any{}}, "requests"},
		{"too many requests", map[string]any{"action": "start_review", "requests": many}, "requests"},
		{"a request twice", map[string]any{"action": "approve", "requests": []map[string]any{bulkItem(id, v), bulkItem(id, v)}}, "requests"},
		{"no version", map[string]any{"action": "approve", "requests": []map[string]any{{"id": id}}}, "requests"},
	} {
		resp, m := a.PostJSON("/api/v1/requests/bulk", c.body, bearer(ada))
		trRefused(t, c.what, resp.StatusCode, m, http.StatusUnprocessableEntity, "invalid", c.field)
		trUnchanged(t, a, ada, id, before, c.what)
	}
	resp, body := a.Do("POST", "/api/v1/requests/bulk", strings.NewReader(`{"action":`), bearer(ada))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed JSON: %d %s", resp.StatusCode, body)
	}
	resp, body = a.Do("POST", "/api/v1/requests/bulk", strings.NewReader(`{"action":"approve","message":"`+strings.Repeat("x", 300<<10)+`"}`), bearer(ada))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %s", resp.StatusCode, body)
	}
	resp, _ = a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "approve", "requests": one}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	trUnchanged(t, a, ada, id, before, "after the refused calls")
}

// TestBulkApproveFourEyes: a bulk approve is one approval per request by
// the one who sends it; an erasure that needs two different people still
// needs a second one.
func TestBulkApproveFourEyes(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "admin")
	bo := a.StaffToken("bo@example.org", "reviewer")
	er1, v1, _ := trInState(t, a, ada, "in_review", "erasure", "gdpr")
	er2, v2, _ := trInState(t, a, ada, "in_review", "erasure", "gdpr")
	acc, v3, _ := trInState(t, a, ada, "in_review", "access", "gdpr")
	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "approve",
		"requests": []map[string]any{bulkItem(er1, v1), bulkItem(er2, v2), bulkItem(acc, v3)}}, bearer(ada))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk approve: %d %v", resp.StatusCode, m)
	}
	res := bulkResults(t, m)
	if res[er1]["status"] != "in_review" || res[er2]["status"] != "in_review" || res[acc]["status"] != "approved" {
		t.Fatalf("after ada: erasures %v %v, access %v", res[er1]["status"], res[er2]["status"], res[acc]["status"])
	}
	// Ada again: the same person cannot be the second approver.
	again := []map[string]any{bulkItem(er1, int(res[er1]["version"].(float64))), bulkItem(er2, int(res[er2]["version"].(float64)))}
	_, m = a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "approve", "requests": again}, bearer(ada))
	for id, r := range bulkResults(t, m) {
		if r["outcome"] == "done" {
			t.Fatalf("ada approved erasure %s twice: %v", id, r)
		}
	}
	_, m = a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "approve", "requests": again}, bearer(bo))
	for id, r := range bulkResults(t, m) {
		if r["outcome"] != "done" || r["status"] != "approved" {
			t.Fatalf("bo's approval of %s: %v, want approved", id, r)
		}
		if got := trGet(t, a, ada, id)["approvals"].([]any); len(got) != 0 && len(got) != 2 {
			t.Fatalf("erasure %s approvals %v", id, got)
		}
	}
}

// TestBulkFromQueuePage: the queue's checkboxes carry each request's
// version; 50 requests are assigned in one submission, without script,
// and the same form sent again changes nothing (every version is stale).
func TestBulkFromQueuePage(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "admin")
	wsStaff(t, a, "bo@example.org", "reviewer")
	wsStaff(t, a, "cy@example.org", "reviewer")
	for i := 0; i < 50; i++ {
		trInState(t, a, ada, "verified", "access", "gdpr")
	}
	b := wsSignedIn(a, "bo@example.org")
	resp, page := b.Get("/staff?status=verified&select=all")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue: %d", resp.StatusCode)
	}
	boxes := regexp.MustCompile(`name="selected" value="([^"]+)"[^>]*checked`).FindAllStringSubmatch(page, -1)
	if len(boxes) != 50 {
		t.Fatalf("%d ticked boxes on the page, want 50", len(boxes))
	}
	action := regexp.MustCompile(`<form method="post" action="([^"]+)" class="bulk"`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no bulk form on the queue")
	}
	form := url.Values{"bulk_action": {"assign"}, "bulk_assignee": {"cy@example.org"}}
	for _, m := range boxes {
		form.Add("selected", m[1])
	}
	target := strings.ReplaceAll(action[1], "&amp;", "&")
	resp, page = b.PostForm(target, form, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "50 done") {
		t.Fatalf("bulk assign: %d\n%s", resp.StatusCode, page)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM requests WHERE assignee_id = (SELECT id FROM staff WHERE email = ?)", "cy@example.org"); n != 50 {
		t.Fatalf("%d requests assigned to cy, want 50", n)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM audit_events WHERE action = 'assign'"); n != 50 {
		t.Fatalf("%d assign events, want 50", n)
	}
	resp, page = b.PostForm(target, form, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "50 changed meanwhile") {
		t.Fatalf("the same form again: %d, want every request stale\n%s", resp.StatusCode, page)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM audit_events WHERE action = 'assign'"); n != 50 {
		t.Fatalf("%d assign events after the repeat, want still 50", n)
	}
	// Nothing ticked: the form says what is missing, beside the button.
	resp, page = b.PostForm(target, url.Values{"bulk_action": {"start_review"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="bulk_requests"`) {
		t.Fatalf("empty selection: %d\n%s", resp.StatusCode, page)
	}
}

// TestBulkAssignToMe: the queue page's "Assign to" starts at "Me", sent
// as an empty value; bulk assign with it gives the requests to the one
// who sends the form (as start_review does), and so does the API with no
// assignee.
func TestBulkAssignToMe(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ada := a.StaffToken("ada@example.org", "admin")
	bo := wsStaff(t, a, "bo@example.org", "reviewer")
	form := url.Values{"bulk_action": {"assign"}, "bulk_assignee": {""}}
	var ids []string
	for range 3 {
		id, v, _ := trInState(t, a, ada, "in_review", "access", "gdpr")
		ids = append(ids, id)
		form.Add("selected", id+":"+strconv.Itoa(v))
	}
	b := wsSignedIn(a, "bo@example.org")
	_, page := b.Get("/staff?status=open")
	if !strings.Contains(page, `<option value="">Me</option>`) {
		t.Fatalf("the queue's assignee choice does not start at Me:\n%s", page)
	}
	action := regexp.MustCompile(`<form method="post" action="([^"]+)" class="bulk"`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no bulk form on the queue")
	}
	resp, page := b.PostForm(strings.ReplaceAll(action[1], "&amp;", "&"), form, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "3 done") {
		t.Fatalf("bulk assign to Me: %d, want 200 and 3 done\n%s", resp.StatusCode, page)
	}
	for _, id := range ids {
		if r := wsRequest(a, id); r.AssigneeID == nil || *r.AssigneeID != bo.ID {
			t.Errorf("request %s assignee %v, want bo (%s)", id, r.AssigneeID, bo.ID)
		}
	}

	// The API without an assignee: the token's owner takes them back.
	var items []map[string]any
	for _, id := range ids {
		items = append(items, bulkItem(id, version(trGet(t, a, ada, id))))
	}
	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "assign", "requests": items}, bearer(ada))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API bulk assign without an assignee: %d %v", resp.StatusCode, m)
	}
	for id, r := range bulkResults(t, m) {
		if got := trGet(t, a, ada, id)["assignee"]; r["outcome"] != "done" || got == nil || !strings.Contains(got.(string), "ada") {
			t.Errorf("request %s: %v, assignee %v, want done and ada", id, r, got)
		}
	}
}
