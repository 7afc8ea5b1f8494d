package handlers_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// langs are the languages config.yaml ships.
var langs = []string{"en", "de", "fr", "es", "pt-BR"}

// missingKeyRE is what a message no catalog has looks like on a page:
// its dotted key in brackets.
var missingKeyRE = regexp.MustCompile(`\[[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\]`)

// wantLang asserts a page in lang: <html lang>, Content-Language, no key
// left untranslated and no template hole.
func wantLang(t *testing.T, what string, resp *http.Response, body, lang string) {
	t.Helper()
	if !strings.Contains(body, `<html lang="`+lang+`">`) {
		t.Errorf("%s: not <html lang=%q>", what, lang)
	}
	if got := resp.Header.Get("Content-Language"); got != lang {
		t.Errorf("%s: Content-Language %q, want %q", what, got, lang)
	}
	if m := missingKeyRE.FindAllString(body, -1); len(m) > 0 {
		t.Errorf("%s in %s: keys without a message: %v", what, lang, m)
	}
	if strings.Contains(body, "<no value>") {
		t.Errorf("%s in %s: a template field without a value", what, lang)
	}
}

// TestLanguageFromBrowser: Accept-Language picks the page's language.
func TestLanguageFromBrowser(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	resp, body := getPage(t, a, "/", map[string]string{"Accept-Language": "de-DE,de;q=0.9"})
	wantHTML(t, resp, body, http.StatusOK)
	wantLang(t, "home", resp, body, "de")
	if !strings.Contains(body, "Ihre Daten, Ihre Rechte") {
		t.Errorf("home page for a German browser is not German:\n%s", body)
	}
	resp, body = getPage(t, a, "/", nil)
	wantLang(t, "home without Accept-Language", resp, body, "en")
}

// TestLanguageChoiceRemembered: ?lang= switches and sets the cookie; the
// switcher keeps the page's parameters; the cookie then wins over the
// browser's Accept-Language, a later ?lang= over the cookie, and an
// unknown ?lang= is ignored.
func TestLanguageChoiceRemembered(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	b := a.Browser()
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9"}

	resp, body := b.Do(http.MethodGet, "/request?type=erasure&lang=fr", nil, de)
	wantHTML(t, resp, body, http.StatusOK)
	wantLang(t, "French form", resp, body, "fr")
	if !strings.Contains(body, "Envoyer la demande") {
		t.Errorf("the form is not French:\n%s", body)
	}
	if got := b.Cookie("portal_lang"); got != "fr" {
		t.Errorf("language cookie %q, want fr", got)
	}
	page := html.UnescapeString(body)
	for _, l := range langs {
		if !strings.Contains(page, `href="/request?lang=`+url.QueryEscape(l)+`&type=erasure"`) {
			t.Errorf("the switcher's link to %s does not keep type=erasure", l)
		}
	}

	resp, body = b.Do(http.MethodGet, "/", nil, de)
	wantLang(t, "home with the cookie", resp, body, "fr")

	resp, body = b.Do(http.MethodGet, "/?lang=es", nil, de)
	wantLang(t, "home with ?lang=es", resp, body, "es")
	if got := b.Cookie("portal_lang"); got != "es" {
		t.Errorf("language cookie %q after ?lang=es", got)
	}

	resp, body = b.Do(http.MethodGet, "/request?type=access&lang=xx", nil, de)
	wantHTML(t, resp, body, http.StatusOK)
	wantLang(t, "form with ?lang=xx", resp, body, "es")
	if got := b.Cookie("portal_lang"); got != "es" {
		t.Errorf("language cookie %q after ?lang=xx", got)
	}
}

// TestEveryPublicPageInEveryLanguage renders each public page, in each of
// its states, in each language: the right lang, no missing message.
func TestEveryPublicPageInEveryLanguage(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")

	// One request of each kind the pages show differently.
	unverified := trEmail("lang-unverified")
	a.Submit(map[string]any{"type": "access", "email": unverified, "full_name": "Test Subject", "jurisdiction": "gdpr"})
	verifyTok := apptest.TokenFromLink(t, a.MailWithSubject(unverified, "Please confirm").Link(t, "/verify?token="))
	_, ref := trSubmitVerified(t, a, trEmail("lang-verified"), "erasure", "gdpr")
	_, _, asked := trInState(t, a, ann, "awaiting_subject", "portability", "gdpr")
	_, _, refused := trInState(t, a, ann, "rejected", "access", "gdpr")
	_, _, appealable := trInState(t, a, ann, "rejected", "access", "vcdpa")
	_, _, closed := trInState(t, a, ann, "withdrawn", "erasure", "gdpr")
	askedTok, refusedTok := trStatusToken(t, a, asked), trStatusToken(t, a, refused)
	appealTok, closedTok := trStatusToken(t, a, appealable), trStatusToken(t, a, closed)

	pages := map[string]int{
		"/": 200, "/request": 200, "/request/sent": 200,
		"/verify?token=" + verifyTok: 200, "/verify?token=nonsense": 404,
		"/verified?ref=" + url.QueryEscape(ref): 200,
		"/status/" + askedTok:                   200, "/status/" + askedTok + "/withdraw": 200,
		"/status/" + refusedTok: 200, "/status/" + appealTok: 200,
		"/status/" + closedTok: 200, "/status/" + closedTok + "/withdraw": 200,
		"/status/" + askedTok + "?done=answer": 200, "/status/" + askedTok + "?done=attach": 200,
		"/status/not-a-token": 404, "/no/such/page": 404,
	}
	for _, typ := range allTypes {
		pages["/request?type="+typ] = 200
	}
	for _, lang := range langs {
		for path, status := range pages {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			resp, body := getPage(t, a, path+sep+"lang="+url.QueryEscape(lang), map[string]string{"Accept": "text/html"})
			if resp.StatusCode != status {
				t.Errorf("%s in %s: %d, want %d", path, lang, resp.StatusCode, status)
				continue
			}
			wantLang(t, path, resp, body, lang)
		}
		// Pages answered to a POST: the form with errors, the status
		// page with a refused answer.
		resp, body := postForm(t, a, "/request?lang="+url.QueryEscape(lang), url.Values{"type": {"restriction"}, "email": {"nope"}},
			map[string]string{"Accept": "text/html", "Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin"})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("form with errors in %s: %d", lang, resp.StatusCode)
		}
		wantLang(t, "the form with errors", resp, body, lang)
		resp, body = spPostLang(t, a, "/status/"+askedTok+"/answer", lang, url.Values{"message": {""}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("empty answer in %s: %d", lang, resp.StatusCode)
		}
		wantLang(t, "the status page with a refused answer", resp, body, lang)
	}

	// The German status page of a refusal names the reason and the right
	// to complain in the DSGVO's words.
	_, body := getPage(t, a, "/status/"+refusedTok+"?lang=de", nil)
	for _, want := range []string{"abgelehnt", "exzessiv", "Recht auf Beschwerde bei einer Aufsichtsbehörde", "DSGVO"} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("German refusal lacks %q", want)
		}
	}
}

