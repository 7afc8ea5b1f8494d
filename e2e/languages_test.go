package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/i18n"
	"rightsportal/internal/apptest"
	"rightsportal/templates"
)

// missingKey is how a message no catalog has shows ("[status.h1]").
var missingKey = regexp.MustCompile(`\[[a-z_]+(\.[a-z_]+)+\]`)

// speaking is a browser set up in a language: it sends acceptLanguage
// with every request, as a browser installed in German does.
func speaking(t *testing.T, acceptLanguage string) context.Context {
	return newBrowser(t, chromedp.Flag("accept-lang", acceptLanguage), chromedp.Flag("lang", strings.SplitN(acceptLanguage, ",", 2)[0]))
}

// wantLang checks the page's language and that no message is missing.
func (tb *tab) wantLang(step, lang string) {
	tb.t.Helper()
	if got := eval[string](tb, `document.documentElement.lang`); got != lang {
		tb.t.Fatalf("%s: %s is in %q, want %q", step, tb.path(), got, lang)
	}
	if m := missingKey.FindString(tb.text()); m != "" {
		tb.t.Errorf("%s: %s shows the missing message %s", step, tb.path(), m)
	}
}

// wantMailIn checks a mail's language: its Content-Language, its
// <html lang>, and no missing message.
func wantMailIn(t *testing.T, what string, m *apptest.Mail, lang string) {
	t.Helper()
	if got := m.Header.Get("Content-Language"); got != lang {
		t.Errorf("%s: Content-Language %q, want %q (subject %q)", what, got, lang, m.Subject())
	}
	if !strings.Contains(m.HTML, `<html lang="`+lang+`"`) {
		t.Errorf("%s: the HTML part is not marked lang=%q", what, lang)
	}
	for _, part := range []string{m.Subject(), m.Text, m.HTML} {
		if k := missingKey.FindString(part); k != "" {
			t.Errorf("%s: shows the missing message %s", what, k)
		}
	}
}

// TestGermanVisitor is the issue's own check, as a new user would try
// it: a German browser gets the German home page, files an erasure in
// German, receives German mail (while the staff notice stays English),
// the staff file shows the request's language, and switching to French
// keeps the visitor on the page they were on.
func TestGermanVisitor(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	cat, err := i18n.Load(templates.FS, a.Cfg.Languages, a.Cfg.DefaultLanguage)
	if err != nil {
		t.Fatal(err)
	}
	de, fr := cat.For("de"), cat.For("fr")
	staff := a.StaffToken("ada@example.org", "admin")
	tb := newTab(t, a, speaking(t, "de-DE,de,en"), phone)

	tb.open("/")
	tb.wantLang("home", "de")
	tb.wantH1(de.T("home.h1"))
	tb.page("home-de")

	tb.navigate("choose erasure", chromedp.Click(chromedp.CSS(`a[href="/request?type=erasure"]`)))
	tb.wantLang("erasure form", "de")
	tb.wantH1(de.T("type.erasure.title"))
	// Sent empty: the field messages are German too.
	tb.noValidate(`form[action="/request"]`)
	tb.wantStatus("empty form", tb.press(`form[action="/request"] button[type=submit]`), http.StatusUnprocessableEntity)
	tb.wantLang("form errors", "de")
	tb.page("form-errors-de")
	tb.fill("#full_name", "Erika Mustermann")
	tb.fill("#email", "erika@example.de")
	tb.wantStatus("send", tb.press(`form[action="/request"] button[type=submit]`), http.StatusOK)
	tb.wantLang("check your mailbox", "de")

	verification := a.MailTo("erika@example.de", 1)
	wantMailIn(t, "verification", verification, "de")
	tb.open(verification.Link(t, "/verify?token="))
	tb.wantLang("confirm", "de")
	tb.press(`form[action="/verify"] button[type=submit]`)
	tb.wantLang("confirmed", "de")

	r := request(a, firstID(t, a, "erika@example.de"))
	if r.Language != "de" {
		t.Fatalf("the request keeps language %q, want de", r.Language)
	}
	ack := a.MailTo("erika@example.de", 2)
	wantMailIn(t, "acknowledgment", ack, "de")
	if due := de.Date(r.DueAt.In(a.Cfg.Calendar().Loc)); !strings.Contains(ack.Text, due) {
		t.Errorf("the acknowledgment does not give the due date as German writes it (%q):\n%s", due, ack.Text)
	}

	// Staff work in English; the subject still hears German.
	act(a, staff, r.ID, map[string]any{"action": "start_review"})
	act(a, staff, r.ID, map[string]any{"action": "request_info", "message": "Welches Kundenkonto meinen Sie?"})
	question := a.MailTo("erika@example.de", 3)
	wantMailIn(t, "question", question, "de")
	if !strings.Contains(question.Text, "Welches Kundenkonto meinen Sie?") {
		t.Errorf("the question mail lacks the question:\n%s", question.Text)
	}

	staffTab := newTab(t, a, newBrowser(t), desktop)
	staffTab.signIn("ada@example.org")
	staffTab.open("/staff/requests/" + r.ID)
	staffTab.wantText("Language", "Deutsch")
	if got := eval[string](staffTab, `document.documentElement.lang`); got != "en" {
		t.Errorf("the staff file is in %q, want en", got)
	}

	// Switching keeps the place: the status page, then the form with
	// its type.
	status := ack.Link(t, "/status/")
	tb.open(status)
	tb.wantLang("status", "de")
	before := tb.path()
	tb.navigate("switch to French", chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="fr"]`)))
	tb.wantLang("status in French", "fr")
	if got := strings.SplitN(tb.path(), "?", 2)[0]; got != strings.SplitN(before, "?", 2)[0] {
		t.Errorf("switching to French went from %s to %s", before, got)
	}
	tb.page("status-fr")
	tb.open("/request?type=erasure")
	// The choice is remembered over the browser's German.
	tb.wantLang("form after switching", "fr")
	tb.wantH1(fr.T("type.erasure.title"))
	tb.navigate("switch to Spanish", chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="es"]`)))
	tb.wantLang("form in Spanish", "es")
	if !strings.Contains(tb.path(), "type=erasure") {
		t.Errorf("switching lost the form's type: %s", tb.path())
	}
}

// firstID is the id of the request filed from addr.
func firstID(t *testing.T, a *apptest.App, addr string) string {
	t.Helper()
	var id string
	if err := a.DB().Raw("SELECT id FROM requests WHERE email = ?", addr).Scan(&id).Error; err != nil || id == "" {
		t.Fatalf("no request from %s: %v", addr, err)
	}
	return id
}
