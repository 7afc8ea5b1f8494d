package packages

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func testStore(t *testing.T) Store {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return Store{Dir: t.TempDir(), Key: key}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, s Store, name string, data []byte) Written {
	t.Helper()
	w, err := s.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes cross chunk boundaries at arbitrary points.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 7777)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

func get(s Store, name string) ([]byte, error) {
	r, err := s.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func rawPath(s Store, name string) string { return filepath.Join(s.Dir, name) }

// Data of every size around the chunk boundary reads back unchanged, with the plaintext's size and SHA-256 reported.
func TestStoreRoundTrip(t *testing.T) {
	s := testStore(t)
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := randomBytes(n)
			name := fmt.Sprintf("p-%d.zip", n)
			w := put(t, s, name, data)
			sum := sha256.Sum256(data)
			if w.Size() != int64(n) || w.SHA256() != hex.EncodeToString(sum[:]) {
				t.Fatalf("size %d sha %s, want %d %x", w.Size(), w.SHA256(), n, sum)
			}
			got, err := get(s, name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes back, differing from the %d written", len(got), n)
			}
		})
	}
}

// The file at rest holds neither the plaintext nor any long piece of it.
func TestStoreEncryptsAtRest(t *testing.T) {
	s := testStore(t)
	plain := bytes.Repeat([]byte("alice@example.org,Alice Example,+44 20 7946 0000\n"), 3000)
	put(t, s, "a.zip", plain)
	raw, err := os.ReadFile(rawPath(s, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("alice@example.org")) || bytes.Contains(raw, plain[:32]) {
		t.Fatal("plaintext visible in the stored file")
	}
	chunks := (len(plain) + chunkSize - 1) / chunkSize
	if want := headerSize + len(plain) + chunks*tagSize; len(raw) != want {
		t.Fatalf("stored %d bytes, want %d", len(raw), want)
	}
}

func mustCorrupt(t *testing.T, s Store, name, what string) {
	t.Helper()
	got, err := get(s, name)
	if err == nil {
		t.Fatalf("%s: read %d bytes without error", what, len(got))
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: error %v does not wrap ErrCorrupt", what, err)
	}
}

// Changing any single byte (header, tags, ciphertext, first and last chunk) is detected by Read.
func TestStoreDetectsFlippedBytes(t *testing.T) {
	s := testStore(t)
	data := randomBytes(2*chunkSize + 100)
	put(t, s, "f.zip", data)
	orig, _ := os.ReadFile(rawPath(s, "f.zip"))
	enc := chunkSize + tagSize
	positions := []int{0, headerSize - 1, headerSize, headerSize + 1000, headerSize + enc - 1,
		headerSize + enc, headerSize + 2*enc + 50, len(orig) - 1}
	for i := 0; i < 40; i++ { // and some anywhere
		positions = append(positions, int(randomBytes(1)[0])*len(orig)/256)
	}
	for _, pos := range positions {
		b := bytes.Clone(orig)
		b[pos] ^= 0x01
		os.WriteFile(rawPath(s, "f.zip"), b, 0o600)
		mustCorrupt(t, s, "f.zip", fmt.Sprintf("byte %d flipped", pos))
	}
}

// Cutting the file at a chunk boundary, inside a chunk or inside the header, or appending a chunk, is detected.
func TestStoreDetectsTruncationAndExtension(t *testing.T) {
	s := testStore(t)
	put(t, s, "t.zip", randomBytes(3*chunkSize+10))
	orig, _ := os.ReadFile(rawPath(s, "t.zip"))
	enc := chunkSize + tagSize
	cases := map[string][]byte{
		"cut after chunk 1":        orig[:headerSize+enc],
		"cut after chunk 3":        orig[:headerSize+3*enc],
		"cut inside last chunk":    orig[:len(orig)-5],
		"header only":              orig[:headerSize],
		"cut in header":            orig[:5],
		"chunk 1 appended again":   append(bytes.Clone(orig), orig[headerSize:headerSize+enc]...),
		"last chunk appended":      append(bytes.Clone(orig), orig[headerSize+3*enc:]...),
		"chunks 1 and 2 reordered": append(append(append(bytes.Clone(orig[:headerSize]), orig[headerSize+enc:headerSize+2*enc]...), orig[headerSize:headerSize+enc]...), orig[headerSize+2*enc:]...),
	}
	for what, b := range cases {
		os.WriteFile(rawPath(s, "t.zip"), b, 0o600)
		r, err := s.Open("t.zip")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: Open error %v does not wrap ErrCorrupt", what, err)
			}
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: read %d bytes, error %v", what, len(got), err)
		}
	}
}

