package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/apptest"
)

// testEnv is a process environment for run: the repository's config.yaml
// with every path in a temporary folder and a free HTTP port.
type testEnv map[string]string

// With PORTAL_TEST_POSTGRES_DSN set (.ci/run's second pass) the database
// is a fresh PostgreSQL one instead, so the commands, the crash and the
// burst tests run on both.
func newTestEnv(t *testing.T) testEnv {
	dir := t.TempDir()
	e := testEnv{
		"PORTAL_CONFIG":            filepath.Join(apptest.RepoRoot(t), "config.yaml"),
		"PORTAL_DATABASE_DRIVER":   "sqlite",
		"PORTAL_DATABASE_DSN":      filepath.Join(dir, "portal.db"),
		"PORTAL_MAIL_DIR":          filepath.Join(dir, "mail"),
		"PORTAL_SECRET_KEY_FILE":   filepath.Join(dir, "secret.key"),
		"PORTAL_HTTP_ADDR":         "127.0.0.1:" + freePort(t),
		"PORTAL_RATELIMIT_ENABLED": "false",
	}
	if base := os.Getenv("PORTAL_TEST_POSTGRES_DSN"); base != "" {
		e["PORTAL_DATABASE_DRIVER"], e["PORTAL_DATABASE_DSN"] = "postgres", apptest.FreshPostgres(t, base)
	}
	return e
}

// db opens the environment's database for a test to read or tamper with;
// write queries with ? placeholders and pass them through e.sql.
func (e testEnv) db(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite3", "file:"+e["PORTAL_DATABASE_DSN"]+"?_busy_timeout=10000"
	if e["PORTAL_DATABASE_DRIVER"] == "postgres" {
		driver, dsn = "pgx", e["PORTAL_DATABASE_DSN"]
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sql numbers the ? placeholders of query ($1, $2, …) on PostgreSQL.
func (e testEnv) sql(query string) string {
	if e["PORTAL_DATABASE_DRIVER"] != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (e testEnv) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func (e testEnv) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, e.lookup, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// TestStaffAndTokenCommands: the CLI of SPEC §6 creates a staff account
// (password from standard input or generated), prints an API token and
// nothing else, and that token opens the staff API of a running portal.
func TestStaffAndTokenCommands(t *testing.T) {
	e := newTestEnv(t)
	out, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "Ada@Example.org", "--name", "Ada Lovelace", "--role", "admin")
	if err != nil || !strings.Contains(out, "ada@example.org") || strings.Contains(out, "password:") {
		t.Fatalf("staff add: %v\n%s", err, out)
	}
	out, _, err = e.run(t, "", "staff", "add", "--email", "bob@example.org", "--name", "Bob", "--role", "reviewer")
	if err != nil || !regexp.MustCompile(`password: \S{20,}`).MatchString(out) {
		t.Fatalf("staff add with empty stdin should generate a password: %v\n%s", err, out)
	}
	if _, _, err := e.run(t, "password123\n", "staff", "add", "--email", "c@example.org", "--name", "C", "--role", "reviewer"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("weak password accepted: %v", err)
	}
	if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "d@example.org", "--name", "D", "--role", "owner"); err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("bad role accepted: %v", err)
	}
	if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "ada@example.org", "--name", "Ada", "--role", "admin"); err == nil {
		t.Fatal("duplicate staff accepted")
	}

	out, _, err = e.run(t, "", "token", "create", "--email", "ada@example.org")
	if err != nil || !regexp.MustCompile(`\Arp_[a-z2-7]{32}\n\z`).MatchString(out) {
		t.Fatalf("token create must print the token and nothing else: %v %q", err, out)
	}
	token := strings.TrimSpace(out)
	if _, _, err := e.run(t, "", "token", "create", "--email", "nobody@example.org"); err == nil {
		t.Fatal("token for unknown staff")
	}

	stop := e.serve(t)
	defer stop()
	req, _ := http.NewRequest("GET", "http://"+e["PORTAL_HTTP_ADDR"]+"/api/v1/requests", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("staff API with the CLI's token: %v %v", err, resp)
	}
	resp.Body.Close()
}

