package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// OpenDSRRequest is one request sent to a processor over OpenDSR for an
// opendsr task. Its ID is the subject_request_id, made before the first
// send and kept, so that a retried send repeats the same request; the
// callback URL carries it, which is how a callback is tied to exactly
// one task. A staff retry after the processor cancelled makes a new row
// and supersedes the old: callbacks about a superseded id change nothing.
// No personal data is kept here.
type OpenDSRRequest struct {
	ID          string `gorm:"primaryKey;size:36"`
	TaskID      int64  `gorm:"not null;index"`
	RequestID   string `gorm:"size:36;not null;index"`
	System      string `gorm:"size:64;not null"`
	CallbackURL string `gorm:"not null"`
	// Status is the processor's last word (pending, in_progress,
	// completed, cancelled); empty until it took the request.
	Status      string `gorm:"size:16;not null;default:''"`
	SubmittedAt *time.Time
	// Polls counts status reads; the next one is due at NextPollAt
	// (nil: none, the request is settled or not yet sent).
	Polls        int        `gorm:"not null;default:0"`
	NextPollAt   *time.Time `gorm:"index"`
	SupersededAt *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName keeps the protocol's name in one word.
func (OpenDSRRequest) TableName() string { return "opendsr_requests" }

// ProcessorUpdate changes an OpenDSR request in the transaction of a task
// update, so the task and what the processor said never disagree.
type ProcessorUpdate struct {
	ID  string
	Set map[string]any
}

// AddOpenDSR records a new OpenDSR request for its task, superseding any
// earlier one of the same task, in one transaction.
func (s *Store) AddOpenDSR(ctx context.Context, now time.Time, r *OpenDSRRequest) error {
	now = Now(now)
	r.CreatedAt, r.UpdatedAt = now, now
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&OpenDSRRequest{}).Where("task_id = ? AND superseded_at IS NULL", r.TaskID).
			Updates(map[string]any{"superseded_at": now, "next_poll_at": nil, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("models: supersede opendsr request: %w", err)
		}
		if err := tx.Create(r).Error; err != nil {
			return fmt.Errorf("models: insert opendsr request: %w", err)
		}
		return nil
	})
}

// CurrentOpenDSR is the task's OpenDSR request that is not superseded.
func (s *Store) CurrentOpenDSR(ctx context.Context, taskID int64) (*OpenDSRRequest, error) {
	var r OpenDSRRequest
	err := s.r.WithContext(ctx).Where("task_id = ? AND superseded_at IS NULL", taskID).Take(&r).Error
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("opendsr request of task %d", taskID))
	}
	return &r, nil
}

// OpenDSR reads one OpenDSR request by its subject_request_id.
func (s *Store) OpenDSR(ctx context.Context, id string) (*OpenDSRRequest, error) {
	var r OpenDSRRequest
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, notFound(err, "opendsr request")
	}
	return &r, nil
}

// SetOpenDSR changes named columns of one OpenDSR request.
func (s *Store) SetOpenDSR(ctx context.Context, now time.Time, id string, set map[string]any) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return setOpenDSR(tx, now, ProcessorUpdate{ID: id, Set: set})
	})
}

func setOpenDSR(tx *gorm.DB, now time.Time, p ProcessorUpdate) error {
	set := map[string]any{"updated_at": Now(now)}
	for k, v := range p.Set {
		set[k] = normTime(v)
	}
	if err := tx.Model(&OpenDSRRequest{}).Where("id = ?", p.ID).Updates(set).Error; err != nil {
		return fmt.Errorf("models: update opendsr request: %w", err)
	}
	return nil
}

// ScheduleOpenDSRPolls queues a run of each opendsr task whose status
// read is due (its task still pending), at most limit of them, and moves
// their next poll lease ahead so the next schedule does not queue them
// again while the run is waiting; the run sets the real next time.
func (s *Store) ScheduleOpenDSRPolls(ctx context.Context, now time.Time, lease time.Duration, limit int) (int, error) {
	now = Now(now)
	var due []OpenDSRRequest
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&OpenDSRRequest{}).Joins("JOIN tasks ON tasks.id = opendsr_requests.task_id").
			Where("opendsr_requests.superseded_at IS NULL AND opendsr_requests.next_poll_at <= ? AND tasks.state = ?", now, TaskPending).
			Order("opendsr_requests.next_poll_at").Limit(limit).Select("opendsr_requests.*").Find(&due).Error
		if err != nil {
			return fmt.Errorf("models: due opendsr polls: %w", err)
		}
		stx, err := sqlTx(tx)
		if err != nil {
			return err
		}
		for _, r := range due {
			if err := setOpenDSR(tx, now, ProcessorUpdate{ID: r.ID, Set: map[string]any{"next_poll_at": now.Add(lease)}}); err != nil {
				return err
			}
			if _, err := s.jobs.InsertTx(ctx, stx, RunTaskArgs{TaskID: r.TaskID}, nil); err != nil {
				return fmt.Errorf("models: queue opendsr poll of task %d: %w", r.TaskID, err)
			}
		}
		return nil
	})
	return len(due), err
}
