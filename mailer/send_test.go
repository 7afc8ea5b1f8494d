package mailer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/mailer"
)

// testMsg is a message shaped like the worker's: a text part, an HTML
// alternative and a fixed Message-ID.
func testMsg(t *testing.T, id string) *gomail.Msg {
	t.Helper()
	msg := gomail.NewMsg()
	if err := msg.From(testFrom); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("jane@example.com"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("Please confirm your access request (DSR-1)")
	msg.SetMessageIDWithValue(id)
	msg.SetBodyString(gomail.TypeTextPlain, "Hello Jane,\n\nopen https://portal.example.org/verify?token=abc\n")
	msg.AddAlternativeString(gomail.TypeTextHTML, "<p>Hello Jane,</p><p><a href=\"https://portal.example.org/verify?token=abc\">Confirm</a></p>")
	return msg
}

// relayConfig points a sender at the test relay.
func relayConfig(r *smtptest.Server, tlsMode string) mailer.SMTPConfig {
	return mailer.SMTPConfig{Host: r.Host, Port: r.Port, TLS: tlsMode, Timeout: 5 * time.Second,
		RootCAs: r.RootCAs, HELO: "localhost"}
}

func send(t *testing.T, cfg mailer.SMTPConfig, msg *gomail.Msg) error {
	t.Helper()
	s, err := mailer.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Send(ctx, msg)
}

// delivered checks that the relay holds exactly one message, a MIME mail
// with both parts and our Message-ID.
func delivered(t *testing.T, r *smtptest.Server, id string) {
	t.Helper()
	msgs := r.Messages()
	if len(msgs) != 1 {
		t.Fatalf("relay holds %d messages, want 1", len(msgs))
	}
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "jane@example.com" || msgs[0].From != "privacy@example.org" {
		t.Errorf("envelope: from %q to %v", msgs[0].From, msgs[0].To)
	}
	m := apptest.ParseMail(t, msgs[0].Data)
	if !strings.Contains(m.Text, "verify?token=abc") || !strings.Contains(m.HTML, "<a href=") {
		t.Errorf("parts: text %q, html %q", m.Text, m.HTML)
	}
	if got := m.Header.Get("Message-Id"); got != "<"+id+">" {
		t.Errorf("Message-ID %q, want <%s>", got, id)
	}
}

// TestSMTPPlain delivers to a relay without TLS when asked for none.
func TestSMTPPlain(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{})
	if err := send(t, relayConfig(r, "none"), testMsg(t, "plain@example.org")); err != nil {
		t.Fatal(err)
	}
	delivered(t, r, "plain@example.org")
}

// TestSMTPStartTLSAuth delivers over STARTTLS, verifying the relay's
// certificate, with AUTH PLAIN.
func TestSMTPStartTLSAuth(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{StartTLS: true, Username: "portal", Password: "s3cret"})
	cfg := relayConfig(r, "starttls")
	cfg.Username, cfg.Password = "portal", "s3cret"
	if err := send(t, cfg, testMsg(t, "starttls@example.org")); err != nil {
		t.Fatal(err)
	}
	delivered(t, r, "starttls@example.org")
}

// TestSMTPWrongPassword keeps an authentication failure temporary: an
// operator can fix the password, and the mail must still go out then.
func TestSMTPWrongPassword(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{StartTLS: true, Username: "portal", Password: "s3cret"})
	cfg := relayConfig(r, "starttls")
	cfg.Username, cfg.Password = "portal", "wrong"
	err := send(t, cfg, testMsg(t, "badauth@example.org"))
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	if !strings.Contains(err.Error(), "535") {
		t.Errorf("want the relay's 535 in the error, got %v", err)
	}
	if mailer.IsPermanent(err) {
		t.Errorf("auth failure (535) reported as permanent: %v", err)
	}
	if n := len(r.Messages()); n != 0 {
		t.Errorf("relay accepted %d messages", n)
	}
}

// TestSMTPStartTLSUntrusted refuses a relay whose certificate we do not
// trust: the mail holds secrets and must not go out to an impostor.
func TestSMTPStartTLSUntrusted(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{StartTLS: true})
	cfg := relayConfig(r, "starttls")
	cfg.RootCAs = smtptest.Start(t, smtptest.Options{}).RootCAs // another CA
	if err := send(t, cfg, testMsg(t, "untrusted@example.org")); err == nil {
		t.Fatal("sent to a relay with an untrusted certificate")
	}
	if n := len(r.Messages()); n != 0 {
		t.Errorf("relay accepted %d messages", n)
	}
}

// TestSMTPImplicitTLS delivers over implicit TLS (port 465 style).
func TestSMTPImplicitTLS(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	if err := send(t, relayConfig(r, "tls"), testMsg(t, "implicit@example.org")); err != nil {
		t.Fatal(err)
	}
	delivered(t, r, "implicit@example.org")
}

// TestSMTPStartTLSRequired never falls back to clear text when the relay
// does not offer STARTTLS.
func TestSMTPStartTLSRequired(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{})
	err := send(t, relayConfig(r, "starttls"), testMsg(t, "nostarttls@example.org"))
	if err == nil {
		t.Fatal("sent in clear text though STARTTLS was required")
	}
	if mailer.IsPermanent(err) {
		t.Errorf("missing STARTTLS reported as permanent: %v", err)
	}
	if n := len(r.Messages()); n != 0 {
		t.Errorf("relay accepted %d messages in clear text", n)
	}
}

// TestSMTPRefusals sorts relay answers into permanent (stop retrying) and
// temporary (retry later).
func TestSMTPRefusals(t *testing.T) {
	cases := []struct {
		name      string
		mode      smtptest.Mode
		permanent bool
	}{
		{"550 at RCPT", smtptest.PermFail, true},
		{"451 at DATA", smtptest.TempFail, false},
		{"421 at MAIL", smtptest.Drop, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := smtptest.Start(t, smtptest.Options{})
			r.SetMode(c.mode)
			err := send(t, relayConfig(r, "none"), testMsg(t, "refused@example.org"))
			if err == nil {
				t.Fatal("relay refused, but Send reported success")
			}
			if got := mailer.IsPermanent(err); got != c.permanent {
				t.Errorf("IsPermanent = %v, want %v (err: %v)", got, c.permanent, err)
			}
			if r.Tries() == 0 {
				t.Error("the relay saw no attempt")
			}
		})
	}
}

// TestSMTPConnectionRefused keeps a relay that is down a temporary
// failure.
func TestSMTPConnectionRefused(t *testing.T) {
	r := smtptest.Start(t, smtptest.Options{})
	r.Close()
	err := send(t, relayConfig(r, "none"), testMsg(t, "down@example.org"))
	if err == nil {
		t.Fatal("sent to a relay that is down")
	}
	if mailer.IsPermanent(err) {
		t.Errorf("connection refused reported as permanent: %v", err)
	}
}

// TestIsPermanentOther keeps errors that are not relay answers temporary.
func TestIsPermanentOther(t *testing.T) {
	for _, err := range []error{nil, context.DeadlineExceeded, &gomail.SendError{Reason: gomail.ErrSMTPRcptTo}} {
		if mailer.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true", err)
		}
	}
}

// TestSMTPConfigTLS rejects an unknown TLS mode at start, not at send.
func TestSMTPConfigTLS(t *testing.T) {
	if _, err := mailer.NewSMTPSender(mailer.SMTPConfig{Host: "127.0.0.1", Port: 25, TLS: "maybe"}); err == nil {
		t.Fatal("accepted tls mode \"maybe\"")
	}
}
