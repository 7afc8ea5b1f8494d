package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"rightsportal/internal/apptest"
)

// focused describes the element that has the keyboard focus.
type focused struct {
	ID       string `json:"id"`
	Tag      string `json:"tag"`
	Type     string `json:"type"`
	Class    string `json:"cls"`
	Text     string `json:"text"`
	Value    string `json:"value"`
	Outline  string `json:"outline"`
	Width    string `json:"width"`
	Shadow   string `json:"shadow"`
	OnScreen bool   `json:"onScreen"`
	HrefLang string `json:"hreflang"`
	InLangs  bool   `json:"inLangs"` // in the language switcher
}

// visible says whether the focus is drawn: an outline or a shadow.
func (f focused) visible() bool {
	return (f.Outline != "none" && f.Width != "0px") || (f.Shadow != "" && f.Shadow != "none")
}

const focusedJS = `(() => {
const e = document.activeElement, cs = getComputedStyle(e), r = e.getBoundingClientRect();
return {id: e.id || '', tag: e.tagName.toLowerCase(), type: e.getAttribute('type') || '', cls: e.className || '',
  text: (e.innerText || '').trim(), value: e.value || '', outline: cs.outlineStyle, width: cs.outlineWidth,
  shadow: cs.boxShadow, onScreen: r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.width > 1 && r.height > 1,
  hreflang: e.getAttribute('hreflang') || '', inLangs: !!e.closest('nav.langs')};
})()`

var subjectRefRE = regexp.MustCompile(`DSR-[A-Z0-9-]+`)

// TestKeyboardOnlyForm protects keyboard-only use of the public form: Tab reaches every field and the button with a visible focus, Enter sends.
func TestKeyboardOnlyForm(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tb := newTab(t, a, newBrowser(t), desktop)
	tb.open("/request?type=rectification")
	tb.wantH1("Correct your data")

	values := map[string]string{"full_name": "Kim Keyboard", "email": "kim@example.com",
		"inaccurate": "My name is spelt Kym.", "correction": "Kim", "description": "Typed without a mouse."}
	want := []string{"full_name", "email", "jurisdiction", "inaccurate", "correction", "description"}
	var reached []string
	onButton := false
	for i := 0; i < 30 && !onButton; i++ {
		tb.must("press Tab", chromedp.KeyEvent(kb.Tab))
		f := eval[focused](tb, focusedJS)
		what := f.Tag + "#" + f.ID + " " + f.Text
		if i == 0 && !strings.Contains(f.Class, "skip") {
			t.Errorf("the first Tab reaches %s, want the skip link", what)
		}
		if !f.visible() {
			t.Errorf("no visible focus on %s: outline %s %s, box-shadow %s", what, f.Outline, f.Width, f.Shadow)
		}
		if !f.OnScreen {
			t.Errorf("the focused %s is not on the screen", what)
		}
		if i == 0 {
			tb.screenshot("skip-link-focused")
		}
		switch {
		case values[f.ID] != "":
			reached = append(reached, f.ID)
			tb.must("type into "+f.ID, chromedp.KeyEvent(values[f.ID]))
		case f.ID == "jurisdiction":
			reached = append(reached, f.ID)
			before := f.Value
			tb.must("choose by key", chromedp.KeyEvent(kb.ArrowDown))
			if after := eval[focused](tb, focusedJS).Value; after == before {
				t.Errorf("ArrowDown on the jurisdiction left it at %q", after)
			}
		case f.Tag == "button" && f.Type == "submit":
			onButton = true
			if f.Text != "Send request" {
				t.Errorf("the first button reached is %q, want the send button", f.Text)
			}
		}
	}
	if !onButton {
		t.Fatalf("Tab never reached the send button; reached %v", reached)
	}
	if !slices.Equal(reached, want) {
		t.Errorf("Tab reached the fields %v, want %v in this order", reached, want)
	}
	for id, v := range values {
		if got := eval[string](tb, `document.getElementById('`+id+`').value`); got != v {
			t.Errorf("#%s holds %q after typing, want %q", id, got, v)
		}
	}
	tb.page("form-typed-by-keyboard")

	status := tb.navigate("press Enter on the send button", chromedp.KeyEvent(kb.Enter))
	tb.wantStatus("send by Enter", status, http.StatusOK)
	tb.wantH1("Check your mailbox")
	tb.page("sent")
	mail := a.MailWithSubject("kim@example.com", "Please confirm")
	r := byReference(a, subjectRefRE.FindString(mail.Subject()))
	if r.Type != "rectification" || r.FullName != "Kim Keyboard" || r.Jurisdiction == a.Cfg.Jurisdictions.Default {
		t.Errorf("stored %s %q %s, want rectification by Kim Keyboard under the jurisdiction chosen by key", r.Type, r.FullName, r.Jurisdiction)
	}
	for _, v := range []string{"Kym", `"correction":"Kim"`, "Typed without a mouse."} {
		if !strings.Contains(r.Details, v) {
			t.Errorf("stored details %s lack %q", r.Details, v)
		}
	}
}

