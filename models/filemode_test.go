package models_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"rightsportal/models"
)

// TestSQLiteFilesOwnerOnly: the database and its -wal and -shm files
// hold personal data and are created owner-only (0600), like
// secret.key, whatever the umask lets through.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which lets 0644 through
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "data", "portal.db")
	st, err := models.Open(context.Background(), models.Options{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateStaff(context.Background(), &models.Staff{ID: "0190a0a0-0000-7000-8000-000000000001",
		Email: "mode@example.org", Name: "Mode", Role: "admin", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(f), m)
		}
	}
}

// TestSQLiteFileReadableByOthersLogged: an existing database file keeps
// its operator's mode, but one that others may read is named in a
// warning at start.
func TestSQLiteFileReadableByOthersLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	st, err := models.Open(context.Background(), models.Options{Driver: "sqlite", DSN: path,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !strings.Contains(logs.String(), "chmod 600") || !strings.Contains(logs.String(), path) {
		t.Errorf("no warning about a world-readable database:\n%s", logs.String())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
}
