package service

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/models"
	"rightsportal/workflow"
)

// The status reads of a request a processor is working on: the first a
// minute after it took the request, then each twice as long after the
// last, up to an hour. Callbacks are the fast path; polling is what
// finishes the task when a callback never comes.
const (
	openDSRFirstPoll = time.Minute
	openDSRMaxPoll   = time.Hour
	// openDSRLease keeps a queued status read from being queued again
	// before it ran; the run sets the real next time.
	openDSRLease = 15 * time.Minute
)

// Why a processor's callback is refused.
var (
	ErrCallbackUnknown   = errors.New("service: no OpenDSR request of that system has this subject_request_id")
	ErrCallbackUnsigned  = errors.New("service: the callback carries no X-OpenDSR-Signature")
	ErrCallbackSignature = errors.New("service: the callback's signature does not verify with the processor's certificate")
	ErrCallbackMismatch  = errors.New("service: the callback is about another request than its address names")
	ErrCallbackBody      = errors.New("service: the callback's body is not an OpenDSR status")
)

// CallbackMismatch is a callback that is signed but does not belong at
// its address; Why is safe to tell the processor.
type CallbackMismatch struct{ Why string }

func (e *CallbackMismatch) Error() string        { return "service: callback mismatch: " + e.Why }
func (e *CallbackMismatch) Is(target error) bool { return target == ErrCallbackMismatch }

// openDSRRank orders the processor's statuses: a status read or a
// callback that would go back (a late or replayed "pending" after
// "in_progress") changes nothing.
var openDSRRank = map[string]int{"": 0, connectors.OpenDSRPending: 1, connectors.OpenDSRInProgress: 2,
	connectors.OpenDSRCompleted: 3, connectors.OpenDSRCancelled: 3}

// OpenDSRCallbackPath is where the processor reports on request id of
// system: the address names the request, so a signed callback about one
// request cannot be replayed to change another.
func OpenDSRCallbackPath(system, id string) string {
	return "/api/v1/opendsr/" + url.PathEscape(system) + "/callbacks/" + url.PathEscape(id)
}

// runOpenDSR carries an opendsr task one step: the first run sends the
// processor the request, each later run (a status read the poll
// schedule queued, or a staff retry) reads its status. The task was
// claimed (running) by RunTask; this records the outcome itself.
func (s *Service) runOpenDSR(ctx context.Context, t *models.Task, req *models.Request, lastAttempt bool) error {
	now := s.now()
	row, err := s.store.CurrentOpenDSR(ctx, t.ID)
	fresh := false
	if errors.Is(err, models.ErrNotFound) || err == nil && row.Status == connectors.OpenDSRCancelled {
		// First run, or a staff retry after the processor cancelled: a
		// new request with an id of its own.
		if row, err = s.newOpenDSR(ctx, t, req); err != nil {
			return err
		}
		fresh = true
	} else if err != nil {
		return err
	}
	var st connectors.OpenDSRStatus
	var runErr error
	if row.SubmittedAt == nil {
		st, runErr = s.submitOpenDSR(ctx, t, req, row, fresh)
	} else {
		st, runErr = s.ful.Connectors.OpenDSRStatusOf(ctx, t.System, row.ID)
	}
	u := models.TaskUpdate{ID: t.ID, From: []string{models.TaskRunning}, Processor: &models.ProcessorUpdate{ID: row.ID, Set: map[string]any{}}}
	if row.SubmittedAt == nil && runErr == nil {
		u.Processor.Set["submitted_at"] = models.Now(now)
	}
	switch {
	case runErr == nil:
		s.applyOpenDSR(t, req, row, st, &u, now)
	case errors.Is(runErr, connectors.ErrPermanent) || lastAttempt && row.SubmittedAt == nil:
		u.Set = map[string]any{"state": models.TaskFailed, "error": clip(runErr.Error(), 1000)}
		u.Processor.Set["next_poll_at"] = nil
	case row.SubmittedAt != nil:
		// A status read that failed for now: the next one is scheduled
		// like any other, and staff see why meanwhile.
		u.Set = map[string]any{"state": models.TaskPending, "error": clip(runErr.Error(), 1000)}
		s.nextPoll(row, &u, now)
	default:
		// The request did not reach the processor: the job engine retries
		// it with the same id.
		u.Set = map[string]any{"state": models.TaskPending, "error": clip(runErr.Error(), 1000)}
	}
	if u.Set["state"] == models.TaskFailed {
		if err := s.notifyTaskFailed(ctx, req, t, &u); err != nil {
			return err
		}
	}
	if err := s.store.UpdateTask(context.WithoutCancel(ctx), now, u); err != nil {
		return err
	}
	switch {
	case u.Set["state"] == models.TaskDone:
		return s.afterTask(ctx, t.RequestID)
	case runErr != nil && row.SubmittedAt == nil && u.Set["state"] == models.TaskPending:
		return runErr
	}
	return nil
}

