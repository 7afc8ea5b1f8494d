package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// TestAccessibilityDownloadAndAppeal protects the subject's status page where it offers a download (ready, code sent, wrong code, window ended) and an appeal (open, refused input, appealed), on phone and desktop.
func TestAccessibilityDownloadAndAppeal(t *testing.T) {
	dsn := apptest.OrgFixture(t, t.TempDir())
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		// The sample organisation's sql systems build a real package; its
		// support desk (a webhook) would need a TLS service, and adds
		// nothing to the page.
		for _, s := range apptest.OrgSystems(t, dsn, "https://127.0.0.1:9/support") {
			if s.Connector.Kind != config.ConnectorWebhook {
				c.Systems = append(c.Systems, s)
			}
		}
	}})
	staff := a.StaffToken("ada@example.org", "admin")
	const jane = "jane@example.com" // in the sample organisation's systems
	status := releasedPackage(a, staff, jane)

	browser := newBrowser(t)
	var tabs []*tab
	for _, vp := range []viewport{phone, desktop} {
		tb := newTab(t, a, browser, vp)
		tb.name += "-" + vp.Name
		tabs = append(tabs, tb)
	}
	for n, tb := range tabs {
		tb.open(status)
		tb.wantText("Your data is ready to download until")
		tb.page("status-download")
		tb.wantStatus("ask for a download code", tb.press(`form[action$="/code"] button[type=submit]`), http.StatusOK)
		tb.wantText("We have sent you a code")
		tb.page("status-download-code-sent")

		codes := downloadCodes(a, jane, n+1)
		tb.fill("#code", codes[n])
		if !eval[bool](tb, `document.getElementById('code').checkValidity()`) {
			t.Errorf("%s: the download field refuses the mailed code %q", tb.vp.Name, codes[n])
		}
		tb.fill("#code", wrongDownloadCode(codes))
		tb.wantStatus("wrong download code", tb.press(`form[action$="/download"] button[type=submit]`), http.StatusUnprocessableEntity)
		tb.wantText("The code is wrong")
		tb.page("status-download-wrong-code")
	}

	for _, tb := range tabs {
		appealRejection(tb, staff, map[string]string{"phone": "vcdpa", "desktop": "cpa"}[tb.vp.Name])
	}

	a.Clock.Advance(a.Cfg.Fulfilment.DownloadFor.D() + time.Hour)
	for _, tb := range tabs {
		tb.open(status)
		tb.wantText("The download period has ended")
		if eval[bool](tb, `!!document.querySelector('form[action$="/download"]')`) {
			t.Errorf("%s: the download form is offered after the window", tb.vp.Name)
		}
		tb.page("status-download-ended")
	}
}

// releasedPackage files an access request for email, has the systems
// export it, completes it, and returns the status link of the
// completion mail, whose page then offers the download.
func releasedPackage(a *apptest.App, staff, email string) string {
	a.T.Helper()
	id, _ := fileVerified(a, map[string]any{"type": "access", "email": email, "full_name": "Jane Doe", "jurisdiction": "gdpr"})
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "approve"})
	var last any
	waitFor(a, "every fulfilment task done and the package built", func() bool {
		resp, m := a.GetJSON("/api/v1/requests/"+id, staff)
		if resp.StatusCode != http.StatusOK {
			a.T.Fatalf("GET request: %d %v", resp.StatusCode, m)
		}
		last = m["tasks"]
		tasks, _ := m["tasks"].([]any)
		for _, tk := range tasks {
			if tk.(map[string]any)["state"] != "done" {
				return false
			}
		}
		return len(tasks) > 0 && m["package"] != nil
	}, func() string { return fmt.Sprint(last) })
	act(a, staff, id, map[string]any{"action": "complete", "message": "Here is your data."})
	return a.MailWithSubject(email, "is complete").Link(a.T, "/status/")
}

// appealRejection has a request under the jurisdiction rejected, and
// appeals it on the status page: the form, a refused appeal, the
// appealed page.
func appealRejection(tb *tab, staff, jurisdiction string) {
	t, a := tb.t, tb.a
	t.Helper()
	email := "appeal." + jurisdiction + "@example.com"
	id, _ := fileVerified(a, map[string]any{"type": "access", "email": email, "full_name": "Sam Appeal", "jurisdiction": jurisdiction})
	act(a, staff, id, map[string]any{"action": "start_review"})
	act(a, staff, id, map[string]any{"action": "reject", "reason": "manifestly_unfounded", "message": "The account you name was never ours."})
	tb.open(a.MailWithSubject(email, "Our decision").Link(t, "/status/"))
	tb.wantText("Appeal this decision", "you can appeal until")
	tb.page("status-appeal-" + jurisdiction)

	// A control character is refused, and the page says why.
	eval[bool](tb, `(document.getElementById('appeal').value = 'It was mine.\u0001', true)`)
	tb.wantStatus("refused appeal", tb.press(`form[action$="/appeal"] button[type=submit]`), http.StatusUnprocessableEntity)
	tb.wantText("Remove the control characters")
	if s := request(a, id).Status; s != "rejected" {
		t.Errorf("a refused appeal changed the request to %s", s)
	}
	tb.page("status-appeal-refused-" + jurisdiction)

	tb.fill("#appeal", "The account is mine: I have the receipt.")
	tb.wantStatus("appeal", tb.press(`form[action$="/appeal"] button[type=submit]`), http.StatusOK)
	tb.wantText("We received your appeal")
	if s := request(a, id).Status; s != "appealed" {
		t.Fatalf("after the appeal: %s, want appealed", s)
	}
	if eval[bool](tb, `!!document.querySelector('form[action$="/appeal"]')`) {
		t.Errorf("an appealed request still offers an appeal")
	}
	tb.page("status-appealed-" + jurisdiction)
}

var downloadCodeRE = regexp.MustCompile(`\b\d{8}\b`)

// downloadCodes waits for the n-th download-code mail to addr and
// returns the codes of all of them, in the order they came.
func downloadCodes(a *apptest.App, addr string, n int) []string {
	a.T.Helper()
	var codes []string
	waitFor(a, fmt.Sprintf("download-code mail #%d to %s", n, addr), func() bool {
		codes = codes[:0]
		for _, msg := range a.Relay.Messages() {
			m := apptest.ParseMail(a.T, msg.Data)
			if slices.ContainsFunc(msg.To, func(to string) bool { return strings.EqualFold(to, addr) }) &&
				strings.Contains(m.Subject(), "Your download code") {
				code := downloadCodeRE.FindString(m.Text)
				if code == "" {
					a.T.Fatalf("no eight-digit code in the mail:\n%s", m.Text)
				}
				codes = append(codes, code)
			}
		}
		return len(codes) >= n
	}, func() string { return a.Logs.String() })
	return codes
}

// wrongDownloadCode is an eight-digit code that is none of codes.
func wrongDownloadCode(codes []string) string {
	c := []byte(codes[len(codes)-1])
	for slices.Contains(codes, string(c)) {
		c[0] = '0' + (c[0]-'0'+1)%10
	}
	return string(c)
}

// waitFor polls cond until it holds, and fails the test after 20
// seconds with what and the state detail reports.
func waitFor(a *apptest.App, what string, cond func() bool, detail func() string) {
	a.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			a.T.Fatalf("waiting for %s: %s", what, detail())
		}
		time.Sleep(25 * time.Millisecond)
	}
}
