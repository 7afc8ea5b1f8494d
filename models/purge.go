package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// purge removes a request's personal data and keeps an anonymous stub:
// type, jurisdiction, state and dates stay for statistics. Files of the
// request (its package, added files, exports, attachments) are the service's to
// remove: the database keeps no file contents. The audit
// events stay too, without their free text: each keeps its content hash,
// so the chain still verifies.
func purge(tx *gorm.DB, id string, now time.Time) error {
	steps := []struct {
		what string
		run  func() error
	}{
		{"request", func() error {
			return tx.Model(&Request{}).Where("id = ?", id).Updates(map[string]any{
				"email": "", "full_name": "", "details": "{}", "purged_at": now}).Error
		}},
		{"tokens", func() error { return tx.Where("request_id = ?", id).Delete(&Token{}).Error }},
		{"inbound", func() error { return tx.Where("request_id = ?", id).Delete(&Inbound{}).Error }},
		{"notes", func() error { return tx.Where("request_id = ?", id).Delete(&Note{}).Error }},
		// Mails keep kind, status and dates; a mail still queued is
		// cancelled (the worker skips anything not queued).
		{"mails", func() error {
			return tx.Model(&Mail{}).Where("request_id = ?", id).Updates(map[string]any{
				"to_addr": "", "reply_to": "", "subject": "", "text_body": "", "html_body": "", "sealed": nil,
				"status":     gorm.Expr("CASE WHEN status = ? THEN ? ELSE status END", MailQueued, MailFailed),
				"last_error": gorm.Expr("CASE WHEN status = ? THEN ? ELSE last_error END", MailQueued, "cancelled: the request's data was purged"),
			}).Error
		}},
		{"tasks", func() error {
			return tx.Model(&Task{}).Where("request_id = ?", id).Updates(map[string]any{
				"output": "", "evidence": "", "value": "", "error": ""}).Error
		}},
		{"package", func() error { return tx.Where("request_id = ?", id).Delete(&Package{}).Error }},
		{"package files", func() error { return tx.Where("request_id = ?", id).Delete(&PackageFile{}).Error }},
		{"download codes", func() error { return tx.Where("request_id = ?", id).Delete(&DownloadCode{}).Error }},
		{"attachments", func() error { return tx.Where("request_id = ?", id).Delete(&Attachment{}).Error }},
		{"events", func() error {
			return tx.Model(&Event{}).Where("request_id = ?", id).Updates(map[string]any{"reason": "", "message": ""}).Error
		}},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			return fmt.Errorf("models: purge %s of %s: %w", st.what, id, err)
		}
	}
	return nil
}

// Candidates selects requests for the scheduled work, oldest due first.
type Candidates struct {
	Statuses []string
	// Each non-zero bound adds its condition.
	VerifyByBefore time.Time // verify_by < t
	CreatedBefore  time.Time // created_at < t
	DueBefore      time.Time // due_at < t
	ClosedBefore   time.Time // closed_at < t
	NotReminded    bool      // reminded_at IS NULL
	DueNotReminded bool      // not reminded since the due date last moved
	RemindWindow   time.Duration
	NotEscalated   bool // not escalated for the current due date
	NotWarned      bool // extension_warned_at IS NULL
	NotExtended    bool
	NotPaused      bool
	NotPurged      bool
	// Paused keeps requests whose clock is or was stopped: their due
	// date moved on, while the last day to announce an extension did not.
	Paused bool
	// AfterDue and AfterID, when AfterID is set, continue after that row
	// in (due_at, id) order: the next batch of a walk over all of them.
	AfterDue time.Time
	AfterID  string
	Limit    int
}

// FindCandidates returns up to Limit requests matching c.
func (s *Store) FindCandidates(ctx context.Context, c Candidates) ([]Request, error) {
	q := s.r.WithContext(ctx).Model(&Request{})
	if len(c.Statuses) > 0 {
		q = q.Where("status IN ?", c.Statuses)
	}
	for cond, t := range map[string]time.Time{"verify_by < ?": c.VerifyByBefore, "created_at < ?": c.CreatedBefore,
		"due_at < ?": c.DueBefore, "closed_at < ?": c.ClosedBefore} {
		if !t.IsZero() {
			q = q.Where(cond, Now(t))
		}
	}
	flags := map[string]bool{"reminded_at IS NULL": c.NotReminded, "extension_warned_at IS NULL": c.NotWarned,
		"extended = false": c.NotExtended, "paused_at IS NULL": c.NotPaused, "purged_at IS NULL": c.NotPurged,
		"(paused_at IS NOT NULL OR paused_days > 0)":               c.Paused,
		"(escalated_for IS NULL OR escalated_for <> due_at)":       c.NotEscalated,
		"(due_reminded_for IS NULL OR due_reminded_for <> due_at)": c.DueNotReminded}
	for cond, on := range flags {
		if on {
			q = q.Where(cond)
		}
	}
	var out []Request
	if c.AfterID != "" {
		q = q.Where("(due_at, id) > (?, ?)", Now(c.AfterDue), c.AfterID)
	}
	if err := q.Order("due_at, id").Limit(max(c.Limit, 1)).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: find candidates: %w", err)
	}
	return out, nil
}

// Admins lists active admins, for escalations.
func (s *Store) Admins(ctx context.Context) ([]Staff, error) {
	var out []Staff
	err := s.r.WithContext(ctx).Where("role = ? AND disabled = ?", RoleAdmin, false).Order("email").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: read admins: %w", err)
	}
	return out, nil
}
