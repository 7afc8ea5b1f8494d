package mailer_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"rightsportal/internal/smtptest"
	"rightsportal/mailer"
)

// startTLSListener runs the listener with STARTTLS from a certificate
// of a test CA; pool trusts that CA.
func startTLSListener(t *testing.T, cfg mailer.ListenerConfig) (string, *replies, *x509.CertPool) {
	t.Helper()
	cert, key, pool := smtptest.CertFiles(t, t.TempDir())
	tc, err := mailer.ListenerTLS(cert, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS, cfg.MaxBytes = tc, 1<<20
	addr, rec := startListenerWith(t, cfg)
	return addr, rec, pool
}

// dial opens an SMTP session with the listener and says EHLO.
func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mx.example.com"); err != nil {
		t.Fatal(err)
	}
	return c
}

// sendOn runs one transaction on c with the MAIL command written out as
// mail gives it, and returns the code of the first refusal and its text
// (0 and "" when accepted).
func sendOn(t *testing.T, c *smtp.Client, mail, rcpt, body string) (int, string) {
	t.Helper()
	step := func(err error) (int, string) {
		var te *textproto.Error
		if err == nil {
			return 0, ""
		} else if !errors.As(err, &te) {
			t.Fatalf("not an SMTP answer: %v", err)
		}
		return te.Code, te.Msg
	}
	id, err := c.Text.Cmd("%s", mail)
	if err != nil {
		t.Fatal(err)
	}
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(250)
	c.Text.EndResponse(id)
	if code, msg := step(err); code != 0 {
		return code, msg
	}
	if code, msg := step(c.Rcpt(rcpt)); code != 0 {
		return code, msg
	}
	w, err := c.Data()
	if code, msg := step(err); code != 0 {
		return code, msg
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	return step(w.Close())
}

// TestListenerAdvertises: EHLO offers SMTPUTF8 always, and STARTTLS only
// when a certificate is configured (offering it without one would make
// senders fail the handshake).
func TestListenerAdvertises(t *testing.T) {
	plain, _ := startListener(t, 1<<20)
	c := dial(t, plain)
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		t.Error("SMTPUTF8 not advertised")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS advertised without a certificate")
	}
	withTLS, _, _ := startTLSListener(t, mailer.ListenerConfig{})
	c = dial(t, withTLS)
	for _, ext := range []string{"SMTPUTF8", "STARTTLS"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("%s not advertised with a certificate", ext)
		}
	}
}

// TestListenerStartTLS: a sender that verifies our certificate delivers
// a reply over STARTTLS, and the listener still speaks plain SMTP to
// one that does not start TLS while TLS is not required.
func TestListenerStartTLS(t *testing.T) {
	addr, rec, pool := startTLSListener(t, mailer.ListenerConfig{})
	c := dial(t, addr)
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	if code, msg := sendOn(t, c, "MAIL FROM:<jane@example.com>", "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Fatalf("reply over TLS refused: %d %s", code, msg)
	}
	if rec.count() != 1 || string(rec.raws[0]) != replyMsg {
		t.Fatalf("handler got %d messages", rec.count())
	}
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Errorf("plain delivery without require_tls: %d", code)
	}
}

// TestListenerRequireTLS: with RequireTLS a MAIL in clear is refused with
// 530 5.7.0 and nothing reaches the handler; the refusal does not use up
// the client's allowance, so its retry over TLS goes through.
func TestListenerRequireTLS(t *testing.T) {
	addr, rec, pool := startTLSListener(t, mailer.ListenerConfig{RequireTLS: true,
		PerIP: mailer.Limit{Burst: 1, Every: time.Hour}})
	for range 2 {
		code, msg := sendOn(t, dial(t, addr), "MAIL FROM:<jane@example.com>", "privacy+tok123@example.org", replyMsg)
		if code != 530 || msg != "5.7.0 Must issue a STARTTLS command first" {
			t.Errorf("MAIL in clear: %d %q, want 530 5.7.0 Must issue a STARTTLS command first", code, msg)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("handler called %d times for mail in clear", rec.count())
	}
	c := dial(t, addr)
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
		t.Fatal(err)
	}
	if code, msg := sendOn(t, c, "MAIL FROM:<jane@example.com>", "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Fatalf("reply over TLS refused: %d %s", code, msg)
	}
	if rec.count() != 1 {
		t.Errorf("handler called %d times, want 1", rec.count())
	}
}

// TestListenerSMTPUTF8 takes a reply whose envelope sender is an
// internationalised address, as a strict MTA sends it (SMTPUTF8), and
// hands the handler the address and the UTF-8 header unchanged.
func TestListenerSMTPUTF8(t *testing.T) {
	addr, rec := startListener(t, 1<<20)
	msg := strings.Replace(replyMsg, "Jane Doe <jane@example.com>", "Zoë Brandt <zoë@bücher.example>", 1)
	code, text := sendOn(t, dial(t, addr), "MAIL FROM:<zoë@bücher.example> SMTPUTF8", "privacy+tok123@example.org", msg)
	if code != 0 {
		t.Fatalf("SMTPUTF8 reply refused: %d %s", code, text)
	}
	if rec.count() != 1 || rec.envs[0].MailFrom != "zoë@bücher.example" || string(rec.raws[0]) != msg {
		t.Fatalf("handler got %d messages, envelope %+v", rec.count(), rec.envs)
	}
	if from := mailer.ReplyFrom(rec.raws[0]); from != "zoë@bücher.example" {
		t.Errorf("From read as %q", from)
	}
}

// TestListenerTLSReload serves a renewed certificate without a restart:
// ACME clients replace the files in place every few weeks. A renewal
// that does not load keeps the old certificate.
func TestListenerTLSReload(t *testing.T) {
	dir := t.TempDir()
	cert, key, oldPool := smtptest.CertFiles(t, dir)
	tc, err := mailer.ListenerTLS(cert, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startListenerWith(t, mailer.ListenerConfig{MaxBytes: 1 << 20, TLS: tc})
	handshake := func(pool *x509.CertPool) error {
		return dial(t, addr).StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool})
	}
	if err := handshake(oldPool); err != nil {
		t.Fatal(err)
	}
	// Half a renewal: a new certificate whose key is not there yet.
	other := t.TempDir()
	newCert, newKey, newPool := smtptest.CertFiles(t, other)
	later := time.Now().Add(time.Minute)
	replace(t, newCert, cert, later)
	if err := handshake(oldPool); err != nil {
		t.Errorf("after a half-written renewal the old certificate should still be served: %v", err)
	}
	replace(t, newKey, key, later)
	if err := handshake(newPool); err != nil {
		t.Errorf("renewed certificate not served: %v", err)
	}
}

// replace copies from over to and dates it mod, as a renewal would.
func replace(t *testing.T, from, to string, mod time.Time) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(to, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// TestListenerTLSFiles refuses files that are not a certificate and its
// key, at start.
func TestListenerTLSFiles(t *testing.T) {
	cert, _, _ := smtptest.CertFiles(t, t.TempDir())
	_, otherKey, _ := smtptest.CertFiles(t, t.TempDir())
	if _, err := mailer.ListenerTLS(cert, otherKey, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a certificate with another key loaded")
	}
	if _, err := mailer.ListenerTLS(cert, cert+".missing", slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a missing key file loaded")
	}
}
