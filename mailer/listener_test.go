package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/mailer"
)

// replies records what the listener hands to its ReplyHandler, and
// answers with err.
type replies struct {
	mu    sync.Mutex
	err   error
	raws  [][]byte
	envs  []mailer.Envelope
	calls int
}

func (r *replies) handle(_ context.Context, raw []byte, env mailer.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.raws = append(r.raws, bytes.Clone(raw))
	r.envs = append(r.envs, env)
	return r.err
}

func (r *replies) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *replies) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// startListener runs the inbound listener on a free loopback port.
func startListener(t *testing.T, maxBytes int64) (string, *replies) {
	t.Helper()
	return startListenerWith(t, mailer.ListenerConfig{MaxBytes: maxBytes})
}

// startListenerWith runs the listener with cfg, for our reply address
// privacy@example.org.
func startListenerWith(t *testing.T, cfg mailer.ListenerConfig) (string, *replies) {
	t.Helper()
	rec := &replies{}
	cfg.Domain, cfg.LocalPart = "example.org", "privacy"
	srv := mailer.NewListener(cfg, rec.handle, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), rec
}

const replyMsg = "From: Jane Doe <jane@example.com>\r\n" +
	"To: privacy+tok123@example.org\r\n" +
	"Subject: Re: Please confirm your access request\r\n" +
	"Message-ID: <reply-1@example.com>\r\n" +
	"\r\n" +
	"Yes, that was me.\r\n"

// deliver sends one message to rcpt with net/smtp and returns the SMTP
// code of the first refusal (0 when accepted).
func deliver(t *testing.T, addr, rcpt, body string) int {
	t.Helper()
	return deliverAs(t, addr, "127.0.0.1", "jane@example.com", rcpt, body)
}

// deliverAs is deliver from the loopback address client (any of
// 127.0.0.0/8) with the envelope sender mailFrom.
func deliverAs(t *testing.T, addr, client, mailFrom, rcpt, body string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	step := func(err error) int {
		if err == nil {
			return 0
		}
		var te *textproto.Error
		if !errors.As(err, &te) {
			t.Fatalf("not an SMTP answer: %v", err)
		}
		return te.Code
	}
	if code := step(c.Mail(mailFrom)); code != 0 {
		return code
	}
	if code := step(c.Rcpt(rcpt)); code != 0 {
		return code
	}
	w, err := c.Data()
	if code := step(err); code != 0 {
		return code
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatal(err)
	}
	if code := step(w.Close()); code != 0 {
		return code
	}
	c.Quit()
	return 0
}

// TestListenerAccepts hands a reply to our token address to the handler,
// byte for byte, with the SMTP envelope.
func TestListenerAccepts(t *testing.T) {
	addr, rec := startListener(t, 1<<20)
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Fatalf("refused with %d", code)
	}
	if rec.count() != 1 {
		t.Fatalf("handler called %d times", rec.count())
	}
	if string(rec.raws[0]) != replyMsg {
		t.Errorf("raw message:\n%q\nwant\n%q", rec.raws[0], replyMsg)
	}
	env := rec.envs[0]
	if !env.HasEnvelope || env.MailFrom != "jane@example.com" || len(env.Rcpt) != 1 || env.Rcpt[0] != "privacy+tok123@example.org" {
		t.Errorf("envelope: %+v", env)
	}
	// The bare reply address and any case are ours too.
	if code := deliver(t, addr, "Privacy@EXAMPLE.org", replyMsg); code != 0 {
		t.Errorf("bare address refused with %d", code)
	}
}

// TestListenerNotARelay refuses every recipient that is not our reply
// address with 550, so the listener can never be used as an open relay.
func TestListenerNotARelay(t *testing.T) {
	addr, rec := startListener(t, 1<<20)
	for _, rcpt := range []string{"privacy+tok123@other.org", "someone@example.org", "privacyx@example.org",
		"privacy+tok@example.org.evil.com", "privacy+tok@sub.example.org"} {
		if code := deliver(t, addr, rcpt, replyMsg); code != 550 {
			t.Errorf("RCPT %s: got %d, want 550", rcpt, code)
		}
	}
	if rec.count() != 0 {
		t.Errorf("handler called %d times for refused recipients", rec.count())
	}
}

// TestListenerHandlerError answers 4xx when the handler cannot act now,
// so the sending server keeps the reply and retries: nothing is lost.
func TestListenerHandlerError(t *testing.T) {
	addr, rec := startListener(t, 1<<20)
	rec.setErr(errors.New("database is down"))
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code < 400 || code > 499 {
		t.Errorf("handler error: got %d, want 4xx", code)
	}
}

// TestListenerMalformed answers 5xx to a message that cannot be read, so
// the sender stops retrying it.
func TestListenerMalformed(t *testing.T) {
	addr, rec := startListener(t, 1<<20)
	rec.setErr(fmt.Errorf("parse: %w", mailer.ErrMalformedMail))
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code < 500 || code > 599 {
		t.Errorf("malformed mail: got %d, want 5xx", code)
	}
}

