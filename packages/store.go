// Package packages builds the download a completed access or portability
// request delivers (a ZIP with the subject's data and a summary for
// people), checks the files staff add to it, and keeps both encrypted at
// rest. It is given plain data and knows nothing of the configuration, the
// database or the workflow.
package packages

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// File layout on disk: a 16-byte random header, then chunks of at most
// chunkSize plaintext bytes, each sealed with AES-256-GCM (ciphertext plus
// a 16-byte tag). The header salts a per-file key (HKDF-SHA256 of the
// store key), so no two files share a key and a chunk moved from one file
// to another cannot be opened; each chunk's nonce is its counter, so
// reordering fails; the additional data marks the last chunk, so cutting
// the file at a chunk boundary or appending a chunk fails too (STREAM, as
// in Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-
// Encryption and its Nonce-Reuse Misuse-Resistance").
const (
	headerSize = 16
	chunkSize  = 64 << 10
	tagSize    = 16
	keyInfo    = "rightsportal package file v1"
)

// ErrCorrupt reports a stored file that cannot be authenticated: it was
// altered, cut short, extended, or sealed under another key.
var ErrCorrupt = errors.New("packages: stored file is damaged, was altered, or the key is wrong")

var storeNameRE = regexp.MustCompile(`^[a-z0-9_-][a-z0-9._-]{0,199}$`)

// Store keeps package files encrypted at rest, so a copy of the packages
// folder or of a backup discloses nothing without the key from the
// configuration. Files live flat in Dir under names the caller gives.
type Store struct {
	Dir string
	// Key is the 32-byte AES-256 key.
	Key []byte
}

// Written is a file being written to a Store. Nothing is visible under
// its name until Close succeeds; after that Size and SHA256 describe the
// plaintext, for the record kept in the database.
type Written interface {
	io.WriteCloser
	Size() int64
	SHA256() string
	// Abort discards what was written, leaving any earlier file of the
	// same name in place; use it when building the content failed.
	Abort()
}

func (s Store) path(name string) (string, error) {
	if !storeNameRE.MatchString(name) {
		return "", fmt.Errorf("packages: invalid stored file name %q (only a-z, 0-9, '.', '_' and '-', not starting with '.')", name)
	}
	return filepath.Join(s.Dir, name), nil
}

func (s Store) checkKey() error {
	if len(s.Key) != 32 {
		return fmt.Errorf("packages: the store key must be 32 bytes, not %d", len(s.Key))
	}
	return nil
}

