package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// repSeed inserts n requests of every type, jurisdiction and state with
// refusal reasons, appeals, extensions, late closes, paused clocks and
// purged stubs, received from 2024-12-15 to 2026-04-15 (so some fall
// outside any range the tests ask for), plus rows on the edges of
// [start, end). It returns every row inserted.
func repSeed(t *testing.T, a *apptest.App, n int, start, end time.Time) []models.Request {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	now := a.Clock.Now()
	types, states, codes := workflow.RequestTypes(), workflow.States(), workflow.RejectionCodes()
	jurs := a.Cfg.Jurisdictions.Order
	lo := time.Date(2024, 12, 15, 0, 0, 0, 0, time.UTC)
	span := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC).Sub(lo)
	var rows []models.Request
	for i := range n {
		created := lo.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Microsecond)
		switch i {
		case 0: // the first instant of the range is in it
			created = start
		case 1: // the first instant after it is not
			created = end
		case 2:
			created = start.Add(-time.Microsecond)
		case 3:
			created = end.Add(-time.Microsecond)
		}
		st := states[rng.IntN(len(states))]
		r := models.Request{ID: fmt.Sprintf("rep-%05d", i), Reference: fmt.Sprintf("DSR-R%05d", i),
			Type: string(types[rng.IntN(len(types))]), Status: string(st), Jurisdiction: jurs[rng.IntN(len(jurs))],
			Email: fmt.Sprintf("r%d@example.com", i), FullName: "Report Subject", Details: "{}", Approvals: "[]",
			CreatedAt: created, UpdatedAt: created, VerifyBy: created.Add(72 * time.Hour),
			DueAt: created.Add(30 * 24 * time.Hour)}
		if st.Closed() {
			closed := created.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))).Truncate(time.Microsecond)
			if i%17 == 0 { // exactly whole days: the day count must not slip below
				closed = created.Add(time.Duration(1+rng.IntN(40)) * 24 * time.Hour)
			}
			r.ClosedAt = &closed
		} else if rng.IntN(2) == 0 {
			// Open: due well before or well after now, never near it.
			r.DueAt = now.Add(-time.Duration(1+rng.IntN(20)) * 24 * time.Hour).Truncate(time.Microsecond)
		} else {
			r.DueAt = now.Add(time.Duration(1+rng.IntN(20)) * 24 * time.Hour).Truncate(time.Microsecond)
		}
		if !st.Closed() && st != workflow.StateUnverified && rng.IntN(6) == 0 {
			p := now.Add(-time.Hour)
			r.PausedAt = &p
		}
		switch {
		case st == workflow.StateRejected:
			r.RefusalReason = string(codes[rng.IntN(len(codes))])
			if rng.IntN(4) == 0 {
				r.AppealUsed, r.AppealOutcome = true, "denied"
			}
		case st == workflow.StateAppealed:
			r.RefusalReason, r.AppealOutcome = "excessive", "pending"
		case rng.IntN(10) == 0:
			r.RefusalReason, r.AppealUsed, r.AppealOutcome = "other", true, "granted"
		}
		r.Extended = rng.IntN(5) == 0
		if rng.IntN(5) == 0 { // a purged stub keeps what statistics need
			p := now
			r.PurgedAt, r.Email, r.FullName = &p, "", ""
		}
		rows = append(rows, r)
	}
	if err := a.Store.InsertRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// repWant computes the report's figures from the rows, the slow and
// obvious way: one pass, a sort per percentile.
type repWant struct {
	total  service.Figures
	byType map[string]*service.Figures
	byJur  map[string]*service.Figures
	days   map[string][]int
	ccpa   map[string]*service.CCPARow // "year/right"
}

