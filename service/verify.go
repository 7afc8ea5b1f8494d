package service

import (
	"context"
	"errors"

	"rightsportal/i18n"
	"rightsportal/models"
	"rightsportal/workflow"
)

// Verification channels, recorded as the reason of the verify event.
const (
	ViaLink  = "link"
	ViaReply = "reply"
)

// CheckVerifyToken answers whether a verification token would work now,
// without spending it: the confirm page shows its button only then.
func (s *Service) CheckVerifyToken(ctx context.Context, token string) (*models.Request, error) {
	_, req, err := s.verifyToken(ctx, token, models.TokenVerifyLink)
	return req, err
}

// Verify spends a verification token and moves the request to verified:
// the clock starts (or, for laws that count from submission, keeps
// running), the acknowledgment goes out, and every other verification
// token of the request stops working.
func (s *Service) Verify(ctx context.Context, token, via string) (*models.Request, error) {
	purpose := models.TokenVerifyLink
	if via == ViaReply {
		purpose = models.TokenVerifyReply
	}
	tok, req, err := s.verifyToken(ctx, token, purpose)
	if err != nil {
		return nil, err
	}
	return s.verify(ctx, tok, req, via, nil)
}

func (s *Service) verify(ctx context.Context, tok *models.Token, req *models.Request, via string, in *models.Inbound) (*models.Request, error) {
	now := models.Now(s.now())
	snap := workflow.Snapshot{Type: workflow.RequestType(req.Type), State: workflow.State(req.Status)}
	out, err := workflow.Decide(snap, workflow.Input{Action: workflow.ActionVerify,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Now: now})
	if err != nil {
		return nil, ErrTokenSpent
	}
	pol := s.policy(req.Jurisdiction)
	req.VerifiedAt = &now
	due := s.dueFor(req, false, 0)
	req.DueAt = due
	ch := models.Change{
		RequestID: req.ID, Version: req.Version,
		Set:          map[string]any{"status": string(out.To), "verified_at": now, "due_at": due},
		UseTokens:    []string{tok.Hash},
		RevokeTokens: []string{models.TokenVerifyLink, models.TokenVerifyReply},
		Event: &models.Event{Action: string(workflow.ActionVerify), FromState: string(out.From),
			ToState: string(out.To), ActorKind: string(workflow.ActorSubject), Reason: via},
		Inbound: in,
	}
	dup, err := s.findDuplicate(ctx, req, now)
	if err != nil {
		return nil, err
	}
	if dup != nil {
		// Flagged for staff, never closed here: see findDuplicate.
		ch.Set["duplicate_of"] = dup.ID
		ch.Event.Message = "possible duplicate of " + dup.Reference
	}
	if s.autoRun(req) {
		// An absolute right: the work starts now; approval follows.
		ch.Tasks = s.tasksFor(req)
	}
	err = s.addSubjectMail(&ch, req, "acknowledgment", s.withLaw(req, map[string]any{
		"DueDate": s.formatDate(req.Language, due),
	}), false)
	if err != nil {
		return nil, err
	}
	if team := s.cfg.Mail.TeamAddress; team != "" {
		err := s.addStaffMail(&ch, req, &models.Staff{Name: "privacy team", Email: team}, "staff_new_request",
			map[string]any{"DueDate": s.formatDate(i18n.Source, due), "Law": pol.Name})
		if err != nil {
			return nil, err
		}
	}
	updated, err := s.store.Apply(ctx, now, ch)
	if errors.Is(err, models.ErrConflict) || errors.Is(err, models.ErrTokenUsed) {
		return nil, ErrTokenSpent
	}
	if err == nil && len(ch.Tasks) > 0 {
		err = s.afterTask(ctx, req.ID)
	}
	return updated, err
}

// verifyToken finds the request a verification token belongs to and
// checks that the token can still be spent.
func (s *Service) verifyToken(ctx context.Context, token, purpose string) (*models.Token, *models.Request, error) {
	token = NormalizeToken(token)
	if !WellFormedToken(token) {
		return nil, nil, ErrTokenInvalid
	}
	tok, err := s.store.TokenByHash(ctx, HashToken(token))
	if errors.Is(err, models.ErrNotFound) || (err == nil && tok.Purpose != purpose) {
		return nil, nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	req, err := s.store.Request(ctx, tok.RequestID)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case tok.UsedAt != nil || req.Status != string(workflow.StateUnverified):
		return nil, req, ErrTokenSpent
	case !s.now().Before(tok.ExpiresAt):
		return nil, req, ErrTokenExpired
	}
	return tok, req, nil
}
