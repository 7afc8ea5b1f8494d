package models

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// createPrivate creates the SQLite database file owner-only (0600), as
// secret.key is, before SQLite first opens it: the file holds every
// subject's personal data, and SQLite would create it 0644 (less the
// umask). SQLite gives the -wal and -shm files it creates the database
// file's mode, so they follow. An existing file keeps the mode its
// operator gave it (a backup group may need to read it); one that
// others may read is logged at each start.
func createPrivate(dsn string, log *slog.Logger) error {
	path := sqlitePath(dsn)
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("models: create database file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("models: others than its owner may read the database file; chmod 600 it and its -wal and -shm files",
			"path", path, "mode", fi.Mode().Perm().String())
	}
	return nil
}
