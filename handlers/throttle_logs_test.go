package handlers_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/service"
)

// hzRandomToken is a well-formed token nobody was given.
func hzRandomToken() string {
	v, _ := service.NewToken()
	return v
}

// TestThrottleStatusTokens protects status links against guessing:
// unknown tokens get the same bare 404 (no echo of the token, the same
// page for a malformed one), every token route shares the per-client
// limit, and hammering them gets 429 while another client still passes.
func TestThrottleStatusTokens(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		c.RateLimit.VerifyPerIP = config.Limit{Burst: 6, Every: config.Duration(time.Hour)}
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
	})
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	var pages []string
	for i, tok := range []string{hzRandomToken(), hzRandomToken(), "not-a-token", hzRandomToken()} {
		resp, body := a.Do(http.MethodGet, "/status/"+tok, nil, from("203.0.113.1"))
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("guess %d: %d, want 404", i, resp.StatusCode)
		}
		if strings.Contains(string(body), tok) {
			t.Errorf("the 404 page repeats the token")
		}
		pages = append(pages, string(body))
	}
	for i := 1; i < len(pages); i++ {
		if pages[i] != pages[0] {
			t.Errorf("404 page %d differs from the first:\n%s\n---\n%s", i, pages[i], pages[0])
		}
	}
	// The other token routes draw on the same allowance.
	resp, b := postRaw(t, a, "/status/"+hzRandomToken()+"/download", "application/x-www-form-urlencoded", "code=12345678", from("203.0.113.1"))
	if resp.StatusCode != http.StatusNotFound || string(b) != pages[0] {
		t.Errorf("download with an unknown token: %d, or another page than the 404", resp.StatusCode)
	}
	resp, b = postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": hzRandomToken()}), from("203.0.113.1"))
	checkError(t, resp, b, http.StatusNotFound, "")

	for _, probe := range []struct{ method, path, body string }{
		{http.MethodGet, "/status/" + hzRandomToken(), ""},
		{http.MethodPost, "/status/" + hzRandomToken() + "/download", "code=12345678"},
		{http.MethodPost, "/status/" + hzRandomToken() + "/answer", "message=hello"},
		{http.MethodPost, "/status/" + hzRandomToken() + "/code", ""},
		{http.MethodGet, "/verify?token=" + hzRandomToken(), ""},
	} {
		h := from("203.0.113.1")
		h["Content-Type"] = "application/x-www-form-urlencoded"
		resp, _ := a.Do(probe.method, probe.path, strings.NewReader(probe.body), h)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s over the limit: %d, Retry-After %q", probe.method, probe.path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	resp, b = postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": hzRandomToken()}), from("203.0.113.1"))
	check429(t, resp, b)
	// Another client has its own allowance.
	resp, _ = a.Do(http.MethodGet, "/status/"+hzRandomToken(), nil, from("198.51.100.9"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another client: %d, want 404", resp.StatusCode)
	}
}

var (
	hzReplyTokenRE = regexp.MustCompile(`\+([a-z2-7]{32})@`)
	hzStatusRE     = regexp.MustCompile(`/status/([a-z2-7]{32})`)
	hzCodeRE       = regexp.MustCompile(`(?m)^\s+([0-9]{8})\s*$`)
)

// hzReplyToken is the token in a mail's Reply-To address.
func hzReplyToken(t *testing.T, m *apptest.Mail) string {
	t.Helper()
	r := hzReplyTokenRE.FindStringSubmatch(m.ReplyTo(t))
	if r == nil {
		t.Fatalf("no token in Reply-To %q", m.ReplyTo(t))
	}
	return r[1]
}

