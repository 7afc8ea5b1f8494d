package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

// dupMails is every mail to addr whose subject holds substr, once n of
// them have arrived.
func dupMails(t *testing.T, a *apptest.App, addr, substr string, n int) []*apptest.Mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []*apptest.Mail
		for _, msg := range a.Relay.Messages() {
			m := apptest.ParseMail(t, msg.Data)
			for _, to := range msg.To {
				if strings.EqualFold(to, addr) && strings.Contains(m.Subject(), substr) {
					got = append(got, m)
				}
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("%d mails to %s with %q, want %d", len(got), addr, substr, n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dupFile files a request for email and, when verify is set, confirms it
// with its own confirmation mail (never an earlier request's).
func dupFile(t *testing.T, a *apptest.App, email, typ string, verify bool) string {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range dupMails(t, a, email, "Please confirm", 0) {
		seen[apptest.TokenFromLink(t, m.Link(t, "/verify?token="))] = true
	}
	id, _ := a.Submit(map[string]any{"type": typ, "email": email, "full_name": "Dana Subject"})
	mails := dupMails(t, a, email, "Please confirm", len(seen)+1)
	if !verify {
		// Waited for: the next call must know this mail is not its own.
		return id
	}
	for _, m := range mails {
		tok := apptest.TokenFromLink(t, m.Link(t, "/verify?token="))
		if seen[tok] {
			continue
		}
		if resp, body := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("verify %s: %d %v", id, resp.StatusCode, body)
		}
		return id
	}
	t.Fatalf("no new confirmation mail to %s", email)
	return ""
}

// dupOf is the duplicate_of of a request in the staff API ("" for none).
func dupOf(t *testing.T, a *apptest.App, token, id string) string {
	t.Helper()
	m := trGet(t, a, token, id)
	s, _ := m["duplicate_of"].(string)
	return s
}

// TestDuplicateFlaggedOnlyAfterVerification: a second verified request
// of the same address and type is flagged with a link to the first; a
// different type, a closed first request, a request past the window and
// an unverified one are not.
func TestDuplicateFlaggedOnlyAfterVerification(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")

	first := dupFile(t, a, "dana@example.com", "access", true)
	second := dupFile(t, a, "dana@example.com", "access", true)
	if got := dupOf(t, a, staff, second); got != first {
		t.Fatalf("second access request: duplicate_of = %q, want the first %s", got, first)
	}
	if got := dupOf(t, a, staff, first); got != "" {
		t.Fatalf("the first request is flagged too: duplicate_of = %q", got)
	}
	m := trGet(t, a, staff, second)
	var verifyMsg string
	for _, e := range trEvents(m) {
		if e["action"] == "verify" {
			verifyMsg, _ = e["message"].(string)
		}
	}
	ref1, _ := trGet(t, a, staff, first)["reference"].(string)
	if !strings.Contains(verifyMsg, ref1) {
		t.Fatalf("the verify event says %q; want it to name %s", verifyMsg, ref1)
	}

	// Another type from the same address is no duplicate.
	other := dupFile(t, a, "dana@example.com", "erasure", true)
	if got := dupOf(t, a, staff, other); got != "" {
		t.Fatalf("an erasure after an access request is flagged: %q", got)
	}

	// A filed but unconfirmed request is not flagged, whatever it repeats.
	pending := dupFile(t, a, "dana@example.com", "access", false)
	if got := dupOf(t, a, staff, pending); got != "" {
		t.Fatalf("an unverified request is flagged: %q", got)
	}

	// Outside the window (90 days by default) nothing matches.
	a.Clock.Advance(91 * 24 * time.Hour)
	b := dupFile(t, a, "fay@example.com", "portability", true)
	a.Clock.Advance(91 * 24 * time.Hour)
	c := dupFile(t, a, "fay@example.com", "portability", true)
	if got := dupOf(t, a, staff, c); got != "" {
		t.Fatalf("a request 91 days after the other is flagged: %q (other %s)", got, b)
	}

	// A closed request is answered: a new one is no duplicate of it.
	g := dupFile(t, a, "gus@example.com", "access", true)
	v := version(trGet(t, a, staff, g))
	v = version(trMust(t, a, staff, g, trBody("start_review", v), "in_review"))
	trMust(t, a, staff, g, trBody("reject", v), "rejected")
	h := dupFile(t, a, "gus@example.com", "access", true)
	if got := dupOf(t, a, staff, h); got != "" {
		t.Fatalf("a request after a rejected one is flagged: %q", got)
	}
}

// TestDuplicateHostileFirstFiler: an attacker files first in the victim's
// name and never confirms. The victim's own request is not flagged, the
// one-click close refuses it, and neither request is closed.
func TestDuplicateHostileFirstFiler(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	attacker := dupFile(t, a, "victim@example.com", "erasure", false)
	victim := dupFile(t, a, "victim@example.com", "erasure", true)
	if got := dupOf(t, a, staff, victim); got != "" {
		t.Fatalf("the victim's request is flagged as a duplicate of %q", got)
	}
	v := version(trGet(t, a, staff, victim))
	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "close_duplicate",
		"requests": []map[string]any{{"id": victim, "version": v}}}, bearer(staff))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk close_duplicate: %d %v", resp.StatusCode, m)
	}
	if r := bulkResults(t, m)[victim]; r["outcome"] != "not_allowed" {
		t.Fatalf("closing the victim's unflagged request as duplicate: %v, want not_allowed", r)
	}
	if st := trGet(t, a, staff, victim)["status"]; st != "verified" {
		t.Fatalf("the victim's request is %v, want verified", st)
	}
	if st := trGet(t, a, staff, attacker)["status"]; st != "unverified" {
		t.Fatalf("the attacker's request is %v, want it left unverified", st)
	}

	// The attacker files again after the victim: still unverified, so
	// still nothing flagged anywhere.
	again := dupFile(t, a, "victim@example.com", "erasure", false)
	for _, id := range []string{victim, attacker, again} {
		if got := dupOf(t, a, staff, id); got != "" {
			t.Fatalf("request %s is flagged as a duplicate of %s", id, got)
		}
	}
}

