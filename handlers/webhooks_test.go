package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/internal/apptest"
)

// hookReceiver is an event webhook receiver as an integrator would write
// one: it checks the signature and the timestamp, and keeps every event
// it accepted. While down it answers 503 and keeps nothing.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	now func() time.Time
	// secret is set once the endpoint is registered.
	secret  string
	down    bool
	got     []hookGot
	refused []string
}

type hookGot struct {
	Delivery, Event string
	Body            map[string]any
	Raw             string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{now: time.Now}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := connectors.Verify(h.secret, r.Header, body, h.now(), 5*time.Minute); err != nil {
		h.refused = append(h.refused, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		h.refused = append(h.refused, "not JSON")
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	h.got = append(h.got, hookGot{Delivery: r.Header.Get("X-Portal-Delivery"), Event: r.Header.Get("X-Portal-Event"), Body: m, Raw: string(body)})
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) set(f func(*hookReceiver)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *hookReceiver) events() []hookGot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// forRequest is the events received about one request, in arrival order.
func (h *hookReceiver) forRequest(id string) []hookGot {
	var out []hookGot
	for _, g := range h.events() {
		if r, _ := g.Body["request"].(map[string]any); r["id"] == id {
			out = append(out, g)
		}
	}
	return out
}

// waitFor waits until ok holds for the received events (deliveries are
// asynchronous); the deadline is generous for a loaded machine.
func (h *hookReceiver) waitFor(t *testing.T, what string, ok func([]hookGot) bool) []hookGot {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := h.events()
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never came; received %d events, refused %v", what, len(got), h.refusedList())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *hookReceiver) refusedList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.refused)
}

// hookApp is a portal that admits loopback endpoints and retries quickly.
func hookApp(t *testing.T, change func(*config.Config)) *apptest.App {
	return apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Webhooks.AllowLoopback = true
		c.Webhooks.MaxBackoff = config.Duration(50 * time.Millisecond)
		c.Webhooks.Timeout = config.Duration(5 * time.Second)
		if change != nil {
			change(c)
		}
	}})
}

// registerHook registers an endpoint through the API and hands the
// receiver its secret.
func registerHook(t *testing.T, a *apptest.App, token string, h *hookReceiver, path string, personal bool, events ...string) int64 {
	t.Helper()
	if len(events) == 0 {
		events = []string{"request.submitted", "request.verified", "request.state_changed", "request.overdue", "task.failed", "appeal.filed"}
	}
	resp, m := a.PostJSON("/api/v1/webhooks", map[string]any{"url": h.srv.URL + path, "events": events,
		"include_personal": personal, "description": "test receiver"}, bearer(token))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register webhook: %d %v", resp.StatusCode, m)
	}
	secret, _ := m["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || m["secret_prefix"] != secret[:10] {
		t.Fatalf("registration answer: secret %q, prefix %v", secret, m["secret_prefix"])
	}
	h.set(func(h *hookReceiver) { h.secret, h.now = secret, a.Clock.Now })
	return int64(m["id"].(float64))
}

// waitDeliveries polls an endpoint's delivery log through the API until
// ok holds, and returns it.
func waitDeliveries(t *testing.T, a *apptest.App, token string, ep int64, ok func([]any) bool) []any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, m := a.GetJSON(fmt.Sprintf("/api/v1/webhooks/%d/deliveries?limit=200", ep), token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery log: %d %v", resp.StatusCode, m)
		}
		items, _ := m["items"].([]any)
		if ok(items) {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery log never got there: %v", items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hookEvents(gs []hookGot) []string {
	var out []string
	for _, g := range gs {
		s := g.Event
		if g.Event == "request.state_changed" {
			s += ":" + fmt.Sprint(g.Body["previous_status"]) + ">" + fmt.Sprint(g.Body["request"].(map[string]any)["status"])
		}
		out = append(out, s)
	}
	return out
}

