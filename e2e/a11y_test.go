package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// page records the page the tab shows as one step of the test: a
// full-page screenshot named after the step, the hand-written
// accessibility check, whose violations fail the test, and axe-core,
// whose serious and critical violations fail it.
func (tb *tab) page(step string) {
	tb.t.Helper()
	tb.screenshot(step)
	if v := tb.a11y(); len(v) > 0 {
		tb.t.Errorf("%s: accessibility of %q (%s), %d violations:\n  %s", tb.name, step, tb.path(), len(v), strings.Join(v, "\n  "))
	}
	tb.axeCheck(step)
}

// a11y runs the accessibility check in the page; on the phone it also
// asks that the page fit the screen's width (no sideways scrolling).
func (tb *tab) a11y() []string {
	tb.t.Helper()
	v := eval[[]string](tb, a11yCheckJS)
	if tb.vp.Phone {
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > int(tb.vp.Width) {
			v = append(v, fmt.Sprintf("reflow: the page is %dpx wide on a %dpx screen; too wide: %s",
				w, tb.vp.Width, strings.Join(eval[[]string](tb, tooWideJS), ", ")))
		}
	}
	return v
}

// tooWideJS names up to five of the innermost elements that reach past
// the right edge of the screen, so that a reflow failure says where.
const tooWideJS = `(() => {
const wide = e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5;
const out = [];
for (const e of document.body.querySelectorAll('*')) {
  if (wide(e) && ![...e.children].some(wide)) {
    out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
      ' "' + (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 30) + '"');
    if (out.length === 5) break;
  }
}
return out;
})()`

// a11yCheckJS is the accessibility check, run in the page. It returns
// one line per violation (an empty list when the page passes):
//
//   - the document: lang on <html>, a <title>, exactly one <h1>, exactly
//     one <main> landmark, no duplicate ids;
//   - every input, select and textarea has a label (label[for],
//     aria-label or aria-labelledby that point at text), and every
//     label[for] names an existing control;
//   - images have alt; links and buttons have an accessible name;
//   - every visible text has a contrast of at least 4.5:1 against its
//     effective background (the first non-transparent background up the
//     ancestors, blended over white, with the ancestors' opacity);
//   - an invalid field (inside .invalid, or with aria-invalid) has
//     aria-invalid="true" and aria-describedby (its own or its
//     fieldset's) pointing at a non-empty error message, and every
//     field error on the page is so associated with a control.
const a11yCheckJS = `(() => {
const out = [];
const desc = el => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.getAttribute('name')) s += '[name=' + el.getAttribute('name') + ']';
  const cls = (el.getAttribute('class') || '').trim();
  if (cls) s += '.' + cls.split(/\s+/).join('.');
  const t = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return t ? s + ' "' + t + '"' : s;
};
const byIds = v => (v || '').split(/\s+/).filter(Boolean).map(id => document.getElementById(id));
const idsText = v => byIds(v).map(e => e ? e.textContent.trim() : '').join(' ').trim();

// Document.
if (!(document.documentElement.getAttribute('lang') || '').trim()) out.push('document: <html> has no lang');
if (!document.title.trim()) out.push('document: no <title>');
const h1s = document.querySelectorAll('h1');
if (h1s.length !== 1) out.push('document: ' + h1s.length + ' <h1> elements, want exactly one');
const mains = document.querySelectorAll('main, [role=main]');
if (mains.length !== 1) out.push('document: ' + mains.length + ' main landmarks, want exactly one');
const seen = {};
for (const el of document.querySelectorAll('[id]')) {
  if (seen[el.id]) out.push('duplicate id: ' + el.id);
  seen[el.id] = true;
}

// Labels.
for (const el of document.querySelectorAll('input, select, textarea')) {
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
  const lab = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
  const ok = (lab && lab.textContent.trim()) || (el.getAttribute('aria-label') || '').trim() ||
    idsText(el.getAttribute('aria-labelledby'));
  if (!ok) out.push('no label: ' + desc(el));
}
for (const lab of document.querySelectorAll('label[for]')) {
  const c = document.getElementById(lab.getAttribute('for'));
  if (!c || !c.matches('input, select, textarea, button, meter, output, progress')) out.push('label for a missing control: ' + desc(lab));
}

// Images, links, buttons.
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) out.push('image without alt: ' + desc(img));
}
const accName = el => (el.getAttribute('aria-label') || '').trim() || idsText(el.getAttribute('aria-labelledby')) ||
  (el.textContent || '').trim() || [...el.querySelectorAll('img[alt]')].map(i => i.alt).join('').trim() ||
  (el.getAttribute('title') || '').trim() || (el.tagName === 'INPUT' ? (el.value || '').trim() : '');
for (const el of document.querySelectorAll('a[href], button, input[type=submit], input[type=button], input[type=reset], [role=button], [role=link]')) {
  if (!accName(el)) out.push('no accessible name: ' + desc(el));
}

// Invalid fields and their messages.
const isError = e => e && e.textContent.trim() && (e.matches('.field-error') || e.getAttribute('role') === 'alert');
const describedByError = el => {
  const fs = el.closest('fieldset');
  return [...byIds(el.getAttribute('aria-describedby')), ...(fs ? byIds(fs.getAttribute('aria-describedby')) : [])].some(isError);
};
const controls = 'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea';
for (const el of document.querySelectorAll(controls)) {
  const inInvalid = !!el.closest('.invalid');
  const ariaInvalid = el.getAttribute('aria-invalid') === 'true';
  if (inInvalid && !ariaInvalid) out.push('invalid field without aria-invalid="true": ' + desc(el));
  if ((inInvalid || ariaInvalid) && !describedByError(el)) out.push('invalid field without an associated error message: ' + desc(el));
}
for (const err of document.querySelectorAll('.field .field-error, fieldset .field-error')) {
  if (!err.id) { out.push('field error without an id, so no field can point at it: ' + desc(err)); continue; }
  const sel = '[aria-describedby~="' + CSS.escape(err.id) + '"]';
  const users = [...document.querySelectorAll(sel)];
  if (!users.some(u => u.matches(controls) || u.matches('fieldset'))) out.push('field error not associated with a field: ' + desc(err));
}

// Contrast.
const parse = c => {
  const m = /rgba?\(([^)]+)\)/.exec(c || '');
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
};
const over = (top, bottom) => ({
  r: top.r * top.a + bottom.r * (1 - top.a),
  g: top.g * top.a + bottom.g * (1 - top.a),
  b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
const background = el => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  let bg = {r: 255, g: 255, b: 255, a: 1};
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
};
const lum = c => {
  const ch = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
};
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const skipTags = new Set(['SCRIPT', 'STYLE', 'TITLE', 'HEAD', 'NOSCRIPT', 'OPTION', 'DATALIST', 'TEMPLATE']);
for (const el of document.body.querySelectorAll('*')) {
  if (skipTags.has(el.tagName)) continue;
  const hasText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) ||
    el.matches('input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea');
  if (!hasText) continue;
  const cs = getComputedStyle(el);
  if (cs.visibility !== 'visible' || cs.display === 'none') continue;
  const r = el.getBoundingClientRect();
  if (r.width <= 1 || r.height <= 1 || r.right <= 0 || r.bottom + window.scrollY <= 0) continue;
  if (el.closest('[aria-hidden=true]')) continue;
  let opacity = 1;
  for (let e = el; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
  const fg = parse(cs.color);
  if (!fg) continue;
  fg.a *= opacity;
  const bg = background(el);
  const cr = ratio(over(fg, bg), bg);
  if (cr < 4.5) out.push('contrast ' + cr.toFixed(2) + ':1 < 4.5:1 (' + cs.color + ' on rgb(' +
    [bg.r, bg.g, bg.b].map(Math.round).join(', ') + ')): ' + desc(el));
}
return out;
})()`

