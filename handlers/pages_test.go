package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

var allTypes = []string{"access", "rectification", "erasure", "restriction", "objection", "portability", "consent_withdrawal"}

func getPage(t *testing.T, a *apptest.App, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	resp, b := a.Do(http.MethodGet, path, nil, header)
	return resp, string(b)
}

func postForm(t *testing.T, a *apptest.App, path string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	resp, b := postRaw(t, a, path, "application/x-www-form-urlencoded", form.Encode(), header)
	return resp, string(b)
}

func wantHTML(t *testing.T, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d:\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("content type %q, want text/html", ct)
	}
	assertNoGoErrorText(t, []byte(body))
}

var (
	controlRE = regexp.MustCompile(`<(input|textarea|select)\b[^>]*>`)
	attrRE    = regexp.MustCompile(`\b(id|type|name)="([^"]*)"`)
)

// checkLabels asserts that every visible form control has an id and a
// <label for=...> naming it.
func checkLabels(t *testing.T, body string) {
	t.Helper()
	tags := controlRE.FindAllString(body, -1)
	if len(tags) < 4 {
		t.Fatalf("only %d form controls found", len(tags))
	}
	for _, tag := range tags {
		attrs := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
			attrs[m[1]] = m[2]
		}
		if attrs["type"] == "hidden" {
			continue
		}
		if attrs["id"] == "" {
			t.Errorf("control without id: %s", tag)
			continue
		}
		if !strings.Contains(body, `<label for="`+attrs["id"]+`"`) {
			t.Errorf("control %q has no <label for>: %s", attrs["id"], tag)
		}
	}
}

// TestHomePage protects the landing page: every right is offered and
// the under-16 guidance is there, behind the security headers.
func TestHomePage(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	resp, body := getPage(t, a, "/", nil)
	wantHTML(t, resp, body, http.StatusOK)
	for _, typ := range allTypes {
		if !strings.Contains(body, `href="/request?type=`+typ+`"`) {
			t.Errorf("home page does not offer %s", typ)
		}
	}
	if !strings.Contains(body, "under 16") {
		t.Error(`home page does not mention "under 16"`)
	}
	checkSecurityHeaders(t, resp)
}

func checkSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q does not forbid framing", csp)
	}
	if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", v)
	}
	if v := resp.Header.Get("Referrer-Policy"); v != "no-referrer" {
		t.Errorf("Referrer-Policy %q", v)
	}
}

// TestRequestFormPerType protects the form: the chooser lists every
// right, and each type's form asks for what SPEC §2 needs, with a label
// for every field.
func TestRequestFormPerType(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	resp, body := getPage(t, a, "/request", nil)
	wantHTML(t, resp, body, http.StatusOK)
	for _, typ := range allTypes {
		if !strings.Contains(body, `href="/request?type=`+typ+`"`) {
			t.Errorf("chooser does not offer %s", typ)
		}
	}
	resp, body = getPage(t, a, "/request?type=bogus", nil)
	wantHTML(t, resp, body, http.StatusOK)
	if strings.Contains(body, `<form method="post"`) {
		t.Error("?type=bogus shows a form instead of the chooser")
	}

	need := map[string][]string{
		"rectification":      {`name="correction"`, `name="inaccurate"`},
		"restriction":        {`type="radio" id="ground-contested_accuracy" name="ground" value="contested_accuracy"`, `value="unlawful_processing"`, `value="legal_claim"`, `value="pending_objection"`},
		"objection":          {`name="direct_marketing"`, `name="grounds"`},
		"consent_withdrawal": {`name="consent"`},
	}
	for _, typ := range allTypes {
		t.Run(typ, func(t *testing.T) {
			resp, body := getPage(t, a, "/request?type="+typ, nil)
			wantHTML(t, resp, body, http.StatusOK)
			checkSecurityHeaders(t, resp)
			for _, s := range append([]string{`<form method="post" action="/request"`, `name="type" value="` + typ + `"`,
				`name="full_name"`, `name="email"`, `name="jurisdiction"`, `name="description"`}, need[typ]...) {
				if !strings.Contains(body, s) {
					t.Errorf("form lacks %s", s)
				}
			}
			// Fields of other types are not asked.
			for other, fields := range need {
				if other == typ {
					continue
				}
				for _, s := range fields {
					if strings.Contains(body, s) && !strings.Contains(strings.Join(need[typ], " "), s) {
						t.Errorf("form asks %s, which belongs to %s", s, other)
					}
				}
			}
			checkLabels(t, body)
			// Only laws that grant the right are offered.
			if offersVirginia := strings.Contains(body, `<option value="vcdpa"`); offersVirginia == (typ == "restriction") {
				t.Errorf("vcdpa offered=%v for %s", offersVirginia, typ)
			}
		})
	}
}

