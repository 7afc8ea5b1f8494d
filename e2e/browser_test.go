// Package e2e drives the whole portal in Debian's Chromium: the subject's
// and the reviewer's journeys, keyboard use, an accessibility check of
// every page, and hostile input on the staff pages.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
	"rightsportal/models"
)

// staffPassword is every test staff member's password (apptest's).
const staffPassword = "correct horse battery staple"

// stepTimeout bounds one browser step, so that a broken page fails the
// test quickly instead of hanging it.
const stepTimeout = 30 * time.Second

// chromiumPath is Debian's Chromium, or the PATH's. A missing browser
// fails the test: the suite never skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("e2e: Chromium not found at /usr/bin/chromium or on PATH. Install it (apt-get install chromium); the browser tests do not skip.")
	return ""
}

// newBrowser starts one headless Chromium for the test with a fresh
// profile, and ends it when the test ends. Tabs are made from the
// returned context. The flags are spelled out rather than taken from
// chromedp.DefaultExecAllocatorOptions, so that nothing else (features,
// metrics, network fetches) is switched on behind the test's back.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("e2e: start Chromium: %v (is the chromium package installed and working?)", err)
	}
	return ctx
}

// viewport is a window size, with mobile emulation for the phone.
type viewport struct {
	Name          string
	Width, Height int64
	Phone         bool
}

var (
	phone   = viewport{"phone", 390, 844, true}
	desktop = viewport{"desktop", 1280, 900, false}
)

// tab is one browser tab on the portal: it navigates, fills and clicks,
// writes a screenshot of each page and runs the accessibility checks
// (the hand-written one and axe-core) on it.
type tab struct {
	t    *testing.T
	a    *apptest.App
	ctx  context.Context
	vp   viewport
	name string // prefix of the screenshot files: the test's name

	mu      sync.Mutex
	dialogs []string
	step    int
}

// newTab opens a tab in the browser (opts may ask for a browser context
// of its own, for a second signed-in user). It dismisses and records any
// JavaScript dialog, which the test fails on.
func newTab(t *testing.T, a *apptest.App, browser context.Context, vp viewport, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, opts...)
	t.Cleanup(cancel)
	tb := &tab{t: t, a: a, ctx: ctx, vp: vp, name: t.Name()}
	// The first run opens the tab and binds it to the context it gets,
	// so it must not get one with a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	emulate := chromedp.EmulateViewport(vp.Width, vp.Height)
	if vp.Phone {
		emulate = chromedp.EmulateViewport(vp.Width, vp.Height, chromedp.EmulateMobile, chromedp.EmulateTouch,
			chromedp.EmulatePortrait, chromedp.EmulateScale(2))
	}
	if err := tb.do(emulate); err != nil {
		t.Fatalf("emulate %s: %v", vp.Name, err)
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s dialog %q", ev.Type, ev.Message))
			tb.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	t.Cleanup(func() {
		if d := tb.dialogsSeen(); len(d) > 0 {
			t.Errorf("%s: JavaScript dialogs opened: %v", tb.name, d)
		}
	})
	return tb
}

// dialogsSeen is the dialogs the tab's pages opened.
func (tb *tab) dialogsSeen() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// stepContext is the tab's context with the deadline of one step.
func (tb *tab) stepContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, stepTimeout)
}

// do runs actions with a deadline.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := tb.stepContext()
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// must runs actions and fails the test on error.
func (tb *tab) must(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := tb.do(actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v (at %s)", tb.name, what, err, tb.url())
	}
}

// eval evaluates JavaScript in the page and decodes the result into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := tb.stepContext()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %.60q: %v", tb.name, js, err)
	}
	return v
}

// url is the address of the page the tab shows.
func (tb *tab) url() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

// path is the page's address without the server.
func (tb *tab) path() string { return strings.TrimPrefix(tb.url(), tb.a.Server.URL) }

// open loads a portal path (or an absolute link from a mail) and returns
// the HTTP status of the document.
func (tb *tab) open(pathOrURL string) int {
	tb.t.Helper()
	return int(tb.openResponse(pathOrURL).Status)
}

// openResponse loads a page and returns the response of the document.
func (tb *tab) openResponse(pathOrURL string) *network.Response {
	tb.t.Helper()
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = tb.a.URL(u)
	}
	ctx, cancel := tb.stepContext()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		tb.t.Fatalf("%s: open %s: %v", tb.name, u, err)
	}
	return resp
}

// press activates a link or a button the way the viewport's user does
// (a tap on the phone, a click on the desktop), waits for the page that
// follows, and returns its HTTP status.
func (tb *tab) press(sel string) int {
	tb.t.Helper()
	act := chromedp.Click(chromedp.CSS(sel))
	if tb.vp.Phone {
		act = chromedp.Tap(chromedp.CSS(sel))
	}
	return tb.navigate("press "+sel, act)
}