// TestWebhooksWholeLife: an endpoint on loopback receives a signed event
// for each step of a request's life, with ids, type, status and due dates
// and no personal data; every delivery id is unique, each is logged as
// delivered, and the audit chain records the registration.
func TestWebhooksWholeLife(t *testing.T) {
	a := hookApp(t, nil)
	admin := a.StaffToken("ada@example.org", "admin")
	h := newHookReceiver(t)
	ep := registerHook(t, a, admin, h, "/events", false)

	id, _, email := trInState(t, a, admin, "completed", "access", "gdpr")
	want := []string{"request.submitted", "request.state_changed:unverified>verified", "request.verified",
		"request.state_changed:verified>in_review", "request.state_changed:in_review>approved",
		"request.state_changed:approved>completed"}
	got := h.waitFor(t, "the request's whole life", func([]hookGot) bool { return len(h.forRequest(id)) >= len(want) })
	gotEvents := hookEvents(h.forRequest(id))
	slices.Sort(gotEvents)
	sortedWant := slices.Clone(want)
	slices.Sort(sortedWant)
	if !slices.Equal(gotEvents, sortedWant) {
		t.Fatalf("events:\n got %v\nwant %v", gotEvents, sortedWant)
	}
	seen := map[string]bool{}
	for _, g := range got {
		if g.Delivery == "" || g.Body["id"] != g.Delivery || seen[g.Delivery] {
			t.Fatalf("delivery id %q (body id %v) is missing, differs or repeats", g.Delivery, g.Body["id"])
		}
		seen[g.Delivery] = true
		if g.Body["event"] != g.Event {
			t.Fatalf("X-Portal-Event %q but body event %v", g.Event, g.Body["event"])
		}
		if strings.Contains(g.Raw, email) || strings.Contains(g.Raw, "Test Subject") || g.Body["subject"] != nil {
			t.Fatalf("a payload without include_personal carries personal data: %s", g.Raw)
		}
		r := g.Body["request"].(map[string]any)
		for _, k := range []string{"reference", "type", "status", "jurisdiction", "due_at", "received_at"} {
			if r[k] == nil || r[k] == "" {
				t.Fatalf("payload request lacks %s: %s", k, g.Raw)
			}
		}
		if r["type"] != "access" || r["jurisdiction"] != "gdpr" {
			t.Fatalf("payload request: %v", r)
		}
	}

	// The log is written just after the receiver answers: wait for it.
	items := waitDeliveries(t, a, admin, ep, func(items []any) bool {
		for _, it := range items {
			if it.(map[string]any)["state"] == "pending" {
				return false
			}
		}
		return true
	})
	if len(items) != len(want) {
		t.Fatalf("delivery log has %d entries, want %d", len(items), len(want))
	}
	for _, it := range items {
		d := it.(map[string]any)
		if d["state"] != "delivered" || d["last_status"] != float64(204) || d["attempts"] != float64(1) {
			t.Fatalf("logged delivery: %v", d)
		}
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM audit_events WHERE action = 'webhook_create'"); n != 1 {
		t.Fatalf("%d audit events for the registration, want 1", n)
	}
}