// TestRequestFormErrors protects the form's error path: 422 with the
// message beside the field, the other values kept, and HTML escaped.
func TestRequestFormErrors(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	form := url.Values{"type": {"rectification"}, "full_name": {"Jane Doe"}, "jurisdiction": {"uk_gdpr"},
		"inaccurate": {"Jane Dough"}, "correction": {"Doe, not Dough"}}
	resp, body := postForm(t, a, "/request", form, nil)
	wantHTML(t, resp, body, http.StatusUnprocessableEntity)
	if !regexp.MustCompile(`<input id="email"[^>]*aria-invalid="true"`).MatchString(body) {
		t.Error(`email input is not aria-invalid="true"`)
	}
	if !regexp.MustCompile(`id="email-error"[^>]*>[^<]*<span[^>]*>Error:</span>\s*Enter your e-mail address`).MatchString(body) {
		t.Errorf("no email-error element with the message:\n%s", body)
	}
	if !regexp.MustCompile(`aria-describedby="email-hint email-error"`).MatchString(body) {
		t.Error("email input does not point at its error")
	}
	if !strings.Contains(body, `href="#email"`) {
		t.Error("error summary does not link to the email field")
	}
	if regexp.MustCompile(`<input id="full_name"[^>]*aria-invalid`).MatchString(body) {
		t.Error("full_name marked invalid though it is fine")
	}
	for _, kept := range []string{`value="Jane Doe"`, `>Jane Dough</textarea>`, `>Doe, not Dough</textarea>`,
		`<option value="uk_gdpr" selected>`} {
		if !strings.Contains(body, kept) {
			t.Errorf("value not kept: %s", kept)
		}
	}
	assertNothingStored(t, a)

	// A missing ground is reported beside the radio group.
	resp, body = postForm(t, a, "/request", url.Values{"type": {"restriction"}, "full_name": {"Jane Doe"},
		"email": {"jane@example.com"}}, nil)
	wantHTML(t, resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="ground-error"`) || !strings.Contains(body, `href="#ground-contested_accuracy"`) {
		t.Errorf("no ground error:\n%s", body)
	}
	assertNothingStored(t, a)

	// What the subject typed comes back escaped, never as markup.
	resp, body = postForm(t, a, "/request", url.Values{"type": {"access"}, "full_name": {`<script>alert(1)</script>`},
		"description": {`</textarea><img src=x onerror=alert(2)>`}}, nil)
	wantHTML(t, resp, body, http.StatusUnprocessableEntity)
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
		t.Errorf("markup echoed raw:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("name not echoed escaped:\n%s", body)
	}
	assertNothingStored(t, a)

	// A type that is no type.
	resp, body = postForm(t, a, "/request", url.Values{"type": {"bogus"}, "full_name": {"Jane"}, "email": {"jane@example.com"}}, nil)
	wantHTML(t, resp, body, http.StatusUnprocessableEntity)
	// A form that cannot be parsed says so without Go's error text.
	resp, b := postRaw(t, a, "/request", "application/x-www-form-urlencoded", "type=access&email=%zz", nil)
	wantHTML(t, resp, string(b), http.StatusBadRequest)
	if strings.Contains(string(b), "invalid URL escape") {
		t.Errorf("form error leaks Go's error text:\n%s", b)
	}
	// A form larger than http.max_body_bytes.
	resp, b = postRaw(t, a, "/request", "application/x-www-form-urlencoded",
		"type=access&description="+strings.Repeat("x", int(a.Cfg.HTTP.MaxBodyBytes)), nil)
	wantHTML(t, resp, string(b), http.StatusRequestEntityTooLarge)
	assertNothingStored(t, a)
}

// TestVerifyPages protects SPEC §8's link flow: the form post redirects,
// GET on the link changes nothing however often it is fetched, only the
// POST confirms, and spent or bad tokens get their own pages.
func TestVerifyPages(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	form := url.Values{"type": {"consent_withdrawal"}, "full_name": {"Page Turner"}, "email": {"page@example.com"},
		"jurisdiction": {"gdpr"}, "consent": {"newsletter"}}
	resp, body := postForm(t, a, "/request", form, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/request/sent" {
		t.Fatalf("valid post: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = getPage(t, a, "/request/sent", nil)
	wantHTML(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "3 days") {
		t.Errorf("sent page does not say how long the link works:\n%s", body)
	}

	_, link, reply := verificationMail(t, a, "page@example.com", 1)
	var id, ref string
	var list map[string]any
	_, list = a.GetJSON("/api/v1/requests?status=unverified", staff)
	items := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items: %v", items)
	}
	id, ref = items[0].(map[string]any)["id"].(string), items[0].(map[string]any)["reference"].(string)
	if d := items[0].(map[string]any)["details"].(map[string]any); d["consent"] != "newsletter" {
		t.Errorf("details from the form: %v", d)
	}

	for i := 0; i < 3; i++ {
		resp, body = getPage(t, a, "/verify?token="+link, nil)
		wantHTML(t, resp, body, http.StatusOK)
		for _, s := range []string{`<form method="post" action="/verify">`, `name="token" value="` + link + `"`,
			`<button type="submit"`, ref} {
			if !strings.Contains(body, s) {
				t.Errorf("confirm page lacks %s", s)
			}
		}
		checkSecurityHeaders(t, resp)
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("confirm page may be cached: %q", resp.Header.Get("Cache-Control"))
		}
	}
	got := staffRequest(t, a, staff, id)
	if got["status"] != "unverified" || got["verified_at"] != nil || len(got["events"].([]any)) != 1 {
		t.Fatalf("GET /verify changed the request: %v", got)
	}

	// The reply token is not a link token.
	resp, body = getPage(t, a, "/verify?token="+reply, nil)
	wantHTML(t, resp, body, http.StatusNotFound)

	// A cross-site post is refused and changes nothing.
	resp, b := postRaw(t, a, "/verify", "application/x-www-form-urlencoded", url.Values{"token": {link}}.Encode(),
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST /verify: %d %s", resp.StatusCode, b)
	}
	if got := staffRequest(t, a, staff, id); got["status"] != "unverified" {
		t.Fatalf("cross-site post verified: %v", got)
	}

	// A same-origin browser post confirms.
	resp, body = postForm(t, a, "/verify", url.Values{"token": {link}},
		map[string]string{"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/verified?ref="+url.QueryEscape(ref) {
		t.Fatalf("POST /verify: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	got = staffRequest(t, a, staff, id)
	if got["status"] != "verified" {
		t.Fatalf("after POST /verify: %v", got)
	}
	due, err := time.Parse(time.DateOnly, got["due_date"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp, body = getPage(t, a, resp.Header.Get("Location"), nil)
	wantHTML(t, resp, body, http.StatusOK)
	if !strings.Contains(body, ref) || !strings.Contains(body, due.Format("Monday, 2 January 2006")) {
		t.Errorf("confirmed page lacks reference %s or due date %s:\n%s", ref, due.Format("Monday, 2 January 2006"), body)
	}

	// Spent, unknown and malformed tokens.
	resp, body = getPage(t, a, "/verify?token="+link, nil)
	wantHTML(t, resp, body, http.StatusGone)
	if strings.Contains(body, `action="/verify"`) {
		t.Error("spent link still shows the confirm form")
	}
	resp, body = postForm(t, a, "/verify", url.Values{"token": {link}}, nil)
	wantHTML(t, resp, body, http.StatusGone)
	for _, bad := range []string{"", "nonsense", strings.Repeat("a", 32), "%3Cscript%3E"} {
		resp, body = getPage(t, a, "/verify?token="+bad, nil)
		wantHTML(t, resp, body, http.StatusNotFound)
		if strings.Contains(body, "<script>") {
			t.Error("token echoed raw")
		}
	}
	resp, body = postForm(t, a, "/verify", url.Values{"token": {strings.Repeat("b", 32)}}, nil)
	wantHTML(t, resp, body, http.StatusNotFound)
	// The confirmed page needs a reference that exists and is confirmed.
	resp, body = getPage(t, a, "/verified?ref=DSR-0000-0000", nil)
	wantHTML(t, resp, body, http.StatusNotFound)
	if n := countRows(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ? AND kind = 'acknowledgment'", id); n != 1 {
		t.Errorf("%d acknowledgments, want 1", n)
	}
}

// TestCrossSiteFormPost protects the public form against cross-site
// posts: refused with 403 before anything is stored.
func TestCrossSiteFormPost(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	form := url.Values{"type": {"access"}, "full_name": {"Jane Doe"}, "email": {"jane@example.com"}}
	resp, body := postForm(t, a, "/request", form, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site form post: %d %s", resp.StatusCode, body)
	}
	assertNothingStored(t, a)
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", mustJSON(map[string]any{"type": "access",
		"full_name": "Jane Doe", "email": "jane@example.com"}), map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	checkError(t, resp, b, http.StatusForbidden, "")
	assertNothingStored(t, a)
}

// TestStaticAndNotFound protects the stylesheet's content type and the
// 404 answers: a page for browsers, JSON under /api/.
func TestStaticAndNotFound(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	resp, body := getPage(t, a, "/static/style.css", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || len(body) == 0 {
		t.Fatalf("style.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("static file without nosniff")
	}
	resp, body = getPage(t, a, "/static/", nil)
	wantHTML(t, resp, body, http.StatusNotFound)
	resp, body = getPage(t, a, "/static/nope.css", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/static/nope.css: %d", resp.StatusCode)
	}

	resp, body = getPage(t, a, "/no/such/page", nil)
	wantHTML(t, resp, body, http.StatusNotFound)
	checkSecurityHeaders(t, resp)
	resp, b := a.Do(http.MethodGet, "/api/v1/nothing", nil, nil)
	e := checkError(t, resp, b, http.StatusNotFound, "")
	if e["code"] != "not_found" {
		t.Errorf("code %v", e["code"])
	}
	// A method the route does not take.
	resp, b = a.Do(http.MethodDelete, "/api/v1/requests", nil, nil)
	checkError(t, resp, b, http.StatusMethodNotAllowed, "")
	resp, body = getPage(t, a, "/healthz", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	resp, body = getPage(t, a, "/readyz", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
}
