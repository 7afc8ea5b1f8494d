package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Mail reads one queued or sent mail, secrets included, for the sender.
func (s *Store) Mail(ctx context.Context, id int64) (*Mail, error) {
	var m Mail
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&m).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("mail %d", id))
	}
	return &m, nil
}

// MailAttempt records a try that did not deliver and why.
func (s *Store) MailAttempt(ctx context.Context, id int64, reason string) error {
	return s.markMail(ctx, id, map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": clip(reason, 500)})
}

// MailSent marks a mail delivered and drops its secrets: from now on only
// the placeholder text remains, which staff may read.
func (s *Store) MailSent(ctx context.Context, id int64, at time.Time) error {
	return s.markMail(ctx, id, map[string]any{
		"status": MailSent, "sent_at": Now(at), "sealed": nil,
		"attempts": gorm.Expr("attempts + 1"), "last_error": "",
	})
}

// MailFailed marks a mail that will never be delivered (a permanent
// refusal, or every attempt used) and drops its secrets.
func (s *Store) MailFailed(ctx context.Context, id int64, reason string) error {
	return s.markMail(ctx, id, map[string]any{
		"status": MailFailed, "sealed": nil, "attempts": gorm.Expr("attempts + 1"), "last_error": clip(reason, 500),
	})
}

// markMail writes the send worker's outcome for one mail. The marks share
// the group commit with intake (see writeSmall): at a thousand mails a
// second, a commit of their own each would cost the one SQLite writer a
// thousand disk syncs a second. The worker still hears of the mark only
// once it is on disk.
func (s *Store) markMail(ctx context.Context, id int64, set map[string]any) error {
	return s.writeSmall(ctx, func(tx *gorm.DB) error {
		return tx.Model(&Mail{}).Where("id = ?", id).Updates(set).Error
	})
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
