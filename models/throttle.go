package models

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// LoginThrottle counts recent failed sign-in steps per key (an account's
// address or a client address), in the database so that every instance
// sees the same count.
type LoginThrottle struct {
	Key         string    `gorm:"column:throttle_key;primaryKey;size:80"`
	Failures    int       `gorm:"not null"`
	LastFailure time.Time `gorm:"not null"`
	LockedUntil time.Time `gorm:"not null"`
}

// forgiveAfter is how long a key must stay quiet for its old failures to
// be forgotten.
const forgiveAfter = 24 * time.Hour

// ClaimLoginAttempt counts one sign-in step against every key *before*
// its secret is checked, and answers how long the caller must wait
// instead (0: go ahead). A step that is let through counts as a failure
// until the caller releases or clears it; so n guesses sent at once
// spend n attempts, and once the count locks a key the rest are refused
// without a check. Checking the lock first and counting the failure
// after the (slow) check let every guess in flight through. A locked key
// counts nothing, so refused steps do not lengthen the lock. lock says
// how long a key with n failures is locked.
//
// clock is read once the rows are held, not before: claims then see the
// time move forward in the order they are served, and one that waited
// for the rows does not take a lock set a moment after its own start for
// one still ahead of it.
func (s *Store) ClaimLoginAttempt(ctx context.Context, keys []string, clock func() time.Time, lock func(n int) time.Duration) (time.Duration, error) {
	var wait time.Duration
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		rows, err := s.lockThrottles(tx, keys)
		if err != nil {
			return err
		}
		now := Now(clock())
		for _, t := range rows {
			if t.LockedUntil.After(now) {
				wait = max(wait, t.LockedUntil.Sub(now))
			}
		}
		if wait > 0 {
			return nil
		}
		for _, t := range rows {
			n := t.Failures + 1
			if now.Sub(t.LastFailure) > forgiveAfter {
				n = 1 // a quiet day forgives old failures
			}
			res := tx.Model(&LoginThrottle{}).Where("throttle_key = ?", t.Key).
				Updates(map[string]any{"failures": n, "last_failure": now, "locked_until": now.Add(lock(n))})
			if res.Error != nil {
				return fmt.Errorf("models: count sign-in attempt: %w", res.Error)
			}
		}
		return nil
	})
	return wait, err
}

// lockThrottles reads the keys' rows, creating missing ones, and holds
// them until the transaction ends: on PostgreSQL with FOR UPDATE, taken
// in one order so that two claims never wait on each other crosswise; on
// SQLite the one writer (BEGIN IMMEDIATE) serialises claims already.
//
// A new row has no failures and no lock (times at the zero time).
func (s *Store) lockThrottles(tx *gorm.DB, keys []string) ([]LoginThrottle, error) {
	keys = slices.Sorted(slices.Values(keys))
	for _, k := range keys {
		err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&LoginThrottle{Key: k}).Error
		if err != nil {
			return nil, fmt.Errorf("models: create sign-in throttle: %w", err)
		}
	}
	q := tx.Where("throttle_key IN ?", keys).Order("throttle_key")
	if s.driver == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []LoginThrottle
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: read sign-in throttles: %w", err)
	}
	return rows, nil
}

// ReleaseLoginAttempt gives back an attempt ClaimLoginAttempt counted
// when its step was right but the sign-in goes on (a right password
// that waits for its second factor): one failure less, and no lock. The
// claim passed only while every key was unlocked, so a lock on them now
// was set by this claim or by one that raced it, and the failures those
// counted stay counted. Earlier failures are forgiven only by
// ClearLoginFailures, once the whole sign-in succeeds.
func (s *Store) ReleaseLoginAttempt(ctx context.Context, keys []string, now time.Time) error {
	res := s.w.WithContext(ctx).Model(&LoginThrottle{}).Where("throttle_key IN ?", keys).
		Updates(map[string]any{"failures": gorm.Expr("CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END"),
			"locked_until": Now(now)})
	if res.Error != nil {
		return fmt.Errorf("models: release sign-in attempt: %w", res.Error)
	}
	return nil
}

// ClearLoginFailures forgets the keys' failures after a successful
// sign-in.
func (s *Store) ClearLoginFailures(ctx context.Context, keys []string) error {
	if err := s.w.WithContext(ctx).Where("throttle_key IN ?", keys).Delete(&LoginThrottle{}).Error; err != nil {
		return fmt.Errorf("models: clear sign-in failures: %w", err)
	}
	return nil
}