// newOpenDSR makes the request's id and callback address and records
// them before anything is sent, so that a callback arriving before the
// processor's answer finds its request.
func (s *Service) newOpenDSR(ctx context.Context, t *models.Task, req *models.Request) (*models.OpenDSRRequest, error) {
	id, err := connectors.NewSubjectRequestID()
	if err != nil {
		return nil, err
	}
	row := &models.OpenDSRRequest{ID: id, TaskID: t.ID, RequestID: req.ID, System: t.System,
		CallbackURL: s.cfg.HTTP.BaseURL + OpenDSRCallbackPath(t.System, id)}
	if err := s.store.AddOpenDSR(ctx, s.now(), row); err != nil {
		return nil, err
	}
	return row, nil
}

// submitOpenDSR sends the request. A request made by an earlier attempt
// may have reached the processor before the answer was lost: its status
// is asked first, and it is sent only if the processor does not know it.
func (s *Service) submitOpenDSR(ctx context.Context, t *models.Task, req *models.Request, row *models.OpenDSRRequest, fresh bool) (connectors.OpenDSRStatus, error) {
	sys := s.cfg.System(t.System)
	if sys == nil || sys.Connector.Kind != config.ConnectorOpenDSR || sys.Connector.OpenDSR == nil {
		return connectors.OpenDSRStatus{}, fmt.Errorf("%w: system %q is no longer an opendsr system", connectors.ErrPermanent, t.System)
	}
	reg, ok := sys.Connector.OpenDSR.Regulation(req.Jurisdiction)
	if !ok {
		return connectors.OpenDSRStatus{}, fmt.Errorf("%w: the %s jurisdiction has no OpenDSR regulation (connector.opendsr.regulations of %q): do it another way and waive this task",
			connectors.ErrPermanent, req.Jurisdiction, t.System)
	}
	if !fresh {
		st, err := s.ful.Connectors.OpenDSRStatusOf(ctx, t.System, row.ID)
		if !errors.Is(err, connectors.ErrUnknownAtSource) {
			return st, err
		}
	}
	return s.ful.Connectors.SubmitOpenDSR(ctx, t.System, s.job(t, req), connectors.OpenDSRSubmission{
		SubjectRequestID: row.ID, Regulation: reg, SubmittedAt: req.CreatedAt, CallbackURL: row.CallbackURL})
}

// applyOpenDSR fills u with what the processor's status means for the
// task: completed is done, cancelled is failed for staff, pending and
// in_progress keep it pending until the next status read or callback.
// A change of status is an audit event.
func (s *Service) applyOpenDSR(t *models.Task, req *models.Request, row *models.OpenDSRRequest, st connectors.OpenDSRStatus, u *models.TaskUpdate, now time.Time) {
	status := st.RequestStatus
	if openDSRRank[status] < openDSRRank[row.Status] {
		status = row.Status // never backwards
	}
	if status != row.Status {
		u.Processor.Set["status"] = status
		u.Event = &models.Event{Action: "processor_status", FromState: req.Status, ToState: req.Status,
			ActorKind: string(workflow.ActorSystem), Reason: t.Title,
			Message: fmt.Sprintf("%s (OpenDSR %s) reported %s.", t.System, row.ID, status)}
	}
	switch status {
	case connectors.OpenDSRCompleted:
		u.Set = map[string]any{"state": models.TaskDone, "output": clip(openDSRSummary(req, st), 2000), "error": "",
			"finished_at": models.Now(now)}
		u.Processor.Set["next_poll_at"] = nil
	case connectors.OpenDSRCancelled:
		u.Set = map[string]any{"state": models.TaskFailed, "output": "the processor reports cancelled", "error": "the processor cancelled the OpenDSR request: ask it why, then retry (a new request) or waive"}
		u.Processor.Set["next_poll_at"] = nil
	default:
		out := "the processor reports " + status
		if st.ExpectedCompletionTime != "" {
			out += ", expected by " + clip(st.ExpectedCompletionTime, 40)
		}
		u.Set = map[string]any{"state": models.TaskPending, "output": out, "error": ""}
		s.nextPoll(row, u, now)
	}
}

// nextPoll schedules the next status read with backoff.
func (s *Service) nextPoll(row *models.OpenDSRRequest, u *models.TaskUpdate, now time.Time) {
	wait := openDSRMaxPoll
	if row.Polls < 6 {
		wait = min(openDSRFirstPoll<<row.Polls, openDSRMaxPoll)
	}
	u.Processor.Set["polls"] = row.Polls + 1
	u.Processor.Set["next_poll_at"] = models.Now(now.Add(wait))
}

func openDSRSummary(req *models.Request, st connectors.OpenDSRStatus) string {
	out := "the processor completed the request"
	if st.ResultsCount != nil {
		out += fmt.Sprintf(" (%d results)", *st.ResultsCount)
	}
	rt := workflow.RequestType(req.Type)
	if st.ResultsURL != "" && (rt == workflow.TypeAccess || rt == workflow.TypePortability) {
		// OpenDSR leaves the transfer of results out: staff fetch them and
		// add them to the package.
		out += "; results at " + st.ResultsURL + ": fetch them and add them to the package"
	}
	return out
}

