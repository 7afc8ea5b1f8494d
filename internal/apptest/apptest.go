// Package apptest builds a whole portal in-process for tests: the
// shipped config.yaml with test paths, a SQLite file in t.TempDir(), the
// real router behind an httptest server, the real job engine, and a real
// SMTP server (smtptest) that receives the mail.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/handlers"
	"rightsportal/i18n"
	"rightsportal/internal/smtptest"
	"rightsportal/jobs"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/observe"
	"rightsportal/packages"
	"rightsportal/service"
	"rightsportal/templates"
)

// Options adjust the app before it starts.
type Options struct {
	// Config changes the configuration after the test defaults are set.
	Config func(*config.Config)
	// NoJobs leaves the job engine stopped (mail stays queued).
	NoJobs bool
	// SMTP configures the test relay.
	SMTP smtptest.Options
	// HTTPClient is what webhook connectors call with (a TLS test
	// server's client); nil: http.DefaultClient.
	HTTPClient *http.Client
}

// App is a running portal.
type App struct {
	T      testing.TB
	Cfg    *config.Config
	Store  *models.Store
	Svc    *service.Service
	Server *httptest.Server
	Jobs   jobs.Client
	// Metrics are the app's Prometheus metrics (GET /metrics with an
	// admin's API token).
	Metrics *observe.Metrics
	Relay   *smtptest.Server
	Clock   *Clock
	Key     []byte
	Logs    *SafeBuffer
	Conns   *connectors.Registry
	Files   packages.Store

	dbMu sync.Mutex
	db   *gorm.DB // DB's connection pool, opened on first use
}

// Clock is the service's clock: real time shifted by an offset a test can
// move forward.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// SafeBuffer is a log sink tests can read while the app writes.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything logged so far.
func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RepoRoot finds the repository (the folder with go.mod).
func RepoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("apptest: no go.mod above the test")
		}
		dir = parent
	}
}

// TestConfig is the shipped config.yaml with everything pointed into dir
// and the timings shortened for tests; rate limits are off.
func TestConfig(t testing.TB, dir string) *config.Config {
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.DSN = filepath.Join(dir, "portal.db")
	if base := os.Getenv("PORTAL_TEST_POSTGRES_DSN"); base != "" {
		cfg.Database.Driver, cfg.Database.DSN = "postgres", FreshPostgres(t, base)
	}
	cfg.Mail.Dir = filepath.Join(dir, "mail")
	cfg.Fulfilment.PackagesDir = filepath.Join(dir, "packages")
	cfg.SecretKeyFile = filepath.Join(dir, "secret.key")
	cfg.Mail.PollInterval = config.Duration(20 * time.Millisecond)
	cfg.Mail.MaxBackoff = config.Duration(100 * time.Millisecond)
	cfg.Mail.SendTimeout = config.Duration(5 * time.Second)
	cfg.Mail.RescueAfter = config.Duration(10 * time.Second)
	cfg.Mail.Inbound.Secret = "test-inbound-secret-0123456789"
	cfg.RateLimit.Enabled = false
	// No systems inventory unless a test configures one: approval then
	// creates no fulfilment tasks, and complete follows approve at once.
	cfg.Systems = nil
	return cfg
}

