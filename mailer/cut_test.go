package mailer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/mailer"
	"rightsportal/models"
)

// receivedTo is every message the relay read in full for addr, the ones
// cut before the 250 included.
func receivedTo(r *smtptest.Server, addr string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range r.Received() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// TestSMTPCut sends through a relay that resets the connection, before
// the sender is acknowledged or after the whole message: Send reports a
// temporary error that is a lost connection, not a relay's answer, and
// the same sender delivers once the relay accepts again, over each TLS
// setting (a cut under TLS skips the close_notify).
func TestSMTPCut(t *testing.T) {
	for _, mode := range []struct {
		name string
		mode smtptest.Mode
		// received: the relay read the message before the cut.
		received bool
	}{{"at MAIL", smtptest.CutAtMail, false}, {"at DATA end", smtptest.CutAtDataEnd, true}} {
		for _, tlsMode := range []string{"none", "starttls", "tls"} {
			t.Run(mode.name+"/"+tlsMode, func(t *testing.T) {
				r := smtptest.Start(t, smtptest.Options{StartTLS: tlsMode == "starttls", ImplicitTLS: tlsMode == "tls"})
				s, err := mailer.NewSMTPSender(relayConfig(r, tlsMode))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				id := "cut-" + tlsMode + "@example.org"

				r.SetMode(mode.mode)
				err = s.Send(ctx, testMsg(t, id))
				if err == nil {
					t.Fatal("the relay cut the connection, but Send reported success")
				}
				if mailer.IsPermanent(err) {
					t.Errorf("a cut connection reported as permanent: %v", err)
				}
				t.Logf("cut: %v", err)
				if se := (*gomail.SendError)(nil); errors.As(err, &se) && se.ErrorCode() != 0 {
					t.Errorf("the client saw an SMTP answer (%d), not a cut: %v", se.ErrorCode(), err)
				}
				if r.Cuts() != 1 || len(r.Messages()) != 0 {
					t.Fatalf("cuts %d, accepted %d; want 1 and 0", r.Cuts(), len(r.Messages()))
				}
				if got := len(r.Received()); got != map[bool]int{false: 0, true: 1}[mode.received] {
					t.Fatalf("relay read %d messages before the cut", got)
				}

				r.SetMode(smtptest.Accept)
				if err := s.Send(ctx, testMsg(t, id)); err != nil {
					t.Fatalf("after the cut, the same sender failed: %v", err)
				}
				delivered(t, r, id)
				for _, m := range r.Received() {
					if h := apptest.ParseMail(t, m.Data).Header.Get("Message-Id"); h != "<"+id+">" {
						t.Errorf("a copy the relay read carries Message-ID %q, want <%s>", h, id)
					}
				}
			})
		}
	}
}

// TestWorkerRelayCut proves no mail is lost when the relay cuts the
// connection mid-send: the mail stays queued with its secrets, is retried
// until the relay accepts it, and ends sent. When the relay had read the
// message before the cut, every copy it holds is the same message: the
// Message-ID fixed at queue time lets the recipient's side drop the
// duplicate.
func TestWorkerRelayCut(t *testing.T) {
	for _, c := range []struct {
		name string
		mode smtptest.Mode
		addr string
	}{
		{"at MAIL", smtptest.CutAtMail, "cut-mail@example.com"},
		{"at DATA end", smtptest.CutAtDataEnd, "cut-data@example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := apptest.New(t, apptest.Options{})
			a.Relay.SetMode(c.mode)
			id := submit(a, c.addr)
			var queued *models.Mail
			waitFor(t, "two cut attempts", func() bool {
				queued = mailRow(t, a, id)
				return queued.Attempts >= 2 && a.Relay.Cuts() >= 2
			})
			if queued.Status != models.MailQueued || queued.LastError == "" {
				t.Fatalf("after a cut: status %q, last_error %q", queued.Status, queued.LastError)
			}
			t.Logf("last_error after a cut: %s", queued.LastError)
			if m := storedMail(t, a, queued.ID); len(m.Sealed) == 0 {
				t.Fatal("a mail whose send was cut lost its sealed secrets")
			}

			a.Relay.SetMode(smtptest.Accept)
			got := a.MailTo(c.addr, 1)
			got.Link(t, "/verify?token=")
			row := waitSent(t, a, id, c.addr)
			if row.MessageID != queued.MessageID {
				t.Errorf("Message-ID changed between attempts: %s then %s", queued.MessageID, row.MessageID)
			}

			copies := receivedTo(a.Relay, c.addr)
			if c.mode == smtptest.CutAtMail && len(copies) != 1 {
				t.Errorf("relay read %d copies, want only the accepted one", len(copies))
			}
			if c.mode == smtptest.CutAtDataEnd && len(copies) < 3 {
				t.Errorf("relay read %d copies, want the cut ones and the accepted one", len(copies))
			}
			for i, m := range copies {
				if h := apptest.ParseMail(t, m.Data).Header.Get("Message-Id"); h != "<"+row.MessageID+">" {
					t.Errorf("copy %d carries Message-ID %q, row has %q", i+1, h, row.MessageID)
				}
			}
		})
	}
}
