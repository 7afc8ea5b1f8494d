package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"rightsportal/internal/smtptest"
	"rightsportal/mailer"
)

func poolMsg(t *testing.T, i int) *gomail.Msg {
	m := gomail.NewMsg()
	if err := m.From("privacy@example.org"); err != nil {
		t.Fatal(err)
	}
	m.To(fmt.Sprintf("s%d@example.com", i))
	m.Subject("pool")
	m.SetMessageIDWithValue(fmt.Sprintf("pool-%d@example.org", i))
	m.SetBodyString(gomail.TypeTextPlain, "hello")
	return m
}

// poolSender is a relay with STARTTLS and AUTH, and a sender to it.
func poolSender(t *testing.T) (*smtptest.Server, *mailer.SMTPSender) {
	relay := smtptest.Start(t, smtptest.Options{StartTLS: true, Username: "u", Password: "p"})
	s, err := mailer.NewSMTPSender(mailer.SMTPConfig{Host: relay.Host, Port: relay.Port, TLS: "starttls",
		Username: "u", Password: "p", Timeout: 5 * time.Second, RootCAs: relay.RootCAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return relay, s
}

// TestSMTPConnectionReuse: a run of mails reuses one relay connection,
// and a connection the relay dropped meanwhile is replaced without losing
// the mail.
func TestSMTPConnectionReuse(t *testing.T) {
	relay, s := poolSender(t)
	for i := 0; i < 10; i++ {
		if err := s.Send(context.Background(), poolMsg(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(relay.Messages()); got != 10 {
		t.Fatalf("%d messages delivered", got)
	}
	if c := relay.Conns(); c != 1 {
		t.Fatalf("10 sequential mails used %d connections, want 1", c)
	}
	// The relay restarts: the pooled connection is dead.
	relay.Close()
	relay.Restart()
	if err := s.Send(context.Background(), poolMsg(t, 10)); err != nil {
		t.Fatalf("send after relay restart: %v", err)
	}
	if got := len(relay.Messages()); got != 11 {
		t.Fatalf("%d messages delivered after restart", got)
	}
}

// TestSMTPConnectionCap: the mail queue runs more workers than the relay
// should see connections. Sixteen senders at once share at most four
// connections, every mail arrives once, and a sender waiting for a
// connection gives up when its context ends.
func TestSMTPConnectionCap(t *testing.T) {
	relay, s := poolSender(t)
	errs := make(chan error, 80)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 5 {
				errs <- s.Send(context.Background(), poolMsg(t, w*5+i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(relay.Messages()); got != 80 {
		t.Fatalf("%d messages delivered, want 80", got)
	}
	if c := relay.Conns(); c > 4 {
		t.Fatalf("16 senders at once opened %d connections, want at most 4", c)
	}
	// A relay that hangs holds every connection; a fifth sender waits
	// for one only as long as its context allows.
	relay.SetMode(smtptest.Hang)
	defer relay.SetMode(smtptest.Accept)
	for i := range 4 {
		go s.Send(context.Background(), poolMsg(t, 100+i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	time.Sleep(100 * time.Millisecond)
	if err := s.Send(ctx, poolMsg(t, 104)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send while every connection is busy: %v, want the context's deadline", err)
	}
}
