package service

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"rightsportal/models"
)

// Two-step sign-in follows RFC 6238 with the parameters every
// authenticator app understands: 30-second steps, 6 digits, HMAC-SHA1,
// and a code of the step before or after accepted for clock drift.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1
	// totpSecretSize is 160 bits, RFC 4226's recommendation for SHA1.
	totpSecretSize = 20
	// recoveryCodeCount recovery codes are issued at enrolment.
	recoveryCodeCount = 10
)

// PendingSignInTTL is how long a correct password waits for its code.
const PendingSignInTTL = 5 * time.Minute

var (
	// ErrSecondFactorWrong: the code is wrong, or was used already. It
	// counts towards the sign-in lock like a wrong password.
	ErrSecondFactorWrong = errors.New("service: the code is wrong or was used already")
	// ErrPendingSignIn: the pending sign-in expired, was spent, or never
	// was; sign in with the password again.
	ErrPendingSignIn = errors.New("service: sign in again")
	// ErrTwoFactorOn: the staff member has two-step sign-in already.
	ErrTwoFactorOn = errors.New("service: two-step sign-in is on already")
)

// WithSecrets gives the service the master key, from which it derives
// the keys that seal TOTP and webhook secrets at rest.
func (s *Service) WithSecrets(master []byte) *Service {
	s.totpKey = DeriveKey(master, "totp")
	s.hookKey = DeriveKey(master, "webhooks")
	return s
}

// Enrolment is what a staff member needs to add the portal to an
// authenticator app: the otpauth:// URI (to type in, or as a QR code).
type Enrolment struct {
	URI string
	// QR is the URI as a PNG image.
	QR []byte
}

// TwoFactorEnabled reports whether a staff member has a confirmed second
// factor.
func (s *Service) TwoFactorEnabled(ctx context.Context, staffID string) (bool, error) {
	t, err := s.store.StaffTOTP(ctx, staffID)
	if errors.Is(err, models.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.ConfirmedAt != nil, nil
}

// RecoveryCodesLeft counts a staff member's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, staffID string) (int, error) {
	return s.store.RecoveryCodesLeft(ctx, staffID)
}

// BeginTwoFactor starts (or, after a reload, continues) enrolment: a new
// secret is made and stored sealed until the first code confirms it.
func (s *Service) BeginTwoFactor(ctx context.Context, actor *models.Staff) (*Enrolment, error) {
	t, err := s.store.StaffTOTP(ctx, actor.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, err
	}
	if t != nil && t.ConfirmedAt != nil {
		return nil, ErrTwoFactorOn
	}
	var secret []byte
	if t != nil {
		// The same secret until confirmed, so that a reload does not
		// invalidate what the app scanned a moment ago.
		secret, _ = s.openTOTP(actor.ID, t.Sealed)
	}
	if len(secret) != totpSecretSize {
		secret = make([]byte, totpSecretSize)
		rand.Read(secret)
		sealed, err := s.sealTOTP(actor.ID, secret)
		if err != nil {
			return nil, err
		}
		if err := s.store.BeginTOTP(ctx, actor.ID, sealed, s.now()); err != nil {
			if errors.Is(err, models.ErrConflict) {
				return nil, ErrTwoFactorOn
			}
			return nil, err
		}
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Organisation.Name, AccountName: actor.Email,
		Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Secret: secret})
	if err != nil {
		return nil, fmt.Errorf("service: totp key: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("service: totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("service: totp qr code: %w", err)
	}
	return &Enrolment{URI: key.URL(), QR: buf.Bytes()}, nil
}

// ConfirmTwoFactor checks the first code from the app and switches
// two-step sign-in on. It returns the recovery codes, to be shown once:
// only their hashes are kept.
func (s *Service) ConfirmTwoFactor(ctx context.Context, actor *models.Staff, code string) ([]string, error) {
	t, err := s.store.StaffTOTP(ctx, actor.ID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, ErrSecondFactorWrong // no enrolment in progress: nothing to confirm
	}
	if err != nil {
		return nil, err
	}
	if t.ConfirmedAt != nil {
		return nil, ErrTwoFactorOn
	}
	secret, err := s.openTOTP(actor.ID, t.Sealed)
	if err != nil {
		return nil, err
	}
	step, ok := matchTOTP(secret, strings.Join(strings.Fields(code), ""), 0, s.now())
	if !ok {
		return nil, ErrSecondFactorWrong
	}
	codes := make([]string, recoveryCodeCount)
	hashes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		norm, _ := normalizeRecoveryCode(codes[i])
		hashes[i] = recoveryHash(actor.ID, norm)
	}
	if err := s.store.ConfirmTOTP(ctx, actor.ID, step, hashes, s.now()); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return nil, ErrTwoFactorOn
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "staff turned on two-step sign-in", "staff", actor.ID)
	return codes, nil
}

// PendingStaff is the staff member a pending sign-in belongs to, for the
// page that asks for the code.
func (s *Service) PendingStaff(ctx context.Context, pending string) (*models.Staff, error) {
	p, err := s.pending(ctx, strings.TrimSpace(pending))
	if err != nil {
		return nil, err
	}
	st, err := s.store.StaffByID(ctx, p.StaffID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && st.Disabled) {
		return nil, ErrPendingSignIn
	}
	return st, err
}

func (s *Service) pending(ctx context.Context, value string) (*models.PendingSignIn, error) {
	if !WellFormedToken(value) {
		return nil, ErrPendingSignIn
	}
	p, err := s.store.PendingSignIn(ctx, HashToken(value), s.now())
	if errors.Is(err, models.ErrNotFound) {
		return nil, ErrPendingSignIn
	}
	return p, err
}

