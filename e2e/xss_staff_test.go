package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// replyWays are the ways a subject's answer reaches the request: a
// plain-text reply to the question mail, an HTML-only reply (which the
// portal turns into text, entities decoded), and the status page's
// answer form.
var replyWays = []string{"mail-text", "mail-html", "form"}

// TestXSSRepliesStayText protects the staff file and the status page from a subject's answer carrying the payloads, by mail (text and HTML) and by the answer form: nothing runs, the answer reads as text.
func TestXSSRepliesStayText(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	browser := newBrowser(t)
	subject := newTab(t, a, browser, desktop)
	subject.name += "-subject"
	type answered struct{ id, way, want string }
	var files []answered
	for i, p := range xssPayloads {
		for _, way := range replyWays {
			email := fmt.Sprintf("reply%d.%s@example.com", i, way)
			id, _ := fileVerified(a, map[string]any{"type": "access", "email": email, "full_name": "Rita Reply"})
			act(a, staff, id, map[string]any{"action": "start_review"})
			act(a, staff, id, map[string]any{"action": "request_info", "message": "Which account do you mean?"})
			q := a.MailWithSubject(email, "A question")
			want := "Reply " + p
			switch way {
			case "mail-text":
				inbound(a, replyMail(t, q, email, "text/plain; charset=utf-8",
					want+"\r\n\r\nOn Mon, the privacy team wrote:\r\n> Which account do you mean?", i))
			case "mail-html":
				// The payload escaped, as a mail client writes typed text,
				// and raw, as a hostile sender writes markup.
				inbound(a, replyMail(t, q, email, "text/html; charset=utf-8",
					"<div>"+html.EscapeString(want)+"</div><div>"+p+"</div><blockquote>Which account do you mean?</blockquote>", 100+i))
			case "form":
				want = "Answer " + p
				subject.open(q.Link(t, "/status/"))
				subject.fill("#answer", want)
				subject.wantStatus("answer", subject.press(`form[action$="/answer"] button[type=submit]`), http.StatusOK)
			}
			if r := request(a, id); r.Status != "in_review" {
				t.Fatalf("%s, payload %d: the answer left the request %s, want in_review", way, i, r.Status)
			}
			subject.open(q.Link(t, "/status/"))
			subject.wantInert(fmt.Sprintf("status-%d-%s", i, way), want)
			files = append(files, answered{id, way, want})
		}
	}

	staffTab := newTab(t, a, browser, desktop)
	staffTab.name += "-staff"
	staffTab.signIn("ada@example.org")
	staffTab.wantInert("queue")
	for i, f := range files {
		staffTab.open("/staff/requests/" + f.id)
		staffTab.wantInert(fmt.Sprintf("file-%02d-%s", i, f.way), f.want)
		msgs := eval[[]string](staffTab, `[...document.querySelectorAll('.timeline p.pre')].map(p => p.textContent)`)
		if !strings.Contains(strings.Join(msgs, "\n"), "Message: "+f.want) {
			t.Errorf("file %d (%s): the timeline's messages %q lack the answer %q", i, f.way, msgs, f.want)
		}
	}
}

// replyMail is a subject's reply to the question mail q, of one content
// type.
func replyMail(t *testing.T, q *apptest.Mail, from, contentType, body string, n int) string {
	t.Helper()
	return fmt.Sprintf("From: Rita Reply <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <e2e-reply-%d@example.com>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n%s\r\n", from, q.ReplyTo(t), q.Subject(), n, contentType, body)
}

// inbound posts a raw message to the inbound webhook, as the mail
// provider does, and fails unless it answered the question.
func inbound(a *apptest.App, raw string) {
	a.T.Helper()
	resp, b := a.Do(http.MethodPost, "/api/v1/inbound/email", strings.NewReader(raw),
		map[string]string{"X-Inbound-Secret": a.Cfg.Mail.Inbound.Secret})
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("inbound: %d %s", resp.StatusCode, b)
	}
	if out := apptest.DecodeJSON(a.T, b)["outcome"]; out != "answered" {
		a.T.Fatalf("inbound reply: outcome %v, want answered:\n%s", out, raw)
	}
}

// TestXSSStaffNamesStayText protects the admin page, the staff file and the workspace header from staff names carrying the payloads, added and given API tokens through the admin page: nothing runs, the names read as text.
func TestXSSStaffNamesStayText(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.StaffToken("ada@example.org", "admin")
	browser := newBrowser(t)
	admin := newTab(t, a, browser, desktop)
	admin.name += "-admin"
	admin.signIn("ada@example.org")
	for i, p := range xssPayloads {
		email, name := fmt.Sprintf("mallory%d@example.org", i), "Mallory "+p
		admin.open("/staff/admin")
		admin.fill("#new-email", email)
		admin.fill("#new-name", name)
		admin.fill("#new-password", staffPassword)
		admin.wantStatus("add "+email, admin.press(`form[action="/staff/admin/staff"] button[type=submit]`), http.StatusOK)
		admin.wantText("Added " + email)
		admin.wantInert(fmt.Sprintf("admin-added-%d", i), name)
		st, err := a.Store.StaffByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if st.Name != name {
			t.Errorf("stored name %q, want %q as typed", st.Name, name)
		}
		names := eval[[]string](admin, `[...document.querySelectorAll('table.list')[0].querySelectorAll('tbody td:first-child')].map(td => td.textContent)`)
		if !strings.Contains("\n"+strings.Join(names, "\n")+"\n", "\n"+name+"\n") {
			t.Errorf("the staff table's names %q lack %q", names, name)
		}

		// The new staff member makes an API token of their own (nobody
		// makes one for a colleague), and the admin sees it listed.
		own := newTab(t, a, browser, desktop, chromedp.WithNewBrowserContext())
		own.name += fmt.Sprintf("-mallory%d", i)
		own.signIn(email)
		own.open("/staff/tokens")
		own.wantStatus("new API token for "+email, own.press(`form[action="/staff/tokens"] button[type=submit]`), http.StatusOK)
		token := eval[string](own, `(document.querySelector('.panel.ok code.secret') || {textContent: ''}).textContent.trim()`)
		if token == "" {
			t.Fatalf("no new API token shown for %s", email)
		}
		own.wantInert(fmt.Sprintf("own-token-%d", i), "Sign out "+name)
		admin.open("/staff/admin")
		admin.wantInert(fmt.Sprintf("admin-token-%d", i), name)

		// The new staff member takes a request with the token, and the
		// admin opens its file: the name is among the colleagues to give
		// it to.
		id, _ := fileVerified(a, map[string]any{"type": "access", "email": fmt.Sprintf("victim%d@example.com", i), "full_name": "Vic Tim"})
		act(a, token, id, map[string]any{"action": "start_review"})
		if r := request(a, id); r.AssigneeID == nil || *r.AssigneeID != st.ID {
			t.Errorf("start_review with %s's token did not assign the request to them", email)
		}
		admin.open("/staff/requests/" + id)
		admin.wantInert(fmt.Sprintf("file-%d", i))
		opts := eval[[]string](admin, `[...document.querySelectorAll('#reassign option')].map(o => o.textContent)`)
		if !strings.Contains(strings.Join(opts, "\n"), name+" ("+email+")") {
			t.Errorf("the reassign choices %q lack %q", opts, name)
		}

		// The new staff member's own workspace names them in its header.
		own.open("/staff")
		own.wantInert("queue", "Sign out "+name)
		own.open("/staff/requests/" + id)
		own.wantInert("file", "Sign out "+name)
	}
	admin.open("/staff/admin")
	admin.wantInert("admin")
}
