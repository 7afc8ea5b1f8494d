// Package service carries out what people ask of the portal: it checks
// input, asks workflow whether an action may happen, and writes the
// change, its audit event and its mail through models in one transaction.
// Handlers translate HTTP into calls here and results back; nothing here
// knows about HTTP.
//
// The layering is cmd → handlers → service → workflow, models, mailer;
// mailer → models → workflow; templates imports nothing of ours
// (service/layers_test.go keeps it so). The service layer sits between
// handlers and the store, as Gitea's services do, so that the web pages,
// the API, the inbound mail listener and the CLI share one implementation
// of every action.
package service

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"rightsportal/config"
	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// Service is the portal's use cases. It holds no request state: one value
// serves every goroutine.
type Service struct {
	store *models.Store
	mail  *mailer.Composer
	cfg   *config.Config
	cal   workflow.Calendar
	now   func() time.Time
	log   *slog.Logger
	ful   Fulfilment
	// totpKey seals staff TOTP secrets (see WithSecrets).
	totpKey []byte
	// hookKey seals webhook endpoints' signing secrets (WithSecrets).
	hookKey []byte
	// hooks is the client of webhook deliveries, built on first use.
	hookOnce sync.Once
	hooks    *http.Client
}

// New builds the service. now is the clock (time.Now outside tests).
func New(store *models.Store, composer *mailer.Composer, cfg *config.Config, now func() time.Time, log *slog.Logger) *Service {
	return &Service{store: store, mail: composer, cfg: cfg, cal: cfg.Calendar(), now: now, log: log}
}

// loc is the localizer of a subject's language (the default language
// for an empty or unconfigured one).
func (s *Service) loc(lang string) *i18n.Localizer { return s.mail.Catalog().For(lang) }

// Errors the handlers answer with specific statuses.
var (
	// ErrTokenInvalid: no such token (or not one for this purpose).
	ErrTokenInvalid = errors.New("service: the link or code is not valid")
	// ErrTokenSpent: the token was used (or its purpose is fulfilled).
	ErrTokenSpent = errors.New("service: the link or code was already used")
	// ErrTokenExpired: the token's time ran out.
	ErrTokenExpired = errors.New("service: the link or code has expired")
)

// ValidationError lists what is wrong with input, one plain message per
// field (SPEC §7 "fields").
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	var keys []string
	for k := range e.Fields {
		keys = append(keys, k)
	}
	return "service: invalid input: " + strings.Join(keys, ", ")
}

// tokenEncoding is lower-case base32 without padding: safe in URLs, in
// the local part of an e-mail address, and when a mail system changes
// the case of an address.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TokenLen is the length of every token: 20 random bytes, 160 bits.
const TokenLen = 32

// NewToken returns a fresh random token and the hash that is stored.
func NewToken() (value, hash string) {
	var b [20]byte
	rand.Read(b[:])
	value = strings.ToLower(tokenEncoding.EncodeToString(b[:]))
	return value, HashToken(value)
}

// HashToken is what the database keeps of a token: SHA-256. Tokens carry
// 160 random bits, so a fast hash is enough; a slow one would only slow
// every legitimate check.
func HashToken(value string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(value)))
	return hex.EncodeToString(sum[:])
}

// NormalizeToken is the one form of a token as the subject may paste
// it: tokens are lower-case base32, and a mail system or a subject may
// change the case or add spaces. Rate limits keyed on a token use it too,
// so that each spelling of one link does not get an allowance of its own.
func NormalizeToken(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// AddressLimitKey is the mailbox an address delivers to, for limits per
// address: the address as NormalizeEmail writes it, in the one spelling
// mailboxKey gives an internationalised one, with a +tag dropped from the
// local part, since name+1@ and name+2@ reach the same person and must
// share one allowance.
func AddressLimitKey(email string) string {
	e, _ := NormalizeEmail(email)
	e = mailboxKey(e)
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	if plus := strings.IndexByte(e[:at], '+'); plus > 0 {
		return e[:plus] + e[at:]
	}
	return e
}

// WellFormedToken reports whether s could be a token at all, so that
// garbage is refused before it reaches the database.
func WellFormedToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// newReference makes a public reference such as DSR-7K3M-9QXA: 40
// random bits in Crockford's alphabet (no I, L, O, U), easy to read out
// on the phone and impossible to guess one's way through.
func newReference() string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [8]byte
	rand.Read(b[:])
	out := []byte("DSR-0000-0000")
	pos := []int{4, 5, 6, 7, 9, 10, 11, 12}
	for i, p := range pos {
		out[p] = alphabet[int(b[i])%32]
	}
	return string(out)
}

// policy is the jurisdiction's policy, or the default one when an
// operator has since removed the jurisdiction from the configuration.
func (s *Service) policy(code string) *config.Policy {
	if p := s.cfg.Policy(code); p != nil {
		return p
	}
	return s.cfg.Policy(s.cfg.Jurisdictions.Default)
}

// DeriveKey makes a key for one purpose from the master secret key, so a
// key leaked from one use (say, the package store) opens nothing else.
func DeriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("rightsportal key: " + purpose))
	return m.Sum(nil)
}
