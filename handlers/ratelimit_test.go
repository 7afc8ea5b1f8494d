package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// withLimits starts an app with rate limiting on and the limits set by
// change.
func withLimits(t *testing.T, change func(c *config.Config)) *apptest.App {
	t.Helper()
	return apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		c.RateLimit.Enabled = true
		change(c)
	}})
}

func submitBody(email string) string {
	return mustJSON(map[string]any{"type": "access", "email": email, "full_name": "Rate Tester"})
}

// check429 asserts SPEC §7's 429: the error shape and a Retry-After of
// whole seconds, at least one.
func check429(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	e := checkError(t, resp, body, http.StatusTooManyRequests, "")
	if e["code"] != "rate_limited" {
		t.Errorf("code %v, want rate_limited", e["code"])
	}
	ra := resp.Header.Get("Retry-After")
	n, err := strconv.Atoi(ra)
	if err != nil || n < 1 {
		t.Errorf("Retry-After %q is not whole seconds ≥ 1", ra)
	}
}

// TestSubmitLimitPerIP protects the per-client submission limit: the
// burst passes, the next gets 429 with Retry-After and stores nothing,
// and time restores the allowance.
func TestSubmitLimitPerIP(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 3, Every: config.Duration(time.Hour)}
	})
	for i := 0; i < 3; i++ {
		resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody(fmt.Sprintf("ip%d@example.com", i)), nil)
		checkAccepted(t, resp, b)
	}
	before := storedRows(t, a)
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("ip3@example.com"), nil)
	check429(t, resp, b)
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra > 3600 {
		t.Errorf("Retry-After %d is longer than the hour one submission takes to recover", ra)
	}
	// The form shares the limit and says so as a page.
	resp, page := postRaw(t, a, "/request", "application/x-www-form-urlencoded",
		url.Values{"type": {"access"}, "full_name": {"Rate Tester"}, "email": {"form@example.com"}}.Encode(), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("form over the limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	assertNoGoErrorText(t, page)
	if after := storedRows(t, a); mustJSON(after) != mustJSON(before) {
		t.Errorf("429 stored something: before %v, after %v", before, after)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM requests"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	a.Clock.Advance(time.Hour + time.Second)
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("ip4@example.com"), nil)
	checkAccepted(t, resp, b)
}

// TestSubmitLimitPerEmail protects the per-address limit: one address
// (in any spelling) cannot be flooded, while other addresses still pass.
func TestSubmitLimitPerEmail(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 100, Every: config.Duration(time.Second)}
		c.RateLimit.SubmitPerEmail = config.Limit{Burst: 2, Every: config.Duration(time.Hour)}
	})
	for _, e := range []string{"victim@example.com", "Victim@Example.com"} {
		resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody(e), nil)
		checkAccepted(t, resp, b)
	}
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody(" VICTIM@example.COM"), nil)
	check429(t, resp, b)
	resp, page := postRaw(t, a, "/request", "application/x-www-form-urlencoded",
		url.Values{"type": {"access"}, "full_name": {"Rate Tester"}, "email": {"victim@example.com"}}.Encode(), nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("form for the same address: %d", resp.StatusCode)
	}
	assertNoGoErrorText(t, page)
	if n := countRows(t, a, "SELECT COUNT(*) FROM requests"); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("other@example.com"), nil)
	checkAccepted(t, resp, b)
}

// TestVerifyLimitPerIP protects the token-guessing limit on verification.
func TestVerifyLimitPerIP(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.VerifyPerIP = config.Limit{Burst: 2, Every: config.Duration(time.Hour)}
	})
	guess := mustJSON(map[string]any{"token": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
	for i := 0; i < 2; i++ {
		resp, b := postRaw(t, a, "/api/v1/verify", "application/json", guess, nil)
		checkError(t, resp, b, http.StatusNotFound, "")
	}
	resp, b := postRaw(t, a, "/api/v1/verify", "application/json", guess, nil)
	check429(t, resp, b)
	// The confirm page is behind the same limit.
	resp, _ = a.Do(http.MethodGet, "/verify?token=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET /verify over the limit: %d", resp.StatusCode)
	}
}