// TestDuplicateClosedInOneClick: the file shows the flag with a link to
// the other request and closes the duplicate with the reason
// "duplicate"; the subject's mail names the request being answered, and
// the other request is not touched.
func TestDuplicateClosedInOneClick(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	id1 := dupFile(t, a, "ivy@example.com", "access", true)
	ref1, _ := trGet(t, a, staff, id1)["reference"].(string)
	id2 := dupFile(t, a, "ivy@example.com", "access", true)
	if dupOf(t, a, staff, id2) != id1 {
		t.Fatalf("second request not flagged")
	}
	before := trGet(t, a, staff, id1)

	b := a.Browser()
	wsStaff(t, a, "bo@example.org", "reviewer")
	b.SignIn("bo@example.org", wsPassword)
	resp, page := b.Get("/staff?status=open")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "duplicate of <a href=\"/staff/requests/"+id1+"\">"+ref1+"</a>") {
		t.Fatalf("the queue does not flag the duplicate with a link to %s: %d\n%s", ref1, resp.StatusCode, page)
	}
	resp, page = b.Get("/staff/requests/" + id2)
	if !strings.Contains(page, "Possible duplicate") || !strings.Contains(page, "/staff/requests/"+id1) {
		t.Fatalf("the file does not show the flag: %d\n%s", resp.StatusCode, page)
	}
	v := version(trGet(t, a, staff, id2))
	// A stale version changes nothing.
	resp, _ = b.PostForm("/staff/requests/"+id2+"/close-duplicate", url.Values{"version": {strconv.Itoa(v + 7)}}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("close with a stale version: %d, want 409", resp.StatusCode)
	}
	resp, _ = b.PostForm("/staff/requests/"+id2+"/close-duplicate", url.Values{"version": {strconv.Itoa(v)}}, nil)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close duplicate: %d", resp.StatusCode)
	}
	m := trGet(t, a, staff, id2)
	if m["status"] != "rejected" || m["refusal_reason"] != "duplicate" {
		t.Fatalf("after the close: status %v reason %v, want rejected duplicate", m["status"], m["refusal_reason"])
	}
	var actions []string
	for _, e := range trEvents(m) {
		actions = append(actions, e["action"].(string))
		if e["action"] == "reject" && e["reason"] != "duplicate" {
			t.Fatalf("reject event reason %v", e["reason"])
		}
	}
	if j := strings.Join(actions, ","); !strings.HasSuffix(j, "start_review,reject") {
		t.Fatalf("timeline %s, want it to end with start_review,reject", j)
	}
	mail := a.MailWithSubject("ivy@example.com", "Our decision")
	if !strings.Contains(mail.Text, ref1) {
		t.Fatalf("the rejection mail does not name %s:\n%s", ref1, mail.Text)
	}
	after := trGet(t, a, staff, id1)
	if after["status"] != before["status"] || version(after) != version(before) {
		t.Fatalf("the other request changed: %v v%d -> %v v%d", before["status"], version(before), after["status"], version(after))
	}
	// Once closed, the button is gone and a second click is refused.
	resp, _ = b.PostForm("/staff/requests/"+id2+"/close-duplicate", url.Values{"version": {strconv.Itoa(version(m))}}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("closing a closed duplicate again: %d, want 409", resp.StatusCode)
	}
}

