package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

// The staff actions of SPEC §3 and the states the API and the status page
// can reach (expired needs the verification window to pass).
var (
	trActions = []string{"start_review", "request_info", "approve", "reject", "complete", "extend", "grant_appeal", "deny_appeal"}
	trStates  = []string{"unverified", "verified", "in_review", "awaiting_subject", "approved", "completed", "rejected", "withdrawn", "appealed"}
	// trAllowed is SPEC §3 for an access request (one approval, one
	// extension): state → action → the state it leads to.
	trAllowed = map[string]map[string]string{
		"verified":         {"start_review": "in_review"},
		"in_review":        {"request_info": "awaiting_subject", "approve": "approved", "reject": "rejected", "extend": "in_review"},
		"awaiting_subject": {"reject": "rejected", "extend": "awaiting_subject"},
		"approved":         {"complete": "completed", "extend": "approved"},
		"appealed":         {"grant_appeal": "in_review", "deny_appeal": "rejected"},
	}
)

// trJurisdiction is the law a request in state is built under: the GDPR,
// or for an appeal the VCDPA, which grants one.
func trJurisdiction(state string) string {
	if state == "appealed" {
		return "vcdpa"
	}
	return "gdpr"
}

// trBody is action with every field it requires.
func trBody(action string, v int) map[string]any {
	b := map[string]any{"action": action, "version": v}
	switch action {
	case "request_info", "complete":
		b["message"] = "Message for " + action
	case "reject":
		b["reason"], b["message"] = "excessive", "You asked the same thing twice this week."
	case "extend", "grant_appeal", "deny_appeal":
		b["reason"] = "Reason for " + action
	}
	return b
}

// trSeq numbers the subjects' addresses so that each request has its own
// mailbox and MailWithSubject finds the right mail.
var trSeq struct {
	sync.Mutex
	n int
}

func trEmail(prefix string) string {
	trSeq.Lock()
	defer trSeq.Unlock()
	trSeq.n++
	return fmt.Sprintf("%s-%d@example.com", prefix, trSeq.n)
}

// trGet is the staff view of a request with its events.
func trGet(t *testing.T, a *apptest.App, token, id string) map[string]any {
	t.Helper()
	resp, m := a.GetJSON("/api/v1/requests/"+id, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET request %s: %d %v", id, resp.StatusCode, m)
	}
	return m
}

