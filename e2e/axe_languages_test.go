package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// languageCodes are the languages every public page is offered in.
var languageCodes = []string{"en", "de", "fr", "es", "pt-BR"}

// withLang is the page's address with ?lang= set, its other query
// parameters kept.
func withLang(t *testing.T, pathOrURL, lang string) string {
	t.Helper()
	u, err := url.Parse(pathOrURL)
	if err != nil {
		t.Fatalf("address %q: %v", pathOrURL, err)
	}
	q := u.Query()
	q.Set("lang", lang)
	u.RawQuery = q.Encode()
	return u.String()
}

// langCheck runs the accessibility checks (hand-written and axe-core)
// on the page without a screenshot, which would cost more than all the
// rest on this many pages, and fails unless the page is in lang.
func (tb *tab) langCheck(step, lang string) {
	tb.t.Helper()
	step += "-" + lang
	if got := eval[string](tb, `document.documentElement.lang`); got != lang {
		tb.t.Errorf("%s: %q (%s) is in language %q, want %q", tb.name, step, tb.path(), got, lang)
	}
	if v := tb.a11y(); len(v) > 0 {
		tb.t.Errorf("%s: accessibility of %q (%s), %d violations:\n  %s", tb.name, step, tb.path(), len(v), strings.Join(v, "\n  "))
	}
	tb.axeCheck(step)
}

// subjectStates are status pages in the states a subject sees, and the
// other links a subject follows from mail, made once in English for
// every language to view.
type subjectStates struct {
	verify   string // the unconfirmed request's verification link
	verified string // the page after a confirmation, by reference
	received string // status: confirmed, waiting for review
	question string // status: staff asked a question
	answered string // status: the subject answered it
	appeal   string // status: refused, with the appeal form
	download string // status: complete, the package ready to download
}

// makeSubjectStates files the requests behind subjectStates through the
// API and staff actions, in English.
func makeSubjectStates(a *apptest.App, staff string) subjectStates {
	t := a.T
	t.Helper()
	var s subjectStates
	a.Submit(map[string]any{"type": "access", "email": "lang.unconfirmed@example.com", "full_name": "Una Confirmed"})
	s.verify = a.MailWithSubject("lang.unconfirmed@example.com", "Please confirm").Link(t, "/verify?token=")

	_, ref := fileVerified(a, map[string]any{"type": "erasure", "email": "lang.received@example.com", "full_name": "Rita Received"})
	s.verified = "/verified?ref=" + url.QueryEscape(ref)
	s.received = a.MailWithSubject("lang.received@example.com", "We received").Link(t, "/status/")

	id, _ := fileVerified(a, map[string]any{"type": "access", "email": "lang.question@example.com", "full_name": "Quinn Question"})
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "request_info", "message": "Which account do you mean?"})
	s.question = a.MailWithSubject("lang.question@example.com", "We received").Link(t, "/status/")

	id, _ = fileVerified(a, map[string]any{"type": "access", "email": "lang.answered@example.com", "full_name": "Ann Answered"})
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "request_info", "message": "Which account do you mean?"})
	s.answered = a.MailWithSubject("lang.answered@example.com", "We received").Link(t, "/status/")
	token := strings.TrimPrefix(s.answered, a.URL("/status/"))
	if resp, body := a.Browser().PostForm("/status/"+token+"/answer", url.Values{"message": {"The one with my work address."}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer the question: %d\n%s", resp.StatusCode, body)
	}
	s.answered += "?done=answer"

	id, _ = fileVerified(a, map[string]any{"type": "access", "email": "lang.appeal@example.com", "full_name": "Sam Appeal", "jurisdiction": "vcdpa"})
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "reject", "reason": "manifestly_unfounded", "message": "The account you name was never ours."})
	s.appeal = a.MailWithSubject("lang.appeal@example.com", "Our decision").Link(t, "/status/")

	s.download = releasedPackage(a, staff, "jane@example.com") // in the sample organisation's systems
	return s
}

// TestAxeEveryLanguage protects every public page in every language, on phone and desktop: it is in the language asked for, and axe-core and the hand-written check find nothing serious.
func TestAxeEveryLanguage(t *testing.T) {
	dsn := apptest.OrgFixture(t, t.TempDir())
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		for _, s := range apptest.OrgSystems(t, dsn, "https://127.0.0.1:9/support") {
			if s.Connector.Kind != config.ConnectorWebhook {
				c.Systems = append(c.Systems, s)
			}
		}
	}})
	staff := a.StaffToken("ada@example.org", "admin")
	states := makeSubjectStates(a, staff)

	browser := newBrowser(t)
	for _, vp := range []viewport{phone, desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			t.Parallel() // two tabs of one browser, on the two cores
			tb := newTab(t, a, browser, vp, chromedp.WithNewBrowserContext())
			for _, lang := range languageCodes {
				everyPublicPageIn(tb, states, lang)
			}
		})
	}
}

// everyPublicPageIn opens every public page with ?lang= and checks it;
// the pages that answer a form are reached by sending the form, whose
// language the cookie that ?lang= set keeps.
func everyPublicPageIn(tb *tab, s subjectStates, lang string) {
	t := tb.t
	t.Helper()
	view := func(step, pathOrURL string, want int) {
		t.Helper()
		tb.wantStatus(step, tb.open(withLang(t, pathOrURL, lang)), want)
		tb.langCheck(step, lang)
	}
	view("home", "/", http.StatusOK)
	view("chooser", "/request", http.StatusOK)
	for _, st := range subjectTypes {
		// The refused form holds all of the empty one and its errors:
		// the empty one is only asked for its language, which saves a
		// fifth of the test's time.
		tb.wantStatus("form-"+st.typ, tb.open(withLang(t, "/request?type="+st.typ, lang)), http.StatusOK)
		if got := eval[string](tb, `document.documentElement.lang`); got != lang {
			t.Errorf("%s: the %s form with lang=%s is in %q", tb.name, st.typ, lang, got)
		}
		tb.noValidate(`form[action="/request"]`)
		tb.wantStatus("send "+st.typ+" empty", tb.press(`form[action="/request"] button[type=submit]`), http.StatusUnprocessableEntity)
		tb.langCheck("form-errors-"+st.typ, lang)
	}
	view("sent", "/request/sent", http.StatusOK)
	view("verify", s.verify, http.StatusOK)
	view("verify-bad-link", "/verify?token=not-a-real-token", http.StatusNotFound)
	view("verified", s.verified, http.StatusOK)
	view("status", s.received, http.StatusOK)
	view("withdraw", s.received+"/withdraw", http.StatusOK)
	view("status-question", s.question, http.StatusOK)
	tb.noValidate(`form[action$="/answer"]`)
	tb.wantStatus("empty answer", tb.press(`form[action$="/answer"] button[type=submit]`), http.StatusUnprocessableEntity)
	tb.langCheck("status-answer-error", lang)
	view("status-answered", s.answered, http.StatusOK)
	view("status-appeal", s.appeal, http.StatusOK)
	view("status-download", s.download, http.StatusOK)
	if eval[bool](tb, `!!document.querySelector('form[action$="/code"]')`) {
		tb.wantStatus("ask for a download code", tb.press(`form[action$="/code"] button[type=submit]`), http.StatusOK)
		tb.langCheck("status-download-code", lang)
	}
	view("status-bad-link", "/status/not-a-real-token", http.StatusNotFound)
	view("not-found", "/no-such-page", http.StatusNotFound)
}
