package handlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"testing"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/mailer"
)

// qp encodes s as quoted-printable with CRLF line ends, as mail clients
// send it.
func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(strings.ReplaceAll(s, "\r\n", "\n")))
	w.Close()
	return b.String()
}

func quoteLines(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n") {
		if l == "" {
			out = append(out, ">")
		} else {
			out = append(out, "> "+l)
		}
	}
	return strings.Join(out, "\n")
}

// header is one header line of a built message; an override with an
// empty value drops the header.
type header struct{ name, value string }

// buildMessage joins headers and body with CRLF line ends.
func buildMessage(headers []header, body string) []byte {
	var b strings.Builder
	for _, h := range headers {
		if h.value == "" {
			continue
		}
		b.WriteString(h.name + ": " + h.value + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}

// withHeaders replaces headers of the same name (case-insensitively) and
// appends new ones.
func withHeaders(base []header, over ...header) []header {
	out := append([]header(nil), base...)
	for _, o := range over {
		found := false
		for i := range out {
			if strings.EqualFold(out[i].name, o.name) {
				out[i].value, found = o.value, true
			}
		}
		if !found {
			out = append(out, o)
		}
	}
	return out
}

// subjectReply is what a mail client such as Gmail sends when the subject
// answers the verification mail orig from fromAddr: multipart/alternative,
// quoted-printable, with the original quoted under an "On … wrote:" line.
func subjectReply(fromName, fromAddr, to string, orig *apptest.Mail, over ...header) []byte {
	sum := sha256.Sum256([]byte(fromAddr + to))
	id := hex.EncodeToString(sum[:12])
	boundary := "000000000000" + id[:12]
	mine := "Yes, this was me – please go ahead.\n\nThanks,\n" + fromName + "\n"
	attribution := "On Tue, 3 Jun 2025 at 12:00, Example Privacy Team <privacy@example.org> wrote:"
	text := mine + "\n" + attribution + "\n" + quoteLines(orig.Text) + "\n"
	htmlBody := `<div dir="ltr">Yes, this was me – please go ahead.<div><br></div><div>Thanks,<br>` + html.EscapeString(fromName) +
		`</div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">` + html.EscapeString(attribution) +
		`<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">` +
		strings.ReplaceAll(html.EscapeString(orig.Text), "\n", "<br>\n") + "</blockquote></div>\n"
	origID := orig.Header.Get("Message-Id")
	headers := []header{
		{"Return-Path", "<" + fromAddr + ">"},
		{"Delivered-To", to},
		{"Received", "from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\r\n\tby mx.example.org with ESMTPS id " + id[:10] + "\r\n\tfor <" + to + ">; Tue, 03 Jun 2025 10:15:02 +0000"},
		{"Authentication-Results", "mx.example.org;\r\n\tdkim=pass header.d=example.com;\r\n\tspf=pass smtp.mailfrom=" + fromAddr + ";\r\n\tdmarc=pass (p=NONE) header.from=example.com"},
		{"MIME-Version", "1.0"},
		{"Date", "Tue, 3 Jun 2025 12:14:55 +0200"},
		{"Message-ID", "<CAF" + id + "@mail.gmail.com>"},
		{"In-Reply-To", origID},
		{"References", origID},
		{"Subject", "Re: " + orig.Subject()},
		{"From", fromName + " <" + fromAddr + ">"},
		{"To", "Example Privacy Team <" + to + ">"},
		{"Content-Type", `multipart/alternative; boundary="` + boundary + `"`},
	}
	body := "--" + boundary + "\n" +
		"Content-Type: text/plain; charset=\"UTF-8\"\n" +
		"Content-Transfer-Encoding: quoted-printable\n\n" +
		qp(text) + "\n" +
		"--" + boundary + "\n" +
		"Content-Type: text/html; charset=\"UTF-8\"\n" +
		"Content-Transfer-Encoding: quoted-printable\n\n" +
		qp(htmlBody) + "\n" +
		"--" + boundary + "--\n"
	return buildMessage(withHeaders(headers, over...), body)
}

// bounce is a delivery status notification for the reply address.
func bounce(to string, orig *apptest.Mail) []byte {
	boundary := "9B095B5ADSN=_01D9A1B2C3D4E5F6mx.example.com"
	headers := []header{
		{"Return-Path", "<>"},
		{"Date", "Tue, 3 Jun 2025 12:20:00 +0000"},
		{"From", "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>"},
		{"To", to},
		{"Subject", "Delivery Status Notification (Failure)"},
		{"Message-ID", "<dsn-1@mx.example.com>"},
		{"Auto-Submitted", "auto-replied"},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/report; report-type=delivery-status; boundary="` + boundary + `"`},
	}
	body := "This is a MIME-encapsulated message.\n\n" +
		"--" + boundary + "\n" +
		"Content-Type: text/plain; charset=us-ascii\n\n" +
		"Your message could not be delivered to one or more recipients.\n\n" +
		"--" + boundary + "\n" +
		"Content-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mx.example.com\n\n" +
		"Final-Recipient: rfc822; nobody@example.com\n" +
		"Action: failed\n" +
		"Status: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 user unknown\n\n" +
		"--" + boundary + "\n" +
		"Content-Type: message/rfc822\n\n" +
		"From: Example Privacy Team <privacy@example.org>\n" +
		"Reply-To: " + to + "\n" +
		"Subject: " + orig.Subject() + "\n\n" +
		"(body omitted)\n\n" +
		"--" + boundary + "--\n"
	return buildMessage(headers, body)
}

func postInbound(t *testing.T, a *apptest.App, raw []byte, secret string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Content-Type": "message/rfc822"}
	if secret != "" {
		h["X-Inbound-Secret"] = secret
	}
	return a.Do(http.MethodPost, "/api/v1/inbound/email", bytes.NewReader(raw), h)
}

// inboundOutcome posts raw with the right secret and returns the outcome
// and reason of a 200 answer.
func inboundOutcome(t *testing.T, a *apptest.App, raw []byte) (outcome, reason string) {
	t.Helper()
	resp, b := postInbound(t, a, raw, a.Cfg.Mail.Inbound.Secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound: %d %s", resp.StatusCode, b)
	}
	m := apptest.DecodeJSON(t, b)
	outcome, _ = m["outcome"].(string)
	reason, _ = m["reason"].(string)
	return outcome, reason
}

// pending files a request and returns its id and verification mail.
func pending(t *testing.T, a *apptest.App, email string) (string, *apptest.Mail) {
	t.Helper()
	id, _ := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Reply Tester"})
	return id, a.MailTo(email, 1)
}

func statusOf(t *testing.T, a *apptest.App, staff, id string) string {
	t.Helper()
	s, _ := staffRequest(t, a, staff, id)["status"].(string)
	return s
}

// TestInboundWebhookAuth protects the webhook's shared secret: without
// it nothing is read, and with no secret configured the webhook is off.
func TestInboundWebhookAuth(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane@example.com")
	raw := subjectReply("Jane Doe", "jane@example.com", m.ReplyTo(t), m)
	for _, secret := range []string{"", "wrong-secret-0123456789", a.Cfg.Mail.Inbound.Secret + "x", strings.ToUpper(a.Cfg.Mail.Inbound.Secret)} {
		resp, b := postInbound(t, a, raw, secret)
		e := checkError(t, resp, b, http.StatusUnauthorized, "")
		if e["code"] != "unauthorized" {
			t.Errorf("code %v", e["code"])
		}
	}
	if s := statusOf(t, a, staff, id); s != "unverified" {
		t.Fatalf("unauthenticated reply acted: %s", s)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 0 {
		t.Errorf("%d inbound messages kept, want 0", n)
	}

	off := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) { c.Mail.Inbound.Secret = "" }})
	for _, secret := range []string{"", "anything-at-all-0123"} {
		resp, b := postInbound(t, off, raw, secret)
		checkError(t, resp, b, http.StatusNotFound, "")
	}
}

// TestInboundReplyVerifies protects SPEC §8's reply path: a genuine reply
// from the request's address verifies once, sends the acknowledgment and
// keeps the raw message; the same reply again does nothing.
func TestInboundReplyVerifies(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane.doe@example.com")
	_, link, _ := verificationMail(t, a, "jane.doe@example.com", 1)
	replyTo := m.ReplyTo(t)
	if !strings.HasPrefix(replyTo, a.Cfg.Mail.ReplyLocal+"+") || !strings.HasSuffix(replyTo, "@"+a.Cfg.Mail.ReplyDomain) {
		t.Fatalf("Reply-To %q is not %s+token@%s", replyTo, a.Cfg.Mail.ReplyLocal, a.Cfg.Mail.ReplyDomain)
	}
	// The subject's client shows the address in capitals; it still counts.
	raw := subjectReply("Jane Doe", "Jane.Doe@Example.com", replyTo, m)

	outcome, reason := inboundOutcome(t, a, raw)
	if outcome != "verified" {
		t.Fatalf("outcome %q (%s), want verified", outcome, reason)
	}
	got := staffRequest(t, a, staff, id)
	if got["status"] != "verified" || got["verified_at"] == nil || got["due_date"] == nil {
		t.Fatalf("after reply: %v", got)
	}
	events := got["events"].([]any)
	if ev := events[len(events)-1].(map[string]any); ev["action"] != "verify" || ev["reason"] != "reply" {
		t.Errorf("verify event %v, want reason reply", ev)
	}
	ack := a.MailTo("jane.doe@example.com", 2)
	if !strings.Contains(ack.Text, got["reference"].(string)) {
		t.Errorf("acknowledgment lacks the reference:\n%s", ack.Text)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 1 {
		t.Fatalf("%d inbound messages kept, want 1", n)
	}
	var kept []byte
	var reqID, from string
	if err := a.DB().Raw("SELECT raw, request_id, from_addr FROM inbound_messages").Row().Scan(&kept, &reqID, &from); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, raw) || reqID != id || from != "jane.doe@example.com" {
		t.Errorf("kept message: %d bytes (sent %d), request %s, from %s", len(kept), len(raw), reqID, from)
	}

	// The same reply again (a provider retrying, or the subject twice).
	outcome, _ = inboundOutcome(t, a, raw)
	if outcome != "ignored" {
		t.Errorf("second reply: outcome %q, want ignored", outcome)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM mails WHERE request_id = ? AND kind = 'acknowledgment'", id); n != 1 {
		t.Errorf("%d acknowledgments, want 1", n)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM audit_events WHERE request_id = ? AND action = 'verify'", id); n != 1 {
		t.Errorf("%d verify events, want 1", n)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 1 {
		t.Errorf("%d inbound messages kept, want 1", n)
	}
	// The link token died with the reply.
	resp, b := postRaw(t, a, "/api/v1/verify", "application/json", mustJSON(map[string]any{"token": link}), nil)
	checkError(t, resp, b, http.StatusGone, "")
}

// TestInboundIgnoresWhatIsNotTheSubject protects SPEC §8: forged senders,
// auto-replies and bounces never verify, and do not spend the token.
func TestInboundIgnoresWhatIsNotTheSubject(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane@example.com")
	to := m.ReplyTo(t)
	cases := []struct {
		name   string
		raw    []byte
		reason string // what the reason must mention
	}{
		{"forged From", subjectReply("Jane Doe", "mallory@evil.example", to, m,
			header{"Return-Path", "<mallory@evil.example>"}), "sender"},
		{"look-alike From", subjectReply("Jane Doe", "jane@example.com.evil.example", to, m), "sender"},
		{"out of office", subjectReply("Jane Doe", "jane@example.com", to, m,
			header{"Auto-Submitted", "auto-replied"}, header{"Subject", "Automatic reply: " + m.Subject()},
			header{"X-Autoreply", "yes"}), "automatic"},
		{"auto-submitted only", subjectReply("Jane Doe", "jane@example.com", to, m,
			header{"Auto-Submitted", "auto-replied"}), "automatic"},
		{"bulk precedence", subjectReply("Jane Doe", "jane@example.com", to, m,
			header{"Precedence", "bulk"}), "automatic"},
		{"empty return path", subjectReply("Jane Doe", "jane@example.com", to, m,
			header{"Return-Path", "<>"}), "automatic"},
		{"bounce", bounce(to, m), "automatic"},
		{"dmarc fail", subjectReply("Jane Doe", "jane@example.com", to, m,
			header{"Authentication-Results", "mx.example.org; dkim=fail; spf=fail smtp.mailfrom=jane@example.com; dmarc=fail header.from=example.com"}), "DMARC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome, reason := inboundOutcome(t, a, tc.raw)
			if outcome != "ignored" {
				t.Fatalf("outcome %q (%s), want ignored", outcome, reason)
			}
			if !strings.Contains(reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", reason, tc.reason)
			}
			if s := statusOf(t, a, staff, id); s != "unverified" {
				t.Fatalf("status %s after %s", s, tc.name)
			}
		})
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 0 {
		t.Errorf("%d inbound messages kept, want 0", n)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM tokens WHERE request_id = ? AND used_at IS NOT NULL", id); n != 0 {
		t.Errorf("ignored replies spent %d tokens", n)
	}
	// The subject's own reply still works afterwards.
	if outcome, reason := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", to, m)); outcome != "verified" {
		t.Fatalf("genuine reply after ignored ones: %q (%s)", outcome, reason)
	}
}

// TestInboundUnmatchedAndMalformed protects the webhook against what is
// not a reply to us: unknown tokens are unmatched and kept nowhere,
// garbage is 400, oversized messages 413.
func TestInboundUnmatchedAndMalformed(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) { c.Mail.Inbound.MaxBytes = 64 << 10 }})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane@example.com")
	unknown := a.Cfg.Mail.ReplyLocal + "+" + strings.Repeat("a", 32) + "@" + a.Cfg.Mail.ReplyDomain
	for _, to := range []string{unknown, a.Cfg.Mail.ReplyLocal + "@" + a.Cfg.Mail.ReplyDomain, "jane@example.com"} {
		outcome, reason := inboundOutcome(t, a, subjectReply("Jane Doe", "jane@example.com", to, m))
		if outcome != "unmatched" {
			t.Errorf("reply to %s: outcome %q (%s), want unmatched", to, outcome, reason)
		}
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 0 {
		t.Errorf("%d inbound messages kept, want 0", n)
	}

	for name, body := range map[string]string{
		"binary":     "\x00\x01",
		"empty":      "",
		"blank":      "\r\n\r\n",
		"no headers": "just some text without any header\r\n",
		"no from":    "To: " + m.ReplyTo(t) + "\r\nSubject: hi\r\n\r\nhello\r\n",
	} {
		resp, b := postInbound(t, a, []byte(body), a.Cfg.Mail.Inbound.Secret)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, resp.StatusCode, b)
			continue
		}
		checkError(t, resp, b, http.StatusBadRequest, "")
	}

	big := subjectReply("Jane Doe", "jane@example.com", m.ReplyTo(t), m,
		header{"X-Padding", strings.Repeat("p", int(a.Cfg.Mail.Inbound.MaxBytes))})
	resp, b := postInbound(t, a, big, a.Cfg.Mail.Inbound.Secret)
	checkError(t, resp, b, http.StatusRequestEntityTooLarge, "")

	if s := statusOf(t, a, staff, id); s != "unverified" {
		t.Fatalf("status %s, want unverified", s)
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages"); n != 0 {
		t.Errorf("%d inbound messages kept, want 0", n)
	}
}

// TestInboundSMTPListener protects the inbound SMTP path as serve wires
// it: a reply delivered over SMTP verifies the request, and the listener
// refuses mail for other addresses.
func TestInboundSMTPListener(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	staff := a.StaffToken("officer@example.org", "reviewer")
	id, m := pending(t, a, "jane@example.com")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mc := a.Cfg.Mail
	srv := mailer.NewListener(mailer.ListenerConfig{Addr: ln.Addr().String(), Domain: mc.ReplyDomain,
		LocalPart: mc.ReplyLocal, MaxBytes: mc.Inbound.MaxBytes},
		func(ctx context.Context, raw []byte, env mailer.Envelope) error {
			_, err := a.Svc.HandleReply(ctx, raw, env)
			return err
		}, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })

	// Not a relay: other domains are refused at RCPT.
	if err := smtp.SendMail(ln.Addr().String(), nil, "jane@example.com", []string{"someone@elsewhere.example"},
		subjectReply("Jane Doe", "jane@example.com", "someone@elsewhere.example", m)); err == nil {
		t.Error("listener accepted mail for another domain")
	} else if !strings.Contains(err.Error(), "550") {
		t.Errorf("refusal %v, want 550", err)
	}
	// Garbage is refused permanently, not retried.
	if err := smtp.SendMail(ln.Addr().String(), nil, "jane@example.com", []string{m.ReplyTo(t)},
		[]byte("no headers at all\r\n")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("garbage over SMTP: %v, want 550", err)
	}

	raw := subjectReply("Jane Doe", "jane@example.com", m.ReplyTo(t), m)
	if err := smtp.SendMail(ln.Addr().String(), nil, "jane@example.com", []string{m.ReplyTo(t)}, raw); err != nil {
		t.Fatalf("deliver reply: %v", err)
	}
	if s := statusOf(t, a, staff, id); s != "verified" {
		t.Fatalf("status %s after the SMTP reply, want verified", s)
	}
	ack := a.MailTo("jane@example.com", 2)
	if !strings.Contains(ack.Subject(), fmt.Sprint(staffRequest(t, a, staff, id)["reference"])) {
		t.Errorf("acknowledgment subject %q", ack.Subject())
	}
	if n := countRows(t, a, "SELECT COUNT(*) FROM inbound_messages WHERE request_id = ?", id); n != 1 {
		t.Errorf("%d inbound messages kept, want 1", n)
	}

	// An auto-reply with the null envelope sender is accepted (so the
	// remote server does not retry) but does nothing.
	id2, m2 := pending(t, a, "joe@example.com")
	if err := smtp.SendMail(ln.Addr().String(), nil, "", []string{m2.ReplyTo(t)},
		subjectReply("Joe", "joe@example.com", m2.ReplyTo(t), m2, header{"Return-Path", ""})); err != nil {
		t.Fatalf("deliver null-sender reply: %v", err)
	}
	if s := statusOf(t, a, staff, id2); s != "unverified" {
		t.Errorf("null envelope sender verified the request: %s", s)
	}
}