// SecondFactor completes a pending sign-in with a TOTP code or a
// recovery code and opens the session. Wrong codes count towards the
// same lock as wrong passwords (the account's and the client's).
func (s *Service) SecondFactor(ctx context.Context, pending, code, client, oldSession string) (SignInResult, error) {
	pending = strings.TrimSpace(pending)
	st, err := s.PendingStaff(ctx, pending)
	if err != nil {
		return SignInResult{}, err
	}
	now := s.now()
	keys := signInKeys(st.Email, client)
	// Counted before the code is checked, as a password is (claimAttempt);
	// a wrong code leaves it counted.
	if err := s.claimAttempt(ctx, keys); err != nil {
		return SignInResult{}, err
	}
	if err := s.checkSecondFactor(ctx, st, code, now); err != nil {
		return SignInResult{}, err
	}
	session, err := s.openSession(ctx, st, keys, oldSession, HashToken(pending), now)
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Session: session, Staff: st}, nil
}

// checkSecondFactor accepts a TOTP code of a step after the last one
// used, or an unused recovery code, and spends it.
func (s *Service) checkSecondFactor(ctx context.Context, st *models.Staff, code string, now time.Time) error {
	code = strings.Join(strings.Fields(code), "")
	if isTOTPCode(code) {
		t, err := s.store.StaffTOTP(ctx, st.ID)
		if errors.Is(err, models.ErrNotFound) || (err == nil && t.ConfirmedAt == nil) {
			return ErrSecondFactorWrong
		}
		if err != nil {
			return err
		}
		secret, err := s.openTOTP(st.ID, t.Sealed)
		if err != nil {
			return err
		}
		step, ok := matchTOTP(secret, code, t.LastStep, now)
		if !ok {
			return ErrSecondFactorWrong
		}
		if err := s.store.UseTOTPStep(ctx, st.ID, step); errors.Is(err, models.ErrTokenUsed) {
			return ErrSecondFactorWrong // a racing sign-in used it first
		} else if err != nil {
			return err
		}
		return nil
	}
	norm, ok := normalizeRecoveryCode(code)
	if !ok {
		return ErrSecondFactorWrong
	}
	err := s.store.UseRecoveryCode(ctx, st.ID, recoveryHash(st.ID, norm), now)
	if errors.Is(err, models.ErrNotFound) {
		return ErrSecondFactorWrong
	}
	if err == nil {
		s.log.InfoContext(ctx, "staff signed in with a recovery code", "staff", st.ID)
	}
	return err
}

// ResetTwoFactor lets an admin remove another staff member's second
// factor (a lost phone): their sessions end, and they sign in with the
// password alone and enrol again. It is logged with who did it.
func (s *Service) ResetTwoFactor(ctx context.Context, actor *models.Staff, staffID string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if staffID == actor.ID {
		return &ValidationError{Fields: map[string]string{"2fa": "You cannot reset your own two-step sign-in; ask another admin, or use a recovery code."}}
	}
	if err := s.store.ResetStaffTOTP(ctx, staffID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "admin reset two-step sign-in", "actor", actor.ID, "staff", staffID)
	return nil
}

// matchTOTP finds the time step, after the step last used, whose code is
// code: the current step or one either side of it.
func matchTOTP(secret []byte, code string, last int64, now time.Time) (int64, bool) {
	if !isTOTPCode(code) {
		return 0, false
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	cur := now.Unix() / totpPeriod
	for _, step := range []int64{cur, cur - totpSkew, cur + totpSkew} {
		if step <= last {
			continue
		}
		want, err := totp.GenerateCodeCustom(b32, time.Unix(step*totpPeriod, 0), opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

func isTOTPCode(code string) bool {
	if len(code) != totpDigits.Length() {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// newRecoveryCode is 80 random bits in the token alphabet, written in
// groups of four: abcd-efgh-ijkl-mnop.
func newRecoveryCode() string {
	var b [10]byte
	rand.Read(b[:])
	s := strings.ToLower(tokenEncoding.EncodeToString(b[:]))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeRecoveryCode accepts a recovery code as typed: any case, with
// or without the dashes and spaces.
func normalizeRecoveryCode(code string) (string, bool) {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(c) != 16 {
		return "", false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return "", false
		}
	}
	return c, true
}

// recoveryHash binds a recovery code to its owner: the same code of
// another account does not match.
func recoveryHash(staffID, normalized string) string {
	return HashToken(staffID + ":" + normalized)
}

// sealTOTP encrypts a TOTP secret with AES-256-GCM; the staff id is the
// additional data, so a sealed secret copied to another account does not
// open.
func (s *Service) sealTOTP(staffID string, secret []byte) ([]byte, error) {
	aead, err := s.totpAEAD()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, secret, []byte("totp:"+staffID)), nil
}

func (s *Service) openTOTP(staffID string, sealed []byte) ([]byte, error) {
	aead, err := s.totpAEAD()
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("service: sealed totp secret is truncated")
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte("totp:"+staffID))
	if err != nil {
		return nil, fmt.Errorf("service: totp secret does not open with this key: %w", err)
	}
	return plain, nil
}

func (s *Service) totpAEAD() (cipher.AEAD, error) {
	if len(s.totpKey) == 0 {
		return nil, errors.New("service: no secret key for two-step sign-in (WithSecrets)")
	}
	block, err := aes.NewCipher(s.totpKey)
	if err != nil {
		return nil, fmt.Errorf("service: totp key: %w", err)
	}
	return cipher.NewGCM(block)
}
