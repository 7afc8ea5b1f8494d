package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rightsportal/models"
	"rightsportal/workflow"
)

// ActionCloseDuplicate names the one-click close of a flagged duplicate
// in bulk answers and forms; in the audit trail it is a start_review
// (where needed) and a reject with the reason code "duplicate".
const ActionCloseDuplicate = "close_duplicate"

// findDuplicate looks, as a request is verified, for another open and
// verified request of the same subject (e-mail address) and type within
// the configured window. Checking only at verification is the point:
// a request nobody has confirmed proves nothing about who filed it, so
// an attacker who files first in a victim's name can neither flag nor
// close the victim's request.
func (s *Service) findDuplicate(ctx context.Context, req *models.Request, now time.Time) (*models.Request, error) {
	days := s.cfg.Requests.DuplicateWindowDays
	if days <= 0 {
		return nil, nil
	}
	other, err := s.store.OpenDuplicate(ctx, req.Email, req.Type, req.ID, now.AddDate(0, 0, -days))
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	return other, err
}

// openOriginal is the request req was flagged as repeating, while that
// one is still being answered. A duplicate is closed on the promise that
// the other request is answered instead (the rejection mail says so), so
// once the other is completed, rejected, withdrawn or expired the promise
// would be false and the subject would be left with no answer at all:
// then it refuses, naming field as the one at fault.
func (s *Service) openOriginal(ctx context.Context, req *models.Request, field string) (*models.Request, error) {
	if req.DuplicateOf == nil {
		return nil, &workflow.Error{Kind: workflow.ErrInvalid, Action: workflow.ActionReject, State: workflow.State(req.Status),
			Field: field, Msg: "this request is not flagged as a duplicate of another: choose the reason that fits"}
	}
	other, err := s.store.Request(ctx, *req.DuplicateOf)
	if err != nil {
		return nil, err
	}
	if st := workflow.State(other.Status); st.Closed() {
		return nil, &workflow.Error{Kind: workflow.ErrInvalid, Action: workflow.ActionReject, State: workflow.State(req.Status),
			Field: field, Msg: fmt.Sprintf("the request this one repeats (%s) is %s, so nobody answers it any more: "+
				"decide this one on its own", other.Reference, st.Label())}
	}
	return other, nil
}

// CloseDuplicate closes a request flagged as a duplicate with the reason
// code "duplicate", telling the subject which request is being answered.
// A request still at verified is first taken into review by the acting
// staff member (the state table allows a rejection only from review), so
// the trail shows both steps. Nothing is closed that was not flagged at
// verification; the other request is never touched.
func (s *Service) CloseDuplicate(ctx context.Context, staff *models.Staff, id string, version int) (*models.Request, error) {
	if version <= 0 {
		return nil, ErrVersionRequired
	}
	req, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.Version != version {
		return nil, fmt.Errorf("%w: request %s is at version %d, not %d", models.ErrConflict, id, req.Version, version)
	}
	if req.DuplicateOf == nil {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Action: workflow.ActionReject, State: workflow.State(req.Status),
			Msg: "this request is not flagged as a duplicate; reject it with a reason instead"}
	}
	other, err := s.openOriginal(ctx, req, "duplicate_of")
	if err != nil {
		return nil, err
	}
	if workflow.State(req.Status) == workflow.StateVerified {
		if req, err = s.Act(ctx, staff, id, ActInput{Action: string(workflow.ActionStartReview), Version: version}); err != nil {
			return nil, err
		}
	}
	// The message goes to the subject, so it is in the request's language.
	msg := s.loc(req.Language).T("mail.rejection.duplicate_of", "Other", other.Reference,
		"Date", s.formatDate(req.Language, other.CreatedAt))
	closed, err := s.Act(ctx, staff, id, ActInput{Action: string(workflow.ActionReject), Reason: string(workflow.RejectDuplicate),
		Message: msg, Version: req.Version})
	if err != nil {
		// The review may have started: say where the request now is.
		return req, err
	}
	return closed, nil
}
