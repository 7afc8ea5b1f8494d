package models

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AuditHead records the newest event of the chain outside the events
// table, so that removing the newest events is as detectable as changing
// any other: the chain must end where the head says.
type AuditHead struct {
	ID      int    `gorm:"primaryKey"`
	EventID int64  `gorm:"not null"`
	Hash    string `gorm:"size:64;not null"`
	Count   int64  `gorm:"not null"`
}

// appendEvent links e to the head of the one chain, inserts it and moves
// the head. The caller's transaction holds SQLite's single write lock, so
// no other event can slip in between reading the head and writing.
func (s *Store) appendEvent(tx *gorm.DB, e *Event) error {
	var head AuditHead
	q := tx.Where("id = 1")
	if s.driver == "postgres" {
		// Writers run in parallel on PostgreSQL: lock the head so events
		// are chained one at a time (SQLite's single writer already does).
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.Take(&head).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("models: read audit head: %w", err)
	}
	e.PrevHash = head.Hash
	e.CreatedAt = Now(e.CreatedAt)
	e.ContentHash = ContentHash(e.Reason, e.Message)
	e.Hash = EventHash(e)
	if err := tx.Create(e).Error; err != nil {
		return fmt.Errorf("models: insert audit event: %w", err)
	}
	// One UPDATE naming its columns (Save would write the row whole and
	// fall back to an INSERT); ensureHead created the row at start.
	res := tx.Exec(`UPDATE audit_heads SET event_id = ?, hash = ?, "count" = ? WHERE id = 1`, e.ID, e.Hash, head.Count+1)
	if res.Error != nil {
		return fmt.Errorf("models: move audit head: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		head = AuditHead{ID: 1, EventID: e.ID, Hash: e.Hash, Count: head.Count + 1}
		if err := tx.Create(&head).Error; err != nil {
			return fmt.Errorf("models: create audit head: %w", err)
		}
	}
	return nil
}

// ContentHash covers the free text of an event, which may hold personal
// data and be purged, so the event hash can still be checked without it.
func ContentHash(reason, message string) string {
	h := sha256.New()
	field(h, reason)
	field(h, message)
	return hex.EncodeToString(h.Sum(nil))
}

// EventHash is SHA-256 over every field of the event that is never
// purged, its ContentHash and the previous event's hash. Each field is
// length-prefixed so that no two different events encode alike.
func EventHash(e *Event) string {
	h := sha256.New()
	for _, f := range []string{e.RequestID, e.Action, e.FromState, e.ToState, e.ActorKind, e.ActorID,
		e.CreatedAt.UTC().Format(time.RFC3339Nano), e.ContentHash, e.PrevHash} {
		field(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func field(h interface{ Write([]byte) (int, error) }, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// ChainReport is the result of checking the audit chain.
type ChainReport struct {
	Events int64
	// BrokenAt is the id of the first event that does not check out (0:
	// none), and Problem says why.
	BrokenAt int64
	Problem  string
}

// PurgeActions are the audit actions after which a request's event texts
// may be empty: the personal data was purged on purpose.
func PurgeActions() []string { return []string{"expire", "purge"} }

// VerifyChain walks the whole audit trail in order and names the first
// event whose hash, link or content does not match, then checks that the
// chain ends where the head recorded it.
func (s *Store) VerifyChain(ctx context.Context) (ChainReport, error) {
	var rep ChainReport
	var purged []string
	err := s.r.WithContext(ctx).Model(&Event{}).Where("action IN ?", PurgeActions()).Distinct().Pluck("request_id", &purged).Error
	if err != nil {
		return rep, fmt.Errorf("models: read audit events: %w", err)
	}
	wasPurged := map[string]bool{}
	for _, id := range purged {
		wasPurged[id] = true
	}
	prev, after := "", int64(0)
	for {
		var batch []Event
		err := s.r.WithContext(ctx).Where("id > ?", after).Order("id").Limit(1000).Find(&batch).Error
		if err != nil {
			return rep, fmt.Errorf("models: read audit events: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for i := range batch {
			e := &batch[i]
			rep.Events++
			if p := checkEvent(e, prev, wasPurged[e.RequestID]); p != "" {
				rep.BrokenAt, rep.Problem = e.ID, p
				return rep, nil
			}
			prev, after = e.Hash, e.ID
		}
	}
	return rep, s.checkHead(ctx, &rep, prev, after)
}

// checkHead compares the end of the chain with the recorded head.
func (s *Store) checkHead(ctx context.Context, rep *ChainReport, last string, lastID int64) error {
	var head AuditHead
	err := s.r.WithContext(ctx).Where("id = 1").Take(&head).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if rep.Events > 0 {
			rep.BrokenAt, rep.Problem = lastID, "the chain's head record is missing"
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("models: read audit head: %w", err)
	}
	if head.Hash != last || head.EventID != lastID || head.Count != rep.Events {
		rep.BrokenAt = lastID
		rep.Problem = fmt.Sprintf("the chain ends at event %d but its head records event %d of %d (newest events were removed)",
			lastID, head.EventID, head.Count)
	}
	return nil
}

func checkEvent(e *Event, prev string, purged bool) string {
	switch {
	case e.PrevHash != prev:
		return "its link does not match the event before it (an event was removed or reordered)"
	case e.Hash != EventHash(e):
		return "its fields do not match its hash (the event was changed)"
	case e.ContentHash == ContentHash(e.Reason, e.Message):
		return ""
	case e.Reason == "" && e.Message == "" && purged:
		return "" // text purged with the request's personal data, on record
	case e.Reason == "" && e.Message == "":
		return "its reason and message were emptied, but the request was never purged"
	}
	return "its reason or message does not match its content hash (the text was changed)"
}

// ensureHead creates the chain's head record where it is missing: on a new
// database an empty head (so PostgreSQL has a row to lock), on one written
// before heads existed the newest event.
func ensureHead(tx *gorm.DB) error {
	var n int64
	if err := tx.Model(&AuditHead{}).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	head := AuditHead{ID: 1}
	var last Event
	err := tx.Order("id DESC").Limit(1).Take(&last).Error
	switch {
	case err == nil:
		var count int64
		if err := tx.Model(&Event{}).Count(&count).Error; err != nil {
			return err
		}
		head.EventID, head.Hash, head.Count = last.ID, last.Hash, count
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return err
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&head).Error
}
