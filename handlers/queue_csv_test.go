package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/workflow"
)

// csvSeed inserts n requests in every queue state, type and
// jurisdiction, some assigned and approved, some with refusal reasons
// that a spreadsheet would run as formulas or that need quoting.
func csvSeed(t *testing.T, a *apptest.App, n int, staff []*models.Staff) []models.Request {
	t.Helper()
	now := a.Clock.Now()
	states, types, jurs := workflow.States(), workflow.RequestTypes(), a.Cfg.Jurisdictions.Order
	nasty := []string{"=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "\tx", "\rx", `a,"b"` + "\nc", "not_applicable", ""}
	var rows []models.Request
	for i := range n {
		created := now.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Second)
		st := states[i%len(states)]
		r := models.Request{ID: fmt.Sprintf("csv-%05d", i), Reference: fmt.Sprintf("DSR-C%05d", i),
			Type: string(types[i%len(types)]), Status: string(st), Jurisdiction: jurs[i%len(jurs)],
			Email: fmt.Sprintf("c%d@example.com", i), FullName: "CSV Subject", Details: "{}", Approvals: "[]",
			CreatedAt: created, UpdatedAt: created, VerifyBy: created.Add(72 * time.Hour),
			// Due dates out of filing order, some in the past.
			DueAt: now.Add(time.Duration((i*7919)%(40*24)-5*24) * time.Hour).Truncate(time.Second)}
		if st != workflow.StateUnverified && st != workflow.StateExpired {
			v := created.Add(time.Hour)
			r.VerifiedAt = &v
		}
		if st.Closed() {
			c := created.Add(48 * time.Hour)
			r.ClosedAt = &c
		}
		if i%3 == 0 {
			r.AssigneeID = &staff[i%len(staff)].ID
		}
		if i%5 == 0 {
			r.Approvals = fmt.Sprintf(`[%q,%q]`, staff[0].ID, staff[1].ID)
		}
		r.RefusalReason = nasty[i%len(nasty)]
		rows = append(rows, r)
	}
	if err := a.Store.InsertRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// csvGet downloads an export and parses it, checking what every export
// must be: 200, text/csv, an attachment with a dated name, streamed in
// chunks, RFC 4180 with the header row first.
func csvGet(t *testing.T, do func(string) (*http.Response, string), path, name, day string) [][]string {
	t.Helper()
	resp, body := do(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="`+name+"-"+day+`.csv"` {
		t.Errorf("%s: Content-Disposition %q", path, cd)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
	}
	r := csv.NewReader(strings.NewReader(body))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: not RFC 4180 CSV: %v", path, err)
	}
	want := "id,reference,type,status,jurisdiction,received,verified,due,closed,assignee,approvers,refusal_reason"
	if len(recs) == 0 || strings.Join(recs[0], ",") != want {
		t.Fatalf("%s: header %v", path, recs)
	}
	if !strings.Contains(body, "\r\n") {
		t.Errorf("%s: lines do not end in CRLF", path)
	}
	return recs[1:]
}

var csvNextRE = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// csvQueueRefs walks every page of the queue page for a query and lists
// the references in page order.
func csvQueueRefs(t *testing.T, b *apptest.Browser, query string) []string {
	t.Helper()
	var refs []string
	path := "/staff?" + query
	for path != "" {
		resp, body := b.Get(path)
		wsWant(t, "queue "+path, resp, body, http.StatusOK)
		_, order := wsRows(body)
		refs = append(refs, order...)
		path = ""
		if m := csvNextRE.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	return refs
}

// csvAPIRefs walks every page of GET /api/v1/requests for a query.
func csvAPIRefs(t *testing.T, a *apptest.App, tok, query string) []string {
	t.Helper()
	var refs []string
	cursor := ""
	for {
		q := query + "&limit=200"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, m := a.GetJSON("/api/v1/requests?"+q, tok)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("api ?%s: %d %v", q, resp.StatusCode, m)
		}
		for _, it := range m["items"].([]any) {
			refs = append(refs, it.(map[string]any)["reference"].(string))
		}
		cursor, _ = m["next_cursor"].(string)
		if cursor == "" {
			return refs
		}
	}
}

func csvRefs(recs [][]string) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r[1])
	}
	return out
}

// TestQueueCSV protects both exports: the same rows in the same order as
// the queue page and the API list for the same filters (the page's
// status default included, cursor and limit ignored), every column, the
// spreadsheet formula guard, RFC 4180 quoting, a 422 for a bad filter,
// and that a large export is written page by page.
func TestQueueCSV(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	ann := wsStaff(t, a, "ann@example.org", "reviewer")
	bob := wsStaff(t, a, "bob@example.org", "admin")
	tok := a.StaffToken("api@example.org", "reviewer")
	rows := csvSeed(t, a, 700, []*models.Staff{ann, bob})
	b := wsSignedIn(a, "ann@example.org")
	day := a.Cfg.Calendar().Today(a.Clock.Now()).String()
	page := func(p string) (*http.Response, string) { return b.Get(p) }
	api := func(p string) (*http.Response, string) {
		resp, body := a.Do(http.MethodGet, p, nil, map[string]string{"Authorization": "Bearer " + tok})
		return resp, string(body)
	}

	for _, q := range []string{"", "status=all", "status=open", "status=rejected,completed", "type=erasure&status=all",
		"jurisdiction=ccpa", "assignee=mine&status=all", "assignee=unassigned", "overdue=true", "due_within=10",
		"q=DSR-C00015&status=all", "status=all&cursor=bogus&limit=3"} {
		pq := strings.ReplaceAll(strings.ReplaceAll(q, "&cursor=bogus", ""), "&limit=3", "")
		got := csvRefs(csvGet(t, page, "/staff/queue.csv?"+q, "queue", day))
		if want := csvQueueRefs(t, b, pq); !slices.Equal(got, want) || len(want) == 0 && q != "overdue=true" {
			t.Errorf("queue.csv?%s: %d rows %v…, the queue page lists %d %v…", q, len(got), head(got), len(want), head(want))
		}
		got = csvRefs(csvGet(t, api, "/api/v1/requests.csv?"+q, "requests", day))
		if want := csvAPIRefs(t, a, tok, pq); !slices.Equal(got, want) {
			t.Errorf("requests.csv?%s: %d rows, the API lists %d", q, len(got), len(want))
		}
	}

	// Every column of every row, against the rows inserted.
	loc := a.Cfg.Calendar().Loc
	byID := map[string]models.Request{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	emails := map[string]string{ann.ID: ann.Email, bob.ID: bob.Email}
	all := csvGet(t, api, "/api/v1/requests.csv?status="+strings.Join(statesAll(), ","), "requests", day)
	if len(all) != len(rows) {
		t.Fatalf("every state: %d rows, want %d", len(all), len(rows))
	}
	guarded := 0
	for _, rec := range all {
		r := byID[rec[0]]
		stamp := func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.In(loc).Format(time.RFC3339)
		}
		due := ""
		if r.VerifiedAt != nil || r.Status == "unverified" && a.Cfg.Policy(r.Jurisdiction).Rules.ClockAtSubmission {
			due = r.DueAt.In(loc).Format(time.DateOnly)
		}
		assignee := ""
		if r.AssigneeID != nil {
			assignee = emails[*r.AssigneeID]
		}
		approvers := ""
		if r.Approvals != "[]" {
			approvers = ann.Email + " " + bob.Email
		}
		reason := r.RefusalReason
		if reason != "" && strings.ContainsRune("=+-@\t\r", rune(reason[0])) {
			reason = "'" + reason
			guarded++
		}
		// encoding/csv writing CRLF lines drops a lone CR inside a
		// quoted cell (it could not be told from a line end).
		reason = strings.ReplaceAll(reason, "\r", "")
		want := []string{r.ID, r.Reference, r.Type, r.Status, r.Jurisdiction, stamp(&r.CreatedAt), stamp(r.VerifiedAt),
			due, stamp(r.ClosedAt), assignee, approvers, reason}
		if !slices.Equal(rec, want) {
			t.Errorf("row %s:\n got %q\nwant %q", r.ID, rec, want)
		}
	}
	if guarded < 6*len(rows)/9-1 {
		t.Errorf("only %d formula cells seen", guarded)
	}

	// Large: more rows than one page of the store (200) holds, sent in
	// chunks as they are read, not as one body with a length.
	resp, _ := api("/api/v1/requests.csv?status=all")
	if resp.ContentLength != -1 || !slices.Contains(resp.TransferEncoding, "chunked") {
		t.Errorf("export not streamed: Content-Length %d, Transfer-Encoding %v", resp.ContentLength, resp.TransferEncoding)
	}

	// Bad filters are refused before anything is sent.
	for _, q := range []string{"status=bogus", "type=nope", "jurisdiction=mars", "overdue=maybe", "due_within=-1", "assignee=nobody@example.org"} {
		resp, body := api("/api/v1/requests.csv?" + q)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"fields"`) {
			t.Errorf("requests.csv?%s: %d %s", q, resp.StatusCode, body)
		}
		resp, _ = page("/staff/queue.csv?" + q)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("queue.csv?%s: %d", q, resp.StatusCode)
		}
	}
	if resp, _ := a.Do(http.MethodGet, "/api/v1/requests.csv", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("requests.csv without a token: %d", resp.StatusCode)
	}
	if resp, _ := a.Browser().Get("/staff/queue.csv"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("queue.csv signed out: %d", resp.StatusCode)
	}
}

func statesAll() []string {
	var out []string
	for _, s := range workflow.States() {
		out = append(out, string(s))
	}
	return out
}

func head(s []string) []string { return s[:min(len(s), 5)] }
