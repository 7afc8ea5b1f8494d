package main

import (
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"testing"

	"rightsportal/internal/smtptest"
)

// TestServeInboundTLS: the inbound listener serve starts takes its
// certificate and require_tls from the environment: it offers STARTTLS
// with that certificate and SMTPUTF8, and refuses MAIL in clear.
func TestServeInboundTLS(t *testing.T) {
	e := newTestEnv(t)
	cert, key, pool := smtptest.CertFiles(t, t.TempDir())
	addr := "127.0.0.1:" + freePort(t)
	e["PORTAL_MAIL_INBOUND_ADDR"], e["PORTAL_MAIL_INBOUND_REQUIRE_TLS"] = addr, "true"
	e["PORTAL_MAIL_INBOUND_TLS_CERT"], e["PORTAL_MAIL_INBOUND_TLS_KEY"] = cert, key
	stop := e.serve(t)
	defer stop()

	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ext := range []string{"STARTTLS", "SMTPUTF8"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("EHLO does not offer %s", ext)
		}
	}
	var te *textproto.Error
	if err := c.Mail("jane@example.com"); !errors.As(err, &te) || te.Code != 530 {
		t.Fatalf("MAIL in clear: %v, want 530", err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS with the configured certificate: %v", err)
	}
	if err := c.Mail("jane@example.com"); err != nil {
		t.Fatalf("MAIL over TLS: %v", err)
	}
	c.Quit()
}
