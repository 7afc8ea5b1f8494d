package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/models"
	"rightsportal/workflow"
)

// Fulfilment is what the service needs to carry requests out: the
// connectors to the organisation's systems and the encrypted file store.
type Fulfilment struct {
	Connectors *connectors.Registry
	Files      packageStore
}

// WithFulfilment gives the service its connectors and file store.
func (s *Service) WithFulfilment(f Fulfilment) *Service {
	s.ful = f
	return s
}

// tasksFor is the work a request implies: one task per system that
// serves its type, then (for erasure, rectification, restriction) one per
// recipient to notify under Art. 19, and (for access and portability) the
// package to build.
func (s *Service) tasksFor(r *models.Request) []*models.Task {
	t := workflow.RequestType(r.Type)
	var out []*models.Task
	for i := range s.cfg.Systems {
		sys := &s.cfg.Systems[i]
		if !sys.Serves(t) {
			continue
		}
		task := &models.Task{System: sys.Code, Recipient: -1, Title: taskTitle(t, sys)}
		switch sys.Connector.Kind {
		case config.ConnectorSQL:
			task.Kind = models.TaskSQL
			task.NeedsValue = t == workflow.TypeRectification
		case config.ConnectorWebhook:
			task.Kind = models.TaskWebhook
		case config.ConnectorOpenDSR:
			task.Kind = models.TaskOpenDSR
		default:
			task.Kind = models.TaskManual
		}
		out = append(out, task)
	}
	if notifiesRecipients(t) {
		out = append(out, s.notifyTasks(t)...)
	}
	if (t == workflow.TypeAccess || t == workflow.TypePortability) && len(out) > 0 {
		out = append(out, &models.Task{Kind: models.TaskPackage, Recipient: -1, Title: "Build the download package"})
	}
	return out
}

// notifiesRecipients: Art. 19 covers rectification, erasure and
// restriction.
func notifiesRecipients(t workflow.RequestType) bool {
	return t == workflow.TypeErasure || t == workflow.TypeRectification || t == workflow.TypeRestriction
}

func (s *Service) notifyTasks(t workflow.RequestType) []*models.Task {
	var out []*models.Task
	for i := range s.cfg.Systems {
		sys := &s.cfg.Systems[i]
		if !sys.Serves(t) {
			continue
		}
		for j, rc := range sys.Recipients {
			task := &models.Task{Kind: models.TaskNotify, System: sys.Code, Recipient: j,
				Title: fmt.Sprintf("Tell %s (recipient of %s) about the %s", rc.Name, sys.Name, t.Noun())}
			if rc.NotifyMail == "" && rc.NotifyWebhook == nil {
				task.Kind = models.TaskManual // nobody to call: staff tell them and record it
			}
			out = append(out, task)
		}
	}
	return out
}

func taskTitle(t workflow.RequestType, sys *config.System) string {
	verb := map[workflow.RequestType]string{
		workflow.TypeAccess: "Export the subject's data from", workflow.TypePortability: "Export the data the subject provided from",
		workflow.TypeErasure: "Erase the subject's data in", workflow.TypeRectification: "Correct the subject's data in",
		workflow.TypeRestriction: "Restrict the use of the subject's data in", workflow.TypeObjection: "Stop the processing objected to in",
		workflow.TypeConsentWithdrawal: "Withdraw the consent in",
	}[t]
	title := verb + " " + sys.Name
	if sys.Connector.Kind == config.ConnectorManual {
		title += " (" + sys.Connector.Team + ")"
	}
	return title
}

// autoRun reports whether a request's tasks start at verification, before
// approval: objections to direct marketing and consent withdrawals are
// absolute rights, where the operator allows it.
func (s *Service) autoRun(r *models.Request) bool {
	var d workflow.Details
	json.Unmarshal([]byte(r.Details), &d)
	switch workflow.RequestType(r.Type) {
	case workflow.TypeObjection:
		return d.DirectMarketing && slices.Contains(s.cfg.Fulfilment.AutoRun, "objection_direct_marketing")
	case workflow.TypeConsentWithdrawal:
		return slices.Contains(s.cfg.Fulfilment.AutoRun, "consent_withdrawal")
	}
	return false
}

// ErrTaskState: the task cannot take this step in its state.
var ErrTaskState = errors.New("service: the task is not in a state for this")

// TaskInput is a staff decision on one task.
type TaskInput struct {
	// Action is done (manual, with Evidence), waive (with Reason), retry
	// (a failed automated task) or apply (a correction: Value).
	Action   string
	Evidence string
	Reason   string
	Value    string
}

// DecideTask records a staff member's step on a task, audited.
func (s *Service) DecideTask(ctx context.Context, actor *models.Staff, requestID string, taskID int64, in TaskInput) error {
	t, err := s.store.Task(ctx, taskID)
	if err != nil || t.RequestID != requestID {
		return fmt.Errorf("%w: task %d", models.ErrNotFound, taskID)
	}
	req, err := s.store.Request(ctx, requestID)
	if err != nil {
		return err
	}
	if st := workflow.State(req.Status); st.Closed() {
		return &workflow.Error{Kind: workflow.ErrNotAllowed, Action: "task", State: st, Msg: "the request is closed"}
	}
	now := models.Now(s.now())
	u, err := s.taskStep(actor, t, in, now)
	if err != nil {
		return err
	}
	if err := s.store.UpdateTask(ctx, now, u); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return fmt.Errorf("%w: %v", ErrTaskState, err)
		}
		return err
	}
	return s.afterTask(ctx, requestID)
}

