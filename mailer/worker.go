package mailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	gomail "github.com/wneessen/go-mail"

	"rightsportal/models"
)

// Outbox is what the send worker needs of the store.
type Outbox interface {
	Mail(ctx context.Context, id int64) (*models.Mail, error)
	MailSent(ctx context.Context, id int64, at time.Time) error
	MailFailed(ctx context.Context, id int64, reason string) error
	MailAttempt(ctx context.Context, id int64, reason string) error
}

// SendWorker sends one queued mail per job. River retries it with the
// backoff of RetryPolicy until the relay accepts the mail, the relay
// refuses it for good, or the attempts run out.
type SendWorker struct {
	river.WorkerDefaults[models.SendMailArgs]
	Outbox Outbox
	Sender Sender
	From   string
	Key    []byte
	// SendTimeout bounds one attempt.
	SendTimeout time.Duration
	Log         *slog.Logger
	// LogLinks logs the links of every mail sent: only for FileSender,
	// where the operator has no mailbox to open them from.
	LogLinks bool
	// Observe hears how each attempt ended (metrics); nil: nobody.
	Observe Observer
}

// Observer hears the outcome of each delivery attempt, by mail kind.
type Observer interface {
	MailSent(kind string)
	// MailDeferred: failed for now, will be retried.
	MailDeferred(kind string)
	// MailFailed: refused for good, unreadable, or out of attempts.
	MailFailed(kind string)
}

type noObserver struct{}

func (noObserver) MailSent(string)     {}
func (noObserver) MailDeferred(string) {}
func (noObserver) MailFailed(string)   {}

func (w *SendWorker) observer() Observer {
	if w.Observe == nil {
		return noObserver{}
	}
	return w.Observe
}

// Timeout bounds one attempt, so a hanging relay cannot hold a worker.
func (w *SendWorker) Timeout(*river.Job[models.SendMailArgs]) time.Duration { return w.SendTimeout }

// Work sends the mail named by the job.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[models.SendMailArgs]) error {
	m, err := w.Outbox.Mail(ctx, job.Args.MailID)
	if errors.Is(err, models.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if m.Status != models.MailQueued {
		return nil // sent already: a duplicate job after a crash
	}
	obs := w.observer()
	secrets, err := openSecrets(w.Key, m.Sealed)
	if err != nil {
		w.Outbox.MailFailed(ctx, m.ID, err.Error())
		obs.MailFailed(m.Kind)
		return river.JobCancel(err)
	}
	msg, err := w.build(m, secrets)
	if err != nil {
		w.Outbox.MailFailed(ctx, m.ID, err.Error())
		obs.MailFailed(m.Kind)
		return river.JobCancel(err)
	}
	err = w.Sender.Send(ctx, msg)
	if err == nil {
		w.sent(ctx, m, secrets)
		obs.MailSent(m.Kind)
		return w.Outbox.MailSent(context.WithoutCancel(ctx), m.ID, time.Now())
	}
	log := w.Log.With("mail_id", m.ID, "kind", m.Kind, "attempt", job.Attempt)
	if IsPermanent(err) || job.Attempt >= job.MaxAttempts {
		log.Error("mail refused for good", "err", err)
		w.Outbox.MailFailed(context.WithoutCancel(ctx), m.ID, err.Error())
		obs.MailFailed(m.Kind)
		return river.JobCancel(err)
	}
	obs.MailDeferred(m.Kind)
	log.Warn("mail not delivered yet, will retry", "err", err)
	w.Outbox.MailAttempt(context.WithoutCancel(ctx), m.ID, err.Error())
	return err
}

func (w *SendWorker) sent(ctx context.Context, m *models.Mail, secrets []Secret) {
	if !w.LogLinks {
		w.Log.InfoContext(ctx, "mail sent", "mail_id", m.ID, "kind", m.Kind)
		return
	}
	var links []string
	for _, s := range secrets {
		if strings.HasPrefix(s.Value, "http://") || strings.HasPrefix(s.Value, "https://") {
			links = append(links, s.Value)
		}
	}
	w.Log.InfoContext(ctx, "mail written to file (no SMTP host set)", "mail_id", m.ID, "kind", m.Kind,
		"to", m.ToAddr, "subject", m.Subject, "links", links)
}

// build makes the MIME message: a text part and an HTML alternative, the
// Message-ID fixed at queue time, Auto-Submitted so that well-behaved
// autoresponders stay quiet (RFC 3834), and the mail's Content-Language.
func (w *SendWorker) build(m *models.Mail, secrets []Secret) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(w.From); err != nil {
		return nil, fmt.Errorf("mailer: from: %w", err)
	}
	if err := msg.To(m.ToAddr); err != nil {
		return nil, fmt.Errorf("mailer: to: %w", err)
	}
	if err := msg.ReplyTo(reveal(m.ReplyTo, secrets)); err != nil {
		return nil, fmt.Errorf("mailer: reply-to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.CreatedAt)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "OOF, AutoReply")
	if m.Language != "" {
		// RFC 3282: the language the reader is addressed in.
		msg.SetGenHeader(gomail.HeaderContentLang, m.Language)
	}
	msg.SetUserAgent("rightsportal")
	msg.SetBodyString(gomail.TypeTextPlain, reveal(m.TextBody, secrets))
	msg.AddAlternativeString(gomail.TypeTextHTML, reveal(m.HTMLBody, secrets))
	return msg, nil
}

// RetryPolicy backs off exponentially from Base, doubling per attempt,
// never waiting longer than Max, with a little jitter so that a relay
// coming back is not hit by every mail at the same instant.
type RetryPolicy struct {
	Base time.Duration
	Max  time.Duration
}

// NextRetry answers when a failed job runs again.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.Base
	for i := 1; i < job.Attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	d += time.Duration(rand.Int64N(int64(d)/10 + 1))
	return time.Now().Add(d)
}
