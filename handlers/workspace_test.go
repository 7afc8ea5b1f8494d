package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/service"
)

// wsPassword is every test staff member's password.
const wsPassword = "correct horse battery staple"

// wsStaff creates a staff account through the service.
func wsStaff(t *testing.T, a *apptest.App, email, role string) *models.Staff {
	t.Helper()
	st, err := a.Svc.AddStaff(context.Background(), email, strings.Split(email, "@")[0], role, wsPassword)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// wsSignedIn opens a browser and signs in as email.
func wsSignedIn(a *apptest.App, email string) *apptest.Browser {
	a.T.Helper()
	b := a.Browser()
	b.SignIn(email, wsPassword)
	return b
}

// wsDB is the app's database beside the app (a.DB()), for what no page
// shows.
func wsDB(t *testing.T, a *apptest.App) *gorm.DB {
	t.Helper()
	return a.DB()
}

func wsCount(t *testing.T, a *apptest.App, query string, args ...any) int {
	t.Helper()
	return a.QueryInt(query, args...)
}

// wsSubmitVerified files a request and confirms it by link; it returns
// the id and the reference.
func wsSubmitVerified(a *apptest.App, email, typ, jurisdiction string, details map[string]any) (id, ref string) {
	a.T.Helper()
	id, ref = wsSubmit(a, email, typ, jurisdiction, details)
	tok := apptest.TokenFromLink(a.T, a.MailWithSubject(email, "Please confirm").Link(a.T, "/verify?token="))
	resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil)
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	return id, ref
}

func wsSubmit(a *apptest.App, email, typ, jurisdiction string, details map[string]any) (id, ref string) {
	a.T.Helper()
	body := map[string]any{"type": typ, "email": email, "full_name": "Test Subject", "jurisdiction": jurisdiction}
	if details != nil {
		body["details"] = details
	}
	return a.Submit(body)
}

// wsAct takes a staff action through the API and fails unless it works.
func wsAct(a *apptest.App, token, id string, body map[string]any) {
	a.T.Helper()
	r := wsRequest(a, id)
	body["version"] = r.Version
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("%v: %d %v", body, resp.StatusCode, m)
	}
}

func wsRequest(a *apptest.App, id string) *models.Request {
	a.T.Helper()
	r, err := a.Store.Request(context.Background(), id)
	if err != nil {
		a.T.Fatal(err)
	}
	return r
}

var wsAlertRE = regexp.MustCompile(`(?s)<div class="error-summary" role="alert">(.*?)</div>`)

// wsAlert is the text of a page's error summary.
func wsAlert(body string) string {
	m := wsAlertRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

func wsWant(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: got %d, want %d\n%s", what, resp.StatusCode, status, body)
	}
}

func wsWantRedirect(t *testing.T, what string, resp *http.Response, body, location string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != location {
		t.Fatalf("%s: got %d to %q, want 303 to %q\n%s", what, resp.StatusCode, resp.Header.Get("Location"), location, body)
	}
}

func wsSessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" {
			return c
		}
	}
	return nil
}

// wsLogin posts the sign-in form from a fresh browser.
func wsLogin(a *apptest.App, email, password string, header map[string]string) (*http.Response, string) {
	a.T.Helper()
	return a.Browser().PostForm("/staff/login", url.Values{"email": {email}, "password": {password}, "next": {"/staff"}}, header)
}

// TestWorkspaceSignInCookie protects the sign-in redirect and the session
// cookie's attributes, and that only a hash of it is stored.
func TestWorkspaceSignInCookie(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	b := a.Browser()
	resp, body := b.Get("/staff")
	wsWantRedirect(t, "GET /staff signed out", resp, body, "/staff/login?next=%2Fstaff")
	resp, body = b.Get("/staff/login?next=%2Fstaff")
	wsWant(t, "sign-in page", resp, body, http.StatusOK)

	next := "/staff?type=access&status=verified"
	resp, body = b.PostForm("/staff/login", url.Values{"email": {"Ann@Example.org"}, "password": {wsPassword}, "next": {next}}, nil)
	wsWantRedirect(t, "sign in", resp, body, next)
	c := wsSessionCookie(resp)
	if c == nil {
		t.Fatalf("no session cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie over http: HttpOnly=%v SameSite=%v Path=%q Secure=%v, want true, Lax, /, false", c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	rows, err := wsDB(t, a).Raw("SELECT hash FROM sessions").Rows()
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for rows.Next() {
		var h string
		rows.Scan(&h)
		hashes = append(hashes, h)
	}
	rows.Close()
	if len(hashes) != 1 || hashes[0] == c.Value || strings.Contains(hashes[0], c.Value) || hashes[0] != service.HashToken(c.Value) {
		t.Errorf("stored sessions %q for cookie %q: want exactly its hash", hashes, c.Value)
	}
	resp, body = b.Get("/staff")
	wsWant(t, "queue signed in", resp, body, http.StatusOK)
}

// TestWorkspaceSignInSecureCookie protects the Secure flag when the
// portal is served over https.
func TestWorkspaceSignInSecureCookie(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		c.HTTP.BaseURL = "https://privacy.example.org"
	}})
	wsStaff(t, a, "ann@example.org", "reviewer")
	resp, body := wsLogin(a, "ann@example.org", wsPassword, nil)
	wsWantRedirect(t, "sign in", resp, body, "/staff")
	c := wsSessionCookie(resp)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie over https: %v", resp.Header.Values("Set-Cookie"))
	}
}