// spPostLang posts a status-page form in lang, as a browser on the site.
func spPostLang(t *testing.T, a *apptest.App, path, lang string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, b := a.Do(http.MethodPost, path, strings.NewReader(form.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html", "Cookie": "portal_lang=" + lang,
		"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin",
	})
	return resp, string(b)
}

// TestSwitcherAfterPost: a page answered to a POST links the switcher to
// its GET page, never to the POST-only address.
func TestSwitcherAfterPost(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	_, _, asked := trInState(t, a, ann, "awaiting_subject", "access", "gdpr")
	tok := trStatusToken(t, a, asked)
	resp, body := spPostLang(t, a, "/status/"+tok+"/answer", "de", url.Values{"message": {""}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("empty answer: %d", resp.StatusCode)
	}
	page := html.UnescapeString(body)
	if !strings.Contains(page, `href="/status/`+tok+`?lang=fr"`) || strings.Contains(page, "/answer?lang=") {
		t.Errorf("the switcher does not lead back to the status page:\n%s", page)
	}
	if !strings.Contains(page, "Ihre Antwort") {
		t.Errorf("the status page answered to a German POST is not German")
	}
}

// TestGermanFormErrors: a German visitor's form with errors says what is
// wrong in German, beside each field; the filed request keeps German.
func TestGermanFormErrors(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	b := a.Browser()
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9", "Accept": "text/html"}
	resp, body := b.PostForm("/request", url.Values{"type": {"rectification"}, "email": {"not-an-address"}, "full_name": {""},
		"jurisdiction": {"gdpr"}}, de)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("form with errors: %d\n%s", resp.StatusCode, body)
	}
	wantLang(t, "German form with errors", resp, body, "de")
	page := html.UnescapeString(body)
	for _, want := range []string{
		"Bitte prüfen Sie das Formular",
		"Geben Sie Ihren Namen ein, damit wir Ihre Daten finden.",
		"Geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.com.",
		"Teilen Sie uns mit, wie die richtigen Angaben lauten.",
		`href="/request?lang=fr&type=rectification"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("German form with errors lacks %q", want)
		}
	}
	for _, not := range []string{"Enter your name", "Enter a valid e-mail address", "Tell us what the correct"} {
		if strings.Contains(page, not) {
			t.Errorf("German form with errors says %q", not)
		}
	}

	email := trEmail("lang-de")
	resp, body = b.PostForm("/request", url.Values{"type": {"erasure"}, "email": {email}, "full_name": {"Erika Mustermann"},
		"jurisdiction": {"gdpr"}}, de)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("German request: %d\n%s", resp.StatusCode, body)
	}
	if got := requestLanguage(t, a, email); got != "de" {
		t.Errorf("the request's language is %q, want de", got)
	}
}

// requestLanguage is the stored language of the subject's request.
func requestLanguage(t *testing.T, a *apptest.App, email string) string {
	t.Helper()
	var lang string
	if err := a.DB().Raw("SELECT language FROM requests WHERE email = ?", email).Scan(&lang).Error; err != nil {
		t.Fatal(err)
	}
	return lang
}

// TestAPILanguage: the public API takes an optional language, refuses
// one that is not configured with 422 naming the field.
func TestAPILanguage(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	email := trEmail("api-de")
	resp, m := a.PostJSON("/api/v1/requests", map[string]any{"type": "access", "email": email, "full_name": "Erika Mustermann",
		"jurisdiction": "gdpr", "language": "de"}, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit in German: %d %v", resp.StatusCode, m)
	}
	if got := requestLanguage(t, a, email); got != "de" {
		t.Errorf("the request's language is %q, want de", got)
	}

	resp, m = a.PostJSON("/api/v1/requests", map[string]any{"type": "access", "email": trEmail("api-xx"), "full_name": "X",
		"jurisdiction": "gdpr", "language": "xx"}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("language xx: %d %v", resp.StatusCode, m)
	}
	e, _ := m["error"].(map[string]any)
	fields, _ := e["fields"].(map[string]any)
	if e["code"] != "invalid" || fields["language"] == nil {
		t.Errorf("language xx: %v, want code invalid naming the language field", m)
	}
}
