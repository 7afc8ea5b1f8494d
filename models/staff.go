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
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return updateStaff(tx, id, map[string]any{"role": role})
	})
}

// SetStaffDisabled disables or re-enables an account; disabling also ends
// its sessions and revokes its API tokens, each with the audit event ev
// makes of it, in the same transaction, so that it is out at once and
// re-enabling does not bring old tokens back.
func (s *Store) SetStaffDisabled(ctx context.Context, id string, disabled bool, now time.Time, ev func(*APIToken) *Event) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := updateStaff(tx, id, map[string]any{"disabled": disabled}); err != nil || !disabled {
			return err
		}
		var live []APIToken
		if err := tx.Where("staff_id = ? AND revoked_at IS NULL", id).Order("id").Find(&live).Error; err != nil {
			return fmt.Errorf("models: read api tokens: %w", err)
		}
		_, err := s.revokeTokens(tx, live, now, ev)
		return err
	})
}

// SetStaffPassword replaces a password hash and ends every session.
func (s *Store) SetStaffPassword(ctx context.Context, id, hash string) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return updateStaff(tx, id, map[string]any{"password_hash": hash})
	})
}

// updateStaff changes an account within the caller's transaction.
func updateStaff(tx *gorm.DB, id string, set map[string]any) error {
	res := tx.Model(&Staff{}).Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("models: update staff: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: staff %s", ErrNotFound, id)
	}
	// Any change to an account ends its sessions (and sign-ins waiting
	// for their second factor): a disabled account is out at once, and
	// a changed role or password is in force at the next sign-in.
	if err := tx.Where("staff_id = ?", id).Delete(&PendingSignIn{}).Error; err != nil {
		return err
	}
	return tx.Where("staff_id = ?", id).Delete(&Session{}).Error
}

// StaffTOTP is a staff member's second factor (RFC 6238). Secret is
// sealed by the service (AES-GCM under a key derived from the master
// key), never stored in clear. LastStep is the last time step a code was
// accepted for, so that no code works twice. ConfirmedAt is nil while
// enrolment waits for the first code.
type StaffTOTP struct {
	StaffID     string    `gorm:"primaryKey;size:36"`
	Sealed      []byte    `gorm:"not null"`
	LastStep    int64     `gorm:"not null;default:0"`
	CreatedAt   time.Time `gorm:"not null"`
	ConfirmedAt *time.Time
}

// TableName keeps the name singular, like staff.
func (StaffTOTP) TableName() string { return "staff_totp" }