// TestWebhooksReceiverDown: while the receiver answers 503 the
// deliveries are retried with backoff; once it is back it gets every
// event, none lost, none twice. "Send again" resends one with its id.
func TestWebhooksReceiverDown(t *testing.T) {
	a := hookApp(t, nil)
	admin := a.StaffToken("ada@example.org", "admin")
	h := newHookReceiver(t)
	ep := registerHook(t, a, admin, h, "/events", false, "request.submitted", "request.state_changed")
	h.set(func(h *hookReceiver) { h.down = true })

	id, _, _ := trInState(t, a, admin, "in_review", "erasure", "gdpr")
	// Wait until the log shows retries, so the outage was felt.
	waitDeliveries(t, a, admin, ep, func(items []any) bool {
		retried := 0
		for _, it := range items {
			d := it.(map[string]any)
			if d["state"] == "pending" && d["attempts"].(float64) >= 2 && d["last_status"] == float64(503) {
				retried++
			}
		}
		return retried == 3
	})
	if n := len(h.events()); n != 0 {
		t.Fatalf("a down receiver kept %d events", n)
	}
	h.set(func(h *hookReceiver) { h.down = false })
	h.waitFor(t, "every event after the receiver is back", func([]hookGot) bool { return len(h.forRequest(id)) >= 3 })
	time.Sleep(300 * time.Millisecond) // a duplicate would have come by now
	got := hookEvents(h.forRequest(id))
	slices.Sort(got)
	want := []string{"request.state_changed:unverified>verified", "request.state_changed:verified>in_review", "request.submitted"}
	if !slices.Equal(got, want) {
		t.Fatalf("after the outage got %v, want %v", got, want)
	}

	// Send again: the same delivery, with the same id, once more.
	first := h.forRequest(id)[0]
	resp, m := a.PostJSON(fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%s/redeliver", ep, first.Delivery), nil, bearer(admin))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send again: %d %v", resp.StatusCode, m)
	}
	h.waitFor(t, "the delivery sent again", func([]hookGot) bool { return len(h.forRequest(id)) == 4 })
	if again := h.forRequest(id)[3]; again.Delivery != first.Delivery || again.Body["event"] != first.Body["event"] {
		t.Fatalf("sent again %s %v, want %s %v", again.Delivery, again.Body["event"], first.Delivery, first.Body["event"])
	}
	// A delivery of another endpoint, or none at all, is a 404.
	for _, path := range []string{
		fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%s/redeliver", ep+1, first.Delivery),
		fmt.Sprintf("/api/v1/webhooks/%d/deliveries/no-such-delivery/redeliver", ep),
		"/api/v1/webhooks/abc/deliveries/x/redeliver",
	} {
		if resp, _ := a.PostJSON(path, nil, bearer(admin)); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, resp.StatusCode)
		}
	}

	// Disabled: nothing more is sent, and send again is refused.
	if resp, b := a.Do(http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", ep), nil, bearer(admin)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable: %d %s", resp.StatusCode, b)
	}
	a.Submit(map[string]any{"type": "access", "email": trEmail("after-disable"), "full_name": "Late Comer", "jurisdiction": "gdpr"})
	if resp, _ := a.PostJSON(fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%s/redeliver", ep, first.Delivery), nil, bearer(admin)); resp.StatusCode != http.StatusConflict {
		t.Fatalf("send again to a disabled endpoint: %d, want 409", resp.StatusCode)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ?", ep); n != 3 {
		t.Fatalf("%d deliveries after the endpoint was disabled, want the 3 from before", n)
	}
}

// TestWebhooksEveryEvent: overdue, task failed and appeal events reach
// their subscribers; an endpoint that asked for personal data gets the
// subject's address, one that did not never does; an endpoint gets only
// the events it chose.
func TestWebhooksEveryEvent(t *testing.T) {
	hook := newFulHook(t)
	hook.set(func(h *fulHook) { h.failWith = http.StatusBadRequest }) // the support desk refuses: task fails
	a, _ := fulApp(t, hook, func(c *config.Config) {
		c.Webhooks.AllowLoopback = true
		c.Webhooks.MaxBackoff = config.Duration(50 * time.Millisecond)
	})
	admin := a.StaffToken("ada@example.org", "admin")
	plain := newHookReceiver(t)
	registerHook(t, a, admin, plain, "/plain", false, "request.overdue", "task.failed", "appeal.filed")
	personal := newHookReceiver(t)
	registerHook(t, a, admin, personal, "/personal", true, "appeal.filed")

	// appeal.filed
	appealed, _, email := trInState(t, a, admin, "appealed", "access", trJurisdiction("appealed"))
	g := personal.waitFor(t, "appeal.filed with personal data", func(gs []hookGot) bool { return len(gs) == 1 })[0]
	subj, _ := g.Body["subject"].(map[string]any)
	if g.Event != "appeal.filed" || subj["email"] != email || subj["name"] != "Test Subject" {
		t.Fatalf("personal endpoint got %s %s", g.Event, g.Raw)
	}
	pg := plain.waitFor(t, "appeal.filed", func(gs []hookGot) bool { return len(plain.forRequest(appealed)) == 1 })
	if pg[0].Event != "appeal.filed" || strings.Contains(pg[0].Raw, email) {
		t.Fatalf("plain endpoint got %s %s", pg[0].Event, pg[0].Raw)
	}

	// task.failed: an approved erasure whose support-desk call is refused.
	erase := fulVerified(a, "erasure", nil)
	v := version(trGet(t, a, admin, erase))
	v = version(trMust(t, a, admin, erase, trBody("start_review", v), "in_review"))
	other := a.StaffToken("bob@example.org", "reviewer")
	v = version(trMust(t, a, admin, erase, trBody("approve", v), "in_review"))
	trMust(t, a, other, erase, trBody("approve", v), "approved")
	tf := plain.waitFor(t, "task.failed", func([]hookGot) bool { return len(plain.forRequest(erase)) >= 1 })
	var failed hookGot
	for _, g := range tf {
		if g.Event == "task.failed" {
			failed = g
		}
	}
	task, _ := failed.Body["task"].(map[string]any)
	if task == nil || task["system"] != "support" || task["state"] != "failed" {
		t.Fatalf("task.failed payload: %s", failed.Raw)
	}

	// request.overdue: the sweep after the due date.
	late, _ := trSubmitVerified(t, a, trEmail("late"), "access", "gdpr")
	a.Clock.Advance(120 * 24 * time.Hour)
	if _, err := a.Svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	plain.waitFor(t, "request.overdue", func([]hookGot) bool {
		for _, g := range plain.forRequest(late) {
			if g.Event == "request.overdue" {
				return true
			}
		}
		return false
	})
	for _, g := range plain.events() {
		if !slices.Contains([]string{"request.overdue", "task.failed", "appeal.filed"}, g.Event) {
			t.Fatalf("the endpoint got %s, which it did not choose", g.Event)
		}
	}
	if n := len(personal.events()); n != 1 {
		t.Fatalf("the appeal-only endpoint got %d events, want 1", n)
	}
}