// OpenDSRCallbackInput is a processor's status callback as it arrived:
// the system and id its address names, the signature header and the raw
// body, not yet read.
type OpenDSRCallbackInput struct {
	System    string
	ID        string
	Signature string
	Body      []byte
}

// OpenDSRCallbackResult is what the portal made of a callback.
type OpenDSRCallbackResult struct {
	SubjectRequestID string
	RequestStatus    string
	TaskState        string
}

// OpenDSRCallback takes a processor's status callback. The signature is
// checked over the raw body before the body is read; the body must name
// the request the address names, and that request must be a current one
// of that system. The task then follows the status at once, audited.
func (s *Service) OpenDSRCallback(ctx context.Context, in OpenDSRCallbackInput) (OpenDSRCallbackResult, error) {
	if s.ful.Connectors == nil {
		return OpenDSRCallbackResult{}, ErrCallbackUnknown
	}
	switch err := s.ful.Connectors.VerifyOpenDSRCallback(in.System, in.Signature, in.Body); {
	case errors.Is(err, connectors.ErrNotOpenDSR):
		return OpenDSRCallbackResult{}, ErrCallbackUnknown
	case errors.Is(err, connectors.ErrNoSignature):
		return OpenDSRCallbackResult{}, ErrCallbackUnsigned
	case err != nil:
		s.log.WarnContext(ctx, "opendsr callback refused", "system", in.System, "err", err)
		return OpenDSRCallbackResult{}, ErrCallbackSignature
	}
	st, err := connectors.ParseOpenDSRStatus(in.Body)
	if err != nil {
		return OpenDSRCallbackResult{}, fmt.Errorf("%w: %v", ErrCallbackBody, err)
	}
	if !connectors.ValidSubjectRequestID(in.ID) {
		return OpenDSRCallbackResult{}, ErrCallbackUnknown
	}
	if st.SubjectRequestID != in.ID {
		return OpenDSRCallbackResult{}, &CallbackMismatch{"the body names another subject_request_id than the address"}
	}
	row, err := s.store.OpenDSR(ctx, in.ID)
	if errors.Is(err, models.ErrNotFound) || err == nil && row.System != in.System {
		return OpenDSRCallbackResult{}, ErrCallbackUnknown
	}
	if err != nil {
		return OpenDSRCallbackResult{}, err
	}
	if st.StatusCallbackURL != "" && st.StatusCallbackURL != row.CallbackURL {
		return OpenDSRCallbackResult{}, &CallbackMismatch{"status_callback_url is not this address"}
	}
	if row.SupersededAt != nil {
		return OpenDSRCallbackResult{}, &CallbackMismatch{"this request was replaced by a newer one for the same work"}
	}
	return s.applyCallback(ctx, row, st)
}

// applyCallback moves a pending task with the callback's status. A task
// being worked on (a status read in flight) is left to that run, and a
// read is asked for at once, so the callback is not lost; a task no
// longer open is not changed.
func (s *Service) applyCallback(ctx context.Context, row *models.OpenDSRRequest, st connectors.OpenDSRStatus) (OpenDSRCallbackResult, error) {
	t, err := s.store.Task(ctx, row.TaskID)
	if err != nil {
		return OpenDSRCallbackResult{}, err
	}
	res := OpenDSRCallbackResult{SubjectRequestID: row.ID, RequestStatus: st.RequestStatus, TaskState: t.State}
	now := s.now()
	switch t.State {
	case models.TaskPending:
	case models.TaskRunning:
		return res, s.store.SetOpenDSR(ctx, now, row.ID, map[string]any{"next_poll_at": models.Now(now)})
	default:
		return res, nil
	}
	req, err := s.store.Request(ctx, t.RequestID)
	if err != nil {
		return res, err
	}
	u := models.TaskUpdate{ID: t.ID, From: []string{models.TaskPending}, Processor: &models.ProcessorUpdate{ID: row.ID, Set: map[string]any{}}}
	s.applyOpenDSR(t, req, row, st, &u, now)
	if u.Set["state"] == models.TaskFailed {
		if err := s.notifyTaskFailed(ctx, req, t, &u); err != nil {
			return res, err
		}
	}
	if err := s.store.UpdateTask(ctx, now, u); err != nil {
		if errors.Is(err, models.ErrConflict) {
			// Claimed meanwhile: that run reads the status itself.
			return res, s.store.SetOpenDSR(ctx, now, row.ID, map[string]any{"next_poll_at": models.Now(now)})
		}
		return res, err
	}
	res.TaskState = u.Set["state"].(string)
	if res.TaskState == models.TaskDone {
		return res, s.afterTask(ctx, t.RequestID)
	}
	return res, nil
}

// PollOpenDSR queues the status reads that are due; the periodic job
// calls it every minute.
func (s *Service) PollOpenDSR(ctx context.Context) (int, error) {
	return s.store.ScheduleOpenDSRPolls(ctx, s.now(), openDSRLease, 200)
}
