package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"rightsportal/models"
	"rightsportal/service"
)

// TaskWorker runs one automated fulfilment task per job.
type TaskWorker struct {
	river.WorkerDefaults[models.RunTaskArgs]
	Service *service.Service
}

// Timeout bounds one run: a connector call has 30 s, a package build more.
func (w *TaskWorker) Timeout(*river.Job[models.RunTaskArgs]) time.Duration { return 5 * time.Minute }

// Work runs the task; on its last attempt a failure is recorded for staff
// instead of retried.
func (w *TaskWorker) Work(ctx context.Context, job *river.Job[models.RunTaskArgs]) error {
	return w.Service.RunTask(ctx, job.Args.TaskID, job.Attempt >= job.MaxAttempts)
}
