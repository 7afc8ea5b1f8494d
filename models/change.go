package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// QueueMail is the job queue outgoing mail goes through.
const QueueMail = "mail"

// SendMailArgs is the job that sends one queued Mail. It carries only the
// mail's id: the message itself is in the mails table.
type SendMailArgs struct {
	MailID int64 `json:"mail_id"`
}

// Kind names the job for River.
func (SendMailArgs) Kind() string { return "send_mail" }

// InsertOpts puts mail on its own queue.
func (SendMailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueMail} }

// Change is everything one action writes. Apply writes all of it in one
// transaction or nothing.
type Change struct {
	// Create inserts a new request; otherwise RequestID and Version name
	// the request and the version the decision was made on.
	Create    *Request
	RequestID string
	Version   int
	// Set holds the request columns to change, by column name.
	Set map[string]any
	// UseTokens are hashes of tokens this action spends: each must belong
	// to the request and be unused, or the whole change is refused.
	UseTokens []string
	// RevokeTokens are purposes whose unused tokens stop working.
	RevokeTokens []string
	Tokens       []*Token
	Event        *Event
	Mails        []*Mail
	Inbound      *Inbound
	// Tasks are the work approval creates; automated ones are queued.
	Tasks []*Task
	// ReleasePackageUntil, when set, makes the request's package
	// downloadable until then (on completion).
	ReleasePackageUntil *time.Time
	// Bookkeeping changes (the scheduled work's "notice sent" marks) touch
	// columns no decision depends on: they neither need nor bump the
	// version, so a reminder never makes a staff member's form stale.
	Bookkeeping bool
	// Guard, on a bookkeeping change, is the condition its mark must still
	// meet (one of the Guard constants): when two runs of the scheduled
	// work pick the same request, the second finds the mark set, gets
	// ErrConflict and writes nothing, so its notice is not sent twice.
	Guard string
	// Purge removes the request's personal data in the same transaction:
	// see purge.
	Purge bool
	// Attachments are files the subject sent, already stored encrypted
	// under their Stored names; their rows commit with the change or not
	// at all. AttachEvent audits them when Event is the change's own (a
	// submission with files); otherwise Event does.
	Attachments []*Attachment
	AttachEvent *Event
}

// Guards for bookkeeping changes: the notice's mark is not set yet (for
// the current due date, where a new due date earns a new notice).
const (
	GuardNotReminded    = "reminded_at IS NULL"
	GuardDueNotReminded = "(due_reminded_for IS NULL OR due_reminded_for <> due_at)"
	GuardNotEscalated   = "(escalated_for IS NULL OR escalated_for <> due_at)"
	GuardNotWarned      = "extension_warned_at IS NULL"
)

// ErrBusy: the database could not take the write in time, because
// another process holds SQLite's lock or writers are queued behind it.
// Nothing was written; the caller may try again (503).
var ErrBusy = errors.New("models: the database is busy")

// Apply writes ch in one transaction. A stale Version gives ErrConflict,
// a spent token ErrTokenUsed, a database that stays locked ErrBusy; in
// every case nothing is written.
//
// On SQLite, changes that arrive together share one commit (see batch.go):
// each runs in a savepoint of its own, so one refused change leaves the
// others alone, and the costly part of a commit (the fsync) is paid once
// per group instead of once per change.
func (s *Store) Apply(ctx context.Context, now time.Time, ch Change) (*Request, error) {
	if s.batch != nil {
		return s.applyBatched(ctx, now, ch)
	}
	now = Now(now)
	ctx, cancel, busy := s.writeContext(ctx)
	defer cancel()
	var out *Request
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		jb := &jobBuf{}
		if out, err = s.applyIn(ctx, tx, now, ch, jb); err != nil {
			return err
		}
		return s.flushJobs(ctx, tx, jb)
	})
	if err != nil {
		return nil, busy(err)
	}
	return out, nil
}

