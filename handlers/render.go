package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/config"
	"rightsportal/templates"
)

// Pages holds one parsed template set per page (the page plus the
// layout), parsed once at start.
type Pages struct {
	sets    map[string]*template.Template
	org     string
	contact string
}

// page is what every page template sees: the layout's fields and the
// page's own data in D.
type page struct {
	Org     string
	Contact string
	Title   string
	D       any
}

// NewPages parses every page in templates/pages.
func NewPages(cfg *config.Config) (*Pages, error) {
	names, err := fs.Glob(templates.FS, "pages/*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{sets: map[string]*template.Template{}, org: cfg.Organisation.Name, contact: cfg.Organisation.PrivacyContact}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "pages/"), ".html")
		if name == "layout" || name == "staff_layout" {
			continue
		}
		// The workspace has its own layout (navigation, sign-out).
		layout := "pages/layout.html"
		if strings.HasPrefix(name, "staff_") {
			layout = "pages/staff_layout.html"
		}
		t, err := template.New(name).Funcs(funcs()).ParseFS(templates.FS, layout, n)
		if err != nil {
			return nil, fmt.Errorf("handlers: parse page %s: %w", name, err)
		}
		p.sets[name] = t
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
	}
}

// render executes a page into a buffer first, so that a template error
// never sends half a page, then writes it with status.
func (p *Pages) render(c *gin.Context, status int, name, title string, data any) {
	t := p.sets[name]
	var buf bytes.Buffer
	err := fmt.Errorf("handlers: no page %q", name)
	if t != nil {
		err = t.ExecuteTemplate(&buf, "layout", page{Org: p.org, Contact: p.contact, Title: title, D: data})
	}
	if err != nil {
		c.Error(err)
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusInternalServerError, "Something went wrong on our side. Please try again later.")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderError shows an error page with the safe message.
func (p *Pages) renderError(c *gin.Context, he *httpError) {
	title := http.StatusText(he.Status)
	switch he.Status {
	case http.StatusNotFound:
		title = "Page not found"
	case http.StatusTooManyRequests:
		title = "Please slow down"
	}
	msg := he.Message
	if len(he.Fields) > 0 {
		var parts []string
		for k, v := range he.Fields {
			parts = append(parts, k+": "+v)
		}
		msg += " " + strings.Join(parts, " ")
	}
	p.render(c, he.Status, "error", title, map[string]any{"Message": msg})
	c.Abort()
}