// fileAEAD derives the file's own key from the store key and its header.
func (s Store) fileAEAD(header []byte) (cipher.AEAD, error) {
	if err := s.checkKey(); err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, s.Key, header, keyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// chunkNonce puts the chunk counter in the last 8 bytes of the nonce.
func chunkNonce(dst []byte, counter uint64) []byte {
	clear(dst)
	binary.BigEndian.PutUint64(dst[len(dst)-8:], counter)
	return dst
}

// chunkAD binds the header and the last-chunk flag to each chunk.
func chunkAD(header []byte, last bool) []byte {
	ad := make([]byte, 0, headerSize+1)
	ad = append(ad, header...)
	if last {
		return append(ad, 1)
	}
	return append(ad, 0)
}

// Create starts writing the file name; it appears, replacing any earlier
// one, only when Close succeeds (temporary file, fsync, rename).
func (s Store) Create(name string) (Written, error) {
	final, err := s.path(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	header := make([]byte, headerSize)
	rand.Read(header)
	aead, err := s.fileAEAD(header)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.Dir, ".tmp-"+name+"-*")
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	w := &writer{f: f, final: final, aead: aead, header: header,
		buf: make([]byte, 0, chunkSize), nonce: make([]byte, aead.NonceSize()), sum: sha256.New()}
	if _, err := f.Write(header); err != nil {
		w.Abort()
		return nil, fmt.Errorf("packages: %w", err)
	}
	return w, nil
}

type writer struct {
	f      *os.File
	final  string
	aead   cipher.AEAD
	header []byte
	buf    []byte // plaintext of the chunk being filled
	out    []byte // sealed chunk, reused
	nonce  []byte
	count  uint64
	size   int64
	sum    hash.Hash
	digest string
	err    error // first failure; the file is then discarded
	done   bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("packages: write after close")
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		// A full chunk is sealed only once more data follows, so that
		// the final chunk is always the one Close seals as last.
		if len(w.buf) == chunkSize {
			if err := w.seal(false); err != nil {
				w.err = err
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):chunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		w.sum.Write(p[:k])
		w.size += int64(k)
		n += k
		p = p[k:]
	}
	return n, nil
}

func (w *writer) seal(last bool) error {
	w.out = w.aead.Seal(w.out[:0], chunkNonce(w.nonce, w.count), w.buf, chunkAD(w.header, last))
	w.count++
	w.buf = w.buf[:0]
	if _, err := w.f.Write(w.out); err != nil {
		return fmt.Errorf("packages: %w", err)
	}
	return nil
}

// Close seals the last chunk, makes the file durable and gives it its
// name. After a failed Write it discards the file and reports the error.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	err := w.seal(true)
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("packages: %w", cerr)
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.final)
	}
	if err == nil {
		err = syncDir(filepath.Dir(w.final))
	}
	w.done = true
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("packages: %w", err)
	}
	w.digest = hex.EncodeToString(w.sum.Sum(nil))
	return nil
}

func (w *writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

func (w *writer) Size() int64 { return w.size }

// SHA256 is the hex digest of the plaintext, known once Close succeeded.
func (w *writer) SHA256() string { return w.digest }

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open reads the file name back, decrypting as it goes. Read returns an
// error wrapping ErrCorrupt, never short data, when any part of the file
// does not authenticate; data is returned only a chunk at a time, after
// that chunk authenticated.
func (s Store) Open(name string) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	header := make([]byte, headerSize)
	if _, err := io.ReadFull(f, header); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s has no complete header", ErrCorrupt, name)
	}
	aead, err := s.fileAEAD(header)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &reader{f: f, aead: aead, header: header,
		in: make([]byte, 0, chunkSize+tagSize+1), nonce: make([]byte, aead.NonceSize())}, nil
}

type reader struct {
	f      *os.File
	aead   cipher.AEAD
	header []byte
	in     []byte // sealed bytes read ahead: one chunk plus one byte
	plain  []byte // authenticated plaintext not yet returned
	pbuf   []byte // backing array of plain, reused
	nonce  []byte
	count  uint64
	last   bool // the last chunk has been opened
	err    error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.last {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next opens the following chunk. It reads one byte past a full chunk:
// if there is one, the chunk is not the last.
func (r *reader) next() error {
	have := len(r.in)
	r.in = r.in[:cap(r.in)]
	n, err := io.ReadFull(r.f, r.in[have:])
	r.in = r.in[:have+n]
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.last = true
	default:
		return fmt.Errorf("packages: %w", err)
	}
	sealed := r.in
	if !r.last {
		sealed = r.in[:chunkSize+tagSize]
	}
	if len(sealed) < tagSize {
		return fmt.Errorf("%w: the file ends early", ErrCorrupt)
	}
	plain, err := r.aead.Open(r.pbuf[:0], chunkNonce(r.nonce, r.count), sealed, chunkAD(r.header, r.last))
	if err != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate", ErrCorrupt, r.count)
	}
	r.count++
	r.plain, r.pbuf = plain, plain[:0]
	r.in = r.in[:copy(r.in, r.in[len(sealed):])]
	return nil
}

func (r *reader) Close() error { return r.f.Close() }

// Remove deletes the file name; a file already gone is not an error.
func (s Store) Remove(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("packages: %w", err)
	}
	return nil
}
