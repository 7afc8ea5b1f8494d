package handlers_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

var (
	tfURIRE      = regexp.MustCompile(`<code class="secret" id="otpauth-uri">([^<]+)</code>`)
	tfQRRE       = regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`)
	tfRecoveryRE = regexp.MustCompile(`<code class="secret">([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>`)
)

// tfEnrol turns on two-step sign-in for the browser's staff member
// through the enrolment page: it reads the otpauth URI the page shows,
// checks the QR code is a PNG, confirms with a code generated from the
// secret, and returns the secret and the recovery codes shown.
func tfEnrol(t *testing.T, a *apptest.App, b *apptest.Browser) (secret string, codes []string) {
	t.Helper()
	resp, body := b.Get("/staff/2fa")
	wsWant(t, "enrolment page", resp, body, http.StatusOK)
	m := tfURIRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no otpauth URI on the enrolment page:\n%s", body)
	}
	key, err := otp.NewKeyFromURL(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", m[1], err)
	}
	if key.Type() != "totp" || key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("key parameters: %s period %d digits %d algorithm %s", key.Type(), key.Period(), key.Digits(), key.Algorithm())
	}
	q := tfQRRE.FindStringSubmatch(body)
	if q == nil {
		t.Fatalf("no QR code image on the enrolment page")
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(q[1]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Errorf("QR code is not a PNG: %v", err)
	}
	// A reload shows the same secret: the app may have scanned it already.
	if _, again := b.Get("/staff/2fa"); !strings.Contains(again, m[1]) {
		t.Errorf("reloading the enrolment page changed the secret")
	}
	secret = key.Secret()
	resp, body = b.PostForm("/staff/2fa", url.Values{"code": {tfWrong(t, a, secret)}}, nil)
	wsWant(t, "wrong enrolment code", resp, body, http.StatusUnprocessableEntity)
	if !strings.Contains(body, m[1]) || wsAlert(body) == "" {
		t.Errorf("wrong enrolment code: the page should explain and keep the same secret")
	}
	resp, body = b.PostForm("/staff/2fa", url.Values{"code": {tfCode(t, a, secret)}}, nil)
	wsWant(t, "confirm enrolment", resp, body, http.StatusOK)
	for _, c := range tfRecoveryRE.FindAllStringSubmatch(body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10:\n%s", len(codes), body)
	}
	// The codes are shown once, and the secret is not shown again.
	_, body = b.Get("/staff/2fa")
	if strings.Contains(body, codes[0]) || strings.Contains(body, secret) || !strings.Contains(body, "10 unused recovery codes") {
		t.Errorf("page after enrolment shows codes or the secret, or not the count:\n%s", body)
	}
	// The next sign-in needs a code of a later step than the one just used.
	a.Clock.Advance(30 * time.Second)
	return secret, codes
}

// tfCode is the current code for secret by the app's clock.
func tfCode(t *testing.T, a *apptest.App, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, a.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tfWrong is a code that is not the current one.
func tfWrong(t *testing.T, a *apptest.App, secret string) string {
	c := []byte(tfCode(t, a, secret))
	c[0] = '0' + (c[0]-'0'+5)%10
	return string(c)
}

// tfPassword is the first step: the password, from a fresh browser; it
// must lead to the code page and set no session.
func tfPassword(t *testing.T, a *apptest.App, email, next string) *apptest.Browser {
	t.Helper()
	b, _ := tfPasswordPending(t, a, email, next)
	return b
}

// tfPasswordPending is tfPassword that also returns the pending cookie's
// value.
func tfPasswordPending(t *testing.T, a *apptest.App, email, next string) (*apptest.Browser, string) {
	t.Helper()
	b := a.Browser()
	resp, body := b.PostForm("/staff/login", url.Values{"email": {email}, "password": {wsPassword}, "next": {next}}, nil)
	wsWantRedirect(t, "password step", resp, body, "/staff/login/2fa?next="+url.QueryEscape(next))
	if c := wsSessionCookie(resp); c != nil {
		t.Fatalf("the password alone set a session cookie")
	}
	pc := tfPendingCookie(resp)
	if pc == nil || pc.Value == "" {
		t.Fatalf("no pending cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	return b, pc.Value
}

// tfSecond posts the second step.
func tfSecond(b *apptest.Browser, code, next string) (*http.Response, string) {
	return b.PostForm("/staff/login/2fa", url.Values{"code": {code}, "next": {next}}, nil)
}

func tfPendingCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "portal_pending" {
			return c
		}
	}
	return nil
}

// TestTOTPEnrolAndSignIn protects enrolment and the two-step sign-in: the
// password leads only to the code page, the code opens the session.
func TestTOTPEnrolAndSignIn(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	secret, _ := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))

	sessions := wsCount(t, a, "SELECT COUNT(*) FROM sessions")
	next := "/staff?status=verified"
	b := a.Browser()
	resp, body := b.PostForm("/staff/login", url.Values{"email": {"ann@example.org"}, "password": {wsPassword}, "next": {next}}, nil)
	wsWantRedirect(t, "password step", resp, body, "/staff/login/2fa?next="+url.QueryEscape(next))
	pc := tfPendingCookie(resp)
	if pc == nil || !pc.HttpOnly || pc.Path != "/staff/login" || pc.MaxAge != 300 || wsSessionCookie(resp) != nil {
		t.Fatalf("password step cookies: %v", resp.Header.Values("Set-Cookie"))
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != sessions {
		t.Errorf("%d sessions after the password step, want the %d of before", n, sessions)
	}
	resp, body = b.Get("/staff/login/2fa?next=" + url.QueryEscape(next))
	wsWant(t, "code page", resp, body, http.StatusOK)
	if !strings.Contains(body, `name="code"`) || !strings.Contains(body, `value="`+html.EscapeString(next)+`"`) {
		t.Errorf("code page lacks the code field or next:\n%s", body)
	}
	resp, body = tfSecond(b, tfCode(t, a, secret), next)
	wsWantRedirect(t, "code step", resp, body, next)
	if c := wsSessionCookie(resp); c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("no proper session cookie after the code: %v", resp.Header.Values("Set-Cookie"))
	}
	if c := tfPendingCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("the pending cookie is not cleared: %v", resp.Header.Values("Set-Cookie"))
	}
	resp, body = b.Get("/staff")
	wsWant(t, "queue after two steps", resp, body, http.StatusOK)
	if n := wsCount(t, a, "SELECT COUNT(*) FROM pending_sign_ins"); n != 0 {
		t.Errorf("%d pending sign-ins left after completing, want 0", n)
	}
	// The spent pending sign-in does not work twice.
	resp, body = tfSecond(b, tfCode(t, a, secret), next)
	wsWant(t, "second step again", resp, body, http.StatusUnauthorized)
}

// TestTOTPWrongCodeCountsTowardsLock protects against guessing codes: a
// wrong code is 401, and wrong codes lock the account like wrong
// passwords, which a known password does not reset.
func TestTOTPWrongCodeCountsTowardsLock(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	secret, _ := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))

	b := tfPassword(t, a, "ann@example.org", "/staff")
	for i := 1; i <= 3; i++ {
		resp, body := tfSecond(b, tfWrong(t, a, secret), "/staff")
		wsWant(t, fmt.Sprintf("wrong code %d", i), resp, body, http.StatusUnauthorized)
		if wsAlert(body) == "" || wsSessionCookie(resp) != nil {
			t.Fatalf("wrong code %d: no message, or a session", i)
		}
	}
	// A correct password in between forgives nothing.
	b = tfPassword(t, a, "ann@example.org", "/staff")
	for i := 4; i <= 5; i++ {
		resp, body := tfSecond(b, tfWrong(t, a, secret), "/staff")
		wsWant(t, fmt.Sprintf("wrong code %d", i), resp, body, http.StatusUnauthorized)
	}
	resp, body := tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWant(t, "right code while locked", resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || wsSessionCookie(resp) != nil {
		t.Errorf("locked code step: Retry-After %q, cookies %v", resp.Header.Get("Retry-After"), resp.Header.Values("Set-Cookie"))
	}
	resp, body = wsLogin(a, "ann@example.org", wsPassword, nil)
	wsWant(t, "password while locked", resp, body, http.StatusTooManyRequests)

	// The lock ends; the pending sign-in still works within its 5 minutes.
	a.Clock.Advance(31 * time.Second)
	resp, body = tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWantRedirect(t, "after the lock", resp, body, "/staff")
}

// TestTOTPReplayRefused protects against a code being used twice: the
// code of a step already used (or an earlier one) is refused.
func TestTOTPReplayRefused(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	secret, _ := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))

	code := tfCode(t, a, secret)
	resp, body := tfSecond(tfPassword(t, a, "ann@example.org", "/staff"), code, "/staff")
	wsWantRedirect(t, "first use", resp, body, "/staff")
	b := tfPassword(t, a, "ann@example.org", "/staff")
	resp, body = tfSecond(b, code, "/staff")
	wsWant(t, "same code again", resp, body, http.StatusUnauthorized)
	// Neither does the previous step's code, though within the skew.
	prev, _ := totp.GenerateCode(secret, a.Clock.Now().Add(-30*time.Second))
	resp, body = tfSecond(b, prev, "/staff")
	wsWant(t, "older code", resp, body, http.StatusUnauthorized)
	// The next step's code works.
	a.Clock.Advance(30 * time.Second)
	resp, body = tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWantRedirect(t, "next step", resp, body, "/staff")
}

// TestTOTPRecoveryCodeOnce protects recovery codes: each works once,
// typed in any case with or without dashes, and only for its owner.
func TestTOTPRecoveryCodeOnce(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	wsStaff(t, a, "bob@example.org", "reviewer")
	_, codes := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))
	_, bobCodes := tfEnrol(t, a, wsSignedIn(a, "bob@example.org"))

	b := tfPassword(t, a, "ann@example.org", "/staff")
	resp, body := tfSecond(b, bobCodes[0], "/staff")
	wsWant(t, "another account's recovery code", resp, body, http.StatusUnauthorized)
	typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
	resp, body = tfSecond(b, typed, "/staff")
	wsWantRedirect(t, "recovery code", resp, body, "/staff")
	resp, body = b.Get("/staff/2fa")
	if !strings.Contains(body, "9 unused recovery codes") {
		t.Errorf("count after one use not shown:\n%s", body)
	}
	b = tfPassword(t, a, "ann@example.org", "/staff")
	resp, body = tfSecond(b, codes[0], "/staff")
	wsWant(t, "recovery code again", resp, body, http.StatusUnauthorized)
	resp, body = tfSecond(b, codes[1], "/staff")
	wsWantRedirect(t, "another recovery code", resp, body, "/staff")
	if n := wsCount(t, a, "SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL"); n != 2 {
		t.Errorf("%d used recovery codes, want 2", n)
	}
}

// TestTOTPPendingGrantsNothing protects the workspace from a sign-in that
// passed only the password: the pending cookie opens no page, not even
// as a session cookie, and it expires.
func TestTOTPPendingGrantsNothing(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ada@example.org", "admin")
	secret, _ := tfEnrol(t, a, wsSignedIn(a, "ada@example.org"))
	a.Exec("DELETE FROM sessions") // only the pending sign-in below

	b, pending := tfPasswordPending(t, a, "ada@example.org", "/staff")
	forged := a.Browser()
	forged.SetCookie("portal_session", pending)
	for _, br := range []*apptest.Browser{b, forged} {
		for _, p := range []string{"/staff", "/staff/admin", "/staff/2fa", "/staff/requests/x"} {
			resp, body := br.Get(p)
			wsWantRedirect(t, "GET "+p+" while pending", resp, body, "/staff/login?next="+url.QueryEscape(p))
		}
		resp, body := br.PostForm("/staff/admin/staff", url.Values{"email": {"m@example.org"}, "name": {"M"}, "role": {"admin"}}, nil)
		wsWantRedirect(t, "POST while pending", resp, body, "/staff/login?next=%2Fstaff")
	}
	if resp, m := a.GetJSON("/api/v1/requests", pending); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("pending value as API token: %d %v", resp.StatusCode, m)
	}
	if _, err := a.Store.StaffByEmail(context.Background(), "m@example.org"); err == nil {
		t.Fatal("a pending sign-in added staff")
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != 0 {
		t.Errorf("%d sessions while pending", n)
	}
	// The code page needs the pending cookie; without it, back to the start.
	resp, body := a.Browser().Get("/staff/login/2fa")
	wsWantRedirect(t, "code page without pending", resp, body, "/staff/login?next=%2Fstaff")
	// After five minutes the pending sign-in is gone.
	a.Clock.Advance(5*time.Minute + time.Second)
	resp, body = tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWant(t, "code after the pending sign-in expired", resp, body, http.StatusUnauthorized)
	if !strings.Contains(body, `action="/staff/login"`) || wsSessionCookie(resp) != nil {
		t.Errorf("expired pending: want the sign-in form and no session:\n%s", body)
	}
}

// TestTOTPRequire2FA protects staff.require_2fa: a staff member without a
// second factor reaches only enrolment (and sign-out) until enrolled;
// API tokens keep working.
func TestTOTPRequire2FA(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) { c.Staff.Require2FA = true }})
	token := a.StaffToken("rita@example.org", "admin")
	b := a.Browser()
	resp, body := b.PostForm("/staff/login", url.Values{"email": {"rita@example.org"}, "password": {wsPassword}, "next": {"/staff/admin"}}, nil)
	wsWantRedirect(t, "sign-in without 2FA", resp, body, "/staff/2fa")
	for _, p := range []string{"/staff", "/staff/admin", "/staff?status=verified"} {
		resp, body := b.Get(p)
		wsWantRedirect(t, "GET "+p+" before enrolment", resp, body, "/staff/2fa")
	}
	resp, body = b.PostForm("/staff/admin/staff", url.Values{"email": {"m@example.org"}, "name": {"M"}, "role": {"admin"}}, nil)
	wsWantRedirect(t, "POST before enrolment", resp, body, "/staff/2fa")
	if _, err := a.Store.StaffByEmail(context.Background(), "m@example.org"); err == nil {
		t.Fatal("staff added before enrolment")
	}
	if resp, m := a.GetJSON("/api/v1/requests", token); resp.StatusCode != http.StatusOK {
		t.Errorf("API token under require_2fa: %d %v", resp.StatusCode, m)
	}
	resp, body = b.Get("/staff/2fa")
	if !strings.Contains(body, "requires two-step sign-in") {
		t.Errorf("enrolment page does not say it is required")
	}
	secret, _ := tfEnrol(t, a, b)
	resp, body = b.Get("/staff/admin")
	wsWant(t, "admin page after enrolment", resp, body, http.StatusOK)
	resp, body = tfSecond(tfPassword(t, a, "rita@example.org", "/staff"), tfCode(t, a, secret), "/staff")
	wsWantRedirect(t, "two-step sign-in under require_2fa", resp, body, "/staff")
	// Sign-out stays possible before enrolment.
	wsStaff(t, a, "sam@example.org", "reviewer")
	sb := a.Browser()
	sb.PostForm("/staff/login", url.Values{"email": {"sam@example.org"}, "password": {wsPassword}}, nil)
	resp, body = sb.PostForm("/staff/logout", nil, nil)
	wsWantRedirect(t, "sign-out before enrolment", resp, body, "/staff/login")
}

// TestTOTPAdminReset protects the admin reset: only admins, not of
// themselves; it removes the factor and the codes, ends the sessions,
// and is logged with who did it.
func TestTOTPAdminReset(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	ada := wsStaff(t, a, "ada@example.org", "admin")
	rita := wsStaff(t, a, "rita@example.org", "reviewer")
	ab := wsSignedIn(a, ada.Email)
	rb := wsSignedIn(a, rita.Email)
	tfEnrol(t, a, rb)
	tfEnrol(t, a, ab)
	_, body := ab.Get("/staff/admin")
	if !strings.Contains(body, "/staff/admin/staff/"+rita.ID+"/2fa/reset") || strings.Contains(body, "/staff/admin/staff/"+ada.ID+"/2fa/reset") {
		t.Errorf("admin page should offer a reset for rita only")
	}
	resp, body := rb.PostForm("/staff/admin/staff/"+ada.ID+"/2fa/reset", nil, nil)
	wsWant(t, "reviewer resets", resp, body, http.StatusForbidden)
	resp, body = ab.PostForm("/staff/admin/staff/"+ada.ID+"/2fa/reset", nil, nil)
	wsWant(t, "admin resets themselves", resp, body, http.StatusUnprocessableEntity)
	resp, body = ab.PostForm("/staff/admin/staff/nobody/2fa/reset", nil, nil)
	wsWant(t, "reset of nobody", resp, body, http.StatusNotFound)

	resp, body = ab.PostForm("/staff/admin/staff/"+rita.ID+"/2fa/reset", nil, nil)
	wsWantRedirect(t, "reset", resp, body, "/staff/admin")
	logs := a.Logs.String()
	if !strings.Contains(logs, "admin reset two-step sign-in") || !strings.Contains(logs, "actor="+ada.ID) || !strings.Contains(logs, "staff="+rita.ID) {
		t.Errorf("reset not logged with actor and staff:\n%s", logs)
	}
	resp, body = rb.Get("/staff")
	wsWantRedirect(t, "rita's session after the reset", resp, body, "/staff/login?next=%2Fstaff")
	for _, q := range []string{"staff_totp", "recovery_codes", "sessions"} {
		if n := wsCount(t, a, "SELECT COUNT(*) FROM "+q+" WHERE staff_id = ?", rita.ID); n != 0 {
			t.Errorf("%d rows of %s left for rita", n, q)
		}
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM staff_totp WHERE staff_id = ?", ada.ID); n != 1 {
		t.Errorf("ada's own second factor went too")
	}
	// Rita signs in with the password alone; the old app code means nothing.
	resp, body = wsLogin(a, rita.Email, wsPassword, nil)
	wsWantRedirect(t, "password after reset", resp, body, "/staff")
}

// TestTOTPSecretSealed protects the TOTP secret and the recovery codes at
// rest: no table of the database holds them in clear (base32 or raw).
func TestTOTPSecretSealed(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	st := wsStaff(t, a, "ann@example.org", "reviewer")
	secret, codes := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %v (%d bytes)", secret, err, len(raw))
	}
	needles := [][]byte{[]byte(strings.ToLower(secret)), raw}
	for _, c := range codes {
		needles = append(needles, []byte(c), []byte(strings.ReplaceAll(c, "-", "")))
	}
	db := wsDB(t, a)
	var sealed []byte
	if err := db.Raw("SELECT sealed FROM staff_totp WHERE staff_id = ? AND confirmed_at IS NOT NULL", st.ID).Row().Scan(&sealed); err != nil || len(sealed) < 20+12+16 {
		t.Fatalf("sealed secret: %d bytes, %v", len(sealed), err)
	}
	tfScanDB(t, a, needles)
}

// tfScanDB reads every column of every table through database/sql and
// fails the test where one holds a needle (compared case-insensitively).
// Text, blob (bytea) and JSON columns come back as strings or bytes on
// both databases; times and numbers cannot hold a secret.
func tfScanDB(t *testing.T, a *apptest.App, needles [][]byte) {
	t.Helper()
	db := wsDB(t, a)
	catalogue := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if a.Postgres() {
		catalogue = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	tables, err := db.Raw(catalogue).Rows()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	if !slices.Contains(names, "staff_totp") || !slices.Contains(names, "recovery_codes") {
		t.Fatalf("the scan sees tables %v, not the portal's", names)
	}
	for _, name := range names {
		rows, err := db.Raw(`SELECT * FROM "` + name + `"`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for i, v := range vals {
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					continue
				}
				for _, n := range needles {
					if bytes.Contains(bytes.ToLower(b), bytes.ToLower(n)) {
						t.Errorf("%s.%s holds a secret in clear", name, cols[i])
					}
				}
			}
		}
		rows.Close()
	}
}
