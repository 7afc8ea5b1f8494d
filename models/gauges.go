package models

import (
	"context"
	"fmt"
	"time"
)

// CountOverdue is how many open requests are past their due date at now
// (a paused clock is not overdue). It walks the (status, due_at) range of
// the open states, so it costs the overdue requests, not all of them.
func (s *Store) CountOverdue(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&Request{}).
		Where("status IN ? AND due_at < ? AND paused_at IS NULL", OpenStatuses(), Now(now)).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: count overdue: %w", err)
	}
	return n, nil
}

// JobDepth is how many jobs wait in one queue in one state.
type JobDepth struct {
	Queue string
	State string
	N     int64
}

// JobDepths counts the job engine's unfinished jobs by queue and state
// (available, scheduled, retryable, running). Finished jobs are pruned by
// the engine, so the table stays small.
func (s *Store) JobDepths(ctx context.Context) ([]JobDepth, error) {
	var out []JobDepth
	err := s.r.WithContext(ctx).Raw(`SELECT queue, state, COUNT(*) AS n FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY queue, state`).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: count jobs: %w", err)
	}
	return out, nil
}
