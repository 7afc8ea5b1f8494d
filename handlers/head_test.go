package handlers_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/handlers"
	"rightsportal/internal/apptest"
)

// headSameHeaders are the headers a HEAD must answer exactly as the GET
// does: what a link checker or a cache decides on, and the security
// headers.
var headSameHeaders = []string{"Content-Type", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options",
	"Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy", "Location", "WWW-Authenticate",
	"Retry-After", "Allow", "Vary", "Content-Encoding", "Last-Modified"}

// rawRoundTrip sends one request on a connection of its own and reads
// the raw answer, so that net/http's own HEAD handling on the server is
// what the test sees, and any byte sent after the answer to a HEAD (a
// body that should not be there) is caught in extra.
func rawRoundTrip(t *testing.T, a *apptest.App, method, path string, header http.Header, cookies []*http.Cookie) (
	resp *http.Response, body, extra []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	for _, c := range cookies {
		req.AddCookie(c)
	}
	req.Close = true // the server closes after the answer: EOF ends it
	conn, err := net.Dial("tcp", a.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	resp, err = http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
	}
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	extra, _ = io.ReadAll(br)
	return resp, body, extra
}

// headLikeGet asks for path with GET and with HEAD and fails the test
// unless the HEAD had the GET's status and headers and no body.
func headLikeGet(t *testing.T, a *apptest.App, path string, header http.Header, cookies []*http.Cookie) {
	t.Helper()
	get, body, _ := rawRoundTrip(t, a, http.MethodGet, path, header, cookies)
	head, hbody, extra := rawRoundTrip(t, a, http.MethodHead, path, header, cookies)
	if head.StatusCode != get.StatusCode {
		t.Errorf("HEAD %s: %d, GET: %d", path, head.StatusCode, get.StatusCode)
	}
	for _, k := range headSameHeaders {
		if g, h := get.Header.Values(k), head.Header.Values(k); strings.Join(g, "\n") != strings.Join(h, "\n") {
			t.Errorf("HEAD %s: %s %q, GET: %q", path, k, h, g)
		}
	}
	// net/http counts a HEAD's dropped body when it is short enough to
	// know in time; when both say, they must agree.
	if g, h := get.Header.Get("Content-Length"), head.Header.Get("Content-Length"); g != "" && h != "" && g != h &&
		path != "/metrics" {
		t.Errorf("HEAD %s: Content-Length %s, GET: %s", path, h, g)
	}
	if len(hbody) > 0 || len(extra) > 0 {
		t.Errorf("HEAD %s sent a body: %q", path, append(hbody, extra...))
	}
	if get.StatusCode == http.StatusOK && len(body) == 0 && path != "/healthz" && path != "/readyz" {
		t.Errorf("GET %s: 200 with an empty body", path)
	}
}

// headFixture is a portal with one request in each shape a GET route
// shows, a signed-in admin and an API token.
type headFixture struct {
	a        *apptest.App
	apiToken string
	cookies  []*http.Cookie
	id, ref  string
	status   string // the verified request's status-link token
	verify   string // an unconfirmed request's verification token
	unconf   string // that request's id
}

func newHeadFixture(t *testing.T) *headFixture {
	a := apptest.New(t, apptest.Options{})
	f := &headFixture{a: a, apiToken: a.StaffToken("head-admin@example.org", "admin")}
	email := trEmail("head")
	f.id, f.ref = trSubmitVerified(t, a, email, "access", "gdpr")
	f.status = trStatusToken(t, a, email)
	unconfirmed := trEmail("head-unconfirmed")
	f.unconf, _ = a.Submit(map[string]any{"type": "erasure", "email": unconfirmed, "full_name": "Head Subject", "jurisdiction": "gdpr"})
	f.verify = apptest.TokenFromLink(t, a.MailWithSubject(unconfirmed, "Please confirm").Link(t, "/verify?token="))
	b := a.Browser()
	b.SignIn("head-admin@example.org", "correct horse battery staple")
	u, _ := url.Parse(a.Server.URL)
	f.cookies = b.Client.Jar.Cookies(u)
	return f
}

