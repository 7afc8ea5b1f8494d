package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Creating and revoking an API token are audit events of their own: a
// token acts in its owner's name, so who made or stopped one belongs in
// the same hash chain as the decisions taken with it. They concern no
// request, so their RequestID is "".

// CreateAPIToken stores a new token's hash and the audit event ev makes
// of it (the token's id is known only once it is stored), in one
// transaction.
func (s *Store) CreateAPIToken(ctx context.Context, now time.Time, t *APIToken, ev func(*APIToken) *Event) error {
	t.CreatedAt = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("models: insert api token: %w", err)
		}
		return s.appendEvent(tx, tokenEvent(ev(t), now))
	})
}

// APIToken reads one token (never its value).
func (s *Store) APIToken(ctx context.Context, id int64) (*APIToken, error) {
	var t APIToken
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&t).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("api token %d", id))
	}
	return &t, nil
}

// APITokens lists tokens (never their values) with their owners' ids,
// newest first; staffID, when not "", keeps only that staff member's.
func (s *Store) APITokens(ctx context.Context, staffID string) ([]APIToken, error) {
	q := s.r.WithContext(ctx).Order("id DESC")
	if staffID != "" {
		q = q.Where("staff_id = ?", staffID)
	}
	var out []APIToken
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken stops a token from working and appends the audit event
// ev makes of it, in one transaction; a token revoked already (or none)
// is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, now time.Time, ev func(*APIToken) *Event) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t APIToken
		if err := tx.Where("id = ? AND revoked_at IS NULL", id).Take(&t).Error; err != nil {
			return notFound(err, fmt.Sprintf("api token %d", id))
		}
		n, err := s.revokeTokens(tx, []APIToken{t}, now, ev)
		if err == nil && n == 0 {
			err = fmt.Errorf("%w: api token %d was revoked meanwhile", ErrNotFound, id)
		}
		return err
	})
}

// revokeTokens revokes each token still live, with its audit event, and
// counts them. The UPDATE names the live state, so that of two
// revocations racing only one takes effect and is audited.
func (s *Store) revokeTokens(tx *gorm.DB, toks []APIToken, now time.Time, ev func(*APIToken) *Event) (int, error) {
	n := 0
	for i := range toks {
		res := tx.Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", toks[i].ID).Update("revoked_at", Now(now))
		if res.Error != nil {
			return n, fmt.Errorf("models: revoke api token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			continue
		}
		n++
		if err := s.appendEvent(tx, tokenEvent(ev(&toks[i]), now)); err != nil {
			return n, err
		}
	}
	return n, nil
}

// tokenEvent stamps a token's audit event: no request, the change's time.
func tokenEvent(e *Event, now time.Time) *Event {
	e.RequestID, e.CreatedAt = "", Now(now)
	return e
}

// StaffByAPIToken finds the active staff member a token hash belongs to.
// Revoked tokens and disabled accounts are not found.
func (s *Store) StaffByAPIToken(ctx context.Context, hash string) (*Staff, *APIToken, error) {
	var t APIToken
	err := s.r.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", hash).Take(&t).Error
	if err != nil {
		return nil, nil, notFound(err, "api token")
	}
	st, err := s.enabledStaff(ctx, t.StaffID)
	if err != nil {
		return nil, nil, err
	}
	return st, &t, nil
}

// TouchAPIToken records when a token was last used, at most once a
// minute, so that reads do not turn into a write per API call.
func (s *Store) TouchAPIToken(ctx context.Context, t *APIToken, now time.Time) error {
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < time.Minute {
		return nil
	}
	return s.w.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).
		Update("last_used_at", Now(now)).Error
}
