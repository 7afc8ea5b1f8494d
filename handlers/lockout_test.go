package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"rightsportal/internal/apptest"
)

// lockFree is how many failed sign-in steps an account or a client has
// before it is locked (service.loginFreeFailures). The first lock lasts
// 30 s.
const lockFree = 5

// postResult is one answer of a parallel burst.
type postResult struct {
	status     int
	retryAfter string
	err        error
}

// parallelPosts sends n form posts from client at the same moment (all
// are built first, then released together) and returns every answer.
// Nothing here calls t.Fatal: only the test's goroutine may.
func parallelPosts(a *apptest.App, client *http.Client, n int, path string, header map[string]string, form func(i int) url.Values) []postResult {
	out := make([]postResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		req, err := http.NewRequest(http.MethodPost, a.URL(path), strings.NewReader(form(i).Encode()))
		if err != nil {
			out[i].err = err
			continue
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", a.Server.URL)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = postResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// wantBurst checks a burst of wrong guesses: exactly checked of them were
// looked at (401), every other one was refused by the lock (429 with a
// Retry-After of the first lock's 1..30 s), and nothing else happened.
func wantBurst(t *testing.T, what string, res []postResult, checked int) {
	t.Helper()
	counts := map[int]int{}
	var badWaits []string
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("%s: request %d: %v", what, i, r.err)
		}
		counts[r.status]++
		if r.status == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(r.retryAfter); err != nil || s < 1 || s > 30 {
				badWaits = append(badWaits, r.retryAfter)
			}
		}
	}
	if len(badWaits) > 0 {
		t.Errorf("%s: 429s with Retry-After %q, want 1..30 seconds (the first lock)", what, badWaits)
	}
	if counts[http.StatusUnauthorized] != checked || counts[http.StatusTooManyRequests] != len(res)-checked {
		t.Errorf("%s: answers %v, want %d×401 (the attempts checked) and %d×429", what, counts, checked, len(res)-checked)
	}
}

// lockFailures is the failure count recorded against the account key.
func lockFailures(t *testing.T, a *apptest.App) int {
	t.Helper()
	return a.QueryInt("SELECT COALESCE(MAX(failures), 0) FROM login_throttles WHERE throttle_key LIKE 'acct:%'")
}

// TestSignInLockoutHoldsInParallel protects the lock against a burst of
// wrong passwords sent at once: each attempt is counted before its
// password is checked, so of 30 guesses only the 5 free ones reach the
// password check (the clock stands still, so the bound is exact), the
// other 25 get 429 with Retry-After, and the account stays locked, even
// for the right password, until the lock ends.
func TestSignInLockoutHoldsInParallel(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "kim@example.org", "reviewer")
	res := parallelPosts(a, a.Client(), 30, "/staff/login", nil, func(i int) url.Values {
		return url.Values{"email": {"kim@example.org"}, "password": {fmt.Sprintf("wrong guess number %d", i)}, "next": {"/staff"}}
	})
	wantBurst(t, "30 parallel wrong passwords", res, lockFree)
	if n := lockFailures(t, a); n != lockFree {
		t.Errorf("%d failures recorded, want the %d attempts checked", n, lockFree)
	}
	if n := wsCount(t, a, "SELECT COUNT(*) FROM sessions"); n != 0 {
		t.Errorf("%d sessions after a burst of wrong passwords", n)
	}
	resp, body := wsLogin(a, "kim@example.org", wsPassword, nil)
	wsWant(t, "right password after the burst", resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || wsSessionCookie(resp) != nil {
		t.Errorf("locked sign-in: Retry-After %q, cookies %v", resp.Header.Get("Retry-After"), resp.Header.Values("Set-Cookie"))
	}
	a.Clock.Advance(31 * time.Second)
	resp, body = wsLogin(a, "kim@example.org", wsPassword, nil)
	wsWantRedirect(t, "right password after the lock", resp, body, "/staff")
}

// TestSignInRightPasswordReleasesAttempts protects the legitimate user:
// attempts are counted before the check, but a right password after a
// few wrong ones still signs in, and clears the count.
func TestSignInRightPasswordReleasesAttempts(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "lee@example.org", "reviewer")
	wrong := func(i int) url.Values {
		return url.Values{"email": {"lee@example.org"}, "password": {fmt.Sprintf("not it %d", i)}, "next": {"/staff"}}
	}
	for round := 1; round <= 2; round++ {
		wantBurst(t, fmt.Sprintf("round %d: wrong passwords", round), parallelPosts(a, a.Client(), lockFree-1, "/staff/login", nil, wrong), lockFree-1)
		resp, body := wsLogin(a, "lee@example.org", wsPassword, nil)
		wsWantRedirect(t, fmt.Sprintf("round %d: right password", round), resp, body, "/staff")
		if n := lockFailures(t, a); n != 0 {
			t.Errorf("round %d: %d failures left after signing in, want 0", round, n)
		}
	}
}

// tfValid is every code the portal accepts now: the current step's and
// one either side.
func tfValid(t *testing.T, a *apptest.App, secret string) map[string]bool {
	t.Helper()
	ok := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totp.GenerateCode(secret, a.Clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		ok[c] = true
	}
	return ok
}

// TestTOTPLockoutHoldsInParallel protects the second step the same way:
// 40 different wrong codes sent at once for one pending sign-in reach the
// code check only 5 times; the rest get 429, and the right code waits for
// the lock to end.
func TestTOTPLockoutHoldsInParallel(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	wsStaff(t, a, "ann@example.org", "reviewer")
	secret, _ := tfEnrol(t, a, wsSignedIn(a, "ann@example.org"))
	b := tfPassword(t, a, "ann@example.org", "/staff")
	valid := tfValid(t, a, secret)
	var guesses []string
	for n := 0; len(guesses) < 40; n += 24989 {
		if c := fmt.Sprintf("%06d", n%1000000); !valid[c] {
			guesses = append(guesses, c)
		}
	}
	res := parallelPosts(a, b.Client, len(guesses), "/staff/login/2fa", nil, func(i int) url.Values {
		return url.Values{"code": {guesses[i]}, "next": {"/staff"}}
	})
	wantBurst(t, "40 parallel wrong codes", res, lockFree)
	if n := lockFailures(t, a); n != lockFree {
		t.Errorf("%d failures recorded, want the %d codes checked", n, lockFree)
	}
	resp, body := tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWant(t, "right code after the burst", resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || wsSessionCookie(resp) != nil {
		t.Errorf("locked code step: Retry-After %q, cookies %v", resp.Header.Get("Retry-After"), resp.Header.Values("Set-Cookie"))
	}
	// The lock ends within the pending sign-in's 5 minutes.
	a.Clock.Advance(31 * time.Second)
	resp, body = tfSecond(b, tfCode(t, a, secret), "/staff")
	wsWantRedirect(t, "right code after the lock", resp, body, "/staff")
}