// New starts a portal for the test and stops it when the test ends.
func New(t testing.TB, o Options) *App {
	t.Helper()
	dir := t.TempDir()
	a := &App{T: t, Clock: &Clock{}, Logs: &SafeBuffer{}}
	a.Relay = smtptest.Start(t, o.SMTP)
	a.Server = httptest.NewUnstartedServer(nil)
	a.Cfg = TestConfig(t, dir)
	a.Cfg.HTTP.BaseURL = "http://" + a.Server.Listener.Addr().String()
	a.Cfg.Mail.SMTP.Host, a.Cfg.Mail.SMTP.Port, a.Cfg.Mail.SMTP.TLS = a.Relay.Host, a.Relay.Port, "none"
	if o.SMTP.StartTLS {
		a.Cfg.Mail.SMTP.TLS = "starttls"
	}
	if o.SMTP.ImplicitTLS {
		a.Cfg.Mail.SMTP.TLS = "tls"
	}
	a.Cfg.Mail.SMTP.Username, a.Cfg.Mail.SMTP.Password = o.SMTP.Username, o.SMTP.Password
	if o.Config != nil {
		o.Config(a.Cfg)
	}
	if err := a.Cfg.Validate(); err != nil {
		t.Fatalf("apptest: config: %v", err)
	}
	log := slog.New(observe.LogHandler(slog.NewTextHandler(a.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	store, err := models.Open(ctx, models.Options{Driver: a.Cfg.Database.Driver, DSN: a.Cfg.Database.DSN, MailMaxAttempts: a.Cfg.Mail.MaxAttempts,
		WebhookMaxAttempts: a.Cfg.Webhooks.MaxAttempts})
	if err != nil {
		t.Fatal(err)
	}
	a.Store = store
	a.Key = bytes.Repeat([]byte{7}, 32)
	cat, err := i18n.Load(templates.FS, a.Cfg.Languages, a.Cfg.DefaultLanguage)
	if err != nil {
		t.Fatal(err)
	}
	composer, err := mailer.NewComposer(templates.FS, a.Cfg.Mail.From, a.Cfg.Mail.ReplyLocal, a.Cfg.Mail.ReplyDomain, a.Key, cat)
	if err != nil {
		t.Fatal(err)
	}
	a.Conns = connectors.NewRegistry(a.Cfg.Systems, o.HTTPClient, a.Clock.Now)
	a.Files = packages.Store{Dir: a.Cfg.Fulfilment.PackagesDir, Key: service.DeriveKey(a.Key, "packages")}
	a.Svc = service.New(store, composer, a.Cfg, a.Clock.Now, log).WithSecrets(a.Key).WithFulfilment(service.Fulfilment{
		Connectors: a.Conns, Files: a.Files})
	a.Metrics = observe.New(store, a.Clock.Now, log)
	h, err := handlers.New(handlers.Deps{Service: a.Svc, Store: store, Config: a.Cfg, Log: log, Now: a.Clock.Now,
		Metrics: a.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	router, err := h.Router()
	if err != nil {
		t.Fatal(err)
	}
	a.Server.Config.Handler = router
	a.Server.Start()
	sender, err := a.sender()
	if err != nil {
		t.Fatal(err)
	}
	a.Jobs, err = jobs.New(jobs.Deps{Store: store, Config: a.Cfg, Key: a.Key, Sender: sender, Log: log, Service: a.Svc,
		Observe: a.Metrics, JobLog: slog.New(slog.NewTextHandler(a.Logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoJobs {
		a.StartJobs()
	}
	t.Cleanup(func() {
		a.Server.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Jobs.Stop(sctx)
		a.Conns.Close()
		store.Close()
	})
	return a
}

func (a *App) sender() (mailer.Sender, error) {
	m := a.Cfg.Mail
	if m.Host() == "" {
		return mailer.FileSender{Dir: m.Dir}, nil
	}
	return mailer.NewSMTPSender(mailer.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, TLS: m.SMTP.TLS,
		Username: m.SMTP.Username, Password: m.SMTP.Password, Timeout: m.SendTimeout.D(),
		RootCAs: a.Relay.RootCAs, HELO: "localhost"})
}

// StartJobs starts the job engine (for tests that began with NoJobs).
func (a *App) StartJobs() {
	if err := a.Jobs.Start(context.Background()); err != nil {
		a.T.Fatal(err)
	}
}

// URL is the absolute URL of path.
func (a *App) URL(path string) string { return a.Server.URL + path }

// Do sends a request and returns the response with its body read.
func (a *App) Do(method, path string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	a.T.Helper()
	req, err := http.NewRequest(method, a.URL(path), body)
	if err != nil {
		a.T.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		a.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// PostJSON posts v (or a raw string) as JSON.
func (a *App) PostJSON(path string, v any, header map[string]string) (*http.Response, map[string]any) {
	a.T.Helper()
	var body []byte
	if s, ok := v.(string); ok {
		body = []byte(s)
	} else {
		body, _ = json.Marshal(v)
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, x := range header {
		h[k] = x
	}
	resp, b := a.Do(http.MethodPost, path, bytes.NewReader(body), h)
	return resp, DecodeJSON(a.T, b)
}

// GetJSON gets path with a bearer token.
func (a *App) GetJSON(path, token string) (*http.Response, map[string]any) {
	a.T.Helper()
	resp, b := a.Do(http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + token})
	return resp, DecodeJSON(a.T, b)
}

// DecodeJSON reads a JSON object, failing the test if it is not one.
func DecodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// Submit files a request through the API and returns its id and
// reference.
func (a *App) Submit(body map[string]any) (id, ref string) {
	a.T.Helper()
	resp, m := a.PostJSON("/api/v1/requests", body, nil)
	if resp.StatusCode != http.StatusAccepted {
		a.T.Fatalf("submit: %d %v", resp.StatusCode, m)
	}
	return m["id"].(string), m["reference"].(string)
}

// StaffToken creates a staff member with that role and returns an API
// token for them.
func (a *App) StaffToken(email, role string) string {
	a.T.Helper()
	ctx := context.Background()
	if _, err := a.Svc.AddStaff(ctx, email, strings.Split(email, "@")[0], role, "correct horse battery staple"); err != nil {
		a.T.Fatal(err)
	}
	tok, err := a.Svc.CreateAPIToken(ctx, email)
	if err != nil {
		a.T.Fatal(err)
	}
	return tok
}
