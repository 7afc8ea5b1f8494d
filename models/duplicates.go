package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// duplicateStates are the states in which a request is still being
// answered, so that a new one of the same kind repeats it. Unverified
// requests are left out on purpose: anyone can file in another person's
// name, and only a verified request says who stands behind it.
var duplicateStates = []string{"verified", "in_review", "awaiting_subject", "approved", "appealed"}

// OpenDuplicate finds the earliest open, verified request other than
// notID with the same e-mail address and type, filed at or after since.
// ErrNotFound: there is none.
func (s *Store) OpenDuplicate(ctx context.Context, email, typ, notID string, since time.Time) (*Request, error) {
	var r Request
	err := s.r.WithContext(ctx).
		Where("email = ? AND type = ? AND id <> ? AND verified_at IS NOT NULL AND purged_at IS NULL", email, typ, notID).
		Where("status IN ? AND created_at >= ?", duplicateStates, Now(since)).
		Order("created_at, id").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &r, err
}

// References maps request ids to their references, for the links of
// duplicate flags on a page of the queue.
func (s *Store) References(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct{ ID, Reference string }
	err := s.r.WithContext(ctx).Model(&Request{}).Select("id, reference").Where("id IN ?", ids).Scan(&rows).Error
	for _, r := range rows {
		out[r.ID] = r.Reference
	}
	return out, err
}