// TestDuplicateCloseRefusedWhenOtherClosed: once the request a duplicate
// repeats is closed, nobody answers it any more, so closing this one "as
// a duplicate" would leave the subject with no answer: the file shows no
// button and says why, and the one-click close, bulk close and a reject
// with the reason "duplicate" are refused (422) with nothing changed.
func TestDuplicateCloseRefusedWhenOtherClosed(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	first := dupFile(t, a, "kim@example.com", "access", true)
	ref1, _ := trGet(t, a, staff, first)["reference"].(string)
	second := dupFile(t, a, "kim@example.com", "access", true)
	if dupOf(t, a, staff, second) != first {
		t.Fatalf("second request not flagged")
	}
	wsStaff(t, a, "bo@example.org", "reviewer")
	b := wsSignedIn(a, "bo@example.org")
	const button = "Close this one as a duplicate"
	if _, page := b.Get("/staff/requests/" + second); !strings.Contains(page, button) {
		t.Fatalf("the file has no close button while %s is open:\n%s", ref1, page)
	}

	v := version(trGet(t, a, staff, first))
	v = version(trMust(t, a, staff, first, trBody("start_review", v), "in_review"))
	trMust(t, a, staff, first, trBody("reject", v), "rejected")

	resp, page := b.Get("/staff/requests/" + second)
	if resp.StatusCode != http.StatusOK || strings.Contains(page, button) || !strings.Contains(page, ref1+" is closed") {
		t.Fatalf("the file offers to close as a duplicate of a closed request: %d\n%s", resp.StatusCode, page)
	}
	before := trSnap(t, a, staff, second)
	sv := version(trGet(t, a, staff, second))
	resp, page = b.PostForm("/staff/requests/"+second+"/close-duplicate", url.Values{"version": {strconv.Itoa(sv)}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "rejected, so nobody answers it") {
		t.Fatalf("close as duplicate of a rejected request: %d, want 422 saying why\n%s", resp.StatusCode, page)
	}
	trUnchanged(t, a, staff, second, before, "the refused one-click close")

	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "close_duplicate",
		"requests": []map[string]any{bulkItem(second, sv)}}, bearer(staff))
	if r := bulkResults(t, m)[second]; resp.StatusCode != http.StatusOK || r["outcome"] != "invalid" ||
		!strings.Contains(r["message"].(string), ref1) {
		t.Fatalf("bulk close of a duplicate of a rejected request: %d %v, want invalid naming %s", resp.StatusCode, r, ref1)
	}
	trUnchanged(t, a, staff, second, before, "the refused bulk close")

	// Nor by hand, with the reason code that tells the subject the other
	// request is being answered.
	sv = version(trMust(t, a, staff, second, trBody("start_review", sv), "in_review"))
	body := trBody("reject", sv)
	body["reason"] = "duplicate"
	code, m := act(a, staff, second, body)
	trRefused(t, "reject as duplicate of a rejected request", code, m, http.StatusUnprocessableEntity, "invalid", "reason")
	if st := trGet(t, a, staff, second)["status"]; st != "in_review" {
		t.Fatalf("after the refused reject: %v, want in_review", st)
	}
}

// TestRejectDuplicateNeedsFlag: the reason "duplicate" tells the subject
// another open request of theirs is answered instead, so a request never
// flagged at verification cannot be rejected with it, one at a time or
// in bulk; a flagged one still can, and other reasons are untouched.
func TestRejectDuplicateNeedsFlag(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	plain, v, _ := trInState(t, a, staff, "in_review", "access", "gdpr")
	before := trSnap(t, a, staff, plain)
	body := trBody("reject", v)
	body["reason"] = "duplicate"
	code, m := act(a, staff, plain, body)
	trRefused(t, "reject an unflagged request as duplicate", code, m, http.StatusUnprocessableEntity, "invalid", "reason")
	if msg, _ := m["error"].(map[string]any)["fields"].(map[string]any)["reason"].(string); !strings.Contains(msg, "not flagged as a duplicate") {
		t.Errorf("the refusal says %q", msg)
	}
	trUnchanged(t, a, staff, plain, before, "the refused reject")

	dupFile(t, a, "lou@example.com", "erasure", true)
	flagged := dupFile(t, a, "lou@example.com", "erasure", true)
	if dupOf(t, a, staff, flagged) == "" {
		t.Fatalf("second erasure not flagged")
	}
	fv := version(trMust(t, a, staff, flagged, trBody("start_review", version(trGet(t, a, staff, flagged))), "in_review"))
	resp, m := a.PostJSON("/api/v1/requests/bulk", map[string]any{"action": "reject", "reason": "duplicate",
		"message": "You sent this twice.", "requests": []map[string]any{bulkItem(plain, v), bulkItem(flagged, fv)}}, bearer(staff))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk reject: %d %v", resp.StatusCode, m)
	}
	res := bulkResults(t, m)
	if r := res[plain]; r["outcome"] != "invalid" || !strings.Contains(r["message"].(string), "not flagged as a duplicate") {
		t.Errorf("bulk reject of an unflagged request as duplicate: %v, want invalid", r)
	}
	if r := res[flagged]; r["outcome"] != "done" || r["status"] != "rejected" {
		t.Errorf("bulk reject of a flagged duplicate: %v, want done", r)
	}
	trUnchanged(t, a, staff, plain, before, "the refused bulk reject")
	trMust(t, a, staff, plain, trBody("reject", v), "rejected")
}