// TestWebhookRegistrationRules: URLs that are not https, that point into
// the host or its network, or carry credentials are refused with the
// field named, as are unknown events; only an admin with an admin-scoped
// token may register; nothing is stored for a refused one.
func TestWebhookRegistrationRules(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	admin := a.StaffToken("ada@example.org", "admin")
	for _, c := range []struct{ url, field string }{
		{"http://hooks.example.org/x", "url"},
		{"https://10.1.2.3/x", "url"},
		{"https://192.168.0.10/x", "url"},
		{"https://169.254.169.254/latest/meta-data", "url"},
		{"https://[fe80::1]/x", "url"},
		{"https://127.0.0.1:8080/x", "url"},
		{"https://localhost/x", "url"},
		{"http://[::1]:9/x", "url"},
		{"https://0.0.0.0/x", "url"},
		{"https://[::ffff:10.0.0.1]/x", "url"},
		{"https://user:pw@hooks.example.org/x", "url"},
		{"ftp://hooks.example.org/x", "url"},
		{"hooks.example.org/x", "url"},
		{"https://hooks.example.org/x#frag", "url"},
	} {
		resp, m := a.PostJSON("/api/v1/webhooks", map[string]any{"url": c.url, "events": []string{"request.submitted"}}, bearer(admin))
		trRefused(t, c.url, resp.StatusCode, m, http.StatusUnprocessableEntity, "invalid", c.field)
	}
	for _, events := range [][]string{nil, {}, {"request.deleted"}} {
		resp, m := a.PostJSON("/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x", "events": events}, bearer(admin))
		trRefused(t, fmt.Sprint(events), resp.StatusCode, m, http.StatusUnprocessableEntity, "invalid", "events")
	}
	resp, m := a.PostJSON("/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x", "events": []string{"request.submitted"}, "secret": "mine"}, bearer(admin))
	trRefused(t, "unknown field", resp.StatusCode, m, http.StatusUnprocessableEntity, "invalid", "secret")
	reviewer := a.StaffToken("rita@example.org", "reviewer")
	readOnly := scopedToken(t, a, "ada@example.org", nil, "requests:read")
	for _, tok := range []string{reviewer, readOnly} {
		resp, m := a.PostJSON("/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x", "events": []string{"request.submitted"}}, bearer(tok))
		trRefused(t, "not an admin", resp.StatusCode, m, http.StatusForbidden, "forbidden", "")
		if resp, _ := a.GetJSON("/api/v1/webhooks", tok); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("list by a non-admin: %d", resp.StatusCode)
		}
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM webhook_endpoints"); n != 0 {
		t.Fatalf("%d endpoints stored after refusals", n)
	}
	// A public https name is fine; it is checked again when dialled.
	resp, m = a.PostJSON("/api/v1/webhooks", map[string]any{"url": "https://hooks.example.org/x", "events": []string{"request.submitted"}}, bearer(admin))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register a public endpoint: %d %v", resp.StatusCode, m)
	}
	if _, ok := m["secret"]; !ok {
		t.Fatal("the registration answer has no secret")
	}
	resp, m = a.GetJSON("/api/v1/webhooks", admin)
	if resp.StatusCode != http.StatusOK || len(m["items"].([]any)) != 1 {
		t.Fatalf("list: %d %v", resp.StatusCode, m)
	}
	if _, ok := m["items"].([]any)[0].(map[string]any)["secret"]; ok {
		t.Fatal("the list shows the secret")
	}
	// The secret rests sealed, never in the clear.
	var sealed []byte
	if err := a.DB().Raw("SELECT sealed FROM webhook_endpoints").Row().Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) < 40 || bytes.Contains(sealed, []byte("whsec_")) {
		t.Fatalf("the secret does not rest sealed: %q", sealed)
	}
}