func trEvents(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range m["events"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// trSubmitVerified files a request and confirms it by link; it returns
// the id and the reference.
func trSubmitVerified(t *testing.T, a *apptest.App, email, typ, jurisdiction string) (id, ref string) {
	t.Helper()
	id, ref = a.Submit(map[string]any{"type": typ, "email": email, "full_name": "Test Subject", "jurisdiction": jurisdiction})
	tok := apptest.TokenFromLink(t, a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	return id, ref
}

// trStatusToken is the token of the status link in the acknowledgment.
func trStatusToken(t *testing.T, a *apptest.App, email string) string {
	t.Helper()
	link := a.MailWithSubject(email, "We received").Link(t, "/status/")
	return link[strings.LastIndex(link, "/status/")+len("/status/"):]
}

// trMust acts and fails the test unless the action gives 200 and state.
func trMust(t *testing.T, a *apptest.App, token, id string, body map[string]any, state string) map[string]any {
	t.Helper()
	code, m := act(a, token, id, body)
	if code != http.StatusOK || m["status"] != state {
		t.Fatalf("%v: %d %v (want 200 %s)", body["action"], code, m, state)
	}
	return m
}

// trInState builds a request of type typ under jurisdiction in state
// through the API (and, for withdrawn, the status page) and returns its
// id, version and subject address.
func trInState(t *testing.T, a *apptest.App, staff, state, typ, jurisdiction string) (id string, v int, email string) {
	t.Helper()
	email = trEmail("tr-" + strings.ReplaceAll(state, "_", "-"))
	if state == "unverified" {
		id, _ = a.Submit(map[string]any{"type": typ, "email": email, "full_name": "Test Subject", "jurisdiction": jurisdiction})
		return id, version(trGet(t, a, staff, id)), email
	}
	id, _ = trSubmitVerified(t, a, email, typ, jurisdiction)
	v = version(trGet(t, a, staff, id))
	step := func(action, to string) {
		v = version(trMust(t, a, staff, id, trBody(action, v), to))
	}
	switch state {
	case "verified":
	case "withdrawn":
		trStatusPost(t, a, email, "withdraw", "confirm=yes")
		v = version(trGet(t, a, staff, id))
	case "in_review":
		step("start_review", "in_review")
	case "awaiting_subject":
		step("start_review", "in_review")
		step("request_info", "awaiting_subject")
	case "approved", "completed":
		step("start_review", "in_review")
		step("approve", "approved")
		if state == "completed" {
			step("complete", "completed")
		}
	case "rejected", "appealed":
		step("start_review", "in_review")
		step("reject", "rejected")
		if state == "appealed" {
			trStatusPost(t, a, email, "appeal", "message=I+never+asked+twice.")
			v = version(trGet(t, a, staff, id))
		}
	default:
		t.Fatalf("no way to build state %s", state)
	}
	if m := trGet(t, a, staff, id); m["status"] != state {
		t.Fatalf("built %s, got %v", state, m["status"])
	}
	return id, v, email
}

// trStatusPost posts a form to the subject's status page (withdraw,
// appeal) and fails unless it redirects.
func trStatusPost(t *testing.T, a *apptest.App, email, what, form string) {
	t.Helper()
	resp, b := a.Do(http.MethodPost, "/status/"+trStatusToken(t, a, email)+"/"+what, strings.NewReader(form),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
	}
}

// trSnapshot is what a refused action must leave exactly as it was: the
// request's decision fields, its timeline and its outbox.
type trSnapshot struct {
	View  map[string]any
	Mails int
}

func trSnap(t *testing.T, a *apptest.App, token, id string) trSnapshot {
	t.Helper()
	m := trGet(t, a, token, id)
	view := map[string]any{}
	for _, k := range []string{"status", "version", "extended", "due_at", "assignee", "approvals", "events"} {
		view[k] = m[k]
	}
	mails, err := a.Store.MailsFor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return trSnapshot{View: view, Mails: len(mails)}
}

func trUnchanged(t *testing.T, a *apptest.App, token, id string, before trSnapshot, what string) {
	t.Helper()
	if after := trSnap(t, a, token, id); !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the request:\nbefore %v\nafter  %v", what, before, after)
	}
}

// trRefused checks an error answer: status, code (if given) and the
// field it names (if given).
func trRefused(t *testing.T, what string, code int, m map[string]any, wantStatus int, wantCode, field string) {
	t.Helper()
	e, _ := m["error"].(map[string]any)
	if code != wantStatus || e == nil {
		t.Errorf("%s: %d %v, want %d", what, code, m, wantStatus)
		return
	}
	if wantCode != "" && e["code"] != wantCode {
		t.Errorf("%s: code %v, want %s", what, e["code"], wantCode)
	}
	if field != "" {
		fields, _ := e["fields"].(map[string]any)
		if s, _ := fields[field].(string); s == "" {
			t.Errorf("%s: error does not name %q: %v", what, field, e)
		}
	}
}

// TestTransitionTable protects SPEC §3 through the API: every staff
// action from every reachable state is done (200, the new state, one
// audit event with who/from/to/reason/message) or refused (409
// not_allowed, nothing changed).
func TestTransitionTable(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	// Requests are built (and rejected) by one staff member and acted on
	// by another, who may then decide appeals.
	builder := a.StaffToken("builder@example.org", "reviewer")
	ann := a.StaffToken("ann@example.org", "reviewer")
	for _, state := range trStates {
		// One request per state takes every refusal: a refusal changes
		// nothing, so the next action sees the same request.
		refusedID, refusedV, _ := trInState(t, a, builder, state, "access", trJurisdiction(state))
		for _, action := range trActions {
			t.Run(state+"/"+action, func(t *testing.T) {
				to, ok := trAllowed[state][action]
				if !ok {
					before := trSnap(t, a, ann, refusedID)
					code, m := act(a, ann, refusedID, trBody(action, refusedV))
					trRefused(t, action+" from "+state, code, m, http.StatusConflict, "not_allowed", "")
					trUnchanged(t, a, ann, refusedID, before, action+" from "+state)
					return
				}
				id, v, _ := trInState(t, a, builder, state, "access", trJurisdiction(state))
				before := trEvents(trGet(t, a, ann, id))
				body := trBody(action, v)
				m := trMust(t, a, ann, id, body, to)
				if version(m) != v+1 {
					t.Errorf("version %d after an action on version %d", version(m), v)
				}
				events := trEvents(trGet(t, a, ann, id))
				if len(events) != len(before)+1 {
					t.Fatalf("%d new events, want 1: %v", len(events)-len(before), events[len(before):])
				}
				e := events[len(events)-1]
				want := map[string]any{"action": action, "from": state, "to": to, "actor": "ann@example.org", "actor_kind": "staff"}
				if r, ok := body["reason"]; ok {
					want["reason"] = r
				}
				if msg, ok := body["message"]; ok {
					want["message"] = msg
				}
				for k, w := range want {
					if e[k] != w {
						t.Errorf("event %s = %v, want %v (event %v)", k, e[k], w, e)
					}
				}
				if action == "extend" && !strings.HasPrefix(fmt.Sprint(e["message"]), "new due date ") {
					t.Errorf("extend event does not record the new due date: %v", e)
				}
			})
		}
	}
	if rep, err := a.Store.VerifyChain(context.Background()); err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain after the table: %+v %v", rep, err)
	}
}

// TestTransitionRequiredFields protects the 422/403/404 refusals: each
// action's required field, the version, the action itself, subject-only
// actions and unknown requests, each changing nothing.
func TestTransitionRequiredFields(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	inReview, v, _ := trInState(t, a, ann, "in_review", "access", "gdpr")
	approved, va, _ := trInState(t, a, ann, "approved", "access", "gdpr")
	for _, c := range []struct {
		name   string
		id     string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{"request_info without message", inReview, map[string]any{"action": "request_info", "version": v}, 422, "invalid", "message"},
		{"request_info with a blank message", inReview, map[string]any{"action": "request_info", "message": " \n\t", "version": v}, 422, "invalid", "message"},
		{"reject without reason", inReview, map[string]any{"action": "reject", "message": "Why", "version": v}, 422, "invalid", "reason"},
		{"reject with an unknown code", inReview, map[string]any{"action": "reject", "reason": "because", "message": "Why", "version": v}, 422, "invalid", "reason"},
		{"reject without message", inReview, map[string]any{"action": "reject", "reason": "excessive", "version": v}, 422, "invalid", "message"},
		{"extend without reason", inReview, map[string]any{"action": "extend", "version": v}, 422, "invalid", "reason"},
		{"complete without message", approved, map[string]any{"action": "complete", "version": va}, 422, "invalid", "message"},
		{"missing version", inReview, map[string]any{"action": "request_info", "message": "Q?"}, 422, "invalid", "version"},
		{"zero version", inReview, map[string]any{"action": "request_info", "message": "Q?", "version": 0}, 422, "invalid", "version"},
		{"stale version", inReview, map[string]any{"action": "request_info", "message": "Q?", "version": v - 1}, 409, "conflict", ""},
		{"unknown action", inReview, map[string]any{"action": "frobnicate", "version": v}, 422, "invalid", "action"},
		{"no action", inReview, map[string]any{"version": v}, 422, "invalid", "action"},
		{"withdraw is the subject's", inReview, map[string]any{"action": "withdraw", "version": v}, 403, "forbidden", ""},
		{"provide_info is the subject's", inReview, map[string]any{"action": "provide_info", "message": "A", "version": v}, 403, "forbidden", ""},
		{"verify is the subject's", inReview, map[string]any{"action": "verify", "version": v}, 403, "forbidden", ""},
		{"appeal is the subject's", inReview, map[string]any{"action": "appeal", "message": "A", "version": v}, 403, "forbidden", ""},
		{"expire is the system's", inReview, map[string]any{"action": "expire", "version": v}, 403, "forbidden", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := trSnap(t, a, ann, c.id)
			code, m := act(a, ann, c.id, c.body)
			trRefused(t, c.name, code, m, c.status, c.code, c.field)
			trUnchanged(t, a, ann, c.id, before, c.name)
		})
	}
	t.Run("unknown request", func(t *testing.T) {
		code, m := act(a, ann, "00000000-0000-0000-0000-000000000000", trBody("start_review", 1))
		trRefused(t, "unknown request", code, m, 404, "not_found", "")
	})
}

