package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/workflow"
)

const secret = "a-secret-of-32-characters-or-so!"

// receiver is the organisation's service: it verifies every call, refuses
// a delivery it has seen with 409, and answers as told.
type receiver struct {
	mu     sync.Mutex
	seen   map[string]bool
	bodies []map[string]any
	header http.Header
	status int    // 0: 200
	answer string // the body of every answer
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		http.Error(w, "refused: "+err.Error(), http.StatusUnauthorized)
		return
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil || msg["delivery"] != r.Header.Get(headerDelivery) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	id := r.Header.Get(headerDelivery)
	if rc.seen[id] {
		http.Error(w, "delivery "+id+" already seen", http.StatusConflict)
		return
	}
	rc.seen[id] = true
	rc.bodies = append(rc.bodies, msg)
	rc.header = r.Header.Clone()
	w.Header().Set("Content-Type", "application/json")
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
	io.WriteString(w, rc.answer)
}

// body is the i-th call the service accepted, or nil.
func (rc *receiver) body(i int) map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if i >= len(rc.bodies) {
		return nil
	}
	return rc.bodies[i]
}

// newService starts the service over TLS and a registry whose "crm"
// system calls it, signing with key.
func newService(t *testing.T, key string, status int, answer string) (*Registry, *receiver, *httptest.Server) {
	t.Helper()
	rc := &receiver{seen: map[string]bool{}, status: status, answer: answer}
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	reg := NewRegistry([]config.System{{Code: "crm", Name: "CRM", Connector: config.Connector{
		Kind: config.ConnectorWebhook, Webhook: &config.Webhook{URL: srv.URL + "/dsr", Secret: key},
	}}}, srv.Client(), time.Now)
	t.Cleanup(func() { reg.Close() })
	return reg, rc, srv
}

// The call is signed and carries the job; the service's answer lands in
// the Result; a replay of the same delivery is refused for good, and a
// new attempt goes through.
func TestWebhookSignedCallAndReplayRefused(t *testing.T) {
	reg, rc, _ := newService(t, secret, 0, `{"status":"done","records":4,"message":"deleted\nfrom CRM"}`)
	j := job(workflow.TypeRectification, "Ann@Example.com")
	j.Details = workflow.Details{Correction: "5 New Street"}
	j.Value = "5 New Street"
	res, err := reg.Run(context.Background(), "crm", j)
	if err != nil {
		t.Fatal(err)
	}
	if res.Affected != 4 || res.Summary != "service answered: done (4 records): deleted from CRM" || res.NotFound || res.Pending {
		t.Errorf("result %+v", res)
	}
	got := rc.body(0)
	if got["right"] != "rectification" || got["reference"] != "DSR-0001" || got["request_id"] != "req-1" || got["value"] != "5 New Street" ||
		!reflect.DeepEqual(got["subject"], map[string]any{"email": ann, "name": "Ann Example"}) ||
		!reflect.DeepEqual(got["details"], map[string]any{"correction": "5 New Street"}) {
		t.Errorf("body %v", got)
	}
	if sent, err := time.Parse(time.RFC3339, got["sent_at"].(string)); err != nil || time.Since(sent) > time.Minute {
		t.Errorf("sent_at %v: %v", got["sent_at"], err)
	}
	rc.mu.Lock()
	h := rc.header
	rc.mu.Unlock()
	if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get(headerSignature), "sha256=") {
		t.Errorf("headers %v", h)
	}
	_, err = reg.Run(context.Background(), "crm", j)
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "409") {
		t.Errorf("replay: %v, want a permanent 409", err)
	}
	j.Delivery = "task-1-attempt-2"
	if _, err := reg.Run(context.Background(), "crm", j); err != nil {
		t.Errorf("new attempt: %v", err)
	}
}

// A call signed with the wrong secret is refused (401), permanently, and
// the refusal's text reaches the error.
func TestWebhookWrongSecretIsPermanent(t *testing.T) {
	reg, rc, _ := newService(t, "not-the-right-secret-at-all", 0, `{"status":"done"}`)
	_, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann))
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("err = %v, want a permanent 401", err)
	}
	if rc.body(0) != nil {
		t.Errorf("the service acted on a forged call")
	}
}

// 5xx, 408, 429 and a service that is gone are temporary; other 4xx and
// a redirect are permanent.
func TestWebhookErrorClassification(t *testing.T) {
	for status, perm := range map[int]bool{500: false, 503: false, 429: false, 408: false, 400: true, 404: true, 302: true} {
		reg, _, _ := newService(t, secret, status, strings.Repeat("x", 1000))
		_, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann))
		if err == nil || errors.Is(err, ErrPermanent) != perm {
			t.Errorf("%d: err = %v, want permanent = %v", status, err, perm)
		}
		if err != nil && strings.Count(err.Error(), "x") > 200 {
			t.Errorf("%d: more than 200 characters of the body in the error", status)
		}
	}
	reg, _, srv := newService(t, secret, 0, `{"status":"done"}`)
	srv.Close()
	if _, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann)); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("service down: err = %v, want a temporary failure", err)
	}
}

