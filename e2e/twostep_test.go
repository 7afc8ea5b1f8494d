package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// TestAccessibilityTwoStepSignIn protects the two-step sign-in pages on phone and desktop: setup, a wrong setup code, the recovery codes, the code step of the sign-in and its error.
func TestAccessibilityTwoStepSignIn(t *testing.T) {
	// With two-step sign-in required, the first sign-in lands on the
	// setup page, which then also shows the requirement.
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) { c.Staff.Require2FA = true }})
	browser := newBrowser(t)
	for _, vp := range []viewport{phone, desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			email := vp.Name + ".twostep@example.org"
			a.StaffToken(email, "reviewer")
			// A browser context of its own: no session of the other run.
			tb := newTab(t, a, browser, vp, chromedp.WithNewBrowserContext())
			secret := enrolTOTP(tb, email)
			signInWithCode(tb, email, secret)
		})
	}
}

// enrolTOTP signs the staff member in, sets up two-step sign-in on the
// setup page with a code generated from the secret the page shows, and
// returns the secret. Each state of the page is checked.
func enrolTOTP(tb *tab, email string) string {
	t, a := tb.t, tb.a
	t.Helper()
	tb.signIn(email)
	if p := tb.path(); p != "/staff/2fa" {
		t.Fatalf("the first sign-in with two-step sign-in required ended at %s, want /staff/2fa", p)
	}
	tb.wantH1("Two-step sign-in")
	tb.wantText("Your organisation requires two-step sign-in", "Add the portal to your app")
	if !eval[bool](tb, `(i => !!i && i.complete && i.naturalWidth > 0)(document.querySelector('main img'))`) {
		t.Errorf("the QR code image did not load")
	}
	tb.page("2fa-setup")

	uri := otpauthURI(tb)
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("the setup page's address %q: %v", uri, err)
	}
	secret := key.Secret()
	tb.fill("#code", wrongTOTP(t, a, secret))
	tb.wantStatus("wrong setup code", tb.press(`form[action="/staff/2fa"] button[type=submit]`), http.StatusUnprocessableEntity)
	tb.wantText("That code is not right")
	if got := otpauthURI(tb); got != uri {
		t.Errorf("a wrong code changed the secret: %q, was %q", got, uri)
	}
	tb.page("2fa-setup-wrong-code")

	tb.fill("#code", totpCode(t, a, secret))
	tb.wantStatus("confirm the setup", tb.press(`form[action="/staff/2fa"] button[type=submit]`), http.StatusOK)
	tb.wantText("Two-step sign-in is on", "Your recovery codes")
	if n := eval[int](tb, `document.querySelectorAll('ul.recovery-codes code').length`); n != 10 {
		t.Errorf("%d recovery codes shown, want 10", n)
	}
	tb.page("2fa-recovery-codes")
	tb.open("/staff/2fa")
	tb.wantText("10 unused recovery codes left")
	if strings.Contains(tb.text(), secret) {
		t.Errorf("the page shows the secret after the setup")
	}
	tb.page("2fa-on")
	// The sign-in needs a code of a later step than the one just used.
	a.Clock.Advance(30 * time.Second)
	return secret
}

// signInWithCode signs out, and in again with the password and then a
// wrong and a right code, checking the code page in both states.
func signInWithCode(tb *tab, email, secret string) {
	t, a := tb.t, tb.a
	t.Helper()
	tb.press(`form[action="/staff/logout"] button[type=submit]`)
	tb.open("/staff/login")
	tb.wantH1("Sign in")
	tb.fill("#email", email)
	tb.fill("#password", staffPassword)
	tb.wantStatus("the password step", tb.press(`form[action="/staff/login"] button[type=submit]`), http.StatusOK)
	if p := tb.path(); !strings.HasPrefix(p, "/staff/login/2fa") {
		t.Fatalf("the password of a staff member with two-step sign-in led to %s, want the code page", p)
	}
	tb.wantH1("Sign in: enter your code")
	tb.page("login-code")

	tb.fill("#code", wrongTOTP(t, a, secret))
	tb.wantStatus("wrong code", tb.press(`form[action="/staff/login/2fa"] button[type=submit]`), http.StatusUnauthorized)
	tb.wantText("The code is wrong")
	tb.page("login-code-wrong")

	tb.fill("#code", totpCode(t, a, secret))
	tb.wantStatus("the code step", tb.press(`form[action="/staff/login/2fa"] button[type=submit]`), http.StatusOK)
	if p := tb.path(); p != "/staff" {
		t.Fatalf("the right code led to %s, want the queue", p)
	}
	tb.wantH1("Queue")
}

// otpauthURI is the otpauth address the setup page shows for apps that
// cannot scan the QR code.
func otpauthURI(tb *tab) string {
	tb.t.Helper()
	return eval[string](tb, `(document.getElementById('otpauth-uri') || {textContent: ''}).textContent.trim()`)
}

// totpCode is the current code for secret by the app's clock.
func totpCode(t *testing.T, a *apptest.App, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, a.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongTOTP is a six-digit code that no step near the app's clock
// produces, so that the portal refuses it whatever skew it allows.
func wrongTOTP(t *testing.T, a *apptest.App, secret string) string {
	t.Helper()
	var near []string
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		c, err := totp.GenerateCode(secret, a.Clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		near = append(near, c)
	}
	c := []byte(near[2])
	for slices.Contains(near, string(c)) {
		c[0] = '0' + (c[0]-'0'+1)%10
	}
	return string(c)
}
