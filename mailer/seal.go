package mailer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// sealSecrets encrypts the secrets with AES-256-GCM: a queued mail rests
// in the database, and tokens must only ever rest there as hashes.
func sealSecrets(key []byte, secrets []Secret) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("mailer: seal: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, nil), nil
}

func openSecrets(key, sealed []byte) ([]Secret, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("mailer: sealed secrets are truncated")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("mailer: sealed secrets do not open with this key: %w", err)
	}
	var out []Secret
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("mailer: sealed secrets: %w", err)
	}
	return out, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mailer: key: %w", err)
	}
	return cipher.NewGCM(block)
}

// reveal puts the secret values in place of their placeholders.
func reveal(s string, secrets []Secret) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec.Placeholder, sec.Value)
	}
	return s
}

// Redact shows a stored mail's placeholders as what they stood for, for
// staff who read what the subject was sent.
func Redact(s string) string {
	for {
		i := strings.Index(s, "__SECRET_")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i+9:], "__")
		if j < 0 {
			return s
		}
		s = s[:i] + "[private link]" + s[i+9+j+2:]
	}
}
