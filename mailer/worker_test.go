package mailer_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/jobs"
	"rightsportal/mailer"
	"rightsportal/models"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailRow is the one mail queued for a request so far.
func mailRow(t *testing.T, a *apptest.App, requestID string) *models.Mail {
	t.Helper()
	ms, err := a.Store.MailsFor(context.Background(), requestID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("request %s has %d mails, want 1", requestID, len(ms))
	}
	return &ms[0]
}

// storedMail reads a mail with its sealed secrets.
func storedMail(t *testing.T, a *apptest.App, id int64) *models.Mail {
	t.Helper()
	m, err := a.Store.Mail(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func submit(a *apptest.App, email string) string {
	id, _ := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Jane Doe"})
	return id
}

// countTo is how many messages the relay accepted for addr.
func countTo(r *smtptest.Server, addr string) int {
	n := 0
	for _, m := range r.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				n++
			}
		}
	}
	return n
}

// waitSent waits until the mail row is sent and checks its secrets are
// gone and the relay got it exactly once.
func waitSent(t *testing.T, a *apptest.App, requestID, addr string) *models.Mail {
	t.Helper()
	var row *models.Mail
	waitFor(t, "the mail row to be sent", func() bool {
		row = mailRow(t, a, requestID)
		return row.Status == models.MailSent
	})
	if n := countTo(a.Relay, addr); n != 1 {
		t.Fatalf("relay got %d mails for %s, want exactly 1", n, addr)
	}
	if m := storedMail(t, a, row.ID); m.Sealed != nil {
		t.Errorf("sent mail still holds its sealed secrets (%d bytes)", len(m.Sealed))
	}
	if row.LastError != "" || row.SentAt == nil {
		t.Errorf("sent row: last_error %q, sent_at %v", row.LastError, row.SentAt)
	}
	return row
}

// TestWorkerRelayDown proves no mail is lost while the relay is down: the
// worker keeps the mail queued, counts the attempts, and delivers it once
// the relay is back.
func TestWorkerRelayDown(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.Relay.Close()
	id := submit(a, "down@example.com")
	waitFor(t, "a failed attempt on the queued mail", func() bool {
		row := mailRow(t, a, id)
		return row.Status == models.MailQueued && row.Attempts > 0
	})
	if m := storedMail(t, a, mailRow(t, a, id).ID); len(m.Sealed) == 0 {
		t.Fatal("queued mail lost its sealed secrets before it was sent")
	}
	a.Relay.Restart()
	got := a.MailTo("down@example.com", 1)
	got.Link(t, "/verify?token=")
	waitSent(t, a, id, "down@example.com")
}

// TestWorkerTempFailSameMessageID retries a 4xx refusal until delivered,
// and every attempt is the same message: the Message-ID is fixed at queue
// time.
func TestWorkerTempFailSameMessageID(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.Relay.SetMode(smtptest.TempFail)
	id := submit(a, "temp@example.com")
	var queued *models.Mail
	waitFor(t, "two refused attempts", func() bool {
		queued = mailRow(t, a, id)
		return queued.Attempts >= 2 && a.Relay.Tries() >= 2
	})
	if queued.Status != models.MailQueued || !strings.Contains(queued.LastError, "451") {
		t.Fatalf("after 4xx: status %q, last_error %q", queued.Status, queued.LastError)
	}
	a.Relay.SetMode(smtptest.Accept)
	got := a.MailTo("temp@example.com", 1)
	row := waitSent(t, a, id, "temp@example.com")
	if row.MessageID != queued.MessageID {
		t.Errorf("Message-ID changed between attempts: %s then %s", queued.MessageID, row.MessageID)
	}
	if h := got.Header.Get("Message-Id"); h != "<"+row.MessageID+">" {
		t.Errorf("delivered Message-ID %q, row has %q", h, row.MessageID)
	}
	if row.Attempts < 3 {
		t.Errorf("attempts = %d, want the refused ones counted too", row.Attempts)
	}
}