// serve runs the portal in-process until the returned stop is called,
// which must make run return without error (graceful shutdown).
func (e testEnv) serve(t *testing.T) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- run(ctx, nil, e.lookup, strings.NewReader(""), &bytes.Buffer{}, &logs) }()
	waitReady(t, "http://"+e["PORTAL_HTTP_ADDR"], done)
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not shut down")
		}
	}
}

func waitReady(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("portal exited early: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("portal never became ready")
}

// TestBadConfigNamesTheKey: a wrong setting stops start-up with a message
// that names the key and says why.
func TestBadConfigNamesTheKey(t *testing.T) {
	for name, c := range map[string]struct{ k, v, want string }{
		"tls":    {"PORTAL_MAIL_SMTP_TLS", "ssl", "mail.smtp.tls"},
		"driver": {"PORTAL_DATABASE_DRIVER", "mysql", "database.driver"},
		"url":    {"PORTAL_BASE_URL", "example.org", "http.base_url"},
		"port":   {"PORTAL_MAIL_SMTP_PORT", "smtp", "PORTAL_MAIL_SMTP_PORT"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t)
			e[c.k] = c.v
			_, _, err := e.run(t, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error naming %s, got %v", c.want, err)
			}
		})
	}
	e := newTestEnv(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("organisation:\n  nmae: x\n"), 0o600)
	_, _, err := e.run(t, "", "-config", bad)
	if err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("unknown key not named: %v", err)
	}
}

// TestUnknownCommand: a typo is an error, not a silent serve.
func TestUnknownCommand(t *testing.T) {
	e := newTestEnv(t)
	_, stderr, err := e.run(t, "", "srve")
	if err == nil || !strings.Contains(stderr, "usage") {
		t.Fatalf("want usage and an error, got %v %q", err, stderr)
	}
	out, _, err := e.run(t, "", "help")
	if err != nil || !strings.Contains(out, "token create") {
		t.Fatalf("help: %v %q", err, out)
	}
}

// TestInspectingCommandsNeedADatabase: a mistyped database path makes
// `audit verify`, `purge` and `token create` fail instead of reporting on
// a new empty database.
func TestInspectingCommandsNeedADatabase(t *testing.T) {
	e := newTestEnv(t)
	e["PORTAL_DATABASE_DRIVER"], e["PORTAL_DATABASE_DSN"] = "sqlite", filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{{"audit", "verify"}, {"purge", "--dry-run"}, {"token", "create", "--email", "a@example.org"}} {
		if _, _, err := e.run(t, "", args...); err == nil || !strings.Contains(err.Error(), "typo.db") {
			t.Errorf("%v on a missing database: %v", args, err)
		}
	}
	if _, err := os.Stat(e["PORTAL_DATABASE_DSN"]); err == nil {
		t.Fatal("a database file was created")
	}
}

