package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"rightsportal/models"
	"rightsportal/workflow"
)

// ErrForbidden: the staff member's role does not allow this.
var ErrForbidden = errors.New("service: your role does not allow this")

func requireAdmin(actor *models.Staff) error {
	if actor == nil || actor.Role != models.RoleAdmin || actor.Disabled {
		return ErrForbidden
	}
	return nil
}

// AdminAddStaff lets an admin create an account.
func (s *Service) AdminAddStaff(ctx context.Context, actor *models.Staff, email, name, role, password string) (*models.Staff, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	return s.AddStaff(ctx, email, name, role, password)
}

// SetRole changes another staff member's role. An admin cannot demote
// themselves, so that a team never locks itself out of administration.
func (s *Service) SetRole(ctx context.Context, actor *models.Staff, id, role string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if role != models.RoleAdmin && role != models.RoleReviewer {
		return &ValidationError{Fields: map[string]string{"role": "Choose admin or reviewer."}}
	}
	if st, err := s.store.StaffByID(ctx, id); err == nil && st.Role == role {
		return nil // nothing changes; keep the sessions
	}
	if id == actor.ID && role != models.RoleAdmin {
		return &ValidationError{Fields: map[string]string{"role": "You cannot remove your own admin role; ask another admin."}}
	}
	return s.store.SetStaffRole(ctx, id, role)
}

// SetDisabled disables or re-enables an account; a disabled account's
// sessions end and its API tokens stop working at once.
func (s *Service) SetDisabled(ctx context.Context, actor *models.Staff, id string, disabled bool) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	if id == actor.ID && disabled {
		return &ValidationError{Fields: map[string]string{"disabled": "You cannot disable your own account."}}
	}
	return s.store.SetStaffDisabled(ctx, id, disabled)
}

// AdminCreateAPIToken issues a token for a staff member (shown once).
func (s *Service) AdminCreateAPIToken(ctx context.Context, actor *models.Staff, staffID string) (string, error) {
	if err := requireAdmin(actor); err != nil {
		return "", err
	}
	st, err := s.store.StaffByID(ctx, staffID)
	if err != nil {
		return "", err
	}
	// Refused here with a reason the admin sees, rather than as the
	// internal error CreateAPIToken gives the CLI.
	if st.Disabled {
		return "", &ValidationError{Fields: map[string]string{"staff_id": "This account is disabled; enable it before giving it a token."}}
	}
	return s.CreateAPIToken(ctx, st.Email)
}

// RevokeAPIToken stops a token; admins revoke any, others only their own.
func (s *Service) RevokeAPIToken(ctx context.Context, actor *models.Staff, id int64) error {
	if actor.Role != models.RoleAdmin {
		toks, err := s.store.APITokens(ctx)
		if err != nil {
			return err
		}
		own := false
		for _, t := range toks {
			own = own || (t.ID == id && t.StaffID == actor.ID)
		}
		if !own {
			return ErrForbidden
		}
	}
	if err := s.store.RevokeAPIToken(ctx, id, s.now()); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	return nil
}

// AddNote records an internal note on a request.
func (s *Service) AddNote(ctx context.Context, actor *models.Staff, requestID, body string) (*models.Note, error) {
	if m := checkNote(body); m != "" {
		return nil, &ValidationError{Fields: map[string]string{"body": m}}
	}
	n := &models.Note{RequestID: requestID, StaffID: actor.ID, Body: body, CreatedAt: s.now()}
	if err := s.store.AddNote(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

func checkNote(body string) string {
	if strings.TrimSpace(body) == "" {
		return "Write the note."
	}
	return workflow.CheckText(body, MaxMessageLen, true)
}
