// Package jobs builds the job engine (River) that runs the portal's
// background work: sending queued mail now, periodic work later. Jobs are
// inserted by models inside the transaction of the change that caused
// them; this client only works them.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"rightsportal/config"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/service"
)

// Deps are what the workers need.
type Deps struct {
	Store  *models.Store
	Config *config.Config
	// Key opens the sealed secrets of queued mail.
	Key []byte
	// Sender overrides the sender the configuration names (tests).
	Sender mailer.Sender
	Log    *slog.Logger
	// JobLog receives the engine's own logs.
	JobLog *slog.Logger
	// Service runs the scheduled work; nil leaves it out (tests of mail).
	Service *service.Service
	// Observe counts delivery outcomes (metrics); nil: nobody.
	Observe mailer.Observer
}

// NewSender is the mail sender the configuration asks for: the SMTP relay,
// or .eml files when no relay is set.
func NewSender(cfg *config.Config) (mailer.Sender, error) {
	m := cfg.Mail
	if m.Host() == "" {
		return mailer.FileSender{Dir: m.Dir}, nil
	}
	return mailer.NewSMTPSender(mailer.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, TLS: m.SMTP.TLS,
		Username: m.SMTP.Username, Password: m.SMTP.Password, Timeout: m.SendTimeout.D(),
		InsecureSkipVerify: m.SMTP.InsecureSkipVerify, RootCAs: m.SMTP.RootCAs(), HELO: m.ReplyDomain})
}

// sender is the Sender the tests hand in, or the configuration's.
func (d Deps) sender() (mailer.Sender, error) {
	if d.Sender != nil {
		return d.Sender, nil
	}
	m := d.Config.Mail
	// Said once, at start, where an operator reads: mail that holds links
	// and tokens then goes to whoever answers on the relay's address, and
	// nothing else would show it.
	if m.Host() != "" && m.SMTP.InsecureSkipVerify {
		d.Log.Warn("mail.smtp.insecure_skip_verify is on: the relay's certificate is not checked; "+
			"trust a private CA with mail.smtp.ca_file instead", "relay", m.SMTP.Host)
	}
	return NewSender(d.Config)
}

// Client is the running job engine: River's client, whose transaction
// type differs by database (database/sql on SQLite, pgx on PostgreSQL)
// and never matters here, since jobs are inserted by models.
type Client interface {
	// Start begins working the queues.
	Start(ctx context.Context) error
	// Stop lets running jobs finish; those that do not in time stay
	// queued and run again later.
	Stop(ctx context.Context) error
	// StopAndCancel cancels running jobs.
	StopAndCancel(ctx context.Context) error
	// QueuePause and QueueResume hold and release one queue everywhere.
	QueuePause(ctx context.Context, name string, opts *river.QueuePauseOpts) error
	QueueResume(ctx context.Context, name string, opts *river.QueuePauseOpts) error
}

// New builds the River client that works the queues. Start it with
// Start(ctx); stop it with Stop(ctx), which lets running jobs finish.
//
// On SQLite it polls (SQLite has no notifications; the poll interval is
// mail.poll_interval). On PostgreSQL it runs on River's pgx driver and
// listens: a job inserted by any instance wakes the workers at once, and
// the instances elect one leader for periodic work through the same
// channel. Polling stays as the fallback there.
func New(d Deps) (Client, error) {
	m := d.Config.Mail
	sender, err := d.sender()
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &mailer.SendWorker{Outbox: d.Store, Sender: sender, From: m.From, Key: d.Key,
		SendTimeout: m.SendTimeout.D(), Log: d.Log.With("component", "mail"), LogLinks: m.Host() == "" && d.Sender == nil,
		Observe: d.Observe})
	queues := map[string]river.QueueConfig{models.QueueMail: {MaxWorkers: mailWorkers, FetchCooldown: mailFetchCooldown}}
	var periodic []*river.PeriodicJob
	if d.Service != nil {
		river.AddWorker(workers, &SweepWorker{Service: d.Service, Log: d.Log})
		river.AddWorker(workers, &RetentionWorker{Service: d.Service, Log: d.Log})
		river.AddWorker(workers, &TaskWorker{Service: d.Service})
		river.AddWorker(workers, &WebhookWorker{Service: d.Service, MaxBackoff: d.Config.Webhooks.MaxBackoff.D(),
			CallTimeout: d.Config.Webhooks.Timeout.D()})
		river.AddWorker(workers, &OpenDSRPollWorker{Service: d.Service, Log: d.Log})
		queues[QueueMaintenance] = river.QueueConfig{MaxWorkers: 1}
		queues[models.QueueTasks] = river.QueueConfig{MaxWorkers: 2}
		queues[models.QueueWebhooks] = river.QueueConfig{MaxWorkers: webhookWorkers}
		periodic = periodicJobs()
	}
	jobLog := d.JobLog
	if jobLog == nil {
		jobLog = d.Log
	}
	cfg := &river.Config{
		Queues:            queues,
		Workers:           workers,
		PeriodicJobs:      periodic,
		Logger:            jobLog,
		FetchPollInterval: m.PollInterval.D(),
		FetchCooldown:     min(m.PollInterval.D(), 100*time.Millisecond),
		RetryPolicy:       mailer.RetryPolicy{Base: retryBase(m), Max: m.MaxBackoff.D()},
		// A send that was running in a process that died is retried after
		// this; it must be longer than any send can take.
		RescueStuckJobsAfter: m.RescueAfter.D(),
		JobTimeout:           m.SendTimeout.D(),
	}
	if pool := d.Store.PgxPool(); pool != nil {
		c, err := river.NewClient(riverpgxv5.New(pool), cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		return c, nil
	}
	cfg.PollOnly = true
	c, err := river.NewClient(d.Store.JobDriver(), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return c, nil
}

// The mail queue's shape. River fetches at most MaxWorkers jobs at a time
// and at most once per FetchCooldown, so mail throughput is capped near
// mailWorkers / mailFetchCooldown: 16 / 20 ms is 800 mails a second,
// enough to keep up with intake at full load, where 4 / 100 ms (River's
// defaults here before) let verification mail fall minutes behind a
// burst. Each fetch is a write transaction on SQLite's one writer, so a
// larger batch per fetch is cheaper than more frequent fetches. The
// relay sees no more connections than the sender's own cap.
const (
	mailWorkers       = 16
	mailFetchCooldown = 20 * time.Millisecond
)

// retryBase is the first retry delay: 5 s, or less when the whole backoff
// is configured shorter (tests).
func retryBase(m config.Mail) time.Duration {
	return min(5*time.Second, m.MaxBackoff.D())
}
