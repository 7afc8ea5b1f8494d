package service_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"rightsportal/service"
	"rightsportal/workflow"
)

// fzTokenAlphabet is SPEC §8's token alphabet as this portal writes it:
// lower-case base32 (RFC 4648) without padding.
const fzTokenAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// fzTokenShape is what a token looks like, checked byte by byte without
// the code under test.
func fzTokenShape(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(fzTokenAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// fzASCIIUpper upper-cases the ASCII letters only, as a mail system or a
// person retyping a link may do.
func fzASCIIUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// FuzzToken: WellFormedToken accepts exactly 32 characters of [a-z2-7];
// HashToken is 64 lower-case hex digits of SHA-256 over the lower-cased
// value, so a token survives a change of case; every NewToken is well
// formed and hashes as HashToken says.
func FuzzToken(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuvwxyz234567")
	f.Add("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	f.Fuzz(func(t *testing.T, s string) {
		ok := service.WellFormedToken(s)
		if ok != fzTokenShape(s) {
			t.Fatalf("WellFormedToken(%q) = %v; a token is exactly 32 characters of a-z and 2-7", s, ok)
		}
		h := service.HashToken(s)
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Fatalf("HashToken(%q) = %q, not 64 lower-case hex digits", s, h)
		}
		if up := service.HashToken(fzASCIIUpper(s)); up != h {
			t.Fatalf("HashToken depends on case: %q and %q hash differently", s, fzASCIIUpper(s))
		}
		if ok {
			sum := sha256.Sum256([]byte(s))
			if h != hex.EncodeToString(sum[:]) {
				t.Fatalf("HashToken(%q) is not SHA-256 of the token", s)
			}
			if service.WellFormedToken(fzASCIIUpper(s)) && s != fzASCIIUpper(s) {
				t.Fatalf("upper-case %q accepted: callers lower-case first", fzASCIIUpper(s))
			}
			// An API token is the prefix and a well-formed token.
			if api := service.APITokenPrefix + s; service.WellFormedToken(api) {
				t.Fatalf("WellFormedToken accepted the API token %q as a plain token", api)
			}
		}

		v, vh := service.NewToken()
		if !service.WellFormedToken(v) || !fzTokenShape(v) || vh != service.HashToken(v) {
			t.Fatalf("NewToken() = %q, %q: not a well-formed token with its hash", v, vh)
		}
	})
}

// FuzzNormalizeEmail: an address NormalizeEmail accepts is trimmed,
// lower-case, one bare address without control characters, stays the
// same when normalised again, and is one the mail library will address a
// message to, so that an accepted request's mail can go out.
func FuzzNormalizeEmail(f *testing.F) {
	f.Add("Jane.Doe@Example.com")
	f.Add("  jane@example.com\n")
	f.Fuzz(func(t *testing.T, raw string) {
		e, msg := service.NormalizeEmail(raw)
		if msg != "" {
			if e2, msg2 := service.NormalizeEmail(raw); e2 != e || msg2 != msg {
				t.Fatalf("NormalizeEmail is not deterministic for %q", raw)
			}
			return
		}
		switch {
		case !utf8.ValidString(e):
			t.Fatalf("accepted %q: invalid UTF-8", e)
		case e != strings.TrimSpace(e) || e != strings.ToLower(e):
			t.Fatalf("accepted %q: not trimmed and lower-case", e)
		case e == "" || len(e) > workflow.MaxEmailLen:
			t.Fatalf("accepted %q: empty or longer than %d bytes", e, workflow.MaxEmailLen)
		case strings.Count(e, "@") < 1 || strings.ContainsAny(e, " ,;<>\"()[]\\"):
			t.Fatalf("accepted %q: not one bare address", e)
		}
		for _, r := range e {
			if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0x202e || r == 0x202d {
				t.Fatalf("accepted %q: control character %U", e, r)
			}
		}
		if e2, msg2 := service.NormalizeEmail(e); e2 != e || msg2 != "" {
			t.Fatalf("NormalizeEmail(%q) = %q, %q: not idempotent", e, e2, msg2)
		}
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			t.Fatalf("accepted %q, which net/mail reads as %v, %v", e, a, err)
		}
		if err := gomail.NewMsg().To(e); err != nil {
			t.Fatalf("accepted %q, which the mailer cannot address: %v", e, err)
		}
	})
}
