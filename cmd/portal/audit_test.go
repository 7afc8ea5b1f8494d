package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"rightsportal/internal/apptest"
)

// auditPost posts JSON to the running portal and fails unless it answers
// with want.
func auditPost(t *testing.T, e testEnv, path string, body map[string]any, want int) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://"+e["PORTAL_HTTP_ADDR"]+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
	}
}

// auditVerifyToken waits for the verification mail to addr in the mail
// folder (no SMTP relay is configured) and returns its link's token.
func auditVerifyToken(t *testing.T, e testEnv, addr string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e["PORTAL_MAIL_DIR"], "*.eml"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(raw, []byte(addr)) {
				continue
			}
			m := apptest.ParseMail(t, raw)
			if strings.Contains(m.Subject(), "Please confirm") {
				return apptest.TokenFromLink(t, m.Link(t, "/verify?token="))
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no verification mail to %s in %s", addr, e["PORTAL_MAIL_DIR"])
	return ""
}

// TestAuditVerifyCommand protects `portal audit verify`: on a database
// written by a running portal it reports the chain intact; after one row
// is edited with SQL it fails and names the broken event.
func TestAuditVerifyCommand(t *testing.T) {
	e := newTestEnv(t)
	// No database yet: an error, not "intact" about an empty new file
	// (SQLite; a PostgreSQL database exists before the portal's tables).
	if out, _, err := e.run(t, "", "audit", "verify"); err == nil && e["PORTAL_DATABASE_DRIVER"] == "sqlite" {
		t.Fatalf("missing database reported as %q", out)
	}

	stop := e.serve(t)
	for i, typ := range []string{"access", "erasure", "objection"} {
		body := map[string]any{"type": typ, "email": fmt.Sprintf("subject%d@example.com", i), "full_name": "Test Subject"}
		if typ == "objection" {
			body["details"] = map[string]any{"direct_marketing": true}
		}
		auditPost(t, e, "/api/v1/requests", body, http.StatusAccepted)
	}
	auditPost(t, e, "/api/v1/verify", map[string]any{"token": auditVerifyToken(t, e, "subject0@example.com")}, http.StatusOK)
	stop()

	out, _, err := e.run(t, "", "audit", "verify")
	if err != nil || !strings.Contains(out, "audit chain intact: 4 events") {
		t.Fatalf("intact chain: %v %q", err, out)
	}

	db := e.db(t)
	var id int64
	if err := db.QueryRow("SELECT id FROM audit_events ORDER BY id LIMIT 1 OFFSET 1").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(e.sql("UPDATE audit_events SET to_state = 'completed' WHERE id = ?"), id); err != nil {
		t.Fatal(err)
	}
	out, _, err = e.run(t, "", "audit", "verify")
	if err == nil {
		t.Fatalf("tampered chain verified: %q", out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`\bevent %d\b`, id)).MatchString(out) {
		t.Errorf("output does not name event %d: %q", id, out)
	}
	if strings.Contains(out, "intact") {
		t.Errorf("tampered chain reported intact: %q", out)
	}

	if _, _, err := e.run(t, "", "audit"); err == nil {
		t.Error("`portal audit` without a subcommand succeeded")
	}
}
