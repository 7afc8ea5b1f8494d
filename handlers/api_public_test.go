package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

// ---- helpers shared by the handler tests ----

// countRows answers a SELECT COUNT(*) query on the app's database
// (SQLite or PostgreSQL, through a.DB()).
func countRows(t *testing.T, a *apptest.App, query string, args ...any) int {
	t.Helper()
	return a.QueryInt(query, args...)
}

// execSQL runs one statement on the app's database, for the changes no
// API offers yet.
func execSQL(t *testing.T, a *apptest.App, stmt string, args ...any) {
	t.Helper()
	a.Exec(stmt, args...)
}

// storedRows counts what a submission writes.
func storedRows(t *testing.T, a *apptest.App) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"requests", "tokens", "mails", "audit_events"} {
		out[table] = countRows(t, a, "SELECT COUNT(*) FROM "+table)
	}
	return out
}

func assertNothingStored(t *testing.T, a *apptest.App) {
	t.Helper()
	for table, n := range storedRows(t, a) {
		if n != 0 {
			t.Errorf("%s holds %d rows, want 0", table, n)
		}
	}
}

// postRaw posts body as it is, with a content type.
func postRaw(t *testing.T, a *apptest.App, path, contentType, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Content-Type": contentType}
	for k, v := range header {
		h[k] = v
	}
	return a.Do(http.MethodPost, path, strings.NewReader(body), h)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// goErrorText are fragments of internal error texts a client must never
// see.
var goErrorText = []string{"gorm", "sql", "runtime", "goroutine", "json: ", "strconv.", "invalid character", "mattn"}

func assertNoGoErrorText(t *testing.T, body []byte) {
	t.Helper()
	low := strings.ToLower(string(body))
	for _, s := range goErrorText {
		if strings.Contains(low, s) {
			t.Errorf("answer leaks internal text %q: %s", s, body)
		}
	}
}

// checkError asserts SPEC §7's error shape with status and, when field is
// not "", a fields entry for it.
func checkError(t *testing.T, resp *http.Response, body []byte, status int, field string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q, want JSON", ct)
	}
	m := apptest.DecodeJSON(t, body)
	if len(m) != 1 {
		t.Errorf("error answer has keys other than \"error\": %s", body)
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", body)
	}
	if c, _ := e["code"].(string); c == "" {
		t.Errorf("error without code: %s", body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error without message: %s", body)
	}
	if field != "" {
		fields, _ := e["fields"].(map[string]any)
		if s, _ := fields[field].(string); s == "" {
			t.Errorf("fields lack %q: %s", field, body)
		}
	}
	assertNoGoErrorText(t, body)
	return e
}

// verificationMail is the n-th mail to addr, with the link token and the
// token of its Reply-To address.
func verificationMail(t *testing.T, a *apptest.App, addr string, n int) (m *apptest.Mail, link, reply string) {
	t.Helper()
	m = a.MailTo(addr, n)
	link = apptest.TokenFromLink(t, m.Link(t, "/verify?token="))
	return m, link, replyTokenOf(t, m)
}

// replyTokenOf is the part of the Reply-To address after "+".
func replyTokenOf(t *testing.T, m *apptest.Mail) string {
	t.Helper()
	addr := m.ReplyTo(t)
	local, _, _ := strings.Cut(addr, "@")
	_, tok, ok := strings.Cut(local, "+")
	if !ok || tok == "" {
		t.Fatalf("Reply-To %q carries no token", addr)
	}
	return tok
}

// submitVerified files a request and confirms it with the mailed link.
// The verification mail is found by the reference in its subject: mail
// to one address arrives in any order (several workers, and on
// PostgreSQL a job is worked the moment it commits).
func submitVerified(t *testing.T, a *apptest.App, body map[string]any) (id, ref string) {
	t.Helper()
	id, ref = a.Submit(body)
	email := strings.ToLower(body["email"].(string))
	m := a.MailWithSubject(email, "("+ref+")")
	link := apptest.TokenFromLink(t, m.Link(t, "/verify?token="))
	resp, got := a.PostJSON("/api/v1/verify", map[string]any{"token": link}, nil)
	if resp.StatusCode != http.StatusOK || got["status"] != "verified" {
		t.Fatalf("verify %s: %d %v", ref, resp.StatusCode, got)
	}
	return id, ref
}

// staffRequest reads one request through the staff API.
func staffRequest(t *testing.T, a *apptest.App, token, id string) map[string]any {
	t.Helper()
	resp, got := a.GetJSON("/api/v1/requests/"+id, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %v", id, resp.StatusCode, got)
	}
	return got
}

var referenceRE = regexp.MustCompile(`^DSR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

// checkAccepted asserts SPEC §7's 202 answer and nothing more.
func checkAccepted(t *testing.T, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", resp.StatusCode, body)
	}
	m := apptest.DecodeJSON(t, body)
	if len(m) != 3 {
		t.Errorf("answer has keys beyond id, reference, status: %s", body)
	}
	if id, _ := m["id"].(string); id == "" {
		t.Errorf("no id: %s", body)
	}
	if ref, _ := m["reference"].(string); !referenceRE.MatchString(ref) {
		t.Errorf("reference %q is not DSR-XXXX-XXXX", ref)
	}
	if m["status"] != "unverified" {
		t.Errorf("status %v, want unverified", m["status"])
	}
	return m
}

// ---- POST /api/v1/requests ----

// TestSubmitEveryType protects SPEC §2: each of the seven types is filed
// with the details it needs, as an object or as plain text, and the
// details are stored as given.
func TestSubmitEveryType(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	staff := a.StaffToken("officer@example.org", "reviewer")
	cases := []struct {
		name    string
		typ     string
		details any
		want    map[string]any // expected stored details
	}{
		{"access none", "access", nil, map[string]any{}},
		{"access text", "access", "All data from my customer account, please.", map[string]any{"description": "All data from my customer account, please."}},
		{"rectification object", "rectification", map[string]any{"inaccurate": "Jane Dough", "correction": "Jane Doe"}, map[string]any{"inaccurate": "Jane Dough", "correction": "Jane Doe"}},
		{"rectification text", "rectification", "My surname is Doe, not Dough.", map[string]any{"correction": "My surname is Doe, not Dough."}},
		{"erasure none", "erasure", nil, map[string]any{}},
		{"erasure text", "erasure", "Please delete my forum account too.", map[string]any{"description": "Please delete my forum account too."}},
		{"restriction object", "restriction", map[string]any{"ground": "contested_accuracy"}, map[string]any{"ground": "contested_accuracy"}},
		{"restriction text", "restriction", "legal_claim", map[string]any{"ground": "legal_claim"}},
		{"objection grounds", "objection", map[string]any{"grounds": "I am a witness in a protected programme."}, map[string]any{"grounds": "I am a witness in a protected programme."}},
		{"objection marketing", "objection", map[string]any{"direct_marketing": true}, map[string]any{"direct_marketing": true}},
		{"objection marketing text", "objection", "direct_marketing", map[string]any{"direct_marketing": true}},
		{"portability none", "portability", nil, map[string]any{}},
		{"consent object", "consent_withdrawal", map[string]any{"consent": "newsletter"}, map[string]any{"consent": "newsletter"}},
		{"consent text", "consent_withdrawal", "analytics", map[string]any{"consent": "analytics"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"type": tc.typ, "email": fmt.Sprintf("subject%d@example.com", i),
				"full_name": "Jane Doe", "jurisdiction": "gdpr"}
			if tc.details != nil {
				body["details"] = tc.details
			}
			resp, b := postRaw(t, a, "/api/v1/requests", "application/json", mustJSON(body), nil)
			m := checkAccepted(t, resp, b)
			got := staffRequest(t, a, staff, m["id"].(string))
			if got["type"] != tc.typ || got["status"] != "unverified" || got["reference"] != m["reference"] {
				t.Fatalf("stored request: %v", got)
			}
			d, _ := got["details"].(map[string]any)
			if mustJSON(d) != mustJSON(tc.want) {
				t.Errorf("stored details %s, want %s", mustJSON(d), mustJSON(tc.want))
			}
		})
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM requests"); n != len(cases) {
		t.Errorf("%d requests stored, want %d", n, len(cases))
	}
}

// TestSubmitSameAnswerForRepeatAddress protects SPEC §7: the answer does
// not reveal whether an address filed before.
func TestSubmitSameAnswerForRepeatAddress(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	body := mustJSON(map[string]any{"type": "access", "email": "repeat@example.com", "full_name": "Rita Peat"})
	r1, b1 := postRaw(t, a, "/api/v1/requests", "application/json", body, nil)
	m1 := checkAccepted(t, r1, b1)
	r2, b2 := postRaw(t, a, "/api/v1/requests", "application/json",
		mustJSON(map[string]any{"type": "access", "email": "REPEAT@example.com ", "full_name": "Rita Peat"}), nil)
	m2 := checkAccepted(t, r2, b2)
	if r1.Header.Get("Content-Type") != r2.Header.Get("Content-Type") {
		t.Errorf("content types differ: %q vs %q", r1.Header.Get("Content-Type"), r2.Header.Get("Content-Type"))
	}
	for k := range m1 {
		if _, ok := m2[k]; !ok {
			t.Errorf("second answer lacks %q", k)
		}
	}
	if m1["id"] == m2["id"] || m1["reference"] == m2["reference"] {
		t.Errorf("second request reuses the first's id or reference: %v %v", m1, m2)
	}
}

// TestSubmitRejectsBadInput protects SPEC §7's error contract: bad input
// gets the right status, names the field, leaks no internal text and
// stores nothing.
func TestSubmitRejectsBadInput(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	base := func(over map[string]any, drop ...string) string {
		m := map[string]any{"type": "access", "email": "jane@example.com", "full_name": "Jane Doe", "jurisdiction": "gdpr"}
		for k, v := range over {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return mustJSON(m)
	}
	valid := base(nil)
	cases := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"type": "access", "email": }`, 400, ""},
		{"cut short", `{"type": "access", "email": "jane@example.com"`, 400, ""},
		{"empty body", ``, 400, ""},
		{"whitespace body", " \n\t ", 400, ""},
		{"JSON array", `[` + valid + `]`, 400, ""},
		{"JSON string", `"access"`, 400, ""},
		{"trailing garbage", valid + ` xyz`, 400, ""},
		{"second object", valid + valid, 400, ""},
		{"trailing brace", valid + `}`, 400, ""},
		{"unknown field", base(map[string]any{"admin": true}), 422, "admin"},
		{"email wrong type", base(map[string]any{"email": 5}), 422, "email"},
		{"details wrong type", base(map[string]any{"details": 5}), 422, "details"},
		{"type missing", base(nil, "type"), 422, "type"},
		{"type unknown", base(map[string]any{"type": "deletion"}), 422, "type"},
		{"email missing", base(nil, "email"), 422, "email"},
		{"email without at", base(map[string]any{"email": "jane.example.com"}), 422, "email"},
		{"email two addresses", base(map[string]any{"email": "a@x.com,b@x.com"}), 422, "email"},
		{"email display name", base(map[string]any{"email": "Jane <j@x.com>"}), 422, "email"},
		{"email header injection", base(map[string]any{"email": "j@x.com\r\nBcc: evil@x.com"}), 422, "email"},
		{"email too long", base(map[string]any{"email": strings.Repeat("a", 250) + "@x.com"}), 422, "email"},
		{"full_name empty", base(map[string]any{"full_name": "   "}), 422, "full_name"},
		{"full_name missing", base(nil, "full_name"), 422, "full_name"},
		{"full_name 201 chars", base(map[string]any{"full_name": strings.Repeat("a", 201)}), 422, "full_name"},
		{"full_name NUL", base(map[string]any{"full_name": "Jane\u0000Doe"}), 422, "full_name"},
		{"full_name RLO", base(map[string]any{"full_name": "Jane \u202eeoD"}), 422, "full_name"},
		{"jurisdiction unknown", base(map[string]any{"jurisdiction": "mars"}), 422, "jurisdiction"},
		{"type not granted", base(map[string]any{"type": "restriction", "jurisdiction": "vcdpa",
			"details": map[string]any{"ground": "contested_accuracy"}}), 422, "type"},
		{"rectification without correction", base(map[string]any{"type": "rectification",
			"details": map[string]any{"inaccurate": "my name"}}), 422, "details.correction"},
		{"rectification no details", base(map[string]any{"type": "rectification"}), 422, "details.correction"},
		{"restriction unknown ground", base(map[string]any{"type": "restriction",
			"details": map[string]any{"ground": "because"}}), 422, "details.ground"},
		{"restriction text not a ground", base(map[string]any{"type": "restriction", "details": "because"}), 422, "details.ground"},
		{"objection without grounds", base(map[string]any{"type": "objection", "details": map[string]any{}}), 422, "details.grounds"},
		{"objection marketing false", base(map[string]any{"type": "objection",
			"details": map[string]any{"direct_marketing": false}}), 422, "details.grounds"},
		{"consent without consent", base(map[string]any{"type": "consent_withdrawal"}), 422, "details.consent"},
		{"details unknown key", base(map[string]any{"details": map[string]any{"foo": "bar"}}), 422, "details.foo"},
		{"details wrong inner type", base(map[string]any{"type": "objection",
			"details": map[string]any{"direct_marketing": "yes"}}), 422, "details.direct_marketing"},
		{"details 5001 chars text", base(map[string]any{"details": strings.Repeat("x", 5001)}), 422, "details.description"},
		{"details 5001 chars object", base(map[string]any{"type": "rectification",
			"details": map[string]any{"correction": strings.Repeat("x", 5001)}}), 422, "details.correction"},
		{"details control char", base(map[string]any{"details": "hello\u0007"}), 422, "details.description"},
		{"too large", base(map[string]any{"details": strings.Repeat("x", int(a.Cfg.HTTP.MaxBodyBytes))}), 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := postRaw(t, a, "/api/v1/requests", "application/json", tc.body, nil)
			checkError(t, resp, b, tc.status, tc.field)
			assertNothingStored(t, a)
		})
	}
}

