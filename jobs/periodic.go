package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"rightsportal/service"
)

// QueueMaintenance runs the scheduled work, one job at a time.
const QueueMaintenance = "maintenance"

// SweepArgs is the frequent scheduled work (expiry, reminders,
// escalations, extension warnings).
type SweepArgs struct{}

// Kind names the job.
func (SweepArgs) Kind() string { return "sweep" }

// InsertOpts keeps at most one sweep waiting per minute, so runs never
// pile up behind a slow one.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// RetentionArgs is the retention purge of closed requests.
type RetentionArgs struct{}

// Kind names the job.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts keeps at most one purge waiting per hour.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// SweepWorker runs service.Sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Service *service.Service
	Log     *slog.Logger
}

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	rep, err := w.Service.Sweep(ctx)
	if rep != (service.SweepReport{}) {
		w.Log.InfoContext(ctx, "scheduled work", "expired", rep.Expired, "verification_reminders", rep.Reminded,
			"due_reminders", rep.DueSoon, "escalations", rep.Escalated, "extension_warnings", rep.ExtensionWarned)
	}
	return err
}

// RetentionWorker runs service.PurgeClosed.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	Service *service.Service
	Log     *slog.Logger
}

// Work purges what the retention period allows.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	items, err := w.Service.PurgeClosed(ctx, false)
	if len(items) > 0 {
		w.Log.InfoContext(ctx, "retention purge", "requests", len(items))
	}
	return err
}

// periodicJobs are scheduled by the elected leader only, so several
// instances on one database run each once.
func periodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		openDSRPollJob(),
	}
}
