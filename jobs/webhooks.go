package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"rightsportal/models"
	"rightsportal/service"
)

// webhookWorkers is how many deliveries run at once: enough that one slow
// receiver (up to webhooks.timeout per call) does not hold up the others.
const webhookWorkers = 4

// WebhookWorker makes one delivery attempt per job.
type WebhookWorker struct {
	river.WorkerDefaults[models.DeliverWebhookArgs]
	Service *service.Service
	// MaxBackoff caps the wait between attempts (webhooks.max_backoff).
	MaxBackoff time.Duration
	// CallTimeout is one call's limit (webhooks.timeout).
	CallTimeout time.Duration
}

// Timeout leaves the call its own limit and time to record the outcome.
func (w *WebhookWorker) Timeout(*river.Job[models.DeliverWebhookArgs]) time.Duration {
	return w.CallTimeout + 15*time.Second
}

// NextRetry doubles the wait from 10 s (or max_backoff, when shorter) up
// to max_backoff: a receiver that is down gets each event soon after it
// is back, without being hammered while it is down.
func (w *WebhookWorker) NextRetry(job *river.Job[models.DeliverWebhookArgs]) time.Time {
	return time.Now().Add(hookBackoff(job.Attempt, w.MaxBackoff))
}

func hookBackoff(attempt int, maxWait time.Duration) time.Duration {
	d := min(10*time.Second, maxWait)
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// Work makes the attempt; the last one marks the delivery failed.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[models.DeliverWebhookArgs]) error {
	return w.Service.DeliverWebhook(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
}