// trMailText is the text part of the mail to addr whose subject has
// substr, after checking it carries a status link.
func trMailText(t *testing.T, a *apptest.App, addr, substr string) *apptest.Mail {
	t.Helper()
	m := a.MailWithSubject(addr, substr)
	m.Link(t, "/status/")
	if m.HTML == "" {
		t.Errorf("mail %q has no HTML part", m.Subject())
	}
	return m
}

func trWantText(t *testing.T, m *apptest.Mail, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(m.Text, w) {
			t.Errorf("mail %q lacks %q:\n%s", m.Subject(), w, m.Text)
		}
	}
}

// TestTransitionMails protects the subject-facing mails of staff actions:
// the question with a reply address, the rejection with its reason and
// the jurisdiction's authority, the completion's answer, and the
// extension's reason and later due date (once, and only where the law
// allows one).
func TestTransitionMails(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")

	t.Run("request_info", func(t *testing.T) {
		id, v, email := trInState(t, a, ann, "in_review", "access", "gdpr")
		trMust(t, a, ann, id, map[string]any{"action": "request_info", "message": "Which customer number do you have?", "version": v}, "awaiting_subject")
		m := trMailText(t, a, email, "A question")
		trWantText(t, m, "Which customer number do you have?")
		if rt := m.ReplyTo(t); !regexp.MustCompile(`^privacy\+[a-z2-7]{32}@example\.org$`).MatchString(rt) {
			t.Errorf("question mail's Reply-To %q carries no reply token", rt)
		}
	})
	for _, c := range []struct{ jurisdiction, authority string }{
		{"gdpr", "supervisory authority"},
		{"vcdpa", "Virginia Attorney General"},
	} {
		t.Run("reject/"+c.jurisdiction, func(t *testing.T) {
			id, v, email := trInState(t, a, ann, "in_review", "access", c.jurisdiction)
			trMust(t, a, ann, id, map[string]any{"action": "reject", "reason": "manifestly_unfounded",
				"message": "The account you name was never ours.", "version": v}, "rejected")
			m := trMailText(t, a, email, "Our decision")
			trWantText(t, m, "manifestly unfounded", "The account you name was never ours.", c.authority)
		})
	}
	t.Run("complete", func(t *testing.T) {
		id, v, email := trInState(t, a, ann, "approved", "access", "gdpr")
		trMust(t, a, ann, id, map[string]any{"action": "complete", "message": "Your data is attached as a ZIP file.", "version": v}, "completed")
		trWantText(t, trMailText(t, a, email, "is complete"), "Your data is attached as a ZIP file.")
	})
	t.Run("extend", func(t *testing.T) {
		id, v, email := trInState(t, a, ann, "in_review", "access", "gdpr")
		oldDue := trGet(t, a, ann, id)["due_date"].(string)
		m := trMust(t, a, ann, id, map[string]any{"action": "extend", "reason": "We hold your data in six systems.", "version": v}, "in_review")
		if m["extended"] != true || m["due_date"].(string) <= oldDue {
			t.Errorf("after extend: extended %v, due %v (was %s)", m["extended"], m["due_date"], oldDue)
		}
		mail := trMailText(t, a, email, "more time")
		trWantText(t, mail, "We hold your data in six systems.")
		dates := regexp.MustCompile(`answer by ([^(]+?) \(instead of ([^)]+)\)`).FindStringSubmatch(strings.Join(strings.Fields(mail.Text), " "))
		if dates == nil {
			t.Fatalf("extension mail names no new and old due date:\n%s", mail.Text)
		}
		newDue, err1 := time.Parse("Monday, 2 January 2006", dates[1])
		old, err2 := time.Parse("Monday, 2 January 2006", dates[2])
		if err1 != nil || err2 != nil || !newDue.After(old) {
			t.Errorf("new due date %q not after old %q (%v %v)", dates[1], dates[2], err1, err2)
		}
		if got := newDue.Format(time.DateOnly); got != m["due_date"] {
			t.Errorf("mail says %s, API says %v", got, m["due_date"])
		}
		before := trSnap(t, a, ann, id)
		code, body := act(a, ann, id, map[string]any{"action": "extend", "reason": "Again.", "version": version(m)})
		trRefused(t, "second extend", code, body, http.StatusConflict, "not_allowed", "")
		trUnchanged(t, a, ann, id, before, "second extend")
	})
	t.Run("extend/lgpd", func(t *testing.T) {
		id, v, _ := trInState(t, a, ann, "in_review", "access", "lgpd")
		before := trSnap(t, a, ann, id)
		code, body := act(a, ann, id, map[string]any{"action": "extend", "reason": "Complex.", "version": v})
		trRefused(t, "extend under lgpd", code, body, http.StatusConflict, "not_allowed", "")
		trUnchanged(t, a, ann, id, before, "extend under lgpd")
	})
}

