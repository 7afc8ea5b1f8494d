package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"rightsportal/models"
)

// LockedError: too many failed sign-ins; try again after RetryAfter. It
// says nothing about whether the account exists.
type LockedError struct {
	RetryAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("service: sign-in locked for %s", e.RetryAfter.Round(time.Second))
}

// ErrBadCredentials: the address or the password is wrong (never which).
var ErrBadCredentials = errors.New("service: wrong e-mail address or password")

// loginFreeFailures is how many failures a key has before locks begin.
const loginFreeFailures = 5

// loginLock is how long a key stays locked after n failures: free for the
// first few, then 30 s doubling per failure, at most 15 minutes.
func loginLock(n int) time.Duration {
	if n < loginFreeFailures {
		return 0
	}
	d := 30 * time.Second << min(n-loginFreeFailures, 10)
	return min(d, 15*time.Minute)
}

// dummyHash is checked against when the address is unknown, so that an
// unknown account costs the same time as a wrong password.
var dummyHash = sync.OnceValue(func() string { return HashPassword("dummy password for timing") })

// SignIn checks a staff member's password and opens a session, rotating
// away the browser's old one. client is the caller's network address, so
// that one client cannot try many accounts either.
func (s *Service) SignIn(ctx context.Context, email, password, client, oldSession string) (string, *models.Staff, error) {
	email, _ = NormalizeEmail(email)
	now := s.now()
	keys := []string{"acct:" + shortHash(email), "ip:" + client}
	for _, k := range keys {
		t, err := s.store.Throttle(ctx, k)
		if err != nil {
			return "", nil, err
		}
		if t.LockedUntil.After(now) {
			return "", nil, &LockedError{RetryAfter: t.LockedUntil.Sub(now)}
		}
	}
	st, err := s.store.StaffByEmail(ctx, email)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return "", nil, err
	}
	hash := dummyHash()
	if st != nil {
		hash = st.PasswordHash
	}
	if !CheckPasswordHash(password, hash) || st == nil || st.Disabled {
		for _, k := range keys {
			if err := s.store.RecordLoginFailure(ctx, k, now, loginLock); err != nil {
				return "", nil, err
			}
		}
		return "", nil, ErrBadCredentials
	}
	for _, k := range keys {
		if err := s.store.ClearLoginFailures(ctx, k); err != nil {
			return "", nil, err
		}
	}
	value, hashed := NewToken()
	sess := &models.Session{Hash: hashed, StaffID: st.ID, CreatedAt: models.Now(now), LastSeenAt: models.Now(now),
		ExpiresAt: models.Now(now.Add(s.cfg.Staff.SessionAbsolute.D()))}
	old := ""
	if WellFormedToken(oldSession) {
		old = HashToken(oldSession)
	}
	if err := s.store.CreateSession(ctx, sess, old); err != nil {
		return "", nil, err
	}
	return value, st, nil
}

// SessionStaff finds the staff member of a session cookie, and keeps the
// session alive.
func (s *Service) SessionStaff(ctx context.Context, cookie string) (*models.Staff, error) {
	cookie = strings.TrimSpace(cookie)
	if !WellFormedToken(cookie) {
		return nil, ErrUnauthenticated
	}
	now := s.now()
	sess, st, err := s.store.SessionStaff(ctx, HashToken(cookie), now, s.cfg.Staff.SessionIdle.D())
	if errors.Is(err, models.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.TouchSession(ctx, sess, now); err != nil {
		s.log.Warn("could not record session activity", "err", err)
	}
	return st, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, cookie string) error {
	if !WellFormedToken(strings.TrimSpace(cookie)) {
		return nil
	}
	return s.store.DeleteSession(ctx, HashToken(strings.TrimSpace(cookie)))
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
