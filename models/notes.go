package models

import (
	"context"
	"fmt"
	"time"
)

// Note is an internal remark of staff on a request; never shown to the
// subject.
type Note struct {
	ID        int64     `gorm:"primaryKey"`
	RequestID string    `gorm:"size:36;not null;index"`
	StaffID   string    `gorm:"size:36;not null"`
	Body      string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// AddNote stores a note on an existing request.
func (s *Store) AddNote(ctx context.Context, n *Note) error {
	if _, err := s.Request(ctx, n.RequestID); err != nil {
		return err
	}
	n.CreatedAt = Now(n.CreatedAt)
	if err := s.w.WithContext(ctx).Create(n).Error; err != nil {
		return fmt.Errorf("models: insert note: %w", err)
	}
	return nil
}

// Notes lists a request's notes, oldest first.
func (s *Store) Notes(ctx context.Context, requestID string) ([]Note, error) {
	var out []Note
	if err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read notes: %w", err)
	}
	return out, nil
}