// TestWorkspaceSignInRotatesSession protects session rotation: signing in
// again from the same browser ends the old session.
func TestWorkspaceSignInRotatesSession(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	b := wsSignedIn(a, "ann@example.org")
	old := b.Cookie("portal_session")
	b.SignIn("ann@example.org", wsPassword)
	fresh := b.Cookie("portal_session")
	if old == "" || fresh == "" || old == fresh {
		t.Fatalf("cookies before and after: %q %q", old, fresh)
	}
	resp, body := b.Get("/staff")
	wsWant(t, "new session", resp, body, http.StatusOK)
	stale := a.Browser()
	stale.SetCookie("portal_session", old)
	resp, body = stale.Get("/staff")
	wsWantRedirect(t, "old session", resp, body, "/staff/login?next=%2Fstaff")
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != 1 {
		t.Errorf("%d sessions after rotation, want 1", n)
	}
}

// TestWorkspaceSignInSameAnswer protects account privacy: a wrong
// password and an unknown address get the same status and page.
func TestWorkspaceSignInSameAnswer(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	resp1, body1 := wsLogin(a, "ann@example.org", "wrong password, sorry", nil)
	resp2, body2 := wsLogin(a, "nobody@example.org", "wrong password, sorry", nil)
	wsWant(t, "wrong password", resp1, body1, http.StatusUnauthorized)
	wsWant(t, "unknown address", resp2, body2, http.StatusUnauthorized)
	if wsAlert(body1) == "" || wsAlert(body1) != wsAlert(body2) {
		t.Errorf("messages differ: %q vs %q", wsAlert(body1), wsAlert(body2))
	}
	if strings.ReplaceAll(body1, "ann@example.org", "X") != strings.ReplaceAll(body2, "nobody@example.org", "X") {
		t.Errorf("pages differ beyond the address typed")
	}
	if c := wsSessionCookie(resp1); c != nil {
		t.Errorf("failed sign-in set a cookie: %v", c)
	}
}

var wsDigits = regexp.MustCompile(`[0-9]+`)