// TestWorkerPermFail stops at a 5xx refusal: the mail is marked failed
// with the reason, its secrets dropped, and the job is not retried.
func TestWorkerPermFail(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.Relay.SetMode(smtptest.PermFail)
	id := submit(a, "perm@example.com")
	var row *models.Mail
	waitFor(t, "the mail to fail", func() bool {
		row = mailRow(t, a, id)
		return row.Status == models.MailFailed
	})
	if !strings.Contains(row.LastError, "550") {
		t.Errorf("last_error %q does not name the 550", row.LastError)
	}
	if m := storedMail(t, a, row.ID); m.Sealed != nil {
		t.Error("failed mail still holds its sealed secrets")
	}
	// With a 100 ms maximum backoff, ten retries would fit in a second.
	tries := a.Relay.Tries()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n := a.Relay.Tries(); n != tries {
			t.Fatalf("relay tries grew from %d to %d after a permanent refusal", tries, n)
		}
	}
	if row = mailRow(t, a, id); row.Status != models.MailFailed || row.Attempts != 1 {
		t.Errorf("status %q, attempts %d; want failed after 1", row.Status, row.Attempts)
	}
}

// TestWorkerHangingRelay bounds an attempt by SendTimeout, so a relay that
// never answers cannot hold the mail; it goes out once the relay recovers.
func TestWorkerHangingRelay(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Mail.SendTimeout = config.Duration(1 * time.Second)
		c.Mail.RescueAfter = config.Duration(3 * time.Second)
	}})
	a.Relay.SetMode(smtptest.Hang)
	id := submit(a, "hang@example.com")
	waitFor(t, "a timed-out attempt", func() bool {
		return mailRow(t, a, id).Attempts > 0
	})
	if row := mailRow(t, a, id); row.Status != models.MailQueued {
		t.Fatalf("after a timeout the mail is %q, want queued", row.Status)
	}
	a.Relay.SetMode(smtptest.Accept)
	a.MailTo("hang@example.com", 1)
	waitSent(t, a, id, "hang@example.com")
}

// TestWorkerFileSender keeps the dev-mode promise of SPEC §5: with no SMTP
// host each mail is an .eml file named after its Message-ID, and its links
// are logged.
func TestWorkerFileSender(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true, Config: func(c *config.Config) { c.Mail.SMTP.Host = "" }})
	if s, err := jobs.NewSender(a.Cfg); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(mailer.FileSender); !ok {
		t.Fatalf("with no SMTP host the sender is %T, want mailer.FileSender", s)
	}
	// apptest hands the engine its own sender; build one that picks its
	// sender from the configuration, as cmd/portal does.
	log := slog.New(slog.NewTextHandler(a.Logs, nil))
	client, err := jobs.New(jobs.Deps{Store: a.Store, Config: a.Cfg, Key: a.Key, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.Stop(ctx)
	})

	id := submit(a, "file@example.com")
	var row *models.Mail
	waitFor(t, "the mail to be written", func() bool {
		row = mailRow(t, a, id)
		return row.Status == models.MailSent
	})
	name := filepath.Join(a.Cfg.Mail.Dir, strings.ReplaceAll(row.MessageID, "@", "")+".eml")
	raw, err := os.ReadFile(name)
	if err != nil {
		entries, _ := os.ReadDir(a.Cfg.Mail.Dir)
		t.Fatalf("%v; the folder holds %v", err, entries)
	}
	m := apptest.ParseMail(t, raw)
	if m.HTML == "" || m.Header.Get("Message-Id") != "<"+row.MessageID+">" {
		t.Errorf("file: html %d bytes, Message-ID %q", len(m.HTML), m.Header.Get("Message-Id"))
	}
	link := m.Link(t, "/verify?token=")
	if !strings.Contains(a.Logs.String(), link) {
		t.Errorf("the logs lack the verification link %s:\n%s", link, a.Logs.String())
	}
	if n := len(a.Relay.Messages()); n != 0 {
		t.Errorf("the relay got %d mails though no SMTP host is set", n)
	}
	if entries, _ := os.ReadDir(a.Cfg.Mail.Dir); len(entries) != 1 {
		t.Errorf("mail folder holds %d entries, want the one .eml (no temporary files left)", len(entries))
	}
}

// TestRetryPolicy doubles the wait per attempt from Base, never beyond
// Max, and adds at most 10 % jitter.
func TestRetryPolicy(t *testing.T) {
	p := mailer.RetryPolicy{Base: 5 * time.Second, Max: 30 * time.Minute}
	for attempt, want := range map[int]time.Duration{
		1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 4: 40 * time.Second,
		10: 30 * time.Minute, 200: 30 * time.Minute,
	} {
		before := time.Now()
		got := p.NextRetry(&rivertype.JobRow{Attempt: attempt}).Sub(before)
		if got < want || got > want+want/10+time.Second {
			t.Errorf("attempt %d: next retry in %v, want %v plus at most 10%%", attempt, got, want)
		}
	}
}