// ---- POST /api/v1/verify ----

// TestVerifyThroughAPI protects the verify action of SPEC §3 and §8:
// shape checks, unknown and spent tokens, reply tokens that are not link
// tokens, and what verification sets and mails.
func TestVerifyThroughAPI(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, ref := a.Submit(map[string]any{"type": "erasure", "email": "vera@example.com", "full_name": "Vera Fy", "jurisdiction": "gdpr"})
	_, link, reply := verificationMail(t, a, "vera@example.com", 1)
	if link == reply {
		t.Fatal("link and Reply-To carry the same token")
	}
	post := func(body string) (*http.Response, []byte) {
		return postRaw(t, a, "/api/v1/verify", "application/json", body, nil)
	}

	resp, b := post(`{}`)
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(`{"token": ""}`)
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(`{"token": "abc"}`)
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(mustJSON(map[string]any{"token": strings.Repeat("1", 32)}))
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(mustJSON(map[string]any{"token": link + "a"}))
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(`{"token": 5}`)
	checkError(t, resp, b, http.StatusUnprocessableEntity, "token")
	resp, b = post(`{"token": "` + link + `", "extra": 1}`)
	checkError(t, resp, b, http.StatusUnprocessableEntity, "extra")
	resp, b = post(`not json`)
	checkError(t, resp, b, http.StatusBadRequest, "")
	resp, b = post(mustJSON(map[string]any{"token": strings.Repeat("a", 32)}))
	checkError(t, resp, b, http.StatusNotFound, "")
	resp, b = post(mustJSON(map[string]any{"token": reply}))
	checkError(t, resp, b, http.StatusNotFound, "")

	got := staffRequest(t, a, staff, id)
	if got["status"] != "unverified" || got["verified_at"] != nil {
		t.Fatalf("failed attempts changed the request: %v", got)
	}

	// A client that upper-cases the token still verifies.
	resp, b = post(mustJSON(map[string]any{"token": strings.ToUpper(link)}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %s", resp.StatusCode, b)
	}
	m := apptest.DecodeJSON(t, b)
	if len(m) != 2 || m["reference"] != ref || m["status"] != "verified" {
		t.Fatalf("verify answer %s", b)
	}

	resp, b = post(mustJSON(map[string]any{"token": link}))
	e := checkError(t, resp, b, http.StatusGone, "")
	if e["code"] != "token_used" {
		t.Errorf("second use: code %v, want token_used", e["code"])
	}
	// The reply token stopped working too, and still is no link token.
	resp, b = post(mustJSON(map[string]any{"token": reply}))
	checkError(t, resp, b, http.StatusNotFound, "")

	got = staffRequest(t, a, staff, id)
	if got["status"] != "verified" || got["verified_at"] == nil || got["due_at"] == nil {
		t.Fatalf("after verify: %v", got)
	}
	due, err := time.Parse(time.DateOnly, got["due_date"].(string))
	if err != nil {
		t.Fatalf("due_date %v: %v", got["due_date"], err)
	}
	// GDPR: one month from today, moved past a weekend at most.
	if days := due.Sub(time.Now().Truncate(24*time.Hour)).Hours() / 24; days < 27 || days > 35 {
		t.Errorf("due date %s is %.0f days away, want about one month", got["due_date"], days)
	}
	events, _ := got["events"].([]any)
	if len(events) != 2 {
		t.Fatalf("events: %v", events)
	}
	if ev := events[1].(map[string]any); ev["action"] != "verify" || ev["from"] != "unverified" || ev["to"] != "verified" || ev["reason"] != "link" {
		t.Errorf("verify event: %v", ev)
	}

	ack := a.MailTo("vera@example.com", 2)
	if !strings.Contains(ack.Subject(), ref) || !strings.Contains(ack.Text, ref) || !strings.Contains(ack.HTML, ref) {
		t.Errorf("acknowledgment lacks the reference %s:\n%s", ref, ack.Text)
	}
	if want := due.Format("Monday, 2 January 2006"); !strings.Contains(ack.Text, want) || !strings.Contains(ack.HTML, want) {
		t.Errorf("acknowledgment lacks the due date %q:\n%s", want, ack.Text)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ? AND kind = 'acknowledgment'", id); n != 1 {
		t.Errorf("%d acknowledgments queued, want 1", n)
	}
}

// TestVerifyExpiredToken protects the verification window: a token used
// after it gets 410 and the request stays unverified.
func TestVerifyExpiredToken(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, _ := a.Submit(map[string]any{"type": "access", "email": "late@example.com", "full_name": "Lee Late"})
	_, link, _ := verificationMail(t, a, "late@example.com", 1)
	a.Clock.Advance(73 * time.Hour)

	resp, b := postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": link}), nil)
	e := checkError(t, resp, b, http.StatusGone, "")
	if e["code"] != "token_expired" {
		t.Errorf("code %v, want token_expired", e["code"])
	}
	got := staffRequest(t, a, staff, id)
	if got["status"] != "unverified" || got["verified_at"] != nil {
		t.Fatalf("expired token changed the request: %v", got)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ?", id); n != 1 {
		t.Errorf("%d mails for the request, want only the verification mail", n)
	}
}