// TestWorkspaceSignInLockout protects against password guessing: after
// five failures an account is locked (even for the right password), an
// unknown address looks the same, one client cannot try many accounts,
// the lock grows, and it ends.
func TestWorkspaceSignInLockout(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
	}})
	wsStaff(t, a, "kim@example.org", "reviewer")
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

	// Five failures for one account, each from another client.
	for i := 1; i <= 5; i++ {
		resp, body := wsLogin(a, "kim@example.org", "not the password", from(fmt.Sprintf("203.0.113.%d", i)))
		wsWant(t, fmt.Sprintf("failure %d", i), resp, body, http.StatusUnauthorized)
	}
	resp, known := wsLogin(a, "kim@example.org", wsPassword, from("203.0.113.6"))
	wsWant(t, "right password while locked", resp, known, http.StatusTooManyRequests)
	if c := wsSessionCookie(resp); c != nil {
		t.Errorf("locked sign-in set a cookie")
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 30 {
		t.Errorf("Retry-After %q, want 1..30 seconds", resp.Header.Get("Retry-After"))
	}

	// The same for an address that has no account.
	for i := 1; i <= 5; i++ {
		resp, body := wsLogin(a, "nobody@example.org", "not the password", from(fmt.Sprintf("198.51.100.%d", i)))
		wsWant(t, fmt.Sprintf("unknown failure %d", i), resp, body, http.StatusUnauthorized)
	}
	resp, unknown := wsLogin(a, "nobody@example.org", wsPassword, from("198.51.100.6"))
	wsWant(t, "unknown address while locked", resp, unknown, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After for the unknown address")
	}
	if k, u := wsDigits.ReplaceAllString(wsAlert(known), "N"), wsDigits.ReplaceAllString(wsAlert(unknown), "N"); k == "" || k != u {
		t.Errorf("lock messages differ: %q vs %q", wsAlert(known), wsAlert(unknown))
	}

	// The lock ends.
	a.Clock.Advance(time.Minute)
	resp, body := wsLogin(a, "kim@example.org", wsPassword, from("203.0.113.7"))
	wsWantRedirect(t, "after the lock", resp, body, "/staff")

	// A failure after the lock locks again, for longer.
	wsLogin(a, "nobody@example.org", "not the password", from("198.51.100.7"))
	resp, body = wsLogin(a, "nobody@example.org", "not the password", from("198.51.100.8"))
	wsWant(t, "second lock", resp, body, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra <= 30 {
		t.Errorf("second lock Retry-After %q, want more than the first 30 s", resp.Header.Get("Retry-After"))
	}

	// One client trying many accounts is locked too.
	for i := 1; i <= 5; i++ {
		resp, body := wsLogin(a, fmt.Sprintf("guess%d@example.org", i), "not the password", from("192.0.2.9"))
		wsWant(t, fmt.Sprintf("spray %d", i), resp, body, http.StatusUnauthorized)
	}
	resp, body = wsLogin(a, "kim@example.org", wsPassword, from("192.0.2.9"))
	wsWant(t, "locked client", resp, body, http.StatusTooManyRequests)
}

// TestWorkspaceSignInNextStaysLocal protects against open redirects
// through the next parameter of the sign-in form.
func TestWorkspaceSignInNextStaysLocal(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	for _, next := range []string{"https://evil.example", "//evil.example", "/\\evil.example", "https://evil.example/staff", "http:/evil.example", ""} {
		b := a.Browser()
		resp, body := b.Get("/staff/login?next=" + url.QueryEscape(next))
		if strings.Contains(body, "evil.example") {
			t.Errorf("sign-in page carries next=%q", next)
		}
		resp, body = b.PostForm("/staff/login", url.Values{"email": {"ann@example.org"}, "password": {wsPassword}, "next": {next}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("next=%q: %d\n%s", next, resp.StatusCode, body)
		}
		loc := resp.Header.Get("Location")
		if u, err := url.Parse(loc); err != nil || u.Host != "" || !strings.HasPrefix(loc, "/staff") || strings.HasPrefix(loc, "//") {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
		if loc != "/staff" {
			t.Errorf("next=%q redirected to %q, want /staff", next, loc)
		}
	}
}

// TestWorkspaceIdleTimeout protects the idle timeout of staff sessions.
func TestWorkspaceIdleTimeout(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	b := wsSignedIn(a, "ann@example.org")
	a.Clock.Advance(29 * time.Minute)
	resp, body := b.Get("/staff")
	wsWant(t, "after 29 idle minutes", resp, body, http.StatusOK)
	a.Clock.Advance(31 * time.Minute)
	resp, body = b.Get("/staff?status=verified")
	wsWantRedirect(t, "after 31 idle minutes", resp, body, "/staff/login?next=%2Fstaff%3Fstatus%3Dverified")
}

// TestWorkspaceAbsoluteTimeout protects the absolute end of a session
// that is kept busy.
func TestWorkspaceAbsoluteTimeout(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	b := wsSignedIn(a, "ann@example.org")
	limit := a.Cfg.Staff.SessionAbsolute.D()
	step := 20 * time.Minute
	for elapsed := step; ; elapsed += step {
		a.Clock.Advance(step)
		resp, body := b.Get("/staff")
		if elapsed < limit {
			wsWant(t, fmt.Sprintf("busy session after %s", elapsed), resp, body, http.StatusOK)
			continue
		}
		wsWantRedirect(t, fmt.Sprintf("busy session after %s", elapsed), resp, body, "/staff/login?next=%2Fstaff")
		break
	}
}

// TestWorkspaceSignOut protects sign-out: the session ends on the server,
// not only in the browser.
func TestWorkspaceSignOut(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	b := wsSignedIn(a, "ann@example.org")
	cookie := b.Cookie("portal_session")
	resp, body := b.PostForm("/staff/logout", nil, nil)
	wsWantRedirect(t, "sign out", resp, body, "/staff/login")
	if c := wsSessionCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("sign-out does not clear the cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	replay := a.Browser()
	replay.SetCookie("portal_session", cookie)
	resp, body = replay.Get("/staff")
	wsWantRedirect(t, "old cookie after sign-out", resp, body, "/staff/login?next=%2Fstaff")
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != 0 {
		t.Errorf("%d sessions after sign-out", n)
	}
}

// TestWorkspaceCrossSitePosts protects every state-changing staff form
// against cross-site posts carrying a valid session.
func TestWorkspaceCrossSitePosts(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	admin := wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, admin.Email)
	id, _ := wsSubmitVerified(a, "sub@example.com", "access", "gdpr", nil)
	crossSite := []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
	}
	start := url.Values{"action": {"start_review"}, "version": {"2"}}
	for _, h := range crossSite {
		resp, body := b.PostForm("/staff/requests/"+id+"/actions", start, h)
		wsWant(t, fmt.Sprintf("cross-site action %v", h), resp, body, http.StatusForbidden)
		if r := wsRequest(a, id); r.Status != "verified" || r.Version != 2 {
			t.Fatalf("cross-site action changed the request: %s v%d", r.Status, r.Version)
		}
		resp, body = a.Browser().PostForm("/staff/login", url.Values{"email": {admin.Email}, "password": {wsPassword}}, h)
		wsWant(t, fmt.Sprintf("cross-site sign-in %v", h), resp, body, http.StatusForbidden)
		if wsSessionCookie(resp) != nil {
			t.Errorf("cross-site sign-in set a cookie")
		}
		resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"mallory@example.org"}, "name": {"Mallory"}, "role": {"admin"}}, h)
		wsWant(t, fmt.Sprintf("cross-site add staff %v", h), resp, body, http.StatusForbidden)
		if _, err := a.Store.StaffByEmail(context.Background(), "mallory@example.org"); err == nil {
			t.Fatalf("cross-site post added staff")
		}
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != 1 {
		t.Errorf("%d sessions, want only the admin's", n)
	}

	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	resp, body := b.PostForm("/staff/requests/"+id+"/actions", start, same)
	wsWantRedirect(t, "same-origin action", resp, body, "/staff/requests/"+id+"?done=start_review")
	if r := wsRequest(a, id); r.Status != "in_review" {
		t.Errorf("same-origin action: status %s", r.Status)
	}
	resp, body = a.Browser().PostForm("/staff/login", url.Values{"email": {admin.Email}, "password": {wsPassword}}, same)
	wsWantRedirect(t, "same-origin sign-in", resp, body, "/staff")
	resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"newbie@example.org"}, "name": {"Newbie"}, "role": {"reviewer"}}, same)
	wsWant(t, "same-origin add staff", resp, body, http.StatusOK)
	if _, err := a.Store.StaffByEmail(context.Background(), "newbie@example.org"); err != nil {
		t.Errorf("same-origin add staff: %v", err)
	}
}

