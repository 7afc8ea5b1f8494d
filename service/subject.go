package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// MaxAnswerLen caps a subject's answer to a question.
const MaxAnswerLen = 20000

// StatusRequest opens the request behind a status link. The token is the
// only key: nothing of any other request is reachable from it.
func (s *Service) StatusRequest(ctx context.Context, token string) (*models.Request, error) {
	_, req, err := s.statusToken(ctx, token)
	return req, err
}

func (s *Service) statusToken(ctx context.Context, token string) (*models.Token, *models.Request, error) {
	token = NormalizeToken(token)
	if !WellFormedToken(token) {
		return nil, nil, ErrTokenInvalid
	}
	tok, err := s.store.TokenByHash(ctx, HashToken(token))
	if errors.Is(err, models.ErrNotFound) || (err == nil && tok.Purpose != models.TokenStatus) {
		return nil, nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case tok.UsedAt != nil:
		return nil, nil, ErrTokenSpent
	case !s.now().Before(tok.ExpiresAt):
		return nil, nil, ErrTokenExpired
	}
	req, err := s.store.Request(ctx, tok.RequestID)
	if err != nil {
		return nil, nil, err
	}
	return tok, req, nil
}

// ProvideInfo records the subject's answer to a staff question (from the
// status page) and puts the request back into review. lang is the
// language of the page, for what is wrong with the answer.
func (s *Service) ProvideInfo(ctx context.Context, token, answer, lang string) (*models.Request, error) {
	_, req, err := s.statusToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.provideInfo(ctx, req, answer, lang, "status page", nil)
}

func (s *Service) provideInfo(ctx context.Context, req *models.Request, answer, lang, via string, in *models.Inbound) (*models.Request, error) {
	answer = strings.TrimSpace(answer)
	if err := s.checkAnswer(answer, lang); err != nil {
		return nil, err
	}
	now := models.Now(s.now())
	out, err := workflow.Decide(s.snapshot(req), workflow.Input{Action: workflow.ActionProvideInfo,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Message: answer, Now: now})
	if err != nil {
		return nil, err
	}
	ch := models.Change{RequestID: req.ID, Version: req.Version,
		Set: s.stateSet(req, out, now),
		// The question's reply address has done its job.
		RevokeTokens: []string{models.TokenInfoReply},
		Event: &models.Event{Action: string(workflow.ActionProvideInfo), FromState: string(out.From),
			ToState: string(out.To), ActorKind: string(workflow.ActorSubject), Reason: via, Message: answer},
		Inbound: in,
	}
	if err := s.notifyAssignee(ctx, req, &ch, "staff_answered"); err != nil {
		return nil, err
	}
	return s.store.Apply(ctx, now, ch)
}

// Withdraw ends the request at the subject's wish and confirms by mail.
func (s *Service) Withdraw(ctx context.Context, token string) (*models.Request, error) {
	_, req, err := s.statusToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.withdraw(ctx, req, nil, "")
}

// CancelUnverified withdraws a request that was never confirmed, from
// the verification link's page ("I did not make this request", or a
// change of mind): the unverified → withdrawn row of SPEC §3, which the
// status page cannot reach because its link comes only after
// confirmation. The link's token is spent and the reply token revoked, so
// the request can no longer be confirmed; the subject is told.
func (s *Service) CancelUnverified(ctx context.Context, token string) (*models.Request, error) {
	tok, req, err := s.verifyToken(ctx, token, models.TokenVerifyLink)
	if err != nil {
		return nil, err
	}
	return s.withdraw(ctx, req, tok, "from the verification link")
}

// withdraw writes the withdrawal: the state, every token that could still
// act on the request revoked (and spend spent, when the subject came
// through a one-time link), the event, the subject's confirmation and
// the assignee's notice.
func (s *Service) withdraw(ctx context.Context, req *models.Request, spend *models.Token, reason string) (*models.Request, error) {
	now := models.Now(s.now())
	out, err := workflow.Decide(s.snapshot(req), workflow.Input{Action: workflow.ActionWithdraw,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Now: now})
	if err != nil {
		return nil, err
	}
	ch := models.Change{RequestID: req.ID, Version: req.Version,
		Set:          s.stateSet(req, out, now),
		RevokeTokens: []string{models.TokenInfoReply, models.TokenVerifyLink, models.TokenVerifyReply},
		Event: &models.Event{Action: string(workflow.ActionWithdraw), FromState: string(out.From),
			ToState: string(out.To), ActorKind: string(workflow.ActorSubject), Reason: reason},
	}
	if spend != nil {
		ch.UseTokens = []string{spend.Hash}
	}
	if err := s.addSubjectMail(&ch, req, "withdrawal", map[string]any{}, false); err != nil {
		return nil, err
	}
	if err := s.notifyAssignee(ctx, req, &ch, "staff_withdrawn"); err != nil {
		return nil, err
	}
	return s.store.Apply(ctx, now, ch)
}

