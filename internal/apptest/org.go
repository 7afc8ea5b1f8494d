package apptest

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the organisation's own database

	"rightsportal/config"
)

// OrgFixture creates the sample organisation's database (a newsletter
// list and a small shop, examples/mkorg/organisation.sql) in dir and returns
// its path, the DSN its sql systems use.
func OrgFixture(t testing.TB, dir string) (dsn string) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join(RepoRoot(t), "examples", "mkorg", "organisation.sql"))
	if err != nil {
		t.Fatal(err)
	}
	dsn = filepath.Join(dir, "org.db")
	db, err := sql.Open("sqlite3", "file:"+dsn+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(schema)); err != nil {
		t.Fatalf("apptest: organisation.sql: %v", err)
	}
	return dsn
}

// OrgDB opens the organisation's database beside the portal, so a test
// can see what the connectors changed.
func OrgDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dsn+"?_busy_timeout=10000&_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OrgSystems is the systems inventory of examples/organisation.yaml
// (newsletter and shop over sql, the support desk over a webhook, backups
// by hand) with the sql systems pointed at dsn and the webhook at
// webhookURL; its secret stays the one the example names.
func OrgSystems(t testing.TB, dsn, webhookURL string) []config.System {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "examples", "organisation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("apptest: organisation.yaml: %v", err)
	}
	systems := cfg.Systems
	for i := range systems {
		c := &systems[i].Connector
		switch c.Kind {
		case config.ConnectorSQL:
			c.DSN = dsn
		case config.ConnectorWebhook:
			wh := *c.Webhook
			wh.URL = webhookURL
			c.Webhook = &wh
		}
	}
	return systems
}