// hzSystems is the shipped config.yaml's systems inventory (one manual
// system), so that an access request gets a download package.
func hzSystems(t *testing.T) []config.System {
	raw, err := os.ReadFile(filepath.Join(apptest.RepoRoot(t), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil || len(cfg.Systems) == 0 {
		t.Fatalf("config.yaml systems: %v", err)
	}
	return cfg.Systems
}

type hzTask struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
}

// hzTasks reads a request's tasks through the API.
func hzTasks(t *testing.T, a *apptest.App, token, id string) []hzTask {
	t.Helper()
	resp, body := a.Do(http.MethodGet, "/api/v1/requests/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get request: %d %s", resp.StatusCode, body)
	}
	var r struct {
		Tasks []hzTask `json:"tasks"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Tasks
}

// TestLogsHoldNoTokens protects the logs (and the database): a whole flow (submit, verify by
// link, status page, a question answered, staff two-step sign-in, API
// token use, the download by code) is logged at debug level, and no
// secret of it appears there: verification link and reply tokens, the
// status and question-reply tokens, session and pending cookies, the API
// token, the download code, the TOTP secret and the recovery codes. (With
// an SMTP relay set, as here, the development-mode link logging is off.)
func TestLogsHoldNoTokens(t *testing.T) {
	systems := hzSystems(t)
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) { c.Systems = systems }})
	secrets := map[string]string{}

	// The subject files and confirms by link.
	const subject = "logs@example.com"
	id, ref := a.Submit(map[string]any{"type": "access", "email": subject, "full_name": "Log Tester"})
	vm := a.MailWithSubject(subject, "Please confirm")
	secrets["verification token"] = apptest.TokenFromLink(t, vm.Link(t, "/verify?token="))
	secrets["verification reply token"] = hzReplyToken(t, vm)
	sb := a.Browser()
	resp, body := sb.Get("/verify?token=" + secrets["verification token"])
	wsWant(t, "confirm page", resp, body, http.StatusOK)
	resp, body = sb.PostForm("/verify", url.Values{"token": {secrets["verification token"]}}, nil)
	wsWantRedirect(t, "confirm", resp, body, "/verified?ref="+ref)
	ack := a.MailWithSubject(subject, "We received")
	m := hzStatusRE.FindStringSubmatch(ack.Text)
	if m == nil {
		t.Fatalf("no status link in:\n%s", ack.Text)
	}
	secrets["status token"] = m[1]
	status := "/status/" + m[1]
	resp, body = sb.Get(status)
	wsWant(t, "status page", resp, body, http.StatusOK)

	// Staff: an API token works the request; an admin signs in in two steps.
	api := a.StaffToken("api@example.org", "admin")
	secrets["API token"] = api
	if resp, m := a.GetJSON("/api/v1/requests", api); resp.StatusCode != http.StatusOK {
		t.Fatalf("API list: %d %v", resp.StatusCode, m)
	}
	wsStaff(t, a, "ada@example.org", "admin")
	totpSecret, recovery := tfEnrol(t, a, wsSignedIn(a, "ada@example.org"))
	secrets["TOTP secret"] = totpSecret
	for i, c := range recovery {
		secrets[fmt.Sprintf("recovery code %d", i)] = c
	}
	ab, pending := tfPasswordPending(t, a, "ada@example.org", "/staff")
	secrets["pending sign-in cookie"] = pending
	resp, body = tfSecond(ab, tfCode(t, a, totpSecret), "/staff")
	wsWantRedirect(t, "two-step sign-in", resp, body, "/staff")
	secrets["session cookie"] = ab.Cookie("portal_session")
	resp, body = ab.Get("/staff/requests/" + id)
	wsWant(t, "request file", resp, body, http.StatusOK)

	wsAct(a, api, id, map[string]any{"action": "start_review"})
	wsAct(a, api, id, map[string]any{"action": "request_info", "message": "Which account?"})
	q := a.MailWithSubject(subject, "A question")
	secrets["question reply token"] = hzReplyToken(t, q)
	resp, body = sb.PostForm(status+"/answer", url.Values{"message": {"The shop one."}}, nil)
	wsWantRedirect(t, "answer", resp, body, status+"?done=answer")
	wsAct(a, api, id, map[string]any{"action": "approve"})
	for _, task := range hzTasks(t, a, api, id) {
		if task.Kind == "manual" {
			resp, m := a.PostJSON(fmt.Sprintf("/api/v1/requests/%s/tasks/%d", id, task.ID),
				map[string]any{"action": "done", "evidence": "Nothing found in the CRM."}, map[string]string{"Authorization": "Bearer " + api})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("task done: %d %v", resp.StatusCode, m)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for built := false; !built; {
		for _, task := range hzTasks(t, a, api, id) {
			built = built || task.Kind == "package" && task.State == "done"
		}
		if time.Now().After(deadline) {
			t.Fatalf("package not built: %+v\n%s", hzTasks(t, a, api, id), a.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	wsAct(a, api, id, map[string]any{"action": "complete", "message": "Here is your data."})

	// The subject downloads with a mailed code.
	resp, body = sb.PostForm(status+"/code", nil, nil)
	wsWantRedirect(t, "ask for a code", resp, body, status+"?done=code#download")
	cm := hzCodeRE.FindStringSubmatch(a.MailWithSubject(subject, "download code").Text)
	if cm == nil {
		t.Fatal("no code in the download code mail")
	}
	secrets["download code"] = cm[1]
	resp, body = sb.PostForm(status+"/download", url.Values{"code": {cm[1]}}, nil)
	wsWant(t, "download", resp, "", http.StatusOK)
	if _, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body))); err != nil {
		t.Errorf("download is not a zip: %v", err)
	}
	a.MailWithSubject(subject, "is complete")

	logs := a.Logs.String()
	if !strings.Contains(logs, "route=/status/:token") || !strings.Contains(logs, "route=/staff/login/2fa") {
		t.Fatalf("the logs did not capture the flow:\n%s", logs)
	}
	lower := strings.ToLower(logs)
	for what, v := range secrets {
		if len(v) < 6 {
			t.Fatalf("%s %q is too short to look for", what, v)
		}
		if strings.Contains(lower, strings.ToLower(v)) {
			t.Errorf("the logs hold the %s", what)
		}
	}
	// Nor does the database hold any of them in clear: tokens and codes
	// as hashes, the TOTP secret sealed, sent mail without its links.
	var needles [][]byte
	for _, v := range secrets {
		needles = append(needles, []byte(v))
	}
	tfScanDB(t, a, needles)
}
