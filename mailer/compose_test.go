package mailer

import (
	"bytes"
	"strings"
	"testing"
)

var sealKey = bytes.Repeat([]byte{7}, 32)

func testSecrets() []Secret {
	return []Secret{
		NewSecret("verify_url", "https://portal.example.org/verify?token=abc123"),
		NewSecret("reply_to", "privacy+def456@example.org"),
	}
}

// TestSealRoundTrip protects the queue: what is sealed at compose time
// opens to the same secrets at send time, and the blob hides them.
func TestSealRoundTrip(t *testing.T) {
	in := testSecrets()
	blob, err := sealSecrets(sealKey, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range in {
		if bytes.Contains(blob, []byte(s.Value)) {
			t.Fatalf("sealed blob holds %q in clear", s.Value)
		}
	}
	out, err := openSecrets(sealKey, blob)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("opened %d secrets, sealed %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("secret %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	again, _ := sealSecrets(sealKey, in)
	if bytes.Equal(blob, again) {
		t.Error("two seals of the same secrets are equal: the nonce is not random")
	}
}

// TestSealNoSecrets keeps mails without secrets free of a sealed blob.
func TestSealNoSecrets(t *testing.T) {
	blob, err := sealSecrets(sealKey, nil)
	if err != nil || blob != nil {
		t.Fatalf("seal of nothing: %v, %v", blob, err)
	}
	out, err := openSecrets(sealKey, nil)
	if err != nil || out != nil {
		t.Fatalf("open of nothing: %v, %v", out, err)
	}
}

// TestSealWrongKey makes sure a blob only opens with the key it was
// sealed with.
func TestSealWrongKey(t *testing.T) {
	blob, err := sealSecrets(sealKey, testSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSecrets(bytes.Repeat([]byte{8}, 32), blob); err == nil {
		t.Fatal("opened with the wrong key")
	}
	if _, err := openSecrets([]byte("short"), blob); err == nil {
		t.Fatal("opened with a key of the wrong size")
	}
}

// TestSealTruncated makes sure a damaged blob is an error, never a panic
// or a partial result.
func TestSealTruncated(t *testing.T) {
	blob, err := sealSecrets(sealKey, testSecrets())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 11, 12, 13, len(blob) - 1} {
		if _, err := openSecrets(sealKey, blob[:n]); err == nil {
			t.Errorf("a blob cut to %d of %d bytes opened", n, len(blob))
		}
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)-1] ^= 1
	if _, err := openSecrets(sealKey, flipped); err == nil {
		t.Error("a tampered blob opened")
	}
}

// TestReveal puts every secret back in place of its placeholder.
func TestReveal(t *testing.T) {
	s := testSecrets()
	got := reveal("go to "+s[0].Placeholder+" or write to "+s[1].Placeholder, s)
	want := "go to " + s[0].Value + " or write to " + s[1].Value
	if got != want {
		t.Fatalf("reveal: got %q, want %q", got, want)
	}
}

// TestRedact shows staff a stored mail without its placeholders.
func TestRedact(t *testing.T) {
	s := testSecrets()
	cases := map[string]string{
		"open " + s[0].Placeholder + " now":                "open [private link] now",
		s[0].Placeholder + s[1].Placeholder:                "[private link][private link]",
		"<a href=\"" + s[0].Placeholder + "\">confirm</a>": "<a href=\"[private link]\">confirm</a>",
		"no secrets here":                                  "no secrets here",
		"a broken __SECRET_ marker":                        "a broken __SECRET_ marker",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.Contains(Redact(s[0].Placeholder), "__SECRET_") {
		t.Error("placeholder survived redaction")
	}
}
