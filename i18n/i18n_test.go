package i18n_test

import (
	"testing"
	"time"

	"rightsportal/i18n"
	"rightsportal/templates"
)

func load(t *testing.T) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.Load(templates.FS, []string{"en", "de", "fr", "es", "pt-BR"}, "en")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestDatesPerLanguage: each language writes a date its own way.
func TestDatesPerLanguage(t *testing.T) {
	cat := load(t)
	d := time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC)
	first := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for lang, want := range map[string][2]string{
		"en":    {"Monday, 7 December 2026", "1 March 2027"},
		"de":    {"Montag, 7. Dezember 2026", "1. März 2027"},
		"fr":    {"lundi 7 décembre 2026", "1er mars 2027"},
		"es":    {"lunes, 7 de diciembre de 2026", "1 de marzo de 2027"},
		"pt-BR": {"segunda-feira, 7 de dezembro de 2026", "1 de março de 2027"},
	} {
		l := cat.For(lang)
		if got := l.Date(d); got != want[0] {
			t.Errorf("%s: Date = %q, want %q", lang, got, want[0])
		}
		if got := l.ShortDate(first); got != want[1] {
			t.Errorf("%s: ShortDate = %q, want %q", lang, got, want[1])
		}
	}
}

// TestPluralForms: periods take each language's plural form.
func TestPluralForms(t *testing.T) {
	cat := load(t)
	for _, c := range []struct {
		lang         string
		months, days int
		want         string
	}{
		{"en", 1, 0, "1 month"}, {"en", 2, 0, "2 months"}, {"en", 0, 1, "1 day"}, {"en", 0, 45, "45 days"},
		{"de", 1, 0, "1 Monat"}, {"de", 3, 0, "3 Monate"}, {"de", 0, 15, "15 Tage"},
		{"fr", 2, 0, "2 mois"}, {"fr", 0, 1, "1 jour"}, {"fr", 0, 45, "45 jours"},
		{"es", 1, 0, "1 mes"}, {"es", 2, 0, "2 meses"}, {"es", 0, 45, "45 días"},
		{"pt-BR", 1, 0, "1 mês"}, {"pt-BR", 2, 0, "2 meses"}, {"pt-BR", 0, 15, "15 dias"},
	} {
		if got := cat.For(c.lang).Period(c.months, c.days); got != c.want {
			t.Errorf("%s %d months %d days = %q, want %q", c.lang, c.months, c.days, got, c.want)
		}
	}
}

// TestNegotiate: Accept-Language picks the best configured language;
// anything else, or nothing, gets the default.
func TestNegotiate(t *testing.T) {
	cat := load(t)
	for header, want := range map[string]string{
		"":                                "en",
		"de-DE,de;q=0.9,en;q=0.8":         "de",
		"fr-CA":                           "fr",
		"pt":                              "pt-BR",
		"pt-PT,pt;q=0.9":                  "pt-BR",
		"es-419":                          "es",
		"ja,zh;q=0.5":                     "en",
		"it;q=0.9, fr;q=0.8":              "fr",
		"*":                               "en",
		"de;q=0.1, es;q=0.9":              "es",
		"this is not a header;q=nonsense": "en",
	} {
		if got := cat.Negotiate(header); got != want {
			t.Errorf("Negotiate(%q) = %q, want %q", header, got, want)
		}
	}
	if got := cat.Canonical("PT-br"); got != "pt-BR" {
		t.Errorf("Canonical(PT-br) = %q", got)
	}
	if got := cat.Canonical("it"); got != "" {
		t.Errorf("Canonical(it) = %q, want none", got)
	}
}

// TestFallbackToEnglish: a key a language lacks is English, a key no
// catalog has is shown bracketed (and caught by the catalog tests).
func TestFallbackToEnglish(t *testing.T) {
	cat, err := i18n.Load(templates.FS, []string{"en", "de"}, "de")
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.For("xx").Lang(); got != "de" {
		t.Errorf("an unconfigured language gets %q, want the default de", got)
	}
	if got := cat.For("de").T("no.such.key"); got != "[no.such.key]" {
		t.Errorf("missing key = %q", got)
	}
	if _, err := i18n.Load(templates.FS, []string{"en"}, "de"); err == nil {
		t.Error("a default outside the languages was accepted")
	}
	if _, err := i18n.Load(templates.FS, []string{"en", "it"}, "en"); err == nil {
		t.Error("a language without a catalog was accepted")
	}
}

// TestEveryCatalogIsComplete: each language has every key English has,
// and none English lacks (a stray key is a typo that never shows).
func TestEveryCatalogIsComplete(t *testing.T) {
	cat := load(t)
	en := map[string]bool{}
	for _, k := range cat.Keys("en") {
		en[k] = true
	}
	for _, lang := range []string{"de", "fr", "es", "pt-BR"} {
		have := map[string]bool{}
		for _, k := range cat.Keys(lang) {
			have[k] = true
			if !en[k] {
				t.Errorf("%s has %q, which English lacks", lang, k)
			}
		}
		for k := range en {
			if !have[k] {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
	}
}