// TestWorkspaceReviewerCannotAdminister protects the admin pages from
// reviewers.
func TestWorkspaceReviewerCannotAdminister(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "rita@example.org", "reviewer")
	ada := wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, "rita@example.org")
	resp, body := b.Get("/staff")
	wsWant(t, "reviewer's queue", resp, body, http.StatusOK)
	if strings.Contains(body, `href="/staff/admin"`) {
		t.Errorf("reviewer sees the admin link")
	}
	resp, body = b.Get("/staff/admin")
	wsWant(t, "reviewer GET /staff/admin", resp, body, http.StatusForbidden)
	resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"x@example.org"}, "name": {"X"}, "role": {"admin"}, "password": {"a long enough password 1"}}, nil)
	wsWant(t, "reviewer adds staff", resp, body, http.StatusForbidden)
	if _, err := a.Store.StaffByEmail(context.Background(), "x@example.org"); err == nil {
		t.Errorf("reviewer added staff")
	}
	resp, body = b.PostForm("/staff/admin/staff/"+ada.ID, url.Values{"change": {"disable"}}, nil)
	wsWant(t, "reviewer disables admin", resp, body, http.StatusForbidden)
	resp, body = b.PostForm("/staff/admin/tokens", url.Values{"staff_id": {ada.ID}}, nil)
	wsWant(t, "reviewer creates token", resp, body, http.StatusForbidden)
	if st, _ := a.Store.StaffByID(context.Background(), ada.ID); st.Disabled {
		t.Errorf("reviewer disabled the admin")
	}
}

var wsPasswordRE = regexp.MustCompile(`Their password, shown only now: ([A-Za-z0-9_-]{20,})`)

// TestWorkspaceAdminManagesStaff protects adding staff with a generated
// password shown once, and changing a role.
func TestWorkspaceAdminManagesStaff(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, "ada@example.org")
	resp, body := b.PostForm("/staff/admin/staff", url.Values{"email": {"newbie@example.org"}, "name": {"New Bie"}, "role": {"reviewer"}}, nil)
	wsWant(t, "add staff", resp, body, http.StatusOK)
	m := wsPasswordRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no generated password shown:\n%s", body)
	}
	password := m[1]
	_, body = b.Get("/staff/admin")
	if strings.Contains(body, password) {
		t.Errorf("the generated password is shown again")
	}
	st, err := a.Store.StaffByEmail(context.Background(), "newbie@example.org")
	if err != nil || st.Role != "reviewer" || strings.Contains(st.PasswordHash, password) {
		t.Fatalf("new staff: %+v %v", st, err)
	}
	nb := a.Browser()
	resp, body = nb.PostForm("/staff/login", url.Values{"email": {"newbie@example.org"}, "password": {password}}, nil)
	wsWantRedirect(t, "sign in with the generated password", resp, body, "/staff")
	resp, body = nb.Get("/staff/admin")
	wsWant(t, "reviewer on admin page", resp, body, http.StatusForbidden)

	// A weak password and a taken address are refused with the reason.
	resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"weak@example.org"}, "name": {"Weak"}, "role": {"reviewer"}, "password": {"short"}}, nil)
	wsWant(t, "short password", resp, body, http.StatusUnprocessableEntity)
	resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"newbie@example.org"}, "name": {"Again"}, "role": {"reviewer"}}, nil)
	wsWant(t, "taken address", resp, body, http.StatusUnprocessableEntity)

	resp, body = b.PostForm("/staff/admin/staff/"+st.ID, url.Values{"change": {"role"}, "role": {"admin"}}, nil)
	wsWantRedirect(t, "change role", resp, body, "/staff/admin")
	if st, _ := a.Store.StaffByID(context.Background(), st.ID); st.Role != "admin" {
		t.Errorf("role after change: %s", st.Role)
	}
	resp, body = b.PostForm("/staff/admin/staff/"+st.ID, url.Values{"change": {"role"}, "role": {"owner"}}, nil)
	wsWant(t, "unknown role", resp, body, http.StatusUnprocessableEntity)
	nb = a.Browser()
	nb.SignIn("newbie@example.org", password)
	resp, body = nb.Get("/staff/admin")
	wsWant(t, "promoted staff on admin page", resp, body, http.StatusOK)
}

// TestWorkspaceDisabledAccountLosesAccess protects disabling: the
// account's session and API tokens stop at once, and it cannot sign in.
func TestWorkspaceDisabledAccountLosesAccess(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ada@example.org", "admin")
	token := a.StaffToken("rita@example.org", "reviewer")
	rita, _ := a.Store.StaffByEmail(context.Background(), "rita@example.org")
	rb := wsSignedIn(a, "rita@example.org")
	if resp, body := rb.Get("/staff"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before: %d %s", resp.StatusCode, body)
	}
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusOK {
		t.Fatalf("token before: %d %v", resp.StatusCode, m)
	}
	b := wsSignedIn(a, "ada@example.org")
	resp, body := b.PostForm("/staff/admin/staff/"+rita.ID, url.Values{"change": {"disable"}}, nil)
	wsWantRedirect(t, "disable", resp, body, "/staff/admin")

	resp, body = rb.Get("/staff")
	wsWantRedirect(t, "disabled session", resp, body, "/staff/login?next=%2Fstaff")
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled token: %d %v", resp.StatusCode, m)
	}
	resp, body = wsLogin(a, "rita@example.org", wsPassword, nil)
	wsWant(t, "disabled sign-in", resp, body, http.StatusUnauthorized)
	// No new token for a disabled account: refused with a reason, not a
	// 500 (nobody makes tokens for others; see tokens_test.go).
	resp, body = b.PostForm("/staff/admin/tokens", url.Values{"staff_id": {rita.ID}}, nil)
	wsWant(t, "token for a disabled account", resp, body, http.StatusForbidden)
	if n := wsCount(t, a, "SELECT COUNT(*) FROM api_tokens WHERE staff_id = ?", rita.ID); n != 1 {
		t.Errorf("%d tokens for the disabled account, want the 1 it had", n)
	}

	// Enabled again, the account can sign in again.
	resp, body = b.PostForm("/staff/admin/staff/"+rita.ID, url.Values{"change": {"enable"}}, nil)
	wsWantRedirect(t, "enable", resp, body, "/staff/admin")
	resp, body = wsLogin(a, "rita@example.org", wsPassword, nil)
	wsWantRedirect(t, "sign-in after enable", resp, body, "/staff")
}

