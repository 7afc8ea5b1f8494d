package service

import (
	"context"
	"errors"
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
	owner, err := s.store.StaffByID(ctx, id)
	if err != nil {
		return err
	}
	// The tokens it revokes are audited like any revocation.
	return s.store.SetStaffDisabled(ctx, id, disabled, s.now(), func(t *models.APIToken) *models.Event {
		return tokenEvent(ActionTokenRevoke, staffActor(actor), t, owner, "account disabled")
	})
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
