package models

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints off the write path. SQLite's WAL must be copied back into
// the database file now and then; by default the writer that crosses
// 1000 pages does it inside its commit, so every so often one request
// waits for a checkpoint. Here the writer connection never checkpoints;
// a connection of its own does, once a second, in PASSIVE mode (it never
// blocks the writer or readers).

// checkpointEvery is how often the WAL is copied back.
const checkpointEvery = time.Second

func (s *Store) startCheckpoints(dsn string) error {
	if _, err := s.wsql.Exec("PRAGMA wal_autocheckpoint = 0"); err != nil {
		return err
	}
	db, err := sql.Open(cachedDriverName, sqliteDSN(dsn, true))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	s.ckpt = db
	s.ckptStop = make(chan struct{})
	s.ckptDone = make(chan struct{})
	go func() {
		defer close(s.ckptDone)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-s.ckptStop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
				cancel()
			}
		}
	}()
	return nil
}

func (s *Store) stopCheckpoints() {
	if s.ckpt == nil {
		return
	}
	close(s.ckptStop)
	<-s.ckptDone
	// A last full copy, so a stopped portal leaves a small WAL behind.
	s.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	s.ckpt.Close()
}
