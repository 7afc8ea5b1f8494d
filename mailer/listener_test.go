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
	rec := &replies{}
	srv := mailer.NewListener(mailer.ListenerConfig{Domain: "example.org", LocalPart: "privacy", MaxBytes: maxBytes},
		rec.handle, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	c, err := smtp.Dial(addr)
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
	if code := step(c.Mail("jane@example.com")); code != 0 {
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
