package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// TestAccessibilityEveryPage protects the accessibility of every subject and staff page, error states included, on phone and desktop, by the hand-written check and axe-core.
func TestAccessibilityEveryPage(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	browser := newBrowser(t)
	for _, vp := range []viewport{phone, desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			t.Parallel() // two tabs of one browser, on the two cores
			// A browser context of its own: no session of the other run.
			tb := newTab(t, a, browser, vp, chromedp.WithNewBrowserContext())
			id := everySubjectPage(tb, staff)
			everyStaffPage(tb, id)
		})
	}
}

// everySubjectPage checks the subject's pages: home, chooser, each form
// empty and refused, the confirmation pages, a bad link, the status page
// with a question and a refused answer, the withdrawal, an error page. It
// returns the id of the request it filed.
func everySubjectPage(tb *tab, staff string) (id string) {
	t, a := tb.t, tb.a
	t.Helper()
	email := "pat." + tb.vp.Name + "@example.com"
	tb.open("/")
	tb.page("home")
	tb.open("/request")
	tb.wantH1("Make a request")
	tb.page("chooser")
	for _, st := range subjectTypes {
		tb.open("/request?type=" + st.typ)
		tb.wantH1(st.title)
		tb.page("form-" + st.typ)
		resp := tb.press(`form[action="/request"] button[type=submit]`)
		tb.wantStatus("send "+st.typ+" empty", resp, http.StatusUnprocessableEntity)
		tb.wantText("Please check the form")
		tb.page("form-errors-" + st.typ)
		// The summary's links lead to the fields.
		for _, id := range eval[[]string](tb, `[...document.querySelectorAll('.error-summary a')].map(a => a.hash.slice(1))`) {
			if !eval[bool](tb, `!!document.getElementById(`+jsString(id)+`)`) {
				t.Errorf("%s: the error summary links to #%s, which is not on the page", st.typ, id)
			}
		}
	}

	tb.open("/request?type=access")
	tb.fill("#full_name", "Pat Example")
	tb.fill("#email", email)
	tb.press(`form[action="/request"] button[type=submit]`)
	tb.wantH1("Check your mailbox")
	tb.page("sent")
	tb.open(a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token="))
	tb.wantH1("Confirm your request")
	tb.page("verify")
	tb.press(`form[action="/verify"] button[type=submit]`)
	tb.wantH1("confirmed")
	tb.page("verified")
	resp := tb.open("/verify?token=not-a-real-token")
	tb.wantStatus("bad verification link", resp, http.StatusNotFound)
	tb.page("verify-bad-link")

	status := a.MailWithSubject(email, "We received").Link(t, "/status/")
	tb.open(status)
	tb.page("status")
	ref := strings.TrimPrefix(tb.h1(), "Your request ")
	id = byReference(a, ref).ID
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "request_info", "message": "Which account?"})
	tb.open(status)
	tb.page("status-question")
	tb.noValidate(`form[action$="/answer"]`)
	resp = tb.press(`form[action$="/answer"] button[type=submit]`)
	tb.wantStatus("empty answer", resp, http.StatusUnprocessableEntity)
	tb.page("status-answer-error")
	tb.open(status + "/withdraw")
	tb.page("withdraw")
	resp = tb.open("/status/not-a-real-token")
	if resp < 400 {
		t.Errorf("unknown status link: %d", resp)
	}
	tb.page("error-page")
	return id
}

// everyStaffPage checks the workspace's pages: sign-in and its error,
// the queue and a refused filter, the request's file and a refused note,
// reports, staff administration and its errors, the own API tokens.
func everyStaffPage(tb *tab, id string) {
	t := tb.t
	t.Helper()
	tb.open("/staff/login")
	tb.page("staff-login")
	tb.fill("#email", "ada@example.org")
	tb.fill("#password", "not the password")
	tb.press(`form[action="/staff/login"] button[type=submit]`)
	tb.page("staff-login-failed")
	tb.signIn("ada@example.org")
	tb.page("queue")
	resp := tb.open("/staff?due_within=soon")
	tb.wantStatus("bad filter", resp, http.StatusUnprocessableEntity)
	tb.page("queue-filter-error")
	tb.open("/staff/requests/" + id)
	tb.page("request-file")
	tb.noValidate(`form[action$="/notes"]`)
	resp = tb.press(`form[action$="/notes"] button[type=submit]`)
	if resp != http.StatusUnprocessableEntity {
		t.Errorf("empty note: %d, want 422", resp)
	}
	tb.page("request-file-note-error")
	tb.open("/staff/reports")
	tb.page("reports")
	tb.open("/staff/admin")
	tb.wantH1("Staff and API tokens")
	tb.page("admin")
	tb.must("add staff without a name", chromedp.SendKeys(chromedp.CSS("#new-email"), "x@example.org"))
	tb.noValidate(`form[action="/staff/admin/staff"]`)
	tb.press(`form[action="/staff/admin/staff"] button[type=submit]`)
	tb.page("admin-errors")
	tb.open("/staff/tokens")
	tb.wantH1("Your API tokens")
	tb.page("tokens")
	tb.wantStatus("new own token", tb.press(`form[action="/staff/tokens"] button[type=submit]`), http.StatusOK)
	tb.page("tokens-new")
}