// TestWorkspaceAdminCannotLockThemselvesOut protects the last way into
// administration: no self-disable, no self-demotion.
func TestWorkspaceAdminCannotLockThemselvesOut(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	ada := wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, ada.Email)
	resp, body := b.PostForm("/staff/admin/staff/"+ada.ID, url.Values{"change": {"disable"}}, nil)
	wsWant(t, "self-disable", resp, body, http.StatusUnprocessableEntity)
	resp, body = b.PostForm("/staff/admin/staff/"+ada.ID, url.Values{"change": {"role"}, "role": {"reviewer"}}, nil)
	wsWant(t, "self-demotion", resp, body, http.StatusUnprocessableEntity)
	if wsAlert(body) == "" {
		t.Errorf("self-demotion: no reason shown")
	}
	st, _ := a.Store.StaffByID(context.Background(), ada.ID)
	if st.Disabled || st.Role != "admin" {
		t.Errorf("after refusals: %+v", st)
	}
	resp, body = b.Get("/staff/admin")
	wsWant(t, "admin still signed in", resp, body, http.StatusOK)
}

var wsTokenRE = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// TestWorkspaceAdminTokens protects API tokens from the admin page:
// an admin's own token is shown once, every token is listed by prefix
// only with its owner and creator, and an admin revokes anyone's.
func TestWorkspaceAdminTokens(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	ada := wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, "ada@example.org")
	resp, body := b.PostForm("/staff/admin/tokens", url.Values{"staff_id": {ada.ID}}, nil)
	wsWant(t, "create own token", resp, body, http.StatusOK)
	m := wsTokenRE.FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(m[1], "rp_") {
		t.Fatalf("no rp_ token shown:\n%s", body)
	}
	token := m[1]
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusOK {
		t.Fatalf("new token: %d %v", resp.StatusCode, m)
	}
	rita := wsStaff(t, a, "rita@example.org", "reviewer")
	ritaToken, err := a.Svc.CreateAPIToken(context.Background(), rita.Email)
	if err != nil {
		t.Fatal(err)
	}
	_, body = b.Get("/staff/admin")
	if strings.Contains(body, token) || !strings.Contains(body, token[:7]) || strings.Contains(body, ritaToken) || !strings.Contains(body, ritaToken[:7]) {
		t.Errorf("admin page should list every token by prefix only")
	}
	if !strings.Contains(body, "operator (command line)") {
		t.Errorf("admin page does not say the operator made rita's token")
	}
	toks, err := a.Store.APITokens(context.Background(), rita.ID)
	if err != nil || len(toks) != 1 || toks[0].StaffID != rita.ID || toks[0].Hash == ritaToken {
		t.Fatalf("stored tokens: %+v %v", toks, err)
	}
	resp, body = b.PostForm(fmt.Sprintf("/staff/admin/tokens/%d/revoke", toks[0].ID), nil, nil)
	wsWantRedirect(t, "revoke", resp, body, "/staff/admin")
	if resp, m := a.GetJSON("/api/v1/requests", ritaToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %v", resp.StatusCode, m)
	}
	_, body = b.Get("/staff/admin")
	if !strings.Contains(body, "revoked") {
		t.Errorf("admin page does not show the token revoked")
	}
	resp, body = b.PostForm(fmt.Sprintf("/staff/admin/tokens/%d/revoke", toks[0].ID), nil, nil)
	wsWant(t, "revoke twice", resp, body, http.StatusNotFound)
}