func repExpect(rows []models.Request, start, end, now time.Time, jurisdiction string, loc *time.Location) repWant {
	w := repWant{byType: map[string]*service.Figures{}, byJur: map[string]*service.Figures{}, days: map[string][]int{},
		ccpa: map[string]*service.CCPARow{}}
	right := map[string]string{"access": "know", "portability": "know", "erasure": "delete", "rectification": "correct",
		"objection": "opt-out", "consent_withdrawal": "opt-out"}
	fig := func(m map[string]*service.Figures, k string) *service.Figures {
		if m[k] == nil {
			m[k] = &service.Figures{RefusedBy: map[string]int64{}}
		}
		return m[k]
	}
	w.total.RefusedBy = map[string]int64{}
	for _, r := range rows {
		if r.CreatedAt.Before(start) || !r.CreatedAt.Before(end) || jurisdiction != "" && r.Jurisdiction != jurisdiction {
			continue
		}
		year := r.CreatedAt.In(loc).Year()
		var cr *service.CCPARow
		if rt, ok := right[r.Type]; ok {
			key := fmt.Sprintf("%d/%s", year, rt)
			if w.ccpa[key] == nil {
				w.ccpa[key] = &service.CCPARow{Right: rt}
			}
			cr = w.ccpa[key]
			cr.Received++
		}
		for _, f := range []*service.Figures{&w.total, fig(w.byType, r.Type), fig(w.byJur, r.Jurisdiction)} {
			f.Received++
			switch r.Status {
			case "completed":
				f.Completed++
			case "rejected":
				f.Refused++
				f.RefusedBy[r.RefusalReason]++
			case "withdrawn":
				f.Withdrawn++
			case "expired":
				f.Expired++
			default:
				f.Open++
				if r.Status == "unverified" {
					f.Unconfirmed++
				}
			}
			open := !slices.Contains([]string{"unverified", "completed", "rejected", "withdrawn", "expired"}, r.Status)
			if open && r.DueAt.Before(now) && r.PausedAt == nil {
				f.Overdue++
			}
			if r.ClosedAt != nil && r.ClosedAt.After(r.DueAt) {
				f.ClosedLate++
			}
			if r.Extended {
				f.Extended++
			}
			if r.AppealOutcome != "" {
				f.Appeals++
			}
			switch r.AppealOutcome {
			case "pending":
				f.AppealsPending++
			case "granted":
				f.AppealsGranted++
			case "denied":
				f.AppealsDenied++
			}
		}
		if cr != nil {
			switch r.Status {
			case "completed":
				cr.Complied++
			case "rejected":
				cr.Denied++
			case "expired":
				cr.Expired++
			case "withdrawn":
				cr.Withdrawn++
			default:
				cr.Open++
			}
		}
		if r.Status == "completed" || r.Status == "rejected" {
			d := int(r.ClosedAt.Sub(r.CreatedAt) / (24 * time.Hour))
			keys := []string{"", "type:" + r.Type, "jur:" + r.Jurisdiction}
			if rt, ok := right[r.Type]; ok {
				keys = append(keys, fmt.Sprintf("ccpa:%d/%s", year, rt))
			}
			for _, k := range keys {
				w.days[k] = append(w.days[k], d)
			}
		}
	}
	return w
}

// repStats is the nearest-rank median and 90th percentile, the maximum
// and the mean to one decimal, from the sorted list.
func repStats(days []int) service.DayStats {
	if len(days) == 0 {
		return service.DayStats{}
	}
	s := slices.Sorted(slices.Values(days))
	at := func(p float64) int { return s[int(math.Ceil(p*float64(len(s))))-1] }
	sum := 0
	for _, d := range s {
		sum += d
	}
	return service.DayStats{N: int64(len(s)), Median: at(0.5), P90: at(0.9), Max: s[len(s)-1],
		Mean: math.Round(float64(sum)/float64(len(s))*10) / 10}
}