// A chunk taken from another file of the same store, at the same position, does not open.
func TestStoreDetectsChunkSwapBetweenFiles(t *testing.T) {
	s := testStore(t)
	put(t, s, "a.zip", randomBytes(2*chunkSize+10))
	put(t, s, "b.zip", randomBytes(2*chunkSize+10))
	a, _ := os.ReadFile(rawPath(s, "a.zip"))
	b, _ := os.ReadFile(rawPath(s, "b.zip"))
	enc := chunkSize + tagSize
	swapped := bytes.Clone(a)
	copy(swapped[headerSize+enc:headerSize+2*enc], b[headerSize+enc:headerSize+2*enc])
	os.WriteFile(rawPath(s, "a.zip"), swapped, 0o600)
	mustCorrupt(t, s, "a.zip", "chunk 2 from b")
	// Even b's header with a's chunks (a whole file spliced) fails.
	spliced := append(bytes.Clone(b[:headerSize]), a[headerSize:]...)
	os.WriteFile(rawPath(s, "a.zip"), spliced, 0o600)
	mustCorrupt(t, s, "a.zip", "b's header on a's chunks")
}

// Under a different key a file does not open; a key of the wrong length is refused up front.
func TestStoreWrongKey(t *testing.T) {
	s := testStore(t)
	put(t, s, "k.zip", []byte("secret"))
	other := s
	other.Key = randomBytes(32)
	mustCorrupt(t, other, "k.zip", "other key")
	short := Store{Dir: s.Dir, Key: randomBytes(16)}
	if _, err := short.Open("k.zip"); err == nil {
		t.Fatal("16-byte key accepted by Open")
	}
	if _, err := short.Create("x.zip"); err == nil {
		t.Fatal("16-byte key accepted by Create")
	}
}

// Only flat names of [a-z0-9._-] are accepted; nothing escapes Dir.
func TestStoreNames(t *testing.T) {
	s := testStore(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "A.zip", ".hidden", "a b", "ü.zip"} {
		if _, err := s.Create(name); err == nil {
			t.Errorf("Create(%q) accepted", name)
		}
		if _, err := s.Open(name); err == nil {
			t.Errorf("Open(%q) accepted", name)
		}
		if err := s.Remove(name); err == nil {
			t.Errorf("Remove(%q) accepted", name)
		}
	}
}

// Nothing appears under the name until Close; Abort leaves an earlier file intact and no temporary file behind; Remove is idempotent.
func TestStoreAtomicReplaceAbortRemove(t *testing.T) {
	s := testStore(t)
	put(t, s, "r.zip", []byte("first"))
	w, err := s.Create("r.zip")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("second, half written"))
	if got, err := get(s, "r.zip"); err != nil || string(got) != "first" {
		t.Fatalf("while writing: %q %v", got, err)
	}
	w.Abort()
	if got, err := get(s, "r.zip"); err != nil || string(got) != "first" {
		t.Fatalf("after abort: %q %v", got, err)
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 1 {
		t.Fatalf("files left in Dir: %v", entries)
	}
	put(t, s, "r.zip", []byte("third"))
	if got, _ := get(s, "r.zip"); string(got) != "third" {
		t.Fatalf("after replace: %q", got)
	}
	if err := s.Remove("r.zip"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("r.zip"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := s.Open("r.zip"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open after remove: %v", err)
	}
}