// navigate runs an action that loads a new document, waits until the new
// document has loaded, and returns its HTTP status. It marks the old
// document and polls for a complete one without the mark, which holds
// for any kind of navigation (form posts, redirects, error statuses).
func (tb *tab) navigate(what string, act chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	eval[bool](tb, `window.__e2eOld = true`)
	tb.must(what, act)
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__e2eOld && document.readyState === 'complete'`))
		cancel()
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			invalid := eval[[]string](tb, `[...document.querySelectorAll(':invalid')].filter(e => e.id).map(e => '#' + e.id)`)
			tb.t.Fatalf("%s: %s: no new page loaded within %s (at %s; fields the browser refuses: %v)", tb.name, what, stepTimeout, tb.url(), invalid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return eval[int](tb, `(performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0`)
}

// toggle ticks a checkbox or a radio button (tap or click).
func (tb *tab) toggle(sel string) {
	tb.t.Helper()
	act := chromedp.Click(chromedp.CSS(sel))
	if tb.vp.Phone {
		act = chromedp.Tap(chromedp.CSS(sel))
	}
	tb.must("toggle "+sel, act)
}

// fill empties a field and types text into it as keystrokes.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	tb.must("fill "+sel, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(sel)+`).value = ''`),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose picks an option of a select by value.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.must("choose "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

// text is the page's visible text.
func (tb *tab) text() string {
	tb.t.Helper()
	return eval[string](tb, `document.body.innerText`)
}

// h1 is the text of the page's first heading.
func (tb *tab) h1() string {
	tb.t.Helper()
	return eval[string](tb, `(document.querySelector('h1') || {innerText: ''}).innerText.trim()`)
}

// wantH1 fails unless the page's heading contains want.
func (tb *tab) wantH1(want string) {
	tb.t.Helper()
	if got := tb.h1(); !strings.Contains(got, want) {
		tb.t.Fatalf("%s: at %s the heading is %q, want %q\n%s", tb.name, tb.path(), got, want, tb.text())
	}
}

// wantText fails unless the page shows every string.
func (tb *tab) wantText(want ...string) {
	tb.t.Helper()
	text := tb.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			tb.t.Fatalf("%s: at %s the page does not show %q:\n%s", tb.name, tb.path(), w, text)
		}
	}
}

// wantStatus fails unless the page came with the status.
func (tb *tab) wantStatus(what string, got, want int) {
	tb.t.Helper()
	if got != want {
		tb.t.Fatalf("%s: %s: status %d, want %d (at %s)\n%s", tb.name, what, got, want, tb.path(), tb.text())
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshotDir is $ARTIFACTS_DIR, or artifacts/screenshots in the
// repository (ignored by git).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(apptest.RepoRoot(t), "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshots: %v", err)
	}
	return dir
}

// screenshot writes the full page as PNG, named after the test and the
// step, numbered in the order of the steps.
func (tb *tab) screenshot(step string) {
	tb.t.Helper()
	tb.step++
	step = fmt.Sprintf("%02d-%s", tb.step, step)
	ctx, cancel := tb.stepContext()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("%s: screenshot %s: %v", tb.name, step, err)
	}
	name := unsafeName.ReplaceAllString(tb.name+"-"+step, "_") + ".png"
	if err := os.WriteFile(filepath.Join(screenshotDir(tb.t), name), png, 0o644); err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
}

// signIn signs in through the sign-in form and waits for the workspace.
func (tb *tab) signIn(email string) {
	tb.t.Helper()
	if !strings.HasPrefix(tb.path(), "/staff/login") {
		tb.open("/staff/login")
	}
	tb.fill("#email", email)
	tb.fill("#password", staffPassword)
	tb.wantStatus("sign in as "+email, tb.press(`form[action="/staff/login"] button[type=submit]`), http.StatusOK)
	if p := tb.path(); !strings.HasPrefix(p, "/staff") || strings.HasPrefix(p, "/staff/login") {
		tb.t.Fatalf("%s: sign in as %s ended at %s:\n%s", tb.name, email, p, tb.text())
	}
}

// act posts a staff action through the API, at the request's current
// version, and fails unless it works.
func act(a *apptest.App, token, id string, body map[string]any) map[string]any {
	a.T.Helper()
	body["version"] = request(a, id).Version
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("%v: %d %v", body, resp.StatusCode, m)
	}
	return m
}

// request reads a request from the database.
func request(a *apptest.App, id string) *models.Request {
	a.T.Helper()
	r, err := a.Store.Request(context.Background(), id)
	if err != nil {
		a.T.Fatal(err)
	}
	return r
}

// byReference reads a request from the database by its reference.
func byReference(a *apptest.App, ref string) *models.Request {
	a.T.Helper()
	r, err := a.Store.RequestByReference(context.Background(), ref)
	if err != nil {
		a.T.Fatalf("request %s: %v", ref, err)
	}
	return r
}

// fileVerified files a request through the API and confirms it with the
// link from its mail; it returns the id and the reference.
func fileVerified(a *apptest.App, body map[string]any) (id, ref string) {
	a.T.Helper()
	id, ref = a.Submit(body)
	email := body["email"].(string)
	tok := apptest.TokenFromLink(a.T, a.MailWithSubject(email, "Please confirm").Link(a.T, "/verify?token="))
	resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil)
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("verify %s: %d %v", ref, resp.StatusCode, m)
	}
	return id, ref
}

// dueDate is the due date as the subject's pages write it.
func dueDate(a *apptest.App, r *models.Request) string {
	return r.DueAt.In(a.Cfg.Calendar().Loc).Format("Monday, 2 January 2006")
}

// noValidate turns the browser's own form checks off, so that the
// server's answer to a bad form can be seen.
func (tb *tab) noValidate(form string) {
	tb.t.Helper()
	eval[bool](tb, `document.querySelector(`+jsString(form)+`).noValidate = true`)
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "<", `\x3c`)
	return "'" + r.Replace(s) + "'"
}
