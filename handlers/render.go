package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/config"
	"rightsportal/i18n"
	"rightsportal/templates"
)

// Pages holds the parsed page templates: each public page once per
// configured language (the language's words bound as template
// functions), each staff page once, in English.
type Pages struct {
	sets    map[string]map[string]*template.Template
	cat     *i18n.Catalog
	org     string
	contact string
}

// page is what every page template sees: the layout's fields and the
// page's own data in D.
type page struct {
	Org     string
	Contact string
	Title   string
	Lang    string
	Langs   []langLink
	D       any
}

// NewPages loads the catalogs and parses every page in templates/pages.
func NewPages(cfg *config.Config) (*Pages, error) {
	cat, err := i18n.Load(templates.FS, cfg.Languages, cfg.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templates.FS, "pages/*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{sets: map[string]map[string]*template.Template{}, cat: cat,
		org: cfg.Organisation.Name, contact: cfg.Organisation.PrivacyContact}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "pages/"), ".html")
		if name == "layout" || name == "staff_layout" {
			continue
		}
		// The workspace has its own layout (navigation, sign-out) and
		// speaks English only.
		layout, langs := "pages/layout.html", cat.Languages()
		if strings.HasPrefix(name, "staff_") {
			layout, langs = "pages/staff_layout.html", []string{i18n.Source}
		}
		p.sets[name] = map[string]*template.Template{}
		for _, l := range langs {
			t, err := template.New(name).Funcs(funcs()).Funcs(cat.For(l).Funcs()).ParseFS(templates.FS, layout, n)
			if err != nil {
				return nil, fmt.Errorf("handlers: parse page %s: %w", name, err)
			}
			p.sets[name][l] = t
		}
	}
	return p, nil
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"join": strings.Join,
		"neg":  func(n int) int { return -n },
		// The bulk form's words (staff_bulk.go).
		"bulkLabel":    bulkLabel,
		"outcomeLabel": outcomeLabel,
		"fieldLabel":   bulkFieldLabel,
		"scopeHelp":    scopeHelp,
		// A request's language as its speakers name it (the staff file).
		"langName": func(code string) string {
			if n, ok := i18n.Names[code]; ok {
				return n
			}
			return code
		},
	}
}

// render executes a page into a buffer first, so that a template error
// never sends half a page, then writes it with status. A public page is
// in the visitor's language (chooseLanguage), a staff page in English.
func (h *Handler) render(c *gin.Context, status int, name, title string, data any) {
	p := h.pages
	lang := h.language(c)
	t := p.sets[name][lang]
	if t == nil {
		lang = i18n.Source
		t = p.sets[name][lang]
	}
	var buf bytes.Buffer
	err := fmt.Errorf("handlers: no page %q", name)
	if t != nil {
		pg := page{Org: p.org, Contact: p.contact, Title: title, Lang: lang, D: data}
		if !strings.HasPrefix(name, "staff_") {
			pg.Langs = h.switcher(c)
		}
		err = t.ExecuteTemplate(&buf, "layout", pg)
	}
	if err != nil {
		c.Error(err)
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusInternalServerError, h.loc(c).T("error.render"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Language", lang)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderError shows an error page with the safe message, both in the
// visitor's language where the catalog has them.
func (h *Handler) renderError(c *gin.Context, he *httpError) {
	l := h.loc(c)
	title := l.Or("error.title_"+strconv.Itoa(he.Status), http.StatusText(he.Status))
	msg := he.Message
	switch key := pageMessages[msg]; {
	case he.Code == "rate_limited" && c.Writer.Header().Get("Retry-After") != "":
		msg = l.T("error.rate_limited", "Seconds", c.Writer.Header().Get("Retry-After"))
	case key != "":
		msg = l.T(key)
	}
	if len(he.Fields) > 0 {
		var parts []string
		for k, v := range he.Fields {
			parts = append(parts, k+": "+v)
		}
		sort.Strings(parts)
		msg += " " + strings.Join(parts, " ")
	}
	h.render(c, he.Status, "error", title, map[string]any{"Message": msg})
	c.Abort()
}