// TestTransitionApprovals protects the four-eyes rule: access is approved
// by one staff member, erasure needs two different ones, and each
// approval is one audit event.
func TestTransitionApprovals(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "reviewer")

	id, v, _ := trInState(t, a, ann, "in_review", "access", "gdpr")
	m := trMust(t, a, ann, id, map[string]any{"action": "approve", "version": v}, "approved")
	if got := m["approvals"].([]any); len(got) != 1 || got[0] != "ann@example.org" {
		t.Errorf("access approvals: %v", got)
	}

	id, v, _ = trInState(t, a, ann, "in_review", "erasure", "gdpr")
	n := len(trEvents(trGet(t, a, ann, id)))
	m = trMust(t, a, ann, id, map[string]any{"action": "approve", "version": v}, "in_review")
	if got := m["approvals"].([]any); len(got) != 1 {
		t.Errorf("first erasure approval: %v", got)
	}
	before := trSnap(t, a, ann, id)
	code, body := act(a, ann, id, map[string]any{"action": "approve", "version": version(m)})
	trRefused(t, "second approval by the same staff", code, body, http.StatusConflict, "not_allowed", "")
	trUnchanged(t, a, ann, id, before, "second approval by the same staff")
	m = trMust(t, a, bob, id, map[string]any{"action": "approve", "version": version(m)}, "approved")
	if got := m["approvals"].([]any); len(got) != 2 {
		t.Errorf("erasure approvals: %v", got)
	}
	events := trEvents(trGet(t, a, ann, id))
	if len(events) != n+2 {
		t.Fatalf("two approvals wrote %d events", len(events)-n)
	}
	first, second := events[n], events[n+1]
	if first["from"] != "in_review" || first["to"] != "in_review" || first["actor"] != "ann@example.org" ||
		second["from"] != "in_review" || second["to"] != "approved" || second["actor"] != "bob@example.org" {
		t.Errorf("approval events: %v %v", first, second)
	}
}