// notifyAssignee tells the staff member holding the request, if any.
func (s *Service) notifyAssignee(ctx context.Context, req *models.Request, ch *models.Change, kind string) error {
	if req.AssigneeID == nil {
		return nil
	}
	st, err := s.store.StaffByID(ctx, *req.AssigneeID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && st.Disabled) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.addStaffMail(ch, req, st, kind, map[string]any{})
}

// answerByReply handles a reply to a staff question: the subject's own
// words (quoted history removed) become the answer.
func (s *Service) answerByReply(ctx context.Context, tok *models.Token, req *models.Request, reply *mailer.Reply, raw []byte) (InboundResult, error) {
	if tok.UsedAt != nil || req.Status != string(workflow.StateAwaitingSubject) {
		return InboundResult{InboundIgnored, "no question is open on the request"}, nil
	}
	if strings.TrimSpace(reply.Text) == "" {
		return InboundResult{InboundIgnored, "the reply has no text of its own"}, nil
	}
	// The refusal is logged for staff, in English.
	_, err := s.provideInfo(ctx, req, reply.Text, i18n.Source, "reply", s.keepInbound(reply, raw, tok.Purpose))
	var we *workflow.Error
	if errors.Is(err, models.ErrConflict) || errors.As(err, &we) {
		return InboundResult{InboundIgnored, "the request changed meanwhile"}, nil
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return InboundResult{InboundIgnored, "the reply text is not acceptable: " + ve.Fields["message"]}, nil
	}
	if err != nil {
		return InboundResult{}, err
	}
	return InboundResult{Outcome: InboundAnswered}, nil
}

// stateSet is the columns a subject's action changes: the state and what
// the clock needs.
func (s *Service) stateSet(req *models.Request, out workflow.Outcome, now time.Time) map[string]any {
	set := map[string]any{"status": string(out.To)}
	s.clockChanges(req, out.From, out.To, now, set)
	return set
}

// Appeal contests a rejection from the status page, where the jurisdiction
// grants an appeal and its window is open. The appeal gets its own
// deadline; staff other than the one who rejected decide it. lang is the
// page's language, for what is wrong with the message.
func (s *Service) Appeal(ctx context.Context, token, message, lang string) (*models.Request, error) {
	_, req, err := s.statusToken(ctx, token)
	if err != nil {
		return nil, err
	}
	message = strings.TrimSpace(message)
	if err := s.checkAnswer(message, lang); err != nil {
		return nil, err
	}
	now := models.Now(s.now())
	out, err := workflow.Decide(s.snapshot(req), workflow.Input{Action: workflow.ActionAppeal,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Message: message, Now: now})
	if err != nil {
		return nil, err
	}
	set := s.stateSet(req, out, now)
	set["appeal_outcome"] = "pending"
	ch := models.Change{RequestID: req.ID, Version: req.Version, Set: set,
		Event: &models.Event{Action: string(workflow.ActionAppeal), FromState: string(out.From),
			ToState: string(out.To), ActorKind: string(workflow.ActorSubject), Message: message}}
	due, _ := set["due_at"].(time.Time)
	if err := s.addSubjectMail(&ch, req, "appeal_received", s.withLaw(req, map[string]any{"DueDate": s.formatDate(req.Language, due)}), false); err != nil {
		return nil, err
	}
	if err := s.notifyTeam(ctx, req, &ch, "staff_appeal", map[string]any{"DueDate": s.formatDate(i18n.Source, due)}); err != nil {
		return nil, err
	}
	return s.store.Apply(ctx, now, ch)
}

// CanAppeal reports whether the subject may appeal r now (for the status
// page's button).
func (s *Service) CanAppeal(r *models.Request) bool {
	_, err := workflow.Decide(s.snapshot(r), workflow.Input{Action: workflow.ActionAppeal,
		Actor: workflow.Actor{Kind: workflow.ActorSubject}, Now: s.now()})
	return err == nil
}

// notifyTeam tells the assignee, or the team address when nobody holds
// the request.
func (s *Service) notifyTeam(ctx context.Context, req *models.Request, ch *models.Change, kind string, extra map[string]any) error {
	if req.AssigneeID != nil {
		if st, err := s.store.StaffByID(ctx, *req.AssigneeID); err == nil && !st.Disabled {
			return s.addStaffMail(ch, req, st, kind, extra)
		}
	}
	if team := s.cfg.Mail.TeamAddress; team != "" {
		return s.addStaffMail(ch, req, &models.Staff{Name: "privacy team", Email: team}, kind, extra)
	}
	return nil
}
