package jobs_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/jobs"
)

// relayConfig is the repository's config.yaml pointed at relay over
// STARTTLS, as an operator would set it; extra adds variables.
func relayConfig(t *testing.T, relay *smtptest.Server, extra map[string]string) *config.Config {
	t.Helper()
	env := map[string]string{"PORTAL_MAIL_SMTP_HOST": relay.Host, "PORTAL_MAIL_SMTP_PORT": strconv.Itoa(relay.Port),
		"PORTAL_MAIL_SMTP_TLS": "starttls"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(filepath.Join(apptest.RepoRoot(t), "config.yaml"), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sendThrough sends one message with the sender the configuration asks
// for, as the workers do.
func sendThrough(t *testing.T, cfg *config.Config) error {
	t.Helper()
	s, err := jobs.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	msg := gomail.NewMsg()
	if err := msg.From("privacy@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("jane@example.com"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("Please confirm your access request")
	msg.SetBodyString(gomail.TypeTextPlain, "Hello Jane\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Send(ctx, msg)
}

// caFile writes the relay's CA as a PEM file.
func caFile(t *testing.T, relay *smtptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay-ca.pem")
	if err := os.WriteFile(path, relay.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRelayCAFile: a relay whose certificate a private CA signed is
// refused with a certificate error until mail.smtp.ca_file names that
// CA; then mail goes out with the certificate fully checked, its name
// included.
func TestRelayCAFile(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{StartTLS: true})
	err := sendThrough(t, relayConfig(t, relay, nil))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("without ca_file: %v, want an unknown-authority certificate error", err)
	}
	if n := len(relay.Messages()); n != 0 {
		t.Fatalf("relay took %d messages from a sender that could not check it", n)
	}
	if err := sendThrough(t, relayConfig(t, relay, map[string]string{"PORTAL_MAIL_SMTP_CA_FILE": caFile(t, relay)})); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	if n := len(relay.Messages()); n != 1 {
		t.Fatalf("relay holds %d messages, want 1", n)
	}

	// Trusting the CA is not trusting any name: a certificate it signed
	// for another host is still refused.
	other := smtptest.Start(t, smtptest.Options{StartTLS: true, CertHosts: []string{"mail.example.net"}})
	err = sendThrough(t, relayConfig(t, other, map[string]string{"PORTAL_MAIL_SMTP_CA_FILE": caFile(t, other)}))
	var wrongName x509.HostnameError
	if !errors.As(err, &wrongName) {
		t.Fatalf("certificate for another name: %v, want a host name error", err)
	}
	if n := len(other.Messages()); n != 0 {
		t.Errorf("relay with the wrong name took %d messages", n)
	}
}

// TestInsecureSkipVerifyWarns: with insecure_skip_verify on, start-up
// logs a warning, once; without it, none.
func TestInsecureSkipVerifyWarns(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	for _, insecure := range []bool{false, true} {
		cfg := *a.Cfg
		cfg.Mail.SMTP.InsecureSkipVerify = insecure
		logs := &apptest.SafeBuffer{}
		if _, err := jobs.New(jobs.Deps{Store: a.Store, Config: &cfg, Key: a.Key, Log: slog.New(slog.NewTextHandler(logs, nil))}); err != nil {
			t.Fatal(err)
		}
		n := strings.Count(logs.String(), "level=WARN msg=\"mail.smtp.insecure_skip_verify is on")
		if want := map[bool]int{false: 0, true: 1}[insecure]; n != want {
			t.Errorf("insecure_skip_verify %v: %d warnings, want %d\n%s", insecure, n, want, logs.String())
		}
	}
}
