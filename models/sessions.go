package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is a signed-in staff member's browser. Only the hash of the
// cookie value is stored, in the database, so that several instances
// serve one team and a stolen database holds no usable session.
type Session struct {
	Hash       string    `gorm:"primaryKey;size:64"`
	StaffID    string    `gorm:"size:36;not null;index"`
	CreatedAt  time.Time `gorm:"not null"`
	LastSeenAt time.Time `gorm:"not null"`
	// ExpiresAt is the absolute end, whatever the activity.
	ExpiresAt time.Time `gorm:"not null;index"`
}

// CreateSession stores a new session; old (which may be "") is deleted in
// the same transaction: signing in rotates the session.
func (s *Store) CreateSession(ctx context.Context, sess *Session, old string) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if old != "" {
			if err := tx.Where("hash = ?", old).Delete(&Session{}).Error; err != nil {
				return fmt.Errorf("models: rotate session: %w", err)
			}
		}
		if err := tx.Create(sess).Error; err != nil {
			return fmt.Errorf("models: create session: %w", err)
		}
		return nil
	})
}

// SessionStaff finds the active staff member of a live session: not past
// its absolute end, not idle longer than idle, account not disabled.
func (s *Store) SessionStaff(ctx context.Context, hash string, now time.Time, idle time.Duration) (*Session, *Staff, error) {
	var sess Session
	err := s.r.WithContext(ctx).Where("hash = ? AND expires_at > ? AND last_seen_at > ?",
		hash, Now(now), Now(now.Add(-idle))).Take(&sess).Error
	if err != nil {
		return nil, nil, notFound(err, "session")
	}
	st, err := s.enabledStaff(ctx, sess.StaffID)
	if err != nil {
		return nil, nil, err
	}
	return &sess, st, nil
}

// TouchSession records activity, at most once a minute per session.
func (s *Store) TouchSession(ctx context.Context, sess *Session, now time.Time) error {
	if now.Sub(sess.LastSeenAt) < time.Minute {
		return nil
	}
	return s.w.WithContext(ctx).Model(&Session{}).Where("hash = ?", sess.Hash).
		Update("last_seen_at", Now(now)).Error
}

// DeleteSession signs a browser out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return s.w.WithContext(ctx).Where("hash = ?", hash).Delete(&Session{}).Error
}

// DeleteStaffSessions signs a staff member out everywhere (disabled
// account, changed role).
func (s *Store) DeleteStaffSessions(ctx context.Context, staffID string) error {
	return s.w.WithContext(ctx).Where("staff_id = ?", staffID).Delete(&Session{}).Error
}

// PendingSignIn is a sign-in that passed the password and waits for the
// second factor. It is not a session: nothing in the workspace accepts
// it, and it lives minutes. Only the hash of its cookie is stored.
type PendingSignIn struct {
	Hash      string    `gorm:"primaryKey;size:64"`
	StaffID   string    `gorm:"size:36;not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// CreatePendingSignIn stores a pending sign-in and sweeps expired ones.
func (s *Store) CreatePendingSignIn(ctx context.Context, p *PendingSignIn) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at <= ?", p.CreatedAt).Delete(&PendingSignIn{}).Error; err != nil {
			return fmt.Errorf("models: sweep pending sign-ins: %w", err)
		}
		if err := tx.Create(p).Error; err != nil {
			return fmt.Errorf("models: create pending sign-in: %w", err)
		}
		return nil
	})
}

// PendingSignIn reads a live pending sign-in.
func (s *Store) PendingSignIn(ctx context.Context, hash string, now time.Time) (*PendingSignIn, error) {
	var p PendingSignIn
	err := s.r.WithContext(ctx).Where("hash = ? AND expires_at > ?", hash, Now(now)).Take(&p).Error
	if err != nil {
		return nil, notFound(err, "pending sign-in")
	}
	return &p, nil
}

// CompleteSignIn turns a pending sign-in into a session: the pending
// one is spent (ErrNotFound when it expired or was spent meanwhile), the
// browser's old session (old, may be "") ends, and sess is created, in
// one transaction.
func (s *Store) CompleteSignIn(ctx context.Context, pending string, now time.Time, sess *Session, old string) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("hash = ? AND expires_at > ?", pending, Now(now)).Delete(&PendingSignIn{})
		if res.Error != nil {
			return fmt.Errorf("models: spend pending sign-in: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: pending sign-in", ErrNotFound)
		}
		if old != "" {
			if err := tx.Where("hash = ?", old).Delete(&Session{}).Error; err != nil {
				return fmt.Errorf("models: rotate session: %w", err)
			}
		}
		if err := tx.Create(sess).Error; err != nil {
			return fmt.Errorf("models: create session: %w", err)
		}
		return nil
	})
}

// enabledStaff is the staff member a session or an API token speaks for:
// a disabled account counts as not found, so neither opens anything.
func (s *Store) enabledStaff(ctx context.Context, id string) (*Staff, error) {
	st, err := s.StaffByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Disabled {
		return nil, fmt.Errorf("%w: staff %s is disabled", ErrNotFound, st.ID)
	}
	return st, nil
}
