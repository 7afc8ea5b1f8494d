package service_test

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed is the layering rule: each package may import only these of
// ours (cmd may import anything; internal/ test helpers are exempt).
var allowed = map[string][]string{
	"rightsportal/templates":  {},
	"rightsportal/workflow":   {},
	"rightsportal/i18n":       {},
	"rightsportal/config":     {"i18n", "workflow"},
	"rightsportal/models":     {"workflow"},
	"rightsportal/ratelimit":  {},
	"rightsportal/mailer":     {"i18n", "models", "ratelimit", "workflow"},
	"rightsportal/connectors": {"config", "workflow"},
	"rightsportal/packages":   {"templates"},
	"rightsportal/service":    {"config", "connectors", "i18n", "mailer", "models", "packages", "workflow"},
	"rightsportal/jobs":       {"config", "mailer", "models", "service", "workflow"},
	"rightsportal/observe":    {"models", "workflow"},
	"rightsportal/handlers":   {"config", "i18n", "mailer", "models", "observe", "ratelimit", "service", "templates", "workflow"},
}

// TestLayering keeps dependencies flowing one way (STYLE.md §1) and
// workflow pure: no web, database or mail library below it.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "rightsportal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		ok, ruled := allowed[pkg]
		if !ruled {
			if !strings.HasPrefix(pkg, "rightsportal/cmd/") && !strings.HasPrefix(pkg, "rightsportal/internal/") && !strings.HasPrefix(pkg, "rightsportal/examples/") && !strings.HasPrefix(pkg, "rightsportal/e2e") {
				t.Errorf("%s has no layering rule: add it to allowed", pkg)
			}
			continue
		}
		for _, imp := range imports {
			name, ours := strings.CutPrefix(imp, "rightsportal/")
			if ours && !contains(ok, name) {
				t.Errorf("%s must not import %s", pkg, imp)
			}
		}
	}
	deps, err := exec.Command("go", "list", "-deps", "rightsportal/workflow").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"net/http", "gorm.io/gorm", "github.com/gin-gonic/gin", "github.com/wneessen/go-mail", "database/sql"} {
		for _, d := range strings.Fields(string(deps)) {
			if d == banned {
				t.Errorf("workflow depends on %s; it must stay pure", banned)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