// TestHeadLikeGet protects HEAD on every GET route: link checkers and
// mail-security gateways probe our links with HEAD, and must get what a
// GET gets, without the body. It walks the route table, so a GET route
// added later without HEAD, or without a path here, fails.
func TestHeadLikeGet(t *testing.T) {
	f := newHeadFixture(t)
	a := f.a
	paths := map[string][]string{
		"/healthz":                        {"/healthz"},
		"/readyz":                         {"/readyz"},
		"/metrics":                        {"/metrics"},
		"/static/*file":                   {"/static/style.css", "/static/missing.css"},
		"/":                               {"/"},
		"/request":                        {"/request", "/request?type=erasure"},
		"/request/sent":                   {"/request/sent"},
		"/verify":                         {"/verify?token=" + f.verify, "/verify?token=" + strings.Repeat("0", 32), "/verify"},
		"/verified":                       {"/verified?ref=" + url.QueryEscape(f.ref), "/verified?ref=nothing"},
		"/api/v1/jurisdictions":           {"/api/v1/jurisdictions"},
		"/api/v1/jurisdictions/:code/due": {"/api/v1/jurisdictions/gdpr/due?received=2025-01-31", "/api/v1/jurisdictions/xx/due"},
		"/api/v1/openapi.json":            {"/api/v1/openapi.json"},
		"/status/:token":                  {"/status/" + f.status, "/status/" + strings.Repeat("0", 32)},
		"/status/:token/withdraw":         {"/status/" + f.status + "/withdraw"},
		"/api/v1/requests":                {"/api/v1/requests", "/api/v1/requests?status=all&limit=1"},
		"/api/v1/requests/:id":            {"/api/v1/requests/" + f.id, "/api/v1/requests/nothing"},
		"/staff/login":                    {"/staff/login?next=%2Fstaff"},
		"/staff/login/2fa":                {"/staff/login/2fa"},
		"/staff/2fa":                      {"/staff/2fa"},
		"/staff/tokens":                   {"/staff/tokens"},
		"/staff":                          {"/staff", "/staff?status=all"},
		"/staff/requests/:id":             {"/staff/requests/" + f.id},
		"/staff/admin":                    {"/staff/admin"},
		"/staff/reports":                  {"/staff/reports", "/staff/reports?from=2025-13-01"},
		"/staff/queue.csv":                {"/staff/queue.csv", "/staff/queue.csv?status=bogus"},
		"/api/v1/reports":                 {"/api/v1/reports?from=2025-01-01&to=2025-12-31", "/api/v1/reports?jurisdiction=mars"},
		"/api/v1/requests.csv":            {"/api/v1/requests.csv", "/api/v1/requests.csv?type=nope"},
		"/api/v1/webhooks":                {"/api/v1/webhooks"},
		"/api/v1/webhooks/:id/deliveries": {"/api/v1/webhooks/1/deliveries", "/api/v1/webhooks/1/deliveries?limit=0"},
	}
	paths["/staff/requests/:id/attachments/:att"] = []string{attUploaded(t, a, f.status, f.id), "/staff/requests/" + f.id + "/attachments/999"}
	h, err := handlers.New(handlers.Deps{Service: a.Svc, Store: a.Store, Config: a.Cfg, Now: a.Clock.Now,
		Log: slog.New(slog.DiscardHandler), Metrics: a.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	gets, heads := map[string]bool{}, map[string]bool{}
	for _, r := range handlers.RouteTable(h) {
		switch r.Method {
		case http.MethodGet:
			gets[r.Path] = true
		case http.MethodHead:
			heads[r.Path] = true
		}
	}
	for p := range gets {
		if !heads[p] {
			t.Errorf("GET %s has no HEAD route", p)
		}
		if paths[p] == nil {
			t.Errorf("GET %s is not tested here: add a path for it", p)
		}
	}
	for p := range paths {
		if !gets[p] {
			t.Errorf("%s is no GET route (any more)", p)
		}
	}

	// Signed in (session and API token) as a browser, and as a stranger
	// with no cookie, no token and no Accept header.
	signedIn := http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Authorization": {"Bearer " + f.apiToken}}
	for p, list := range paths {
		for _, path := range list {
			t.Run(p, func(t *testing.T) {
				headLikeGet(t, a, path, signedIn, f.cookies)
				headLikeGet(t, a, path, http.Header{}, nil)
			})
		}
	}
}

// TestHeadVerifyLinkSpendsNothing: a HEAD on the verification link (a
// link checker, a mail gateway) confirms nothing and spends no token;
// the subject's later click and confirm still work. The HEAD is counted
// and logged under its method and route pattern, without the token.
func TestHeadVerifyLinkSpendsNothing(t *testing.T) {
	f := newHeadFixture(t)
	a := f.a
	id := f.unconf
	before := trSnap(t, a, f.apiToken, id)
	for range 3 {
		resp, body, extra := rawRoundTrip(t, a, http.MethodHead, "/verify?token="+f.verify, http.Header{}, nil)
		if resp.StatusCode != http.StatusOK || len(body)+len(extra) > 0 {
			t.Fatalf("HEAD /verify: %d, body %q", resp.StatusCode, append(body, extra...))
		}
	}
	trUnchanged(t, a, f.apiToken, id, before, "HEAD on the verification link")
	if n := a.QueryInt("SELECT COUNT(*) FROM tokens WHERE request_id = ? AND used_at IS NOT NULL", id); n != 0 {
		t.Errorf("HEAD spent %d tokens", n)
	}

	resp, body := spPost(t, a, "/verify", url.Values{"token": {f.verify}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/verified?ref=") {
		t.Fatalf("confirm after HEAD: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if s := trGet(t, a, f.apiToken, id)["status"]; s != "verified" {
		t.Errorf("after confirming: %v", s)
	}

	m := scrape(t, a, f.apiToken)
	if got := metric(m, `portal_http_requests_total{method="HEAD",route="/verify",status="200"}`); got != 3 {
		t.Errorf("HEAD /verify counted %v times, want 3", got)
	}
	logs := a.Logs.String()
	if !regexp.MustCompile(`method=HEAD route=/verify status=200`).MatchString(logs) {
		t.Errorf("HEAD not logged with its route pattern:\n%s", logs)
	}
	if strings.Contains(logs, f.verify) || strings.Contains(m, f.verify) {
		t.Error("the verification token reached the logs or the metrics")
	}
}

// TestHeadStatusLinkChangesNothing: HEAD on the status page and on its
// withdrawal page changes nothing (no event, no mail, no token spent),
// and the link keeps working.
func TestHeadStatusLinkChangesNothing(t *testing.T) {
	f := newHeadFixture(t)
	a := f.a
	before := trSnap(t, a, f.apiToken, f.id)
	used := a.QueryInt("SELECT COUNT(*) FROM tokens WHERE request_id = ? AND used_at IS NOT NULL", f.id)
	for _, p := range []string{"/status/" + f.status, "/status/" + f.status + "/withdraw"} {
		for range 3 {
			resp, body, extra := rawRoundTrip(t, a, http.MethodHead, p, http.Header{"Accept": {"text/html"}}, nil)
			if resp.StatusCode != http.StatusOK || len(body)+len(extra) > 0 {
				t.Fatalf("HEAD %s: %d, body %q", p, resp.StatusCode, append(body, extra...))
			}
		}
	}
	trUnchanged(t, a, f.apiToken, f.id, before, "HEAD on the status link")
	if n := a.QueryInt("SELECT COUNT(*) FROM tokens WHERE request_id = ? AND used_at IS NOT NULL", f.id); n != used {
		t.Errorf("tokens spent: %d before the HEADs, %d after", used, n)
	}
	if code, body := spGet(t, a, "/status/"+f.status); code != http.StatusOK || !strings.Contains(body, f.ref) {
		t.Errorf("status page after HEAD: %d\n%s", code, body)
	}
	if s := trGet(t, a, f.apiToken, f.id)["status"]; s != "verified" {
		t.Errorf("status after HEAD: %v", s)
	}
}
