package apptest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Client is a cookie-keeping HTTP client that does not follow redirects,
// so that a test sees every 303 and every Set-Cookie.
func (a *App) Client() *http.Client {
	a.T.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		a.T.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Browser is one staff member's browser: it keeps cookies and announces
// its form posts as same-origin, as a real browser does for the
// portal's own forms.
type Browser struct {
	a      *App
	Client *http.Client
}

// Browser opens a browser with no cookies.
func (a *App) Browser() *Browser {
	return &Browser{a: a, Client: a.Client()}
}

// Do sends a request with the browser's cookies and the given headers
// (which replace the browser's own) and returns the response with its
// body read.
func (b *Browser) Do(method, path string, body io.Reader, header map[string]string) (*http.Response, string) {
	b.a.T.Helper()
	req, err := http.NewRequest(method, b.a.URL(path), body)
	if err != nil {
		b.a.T.Fatal(err)
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.a.Server.URL)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.a.T.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// Get loads a page.
func (b *Browser) Get(path string) (*http.Response, string) {
	b.a.T.Helper()
	return b.Do(http.MethodGet, path, nil, nil)
}

// PostForm submits a form; header adjusts the request (an empty value
// removes a header the browser would send).
func (b *Browser) PostForm(path string, form url.Values, header map[string]string) (*http.Response, string) {
	b.a.T.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return b.Do(http.MethodPost, path, strings.NewReader(form.Encode()), h)
}

// SignIn signs in through the sign-in form and fails the test unless the
// portal redirects into the workspace.
func (b *Browser) SignIn(email, password string) {
	b.a.T.Helper()
	resp, body := b.PostForm("/staff/login", url.Values{"email": {email}, "password": {password}, "next": {"/staff"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		b.a.T.Fatalf("sign in as %s: %d\n%s", email, resp.StatusCode, body)
	}
}

// Cookie is the value of the named cookie the browser holds for the
// portal ("" when none).
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.a.Server.URL)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// SetCookie puts a cookie into the browser, as if the portal had set it.
func (b *Browser) SetCookie(name, value string) {
	u, _ := url.Parse(b.a.Server.URL)
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