// brokenPage breaks every rule of the check once.
const brokenPage = `<!doctype html><html><head></head><body>
<h1>One</h1><h1>Two</h1>
<div id="dup"></div><div id="dup"></div>
<input id="nolabel" type="text">
<label for="ghost">Ghost</label>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<a href="/x"></a><button type="button"></button>
<p style="color:#999;background:#fff">Pale text</p>
<div style="background:#1b1f24"><span style="color:#333">Dark on dark</span></div>
<div class="field invalid"><label for="bad">Bad</label><input id="bad" type="text"></div>
<label for="claims">Claims</label><input id="claims" type="text" aria-invalid="true">
<div class="field"><p class="field-error" id="lonely-error">Orphan message</p></div>
</body></html>`

// TestAccessibilityCheckFindsViolations protects the checks themselves (the hand-written one and axe-core): they report each broken rule and pass a clean page.
func TestAccessibilityCheckFindsViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/good" {
			io.WriteString(w, `<!doctype html><html lang="en"><head><title>Fine</title></head><body><main><h1>Fine</h1>
<label for="n">Name</label><input id="n" type="text"><button type="submit">Send</button><a href="/">Home</a>
<div class="field invalid"><label for="e">E-mail</label><p class="field-error" id="e-error">Enter it.</p>
<input id="e" type="email" aria-invalid="true" aria-describedby="e-error"></div></main></body></html>`)
			return
		}
		io.WriteString(w, brokenPage)
	}))
	defer srv.Close()
	a := &apptest.App{T: t, Server: srv}
	tb := newTab(t, a, newBrowser(t), desktop)
	tb.open("/bad")
	got := strings.Join(tb.a11y(), "\n")
	for _, want := range []string{
		"<html> has no lang", "no <title>", "2 <h1> elements", "0 main landmarks", "duplicate id: dup",
		"no label: input#nolabel", "label for a missing control", "image without alt",
		"no accessible name: a", "no accessible name: button",
		`contrast 2.85:1 < 4.5:1 (rgb(153, 153, 153) on rgb(255, 255, 255)): p "Pale text"`, `span "Dark on dark"`,
		`invalid field without aria-invalid="true": input#bad`, "invalid field without an associated error message: input#bad",
		"invalid field without an associated error message: input#claims", "field error not associated with a field: p#lonely-error",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the check misses %q; it found:\n%s", want, got)
		}
	}
	failing, _ := tb.axe()
	gotAxe := map[string]string{}
	for _, v := range failing {
		gotAxe[v.ID] = v.Impact
	}
	for rule, impact := range map[string]string{"html-has-lang": "serious", "image-alt": "critical", "label": "critical",
		"link-name": "serious", "button-name": "critical", "color-contrast": "serious"} {
		if gotAxe[rule] != impact {
			t.Errorf("axe-core reports %s as %q, want %q; it found:\n%s", rule, gotAxe[rule], impact, joinViolations(failing))
		}
	}
	tb.open("/good")
	if v := tb.a11y(); len(v) > 0 {
		t.Errorf("a page that follows the rules has violations:\n%s", strings.Join(v, "\n"))
	}
	if failing, _ := tb.axe(); len(failing) > 0 {
		t.Errorf("axe-core finds serious violations on a page that follows the rules:\n%s", joinViolations(failing))
	}
}