// TestKeyboardLanguageSwitcher protects keyboard-only use of the language switcher: Tab from the top of the page reaches it with a visible focus, and Enter on Deutsch opens the same page, its query kept, in German.
func TestKeyboardLanguageSwitcher(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tb := newTab(t, a, newBrowser(t), desktop)
	tb.open("/request?type=erasure&lang=en")
	tb.wantH1("Delete your data")

	var reached []string // the switcher's links, in Tab order
	onGerman := false
	for i := 0; i < 20 && !onGerman; i++ {
		tb.must("press Tab", chromedp.KeyEvent(kb.Tab))
		f := eval[focused](tb, focusedJS)
		if f.Tag == "body" {
			break // past the last link: the focus left the page
		}
		what := f.Tag + " " + f.Text
		if !f.visible() {
			t.Errorf("no visible focus on %s: outline %s %s, box-shadow %s", what, f.Outline, f.Width, f.Shadow)
		}
		if !f.OnScreen {
			t.Errorf("the focused %s is not on the screen", what)
		}
		if f.InLangs {
			reached = append(reached, f.HrefLang)
			onGerman = f.HrefLang == "de"
		} else if len(reached) > 0 {
			t.Fatalf("Tab left the language switcher at %s before reaching Deutsch; reached %v", what, reached)
		}
	}
	if !onGerman {
		t.Fatalf("Tab from the top of the page did not reach Deutsch in the language switcher (nav.langs a[hreflang=de]); reached %v", reached)
	}
	if reached[0] != "en" {
		t.Errorf("the switcher's first link is %q, want en (in the order of the configuration)", reached[0])
	}
	if got := eval[string](tb, `document.activeElement.textContent.trim()`); got != "Deutsch" {
		t.Errorf("the German link reads %q, want Deutsch", got)
	}
	tb.screenshot("switcher-focused")

	status := tb.navigate("press Enter on Deutsch", chromedp.KeyEvent(kb.Enter))
	tb.wantStatus("switch by Enter", status, http.StatusOK)
	u, err := url.Parse(tb.url())
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/request" || u.Query().Get("type") != "erasure" || u.Query().Get("lang") != "de" {
		t.Errorf("Enter on Deutsch led to %s, want /request with type=erasure and lang=de", u.RequestURI())
	}
	if got := eval[string](tb, `document.documentElement.lang`); got != "de" {
		t.Errorf("after switching the page is in %q, want de", got)
	}
	if got := eval[string](tb, `(document.querySelector('nav.langs a[aria-current="true"]') || {}).hreflang || ''`); got != "de" {
		t.Errorf("after switching the switcher marks %q as current, want de", got)
	}
	tb.page("switched-to-german")
}
