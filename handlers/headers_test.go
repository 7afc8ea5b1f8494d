package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// TestStaffAnswersNoStore: every staff API answer (lists, a request with
// its timeline, an action's result, a note, an error) and every
// workspace page holds personal data or is about it, and tells caches
// not to keep it.
func TestStaffAnswersNoStore(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tok := a.StaffToken("nostore@example.org", "admin")
	id, _ := trSubmitVerified(t, a, trEmail("nostore"), "access", "gdpr")
	bearer := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	v := version(trGet(t, a, tok, id))
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/api/v1/requests", "", http.StatusOK},
		{http.MethodGet, "/api/v1/requests?status=all&q=nostore", "", http.StatusOK},
		{http.MethodGet, "/api/v1/requests/" + id, "", http.StatusOK},
		{http.MethodPost, "/api/v1/requests/" + id + "/notes", `{"body":"Called the subject back."}`, http.StatusCreated},
		{http.MethodPost, "/api/v1/requests/" + id + "/actions", mustJSON(trBody("start_review", v)), http.StatusOK},
		{http.MethodPost, "/api/v1/requests/" + id + "/actions", mustJSON(trBody("start_review", v)), http.StatusConflict},
		{http.MethodGet, "/api/v1/requests/nothing", "", http.StatusNotFound},
		{http.MethodGet, "/metrics", "", http.StatusOK},
	} {
		resp, b := a.Do(c.method, c.path, strings.NewReader(c.body), bearer)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, b)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", c.method, c.path, cc)
		}
	}

	b := a.Browser()
	b.SignIn("nostore@example.org", "correct horse battery staple")
	for _, p := range []string{"/staff", "/staff/requests/" + id, "/staff/admin", "/staff/2fa"} {
		resp, body := b.Get(p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p, resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, cc)
		}
	}
}

// TestCrossSiteRefusalHeaders: the 403 for a cross-site post is written
// by http.CrossOriginProtection before gin sees the request, and must
// still carry the security headers of every other answer: it must not
// be the one page another site may frame or a browser may sniff.
func TestCrossSiteRefusalHeaders(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		c.HTTP.BaseURL = "https://privacy.example.org"
	}})
	cross := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Accept": "text/html"}
	form := url.Values{"type": {"access"}, "full_name": {"Jane Doe"}, "email": {"jane@example.com"}}
	page, body := postForm(t, a, "/request", form, cross)
	wantHTML(t, page, body, http.StatusForbidden)
	if !strings.Contains(body, "another website") {
		t.Errorf("refusal page: %s", body)
	}
	api, b := postRaw(t, a, "/api/v1/requests", "application/json", mustJSON(map[string]any{"type": "access",
		"full_name": "Jane Doe", "email": "jane@example.com"}), cross)
	checkError(t, api, b, http.StatusForbidden, "")

	// The same headers as the home page, one by one.
	home, _ := getPage(t, a, "/", nil)
	for name, resp := range map[string]*http.Response{"page": page, "JSON": api} {
		checkSecurityHeaders(t, resp)
		for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
			"X-Frame-Options", "Cross-Origin-Opener-Policy", "Strict-Transport-Security"} {
			if got, want := resp.Header.Get(k), home.Header.Get(k); got != want || want == "" {
				t.Errorf("cross-site refusal (%s): %s %q, home page %q", name, k, got, want)
			}
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("cross-site refusal (%s): Cache-Control %q", name, cc)
		}
	}
}