// TestTransitionAssignOnStart protects start_review's assignment: to the
// acting staff member by default, to a named colleague (who is told by
// mail) when one is named, and never to someone who does not exist.
func TestTransitionAssignOnStart(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	a.StaffToken("bob@example.org", "reviewer")

	email := trEmail("tr-assign")
	id, ref := trSubmitVerified(t, a, email, "access", "gdpr")
	v := version(trGet(t, a, ann, id))
	before := trSnap(t, a, ann, id)
	code, m := act(a, ann, id, map[string]any{"action": "start_review", "assignee": "nobody@example.org", "version": v})
	trRefused(t, "unknown assignee", code, m, 422, "invalid", "assignee")
	trUnchanged(t, a, ann, id, before, "unknown assignee")

	m = trMust(t, a, ann, id, map[string]any{"action": "start_review", "assignee": "bob@example.org", "version": v}, "in_review")
	if m["assignee"] != "bob@example.org" {
		t.Errorf("assignee %v, want bob", m["assignee"])
	}
	mail := a.MailWithSubject("bob@example.org", "Assigned to you")
	if !strings.Contains(mail.Subject(), ref) || !strings.Contains(mail.Text, "/staff/requests/"+id) {
		t.Errorf("assignment mail:\n%s\n%s", mail.Subject(), mail.Text)
	}
	if strings.Contains(mail.Text, email) {
		t.Errorf("assignment mail carries the subject's address:\n%s", mail.Text)
	}

	id2, v2, _ := trInState(t, a, ann, "verified", "access", "gdpr")
	if m := trMust(t, a, ann, id2, trBody("start_review", v2), "in_review"); m["assignee"] != "ann@example.org" {
		t.Errorf("start_review without assignee: assignee %v, want the actor", m["assignee"])
	}
}