var (
	wsRowRefRE = regexp.MustCompile(`<a href="/staff/requests/[^"]+">(DSR-[0-9A-Z-]+)</a>`)
	wsNextRE   = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`)
	wsDueRE    = regexp.MustCompile(`<td>(\d{4}-\d{2}-\d{2})`)
)

// wsRows maps each reference in the queue table to its row, and lists
// the references in page order.
func wsRows(body string) (map[string]string, []string) {
	rows := map[string]string{}
	var order []string
	_, tbody, ok := strings.Cut(body, "<tbody>")
	if !ok {
		return rows, nil
	}
	tbody, _, _ = strings.Cut(tbody, "</tbody>")
	for _, tr := range strings.Split(tbody, "<tr")[1:] {
		if m := wsRowRefRE.FindStringSubmatch(tr); m != nil {
			rows[m[1]] = tr
			order = append(order, m[1])
		}
	}
	return rows, order
}

func wsQueue(t *testing.T, b *apptest.Browser, query string) (map[string]string, []string, string) {
	t.Helper()
	resp, body := b.Get("/staff?" + query)
	wsWant(t, "queue ?"+query, resp, body, http.StatusOK)
	rows, order := wsRows(body)
	return rows, order, body
}

func wsWantRefs(t *testing.T, b *apptest.Browser, query string, want ...string) {
	t.Helper()
	_, order, _ := wsQueue(t, b, query)
	got := slices.Clone(order)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("?%s: got %v, want %v", query, got, want)
	}
}

// TestWorkspaceQueue protects the queue page: default and explicit
// status filters, every other filter, search, counts, keyset pages, the
// overdue mark, and 422 for an invalid filter.
func TestWorkspaceQueue(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "reviewer")
	_, r1 := wsSubmitVerified(a, "s1@example.com", "access", "gdpr", nil)
	id2, r2 := wsSubmitVerified(a, "s2@example.com", "erasure", "gdpr", nil)
	id3, r3 := wsSubmitVerified(a, "s3@example.com", "rectification", "ccpa", map[string]any{"inaccurate": "my name", "correction": "Jane"})
	_, r4 := wsSubmitVerified(a, "s4@example.com", "access", "lgpd", nil)
	_, r5 := wsSubmit(a, "s5@example.com", "objection", "gdpr", map[string]any{"direct_marketing": true})
	id6, r6 := wsSubmitVerified(a, "s6@example.com", "portability", "uk_gdpr", nil)
	_, r7 := wsSubmitVerified(a, "s7@example.com", "consent_withdrawal", "ccpa", map[string]any{"consent": "newsletter"})
	_, r8 := wsSubmit(a, "s8@example.com", "restriction", "gdpr", map[string]any{"ground": "legal_claim"})
	wsAct(a, ann, id2, map[string]any{"action": "start_review"})
	wsAct(a, bob, id3, map[string]any{"action": "start_review"})
	wsAct(a, ann, id6, map[string]any{"action": "start_review"})
	wsAct(a, ann, id6, map[string]any{"action": "reject", "reason": "not_applicable", "message": "We hold no such data."})
	b := wsSignedIn(a, "ann@example.org")

	// The page opens on the open work; the rejected r6 is one choice away.
	wsWantRefs(t, b, "", r1, r2, r3, r4, r7)
	wsWantRefs(t, b, "status=open", r1, r2, r3, r4, r7)
	wsWantRefs(t, b, "status=all", r1, r2, r3, r4, r6, r7)
	wsWantRefs(t, b, "status=unverified", r5, r8)
	wsWantRefs(t, b, "status=in_review", r2, r3)
	wsWantRefs(t, b, "type=erasure", r2)
	wsWantRefs(t, b, "jurisdiction=ccpa", r3, r7)
	wsWantRefs(t, b, "type=access&jurisdiction=lgpd", r4)
	wsWantRefs(t, b, "assignee=mine", r2)
	wsWantRefs(t, b, "assignee=mine&status=all", r2, r6)
	wsWantRefs(t, b, "assignee=unassigned", r1, r4, r7)
	wsWantRefs(t, b, "due_within=20", r4)
	wsWantRefs(t, b, "due_within=40&assignee=unassigned", r1, r4)
	wsWantRefs(t, b, "q="+url.QueryEscape(r3), r3)
	wsWantRefs(t, b, "q="+url.QueryEscape(strings.ToLower(r3)), r3)
	wsWantRefs(t, b, "q=s7%40example.com", r7)
	wsWantRefs(t, b, "q=S7%40Example.COM", r7)
	wsWantRefs(t, b, "q=nobody%40example.com")
	wsWantRefs(t, b, "overdue=true")

	// Counts per status, whatever the filter.
	_, _, body := wsQueue(t, b, "type=erasure")
	for st, n := range map[string]int{"unverified": 2, "verified": 3, "in_review": 2, "rejected": 1, "completed": 0} {
		re := regexp.MustCompile(`href="/staff\?status=` + st + `"[^>]*><span class="badge">(\d+)</span>`)
		if m := re.FindStringSubmatch(body); m == nil || m[1] != strconv.Itoa(n) {
			t.Errorf("count of %s: %v, want %d", st, m, n)
		}
	}

	// Pages of two, in due-date order, without duplicates or gaps.
	var all, dues []string
	seen := map[string]bool{}
	next := "/staff?limit=2&status=all"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatalf("pagination does not end: %v", all)
		}
		resp, body := b.Get(next)
		wsWant(t, next, resp, body, http.StatusOK)
		rows, order := wsRows(body)
		if len(order) > 2 || len(order) == 0 {
			t.Fatalf("%s: %d rows", next, len(order))
		}
		for _, ref := range order {
			if seen[ref] {
				t.Errorf("%s appears twice", ref)
			}
			seen[ref] = true
			all = append(all, ref)
			if m := wsDueRE.FindStringSubmatch(rows[ref]); m != nil {
				dues = append(dues, m[1])
			}
		}
		next = ""
		if m := wsNextRE.FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
			if !strings.Contains(next, "limit=2") || !strings.Contains(next, "cursor=") {
				t.Errorf("next link %q loses the filter or the cursor", next)
			}
		}
	}
	slices.Sort(all)
	if want := []string{r1, r2, r3, r4, r6, r7}; !slices.Equal(all, wsSorted(want)) {
		t.Errorf("pages hold %v, want %v", all, wsSorted(want))
	}
	if len(dues) != 6 || !slices.IsSorted(dues) {
		t.Errorf("due dates across pages not in order: %v", dues)
	}

	// Invalid filters: a page with 422, never a 500.
	for _, q := range []string{"status=bogus", "type=nope", "jurisdiction=mars", "overdue=maybe", "due_within=-1", "limit=0", "assignee=ghost%40example.org", "cursor=not-a-cursor"} {
		resp, body := b.Get("/staff?" + q)
		wsWant(t, "invalid ?"+q, resp, body, http.StatusUnprocessableEntity)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("?%s: %s, want a page", q, resp.Header.Get("Content-Type"))
		}
	}

	// Past the LGPD due date (15 days), only r4 is overdue, and marked.
	a.Clock.Advance(20 * 24 * time.Hour)
	b.SignIn("ann@example.org", wsPassword) // the session ended meanwhile
	wsWantRefs(t, b, "overdue=true", r4)
	rows, _, _ := wsQueue(t, b, "")
	for ref, row := range rows {
		if marked := strings.Contains(row, "Overdue"); marked != (ref == r4) {
			t.Errorf("%s overdue mark: %v\n%s", ref, marked, row)
		}
	}
}

func wsSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

var wsActionRE = regexp.MustCompile(`<input type="hidden" name="action" value="([a-z_]+)">`)

// wsActions lists the action buttons of a request's file, sorted.
func wsActions(body string) []string {
	var out []string
	for _, m := range wsActionRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// TestWorkspaceRequestFile protects the request's file: the subject's
// details, the timeline, only the allowed actions, an action through its
// form, and the refusals (stale version, missing reason) that change
// nothing.
func TestWorkspaceRequestFile(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	wsStaff(t, a, "ann@example.org", "reviewer")
	bobTok := a.StaffToken("bob@example.org", "admin")
	ann := wsSignedIn(a, "ann@example.org")
	id, ref := wsSubmitVerified(a, "sub@example.com", "access", "gdpr", map[string]any{"description": "All my order history, please."})
	file := "/staff/requests/" + id

	resp, body := ann.Get(file)
	wsWant(t, "file", resp, body, http.StatusOK)
	for _, want := range []string{ref, "Test Subject", "sub@example.com", "All my order history, please.", "<strong>submit</strong>", "<strong>verify</strong>"} {
		if !strings.Contains(body, want) {
			t.Errorf("file lacks %q", want)
		}
	}
	if got := wsActions(body); !slices.Equal(got, []string{"start_review"}) {
		t.Errorf("actions on a verified request: %v", got)
	}

	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"start_review"}, "version": {"2"}, "reason": {""}, "message": {""}}, nil)
	wsWantRedirect(t, "start review", resp, body, file+"?done=start_review")
	r := wsRequest(a, id)
	annStaff, _ := a.Store.StaffByEmail(context.Background(), "ann@example.org")
	if r.Status != "in_review" || r.AssigneeID == nil || *r.AssigneeID != annStaff.ID {
		t.Fatalf("after start review: %s %v", r.Status, r.AssigneeID)
	}
	resp, body = ann.Get(file + "?done=start_review")
	if !strings.Contains(body, "Done: start_review") || !strings.Contains(body, "<strong>start_review</strong>") {
		t.Errorf("file after the action lacks the notice or the event")
	}
	if got := wsActions(body); !slices.Equal(got, []string{"approve", "extend", "reject", "request_info"}) {
		t.Errorf("actions on an in-review access request: %v", got)
	}

	// Stale version: 409 with a clear message, nothing written.
	events := wsCount(t, a, "SELECT COUNT(*) FROM audit_events WHERE request_id = ?", id)
	mails := wsCount(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ?", id)
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"request_info"}, "version": {"2"}, "message": {"Which account?"}}, nil)
	wsWant(t, "stale version", resp, body, http.StatusConflict)
	if !strings.Contains(body, "changed by someone else") {
		t.Errorf("stale version page lacks the message:\n%s", wsAlert(body))
	}
	// Missing reason code on a rejection: 422.
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"reject"}, "version": {strconv.Itoa(r.Version)}, "message": {"No."}}, nil)
	wsWant(t, "reject without reason", resp, body, http.StatusUnprocessableEntity)
	// A bogus reason code and an action the state does not allow.
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"reject"}, "version": {strconv.Itoa(r.Version)}, "reason": {"because"}, "message": {"No."}}, nil)
	wsWant(t, "reject with an unknown code", resp, body, http.StatusUnprocessableEntity)
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"complete"}, "version": {strconv.Itoa(r.Version)}, "message": {"Done."}}, nil)
	wsWant(t, "complete from in_review", resp, body, http.StatusConflict)
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"withdraw"}, "version": {strconv.Itoa(r.Version)}}, nil)
	wsWant(t, "withdraw by staff", resp, body, http.StatusForbidden)
	resp, body = ann.PostForm(file+"/actions", url.Values{"action": {"start_review"}, "version": {"x"}}, nil)
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("non-numeric version: %d", resp.StatusCode)
	}
	if r2 := wsRequest(a, id); r2.Status != "in_review" || r2.Version != r.Version {
		t.Errorf("refusals changed the request: %s v%d", r2.Status, r2.Version)
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM audit_events WHERE request_id = ?", id); n != events {
		t.Errorf("refusals wrote %d events", n-events)
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ?", id); n != mails {
		t.Errorf("refusals queued %d mails", n-mails)
	}
	resp, body = ann.Get("/staff/requests/00000000-0000-0000-0000-000000000000")
	wsWant(t, "unknown request", resp, body, http.StatusNotFound)

	// An erasure in review: four actions, and four eyes on approval.
	eid, _ := wsSubmitVerified(a, "era@example.com", "erasure", "gdpr", nil)
	wsAct(a, bobTok, eid, map[string]any{"action": "start_review"})
	_, body = ann.Get("/staff/requests/" + eid)
	if got := wsActions(body); !slices.Equal(got, []string{"approve", "extend", "reject", "request_info"}) {
		t.Errorf("actions on an in-review erasure: %v", got)
	}
	v := wsRequest(a, eid).Version
	resp, body = ann.PostForm("/staff/requests/"+eid+"/actions", url.Values{"action": {"approve"}, "version": {strconv.Itoa(v)}}, nil)
	wsWantRedirect(t, "first approval", resp, body, "/staff/requests/"+eid+"?done=approve")
	_, body = ann.Get("/staff/requests/" + eid)
	if got := wsActions(body); slices.Contains(got, "approve") {
		t.Errorf("the first approver is offered approve again: %v", got)
	}
	bob := wsSignedIn(a, "bob@example.org")
	_, body = bob.Get("/staff/requests/" + eid)
	if got := wsActions(body); !slices.Contains(got, "approve") {
		t.Errorf("a second staff member is not offered approve: %v", got)
	}
}

// TestWorkspaceNotesAndAssignment protects internal notes (on the file,
// never on the subject's status page), reassignment with its mail, and
// the mails section that never shows a live subject link.
func TestWorkspaceNotesAndAssignment(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	wsStaff(t, a, "ann@example.org", "reviewer")
	bob := wsStaff(t, a, "bob@example.org", "reviewer")
	ann := wsSignedIn(a, "ann@example.org")
	id, ref := wsSubmit(a, "sub@example.com", "access", "gdpr", nil)
	confirm := a.MailWithSubject("sub@example.com", "Please confirm")
	verifyToken := apptest.TokenFromLink(t, confirm.Link(t, "/verify?token="))
	replyTo := confirm.ReplyTo(t)
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": verifyToken}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	statusLink := a.MailWithSubject("sub@example.com", "We received").Link(t, "/status/")
	statusPath := strings.TrimPrefix(statusLink, a.Cfg.HTTP.BaseURL)
	statusToken := statusPath[strings.LastIndex(statusPath, "/")+1:]
	file := "/staff/requests/" + id

	note := "Internal: the caller sounded unsure, check ID carefully 7Q2"
	resp, body := ann.PostForm(file+"/notes", url.Values{"body": {note}}, nil)
	wsWantRedirect(t, "add note", resp, body, file+"?done=note#notes")
	_, body = ann.Get(file)
	if !strings.Contains(body, note) {
		t.Errorf("file lacks the note")
	}
	resp, body = ann.PostForm(file+"/notes", url.Values{"body": {"   "}}, nil)
	wsWant(t, "empty note", resp, body, http.StatusUnprocessableEntity)
	resp, sb := a.Do(http.MethodGet, statusPath, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(sb), ref) {
		t.Fatalf("status page: %d\n%s", resp.StatusCode, sb)
	}
	if strings.Contains(string(sb), "7Q2") || strings.Contains(string(sb), "caller sounded") {
		t.Errorf("the subject's status page shows the internal note")
	}

	resp, body = ann.PostForm(file+"/assign", url.Values{"assignee": {bob.ID}, "version": {strconv.Itoa(wsRequest(a, id).Version)}}, nil)
	wsWantRedirect(t, "reassign", resp, body, file+"?done=assign")
	if r := wsRequest(a, id); r.AssigneeID == nil || *r.AssigneeID != bob.ID {
		t.Errorf("assignee after reassign: %v", r.AssigneeID)
	}
	m := a.MailWithSubject("bob@example.org", "Assigned to you")
	if !strings.Contains(m.Subject(), ref) || !strings.Contains(m.Text, file) {
		t.Errorf("assignment mail:\n%s\n%s", m.Subject(), m.Text)
	}
	// A stale reassignment is refused.
	resp, body = ann.PostForm(file+"/assign", url.Values{"assignee": {bob.ID}, "version": {"2"}}, nil)
	wsWant(t, "stale reassign", resp, body, http.StatusConflict)

	// The mails section lists the subject's mails with links redacted.
	_, body = ann.Get(file)
	_, mailsSection, _ := strings.Cut(body, `id="mails"`)
	for _, kind := range []string{"verification to sub@example.com", "acknowledgment to sub@example.com", "staff_assigned to bob@example.org"} {
		if !strings.Contains(mailsSection, kind) {
			t.Errorf("mails section lacks %q", kind)
		}
	}
	if !strings.Contains(body, "[private link]") {
		t.Errorf("mails section shows no redacted link")
	}
	for _, secret := range []string{"/verify?token=", verifyToken, "/status/", statusToken, replyTo, "__SECRET_"} {
		if strings.Contains(body, secret) {
			t.Errorf("file page contains %q", secret)
		}
	}
}

const wsXSS = `<script>alert(1)</script> "><img src=x onerror=alert(1)>`

// wsNoMarkup fails when a page carries the attack as markup.
func wsNoMarkup(t *testing.T, what, body string) {
	t.Helper()
	low := strings.ToLower(body)
	if strings.Contains(low, "<script") || strings.Contains(low, "<img src=x") || strings.Contains(low, "onerror=alert(1)>") {
		t.Errorf("%s carries raw markup from input", what)
	}
}

// TestWorkspaceEscapesSubjectInput protects staff pages from markup in
// what the subject typed or in the query string, and checks the CSP.
func TestWorkspaceEscapesSubjectInput(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	wsStaff(t, a, "ada@example.org", "admin")
	b := wsSignedIn(a, "ada@example.org")
	id, ref := a.Submit(map[string]any{"type": "rectification", "email": "xss@example.com", "full_name": wsXSS,
		"details": map[string]any{"inaccurate": wsXSS, "correction": wsXSS, "description": wsXSS}})
	tok := apptest.TokenFromLink(t, a.MailWithSubject("xss@example.com", "Please confirm").Link(t, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	a.MailWithSubject("xss@example.com", "We received")
	pages := map[string]int{
		"/staff":                                  http.StatusOK,
		"/staff?q=" + url.QueryEscape(ref):        http.StatusOK,
		"/staff/requests/" + id:                   http.StatusOK,
		"/staff?q=" + url.QueryEscape(wsXSS):      http.StatusOK,
		"/staff?status=" + url.QueryEscape(wsXSS): http.StatusUnprocessableEntity,
		"/staff/admin":                            http.StatusOK,
	}
	for path, status := range pages {
		resp, body := b.Get(path)
		wsWant(t, path, resp, body, status)
		wsNoMarkup(t, path, body)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	_, body := b.Get("/staff/requests/" + id)
	if strings.Count(body, "&lt;script&gt;alert(1)&lt;/script&gt;") < 4 {
		t.Errorf("file does not show the subject's name and details escaped")
	}
	resp, body := a.Browser().Get("/staff/login?next=" + url.QueryEscape("/staff?x="+wsXSS))
	wsWant(t, "sign-in page", resp, body, http.StatusOK)
	wsNoMarkup(t, "sign-in page", body)
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("sign-in page without CSP")
	}
}