// TestWebhooksAdminPage: an admin registers an endpoint with the form,
// sees its secret once, sees the delivery log and sends one again; a
// reviewer cannot reach any of it; a bad URL is shown beside the field.
func TestWebhooksAdminPage(t *testing.T) {
	a := hookApp(t, nil)
	admin := a.StaffToken("ada@example.org", "admin")
	a.StaffToken("rita@example.org", "reviewer")
	h := newHookReceiver(t)
	b := fulBrowser(a, "ada@example.org")

	resp, body := b.PostForm("/staff/admin/webhooks", url.Values{"url": {"http://hooks.example.org/x"}, "events": {"request.submitted"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="hook-url-error"`) || !strings.Contains(body, "https") {
		t.Fatalf("bad URL on the form: %d", resp.StatusCode)
	}
	resp, body = b.PostForm("/staff/admin/webhooks", url.Values{"url": {h.srv.URL + "/form"}, "events": {"request.submitted"}, "description": {"Ticketing <script>"}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register with the form: %d", resp.StatusCode)
	}
	i := strings.Index(body, "whsec_")
	if i < 0 {
		t.Fatal("the page does not show the new secret")
	}
	secret := body[i : i+len("whsec_")+48]
	if strings.Contains(body, "Ticketing <script>") {
		t.Fatal("the description is not escaped")
	}
	h.set(func(h *hookReceiver) { h.secret, h.now = secret, a.Clock.Now })
	id, _ := a.Submit(map[string]any{"type": "access", "email": trEmail("page"), "full_name": "Page Person", "jurisdiction": "gdpr"})
	got := h.waitFor(t, "request.submitted", func(gs []hookGot) bool { return len(gs) == 1 })
	_, m := a.GetJSON("/api/v1/webhooks", admin)
	ep := int64(m["items"].([]any)[0].(map[string]any)["id"].(float64))
	waitDeliveries(t, a, admin, ep, func(items []any) bool {
		return len(items) == 1 && items[0].(map[string]any)["state"] == "delivered"
	})
	resp, body = b.Get("/staff/admin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, id) || !strings.Contains(body, "delivered") {
		t.Fatalf("the admin page does not log the delivery: %d", resp.StatusCode)
	}
	if strings.Contains(body, secret) {
		t.Fatal("the admin page shows the secret again")
	}
	if !strings.Contains(body, fmt.Sprintf(`id="webhook-%d"`, ep)) {
		t.Fatal("the page has no section for the endpoint")
	}
	resp, _ = b.PostForm(fmt.Sprintf("/staff/admin/webhooks/%d/deliveries/%s/redeliver", ep, got[0].Delivery), url.Values{}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send again from the page: %d", resp.StatusCode)
	}
	h.waitFor(t, "the delivery sent again", func(gs []hookGot) bool { return len(gs) == 2 && gs[1].Delivery == gs[0].Delivery })

	rb := fulBrowser(a, "rita@example.org")
	for _, p := range []string{"/staff/admin/webhooks", fmt.Sprintf("/staff/admin/webhooks/%d/disable", ep)} {
		if resp, _ := rb.PostForm(p, url.Values{"url": {h.srv.URL}, "events": {"request.submitted"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a reviewer posts %s: %d, want 403", p, resp.StatusCode)
		}
	}
	resp, _ = b.PostForm(fmt.Sprintf("/staff/admin/webhooks/%d/disable", ep), url.Values{}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable from the page: %d", resp.StatusCode)
	}
	if _, body := b.Get("/staff/admin"); !strings.Contains(body, "(disabled)") {
		t.Fatal("the page does not show the endpoint disabled")
	}
}
