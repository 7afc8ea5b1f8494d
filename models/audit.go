package models

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// appendEvent links e to the newest event of the one chain and inserts it.
// The caller's transaction holds SQLite's single write lock, so no other
// event can slip in between reading the head and writing the link.
func (s *Store) appendEvent(tx *gorm.DB, e *Event) error {
	var prev []string
	if err := tx.Model(&Event{}).Order("id DESC").Limit(1).Pluck("hash", &prev).Error; err != nil {
		return fmt.Errorf("models: read audit head: %w", err)
	}
	e.PrevHash = ""
	if len(prev) == 1 {
		e.PrevHash = prev[0]
	}
	e.CreatedAt = Now(e.CreatedAt)
	e.ContentHash = ContentHash(e.Reason, e.Message)
	e.Hash = EventHash(e)
	if err := tx.Create(e).Error; err != nil {
		return fmt.Errorf("models: insert audit event: %w", err)
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

// VerifyChain walks the whole audit trail in order and names the first
// event whose hash, link or content does not match.
func (s *Store) VerifyChain(ctx context.Context) (ChainReport, error) {
	var rep ChainReport
	prev, after := "", int64(0)
	for {
		var batch []Event
		err := s.r.WithContext(ctx).Where("id > ?", after).Order("id").Limit(1000).Find(&batch).Error
		if err != nil {
			return rep, fmt.Errorf("models: read audit events: %w", err)
		}
		if len(batch) == 0 {
			return rep, nil
		}
		for i := range batch {
			e := &batch[i]
			rep.Events++
			if p := checkEvent(e, prev); p != "" {
				rep.BrokenAt, rep.Problem = e.ID, p
				return rep, nil
			}
			prev, after = e.Hash, e.ID
		}
	}
}

func checkEvent(e *Event, prev string) string {
	switch {
	case e.PrevHash != prev:
		return "its link does not match the event before it (an event was removed or reordered)"
	case e.Hash != EventHash(e):
		return "its fields do not match its hash (the event was changed)"
	case (e.Reason != "" || e.Message != "") && e.ContentHash != ContentHash(e.Reason, e.Message):
		return "its reason or message does not match its content hash (the text was changed)"
	}
	return ""
}
