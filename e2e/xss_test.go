package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// xssPayloads are script, attribute, URL, SVG and template-injection
// attempts; each sets window.__xss if it ever runs.
var xssPayloads = []string{
	`<script>window.__xss=1</script>`,
	`"><img src=x onerror="window.__xss=1">`,
	`javascript:window.__xss=1`,
	`'><svg onload=window.__xss=1>`,
	`{{7*7}}`,
}

// xssDetails puts the payload into every free-text field of the type.
func xssDetails(typ, p string) map[string]any {
	switch typ {
	case "rectification":
		return map[string]any{"inaccurate": p, "correction": p, "description": p}
	case "objection":
		return map[string]any{"grounds": p, "description": p}
	case "consent_withdrawal":
		return map[string]any{"consent": p, "description": p}
	}
	return map[string]any{"description": p}
}

// wantInert fails if anything the page holds ran as script or became
// markup: window.__xss stays undefined, no element the payloads would
// create exists, no dialog opened, and each expected text is visible as
// text.
func (tb *tab) wantInert(step string, texts ...string) {
	tb.t.Helper()
	tb.page(step)
	if got := eval[string](tb, `typeof window.__xss`); got != "undefined" {
		tb.t.Errorf("%s: window.__xss is %s on %s: a payload ran", tb.name, got, step)
	}
	if n := eval[int](tb, `document.querySelectorAll('script, img[src="x"], svg, [onerror], [onload]').length`); n > 0 {
		tb.t.Errorf("%s: %d injected elements on %s", tb.name, n, step)
	}
	if d := tb.dialogsSeen(); len(d) > 0 {
		tb.t.Errorf("%s: dialogs on %s: %v", tb.name, step, d)
	}
	text := tb.text()
	for _, want := range texts {
		if !strings.Contains(text, want) {
			tb.t.Errorf("%s: %s does not show %q as text", tb.name, step, want)
		}
	}
}

// TestXSSPayloadsStayText protects every page that shows subject input: script, attribute, URL and template payloads never run and read as text.
func TestXSSPayloadsStayText(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("ada@example.org", "admin")
	type filed struct{ id, payload, email string }
	var files []filed
	for i, p := range xssPayloads {
		for _, typ := range []string{"rectification", "objection", "consent_withdrawal"} {
			email := fmt.Sprintf("xss%d.%s@example.com", i, strings.ReplaceAll(typ, "_", "-"))
			id, _ := fileVerified(a, map[string]any{"type": typ, "email": email, "full_name": "Eve " + p,
				"details": xssDetails(typ, p)})
			files = append(files, filed{id, p, email})
		}
	}
	browser := newBrowser(t)

	// The subject: a question and an answer carrying the payload, on the
	// status page.
	subject := newTab(t, a, browser, desktop)
	subject.name += "-subject"
	for i, f := range files {
		status := a.MailWithSubject(f.email, "We received").Link(t, "/status/")
		if i%3 != 0 {
			// A question and an answer for one request per payload; the
			// others' status pages are looked at as they are.
			subject.open(status)
			subject.wantInert(fmt.Sprintf("status-%02d", i))
			continue
		}
		act(a, staff, f.id, map[string]any{"action": "start_review"})
		act(a, staff, f.id, map[string]any{"action": "request_info", "message": "Question " + f.payload})
		subject.open(status)
		subject.wantInert(fmt.Sprintf("status-question-%d", i/3), "Question "+f.payload)
		subject.fill("#answer", "Answer "+f.payload)
		subject.wantStatus("answer", subject.press(`form[action$="/answer"] button[type=submit]`), http.StatusOK)
		subject.wantInert(fmt.Sprintf("status-answered-%d", i/3), "Answer "+f.payload)
	}

	// The staff: the queue, a search for each payload, every file.
	staffTab := newTab(t, a, browser, desktop)
	staffTab.name += "-staff"
	staffTab.signIn("ada@example.org")
	staffTab.wantInert("queue")
	for i, p := range xssPayloads {
		staffTab.open("/staff?q=" + url.QueryEscape(p))
		staffTab.wantInert(fmt.Sprintf("queue-search-%d", i))
		if got := eval[string](staffTab, `document.getElementById('f-q').value`); got != p {
			t.Errorf("the search field holds %q, want the payload %q as typed", got, p)
		}
	}
	for i, f := range files {
		staffTab.open("/staff/requests/" + f.id)
		want := []string{"Eve " + f.payload}
		if i%3 == 0 {
			want = append(want, "Question "+f.payload, "Answer "+f.payload)
		}
		staffTab.wantInert(fmt.Sprintf("file-%02d", i), want...)
		// Each field's own text, exactly (the name is one line, so its
		// <dd> holds "Eve <payload> <address>").
		dds := eval[[]string](staffTab, `[...document.querySelectorAll('dl.facts dd.pre')].map(d => d.textContent)`)
		for _, dd := range dds {
			if dd != f.payload {
				t.Errorf("file %d: a detail reads %q, want the payload %q", i, dd, f.payload)
			}
		}
		if len(dds) == 0 {
			t.Errorf("file %d shows no details", i)
		}
	}
	// What the address bar carries back into a file.
	for i, p := range xssPayloads {
		staffTab.open("/staff/requests/" + files[0].id + "?done=" + url.QueryEscape(p))
		staffTab.wantInert(fmt.Sprintf("file-done-%d", i), "Done: "+p)
	}
}

// TestCSPBlocksInlineScript protects the Content-Security-Policy: no 'unsafe-inline', and the browser refuses an inline script.
func TestCSPBlocksInlineScript(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tb := newTab(t, a, newBrowser(t), desktop)
	for _, path := range []string{"/", "/request?type=access", "/staff/login"} {
		resp := tb.openResponse(path)
		csp, _ := resp.Headers["Content-Security-Policy"].(string)
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") ||
			strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		type result struct {
			Ran      bool   `json:"ran"`
			Violated string `json:"violated"`
		}
		ctx, cancel := tb.stepContext()
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`new Promise(resolve => {
  let violated = '';
  document.addEventListener('securitypolicyviolation', e => { violated = e.effectiveDirective; });
  const s = document.createElement('script');
  s.textContent = 'window.__csp = 1';
  document.body.appendChild(s);
  setTimeout(() => resolve({ran: window.__csp === 1, violated}), 200);
})`, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if res.Ran || res.Violated != "script-src-elem" {
			t.Errorf("%s: inline script ran=%v, violation %q; want blocked as script-src-elem", path, res.Ran, res.Violated)
		}
	}
}
