package service

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"rightsportal/models"
	"rightsportal/workflow"
)

// ErrUnauthenticated: the credentials do not name an active staff member.
var ErrUnauthenticated = errors.New("service: not signed in")

// MinPasswordLen is the shortest staff password accepted (NIST 800-63B
// asks for at least 8; staff hold other people's data, so 12).
const MinPasswordLen = 12

// AddStaff creates a staff account. The password is checked against the
// length rule and the list of common passwords, and stored as argon2id.
func (s *Service) AddStaff(ctx context.Context, email, name, role, password string) (*models.Staff, error) {
	errs := map[string]string{}
	email, msg := NormalizeEmail(email)
	if msg != "" {
		errs["email"] = msg
	}
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || workflow.CheckText(name, workflow.MaxNameLen, false) != "" {
		errs["name"] = "Enter a name of at most 200 characters."
	}
	if role != models.RoleAdmin && role != models.RoleReviewer {
		errs["role"] = "Choose admin or reviewer."
	}
	if m := CheckPassword(password); m != "" {
		errs["password"] = m
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("service: new id: %w", err)
	}
	st := &models.Staff{ID: id.String(), Email: email, Name: name, Role: role, PasswordHash: HashPassword(password)}
	if err := s.store.CreateStaff(ctx, st); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return nil, &ValidationError{Fields: map[string]string{"email": "A staff member with this address exists already."}}
		}
		return nil, err
	}
	return st, nil
}

// CheckPassword returns "" for an acceptable password, otherwise why not.
func CheckPassword(p string) string {
	switch {
	case len([]rune(p)) < MinPasswordLen:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLen)
	case len(p) > 256:
		return "Use at most 256 characters."
	case commonPassword(p):
		return "This password is among the most common ones; choose another."
	}
	return ""
}

// GeneratePassword makes a password for a new account: 18 random bytes,
// URL-safe base64 (24 characters).
func GeneratePassword() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// argon2id parameters: OWASP's recommended m=19 MiB, t=2, p=1. RFC
// 9106's 64 MiB option cost a small VM 64 MiB of RSS per sign-in in
// flight; this keeps the portal within its memory budget while still
// costing an attacker with the hash tens of milliseconds per guess.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	// argonMaxMemory refuses stored hashes that ask for more (a tampered
	// row must not make one sign-in allocate gigabytes).
	argonMaxMemory = 256 * 1024
)

// argonSlots lets two hashes run at once in the whole process: argon2's
// memory is the process's, so a burst of sign-ins waits instead of
// multiplying it.
var argonSlots = make(chan struct{}, 2)

func argonKey(p string, salt []byte, t, m uint32, threads uint8, n uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey([]byte(p), salt, t, m, threads, n)
}

// HashPassword returns an encoded argon2id hash with its parameters.
func HashPassword(p string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argonKey(p, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPasswordHash reports whether p matches an encoded argon2id hash.
// The parameters come from the hash, so hashes made with older settings
// keep working.
func CheckPasswordHash(p, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var th uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil {
		return false
	}
	if m == 0 || m > argonMaxMemory || t == 0 || t > 10 || th == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argonKey(p, salt, t, m, th, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// touchWait bounds the wait for a best-effort bookkeeping write (a
// token's last use), so that a busy database does not hold a request for
// it.
const touchWait = time.Second

// APITokenPrefix starts every API token, so that a leaked one is easy to
// recognise in a scanner or a log.
const APITokenPrefix = "rp_"

// AuthenticateAPIToken finds the active staff member a bearer token
// belongs to and what the token may do. An expired token is refused like
// an unknown one.
func (s *Service) AuthenticateAPIToken(ctx context.Context, value string) (Grant, error) {
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, APITokenPrefix) || !WellFormedToken(value[len(APITokenPrefix):]) {
		return Grant{}, ErrUnauthenticated
	}
	st, tok, err := s.store.StaffByAPIToken(ctx, HashToken(value))
	if errors.Is(err, models.ErrNotFound) {
		return Grant{}, ErrUnauthenticated
	}
	if err != nil {
		return Grant{}, err
	}
	if tok.ExpiresAt != nil && !s.now().Before(*tok.ExpiresAt) {
		return Grant{}, ErrUnauthenticated
	}
	// The last-used mark is bookkeeping: while the database is busy it is
	// not worth holding the request for (the action itself answers 503).
	tctx, cancel := context.WithTimeout(ctx, touchWait)
	defer cancel()
	if err := s.store.TouchAPIToken(tctx, tok, s.now()); err != nil {
		s.log.Warn("could not record api token use", "err", err)
	}
	return grantOf(st, tok), nil
}
