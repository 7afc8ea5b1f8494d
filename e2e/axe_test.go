package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// axeVersion is the axe-core release scripts/test.sh installs; the
// tests refuse any other, so that a result means the same on every
// machine.
const axeVersion = "4.14.1"

// axeFile is where scripts/test.sh puts axe-core, relative to the
// repository (git ignores .cache/).
const axeFile = ".cache/axe-core/node_modules/axe-core/axe.min.js"

// axeSource is the source of axe.min.js: $AXE_CORE_JS, or the copy
// scripts/test.sh installs. A missing file fails the test: the browser
// tests never skip.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		path = filepath.Join(apptest.RepoRoot(t), filepath.FromSlash(axeFile))
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("e2e: axe-core is missing (%v). Run scripts/test.sh, which installs axe-core %s with npm into .cache/axe-core, or set AXE_CORE_JS to an axe.min.js; the browser tests do not skip.", err, axeVersion)
	}
	return string(src)
}

// axeViolation is one rule that failed, with the elements it failed on.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// String is the violation as one report line per rule, with the
// selectors of up to five failing elements and why the first failed.
func (v axeViolation) String() string {
	var targets []string
	for i, n := range v.Nodes {
		if i == 5 {
			targets = append(targets, fmt.Sprintf("and %d more", len(v.Nodes)-i))
			break
		}
		targets = append(targets, n.Target)
	}
	s := fmt.Sprintf("axe %s (%s): %s; at %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
	if len(v.Nodes) > 0 && v.Nodes[0].Summary != "" {
		s += "\n      " + strings.ReplaceAll(strings.TrimSpace(v.Nodes[0].Summary), "\n", "\n      ")
	}
	return s
}

// axeRunJS runs every axe rule on the document and returns the
// violations, each failing element named by its selector.
const axeRunJS = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || '', help: v.help,
  nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), summary: n.failureSummary || ''})),
})))`

// axeLoadedJS says whether the page has axe-core.
const axeLoadedJS = `typeof window.axe === 'object' && typeof window.axe.run === 'function'`

// loadAxe loads axe-core into the page the tab shows, and has the tab
// load it into every page it opens from now on, as the page loads. The
// source (650 kB) then crosses the DevTools connection once per tab
// rather than once per page, which took a third of a second a page.
func (tb *tab) loadAxe() {
	tb.t.Helper()
	ctx, cancel := tb.stepContext()
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: axeSource(tb.t), RunImmediately: new(true)}); err != nil {
		tb.t.Fatalf("%s: load axe-core into %s: %v", tb.name, tb.path(), err)
	}
	version, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.axe ? axe.version : ''`))
	if err != nil {
		tb.t.Fatalf("%s: load axe-core into %s: %v", tb.name, tb.path(), err)
	}
	if version != axeVersion {
		tb.t.Fatalf("%s: the page has axe-core %q, want %s: run scripts/test.sh, or point AXE_CORE_JS at axe-core %s", tb.name, version, axeVersion, axeVersion)
	}
}

// axe runs axe-core on the page the tab shows, loading it first when
// the page has not got it yet (see loadAxe). It returns the serious and
// critical violations, which fail a test, and the rest, which are only
// worth a look.
func (tb *tab) axe() (failing, minor []axeViolation) {
	tb.t.Helper()
	if !eval[bool](tb, axeLoadedJS) {
		tb.loadAxe()
	}
	ctx, cancel := tb.stepContext()
	defer cancel()
	all, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: run axe-core on %s: %v", tb.name, tb.path(), err)
	}
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			failing = append(failing, v)
		} else {
			minor = append(minor, v)
		}
	}
	return failing, minor
}

// axeCheck runs axe-core on the page as the step of the test: serious
// and critical violations fail the test, the others are logged.
func (tb *tab) axeCheck(step string) {
	tb.t.Helper()
	failing, minor := tb.axe()
	if len(minor) > 0 {
		tb.t.Logf("%s: axe on %q (%s), %d moderate or minor violations:\n  %s", tb.name, step, tb.path(), len(minor), joinViolations(minor))
	}
	if len(failing) > 0 {
		tb.t.Errorf("%s: axe on %q (%s), %d serious or critical violations:\n  %s", tb.name, step, tb.path(), len(failing), joinViolations(failing))
	}
}

func joinViolations(vs []axeViolation) string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return strings.Join(lines, "\n  ")
}
