package service

import (
	"context"
	"errors"
	"fmt"

	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// ErrMalformedMail: the inbound message cannot be read as a mail.
var ErrMalformedMail = errors.New("service: the message is not a readable e-mail")

// Inbound outcomes, for logs and the webhook's answer.
const (
	InboundVerified  = "verified"
	InboundAnswered  = "answered"
	InboundUnmatched = "unmatched"
	InboundIgnored   = "ignored"
)

// InboundResult says what a reply did.
type InboundResult struct {
	Outcome string
	Why     string
}

// Acted tells whether the reply changed something: it confirmed a
// request or answered a question (so it took a valid token).
func (r InboundResult) Acted() bool {
	return r.Outcome == InboundVerified || r.Outcome == InboundAnswered
}

// HandleReply reads one inbound message (from the SMTP listener or the
// webhook) and acts on it under SPEC §8: only a reply that carries a
// valid token, comes from the address the request was filed with and is
// no auto-reply counts. A matched reply's raw message is kept on the
// request, capped; of an unmatched one only its Message-ID is logged.
func (s *Service) HandleReply(ctx context.Context, raw []byte, env mailer.Envelope) (InboundResult, error) {
	m := s.cfg.Mail
	reply, err := mailer.ParseReply(raw, env, m.ReplyLocal, m.ReplyDomain)
	if err != nil {
		return InboundResult{}, fmt.Errorf("%w: %w", ErrMalformedMail, err)
	}
	log := s.log.With("message_id", reply.MessageID)
	for _, token := range reply.Tokens {
		tok, err := s.store.TokenByHash(ctx, HashToken(token))
		if errors.Is(err, models.ErrNotFound) {
			continue
		}
		if err != nil {
			return InboundResult{}, err
		}
		res, err := s.replyFor(ctx, tok, reply, raw)
		if err != nil {
			return InboundResult{}, err
		}
		log.Info("inbound mail", "outcome", res.Outcome, "why", res.Why, "request_id", tok.RequestID)
		return res, nil
	}
	log.Info("inbound mail matched no request", "tokens", len(reply.Tokens))
	return InboundResult{Outcome: InboundUnmatched}, nil
}

func (s *Service) replyFor(ctx context.Context, tok *models.Token, reply *mailer.Reply, raw []byte) (InboundResult, error) {
	req, err := s.store.Request(ctx, tok.RequestID)
	if err != nil {
		return InboundResult{}, err
	}
	switch {
	case reply.Auto:
		return InboundResult{InboundIgnored, "automatic reply: " + reply.AutoWhy}, nil
	case !sameMailbox(reply.From, req.Email):
		return InboundResult{InboundIgnored, "sender is not the request's address"}, nil
	case reply.DMARCFail:
		return InboundResult{InboundIgnored, "sender failed DMARC"}, nil
	}
	switch tok.Purpose {
	case models.TokenVerifyReply:
		return s.verifyByReply(ctx, tok, req, reply, raw)
	case models.TokenInfoReply:
		return s.answerByReply(ctx, tok, req, reply, raw)
	}
	return InboundResult{InboundIgnored, "the token is not for replies"}, nil
}

func (s *Service) verifyByReply(ctx context.Context, tok *models.Token, req *models.Request, reply *mailer.Reply, raw []byte) (InboundResult, error) {
	switch {
	case tok.UsedAt != nil || req.Status != string(workflow.StateUnverified):
		return InboundResult{InboundIgnored, "the request is confirmed already"}, nil
	case !s.now().Before(tok.ExpiresAt):
		return InboundResult{InboundIgnored, "the reply token has expired"}, nil
	}
	_, err := s.verify(ctx, tok, req, ViaReply, s.keepInbound(reply, raw, tok.Purpose))
	if errors.Is(err, ErrTokenSpent) {
		return InboundResult{InboundIgnored, "the request is confirmed already"}, nil
	}
	if err != nil {
		return InboundResult{}, err
	}
	return InboundResult{Outcome: InboundVerified}, nil
}

// keepInbound is the evidence kept of a reply that acted: the raw
// message, cut at the configured size.
func (s *Service) keepInbound(reply *mailer.Reply, raw []byte, purpose string) *models.Inbound {
	keep := int(s.cfg.Mail.Inbound.KeepBytes)
	in := &models.Inbound{MessageID: reply.MessageID, FromAddr: reply.From, Purpose: purpose,
		Raw: raw, ReceivedAt: models.Now(s.now())}
	if len(raw) > keep {
		in.Raw, in.Truncated = raw[:keep], true
	}
	return in
}