// TestForwardedForNotBelievedByDefault protects against a client that
// names itself in X-Forwarded-For to escape the per-IP limit.
func TestForwardedForNotBelievedByDefault(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 1, Every: config.Duration(time.Hour)}
	})
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("x1@example.com"),
		map[string]string{"X-Forwarded-For": "203.0.113.1"})
	checkAccepted(t, resp, b)
	for i, h := range []map[string]string{
		{"X-Forwarded-For": "203.0.113.2"},
		{"X-Forwarded-For": "198.51.100.7, 203.0.113.3"},
		{"X-Real-IP": "203.0.113.4"},
	} {
		resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody(fmt.Sprintf("y%d@example.com", i)), h)
		check429(t, resp, b)
	}
}

// TestForwardedForFromTrustedProxy protects deployments behind a reverse
// proxy: with the proxy trusted, each forwarded client has its own
// allowance.
func TestForwardedForFromTrustedProxy(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 1, Every: config.Duration(time.Hour)}
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
	})
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "2001:db8::1"} {
		resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody(fmt.Sprintf("p%d@example.com", i)),
			map[string]string{"X-Forwarded-For": ip})
		checkAccepted(t, resp, b)
	}
	// The same client again, and a neighbour in the same IPv6 /64.
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("q1@example.com"),
		map[string]string{"X-Forwarded-For": "203.0.113.1"})
	check429(t, resp, b)
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("q2@example.com"),
		map[string]string{"X-Forwarded-For": "2001:db8::beef"})
	check429(t, resp, b)
}

// TestRateLimitDisabled protects PORTAL_RATELIMIT_ENABLED=false: no 429,
// whatever the limits say.
func TestRateLimitDisabled(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		c.RateLimit.Enabled = false
		one := config.Limit{Burst: 1, Every: config.Duration(time.Hour)}
		c.RateLimit.SubmitPerIP, c.RateLimit.SubmitPerEmail, c.RateLimit.VerifyPerIP = one, one, one
	}})
	for i := 0; i < 5; i++ {
		resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("same@example.com"), nil)
		checkAccepted(t, resp, b)
		resp, b = postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}), nil)
		checkError(t, resp, b, http.StatusNotFound, "")
	}
}

// withVerifyLimit starts an app, with its mail workers, whose limits are
// on and allow burst verifications per address an hour; the others are
// out of the way.
func withVerifyLimit(t *testing.T, burst int) *apptest.App {
	t.Helper()
	return apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.SubmitPerEmail = config.Limit{Burst: 100, Every: config.Duration(time.Second)}
		c.RateLimit.VerifyPerIP = config.Limit{Burst: 100, Every: config.Duration(time.Second)}
		c.RateLimit.VerifyPerEmail = config.Limit{Burst: burst, Every: config.Duration(time.Hour)}
	}})
}

// filed files a request for email and returns its id and verification
// mail.
func filed(t *testing.T, a *apptest.App, email string) (string, *apptest.Mail) {
	t.Helper()
	id, ref := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Rate Tester"})
	return id, a.MailWithSubject(email, "("+ref+")")
}

func linkToken(t *testing.T, m *apptest.Mail) string {
	t.Helper()
	return apptest.TokenFromLink(t, m.Link(t, "/verify?token="))
}

func verifyByAPI(t *testing.T, a *apptest.App, token string) (*http.Response, []byte) {
	t.Helper()
	return postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": token}), nil)
}

// TestVerifyLimitPerEmail protects the per-address verification limit
// on the link: confirmations whose token belongs to one address's
// requests get 429 after the burst, by API and by form alike, while
// another address still passes. Wrong tokens and opening the link name
// no address and use up nothing of it.
func TestVerifyLimitPerEmail(t *testing.T) {
	a := withVerifyLimit(t, 2)
	staff := a.StaffToken("officer@example.org", "reviewer")
	var ids, tokens []string
	for range 3 {
		id, m := filed(t, a, "victim@example.com")
		ids, tokens = append(ids, id), append(tokens, linkToken(t, m))
	}
	_, om := filed(t, a, "other@example.com")

	for range 5 {
		resp, b := verifyByAPI(t, a, hzRandomToken())
		checkError(t, resp, b, http.StatusNotFound, "")
		if resp, _ := a.Do(http.MethodGet, "/verify?token="+tokens[2], nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /verify: %d", resp.StatusCode)
		}
	}
	resp, b := verifyByAPI(t, a, tokens[0])
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first verification: %d %s", resp.StatusCode, b)
	}
	resp, _ = postRaw(t, a, "/verify", "application/x-www-form-urlencoded", url.Values{"token": {tokens[1]}}.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second verification by form: %d", resp.StatusCode)
	}

	resp, b = verifyByAPI(t, a, tokens[2])
	check429(t, resp, b)
	resp, page := postRaw(t, a, "/verify", "application/x-www-form-urlencoded", url.Values{"token": {tokens[2]}}.Encode(), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("form over the limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	assertNoGoErrorText(t, page)
	if s := statusOf(t, a, staff, ids[2]); s != "unverified" {
		t.Fatalf("status %s after 429, want unverified", s)
	}

	resp, b = verifyByAPI(t, a, linkToken(t, om))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("another address: %d %s", resp.StatusCode, b)
	}
	a.Clock.Advance(time.Hour + time.Second)
	resp, b = verifyByAPI(t, a, tokens[2])
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after an hour: %d %s", resp.StatusCode, b)
	}
}

