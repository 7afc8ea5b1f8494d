package e2e

import (
	"net/http"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// TestBulkAndDuplicatesInBrowser protects the queue's bulk work and the
// duplicate flag on a phone and a desktop: tick requests, assign them in
// one step without any script, see the per-request outcome, follow a
// duplicate's link and close it in one click.
func TestBulkAndDuplicatesInBrowser(t *testing.T) {
	browser := newBrowser(t)
	for _, vp := range []viewport{phone, desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			a := apptest.New(t, apptest.Options{})
			a.StaffToken("ada@example.org", "admin")
			a.StaffToken("bo@example.org", "reviewer")
			subject := func(email, typ string) map[string]any {
				return map[string]any{"type": typ, "email": email, "full_name": "Subject " + email}
			}
			one, _ := fileVerified(a, subject("one@example.com", "access"))
			two, _ := fileVerified(a, subject("two@example.com", "erasure"))
			_, first := fileVerified(a, subject("dup@example.com", "portability"))
			// The same person asks again: the second confirmation flags it.
			dupID, dupRef := a.Submit(subject("dup@example.com", "portability"))
			confirmNewest(a, "dup@example.com", dupID)

			tb := newTab(t, a, browser, vp)
			tb.open("/staff")
			tb.signIn("ada@example.org")
			tb.wantText("duplicate of " + first)
			tb.page("queue-bulk")

			tb.toggle(`input[name=selected][id="pick-` + one + `"]`)
			tb.toggle(`input[name=selected][id="pick-` + two + `"]`)
			tb.choose("#bulk_action", "assign")
			tb.choose("#bulk_assignee", "bo@example.org")
			tb.wantStatus("apply", tb.press(`form.bulk button[type=submit]`), http.StatusOK)
			tb.wantText("2 done")
			tb.page("queue-bulk-done")
			for _, id := range []string{one, two} {
				r := request(a, id)
				if r.AssigneeID == nil || r.Status != "verified" {
					t.Fatalf("request %s after bulk assign: assignee %v status %s", id, r.AssigneeID, r.Status)
				}
			}

			// Nothing ticked: the error sits beside the button.
			tb.wantStatus("apply nothing", tb.press(`form.bulk button[type=submit]`), http.StatusUnprocessableEntity)
			tb.wantText("Nothing was done")
			tb.page("queue-bulk-empty")

			tb.wantStatus("open the duplicate", tb.press(`a[href="/staff/requests/`+dupID+`"]`), http.StatusOK)
			tb.wantText("Possible duplicate", first)
			tb.page("duplicate-file")
			tb.wantStatus("close it", tb.press(`form[action$="/close-duplicate"] button[type=submit]`), http.StatusOK)
			tb.wantText("closed as duplicate")
			if r := byReference(a, dupRef); r.Status != "rejected" || r.RefusalReason != "duplicate" {
				t.Fatalf("duplicate after the click: %s %q", r.Status, r.RefusalReason)
			}
			if r := byReference(a, first); r.Status != "verified" {
				t.Fatalf("the request it repeats is %s, want it untouched", r.Status)
			}
		})
	}
}

// confirmNewest confirms request id with the confirmation mail to email
// that belongs to it (the address has an earlier, spent one).
func confirmNewest(a *apptest.App, email, id string) {
	a.T.Helper()
	for n := 1; ; n++ {
		m := a.MailTo(email, n)
		if !strings.Contains(m.Subject(), "Please confirm") {
			continue
		}
		tok := apptest.TokenFromLink(a.T, m.Link(a.T, "/verify?token="))
		resp, _ := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil)
		if resp.StatusCode == http.StatusOK && request(a, id).Status == "verified" {
			return
		}
	}
}