// applyIn writes ch inside the transaction tx.
func (s *Store) applyIn(ctx context.Context, tx *gorm.DB, now time.Time, ch Change, jb *jobBuf) (*Request, error) {
	var out Request
	var old string
	err := func() error {
		var err error
		old, err = oldStatus(tx, ch)
		if err != nil {
			return err
		}
		id, err := writeRequest(tx, now, ch)
		if err != nil {
			return err
		}
		if err := countChange(tx, ch, old); err != nil {
			return err
		}
		if err := spendTokens(tx, now, id, ch); err != nil {
			return err
		}
		for _, t := range ch.Tokens {
			t.RequestID, t.CreatedAt, t.ExpiresAt = id, now, Now(t.ExpiresAt)
		}
		if len(ch.Tokens) > 0 {
			// One statement for all of them (a submission brings two).
			if err := tx.Create(ch.Tokens).Error; err != nil {
				return fmt.Errorf("models: insert tokens: %w", err)
			}
		}
		if ch.Event != nil {
			ch.Event.RequestID, ch.Event.CreatedAt = id, now
			if err := s.appendEvent(tx, ch.Event); err != nil {
				return err
			}
		}
		if err := s.insertAttachments(tx, now, id, ch); err != nil {
			return err
		}
		if err := s.queueMails(ctx, tx, now, &id, ch.Mails, jb); err != nil {
			return err
		}
		if err := s.insertTasks(ctx, tx, now, id, ch.Tasks, jb); err != nil {
			return err
		}
		if until := ch.ReleasePackageUntil; until != nil {
			err := tx.Model(&Package{}).Where("request_id = ?", id).
				Updates(map[string]any{"released_at": now, "expires_at": Now(*until)}).Error
			if err != nil {
				return fmt.Errorf("models: release package: %w", err)
			}
		}
		if ch.Purge {
			if err := purge(tx, id, now); err != nil {
				return err
			}
		}
		if ch.Inbound != nil {
			ch.Inbound.RequestID = id
			if err := tx.Create(ch.Inbound).Error; err != nil {
				return fmt.Errorf("models: insert inbound: %w", err)
			}
		}
		if ch.Create != nil && len(ch.Set) == 0 {
			out = *ch.Create // just written whole: no need to read it back
			return nil
		}
		return tx.Where("id = ?", id).Take(&out).Error
	}()
	if err != nil {
		return nil, err
	}
	if err := s.queueHooks(ctx, tx, now, changeHooks(ch, old, &out), jb); err != nil {
		return nil, err
	}
	return &out, nil
}

// writeContext bounds how long a write waits for the one writer
// connection and SQLite's lock together: about the busy timeout. While
// another process holds the lock, each of the job engine's pollers takes
// the writer connection in turn and holds it for the whole busy timeout,
// so a request queued behind them would otherwise wait minutes, past the
// server's write timeout, instead of getting a clear 503. busy turns
// running out of that time into ErrBusy; the caller's own cancellation
// stays what it is. With no bound set (PostgreSQL) ctx is left alone:
// the server's lock_timeout bounds the wait there (pgBusy).
func (s *Store) writeContext(ctx context.Context) (context.Context, context.CancelFunc, func(error) error) {
	if s.writeWait <= 0 {
		return ctx, func() {}, pgBusy
	}
	wctx, cancel := context.WithTimeout(ctx, s.writeWait)
	return wctx, cancel, func(err error) error {
		if ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: no write within %s: %v", ErrBusy, s.writeWait, err)
		}
		return err
	}
}

