package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// subjectType is one request type as the subject files it: the form's
// heading, how to fill its own fields, and what must then be stored.
type subjectType struct {
	typ, title string
	fill       func(tb *tab)
	stored     []string // substrings of the stored details
}

var subjectTypes = []subjectType{
	{"access", "Get a copy of your data", func(tb *tab) {
		tb.fill("#description", "Also my old address, 1 Old Street.")
	}, []string{"1 Old Street"}},
	{"rectification", "Correct your data", func(tb *tab) {
		tb.fill("#inaccurate", "My surname is spelt Exmaple.")
		tb.fill("#correction", "It is Example.")
	}, []string{"Exmaple", "It is Example."}},
	{"erasure", "Delete your data", func(tb *tab) {
		tb.choose("#jurisdiction", "uk_gdpr")
	}, nil},
	{"restriction", "Restrict the use of your data", func(tb *tab) {
		tb.toggle("#ground-legal_claim")
	}, []string{"legal_claim"}},
	{"objection", "Object to the use of your data", func(tb *tab) {
		if tb.vp.Phone {
			tb.toggle("#direct_marketing")
			return
		}
		tb.fill("#grounds", "You call me at work, which my employer sees.")
	}, nil},
	{"portability", "Take your data elsewhere", func(tb *tab) {}, nil},
	{"consent_withdrawal", "Withdraw your consent", func(tb *tab) {
		tb.fill("#consent", "newsletter")
	}, []string{"newsletter"}},
}

// fullJourney says which types go the whole way (status page, question,
// answer, withdrawal) on which viewport; the rest are filed and
// confirmed. Every type goes the whole way once.
var fullJourney = map[string]map[string]bool{
	"phone":   {"access": true, "restriction": true, "consent_withdrawal": true},
	"desktop": {"rectification": true, "erasure": true, "objection": true, "portability": true},
}

// TestSubjectJourney protects the subject's way for every type on phone and desktop: file, confirm by mail, status, answer, withdraw.
func TestSubjectJourney(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	browser := newBrowser(t)
	staff := a.StaffToken("reviewer@example.org", "reviewer")
	for _, vp := range []viewport{phone, desktop} {
		for i, st := range subjectTypes {
			t.Run(vp.Name+"/"+st.typ, func(t *testing.T) {
				tb := newTab(t, a, browser, vp)
				ref, email := fileAndConfirm(tb, st, i == 0)
				if fullJourney[vp.Name][st.typ] {
					followStatus(tb, staff, ref, email)
				}
			})
		}
	}
}

// fileAndConfirm files a request of the type from the home page, and
// confirms it with the link from the mail. It returns the reference and
// the subject's address.
func fileAndConfirm(tb *tab, st subjectType, viaChooser bool) (ref, email string) {
	t, a := tb.t, tb.a
	t.Helper()
	email = tb.vp.Name + "." + strings.ReplaceAll(st.typ, "_", "-") + "@example.com"
	tb.open("/")
	tb.wantH1("Your data, your rights")
	tb.page("home")
	if viaChooser {
		tb.press(`header nav a[href="/request"]`)
		tb.wantH1("Make a request")
		tb.page("chooser")
		tb.press(`a.choice[href="/request?type=` + st.typ + `"]`)
	} else {
		tb.press(`ul.rights a[href="/request?type=` + st.typ + `"]`)
	}
	tb.wantH1(st.title)
	tb.page("form")

	tb.fill("#full_name", "Alex Example")
	tb.fill("#email", email)
	st.fill(tb)
	resp := tb.press(`form[action="/request"] button[type=submit]`)
	tb.wantStatus("send the form", resp, http.StatusOK)
	tb.wantH1("Check your mailbox")
	if p := tb.path(); p != "/request/sent" {
		t.Fatalf("after sending the form: at %s", p)
	}
	tb.page("sent")

	// The link's page shows a button and changes nothing.
	link := a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token=")
	tb.wantStatus("open the verification link", tb.open(link), http.StatusOK)
	tb.wantH1("Confirm your request")
	tb.page("verify")
	ref = eval[string](tb, `document.querySelector('main .lead strong').innerText.trim()`)
	r := byReference(a, ref)
	if r.Status != "unverified" || r.Type != st.typ || r.Email != email || r.FullName != "Alex Example" {
		t.Fatalf("after opening the link: %s %s %s %q, want unverified %s %s", r.Status, r.Type, r.Email, r.FullName, st.typ, email)
	}
	for _, s := range st.stored {
		if !strings.Contains(r.Details, s) {
			t.Errorf("stored details %s lack %q", r.Details, s)
		}
	}
	if st.typ == "erasure" && r.Jurisdiction != "uk_gdpr" {
		t.Errorf("jurisdiction %q, want the one chosen (uk_gdpr)", r.Jurisdiction)
	}
	if st.typ == "objection" && tb.vp.Phone && !strings.Contains(r.Details, `"direct_marketing":true`) {
		t.Errorf("objection to direct marketing not stored: %s", r.Details)
	}

	resp = tb.press(`form[action="/verify"] button[type=submit]`)
	tb.wantStatus("confirm", resp, http.StatusOK)
	tb.wantH1("your request is confirmed")
	r = byReference(a, ref)
	if r.Status != "verified" {
		t.Fatalf("after confirming: %s", r.Status)
	}
	tb.wantText(ref, "We will answer by", dueDate(a, r))
	tb.page("verified")
	return ref, email
}

// followStatus opens the status page from the acknowledgment mail, has
// a staff member ask a question, answers it on the page, and withdraws
// the request.
func followStatus(tb *tab, staff, ref, email string) {
	t, a := tb.t, tb.a
	t.Helper()
	status := a.MailWithSubject(email, "We received").Link(t, "/status/")
	tb.wantStatus("open the status link", tb.open(status), http.StatusOK)
	tb.wantH1(ref)
	tb.wantText("received, waiting for review", dueDate(a, byReference(a, ref)))
	tb.page("status")

	id := byReference(a, ref).ID
	act(a, staff, id, map[string]any{"action": "start_review"})
	question := "Which customer number do you mean?"
	act(a, staff, id, map[string]any{"action": "request_info", "message": question})
	tb.must("reload the status page", chromedp.Reload())
	tb.wantText("waiting for your answer", "We need something from you", question)
	tb.page("status-question")

	tb.fill("#answer", "It is 12345.")
	resp := tb.press(`form[action$="/answer"] button[type=submit]`)
	tb.wantStatus("answer", resp, http.StatusOK)
	tb.wantText("Thank you, we received your answer.", "being reviewed", "It is 12345.")
	if s := byReference(a, ref).Status; s != "in_review" {
		t.Fatalf("after the answer: %s, want in_review", s)
	}
	tb.page("status-answered")

	tb.press(`a.button[href$="/withdraw"]`)
	tb.wantH1("Withdraw your request " + ref)
	tb.page("withdraw")
	tb.toggle("#confirm")
	resp = tb.press(`form[action$="/withdraw"] button[type=submit]`)
	tb.wantStatus("withdraw", resp, http.StatusOK)
	tb.wantText("Your request is withdrawn", "withdrawn")
	if s := byReference(a, ref).Status; s != "withdrawn" {
		t.Fatalf("after withdrawing: %s, want withdrawn", s)
	}
	if eval[bool](tb, `!!document.querySelector('a.button[href$="/withdraw"]')`) {
		t.Errorf("a withdrawn request still offers withdrawal")
	}
	tb.page("withdrawn")
}
