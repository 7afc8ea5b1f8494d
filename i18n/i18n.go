// Package i18n holds the portal's languages: the message catalogs in
// templates/i18n (one YAML file per language, read with go-i18n, whose
// CLDR rules give each language its plural forms), the choice of a
// visitor's language, and dates written the way each language writes
// them. English is the source language: every other catalog falls back
// to it, key by key, so a missing translation shows English rather than
// a key.
package i18n

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// Source is the language every catalog is translated from.
const Source = "en"

// Names are the languages the portal ships, each named in itself (as a
// language switcher shows it).
var Names = map[string]string{
	"en":    "English",
	"de":    "Deutsch",
	"fr":    "Français",
	"es":    "Español",
	"pt-BR": "Português (Brasil)",
}

// Catalog is every language's messages, loaded once at start.
type Catalog struct {
	bundle  *goi18n.Bundle
	langs   []string
	def     string
	matcher language.Matcher
	locs    map[string]*Localizer
	// keys is each language's message IDs, for the completeness check.
	keys map[string][]string
}

// Load reads templates/i18n/<lang>.yaml for each of langs (which must
// include def). English is always loaded, as the fallback.
func Load(fsys fs.FS, langs []string, def string) (*Catalog, error) {
	if !slices.Contains(langs, def) {
		return nil, fmt.Errorf("i18n: default language %q is not among %v", def, langs)
	}
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	c := &Catalog{bundle: b, langs: langs, def: def, locs: map[string]*Localizer{}, keys: map[string][]string{}}
	load := append([]string{Source}, langs...)
	for _, l := range load {
		if _, ok := c.keys[l]; ok {
			continue
		}
		if _, ok := Names[l]; !ok {
			return nil, fmt.Errorf("i18n: no catalog for language %q (have %s)", l, strings.Join(Known(), ", "))
		}
		p := path.Join("i18n", l+".yaml")
		buf, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		mf, err := b.ParseMessageFileBytes(buf, p)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", p, err)
		}
		ids := make([]string, 0, len(mf.Messages))
		for _, m := range mf.Messages {
			ids = append(ids, m.ID)
		}
		sort.Strings(ids)
		c.keys[l] = ids
	}
	tags := make([]language.Tag, 0, len(langs))
	// The default first: the matcher answers it when nothing matches.
	for _, l := range append([]string{def}, langs...) {
		tags = append(tags, language.Make(l))
	}
	c.matcher = language.NewMatcher(tags)
	for _, l := range langs {
		c.locs[l] = &Localizer{lang: l, loc: goi18n.NewLocalizer(b, l, Source), cat: c}
	}
	if _, ok := c.locs[Source]; !ok {
		c.locs[Source] = &Localizer{lang: Source, loc: goi18n.NewLocalizer(b, Source), cat: c}
	}
	return c, nil
}