// TestTransitionNotes protects internal notes: 201 with the note, 422 for
// an empty body, 404 for an unknown request; a note is no state change.
func TestTransitionNotes(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	id, _, _ := trInState(t, a, ann, "in_review", "access", "gdpr")
	auth := map[string]string{"Authorization": "Bearer " + ann}
	before := trSnap(t, a, ann, id)
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/notes", map[string]any{"body": "Called the subject; identity fine."}, auth)
	if resp.StatusCode != http.StatusCreated || m["body"] != "Called the subject; identity fine." || m["author"] != "ann@example.org" {
		t.Fatalf("note: %d %v", resp.StatusCode, m)
	}
	trUnchanged(t, a, ann, id, before, "a note")
	for _, body := range []string{"", "   "} {
		resp, m = a.PostJSON("/api/v1/requests/"+id+"/notes", map[string]any{"body": body}, auth)
		trRefused(t, "empty note", resp.StatusCode, m, 422, "invalid", "body")
	}
	resp, m = a.PostJSON("/api/v1/requests/00000000-0000-0000-0000-000000000000/notes", map[string]any{"body": "x"}, auth)
	trRefused(t, "note on unknown request", resp.StatusCode, m, 404, "not_found", "")
	notes, err := a.Store.Notes(context.Background(), id)
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes stored: %v %v", notes, err)
	}
	// The staff API reads them back with the request.
	got, _ := trGet(t, a, ann, id)["notes"].([]any)
	if len(got) != 1 {
		t.Fatalf("notes in GET /api/v1/requests/{id}: %v", got)
	}
	if n := got[0].(map[string]any); n["body"] != "Called the subject; identity fine." || n["author"] != "ann@example.org" || n["created_at"] == nil {
		t.Fatalf("note as read back: %v", n)
	}
}