// TestServeWithoutWorkers: `serve -workers=false` takes requests and
// queues their mail without sending it; a normal start sends it.
func TestServeWithoutWorkers(t *testing.T) {
	e := newTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-workers=false"}, e.lookup, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	waitReady(t, "http://"+e["PORTAL_HTTP_ADDR"], done)
	resp, err := http.Post("http://"+e["PORTAL_HTTP_ADDR"]+"/api/v1/requests", "application/json",
		strings.NewReader(`{"type":"access","email":"w@example.com","full_name":"W"}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %v %v", err, resp)
	}
	time.Sleep(1500 * time.Millisecond)
	if files, _ := filepath.Glob(filepath.Join(e["PORTAL_MAIL_DIR"], "*.eml")); len(files) != 0 {
		t.Fatalf("a web-only instance sent mail: %v", files)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stop := e.serve(t)
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if files, _ := filepath.Glob(filepath.Join(e["PORTAL_MAIL_DIR"], "*.eml")); len(files) == 1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the queued mail was not sent after a start with workers")
}

// TestMetricsListener: PORTAL_METRICS_ADDR serves /metrics without a
// token on a listener of its own, while the main listener's /metrics
// still wants an admin's token; PORTAL_LOG_LEVEL=debug logs each request
// with its request ID.
func TestMetricsListener(t *testing.T) {
	e := newTestEnv(t)
	e["PORTAL_METRICS_ADDR"] = "127.0.0.1:" + freePort(t)
	e["PORTAL_LOG_LEVEL"] = "debug"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &apptest.SafeBuffer{}
	go func() { done <- run(ctx, nil, e.lookup, strings.NewReader(""), &bytes.Buffer{}, logs) }()
	base := "http://" + e["PORTAL_HTTP_ADDR"]
	waitReady(t, base, done)
	resp, err := http.Get(base + "/request")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-ID")
	resp, err = http.Get("http://" + e["PORTAL_METRICS_ADDR"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `portal_http_requests_total{method="GET",route="/request",status="200"} 1`) ||
		!strings.Contains(string(body), `portal_requests{status="unverified"} 0`) {
		t.Fatalf("metrics listener: %d\n%s", resp.StatusCode, body)
	}
	if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("main listener's /metrics without a token: %v %v", err, resp)
	}
	// No profiler unless serve -pprof asks for one.
	if resp, err := http.Get("http://" + e["PORTAL_METRICS_ADDR"] + "/debug/pprof/heap"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("pprof on the metrics listener without -pprof: %v %v, want 404", err, resp)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if id == "" || !strings.Contains(logs.String(), "route=/request status=200") || !strings.Contains(logs.String(), "request_id="+id) {
		t.Fatalf("no debug line for the request with request_id=%s:\n%s", id, logs.String())
	}

	e["PORTAL_LOG_LEVEL"] = "loud"
	if _, _, err := e.run(t, ""); err == nil || !strings.Contains(err.Error(), "log_level") {
		t.Fatalf("a bad log level: %v", err)
	}
	e["PORTAL_LOG_LEVEL"] = "info"
	e["PORTAL_METRICS_ADDR"] = "nowhere"
	if _, _, err := e.run(t, ""); err == nil || !strings.Contains(err.Error(), "http.metrics_addr") {
		t.Fatalf("a bad metrics address: %v", err)
	}
}

// TestPprofOnlyWhenAsked: serve -pprof puts Go's profiler on the private
// metrics listener and never on the main one; -pprof without a metrics
// listener, and -profile-waits without -pprof, refuse to start.
func TestPprofOnlyWhenAsked(t *testing.T) {
	e := newTestEnv(t)
	if err := run(context.Background(), []string{"serve", "-pprof"}, e.lookup, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "metrics") {
		t.Fatalf("-pprof without a metrics listener: %v", err)
	}
	// The refusal must leave the main address free for the next start.
	if ln, err := net.Listen("tcp", e["PORTAL_HTTP_ADDR"]); err != nil {
		t.Fatalf("a refused start left its port bound: %v", err)
	} else {
		ln.Close()
	}
	if err := run(context.Background(), []string{"serve", "-profile-waits"}, e.lookup, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "-pprof") {
		t.Fatalf("-profile-waits without -pprof: %v", err)
	}
	e["PORTAL_METRICS_ADDR"] = "127.0.0.1:" + freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &apptest.SafeBuffer{}
	go func() {
		done <- run(ctx, []string{"serve", "-pprof", "-workers=false"}, e.lookup, strings.NewReader(""), &bytes.Buffer{}, logs)
	}()
	base := "http://" + e["PORTAL_HTTP_ADDR"]
	waitReady(t, base, done)
	resp, err := http.Get("http://" + e["PORTAL_METRICS_ADDR"] + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("pprof on the metrics listener: %d\n%.300s", resp.StatusCode, body)
	}
	if resp, err := http.Get(base + "/debug/pprof/heap"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("pprof on the main listener: %v %v, want 404", err, resp)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "keep that address private") {
		t.Fatalf("no warning that the profiler is on:\n%s", logs.String())
	}
}
