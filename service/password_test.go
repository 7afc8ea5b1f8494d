package service

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// TestPasswordHashes: a hash verifies its password only; a hash made with
// older, heavier parameters still verifies; a stored hash asking for
// absurd memory is refused without computing it.
func TestPasswordHashes(t *testing.T) {
	h := HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected parameters: %s", h)
	}
	if !CheckPasswordHash("correct horse battery staple", h) || CheckPasswordHash("correct horse battery stapler", h) {
		t.Fatal("hash check wrong")
	}
	// RFC 9106's 64 MiB option, as earlier versions stored it.
	salt := []byte("saltsaltsaltsalt")
	key := argon2.IDKey([]byte("old password 123"), salt, 3, 64*1024, 2, 32)
	old := "$argon2id$v=19$m=65536,t=3,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(key)
	if !CheckPasswordHash("old password 123", old) || CheckPasswordHash("old password 124", old) {
		t.Fatal("a hash with the earlier parameters does not check out")
	}
	huge := strings.Replace(h, "m=19456", "m=4194304", 1)
	if CheckPasswordHash("correct horse battery staple", huge) {
		t.Fatal("a hash asking for 4 GiB was computed")
	}
}
