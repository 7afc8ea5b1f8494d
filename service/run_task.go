package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"rightsportal/connectors"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// RunTask carries out one automated task (a job): it claims the task,
// runs it, and records the outcome. A temporary failure leaves the task
// pending and returns the error so the job engine retries; a permanent
// one, or the last attempt, marks it failed for staff to retry or waive.
func (s *Service) RunTask(ctx context.Context, taskID int64, lastAttempt bool) error {
	t, err := s.store.Task(ctx, taskID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := models.Now(s.now())
	// Claim: pending (or running, left by a process that died) → running.
	claim := models.TaskUpdate{ID: t.ID, From: []string{models.TaskPending, models.TaskRunning},
		Set: map[string]any{"state": models.TaskRunning, "attempts": t.Attempts + 1}}
	if err := s.store.UpdateTask(ctx, now, claim); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return nil // done, failed or waived meanwhile: nothing to do
		}
		return err
	}
	req, err := s.store.Request(ctx, t.RequestID)
	if err != nil {
		return err
	}
	if t.Kind == models.TaskOpenDSR {
		// The processor finishes on its own time: service/opendsr.go.
		return s.runOpenDSR(ctx, t, req, lastAttempt)
	}
	output, runErr := s.runTask(ctx, t, req)
	done := models.TaskUpdate{ID: t.ID, From: []string{models.TaskRunning}}
	switch {
	case runErr == nil:
		done.Set = map[string]any{"state": models.TaskDone, "output": clip(output, 2000), "error": "", "finished_at": models.Now(s.now())}
	case errors.Is(runErr, connectors.ErrPermanent) || lastAttempt:
		done.Set = map[string]any{"state": models.TaskFailed, "error": clip(runErr.Error(), 1000)}
		if err := s.notifyTaskFailed(ctx, req, t, &done); err != nil {
			return err
		}
	default:
		done.Set = map[string]any{"state": models.TaskPending, "error": clip(runErr.Error(), 1000)}
	}
	if err := s.store.UpdateTask(context.WithoutCancel(ctx), s.now(), done); err != nil {
		return err
	}
	if runErr != nil {
		if done.Set["state"] == models.TaskFailed {
			return nil // recorded; staff take over
		}
		return runErr
	}
	return s.afterTask(ctx, t.RequestID)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// runTask does the work of one task and says what it did.
func (s *Service) runTask(ctx context.Context, t *models.Task, req *models.Request) (string, error) {
	switch t.Kind {
	case models.TaskSQL, models.TaskWebhook:
		return s.runSystemTask(ctx, t, req)
	case models.TaskNotify:
		return s.runNotify(ctx, t, req)
	case models.TaskPackage:
		return s.buildPackage(ctx, req)
	}
	return "", fmt.Errorf("%w: a %s task is not automated", connectors.ErrPermanent, t.Kind)
}

func (s *Service) job(t *models.Task, req *models.Request) connectors.Job {
	var d workflow.Details
	json.Unmarshal([]byte(req.Details), &d)
	return connectors.Job{Right: workflow.RequestType(req.Type), RequestID: req.ID, Reference: req.Reference,
		Email: req.Email, Name: req.FullName, Details: d, Value: t.Value,
		Delivery: fmt.Sprintf("task-%d-attempt-%d", t.ID, t.Attempts+1)}
}

func (s *Service) runSystemTask(ctx context.Context, t *models.Task, req *models.Request) (string, error) {
	if t.NeedsValue && t.Value == "" {
		return "", fmt.Errorf("%w: the correction to apply was not given", connectors.ErrPermanent)
	}
	res, err := s.ful.Connectors.Run(ctx, t.System, s.job(t, req))
	if err != nil {
		return "", err
	}
	if res.Pending {
		// The service took the job and finishes it later: ask again with
		// the next attempt until it says done.
		return "", fmt.Errorf("the service accepted the job and is still working on it")
	}
	rt := workflow.RequestType(req.Type)
	if rt == workflow.TypeAccess || rt == workflow.TypePortability {
		if err := s.saveExport(req, t.System, res); err != nil {
			return "", err
		}
	}
	out := res.Summary
	if t.NeedsValue {
		out = fmt.Sprintf("applied %q: %s", t.Value, res.Summary)
	}
	return out, nil
}

// runNotify tells one recipient (Art. 19) by mail or by its webhook.
func (s *Service) runNotify(ctx context.Context, t *models.Task, req *models.Request) (string, error) {
	sys := s.cfg.System(t.System)
	if sys == nil || t.Recipient < 0 || t.Recipient >= len(sys.Recipients) {
		return "", fmt.Errorf("%w: the recipient is no longer in the inventory", connectors.ErrPermanent)
	}
	rc := sys.Recipients[t.Recipient]
	right := workflow.RequestType(req.Type)
	if rc.NotifyWebhook != nil {
		payload := map[string]any{"event": "data_subject_request", "right": req.Type, "reference": req.Reference,
			"subject": map[string]string{"email": req.Email, "name": req.FullName}, "system": sys.Code}
		if err := s.ful.Connectors.Notify(ctx, *rc.NotifyWebhook, payload, fmt.Sprintf("notify-%d-attempt-%d", t.ID, t.Attempts+1)); err != nil {
			return "", err
		}
		return "told by webhook", nil
	}
	// The recipient is a third party (Art. 19), not the subject: the
	// notice is in the default language, whatever the request's.
	lang := s.mail.Catalog().Default()
	m, err := s.mail.Compose(mailer.Message{Kind: "recipient_notice", To: rc.NotifyMail, Lang: lang,
		Data: s.mailDataIn(lang, req, map[string]any{"Recipient": rc.Name, "System": sys.Name, "Email": req.Email,
			"Action": s.loc(lang).Or("mail.recipient_notice.action_"+recipientKind(right), recipientAction(right))})})
	if err != nil {
		return "", err
	}
	if err := s.store.UpdateTask(ctx, s.now(), models.TaskUpdate{ID: t.ID, From: []string{models.TaskRunning},
		Set: map[string]any{}, Mails: []*models.Mail{m}}); err != nil {
		return "", err
	}
	return "told by mail to " + rc.NotifyMail, nil
}

// recipientKind names the recipient's duty for the catalog: erasure,
// rectification or (for the rest) restriction, as recipientAction.
func recipientKind(t workflow.RequestType) string {
	switch t {
	case workflow.TypeErasure, workflow.TypeRectification:
		return string(t)
	}
	return "restriction"
}

func recipientAction(t workflow.RequestType) string {
	switch t {
	case workflow.TypeErasure:
		return "erase the personal data of this person that we disclosed to you"
	case workflow.TypeRectification:
		return "correct the personal data of this person that we disclosed to you, as we did"
	}
	return "restrict the processing of the personal data of this person that we disclosed to you"
}

// notifyTaskFailed tells whoever holds the request that a task needs a
// person.
func (s *Service) notifyTaskFailed(ctx context.Context, req *models.Request, t *models.Task, u *models.TaskUpdate) error {
	ch := models.Change{}
	if err := s.notifyTeam(ctx, req, &ch, "staff_task_failed", map[string]any{"Task": t.Title}); err != nil {
		return err
	}
	u.Mails = ch.Mails
	return nil
}