// TestVerifyLimitPerEmailReplies protects the same limit on replies
// through the webhook, keyed by From: forged replies in someone's name
// that act on nothing (an unknown token, or another request's token) do
// not count, replies that verify do, and the address's allowance is the
// one its links draw on too.
func TestVerifyLimitPerEmailReplies(t *testing.T) {
	a := withVerifyLimit(t, 1)
	staff := a.StaffToken("officer@example.org", "reviewer")
	id1, m1 := filed(t, a, "jane@example.com")
	id2, m2 := filed(t, a, "jane@example.com")
	idM, mM := filed(t, a, "mallory@example.net")

	nobody := "privacy+" + hzRandomToken() + "@" + a.Cfg.Mail.ReplyDomain
	for range 3 {
		if o, _ := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", nobody, m1)); o != "unmatched" {
			t.Fatalf("forged reply to an unknown token: %s", o)
		}
		if o, _ := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", mM.ReplyTo(t), mM)); o != "ignored" {
			t.Fatalf("forged reply to another request's token: %s", o)
		}
	}
	if o, why := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", m1.ReplyTo(t), m1)); o != "verified" {
		t.Fatalf("Jane's reply: %s (%s)", o, why)
	}

	resp, b := postInbound(t, a, subjectReply("Jane Doe", "jane@example.com", m2.ReplyTo(t), m2), a.Cfg.Mail.Inbound.Secret)
	check429(t, resp, b)
	resp, b = verifyByAPI(t, a, linkToken(t, m2))
	check429(t, resp, b)
	if s := statusOf(t, a, staff, id2); s != "unverified" {
		t.Fatalf("status %s after 429, want unverified", s)
	}
	if o, _ := inboundOutcome(t, a, subjectReply("Mallory", "mallory@example.net", mM.ReplyTo(t), mM)); o != "verified" {
		t.Errorf("another address's reply: %s", o)
	}

	a.Clock.Advance(time.Hour + time.Second)
	if o, why := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", m2.ReplyTo(t), m2)); o != "verified" {
		t.Errorf("Jane's reply after an hour: %s (%s)", o, why)
	}
	for _, id := range []string{id1, id2, idM} {
		if s := statusOf(t, a, staff, id); s != "verified" {
			t.Errorf("%s is %s, want verified", id, s)
		}
	}
}

// TestVerifyLimitPerEmailDisabled protects PORTAL_RATELIMIT_ENABLED=false
// for the per-address verification limit too.
func TestVerifyLimitPerEmailDisabled(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.RateLimit.Enabled = false
		c.RateLimit.VerifyPerEmail = config.Limit{Burst: 1, Every: config.Duration(time.Hour)}
	}})
	_, m1 := filed(t, a, "same@example.com")
	_, m2 := filed(t, a, "same@example.com")
	if resp, b := verifyByAPI(t, a, linkToken(t, m1)); resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %d %s", resp.StatusCode, b)
	}
	if o, why := inboundOutcome(t, a, subjectReply("Same", "same@example.com", m2.ReplyTo(t), m2)); o != "verified" {
		t.Errorf("second, by reply: %s (%s)", o, why)
	}
}

// submitForm posts the request form for email; name "" makes it invalid.
func submitForm(t *testing.T, a *apptest.App, email, name string) (*http.Response, []byte) {
	t.Helper()
	return postRaw(t, a, "/request", "application/x-www-form-urlencoded",
		url.Values{"type": {"access"}, "full_name": {name}, "email": {email}}.Encode(), nil)
}

