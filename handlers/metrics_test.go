package handlers_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
)

// scrape reads /metrics with an admin's API token.
func scrape(t *testing.T, a *apptest.App, token string) string {
	t.Helper()
	resp, b := a.Do(http.MethodGet, "/metrics", nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// metric is the value of one series (name and labels exactly as
// exposed), or -1 when the series is absent.
func metric(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// waitMetric scrapes until series has value want (mail counters move
// when the worker gets to the mail).
func waitMetric(t *testing.T, a *apptest.App, token, series string, want float64) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := scrape(t, a, token)
		if got := metric(body, series); got == want {
			return body
		} else if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v\n%s", series, got, want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetrics protects /metrics: only an admin's token reads it, and it
// counts requests by route pattern (never a path with a token in it),
// mail sent and failed, requests by state and overdue.
func TestMetrics(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	admin := a.StaffToken("admin@example.org", "admin")
	reviewer := a.StaffToken("reviewer@example.org", "reviewer")

	resp, b := a.Do(http.MethodGet, "/metrics", nil, nil)
	checkError(t, resp, b, http.StatusUnauthorized, "")
	resp, b = a.Do(http.MethodGet, "/metrics", nil, map[string]string{"Authorization": "Bearer " + reviewer})
	checkError(t, resp, b, http.StatusForbidden, "")

	_, ref := submitVerified(t, a, map[string]any{"type": "access", "email": "m1@example.com", "full_name": "Em One", "jurisdiction": "gdpr"})
	waitMetric(t, a, admin, `portal_mail_sent_total{kind="acknowledgment"}`, 1)
	a.Relay.SetMode(smtptest.PermFail)
	a.Submit(map[string]any{"type": "erasure", "email": "m2@example.com", "full_name": "Em Two"})
	waitMetric(t, a, admin, `portal_mail_failed_total{kind="verification"}`, 1)
	a.Relay.SetMode(smtptest.Accept)
	// A status link with a made-up token: counted under its pattern.
	a.Do(http.MethodGet, "/status/secrettoken123", nil, nil)
	a.Do("BREW", "/", nil, nil)
	body := scrape(t, a, admin)

	for series, want := range map[string]float64{
		`portal_http_requests_total{method="POST",route="/api/v1/requests",status="202"}`:    2,
		`portal_http_requests_total{method="POST",route="/api/v1/verify",status="200"}`:      1,
		`portal_http_request_duration_seconds_count{method="POST",route="/api/v1/requests"}`: 2,
		`portal_http_requests_total{method="GET",route="/metrics",status="401"}`:             1,
		`portal_http_requests_total{method="GET",route="/metrics",status="403"}`:             1,
		`portal_http_requests_total{method="OTHER",route="unmatched",status="405"}`:          1,
		`portal_mail_sent_total{kind="verification"}`:                                        1,
		`portal_mail_failed_total{kind="verification"}`:                                      1,
		`portal_requests{status="verified"}`:                                                 1,
		`portal_requests{status="unverified"}`:                                               1,
		`portal_requests{status="completed"}`:                                                0,
		`portal_requests_overdue`:                                                            0,
	} {
		if got := metric(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if !regexp.MustCompile(`portal_http_requests_total\{method="GET",route="/status/:token",status="\d+"\} 1`).MatchString(body) {
		t.Errorf("status page not counted under its route pattern:\n%s", body)
	}
	for _, leak := range []string{"secrettoken123", "BREW", "m1@example.com", ref} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics expose %q", leak)
		}
	}

	// Two months on, the verified request is overdue.
	a.Clock.Advance(70 * 24 * time.Hour)
	if got := metric(scrape(t, a, admin), "portal_requests_overdue"); got != 1 {
		t.Errorf("portal_requests_overdue = %v after the due date, want 1", got)
	}
}

// TestMetricsJobDepth protects the queue-depth gauge: mail that waits for
// a worker shows in portal_jobs.
func TestMetricsJobDepth(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	admin := a.StaffToken("admin@example.org", "admin")
	for i := range 3 {
		a.Submit(map[string]any{"type": "access", "email": "q" + strconv.Itoa(i) + "@example.com", "full_name": "Queue Depth"})
	}
	if got := metric(scrape(t, a, admin), `portal_jobs{queue="mail",state="available"}`); got != 3 {
		t.Fatalf("portal_jobs mail available = %v, want 3", got)
	}
	a.StartJobs()
	a.Relay.Wait(3, 10*time.Second)
	waitMetric(t, a, admin, `portal_mail_sent_total{kind="verification"}`, 3)
	deadline := time.Now().Add(10 * time.Second)
	for metric(scrape(t, a, admin), `portal_jobs{queue="mail",state="available"}`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("mail jobs still counted as waiting after the mail went out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestRequestID protects request IDs: each answer carries one, the log
// lines of that request name it, and an ID sent by the client is kept
// only from a trusted proxy and only when well-formed.
func TestRequestID(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	}})
	resp, _ := a.Do(http.MethodGet, "/request", nil, nil)
	id := resp.Header.Get("X-Request-ID")
	if !requestIDRE.MatchString(id) {
		t.Fatalf("X-Request-ID %q, want 16 hex digits", id)
	}
	if !strings.Contains(a.Logs.String(), "route=/request status=200") || !strings.Contains(a.Logs.String(), "request_id="+id) {
		t.Errorf("no log line with request_id=%s:\n%s", id, a.Logs.String())
	}
	resp2, _ := a.Do(http.MethodGet, "/request", nil, nil)
	if id2 := resp2.Header.Get("X-Request-ID"); id2 == id {
		t.Errorf("two requests share the ID %s", id)
	}
	// The test client is not a trusted proxy: its ID is not believed.
	resp, _ = a.Do(http.MethodGet, "/request", nil, map[string]string{"X-Request-ID": "client-chosen-1"})
	if got := resp.Header.Get("X-Request-ID"); got == "client-chosen-1" || !requestIDRE.MatchString(got) {
		t.Errorf("an untrusted client's X-Request-ID was kept: %q", got)
	}
}

// TestRequestIDFromProxy: behind a trusted proxy, a well-formed ID is
// kept end to end and a malformed one replaced.
func TestRequestIDFromProxy(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1", "::1"}
	}})
	resp, _ := a.Do(http.MethodGet, "/request", nil, map[string]string{"X-Request-ID": "proxy-7f3a:01"})
	if got := resp.Header.Get("X-Request-ID"); got != "proxy-7f3a:01" {
		t.Errorf("X-Request-ID %q, want the proxy's", got)
	}
	if !strings.Contains(a.Logs.String(), "request_id=proxy-7f3a:01") {
		t.Errorf("logs lack the proxy's request id:\n%s", a.Logs.String())
	}
	for _, bad := range []string{"a b", `"><script>`, strings.Repeat("x", 65), "id=1 level=ERROR"} {
		resp, _ := a.Do(http.MethodGet, "/request", nil, map[string]string{"X-Request-ID": bad})
		if got := resp.Header.Get("X-Request-ID"); !requestIDRE.MatchString(got) {
			t.Errorf("X-Request-ID %q answered %q, want a fresh ID", bad, got)
		}
	}
}
