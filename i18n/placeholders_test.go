package i18n_test

import (
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"rightsportal/templates"
)

// pluralForms are the CLDR plural categories a go-i18n message may have.
var pluralForms = map[string]bool{"zero": true, "one": true, "two": true, "few": true, "many": true, "other": true}

// actionRE finds a template action; fieldRE a data field in it
// ({{.Org}}, but also {{if eq .Day 1}}).
var (
	actionRE = regexp.MustCompile(`\{\{-?(.*?)-?\}\}`)
	fieldRE  = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)`)
)

// catalogMessage is one message of a catalog: its text, or its plural
// forms' texts.
type catalogMessage struct {
	plural bool
	texts  []string
}

// readCatalog flattens templates/i18n/<lang>.yaml into key → message.
// A map whose keys are all plural categories is one plural message.
func readCatalog(t *testing.T, lang string) map[string]catalogMessage {
	t.Helper()
	buf, err := fs.ReadFile(templates.FS, "i18n/"+lang+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(buf, &root); err != nil {
		t.Fatalf("%s: %v", lang, err)
	}
	out := map[string]catalogMessage{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case string:
			out[prefix] = catalogMessage{texts: []string{v}}
		case map[string]any:
			plural := len(v) > 0
			for k := range v {
				if !pluralForms[k] {
					plural = false
				}
			}
			if plural {
				m := catalogMessage{plural: true}
				for _, s := range v {
					str, ok := s.(string)
					if !ok {
						t.Errorf("%s: %s: a plural form is not a string", lang, prefix)
						continue
					}
					m.texts = append(m.texts, str)
				}
				out[prefix] = m
				return
			}
			for k, sub := range v {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, sub)
			}
		default:
			t.Errorf("%s: %s: unexpected value %T", lang, prefix, v)
		}
	}
	walk("", root)
	return out
}

// placeholders is the set of data fields a message uses; for a plural
// message the union over its forms, without .Count (which picks the
// form and which a form may leave unsaid).
func placeholders(m catalogMessage) map[string]bool {
	set := map[string]bool{}
	for _, s := range m.texts {
		for _, a := range actionRE.FindAllStringSubmatch(s, -1) {
			for _, f := range fieldRE.FindAllStringSubmatch(a[1], -1) {
				set[f[1]] = true
			}
		}
	}
	if m.plural {
		delete(set, "Count")
	}
	return set
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestTranslationsKeepPlaceholders: every translation uses exactly the
// placeholders its English message uses. A lost {{.Reference}} drops
// the reference from a mail; an extra one names a field the caller
// never passes, which renders as "<no value>".
func TestTranslationsKeepPlaceholders(t *testing.T) {
	en := readCatalog(t, "en")
	for _, lang := range []string{"de", "fr", "es", "pt-BR"} {
		tr := readCatalog(t, lang)
		keys := make([]string, 0, len(en))
		for k := range en {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m, ok := tr[k]
			if !ok {
				continue // TestEveryCatalogIsComplete reports it
			}
			if m.plural != en[k].plural {
				t.Errorf("%s %s: plural in one catalog, not in the other", lang, k)
				continue
			}
			want, have := placeholders(en[k]), placeholders(m)
			var missing, extra []string
			for _, p := range sortedKeys(want) {
				if !have[p] {
					missing = append(missing, "{{."+p+"}}")
				}
			}
			for _, p := range sortedKeys(have) {
				if !want[p] {
					extra = append(extra, "{{."+p+"}}")
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s %s lacks %s", lang, k, strings.Join(missing, ", "))
			}
			if len(extra) > 0 {
				t.Errorf("%s %s adds %s, which English lacks", lang, k, strings.Join(extra, ", "))
			}
		}
	}
}