// trPost is act for goroutines: no t.Fatal off the test goroutine.
func trPost(a *apptest.App, token, id string, body map[string]any) (int, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, a.URL("/api/v1/requests/"+url.PathEscape(id)+"/actions"), bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// trRace posts every body at once (as nearly as a barrier allows) and
// returns the status codes in the same order.
func trRace(t *testing.T, a *apptest.App, id string, tokens []string, bodies []map[string]any) []int {
	t.Helper()
	codes := make([]int, len(bodies))
	errs := make([]error, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			<-start
			codes[i], errs[i] = trPost(a, tokens[i], id, bodies[i])
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes
}

func trCount(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// TestConcurrentConflictingActions protects the version guard under real
// concurrency: of several staff acting on the same version at once,
// exactly one wins, the others get 409, exactly one audit event and the
// winner's mail are written, and the audit chain stays intact.
func TestConcurrentConflictingActions(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tokens := make([]string, 10)
	for i := range tokens {
		tokens[i] = a.StaffToken(fmt.Sprintf("staff%d@example.org", i), "reviewer")
	}
	ctx := context.Background()
	check := func(t *testing.T, id string, before trSnapshot, codes []int) map[string]any {
		t.Helper()
		if trCount(codes, 200) != 1 || trCount(codes, 409) != len(codes)-1 {
			t.Fatalf("want exactly one 200 and the rest 409, got %v", codes)
		}
		after := trGet(t, a, tokens[0], id)
		if n, m := len(before.View["events"].([]any)), len(trEvents(after)); m != n+1 {
			t.Errorf("%d audit events written, want 1", m-n)
		}
		if version(after) != int(before.View["version"].(float64))+1 {
			t.Errorf("version %d after one winning action on %v", version(after), before.View["version"])
		}
		if rep, err := a.Store.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
		return after
	}

	for round := range 3 {
		t.Run(fmt.Sprintf("request_info vs reject %d", round), func(t *testing.T) {
			id, v, _ := trInState(t, a, tokens[0], "in_review", "access", "gdpr")
			before := trSnap(t, a, tokens[0], id)
			codes := trRace(t, a, id, tokens[:2], []map[string]any{trBody("request_info", v), trBody("reject", v)})
			after := check(t, id, before, codes)
			want := map[bool]string{true: "awaiting_subject", false: "rejected"}[codes[0] == 200]
			if after["status"] != want {
				t.Errorf("status %v, but the winner's action leads to %s (codes %v)", after["status"], want, codes)
			}
			mails, _ := a.Store.MailsFor(ctx, id)
			if len(mails) != before.Mails+1 {
				t.Errorf("%d mails queued, want only the winner's", len(mails)-before.Mails)
			}
		})
	}
	t.Run("withdraw vs reject", func(t *testing.T) {
		id, v, email := trInState(t, a, tokens[0], "in_review", "access", "gdpr")
		page := a.URL("/status/" + trStatusToken(t, a, email) + "/withdraw")
		before := trSnap(t, a, tokens[0], id)
		codes := make([]int, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.PostForm(page, url.Values{"confirm": {"yes"}})
			if errs[0] = err; err == nil {
				codes[0] = resp.StatusCode
				resp.Body.Close()
			}
		})
		wg.Go(func() {
			<-start
			codes[1], errs[1] = trPost(a, tokens[1], id, trBody("reject", v))
		})
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		// The subject's win is a redirect to the status page.
		if codes[0] == http.StatusSeeOther {
			codes[0] = 200
		}
		after := check(t, id, before, codes)
		want := map[bool]string{true: "withdrawn", false: "rejected"}[codes[0] == 200]
		if after["status"] != want {
			t.Errorf("status %v, but the winner's action leads to %s (codes %v)", after["status"], want, codes)
		}
	})
	t.Run("ten approvals", func(t *testing.T) {
		id, v, _ := trInState(t, a, tokens[0], "in_review", "access", "gdpr")
		before := trSnap(t, a, tokens[0], id)
		bodies := make([]map[string]any, len(tokens))
		for i := range bodies {
			bodies[i] = trBody("approve", v)
		}
		codes := trRace(t, a, id, tokens, bodies)
		after := check(t, id, before, codes)
		winner := fmt.Sprintf("staff%d@example.org", trIndex(codes, 200))
		if got := after["approvals"].([]any); after["status"] != "approved" || len(got) != 1 || got[0] != winner {
			t.Errorf("after the race: %v approvals %v, want approved by %s", after["status"], got, winner)
		}
	})
}

func trIndex(codes []int, code int) int {
	for i, c := range codes {
		if c == code {
			return i
		}
	}
	return -1
}

// TestTransitionAppealDecisions protects the appeal rules of SPEC §3: a
// reason is required, the staff member who rejected may not decide, and
// a denial tells the subject which regulator to turn to.
func TestTransitionAppealDecisions(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ann := a.StaffToken("ann@example.org", "reviewer")
	bob := a.StaffToken("bob@example.org", "reviewer")
	id, v, email := trInState(t, a, ann, "appealed", "access", "vcdpa")
	before := trSnap(t, a, ann, id)
	code, m := act(a, ann, id, trBody("grant_appeal", v))
	trRefused(t, "grant_appeal by the rejecter", code, m, http.StatusForbidden, "forbidden", "")
	code, m = act(a, ann, id, trBody("deny_appeal", v))
	trRefused(t, "deny_appeal by the rejecter", code, m, http.StatusForbidden, "forbidden", "")
	code, m = act(a, bob, id, map[string]any{"action": "deny_appeal", "version": v})
	trRefused(t, "deny_appeal without reason", code, m, http.StatusUnprocessableEntity, "invalid", "reason")
	trUnchanged(t, a, ann, id, before, "refused appeal decisions")

	m = trMust(t, a, bob, id, map[string]any{"action": "deny_appeal", "reason": "The request repeats one answered last week.", "version": v}, "rejected")
	trWantText(t, a.MailWithSubject(email, "on your appeal"), "The request repeats one answered last week.", "Virginia Attorney General")
	// No further appeal: the staff API cannot reopen it either.
	code, m = act(a, bob, id, trBody("grant_appeal", version(m)))
	trRefused(t, "grant_appeal after a denial", code, m, http.StatusConflict, "not_allowed", "")
}
