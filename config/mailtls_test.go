package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rightsportal/config"
	"rightsportal/internal/smtptest"
)

// TestMailTLSRefusedAtStart: a half-configured or unloadable TLS setting
// of the inbound listener or the relay stops the start with a message
// that names the key, instead of failing at the first handshake.
func TestMailTLSRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := smtptest.CertFiles(t, dir)
	otherCert, _, _ := smtptest.CertFiles(t, t.TempDir())
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("this is no certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"cert alone": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_CERT": cert},
			[]string{"mail.inbound.tls_key", "PORTAL_MAIL_INBOUND_TLS_KEY"}},
		"key alone": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_KEY": key},
			[]string{"mail.inbound.tls_cert", "PORTAL_MAIL_INBOUND_TLS_CERT"}},
		"cert unreadable": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_CERT": missing, "PORTAL_MAIL_INBOUND_TLS_KEY": key},
			[]string{"mail.inbound.tls_cert", missing}},
		"key unreadable": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_CERT": cert, "PORTAL_MAIL_INBOUND_TLS_KEY": missing},
			[]string{"mail.inbound.tls_key", missing}},
		"not a pair": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_CERT": otherCert, "PORTAL_MAIL_INBOUND_TLS_KEY": key},
			[]string{"mail.inbound.tls_cert", "private key"}},
		"not PEM": {map[string]string{"PORTAL_MAIL_INBOUND_TLS_CERT": notPEM, "PORTAL_MAIL_INBOUND_TLS_KEY": key},
			[]string{"mail.inbound.tls_cert", notPEM}},
		"require_tls without a certificate": {map[string]string{"PORTAL_MAIL_INBOUND_REQUIRE_TLS": "true"},
			[]string{"mail.inbound.require_tls", "tls_cert"}},
		"require_tls not a bool": {map[string]string{"PORTAL_MAIL_INBOUND_REQUIRE_TLS": "always"},
			[]string{"PORTAL_MAIL_INBOUND_REQUIRE_TLS", "always"}},
		"ca_file unreadable": {map[string]string{"PORTAL_MAIL_SMTP_CA_FILE": missing},
			[]string{"mail.smtp.ca_file", "PORTAL_MAIL_SMTP_CA_FILE", missing}},
		"ca_file without certificates": {map[string]string{"PORTAL_MAIL_SMTP_CA_FILE": notPEM},
			[]string{"mail.smtp.ca_file", "no PEM certificate"}},
		"ca_file holding only a key": {map[string]string{"PORTAL_MAIL_SMTP_CA_FILE": key},
			[]string{"mail.smtp.ca_file", "no PEM certificate"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, minimal), envOf(c.env))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	doc := withMail(t, "  smtp:\n    insecure_skip_verify: true\n    ca_file: \""+cert+"\"\n")
	if _, err := config.Load(writeConfig(t, doc), nil); err == nil || !strings.Contains(err.Error(), "mail.smtp.insecure_skip_verify") {
		t.Errorf("ca_file with insecure_skip_verify: %v, want an error naming insecure_skip_verify", err)
	}
}

// TestMailTLSKeys: the file's keys and their variables set the TLS
// settings, and a CA file becomes the relay's roots.
func TestMailTLSKeys(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := smtptest.CertFiles(t, dir)
	doc := withMail(t, "  inbound:\n    tls_cert: \""+cert+"\"\n    tls_key: \""+key+"\"\n    require_tls: true\n")
	cfg, err := config.Load(writeConfig(t, doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if in := cfg.Mail.Inbound; in.TLSCert != cert || in.TLSKey != key || !in.RequireTLS {
		t.Errorf("inbound %+v", in)
	}
	if cfg.Mail.SMTP.RootCAs() != nil {
		t.Error("relay roots set without a ca_file: want nil, the system's")
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, smtptest.Start(t, smtptest.Options{}).CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(writeConfig(t, doc), envOf(map[string]string{"PORTAL_MAIL_INBOUND_REQUIRE_TLS": "false",
		"PORTAL_MAIL_SMTP_CA_FILE": ca}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mail.Inbound.RequireTLS || cfg.Mail.SMTP.CAFile != ca || cfg.Mail.SMTP.RootCAs() == nil {
		t.Errorf("after the variables: require_tls %v, ca_file %q, roots %v",
			cfg.Mail.Inbound.RequireTLS, cfg.Mail.SMTP.CAFile, cfg.Mail.SMTP.RootCAs())
	}
}

// withMail adds lines to the mail block of minimal.
func withMail(t *testing.T, lines string) string {
	from := "  from: \"Privacy <privacy@example.org>\"\n"
	return edit(t, from, from+lines)
}
