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

// SignInResult is where a correct password leads: a session, or, for
// staff with two-step sign-in, a pending sign-in that waits for the code.
type SignInResult struct {
	// Session is the new session's cookie value once signed in.
	Session string
	// Pending is the cookie value of a sign-in waiting for its second
	// factor (see SecondFactor); it opens nothing in the workspace.
	Pending string
	Staff   *models.Staff
	// NeedsEnrolment: staff.require_2fa is on and this staff member has
	// no second factor yet; the workspace admits them only to enrol.
	NeedsEnrolment bool
}

// SignIn checks a staff member's password. Without two-step sign-in it
// opens a session, rotating away the browser's old one; with it, it opens
// only a pending sign-in for SecondFactor. client is the caller's network
// address, so that one client cannot try many accounts either.
func (s *Service) SignIn(ctx context.Context, email, password, client, oldSession string) (SignInResult, error) {
	email, _ = NormalizeEmail(email)
	now := s.now()
	keys := signInKeys(email, client)
	// Counted before the check, known account or not, so that a lock
	// says nothing about whether the account exists.
	if err := s.claimAttempt(ctx, keys); err != nil {
		return SignInResult{}, err
	}
	st, err := s.store.StaffByEmail(ctx, email)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return SignInResult{}, err
	}
	hash := dummyHash()
	if st != nil {
		hash = st.PasswordHash
	}
	if !CheckPasswordHash(password, hash) || st == nil || st.Disabled {
		return SignInResult{}, ErrBadCredentials // the claimed attempt stays a failure
	}
	enabled, err := s.TwoFactorEnabled(ctx, st.ID)
	if err != nil {
		return SignInResult{}, err
	}
	if enabled {
		return s.startPending(ctx, st, keys, now)
	}
	session, err := s.openSession(ctx, st, keys, oldSession, "", now)
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Session: session, Staff: st, NeedsEnrolment: s.cfg.Staff.Require2FA}, nil
}

// startPending opens a pending sign-in after a right password, for the
// second factor. The password's attempt is given back, but earlier
// failures are forgiven only once the code is right too: a known password
// must not reset the count of wrong codes.
func (s *Service) startPending(ctx context.Context, st *models.Staff, keys []string, now time.Time) (SignInResult, error) {
	value, hashed := NewToken()
	p := &models.PendingSignIn{Hash: hashed, StaffID: st.ID, CreatedAt: models.Now(now),
		ExpiresAt: models.Now(now.Add(PendingSignInTTL))}
	if err := s.store.CreatePendingSignIn(ctx, p); err != nil {
		return SignInResult{}, err
	}
	if err := s.store.ReleaseLoginAttempt(ctx, keys, now); err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Pending: value, Staff: st}, nil
}

// signInKeys are the throttle keys of a sign-in: the account (by a hash
// of its address, known or not) and the client.
func signInKeys(email, client string) []string {
	return []string{"acct:" + shortHash(email), "ip:" + client}
}

// claimAttempt counts a sign-in step against every key before its secret
// is checked (models.ClaimLoginAttempt), so that guesses sent in parallel
// each spend an attempt; a LockedError while any key is locked. A step
// that fails needs nothing more: it was counted already.
func (s *Service) claimAttempt(ctx context.Context, keys []string) error {
	wait, err := s.store.ClaimLoginAttempt(ctx, keys, s.now, loginLock)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &LockedError{RetryAfter: wait}
	}
	return nil
}

// openSession forgives the keys' failures and creates a session,
// rotating away the browser's old one; pending (a pending sign-in's hash,
// or "") is spent in the same transaction.
func (s *Service) openSession(ctx context.Context, st *models.Staff, keys []string, oldSession, pending string, now time.Time) (string, error) {
	if err := s.store.ClearLoginFailures(ctx, keys); err != nil {
		return "", err
	}
	value, hashed := NewToken()
	sess := &models.Session{Hash: hashed, StaffID: st.ID, CreatedAt: models.Now(now), LastSeenAt: models.Now(now),
		ExpiresAt: models.Now(now.Add(s.cfg.Staff.SessionAbsolute.D()))}
	old := ""
	if WellFormedToken(oldSession) {
		old = HashToken(oldSession)
	}
	var err error
	if pending != "" {
		err = s.store.CompleteSignIn(ctx, pending, now, sess, old)
	} else {
		err = s.store.CreateSession(ctx, sess, old)
	}
	if errors.Is(err, models.ErrNotFound) {
		return "", ErrPendingSignIn
	}
	if err != nil {
		return "", err
	}
	return value, nil
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