// RecoveryCode is a single-use way past the second factor for staff who
// lost their authenticator; only its hash is stored.
type RecoveryCode struct {
	ID        int64     `gorm:"primaryKey"`
	StaffID   string    `gorm:"size:36;not null;index"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
}

// StaffTOTP reads a staff member's second factor (ErrNotFound: none,
// not even an enrolment in progress).
func (s *Store) StaffTOTP(ctx context.Context, staffID string) (*StaffTOTP, error) {
	var t StaffTOTP
	if err := s.r.WithContext(ctx).Where("staff_id = ?", staffID).Take(&t).Error; err != nil {
		return nil, notFound(err, "totp of staff "+staffID)
	}
	return &t, nil
}

// BeginTOTP stores the sealed secret of an enrolment in progress,
// replacing an earlier unconfirmed one. A confirmed second factor is
// never replaced (ErrConflict): only a reset removes it.
func (s *Store) BeginTOTP(ctx context.Context, staffID string, sealed []byte, now time.Time) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&StaffTOTP{}).Where("staff_id = ? AND confirmed_at IS NOT NULL", staffID).Count(&n).Error; err != nil {
			return fmt.Errorf("models: read totp: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: staff %s has two-step sign-in already", ErrConflict, staffID)
		}
		if err := tx.Where("staff_id = ?", staffID).Delete(&StaffTOTP{}).Error; err != nil {
			return fmt.Errorf("models: replace totp: %w", err)
		}
		if err := tx.Create(&StaffTOTP{StaffID: staffID, Sealed: sealed, CreatedAt: Now(now)}).Error; err != nil {
			return fmt.Errorf("models: insert totp: %w", err)
		}
		return nil
	})
}

// ConfirmTOTP switches an enrolment on: the first code was accepted at
// step, and the recovery codes (hashes) replace any earlier ones, in one
// transaction. ErrConflict when there is no enrolment in progress.
func (s *Store) ConfirmTOTP(ctx context.Context, staffID string, step int64, codeHashes []string, now time.Time) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&StaffTOTP{}).Where("staff_id = ? AND confirmed_at IS NULL", staffID).
			Updates(map[string]any{"confirmed_at": Now(now), "last_step": step})
		if res.Error != nil {
			return fmt.Errorf("models: confirm totp: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: no enrolment in progress for staff %s", ErrConflict, staffID)
		}
		if err := tx.Where("staff_id = ?", staffID).Delete(&RecoveryCode{}).Error; err != nil {
			return fmt.Errorf("models: replace recovery codes: %w", err)
		}
		codes := make([]RecoveryCode, 0, len(codeHashes))
		for _, h := range codeHashes {
			codes = append(codes, RecoveryCode{StaffID: staffID, Hash: h, CreatedAt: Now(now)})
		}
		if len(codes) > 0 {
			if err := tx.Create(&codes).Error; err != nil {
				return fmt.Errorf("models: insert recovery codes: %w", err)
			}
		}
		return nil
	})
}

// UseTOTPStep records that a code of step was accepted; a step at or
// before the last accepted one gives ErrTokenUsed, so a code (or an
// older one) cannot be replayed, even by two sign-ins racing.
func (s *Store) UseTOTPStep(ctx context.Context, staffID string, step int64) error {
	res := s.w.WithContext(ctx).Model(&StaffTOTP{}).
		Where("staff_id = ? AND confirmed_at IS NOT NULL AND last_step < ?", staffID, step).
		Update("last_step", step)
	if res.Error != nil {
		return fmt.Errorf("models: use totp step: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: totp step %d of staff %s", ErrTokenUsed, step, staffID)
	}
	return nil
}

// UseRecoveryCode spends a recovery code; an unknown or spent one gives
// ErrNotFound.
func (s *Store) UseRecoveryCode(ctx context.Context, staffID, hash string, now time.Time) error {
	res := s.w.WithContext(ctx).Model(&RecoveryCode{}).
		Where("staff_id = ? AND hash = ? AND used_at IS NULL", staffID, hash).
		Update("used_at", Now(now))
	if res.Error != nil {
		return fmt.Errorf("models: use recovery code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: recovery code", ErrNotFound)
	}
	return nil
}

// RecoveryCodesLeft counts a staff member's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, staffID string) (int, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&RecoveryCode{}).Where("staff_id = ? AND used_at IS NULL", staffID).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: count recovery codes: %w", err)
	}
	return int(n), nil
}

// TOTPEnabled lists the staff ids with a confirmed second factor.
func (s *Store) TOTPEnabled(ctx context.Context) (map[string]bool, error) {
	var ids []string
	err := s.r.WithContext(ctx).Model(&StaffTOTP{}).Where("confirmed_at IS NOT NULL").Pluck("staff_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("models: read totp: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// ResetStaffTOTP removes a staff member's second factor and recovery
// codes and ends their sessions and pending sign-ins, in one
// transaction: they sign in with the password alone, then enrol again.
func (s *Store) ResetStaffTOTP(ctx context.Context, staffID string) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Staff{}).Where("id = ?", staffID).Count(&n).Error; err != nil {
			return fmt.Errorf("models: read staff: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: staff %s", ErrNotFound, staffID)
		}
		for _, m := range []any{&StaffTOTP{}, &RecoveryCode{}, &Session{}, &PendingSignIn{}} {
			if err := tx.Where("staff_id = ?", staffID).Delete(m).Error; err != nil {
				return fmt.Errorf("models: reset totp: %w", err)
			}
		}
		return nil
	})
}
