package config

import (
	"slices"
	"strings"

	"rightsportal/i18n"
)

// defaultLanguages offers every language the portal ships, English
// first.
func defaultLanguages() []string { return []string{"en", "de", "fr", "es", "pt-BR"} }

// checkLanguages: every configured language has a catalog, none twice,
// and the default is among them.
func (c *Config) checkLanguages(v *checker) {
	if len(c.Languages) == 0 {
		v.bad("languages", "must name at least one language (known: %s)", strings.Join(i18n.Known(), ", "))
		return
	}
	seen := map[string]bool{}
	for _, l := range c.Languages {
		if _, ok := i18n.Names[l]; !ok {
			v.bad("languages", "%q has no catalog (known: %s)", l, strings.Join(i18n.Known(), ", "))
		}
		if seen[l] {
			v.bad("languages", "%q is listed twice", l)
		}
		seen[l] = true
	}
	if !slices.Contains(c.Languages, c.DefaultLanguage) {
		v.bad("default_language (PORTAL_DEFAULT_LANGUAGE)", "%q is not among languages %v", c.DefaultLanguage, c.Languages)
	}
}