// Verify accepts a fresh, correct signature and refuses a stale or future
// timestamp, a changed body, a missing timestamp and an empty secret;
// a registry whose clock is off is refused by the service.
func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"delivery":"d1"}`)
	header := func(ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set(headerTimestamp, itoa(ts))
		h.Set(headerSignature, sig)
		return h
	}
	ts := now.Unix() - 60
	for name, c := range map[string]struct {
		secret string
		h      http.Header
		body   []byte
		want   error
	}{
		"fresh":     {secret, header(ts, Sign(secret, ts, body)), body, nil},
		"stale":     {secret, header(ts-600, Sign(secret, ts-600, body)), body, errStale},
		"future":    {secret, header(ts+900, Sign(secret, ts+900, body)), body, errStale},
		"tampered":  {secret, header(ts, Sign(secret, ts, body)), []byte(`{"delivery":"d2"}`), errSignature},
		"other ts":  {secret, header(ts+1, Sign(secret, ts, body)), body, errSignature},
		"no ts":     {secret, http.Header{headerSignature: {Sign(secret, ts, body)}}, body, errTimestamp},
		"no secret": {"", header(ts, Sign("", ts, body)), body, errNoSecret},
	} {
		if err := Verify(c.secret, c.h, c.body, now, 5*time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	reg, _, _ := newService(t, secret, 0, `{"status":"done"}`)
	reg.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	if _, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann)); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "too far") {
		t.Errorf("stale call: %v, want refused", err)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Rows in the answer land in the Result, columns in order of first
// appearance, numbers exact.
func TestWebhookRowsLandInResult(t *testing.T) {
	reg, _, _ := newService(t, secret, 0, `{"status":"done","rows":[{"b":1,"a":"x"},{"a":"y","c":true,"n":{"k":[12345678901234567890]}}]}`)
	res, err := reg.Run(context.Background(), "crm", job(workflow.TypeAccess, ann))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "a", "c", "n"}; !reflect.DeepEqual(res.Columns, want) {
		t.Errorf("columns %v, want %v", res.Columns, want)
	}
	want := []map[string]any{{"b": json.Number("1"), "a": "x"},
		{"a": "y", "c": true, "n": map[string]any{"k": []any{json.Number("12345678901234567890")}}}}
	if !reflect.DeepEqual(res.Rows, want) || res.Affected != 0 || res.Summary != "service answered: done (2 records)" {
		t.Errorf("result %+v", res)
	}
}

// "not_found" means the service holds nothing; "accepted" means it will
// finish later.
func TestWebhookNotFoundAndAccepted(t *testing.T) {
	reg, _, _ := newService(t, secret, 0, `{"status":"not_found"}`)
	if res, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann)); err != nil || !res.NotFound || res.Summary != "service answered: not_found" {
		t.Errorf("not_found: %+v %v", res, err)
	}
	reg, _, _ = newService(t, secret, 202, `{"status":"accepted","message":"queued"}`)
	if res, err := reg.Run(context.Background(), "crm", job(workflow.TypeErasure, ann)); err != nil || !res.Pending || res.NotFound {
		t.Errorf("accepted: %+v %v", res, err)
	}
}

// A 2xx answer that is not the expected JSON is an error (worth a retry);
// one larger than 10 MiB is refused for good.
func TestWebhookBadAnswers(t *testing.T) {
	for answer, perm := range map[string]bool{
		"<html>OK</html>":              false,
		`{"status":"maybe"}`:           false,
		`{"status":"done","rows":[1]}`: false,
		`{"status":"done","pad":"` + strings.Repeat("x", maxAnswer) + `"}`: true,
	} {
		reg, _, _ := newService(t, secret, 0, answer)
		_, err := reg.Run(context.Background(), "crm", job(workflow.TypeAccess, ann))
		if err == nil || errors.Is(err, ErrPermanent) != perm {
			t.Errorf("%.40s: err = %v, want permanent = %v", answer, err, perm)
		}
	}
}

// Notify sends the payload signed, with the delivery id and time added;
// a replay is refused for good and a 5xx is temporary.
func TestNotify(t *testing.T) {
	reg, rc, srv := newService(t, secret, 0, "ok")
	wh := config.Webhook{URL: srv.URL + "/art19", Secret: secret}
	payload := map[string]any{"event": "erasure", "reference": "DSR-0001"}
	if err := reg.Notify(context.Background(), wh, payload, "notify-3-attempt-1"); err != nil {
		t.Fatal(err)
	}
	if got := rc.body(0); got["event"] != "erasure" || got["delivery"] != "notify-3-attempt-1" || got["sent_at"] == nil {
		t.Errorf("body %v", got)
	}
	if _, ok := payload["delivery"]; ok {
		t.Errorf("the caller's payload was changed")
	}
	if err := reg.Notify(context.Background(), wh, payload, "notify-3-attempt-1"); !errors.Is(err, ErrPermanent) {
		t.Errorf("replay: %v", err)
	}
	rc.mu.Lock()
	rc.status = 503
	rc.mu.Unlock()
	if err := reg.Notify(context.Background(), wh, payload, "notify-3-attempt-2"); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("503: %v, want temporary", err)
	}
}
