package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"rightsportal/service"
)

// OpenDSRPollArgs is the scheduled look for OpenDSR requests whose status
// read is due; each read runs as its task's job.
type OpenDSRPollArgs struct{}

// Kind names the job.
func (OpenDSRPollArgs) Kind() string { return "opendsr_poll" }

// InsertOpts keeps at most one look waiting per minute.
func (OpenDSRPollArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}
}

// OpenDSRPollWorker runs service.PollOpenDSR.
type OpenDSRPollWorker struct {
	river.WorkerDefaults[OpenDSRPollArgs]
	Service *service.Service
	Log     *slog.Logger
}

// Work queues the due status reads.
func (w *OpenDSRPollWorker) Work(ctx context.Context, _ *river.Job[OpenDSRPollArgs]) error {
	n, err := w.Service.PollOpenDSR(ctx)
	if n > 0 {
		w.Log.DebugContext(ctx, "opendsr status reads queued", "count", n)
	}
	return err
}

func openDSRPollJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return OpenDSRPollArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