// Known lists the languages that have a catalog, sorted.
func Known() []string {
	out := make([]string, 0, len(Names))
	for l := range Names {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Languages are the configured languages, in the configured order.
func (c *Catalog) Languages() []string { return c.langs }

// Default is the configured default language.
func (c *Catalog) Default() string { return c.def }

// Keys lists a loaded language's message IDs, sorted.
func (c *Catalog) Keys(lang string) []string { return c.keys[lang] }

// Supported answers whether lang is one of the configured languages,
// exactly as configured (the form a `lang` parameter must take).
func (c *Catalog) Supported(lang string) bool { return slices.Contains(c.langs, lang) }

// Canonical maps a language code as a visitor may write it ("pt-br",
// "DE") to the configured form, or "" when it is not configured.
func (c *Catalog) Canonical(lang string) string {
	for _, l := range c.langs {
		if strings.EqualFold(l, lang) {
			return l
		}
	}
	return ""
}

// Negotiate picks the configured language that best fits an
// Accept-Language header; the default when none fits or the header is
// empty or malformed.
func (c *Catalog) Negotiate(acceptLanguage string) string {
	if acceptLanguage == "" || len(acceptLanguage) > 512 {
		return c.def
	}
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return c.def
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No || i == 0 {
		return c.def
	}
	return c.langs[i-1]
}

// For is the localizer of lang; the default language's for anything not
// configured (an old request's language after the configuration changed).
func (c *Catalog) For(lang string) *Localizer {
	if l, ok := c.locs[lang]; ok {
		return l
	}
	return c.locs[c.def]
}

// Localizer writes messages and dates in one language.
type Localizer struct {
	lang string
	loc  *goi18n.Localizer
	cat  *Catalog
}

// Lang is the localizer's language code (for <html lang> and
// Content-Language).
func (l *Localizer) Lang() string { return l.lang }

// T is the message id, its {{.Name}} placeholders filled from args:
// name-value pairs, or a single map or struct. A key no catalog has
// comes back as the key itself in brackets, which tests look for.
func (l *Localizer) T(id string, args ...any) string {
	return l.localize(id, nil, args)
}

// N is the plural message id for count; count is also {{.Count}}.
func (l *Localizer) N(id string, count int, args ...any) string {
	return l.localize(id, count, args)
}

func (l *Localizer) localize(id string, count any, args []any) string {
	data := templateData(args)
	if count != nil {
		m, ok := data.(map[string]any)
		if !ok || m == nil {
			m = map[string]any{}
		}
		m["Count"] = count
		data = m
	}
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		return "[" + id + "]"
	}
	return s
}

func templateData(args []any) any {
	switch {
	case len(args) == 0:
		return nil
	case len(args) == 1:
		return args[0]
	}
	m := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok {
			m[k] = args[i+1]
		}
	}
	return m
}

// Has answers whether id is in this language's catalog or in English.
func (l *Localizer) Has(id string) bool {
	_, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id})
	return err == nil
}

// Date writes the calendar date of t (already in the zone wanted) the
// way the language writes it: "Monday, 7 December 2026",
// "Montag, 7. Dezember 2026", "lundi 7 décembre 2026".
func (l *Localizer) Date(t time.Time) string {
	return l.T("date.long", "Weekday", l.T(weekdayKeys[t.Weekday()]), "Day", t.Day(),
		"Month", l.T(monthKeys[t.Month()-1]), "Year", t.Year())
}

// DateTime writes a date and a time of day with its zone.
func (l *Localizer) DateTime(t time.Time) string {
	return l.T("date.time", "Date", l.T("date.short", "Day", t.Day(), "Month", l.T(monthKeys[t.Month()-1]), "Year", t.Year()),
		"Time", t.Format("15:04"), "Zone", t.Format("MST"))
}

// ShortDate is a date without its weekday: "7 December 2026".
func (l *Localizer) ShortDate(t time.Time) string {
	return l.T("date.short", "Day", t.Day(), "Month", l.T(monthKeys[t.Month()-1]), "Year", t.Year())
}

var monthKeys = [12]string{"month.january", "month.february", "month.march", "month.april", "month.may", "month.june",
	"month.july", "month.august", "month.september", "month.october", "month.november", "month.december"}

var weekdayKeys = [7]string{"weekday.sunday", "weekday.monday", "weekday.tuesday", "weekday.wednesday",
	"weekday.thursday", "weekday.friday", "weekday.saturday"}

// Period is a legal period ("1 month", "45 days") in the language, with
// its plural form.
func (l *Localizer) Period(months, days int) string {
	if months > 0 {
		return l.N("period.months", months)
	}
	return l.N("period.days", days)
}

// Or is the message id when a catalog has it, else fallback: for the
// words of things an operator configures (a law added in config.yaml
// has no catalog entry, and its configured English name is shown).
func (l *Localizer) Or(id, fallback string, args ...any) string {
	if !l.Has(id) {
		return fallback
	}
	return l.T(id, args...)
}

// Funcs are the template functions of this language, for pages and
// mail (html/template and text/template take the same map):
//
//	{{t "home.h1"}}  {{t "home.lead" "Org" .Org}}
//	{{tn "period.days" 45}}  {{date .Due}}  {{datetime .At}}  {{lang}}
func (l *Localizer) Funcs() map[string]any {
	return map[string]any{
		"t":         l.T,
		"tn":        l.N,
		"date":      l.Date,
		"shortdate": l.ShortDate,
		"datetime":  l.DateTime,
		"lang":      l.Lang,
	}
}
