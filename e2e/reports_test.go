package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/workflow"
)

// seedReport inserts requests of every type, jurisdiction and state
// received in 2025, and returns how many.
func seedReport(t *testing.T, a *apptest.App) int {
	t.Helper()
	states, types, jurs := workflow.States(), workflow.RequestTypes(), a.Cfg.Jurisdictions.Order
	var rows []models.Request
	for i := range 120 {
		created := time.Date(2025, time.Month(1+i%12), 1+i%27, 10, 0, 0, 0, time.UTC)
		st := states[i%len(states)]
		r := models.Request{ID: fmt.Sprintf("e2e-rep-%03d", i), Reference: fmt.Sprintf("DSR-E%05d", i),
			Type: string(types[i%len(types)]), Status: string(st), Jurisdiction: jurs[i%len(jurs)],
			Email: fmt.Sprintf("e%d@example.com", i), FullName: "Report Subject", Details: "{}", Approvals: "[]",
			CreatedAt: created, UpdatedAt: created, VerifyBy: created.Add(72 * time.Hour), DueAt: created.Add(30 * 24 * time.Hour)}
		if st.Closed() {
			c := created.Add(time.Duration(1+i%50) * 24 * time.Hour)
			r.ClosedAt = &c
		}
		if st == workflow.StateRejected {
			r.RefusalReason = string(workflow.RejectionCodes()[i%len(workflow.RejectionCodes())])
		}
		rows = append(rows, r)
	}
	if err := a.Store.InsertRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// chartsJS describes every chart on the page that lacks what a screen
// reader and a reader of numbers need: role="img", a non-empty title
// and description named by aria-labelledby, and a table of its figures
// right after it.
const chartsJS = `[...document.querySelectorAll('svg')].flatMap(svg => {
  const out = [];
  const name = (svg.getAttribute('aria-labelledby') || '').split(/\s+/).map(id => document.getElementById(id));
  if (svg.getAttribute('role') !== 'img') out.push('no role=img');
  if (name.length !== 2 || !name[0] || name[0].tagName !== 'title' || !name[0].textContent.trim()) out.push('no title');
  if (name.length !== 2 || !name[1] || name[1].tagName !== 'desc' || !name[1].textContent.trim()) out.push('no desc');
  const fig = svg.closest('figure');
  const next = fig && fig.nextElementSibling;
  if (!next || !next.querySelector('table caption')) out.push('no table after it');
  return out.map(s => (svg.id || (name[0] && name[0].textContent)) + ': ' + s);
})`

// TestReportsPageInBrowser protects the reports page on a phone and a
// desktop: it is reached from the workspace navigation, shows the
// figures, every chart has a text alternative and a table, the page
// passes the accessibility check (on the phone: no sideways scrolling),
// the jurisdiction filter works, and bad dates come back as a 422 form.
func TestReportsPageInBrowser(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	a.StaffToken("rita@example.org", "reviewer")
	n := seedReport(t, a)
	browser := newBrowser(t)
	for _, vp := range []viewport{phone, desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			tb := newTab(t, a, browser, vp)
			tb.signIn("rita@example.org")
			tb.wantStatus("Reports in the navigation", tb.press(`nav a[href="/staff/reports"]`), http.StatusOK)
			tb.wantH1("Reports")
			tb.wantText("this calendar year to date")
			resp := tb.open("/staff/reports?from=2025-01-01&to=2025-12-31")
			tb.wantStatus("reports for 2025", resp, http.StatusOK)
			tb.wantText("Received", fmt.Sprint(n), "Requests by type and outcome", "Days to close by jurisdiction",
				"Complied with in whole or in part", "2025 (2025-01-01 to 2025-12-31)")
			if got := eval[int](tb, `document.querySelectorAll('svg[role=img]').length`); got != 4 {
				t.Errorf("%d charts, want 4", got)
			}
			if bad := eval[[]string](tb, chartsJS); len(bad) > 0 {
				t.Errorf("charts without their text alternative or table:\n  %s", strings.Join(bad, "\n  "))
			}
			// The summary's received figure is on screen, not only in
			// the markup.
			if !eval[bool](tb, `(() => { const dd = [...document.querySelectorAll('dl.facts dt')].find(d => d.textContent === 'Received').nextElementSibling;
				const r = dd.getBoundingClientRect(); return r.width > 0 && r.height > 0 && dd.textContent.trim() === `+jsString(fmt.Sprint(n))+`; })()`) {
				t.Error("the received total is not visible")
			}
			tb.page("reports-2025")

			tb.choose("#r-jurisdiction", "ccpa")
			tb.wantStatus("filter ccpa", tb.press(`form[action="/staff/reports"] button[type=submit]`), http.StatusOK)
			if p := tb.path(); !strings.Contains(p, "jurisdiction=ccpa") {
				t.Errorf("after the filter the page is %s", p)
			}
			tb.wantText("jurisdiction ccpa")

			resp = tb.open("/staff/reports?from=2025-12-31&to=2025-01-01&jurisdiction=mars")
			tb.wantStatus("bad period", resp, http.StatusUnprocessableEntity)
			tb.wantText("Check the period", "must not be after to", "unknown jurisdiction")
			tb.page("reports-errors")
		})
	}
}