// withSubmitPerEmail starts an app whose per-address submission limit
// is the shipped one (3, then one per 20 minutes) and whose per-client
// limit is out of the way.
func withSubmitPerEmail(t *testing.T) *apptest.App {
	t.Helper()
	return withLimits(t, func(c *config.Config) {
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 100, Every: config.Duration(time.Second)}
		c.RateLimit.SubmitPerEmail = config.Limit{Burst: 3, Every: config.Duration(20 * time.Minute)}
	})
}

// TestSubmitLimitPerEmailSpentOnlyWhenValid protects the victim of
// someone who names their address in invalid submissions: those are
// refused (422) and spend nothing of the address's allowance, so the
// victim's own request is still taken, by API and by form.
func TestSubmitLimitPerEmailSpentOnlyWhenValid(t *testing.T) {
	a := withSubmitPerEmail(t)
	for range 3 {
		resp, b := postRaw(t, a, "/api/v1/requests", "application/json",
			mustJSON(map[string]any{"type": "access", "email": "victim@example.com"}), nil)
		checkError(t, resp, b, http.StatusUnprocessableEntity, "full_name")
	}
	assertNothingStored(t, a)
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("victim@example.com"), nil)
	checkAccepted(t, resp, b)

	for range 3 {
		if resp, b := submitForm(t, a, "form-victim@example.com", ""); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("invalid form: %d\n%s", resp.StatusCode, b)
		}
	}
	if resp, b := submitForm(t, a, "form-victim@example.com", "Form Victim"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the victim's own form after three invalid ones: %d\n%s", resp.StatusCode, b)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM requests WHERE email IN ('victim@example.com', 'form-victim@example.com')"); n != 2 {
		t.Errorf("%d requests stored, want 2", n)
	}
}

// TestSubmitLimitPerEmailPerMailbox protects the per-address limit from
// +tags and case: name+1@, name+2@ and Name@DOMAIN reach one mailbox
// and share its allowance, by API and form alike.
func TestSubmitLimitPerEmailPerMailbox(t *testing.T) {
	a := withSubmitPerEmail(t)
	resp, b := postRaw(t, a, "/api/v1/requests", "application/json", submitBody("victim+1@example.com"), nil)
	checkAccepted(t, resp, b)
	if resp, b := submitForm(t, a, "victim+2@example.com", "Rate Tester"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second by form: %d\n%s", resp.StatusCode, b)
	}
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("Victim@EXAMPLE.com"), nil)
	checkAccepted(t, resp, b)

	before := storedRows(t, a)
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("victim+3@example.com"), nil)
	check429(t, resp, b)
	resp, page := submitForm(t, a, "VICTIM+news@example.com", "Rate Tester")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("form over the limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	assertNoGoErrorText(t, page)
	if after := storedRows(t, a); mustJSON(after) != mustJSON(before) {
		t.Errorf("429 stored something: before %v, after %v", before, after)
	}
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("victim2@example.com"), nil)
	checkAccepted(t, resp, b)
	a.Clock.Advance(20*time.Minute + time.Second)
	resp, b = postRaw(t, a, "/api/v1/requests", "application/json", submitBody("victim+3@example.com"), nil)
	checkAccepted(t, resp, b)
}

// TestCodeLimitIgnoresTokenCase protects the three-an-hour limit on
// mailing download codes: the status link's token is read whatever its
// case, so an upper-cased link is the same link and gets no more mails.
func TestCodeLimitIgnoresTokenCase(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.VerifyPerIP = config.Limit{Burst: 100, Every: config.Duration(time.Second)}
	})
	ann := a.StaffToken("ann@example.org", "admin")
	id, token := fulCompletedPortability(t, a, ann)
	if token != strings.ToLower(token) {
		t.Fatalf("status token %q is not lower case", token)
	}
	for i := range 3 {
		fulNewCode(a, token, i+1)
	}
	for _, variant := range []string{strings.ToUpper(token), strings.ToUpper(token[:1]) + token[1:]} {
		resp, body := fulSubjectPost(a, "/status/"+variant+"/code", nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("code by %s: %d Retry-After %q\n%.300s", variant, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if n := fulPortalCount(t, a, "SELECT count(*) FROM mails WHERE request_id = ? AND kind = 'download_code'", id); n != 3 {
		t.Errorf("%d code mails queued, want 3", n)
	}
}
