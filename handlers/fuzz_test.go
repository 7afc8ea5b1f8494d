package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// fzReference is the shape of a public reference (Crockford's alphabet).
var fzReference = regexp.MustCompile(`^DSR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

// fzLeaks are fragments of internal error texts no client may see.
var fzLeaks = []string{"gorm", "sql", "runtime", "goroutine", "json: ", "strconv.", "invalid character", "mattn", "panic"}

// FuzzSubmitDecode sends arbitrary bytes as the body of POST
// /api/v1/requests through the real router (decoder, details, service
// validation, store) of one portal per fuzz worker. Whatever the body:
// never a 5xx; a refusal is 400, 413 or 422 in SPEC §7's error shape,
// leaks no internal text and stores nothing; a 202 stores exactly one
// request, its submit event and its verification mail, and the request
// holds valid UTF-8 without control characters, a normalised lower-case
// address the mailer can use, a known type and a jurisdiction that
// allows it, and details that pass their own validation.
func FuzzSubmitDecode(f *testing.F) {
	f.Add([]byte(`{"type":"access","email":"Jane.Doe@Example.com","full_name":"Jane Doe"}`))
	f.Add([]byte(`{"type":"objection","email":"a@b.co","full_name":"A","details":"direct_marketing"}`))
	a := apptest.New(f, apptest.Options{NoJobs: true, Config: func(c *config.Config) {
		// Small enough that the fuzzer reaches 413, large enough for a
		// name at its limit.
		c.HTTP.MaxBodyBytes = 8 << 10
	}})
	router := a.Server.Config.Handler
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := fzCountRequests(t, a)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/requests", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		after := fzCountRequests(t, a)

		switch code := rec.Code; {
		case code >= 500:
			t.Fatalf("%d for %q: %s\nlog:\n%s", code, body, rec.Body, fzTail(a.Logs.String()))
		case code == http.StatusAccepted:
			if after != before+1 {
				t.Fatalf("202 but %d requests stored, want one more than %d", after, before)
			}
			fzCheckAccepted(t, ctx, a, rec)
		case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity:
			if after != before {
				t.Fatalf("%d but the request count went from %d to %d", code, before, after)
			}
			fzCheckErrorShape(t, rec)
		default:
			t.Fatalf("unexpected status %d for %q: %s", code, body, rec.Body)
		}
	})
}

// fzCountRequests counts every stored request.
func fzCountRequests(t *testing.T, a *apptest.App) int64 {
	counts, err := a.Store.CountByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

// fzCheckErrorShape asserts SPEC §7: {"error": {"code", "message",
// "fields"?}} and nothing else, as JSON, without internal text.
func fzCheckErrorShape(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%d with content type %q", rec.Code, ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &top); err != nil || len(top) != 1 || top["error"] == nil {
		t.Fatalf("%d: not {\"error\": …}: %s", rec.Code, rec.Body)
	}
	var e struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	}
	dec := json.NewDecoder(bytes.NewReader(top["error"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%d: error object is not {code, message, fields}: %v: %s", rec.Code, err, rec.Body)
	}
	if e.Code == "" || e.Message == "" {
		t.Fatalf("%d: error without code or message: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusUnprocessableEntity && len(e.Fields) == 0 {
		t.Fatalf("422 names no field: %s", rec.Body)
	}
	texts := []string{e.Message}
	for k, v := range e.Fields {
		if v == "" {
			t.Fatalf("field %q has an empty message: %s", k, rec.Body)
		}
		texts = append(texts, v)
	}
	for _, s := range texts {
		low := strings.ToLower(s)
		for _, leak := range fzLeaks {
			if strings.Contains(low, leak) {
				t.Fatalf("%d answer leaks %q: %s", rec.Code, leak, rec.Body)
			}
		}
	}
}

// fzCheckAccepted asserts the 202 answer and what it stored.
func fzCheckAccepted(t *testing.T, ctx context.Context, a *apptest.App, rec *httptest.ResponseRecorder) {
	t.Helper()
	var ans map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || len(ans) != 3 {
		t.Fatalf("202 answer is not {id, reference, status}: %s", rec.Body)
	}
	if !fzReference.MatchString(ans["reference"]) || ans["status"] != "unverified" {
		t.Fatalf("202 answer: %s", rec.Body)
	}
	r, err := a.Store.Request(ctx, ans["id"])
	if err != nil {
		t.Fatalf("202 for a request that is not stored: %v", err)
	}
	if r.Reference != ans["reference"] || r.Status != "unverified" || r.Version != 1 {
		t.Fatalf("stored %s %s v%d, answered %s", r.Reference, r.Status, r.Version, rec.Body)
	}
	fzCheckStored(t, a, r)
	events, err := a.Store.Events(ctx, r.ID)
	if err != nil || len(events) != 1 || events[0].Action != "submit" || events[0].ToState != "unverified" {
		t.Fatalf("request %s: events %+v, %v; want the one submit event", r.ID, events, err)
	}
	mails, err := a.Store.MailsFor(ctx, r.ID)
	if err != nil || len(mails) != 1 || mails[0].Kind != "verification" || mails[0].ToAddr != r.Email ||
		mails[0].Status != models.MailQueued {
		t.Fatalf("request %s: mails %+v, %v; want one queued verification mail to %s", r.ID, mails, err, r.Email)
	}
}

// fzCheckStored holds a stored request against what SPEC §2 and §7 let
// in.
func fzCheckStored(t *testing.T, a *apptest.App, r *models.Request) {
	t.Helper()
	typ := workflow.RequestType(r.Type)
	if !typ.Valid() {
		t.Fatalf("stored unknown type %q", r.Type)
	}
	pol := a.Cfg.Policy(r.Jurisdiction)
	if pol == nil || !pol.Allows(typ) {
		t.Fatalf("stored jurisdiction %q, which does not exist or does not offer %s", r.Jurisdiction, r.Type)
	}
	if e, msg := service.NormalizeEmail(r.Email); msg != "" || e != r.Email || r.Email != strings.ToLower(r.Email) {
		t.Fatalf("stored e-mail %q is not a normalised address (%s)", r.Email, msg)
	}
	if r.FullName == "" || r.FullName != strings.Join(strings.Fields(r.FullName), " ") ||
		utf8.RuneCountInString(r.FullName) > workflow.MaxNameLen {
		t.Fatalf("stored name %q is empty, untrimmed or too long", r.FullName)
	}
	fzCleanText(t, "email", r.Email, false)
	fzCleanText(t, "full_name", r.FullName, false)
	var d workflow.Details
	dec := json.NewDecoder(strings.NewReader(r.Details))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("stored details %q are not workflow.Details: %v", r.Details, err)
	}
	if d != d.Normalize(typ) || len(d.Validate(typ)) != 0 {
		t.Fatalf("stored details %+v are not normalised and valid for %s", d, typ)
	}
	for _, s := range []string{d.Description, d.Inaccurate, d.Correction, d.Ground, d.Grounds, d.Consent} {
		fzCleanText(t, "details", s, true)
	}
}

// fzCleanText fails on invalid UTF-8 and on control characters (line
// breaks and tabs are allowed in multi-line text).
func fzCleanText(t *testing.T, field, s string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("stored %s %q is not valid UTF-8", field, s)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0x202d || r == 0x202e {
			t.Fatalf("stored %s %q holds the control character %U", field, s, r)
		}
	}
}

// fzTail is the end of a log, enough to see why a request failed.
func fzTail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