func writeRequest(tx *gorm.DB, now time.Time, ch Change) (string, error) {
	if ch.Create != nil {
		ch.Create.CreatedAt, ch.Create.UpdatedAt, ch.Create.Version = now, now, 1
		ch.Create.VerifyBy, ch.Create.DueAt = Now(ch.Create.VerifyBy), Now(ch.Create.DueAt)
		if err := tx.Create(ch.Create).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return "", fmt.Errorf("%w: request %s", ErrDuplicate, ch.Create.Reference)
			}
			return "", fmt.Errorf("models: insert request: %w", err)
		}
		return ch.Create.ID, nil
	}
	set := map[string]any{"updated_at": now, "version": gorm.Expr("version + 1")}
	q := tx.Model(&Request{}).Where("id = ? AND version = ?", ch.RequestID, ch.Version)
	if ch.Bookkeeping {
		set = map[string]any{}
		q = tx.Model(&Request{}).Where("id = ?", ch.RequestID)
		if ch.Guard != "" {
			q = q.Where(ch.Guard)
		}
	}
	for k, v := range ch.Set {
		set[k] = normTime(v)
	}
	res := q.Updates(set)
	if res.Error != nil {
		return "", fmt.Errorf("models: update request: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := tx.Model(&Request{}).Where("id = ?", ch.RequestID).Count(&n).Error; err != nil {
			return "", fmt.Errorf("models: update request: %w", err)
		}
		if n == 0 {
			return "", fmt.Errorf("%w: request %s", ErrNotFound, ch.RequestID)
		}
		return "", fmt.Errorf("%w: request %s is no longer at version %d", ErrConflict, ch.RequestID, ch.Version)
	}
	return ch.RequestID, nil
}

func spendTokens(tx *gorm.DB, now time.Time, id string, ch Change) error {
	for _, h := range ch.UseTokens {
		res := tx.Model(&Token{}).Where("hash = ? AND request_id = ? AND used_at IS NULL", h, id).
			Update("used_at", now)
		if res.Error != nil {
			return fmt.Errorf("models: spend token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrTokenUsed
		}
	}
	if len(ch.RevokeTokens) > 0 {
		err := tx.Model(&Token{}).Where("request_id = ? AND purpose IN ? AND used_at IS NULL", id, ch.RevokeTokens).
			Update("used_at", now).Error
		if err != nil {
			return fmt.Errorf("models: revoke tokens: %w", err)
		}
	}
	return nil
}

// queueMails writes each mail and its send job in the caller's
// transaction: both commit with the change that caused them, or neither.
// With jb the jobs are gathered to be inserted together at the end of the
// transaction (one statement for a whole group); without, at once.
func (s *Store) queueMails(ctx context.Context, tx *gorm.DB, now time.Time, requestID *string, mails []*Mail, jb *jobBuf) error {
	if len(mails) == 0 {
		return nil
	}
	own := jb == nil
	if own {
		jb = &jobBuf{}
	}
	for _, m := range mails {
		m.RequestID, m.CreatedAt, m.Status = requestID, now, MailQueued
		if err := tx.Create(m).Error; err != nil {
			return fmt.Errorf("models: insert mail: %w", err)
		}
		jb.add(SendMailArgs{MailID: m.ID}, &river.InsertOpts{MaxAttempts: s.mailAttempts})
	}
	if own {
		return s.flushJobs(ctx, tx, jb)
	}
	return nil
}

// normTime stores every timestamp as UTC microseconds: SQLite compares
// times as text, so a value with another offset would sort wrongly.
func normTime(v any) any {
	switch t := v.(type) {
	case time.Time:
		return Now(t)
	case *time.Time:
		if t != nil {
			n := Now(*t)
			return &n
		}
	}
	return v
}

// jobBuf gathers the jobs of a transaction so they are inserted with one
// statement: the job engine's insert is costly to prepare on SQLite, and a
// group commit writes many at once.
type jobBuf struct {
	params []river.InsertManyParams
}

func (b *jobBuf) add(args river.JobArgs, opts *river.InsertOpts) {
	b.params = append(b.params, river.InsertManyParams{Args: args, InsertOpts: opts})
}

// flushJobs inserts the gathered jobs in tx.
func (s *Store) flushJobs(ctx context.Context, tx *gorm.DB, b *jobBuf) error {
	if len(b.params) == 0 {
		return nil
	}
	stx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	if _, err := s.jobs.InsertManyTx(ctx, stx, b.params); err != nil {
		return fmt.Errorf("models: queue %d jobs: %w", len(b.params), err)
	}
	b.params = b.params[:0]
	return nil
}
