package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// CreateStaff adds a staff member; a taken e-mail address gives
// ErrDuplicate.
func (s *Store) CreateStaff(ctx context.Context, st *Staff) error {
	st.CreatedAt = Now(time.Now())
	if err := s.w.WithContext(ctx).Create(st).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("%w: staff %s", ErrDuplicate, st.Email)
		}
		return fmt.Errorf("models: insert staff: %w", err)
	}
	return nil
}

// StaffByEmail reads a staff member by e-mail address.
func (s *Store) StaffByEmail(ctx context.Context, email string) (*Staff, error) {
	var st Staff
	if err := s.r.WithContext(ctx).Where("email = ?", email).Take(&st).Error; err != nil {
		return nil, notFound(err, "staff "+email)
	}
	return &st, nil
}

// StaffByID reads a staff member by id.
func (s *Store) StaffByID(ctx context.Context, id string) (*Staff, error) {
	var st Staff
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&st).Error; err != nil {
		return nil, notFound(err, "staff "+id)
	}
	return &st, nil
}

// CreateAPIToken stores a new token's hash for a staff member.
func (s *Store) CreateAPIToken(ctx context.Context, t *APIToken) error {
	t.CreatedAt = Now(time.Now())
	if err := s.w.WithContext(ctx).Create(t).Error; err != nil {
		return fmt.Errorf("models: insert api token: %w", err)
	}
	return nil
}

// StaffByAPIToken finds the active staff member a token hash belongs to.
// Revoked tokens and disabled accounts are not found.
func (s *Store) StaffByAPIToken(ctx context.Context, hash string) (*Staff, *APIToken, error) {
	var t APIToken
	err := s.r.WithContext(ctx).Where("hash = ? AND revoked_at IS NULL", hash).Take(&t).Error
	if err != nil {
		return nil, nil, notFound(err, "api token")
	}
	st, err := s.StaffByID(ctx, t.StaffID)
	if err != nil {
		return nil, nil, err
	}
	if st.Disabled {
		return nil, nil, fmt.Errorf("%w: staff %s is disabled", ErrNotFound, st.ID)
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

// AllStaff lists every staff member, by name.
func (s *Store) AllStaff(ctx context.Context) ([]Staff, error) {
	var out []Staff
	if err := s.r.WithContext(ctx).Order("name, email").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read staff: %w", err)
	}
	return out, nil
}

// SetStaffRole changes a staff member's role.
func (s *Store) SetStaffRole(ctx context.Context, id, role string) error {
	return s.updateStaff(ctx, id, map[string]any{"role": role})
}

// SetStaffDisabled disables or re-enables an account; disabling also ends
// its sessions and revokes its API tokens (in the same transaction), so it
// is out at once and re-enabling does not bring old tokens back.
func (s *Store) SetStaffDisabled(ctx context.Context, id string, disabled bool) error {
	if err := s.updateStaff(ctx, id, map[string]any{"disabled": disabled}); err != nil || !disabled {
		return err
	}
	return s.w.WithContext(ctx).Model(&APIToken{}).Where("staff_id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", Now(time.Now())).Error
}

// SetStaffPassword replaces a password hash and ends every session.
func (s *Store) SetStaffPassword(ctx context.Context, id, hash string) error {
	return s.updateStaff(ctx, id, map[string]any{"password_hash": hash})
}

func (s *Store) updateStaff(ctx context.Context, id string, set map[string]any) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Staff{}).Where("id = ?", id).Updates(set)
		if res.Error != nil {
			return fmt.Errorf("models: update staff: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: staff %s", ErrNotFound, id)
		}
		// Any change to an account ends its sessions: a disabled account
		// is out at once, and a changed role or password is in force at
		// the next sign-in.
		return tx.Where("staff_id = ?", id).Delete(&Session{}).Error
	})
}

// APITokens lists tokens (never their values) with their owners' ids,
// newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	var out []APIToken
	if err := s.r.WithContext(ctx).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken stops a token from working.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, now time.Time) error {
	res := s.w.WithContext(ctx).Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", Now(now))
	if res.Error != nil {
		return fmt.Errorf("models: revoke api token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: api token %d", ErrNotFound, id)
	}
	return nil
}
