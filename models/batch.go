package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Group commit for SQLite. SQLite has one writer, and with
// synchronous=FULL every commit waits for the disk; serialising writers
// through one connection already makes them queue, so the queue might as
// well share commits. One goroutine takes whatever changes are waiting
// (no artificial delay: a lone change commits at once), applies each in a
// savepoint of its own, and commits the group. A refused change rolls
// back to its savepoint and leaves the others alone; a failed commit
// fails every change of the group, and no caller hears "done" before its
// change is on disk.

// maxGroup bounds a group, so one commit never holds the lock for long.
const maxGroup = 64

type applyReq struct {
	ctx context.Context
	now time.Time
	ch  Change
	// write, when set, runs instead of ch: a bookkeeping write (the mail
	// worker's "sent" marks) that shares the group's commit, so mail
	// going out does not cost the writer a disk sync per message.
	write func(tx *gorm.DB) error
	done  chan applyRes
}

type applyRes struct {
	out *Request
	err error
}

// startBatching starts the committer; stopBatching (in Close) ends it.
func (s *Store) startBatching() {
	s.batch = make(chan applyReq)
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	go s.commitLoop()
}

func (s *Store) stopBatching() {
	if s.batch == nil {
		return
	}
	close(s.stop)
	<-s.stopped
}

// errAlone rolls back a one-change group whose change was refused.
var errAlone = errors.New("models: the only change was refused")

// ErrClosed: the store was closed.
var ErrClosed = errors.New("models: the store is closed")

func (s *Store) applyBatched(ctx context.Context, now time.Time, ch Change) (*Request, error) {
	res := s.handOver(applyReq{ctx: ctx, now: Now(now), ch: ch})
	return res.out, res.err
}

// writeSmall runs fn, a small write of its own, in a transaction: on
// SQLite in the next group commit, beside whatever changes are waiting.
func (s *Store) writeSmall(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.batch == nil {
		return s.w.WithContext(ctx).Transaction(fn)
	}
	return s.handOver(applyReq{ctx: ctx, write: fn}).err
}

// handOver gives req to the committer and waits for its outcome.
func (s *Store) handOver(req applyReq) applyRes {
	req.done = make(chan applyRes, 1)
	select {
	case s.batch <- req:
	case <-req.ctx.Done():
		return applyRes{err: req.ctx.Err()}
	case <-s.stop:
		return applyRes{err: ErrClosed}
	}
	// Once handed over, wait for the outcome even if ctx ends: the change
	// may be committing, and the caller must not be told otherwise. The
	// group's own time limit (the busy timeout) bounds the wait.
	return <-req.done
}

func (s *Store) commitLoop() {
	defer close(s.stopped)
	for {
		var first applyReq
		select {
		case first = <-s.batch:
		case <-s.stop:
			return
		}
		group := []applyReq{first}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.batch:
				group = append(group, r)
			default:
				break more
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup applies a group in one transaction and answers every
// caller.
func (s *Store) commitGroup(group []applyReq) {
	results := make([]applyRes, len(group))
	ctx, cancel, busy := s.writeContext(context.Background())
	defer cancel()
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		all := &jobBuf{}
		for i, r := range group {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err // gone before it started: nothing written
				continue
			}
			// A lone change needs no savepoint: its failure rolls back
			// the whole (one-change) transaction.
			alone := len(group) == 1
			sp := fmt.Sprintf("c%d", i)
			if !alone {
				if err := tx.SavePoint(sp).Error; err != nil {
					return err
				}
			}
			jb := &jobBuf{}
			out, err := s.applyOne(ctx, tx, r, jb)
			if err != nil {
				if alone {
					results[i].err = busy(err)
					return errAlone
				}
				if rerr := tx.RollbackTo(sp).Error; rerr != nil {
					return rerr
				}
				results[i].err = busy(err)
				continue
			}
			results[i].out = out
			all.params = append(all.params, jb.params...)
			if !alone {
				if err := tx.Exec("RELEASE SAVEPOINT " + sp).Error; err != nil {
					return err
				}
			}
		}
		// Every accepted change's jobs in one statement; should it fail,
		// the whole group fails: no change without its jobs.
		return s.flushJobs(ctx, tx, all)
	})
	if errors.Is(err, errAlone) {
		err = nil // the change's own error is in results
	}
	for i, r := range group {
		if err != nil && results[i].err == nil {
			results[i] = applyRes{err: busy(fmt.Errorf("models: commit: %w", err))}
		}
		r.done <- results[i]
	}
}

// applyOne runs one request of a group: a change, or a small write.
func (s *Store) applyOne(ctx context.Context, tx *gorm.DB, r applyReq, jb *jobBuf) (*Request, error) {
	if r.write != nil {
		return nil, r.write(tx.WithContext(ctx))
	}
	return s.applyIn(ctx, tx, r.now, r.ch, jb)
}
