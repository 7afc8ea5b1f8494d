package models

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// Task kinds: the work a request implies in one system.
const (
	TaskSQL     = "sql"     // statements run through a sql connector
	TaskWebhook = "webhook" // a signed call to the organisation's service
	TaskOpenDSR = "opendsr" // a processor's OpenDSR request, followed to its end
	TaskManual  = "manual"  // a person does it and records evidence
	TaskNotify  = "notify"  // tell a recipient (Art. 19)
	TaskPackage = "package" // build the download package
)

// Task states.
const (
	TaskPending = "pending" // waiting to run (automated) or for a person (manual)
	TaskRunning = "running"
	TaskDone    = "done"
	TaskFailed  = "failed" // automated and gave up; staff retry or waive
	TaskWaived  = "waived"
)

// Task is one piece of the work a request implies. complete is refused
// while any task is neither done nor waived.
type Task struct {
	ID        int64  `gorm:"primaryKey"`
	RequestID string `gorm:"size:36;not null;index"`
	Kind      string `gorm:"size:16;not null"`
	// System is the inventory code; Recipient the index of the recipient
	// for notify tasks (-1 otherwise). No gorm default: gorm would write
	// it in place of a zero, and 0 is the first recipient.
	System    string `gorm:"size:64;not null"`
	Recipient int    `gorm:"not null"`
	Title     string `gorm:"not null"`
	State     string `gorm:"size:16;not null;index"`
	// Output is what the task produced, for staff: rows counted, the
	// service's answer. Exported data itself goes to the encrypted package
	// store, never here.
	Output string `gorm:"not null;default:''"`
	Error  string `gorm:"not null;default:''"`
	// Evidence (manual done) or the waiver reason, and who gave it.
	Evidence string `gorm:"not null;default:''"`
	// NeedsValue marks a correction task that waits for staff to decide
	// the value to apply (@value); Value is that value once given.
	NeedsValue bool   `gorm:"not null;default:false"`
	Value      string `gorm:"not null;default:''"`
	DecidedBy  string `gorm:"size:36;not null;default:''"`
	Attempts   int    `gorm:"not null;default:0"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// QueueTasks is the job queue of automated tasks.
const QueueTasks = "tasks"

// RunTaskArgs is the job that runs one automated task.
type RunTaskArgs struct {
	TaskID int64 `json:"task_id"`
}

// Kind names the job.
func (RunTaskArgs) Kind() string { return "run_task" }

// InsertOpts puts tasks on their own queue, retried for about a day.
func (RunTaskArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueTasks, MaxAttempts: 12}
}

// insertTasks writes tasks and, for the automated ones that are ready,
// their jobs, in the caller's transaction.
func (s *Store) insertTasks(ctx context.Context, tx *gorm.DB, now time.Time, requestID string, tasks []*Task, jb *jobBuf) error {
	if len(tasks) == 0 {
		return nil
	}
	for _, t := range tasks {
		t.RequestID, t.CreatedAt, t.UpdatedAt = requestID, now, now
		if t.State == "" {
			t.State = TaskPending
		}
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("models: insert task: %w", err)
		}
		if !t.Automated() || t.State != TaskPending || t.NeedsValue {
			continue // these start later: by hand, or when other tasks finish
		}
		jb.add(RunTaskArgs{TaskID: t.ID}, nil)
	}
	return nil
}

// Tasks lists a request's tasks in creation order.
func (s *Store) Tasks(ctx context.Context, requestID string) ([]Task, error) {
	var out []Task
	if err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read tasks: %w", err)
	}
	return out, nil
}

// Task reads one task.
func (s *Store) Task(ctx context.Context, id int64) (*Task, error) {
	var t Task
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&t).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("task %d", id))
	}
	return &t, nil
}

// OpenTasks counts a request's tasks that are neither done nor waived.
func (s *Store) OpenTasks(ctx context.Context, requestID string) (int64, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&Task{}).Where("request_id = ? AND state NOT IN ?", requestID,
		[]string{TaskDone, TaskWaived}).Count(&n).Error
	return n, err
}

// TaskUpdate is one change to a task. From guards the change: it applies
// only while the task is in one of these states, so two workers (or a
// worker and a person) never both finish a task.
type TaskUpdate struct {
	ID   int64
	From []string
	Set  map[string]any
	// Start queues the tasks' jobs (for retries and follow-ups).
	Start []int64
	// Event, when set, is appended to the audit chain in the same
	// transaction (staff decisions on tasks are audited).
	Event *Event
	Mails []*Mail
	// Processor, when set, changes the task's OpenDSR request too.
	Processor *ProcessorUpdate
}

// UpdateTask applies u in one transaction; ErrConflict when the task is no
// longer in a From state.
func (s *Store) UpdateTask(ctx context.Context, now time.Time, u TaskUpdate) error {
	now = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		set := map[string]any{"updated_at": now}
		for k, v := range u.Set {
			set[k] = normTime(v)
		}
		res := tx.Model(&Task{}).Where("id = ? AND state IN ?", u.ID, u.From).Updates(set)
		if res.Error != nil {
			return fmt.Errorf("models: update task: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: task %d is no longer %v", ErrConflict, u.ID, u.From)
		}
		if err := s.startTasks(ctx, tx, u.Start); err != nil {
			return err
		}
		if u.Processor != nil {
			if err := setOpenDSR(tx, now, *u.Processor); err != nil {
				return err
			}
		}
		var t Task
		if err := tx.Where("id = ?", u.ID).Take(&t).Error; err != nil {
			return err
		}
		if u.Event != nil {
			u.Event.RequestID, u.Event.CreatedAt = t.RequestID, now
			if err := s.appendEvent(tx, u.Event); err != nil {
				return err
			}
		}
		if err := s.taskHooks(ctx, tx, now, u, &t); err != nil {
			return err
		}
		return s.queueMails(ctx, tx, now, &t.RequestID, u.Mails, nil)
	})
}

// startTasks queues the jobs of existing tasks (set back to pending).
func (s *Store) startTasks(ctx context.Context, tx *gorm.DB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	stx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := tx.Model(&Task{}).Where("id = ?", id).Updates(map[string]any{"state": TaskPending, "error": ""}).Error; err != nil {
			return err
		}
		if _, err := s.jobs.InsertTx(ctx, stx, RunTaskArgs{TaskID: id}, nil); err != nil {
			return fmt.Errorf("models: queue task %d: %w", id, err)
		}
	}
	return nil
}

// Automated reports whether the task runs as a job as soon as it is
// created (sql, webhook and opendsr); notify and package tasks are
// started when the system tasks finish, manual ones are done by people.
func (t *Task) Automated() bool {
	return t.Kind == TaskSQL || t.Kind == TaskWebhook || t.Kind == TaskOpenDSR
}

// Open reports whether the task still blocks completion.
func (t *Task) Open() bool { return t.State != TaskDone && t.State != TaskWaived }

// StartTasks sets tasks back to pending and queues their jobs, in one
// transaction.
func (s *Store) StartTasks(ctx context.Context, ids []int64) error {
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.startTasks(ctx, tx, ids) })
}
