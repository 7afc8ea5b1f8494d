package service

import (
	"bytes"
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpTestSecret is RFC 6238's SHA1 test key, "12345678901234567890".
var totpTestSecret = []byte("12345678901234567890")

func totpTestCode(t *testing.T, at time.Time) string {
	t.Helper()
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(totpTestSecret)
	code, err := totp.GenerateCodeCustom(b32, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestTOTPRFC6238Vector pins the parameters to RFC 6238's SHA1 test
// vector (59 s → 94287082, of which authenticator apps show 6 digits).
func TestTOTPRFC6238Vector(t *testing.T) {
	step, ok := matchTOTP(totpTestSecret, "287082", 0, time.Unix(59, 0))
	if !ok || step != 1 {
		t.Fatalf("RFC 6238 vector: step %d ok %v, want step 1", step, ok)
	}
}

// TestTOTPMatchWindow protects the ±1 step skew: the codes of the steps
// either side match, those further away do not.
func TestTOTPMatchWindow(t *testing.T) {
	now := time.Unix(1_700_000_015, 0) // within step 56666667
	cur := now.Unix() / 30
	for d := int64(-3); d <= 3; d++ {
		code := totpTestCode(t, time.Unix((cur+d)*30, 0))
		step, ok := matchTOTP(totpTestSecret, code, 0, now)
		want := d >= -1 && d <= 1
		if ok != want || (ok && step != cur+d) {
			t.Errorf("code of step %+d: matched %v at %d, want %v", d, ok, step-cur, want)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", " 123456", "１２３４５６"} {
		if _, ok := matchTOTP(totpTestSecret, bad, 0, now); ok {
			t.Errorf("%q matched", bad)
		}
	}
}

// TestTOTPMatchAfterLastStep protects replay refusal in the matcher: a
// code of the last used step or an earlier one never matches.
func TestTOTPMatchAfterLastStep(t *testing.T) {
	now := time.Unix(1_700_000_015, 0)
	cur := now.Unix() / 30
	code := totpTestCode(t, now)
	if _, ok := matchTOTP(totpTestSecret, code, cur, now); ok {
		t.Errorf("the code of the last used step matched")
	}
	prev := totpTestCode(t, now.Add(-30*time.Second))
	if _, ok := matchTOTP(totpTestSecret, prev, cur, now); ok {
		t.Errorf("a code older than the last used step matched")
	}
	next := totpTestCode(t, now.Add(30*time.Second))
	if step, ok := matchTOTP(totpTestSecret, next, cur, now); !ok || step != cur+1 {
		t.Errorf("the next step's code: %v at %d", ok, step)
	}
}

// TestTOTPRecoveryCodes protects the recovery code format: 80 random
// bits, distinct, and accepted as typed (case, dashes, spaces).
func TestTOTPRecoveryCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := newRecoveryCode()
		n, ok := normalizeRecoveryCode(c)
		if !ok || len(n) != 16 || seen[n] || strings.Count(c, "-") != 3 {
			t.Fatalf("code %q → %q %v (seen %v)", c, n, ok, seen[n])
		}
		seen[n] = true
		if m, ok := normalizeRecoveryCode(strings.ToUpper(strings.ReplaceAll(c, "-", " "))); !ok || m != n {
			t.Errorf("typed %q does not normalise to %q", c, n)
		}
	}
	for _, bad := range []string{"", "abcd-efgh-ijkl", "abcd-efgh-ijkl-mno1", "abcd-efgh-ijkl-mnop-q", "123456"} {
		if _, ok := normalizeRecoveryCode(bad); ok {
			t.Errorf("%q accepted as a recovery code", bad)
		}
	}
	if recoveryHash("a", "x") == recoveryHash("b", "x") {
		t.Errorf("a recovery code hashes alike for two accounts")
	}
}

// TestTOTPSealBinding protects the sealed secret: it opens only with the
// derived key and only for the account it was sealed for, and the sealed
// bytes do not hold the secret.
func TestTOTPSealBinding(t *testing.T) {
	s := (&Service{}).WithSecrets(bytes.Repeat([]byte{7}, 32))
	sealed, err := s.sealTOTP("staff-1", totpTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, totpTestSecret) {
		t.Fatal("sealed bytes hold the secret")
	}
	if got, err := s.openTOTP("staff-1", sealed); err != nil || !bytes.Equal(got, totpTestSecret) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.openTOTP("staff-2", sealed); err == nil {
		t.Errorf("a secret sealed for one account opened for another")
	}
	other := (&Service{}).WithSecrets(bytes.Repeat([]byte{8}, 32))
	if _, err := other.openTOTP("staff-1", sealed); err == nil {
		t.Errorf("a secret opened under another master key")
	}
	if _, err := (&Service{}).sealTOTP("staff-1", totpTestSecret); err == nil {
		t.Errorf("sealing without a key worked")
	}
	if _, err := s.openTOTP("staff-1", sealed[:5]); err == nil {
		t.Errorf("a truncated seal opened")
	}
}
