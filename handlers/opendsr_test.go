package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/internal/apptest"
	"rightsportal/internal/opendsrtest"
	"rightsportal/models"
)

// dsrApp starts a portal whose inventory is one OpenDSR processor,
// "adtech", with the processor's certificate pinned.
func dsrApp(t *testing.T, p *opendsrtest.Processor) *apptest.App {
	t.Helper()
	return apptest.New(t, apptest.Options{HTTPClient: p.Client(), Config: func(c *config.Config) {
		c.Systems = []config.System{{Code: "adtech", Name: "AdTech processor", Purposes: []string{"advertising"},
			Categories: []string{"online identifiers"}, LegalBasis: "consent (GDPR Art. 6(1)(a))", Retention: "13 months",
			Connector: config.Connector{Kind: config.ConnectorOpenDSR,
				OpenDSR: &config.OpenDSR{APIURL: p.APIURL(), CertificateFile: p.CertFile}}}}
	}})
}

// dsrErasure files an erasure for email, confirms it and has two staff
// approve it; it returns the request's id once the processor took the
// OpenDSR request, and that request.
func dsrErasure(t *testing.T, a *apptest.App, p *opendsrtest.Processor, ann, bob, email string) (string, opendsrtest.Request) {
	t.Helper()
	before := len(p.Requests())
	id, _ := a.Submit(map[string]any{"type": "erasure", "email": email, "full_name": "Data Subject", "jurisdiction": "gdpr"})
	tok := apptest.TokenFromLink(t, fulMailN(a, email, "Please confirm", 1).Link(t, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	fulApprove(a, ann, id)
	fulAct(a, bob, id, "approve", nil)
	fulWait(a, ann, id, "the processor took the request", func(ts []fulTaskV) bool {
		tk := fulTask(ts, "opendsr", "adtech")
		return tk.State == models.TaskPending && strings.Contains(tk.Output, "reports pending")
	})
	got := p.Requests()
	if len(got) != before+1 {
		t.Fatalf("the processor took %d requests, want %d", len(got), before+1)
	}
	return id, got[len(got)-1]
}

func dsrTask(a *apptest.App, token, id string) fulTaskV {
	a.T.Helper()
	return fulTask(fulGet(a, token, id).Tasks, "opendsr", "adtech")
}

// TestOpenDSRErasureCompletesAfterProcessor: the erasure is sent to the
// processor as OpenDSR asks; while it reports in_progress the request
// cannot be completed; a forged or unsigned callback changes nothing;
// its signed "completed" callback finishes the task, and complete goes
// through.
func TestOpenDSRErasureCompletesAfterProcessor(t *testing.T) {
	p := opendsrtest.Start(t, opendsrtest.Options{})
	a := dsrApp(t, p)
	c := newAPIChecker(t, a)
	ann := a.StaffToken("ann@example.org", "admin")
	bob := a.StaffToken("bob@example.org", "reviewer")
	id, sent := dsrErasure(t, a, p, ann, bob, "jane@example.com")

	if !connectors.ValidSubjectRequestID(sent.ID) || sent.Type != "erasure" || sent.Email != "jane@example.com" ||
		sent.Regulation != "gdpr" || sent.CallbackURL != a.URL("/api/v1/opendsr/adtech/callbacks/"+sent.ID) {
		t.Fatalf("the processor got %+v", sent)
	}
	if _, err := time.Parse(time.RFC3339, sent.Body["submitted_time"].(string)); err != nil {
		t.Errorf("submitted_time: %v", err)
	}
	path := "/api/v1/opendsr/adtech/callbacks/" + sent.ID

	p.SetStatus(sent.ID, connectors.OpenDSRInProgress)
	body := p.CallbackBody(sent.ID, connectors.OpenDSRInProgress)
	st, b := c.call("POST", path, "", string(body), map[string]string{"X-OpenDSR-Signature": p.Sign(body)})
	c.want("in_progress callback", http.StatusAccepted, st, b)
	if tk := dsrTask(a, ann, id); tk.State != models.TaskPending || !strings.Contains(tk.Output, "in_progress") {
		t.Fatalf("task after in_progress: %+v", tk)
	}
	if code, m := fulTry(a, ann, id, "complete", map[string]any{"message": "Erased."}); code != http.StatusConflict {
		t.Fatalf("complete while the processor works: %d %v", code, m)
	}

	// A forged "completed" (another key) and an unsigned one change nothing.
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	done := p.CallbackBody(sent.ID, connectors.OpenDSRCompleted)
	st, b = c.call("POST", path, "", string(done), map[string]string{"X-OpenDSR-Signature": opendsrtest.SignWith(forger, done)})
	c.want("forged callback", http.StatusForbidden, st, b)
	st, b = c.call("POST", path, "", string(done), nil)
	c.want("unsigned callback", http.StatusUnauthorized, st, b)
	// The signature covers the raw body: a changed byte is refused too.
	sig := p.Sign(body)
	st, b = c.call("POST", path, "", strings.Replace(string(body), "in_progress", "completed", 1), map[string]string{"X-OpenDSR-Signature": sig})
	c.want("tampered callback", http.StatusForbidden, st, b)
	if tk := dsrTask(a, ann, id); tk.State != models.TaskPending {
		t.Fatalf("a refused callback changed the task: %+v", tk)
	}

	st, b = c.call("POST", path, "", string(done), map[string]string{"X-OpenDSR-Signature": p.Sign(done)})
	c.want("completed callback", http.StatusAccepted, st, b)
	if m := apptest.DecodeJSON(t, b); m["task_state"] != models.TaskDone || m["request_status"] != "completed" {
		t.Fatalf("completed callback: %v", m)
	}
	r := fulGet(a, ann, id)
	if tk := fulTask(r.Tasks, "opendsr", "adtech"); tk.State != models.TaskDone || !strings.Contains(tk.Output, "completed") {
		t.Fatalf("task after completed: %+v", tk)
	}
	n := 0
	for _, e := range r.Events {
		if e.Action == "processor_status" {
			n++
		}
	}
	if n != 3 { // pending (taken), in_progress, completed
		t.Errorf("%d processor_status events, want 3: %+v", n, r.Events)
	}
	// The same callback again (a processor retry) is taken and changes nothing.
	st, b = c.call("POST", path, "", string(done), map[string]string{"X-OpenDSR-Signature": p.Sign(done)})
	c.want("completed again", http.StatusAccepted, st, b)
	fulAct(a, ann, id, "complete", map[string]any{"message": "We erased your data, and so did our processor."})
	if got := fulGet(a, ann, id).Status; got != "completed" {
		t.Fatalf("status %s", got)
	}
	for _, want := range []string{"openDSRCallback 202", "openDSRCallback 401", "openDSRCallback 403"} {
		if !c.seen[want] {
			t.Errorf("no %s answer was validated", want)
		}
	}
}

// TestOpenDSRCallbackRefusals: a signed callback for request A replayed
// at request B's address is refused and B is unchanged; an unknown id,
// an unknown processor, a body that is no status and an oversized body
// are refused; "cancelled" fails the task for staff.
func TestOpenDSRCallbackRefusals(t *testing.T) {
	p := opendsrtest.Start(t, opendsrtest.Options{RSA: true})
	a := dsrApp(t, p)
	c := newAPIChecker(t, a)
	ann := a.StaffToken("ann@example.org", "admin")
	bob := a.StaffToken("bob@example.org", "reviewer")
	idA, reqA := dsrErasure(t, a, p, ann, bob, "anna@example.com")
	idB, reqB := dsrErasure(t, a, p, ann, bob, "bert@example.com")
	pathB := "/api/v1/opendsr/adtech/callbacks/" + reqB.ID

	bodyA := p.CallbackBody(reqA.ID, connectors.OpenDSRCompleted)
	st, b := c.call("POST", pathB, "", string(bodyA), map[string]string{"X-OpenDSR-Signature": p.Sign(bodyA)})
	c.want("A's callback at B's address", http.StatusConflict, st, b)
	if tk := dsrTask(a, ann, idB); tk.State != models.TaskPending {
		t.Fatalf("B changed by A's callback: %+v", tk)
	}
	if tk := dsrTask(a, ann, idA); tk.State != models.TaskPending {
		t.Fatalf("A changed by a callback refused: %+v", tk)
	}

	unknown, _ := connectors.NewSubjectRequestID()
	ub := []byte(`{"subject_request_id":"` + unknown + `","request_status":"completed"}`)
	st, b = c.call("POST", "/api/v1/opendsr/adtech/callbacks/"+unknown, "", string(ub), map[string]string{"X-OpenDSR-Signature": p.Sign(ub)})
	c.want("unknown request", http.StatusNotFound, st, b)
	st, b = c.call("POST", "/api/v1/opendsr/crm/callbacks/"+reqB.ID, "", string(bodyA), map[string]string{"X-OpenDSR-Signature": p.Sign(bodyA)})
	c.want("unknown processor", http.StatusNotFound, st, b)
	bad := []byte(`{"subject_request_id":"` + reqB.ID + `","request_status":"done"}`)
	st, b = c.call("POST", pathB, "", string(bad), map[string]string{"X-OpenDSR-Signature": p.Sign(bad)})
	c.want("not a status", http.StatusUnprocessableEntity, st, b)
	big := []byte(`{"subject_request_id":"` + reqB.ID + `","request_status":"completed","x":"` + strings.Repeat("x", 70<<10) + `"}`)
	st, b = c.call("POST", pathB, "", string(big), map[string]string{"X-OpenDSR-Signature": p.Sign(big)})
	c.want("oversized", http.StatusRequestEntityTooLarge, st, b)
	if tk := dsrTask(a, ann, idB); tk.State != models.TaskPending {
		t.Fatalf("B changed by a refused callback: %+v", tk)
	}

	// The processor cancels B: the task fails for staff, complete is refused.
	code, out := p.Callback(reqB.ID, connectors.OpenDSRCancelled)
	if code != http.StatusAccepted || !strings.Contains(string(out), `"task_state":"failed"`) {
		t.Fatalf("cancelled callback: %d %s", code, out)
	}
	if tk := dsrTask(a, ann, idB); tk.State != models.TaskFailed || !strings.Contains(tk.Error, "cancelled") {
		t.Fatalf("task after cancelled: %+v", tk)
	}
	if code, m := fulTry(a, ann, idB, "complete", map[string]any{"message": "Erased."}); code != http.StatusConflict {
		t.Fatalf("complete after the processor cancelled: %d %v", code, m)
	}
	// Staff retry: a new request under a new id; the cancelled one is
	// superseded, so its callbacks change nothing any more.
	if code, m := fulTaskAPI(a, ann, idB, dsrTask(a, ann, idB).ID, map[string]any{"action": "retry"}); code != http.StatusOK {
		t.Fatalf("retry: %d %v", code, m)
	}
	fulWait(a, ann, idB, "B sent again", func(ts []fulTaskV) bool {
		tk := fulTask(ts, "opendsr", "adtech")
		return tk.State == models.TaskPending && strings.Contains(tk.Output, "reports pending")
	})
	all := p.Requests()
	reqB2 := all[len(all)-1]
	if len(all) != 3 || reqB2.ID == reqB.ID || reqB2.Email != "bert@example.com" {
		t.Fatalf("after the retry the processor has %+v", all)
	}
	old := p.CallbackBody(reqB.ID, connectors.OpenDSRCompleted)
	st, b = c.call("POST", pathB, "", string(old), map[string]string{"X-OpenDSR-Signature": p.Sign(old)})
	c.want("superseded request", http.StatusConflict, st, b)
	if code, out := p.Callback(reqB2.ID, connectors.OpenDSRCompleted); code != http.StatusAccepted {
		t.Fatalf("B's new callback: %d %s", code, out)
	}
	if tk := dsrTask(a, ann, idB); tk.State != models.TaskDone {
		t.Fatalf("B after its new request completed: %+v", tk)
	}
	// A's own callback still works at A's address.
	if code, out := p.Callback(reqA.ID, connectors.OpenDSRCompleted); code != http.StatusAccepted {
		t.Fatalf("A's callback: %d %s", code, out)
	}
	if tk := dsrTask(a, ann, idA); tk.State != models.TaskDone {
		t.Fatalf("A after its callback: %+v", tk)
	}
	for _, want := range []string{"openDSRCallback 404", "openDSRCallback 409",
		"openDSRCallback 413", "openDSRCallback 422"} {
		if !c.seen[want] {
			t.Errorf("no %s answer was validated", want)
		}
	}
}

// TestOpenDSRPollingWithoutCallbacks: a processor that was down when the
// request was approved gets it on a retry, once, under the same id; a
// processor that never calls back is read on schedule, and the task
// follows it to completed.
func TestOpenDSRPollingWithoutCallbacks(t *testing.T) {
	p := opendsrtest.Start(t, opendsrtest.Options{})
	p.PostWith(http.StatusServiceUnavailable)
	a := dsrApp(t, p)
	ann := a.StaffToken("ann@example.org", "admin")
	bob := a.StaffToken("bob@example.org", "reviewer")
	id, _ := a.Submit(map[string]any{"type": "erasure", "email": "jane@example.com", "full_name": "Jane Doe", "jurisdiction": "gdpr"})
	tok := apptest.TokenFromLink(t, fulMailN(a, "jane@example.com", "Please confirm", 1).Link(t, "/verify?token="))
	a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil)
	fulApprove(a, ann, id)
	fulAct(a, bob, id, "approve", nil)
	fulWait(a, ann, id, "a refused submission", func(ts []fulTaskV) bool {
		tk := fulTask(ts, "opendsr", "adtech")
		return tk.State == models.TaskPending && strings.Contains(tk.Error, "503")
	})
	p.PostWith(0)
	fulWait(a, ann, id, "the submission on retry", func(ts []fulTaskV) bool {
		return strings.Contains(fulTask(ts, "opendsr", "adtech").Output, "reports pending")
	})
	sent := p.Requests()
	if len(sent) != 1 {
		t.Fatalf("the processor took %d requests, want 1", len(sent))
	}

	ctx := context.Background()
	reads := p.StatusReads()
	p.SetStatus(sent[0].ID, connectors.OpenDSRInProgress)
	if n, err := a.Svc.PollOpenDSR(ctx); err != nil || n != 0 {
		t.Fatalf("a read before it is due: %d %v", n, err)
	}
	a.Clock.Advance(2 * time.Minute)
	if n, err := a.Svc.PollOpenDSR(ctx); err != nil || n != 1 {
		t.Fatalf("due reads queued: %d %v", n, err)
	}
	fulWait(a, ann, id, "in_progress read", func(ts []fulTaskV) bool {
		return strings.Contains(fulTask(ts, "opendsr", "adtech").Output, "in_progress")
	})
	if n, _ := a.Svc.PollOpenDSR(ctx); n != 0 {
		t.Fatalf("read again before the backoff: %d", n)
	}
	p.SetStatus(sent[0].ID, connectors.OpenDSRCompleted)
	a.Clock.Advance(3 * time.Minute)
	if n, err := a.Svc.PollOpenDSR(ctx); err != nil || n != 1 {
		t.Fatalf("second read: %d %v", n, err)
	}
	fulWait(a, ann, id, "completed read", fulStates(models.TaskDone, "adtech"))
	if got := p.StatusReads() - reads; got != 2 {
		t.Errorf("%d status reads, want 2", got)
	}
	if n, _ := a.Svc.PollOpenDSR(ctx); n != 0 {
		t.Errorf("a finished request is still read: %d", n)
	}
	fulAct(a, ann, id, "complete", map[string]any{"message": "Erased."})
}
