package handlers_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"testing"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/mailer"
)

// startReplyListener runs the inbound SMTP listener on the app's service
// as serve wires it, with lc's TLS settings.
func startReplyListener(t *testing.T, a *apptest.App, lc mailer.ListenerConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mc := a.Cfg.Mail
	lc.Addr, lc.Domain, lc.LocalPart, lc.MaxBytes = ln.Addr().String(), mc.ReplyDomain, mc.ReplyLocal, mc.Inbound.MaxBytes
	srv := mailer.NewListener(lc, func(ctx context.Context, raw []byte, env mailer.Envelope) error {
		res, err := a.Svc.HandleReply(ctx, raw, env)
		if err == nil && !res.Acted() {
			return mailer.ErrNoEffect
		}
		return err
	}, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// smtpReply delivers raw to rcpt in one session, after STARTTLS when
// tc is set, with the MAIL command written out as mail gives it (a real
// MTA's "MAIL FROM:<…> SMTPUTF8"). It returns the code and text of the
// first refusal, or 0 and "".
func smtpReply(t *testing.T, addr string, tc *tls.Config, mail, rcpt string, raw []byte) (int, string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.example.com"); err != nil {
		t.Fatal(err)
	}
	if tc != nil {
		if err := c.StartTLS(tc); err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
	}
	refusal := func(err error) (int, string) {
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
	if code, msg := refusal(err); code != 0 {
		return code, msg
	}
	if code, msg := refusal(c.Rcpt(rcpt)); code != 0 {
		return code, msg
	}
	w, err := c.Data()
	if code, msg := refusal(err); code != 0 {
		return code, msg
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	return refusal(w.Close())
}

// TestInboundSMTPRequireTLS: with a certificate and require_tls, a reply
// in clear is refused with 530 and changes nothing; the same reply over
// STARTTLS, the sender checking our certificate, confirms the request.
func TestInboundSMTPRequireTLS(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane@example.com")
	cert, key, pool := smtptest.CertFiles(t, t.TempDir())
	tc, err := mailer.ListenerTLS(cert, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := startReplyListener(t, a, mailer.ListenerConfig{TLS: tc, RequireTLS: true})
	raw := subjectReply("Jane Doe", "jane@example.com", m.ReplyTo(t), m)

	code, msg := smtpReply(t, addr, nil, "MAIL FROM:<jane@example.com>", m.ReplyTo(t), raw)
	if code != 530 || msg != "5.7.0 Must issue a STARTTLS command first" {
		t.Errorf("reply in clear: %d %q, want 530 5.7.0 Must issue a STARTTLS command first", code, msg)
	}
	if s := statusOf(t, a, staff, id); s != "unverified" {
		t.Fatalf("status %s after a refused reply, want unverified", s)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 0 {
		t.Fatalf("%d inbound messages kept from a refused reply", n)
	}

	code, msg = smtpReply(t, addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: pool},
		"MAIL FROM:<jane@example.com>", m.ReplyTo(t), raw)
	if code != 0 {
		t.Fatalf("reply over STARTTLS refused: %d %s", code, msg)
	}
	if s := statusOf(t, a, staff, id); s != "verified" {
		t.Fatalf("status %s after the reply over STARTTLS, want verified", s)
	}
}

// TestInboundSMTPUTF8Reply: a subject with an internationalised address
// files a request with it and confirms by replying from it, as a strict
// MTA delivers (SMTPUTF8); the domain written as an A-label or the text
// decomposed is the same mailbox, a look-alike address is not.
func TestInboundSMTPUTF8Reply(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	addr := startReplyListener(t, a, mailer.ListenerConfig{})
	const zoe = "zoë@bücher.example"
	reply := func(from string, m *apptest.Mail) (int, string) {
		return smtpReply(t, addr, nil, "MAIL FROM:<"+from+"> SMTPUTF8", m.ReplyTo(t), subjectReply("Zoë Brandt", from, m.ReplyTo(t), m))
	}

	id, _ := a.Submit(map[string]any{"type": "access", "email": "Zoë@Bücher.example", "full_name": "Zoë Brandt"})
	if r := staffRequest(t, a, staff, id); r["email"] != zoe {
		t.Fatalf("filed as %v, want %s", r["email"], zoe)
	}
	m := a.MailTo(zoe, 1)
	if code, msg := reply(zoe, m); code != 0 {
		t.Fatalf("SMTPUTF8 reply refused: %d %s", code, msg)
	}
	if s := statusOf(t, a, staff, id); s != "verified" {
		t.Fatalf("status %s after the reply from %s, want verified", s, zoe)
	}

	for _, c := range []struct{ from, want string }{
		{"zoe@bücher.example", "unverified"},           // another mailbox
		{"zoe\u0308@bu\u0308cher.example", "verified"}, // ë as e + U+0308
		{"zoë@xn--bcher-kva.example", "verified"},      // the domain as an A-label
	} {
		id, ref := a.Submit(map[string]any{"type": "erasure", "email": zoe, "full_name": "Zoë Brandt"})
		m := a.MailWithSubject(zoe, "confirm your deletion request ("+ref+")")
		if code, msg := reply(c.from, m); code != 0 {
			t.Fatalf("reply from %q refused: %d %s", c.from, code, msg)
		}
		if s := statusOf(t, a, staff, id); s != c.want {
			t.Errorf("reply from %q: status %s, want %s", c.from, s, c.want)
		}
	}
}
