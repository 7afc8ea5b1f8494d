package i18n_test

import (
	"io/fs"
	"regexp"
	"testing"

	"rightsportal/templates"
)

// keyUseRE finds a template's use of a message: {{t "key" ...}},
// (t "key"), {{tn "key" n}}, with or without the trim marker.
var keyUseRE = regexp.MustCompile(`(?:\{\{-?\s*|\(\s*)tn?\s+"([^"]+)"`)

// TestTemplatesUseKnownKeys: every key a page or a mail asks for is in
// the English catalog, from which every other language falls back.
func TestTemplatesUseKnownKeys(t *testing.T) {
	cat := load(t)
	en := map[string]bool{}
	for _, k := range cat.Keys("en") {
		en[k] = true
	}
	var files []string
	for _, glob := range []string{"pages/*.html", "mail/*.*"} {
		m, err := fs.Glob(templates.FS, glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	used := 0
	for _, f := range files {
		b, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyUseRE.FindAllStringSubmatch(string(b), -1) {
			used++
			if !en[m[1]] {
				t.Errorf("%s uses %q, which en.yaml lacks", f, m[1])
			}
		}
	}
	if used < 100 {
		t.Errorf("only %d message uses found in the templates: is the pattern still right?", used)
	}
}