// TestListenerTooLarge refuses a message above MaxBytes and never hands
// it to the handler.
func TestListenerTooLarge(t *testing.T) {
	addr, rec := startListener(t, 2048)
	big := replyMsg + strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 100)
	if code := deliver(t, addr, "privacy+tok123@example.org", big); code < 500 || code > 599 {
		t.Errorf("oversized mail: got %d, want 5xx", code)
	}
	if rec.count() != 0 {
		t.Errorf("handler got an oversized message")
	}
	// A message under the limit still goes through on a new connection.
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Errorf("small mail after a large one: %d", code)
	}
}

// clock is a settable time for the listener's limits.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fromAddr is replyMsg from another author.
func fromAddr(addr string) string {
	return strings.Replace(replyMsg, "jane@example.com", addr, 1)
}

// TestListenerLimitPerIP protects the per-client limit: past the burst
// a client is told 450 (try later, so its server keeps the mail) and
// nothing reaches the handler, another client still passes, and time
// restores the allowance.
func TestListenerLimitPerIP(t *testing.T) {
	clk := &clock{now: time.Unix(1_750_000_000, 0)}
	addr, rec := startListenerWith(t, mailer.ListenerConfig{MaxBytes: 1 << 20, Now: clk.Now,
		PerIP: mailer.Limit{Burst: 3, Every: time.Hour}})
	for i := range 3 {
		sender := fmt.Sprintf("sender%d@example.com", i)
		if code := deliverAs(t, addr, "127.0.0.1", sender, "privacy+tok123@example.org", replyMsg); code != 0 {
			t.Fatalf("message %d refused with %d", i, code)
		}
	}
	if code := deliverAs(t, addr, "127.0.0.1", "sender9@example.com", "privacy+tok123@example.org", replyMsg); code != 450 {
		t.Errorf("over the limit: %d, want 450", code)
	}
	if rec.count() != 3 {
		t.Errorf("handler called %d times, want 3", rec.count())
	}
	if code := deliverAs(t, addr, "127.0.0.2", "sender9@example.com", "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Errorf("another client: %d", code)
	}
	clk.advance(time.Hour + time.Second)
	if code := deliverAs(t, addr, "127.0.0.1", "sender9@example.com", "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Errorf("after an hour: %d", code)
	}
}

// TestListenerLimitPerSender protects the per-envelope-sender limit: one
// sender is held back from any client, others pass, and the null sender
// (every server's bounces) is left to the per-client limit.
func TestListenerLimitPerSender(t *testing.T) {
	addr, rec := startListenerWith(t, mailer.ListenerConfig{MaxBytes: 1 << 20,
		PerSender: mailer.Limit{Burst: 2, Every: time.Hour}})
	for i, client := range []string{"127.0.0.1", "127.0.0.2"} {
		if code := deliverAs(t, addr, client, "jane@example.com", "privacy+tok123@example.org", replyMsg); code != 0 {
			t.Fatalf("message %d refused with %d", i, code)
		}
	}
	if code := deliverAs(t, addr, "127.0.0.3", "Jane@Example.com", "privacy+tok123@example.org", replyMsg); code != 450 {
		t.Errorf("same sender over the limit: %d, want 450", code)
	}
	if code := deliverAs(t, addr, "127.0.0.1", "joe@example.com", "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Errorf("another sender: %d", code)
	}
	for i := range 3 {
		if code := deliverAs(t, addr, "127.0.0.1", "", "privacy+tok123@example.org", replyMsg); code != 0 {
			t.Errorf("null sender %d: %d", i, code)
		}
	}
	if rec.count() != 6 {
		t.Errorf("handler called %d times, want 6", rec.count())
	}
}

// TestListenerLimitPerFrom protects the per-address verification limit
// over SMTP: replies that changed nothing (ErrNoEffect) are accepted and
// not counted, so forged From headers cannot lock an address out; past
// the replies that acted, the next from that address is told 450 and
// never handled, while another address passes.
func TestListenerLimitPerFrom(t *testing.T) {
	addr, rec := startListenerWith(t, mailer.ListenerConfig{MaxBytes: 1 << 20,
		PerFrom: mailer.Limit{Burst: 1, Every: time.Hour}})
	rec.setErr(fmt.Errorf("unmatched: %w", mailer.ErrNoEffect))
	for i := range 3 {
		if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code != 0 {
			t.Fatalf("reply %d that changed nothing: %d", i, code)
		}
	}
	rec.setErr(nil)
	if code := deliver(t, addr, "privacy+tok123@example.org", replyMsg); code != 0 {
		t.Fatalf("reply that acted: %d", code)
	}
	if code := deliver(t, addr, "privacy+tok123@example.org", fromAddr("JANE@example.com")); code != 450 {
		t.Errorf("next reply from the same address: %d, want 450", code)
	}
	if rec.count() != 4 {
		t.Errorf("handler called %d times, want 4", rec.count())
	}
	if code := deliver(t, addr, "privacy+tok123@example.org", fromAddr("joe@example.com")); code != 0 {
		t.Errorf("another address: %d", code)
	}
}