func repGet(t *testing.T, a *apptest.App, tok, query string) *service.Report {
	t.Helper()
	resp, body := a.Do(http.MethodGet, "/api/v1/reports?"+query, nil, map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reports ?%s: %d %s", query, resp.StatusCode, body)
	}
	var rep service.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func repCheck(t *testing.T, what string, got, want service.Figures, days []int) {
	t.Helper()
	want.DaysToClose = repStats(days)
	if got.RefusedBy == nil {
		got.RefusedBy = map[string]int64{}
	}
	if want.RefusedBy == nil {
		want.RefusedBy = map[string]int64{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestReportFigures protects every figure of the report against the
// same figures computed in Go from the rows inserted: a range over two
// calendar years in the organisation's time zone, its edges, one
// jurisdiction, every type, state, reason and appeal outcome, late
// closes, extensions, paused clocks and purged stubs.
func TestReportFigures(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	tok := a.StaffToken("reports@example.org", "reviewer")
	loc, err := time.LoadLocation(a.Cfg.Organisation.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, loc).UTC()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, loc).UTC()
	rows := repSeed(t, a, 900, start, end)
	now := a.Clock.Now()

	for _, jur := range []string{"", "ccpa", "vcdpa"} {
		q := "from=2025-03-01&to=2026-02-28"
		if jur != "" {
			q += "&jurisdiction=" + jur
		}
		rep := repGet(t, a, tok, q)
		w := repExpect(rows, start, end, now, jur, loc)
		if rep.From != "2025-03-01" || rep.To != "2026-02-28" || rep.Jurisdiction != jur || rep.TimeZone != "Europe/Berlin" {
			t.Errorf("?%s: period %s..%s %q %s", q, rep.From, rep.To, rep.Jurisdiction, rep.TimeZone)
		}
		if w.total.Received < 100 && jur == "" {
			t.Fatalf("the seed put only %d requests in the range", w.total.Received)
		}
		repCheck(t, q+" total", rep.Total, w.total, w.days[""])
		if len(rep.ByType) != len(workflow.RequestTypes()) {
			t.Errorf("%s: %d type rows", q, len(rep.ByType))
		}
		for _, r := range rep.ByType {
			want := w.byType[r.Key]
			if want == nil {
				want = &service.Figures{}
			}
			repCheck(t, q+" type "+r.Key, r.Figures, *want, w.days["type:"+r.Key])
		}
		wantJur := a.Cfg.Jurisdictions.Order
		if jur != "" {
			wantJur = []string{jur}
		}
		var gotJur []string
		for _, r := range rep.ByJurisdiction {
			gotJur = append(gotJur, r.Key)
			want := w.byJur[r.Key]
			if want == nil {
				want = &service.Figures{}
			}
			repCheck(t, q+" jurisdiction "+r.Key, r.Figures, *want, w.days["jur:"+r.Key])
		}
		if !slices.Equal(gotJur, wantJur) {
			t.Errorf("%s: jurisdiction rows %v, want %v", q, gotJur, wantJur)
		}
		repCheckCCPA(t, q, rep, w)
	}
}

func repCheckCCPA(t *testing.T, q string, rep *service.Report, w repWant) {
	t.Helper()
	if len(rep.CCPA) != 2 || rep.CCPA[0].Year != 2025 || rep.CCPA[1].Year != 2026 ||
		rep.CCPA[0].From != "2025-03-01" || rep.CCPA[0].To != "2025-12-31" ||
		rep.CCPA[1].From != "2026-01-01" || rep.CCPA[1].To != "2026-02-28" {
		t.Fatalf("%s: CCPA years %+v", q, rep.CCPA)
	}
	for _, y := range rep.CCPA {
		var rights []string
		for _, got := range y.Rights {
			rights = append(rights, got.Right)
			key := fmt.Sprintf("%d/%s", y.Year, got.Right)
			want := service.CCPARow{Right: got.Right}
			if w.ccpa[key] != nil {
				want = *w.ccpa[key]
			}
			want.DaysRespond = repStats(w.days["ccpa:"+key])
			if got != want {
				t.Errorf("%s: CCPA %s:\n got %+v\nwant %+v", q, key, got, want)
			}
			if got.Received != got.Complied+got.Denied+got.Expired+got.Withdrawn+got.Open {
				t.Errorf("%s: CCPA %s columns do not add up: %+v", q, key, got)
			}
		}
		if strings.Join(rights, ",") != "know,delete,correct,opt-out" {
			t.Errorf("%s: CCPA rights %v", q, rights)
		}
	}
}

// TestReportDefaultsAndEmpty: without dates the report is this calendar
// year to date, says so, and an empty database gives zeros, not errors.
func TestReportDefaultsAndEmpty(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	tok := a.StaffToken("reports@example.org", "reviewer")
	today := a.Cfg.Calendar().Today(a.Clock.Now())
	rep := repGet(t, a, tok, "")
	if rep.From != fmt.Sprintf("%04d-01-01", today.Year) || rep.To != today.String() ||
		!slices.Equal(rep.Defaults, []string{"to", "from"}) {
		t.Errorf("defaults: %s..%s %v, want this year to %s", rep.From, rep.To, rep.Defaults, today)
	}
	if rep.Total.Received != 0 || rep.Total.DaysToClose != (service.DayStats{}) || len(rep.CCPA) != 1 {
		t.Errorf("empty: %+v", rep)
	}
	rep = repGet(t, a, tok, "to=2025-06-30")
	if rep.From != "2025-01-01" || rep.To != "2025-06-30" {
		t.Errorf("to only: %s..%s", rep.From, rep.To)
	}
}

// TestReportBadInput: every bad parameter is a 422 with SPEC §7's error
// shape naming the field, on the API and on the page, never a 500.
func TestReportBadInput(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	tok := a.StaffToken("reports@example.org", "reviewer")
	b := wsSignedIn(a, "reports@example.org")
	for q, field := range map[string]string{
		"from=2025-13-01":                           "from",
		"from=2025-02-30":                           "from",
		"from=yesterday":                            "from",
		"to=31.12.2025":                             "to",
		"to=2025-12-31T00:00:00Z":                   "to",
		"from=2026-02-01&to=2026-01-31":             "from",
		"from=2010-01-01&to=2025-12-31":             "from",
		"jurisdiction=mars":                         "jurisdiction",
		"jurisdiction=GDPR":                         "jurisdiction",
		"from=%00&to=%ff":                           "from",
		"from=0000-01-01&to=9999-12-31":             "from",
		"jurisdiction=" + strings.Repeat("x", 3000): "jurisdiction",
	} {
		resp, body := a.Do(http.MethodGet, "/api/v1/reports?"+q, nil, map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("API ?%.60s: %d %s", q, resp.StatusCode, body)
			continue
		}
		var e struct {
			Error struct {
				Code   string            `json:"code"`
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code != "invalid" || e.Error.Fields[field] == "" {
			t.Errorf("API ?%.60s: want field %s in %s", q, field, body)
		}
		resp, page := b.Get("/staff/reports?" + q)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="r-`+field+`-err"`) ||
			!strings.Contains(page, `role="alert"`) {
			t.Errorf("page ?%.60s: %d, want 422 with the %s field's error", q, resp.StatusCode, field)
		}
	}
	// A scoped token reads reports with reports:read, the CSV export
	// with requests:read, and neither with the other's scope alone.
	reports := scopedToken(t, a, "reports@example.org", nil, service.ScopeReportsRead)
	requests := scopedToken(t, a, "reports@example.org", nil, service.ScopeRequestsRead)
	for _, c := range []struct {
		path, tok string
		want      int
	}{
		{"/api/v1/reports", reports, http.StatusOK},
		{"/api/v1/reports", requests, http.StatusForbidden},
		{"/api/v1/requests.csv", requests, http.StatusOK},
		{"/api/v1/requests.csv", reports, http.StatusForbidden},
	} {
		if resp, body := a.Do(http.MethodGet, c.path, nil, map[string]string{"Authorization": "Bearer " + c.tok}); resp.StatusCode != c.want {
			t.Errorf("%s with one scope: %d, want %d: %s", c.path, resp.StatusCode, c.want, body)
		}
	}
	// Without a token, or with a session only, the API refuses.
	if resp, _ := a.Do(http.MethodGet, "/api/v1/reports", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	// Signed out, the page sends the browser to sign in.
	if resp, _ := a.Browser().Get("/staff/reports"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out: %d", resp.StatusCode)
	}
}

// TestReportPage: any staff member sees the page from the navigation,
// with the period said in words, every chart an image with a title and
// a description, and its figures in tables.
func TestReportPage(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "reviewer@example.org", "reviewer")
	loc, _ := time.LoadLocation(a.Cfg.Organisation.TimeZone)
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, loc).UTC()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, loc).UTC()
	rows := repSeed(t, a, 300, start, end)
	w := repExpect(rows, start, end, a.Clock.Now(), "", loc)
	b := wsSignedIn(a, "reviewer@example.org")
	_, queue := b.Get("/staff")
	if !strings.Contains(queue, `<a href="/staff/reports">Reports</a>`) {
		t.Error("the workspace navigation has no Reports link")
	}
	resp, page := b.Get("/staff/reports?from=2025-03-01&to=2026-02-28")
	wsWant(t, "reports page", resp, page, http.StatusOK)
	for _, want := range []string{
		"<strong>2025-03-01</strong> to <strong>2026-02-28</strong>", "Europe/Berlin",
		"this calendar year to date",
		fmt.Sprintf("<dt>Received</dt><dd>%d</dd>", w.total.Received),
		fmt.Sprintf("<dt>Refused</dt><dd>%d</dd>", w.total.Refused),
		"<caption>Requests by type and outcome</caption>", "<caption>Refusals by jurisdiction and reason</caption>",
		"<caption>2025 (2025-03-01 to 2025-12-31)</caption>", "Complied with in whole or in part",
		"are <em>not</em> counted as denied",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	charts := strings.Count(page, "<svg ")
	if charts != 4 || strings.Count(page, `role="img"`) != charts || strings.Count(page, "<title id=") != charts ||
		strings.Count(page, "<desc id=") != charts || strings.Contains(page, "<script") {
		t.Errorf("charts: %d svg, %d role=img, %d titles, %d descs", charts, strings.Count(page, `role="img"`),
			strings.Count(page, "<title id="), strings.Count(page, "<desc id="))
	}
	for _, id := range []string{"chart-type", "chart-jurisdiction", "chart-reasons", "chart-days"} {
		if !strings.Contains(page, `aria-labelledby="`+id+`-title `+id+`-desc"`) {
			t.Errorf("chart %s is not labelled by its title and description", id)
		}
	}
	if resp, css := b.Get("/static/reports.css"); resp.StatusCode != http.StatusOK || !strings.Contains(css, "overflow-x") {
		t.Errorf("reports.css: %d", resp.StatusCode)
	}
}
