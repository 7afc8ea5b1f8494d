package service

import (
	"context"
	"errors"
	"fmt"

	"rightsportal/models"
	"rightsportal/workflow"
)

// API tokens act in their owner's name: the staff API records every
// decision taken with one as the owner's. So nobody, admins included,
// creates a token for someone else (an admin holding a colleague's token
// could be both approvers of an erasure, or decide the appeal against
// their own rejection); only the owner does, in the workspace, or the
// operator on the host with `portal token create`. Admins may still list
// and revoke anyone's. Each creation and revocation is an audit event in
// the hash chain with the one who did it.

// ActorOperator is the audit actor kind of the operator on the host, who
// acts through the command line: not a staff member, and never on a
// request, so the request state machine (workflow) does not know it.
const ActorOperator = "operator"

// The audit actions of API tokens; their events concern no request.
const (
	ActionTokenCreate = "api_token_create"
	ActionTokenRevoke = "api_token_revoke"
)

// ErrTokenForOther: a token was asked for in another staff member's name.
var ErrTokenForOther = errors.New("service: staff create their own API tokens only")

// tokenActor is who creates or revokes a token, as the audit log names
// them.
type tokenActor struct{ kind, id string }

func staffActor(st *models.Staff) tokenActor {
	return tokenActor{kind: string(workflow.ActorStaff), id: st.ID}
}

// CreateAPIToken is the operator's way to issue a token (`portal token
// create` on the host) to the staff member with this address. It
// returns the token once; only its hash is kept. The token row and its
// audit event name the operator as creator.
func (s *Service) CreateAPIToken(ctx context.Context, email string, opts ...TokenOptions) (string, error) {
	email, _ = NormalizeEmail(email)
	st, err := s.store.StaffByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	if st.Disabled {
		return "", fmt.Errorf("service: staff %s is disabled", email)
	}
	return s.issueAPIToken(ctx, st, tokenActor{kind: ActorOperator}, firstOpts(opts))
}

func firstOpts(o []TokenOptions) TokenOptions {
	if len(o) > 0 {
		return o[0]
	}
	return TokenOptions{}
}

// CreateOwnAPIToken issues a token to the signed-in staff member and
// returns it once. forStaffID is whom a form named ("" for nobody): any
// id but the actor's own is refused with ErrTokenForOther, and nothing
// is created.
func (s *Service) CreateOwnAPIToken(ctx context.Context, actor *models.Staff, forStaffID string, opts ...TokenOptions) (string, error) {
	if actor == nil || actor.Disabled {
		return "", ErrForbidden
	}
	if forStaffID != "" && forStaffID != actor.ID {
		return "", ErrTokenForOther
	}
	return s.issueAPIToken(ctx, actor, staffActor(actor), firstOpts(opts))
}

func (s *Service) issueAPIToken(ctx context.Context, owner *models.Staff, by tokenActor, o TokenOptions) (string, error) {
	scopes, err := checkTokenOptions(owner, o, s.now())
	if err != nil {
		return "", err
	}
	raw, _ := NewToken()
	value := APITokenPrefix + raw
	t := &models.APIToken{StaffID: owner.ID, Hash: HashToken(value), Prefix: value[:7],
		CreatedByKind: by.kind, CreatedBy: by.id, Scopes: scopes}
	if o.ExpiresAt != nil {
		e := models.Now(*o.ExpiresAt)
		t.ExpiresAt = &e
	}
	err = s.store.CreateAPIToken(ctx, s.now(), t, func(t *models.APIToken) *models.Event {
		return tokenEvent(ActionTokenCreate, by, t, owner, describeToken(t))
	})
	if err != nil {
		return "", err
	}
	s.log.InfoContext(ctx, "api token created", "token", t.ID, "staff", owner.ID, "by", by.kind, "actor", by.id)
	return value, nil
}

// RevokeAPIToken stops a token; admins revoke anyone's, others only
// their own (ErrForbidden). A token revoked already is ErrNotFound.
func (s *Service) RevokeAPIToken(ctx context.Context, actor *models.Staff, id int64) error {
	t, err := s.store.APIToken(ctx, id)
	if err != nil {
		return err
	}
	if actor == nil || actor.Disabled || (actor.Role != models.RoleAdmin && t.StaffID != actor.ID) {
		return ErrForbidden
	}
	owner, err := s.store.StaffByID(ctx, t.StaffID)
	if err != nil {
		return err
	}
	by := staffActor(actor)
	err = s.store.RevokeAPIToken(ctx, id, s.now(), func(t *models.APIToken) *models.Event {
		return tokenEvent(ActionTokenRevoke, by, t, owner, "")
	})
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "api token revoked", "token", id, "staff", owner.ID, "actor", actor.ID)
	return nil
}

// tokenEvent is the audit event of a token's creation or revocation:
// the token's state as from and to, and in the reason which token, whose
// and, where there is one, why.
func tokenEvent(action string, by tokenActor, t *models.APIToken, owner *models.Staff, why string) *models.Event {
	from, to := "", "active"
	if action == ActionTokenRevoke {
		from, to = "active", "revoked"
	}
	reason := fmt.Sprintf("API token %d (%s…) of %s <%s>", t.ID, t.Prefix, owner.ID, owner.Email)
	if why != "" {
		reason += ": " + why
	}
	return &models.Event{Action: action, FromState: from, ToState: to, ActorKind: by.kind, ActorID: by.id, Reason: reason}
}