func (s *Service) taskStep(actor *models.Staff, t *models.Task, in TaskInput, now time.Time) (models.TaskUpdate, error) {
	field := func(name, v string, max int) (string, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return "", &ValidationError{Fields: map[string]string{name: "is required"}}
		}
		if m := workflow.CheckText(v, max, true); m != "" {
			return "", &ValidationError{Fields: map[string]string{name: m}}
		}
		return v, nil
	}
	ev := &models.Event{ActorKind: string(workflow.ActorStaff), ActorID: actor.ID, Reason: t.Title}
	open := []string{models.TaskPending, models.TaskFailed}
	switch in.Action {
	case "done":
		if t.Kind != models.TaskManual {
			return models.TaskUpdate{}, fmt.Errorf("%w: only manual tasks are marked done by hand", ErrTaskState)
		}
		ev2, err := field("evidence", in.Evidence, MaxMessageLen)
		if err != nil {
			return models.TaskUpdate{}, err
		}
		ev.Action, ev.Message = "task_done", ev2
		return models.TaskUpdate{ID: t.ID, From: open, Event: ev, Set: map[string]any{"state": models.TaskDone,
			"evidence": ev2, "decided_by": actor.ID, "finished_at": now}}, nil
	case "waive":
		reason, err := field("reason", in.Reason, MaxReasonLen)
		if err != nil {
			return models.TaskUpdate{}, err
		}
		ev.Action, ev.Message = "task_waived", reason
		return models.TaskUpdate{ID: t.ID, From: open, Event: ev, Set: map[string]any{"state": models.TaskWaived,
			"evidence": reason, "decided_by": actor.ID, "finished_at": now}}, nil
	case "retry":
		if t.Kind == models.TaskManual {
			return models.TaskUpdate{}, fmt.Errorf("%w: manual tasks are not retried", ErrTaskState)
		}
		ev.Action = "task_retry"
		return models.TaskUpdate{ID: t.ID, From: []string{models.TaskFailed}, Event: ev, Start: []int64{t.ID},
			Set: map[string]any{"decided_by": actor.ID}}, nil
	case "apply":
		if !t.NeedsValue {
			return models.TaskUpdate{}, fmt.Errorf("%w: this task takes no value", ErrTaskState)
		}
		v, err := field("value", in.Value, workflow.MaxDetailLen)
		if err != nil {
			return models.TaskUpdate{}, err
		}
		ev.Action, ev.Message = "task_apply", v
		return models.TaskUpdate{ID: t.ID, From: open, Event: ev, Start: []int64{t.ID},
			Set: map[string]any{"value": v, "decided_by": actor.ID}}, nil
	}
	return models.TaskUpdate{}, &ValidationError{Fields: map[string]string{"action": "must be done, waive, retry or apply"}}
}

// afterTask starts the follow-up tasks (recipient notices, the package)
// once every system task of the request is done or waived.
func (s *Service) afterTask(ctx context.Context, requestID string) error {
	tasks, err := s.store.Tasks(ctx, requestID)
	if err != nil {
		return err
	}
	var follow []int64
	for _, t := range tasks {
		switch {
		case t.Kind == models.TaskNotify || t.Kind == models.TaskPackage:
			if t.State == models.TaskPending && t.Attempts == 0 {
				follow = append(follow, t.ID)
			}
		case t.Recipient >= 0:
			// a manual recipient notice is not a system task
		case t.Open():
			return nil // a system task is still open
		}
	}
	return s.store.StartTasks(ctx, follow)
}

// CurrentValues is what a system holds now about the subject, shown to
// staff beside a proposed correction.
type CurrentValues struct {
	System  string
	Columns []string
	Rows    []map[string]any
	Error   string
}

// LookupCurrent runs every sql system's find statement for a
// rectification request (read-only, bounded in time).
func (s *Service) LookupCurrent(ctx context.Context, req *models.Request) []CurrentValues {
	if workflow.RequestType(req.Type) != workflow.TypeRectification || s.ful.Connectors == nil || req.PurgedAt != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []CurrentValues
	for i := range s.cfg.Systems {
		sys := &s.cfg.Systems[i]
		if sys.Connector.Kind != config.ConnectorSQL {
			continue
		}
		cv := CurrentValues{System: sys.Name}
		res, err := s.ful.Connectors.Lookup(ctx, sys.Code, connectors.Job{Right: workflow.TypeRectification,
			RequestID: req.ID, Reference: req.Reference, Email: req.Email, Name: req.FullName})
		if err != nil {
			cv.Error = "could not read: " + err.Error()
		} else {
			cv.Columns, cv.Rows = res.Columns, res.Rows
		}
		out = append(out, cv)
	}
	return out
}

// RecipientsTold lists the recipients told about the request (Art. 19),
// for a subject who asks who they are.
func (s *Service) RecipientsTold(ctx context.Context, req *models.Request) ([]string, error) {
	tasks, err := s.store.Tasks(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tasks {
		if t.Recipient < 0 || t.State != models.TaskDone {
			continue
		}
		if sys := s.cfg.System(t.System); sys != nil && t.Recipient < len(sys.Recipients) {
			out = append(out, sys.Recipients[t.Recipient].Name)
		}
	}
	return out, nil
}
