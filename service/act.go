package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"rightsportal/config"
	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// ActInput is a staff member's decision on a request.
type ActInput struct {
	Action  string
	Reason  string
	Message string
	// Version is the version of the request the decision was made on; a
	// request changed since is refused with ErrConflict.
	Version int
	// Assignee names who takes the request on start_review (an id or an
	// e-mail address); empty means the acting staff member.
	Assignee string
}

// Limits on staff free text.
const (
	MaxReasonLen  = 2000
	MaxMessageLen = 20000
)

// ErrVersionRequired: a staff decision must say which version it saw.
var ErrVersionRequired = &ValidationError{Fields: map[string]string{"version": "is required: the version of the request you decided on"}}

// Act carries out a staff action of SPEC §3 in one transaction: the new
// state, the audit event and the mail it causes.
func (s *Service) Act(ctx context.Context, staff *models.Staff, id string, in ActInput) (*models.Request, error) {
	if in.Version <= 0 {
		return nil, ErrVersionRequired
	}
	if err := checkActText(in); err != nil {
		return nil, err
	}
	req, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.Version != in.Version {
		return nil, fmt.Errorf("%w: request %s is at version %d, not %d", models.ErrConflict, id, req.Version, in.Version)
	}
	now := models.Now(s.now())
	actor := workflow.Actor{Kind: workflow.ActorStaff, ID: staff.ID}
	snap := s.snapshot(req)
	open, err := s.store.OpenTasks(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	snap.OpenTasks = int(open)
	out, err := workflow.Decide(snap, workflow.Input{Action: workflow.Action(in.Action), Actor: actor,
		Reason: strings.TrimSpace(in.Reason), Message: strings.TrimSpace(in.Message), Now: now})
	if err != nil {
		return nil, err
	}
	ch, err := s.staffChange(ctx, staff, req, in, out, now)
	if err != nil {
		return nil, err
	}
	updated, err := s.store.Apply(ctx, now, ch)
	if err == nil && len(ch.Tasks) > 0 {
		// With no system tasks, the follow-ups (package) can start now.
		err = s.afterTask(ctx, req.ID)
	}
	return updated, err
}

func checkActText(in ActInput) error {
	errs := map[string]string{}
	if m := workflow.CheckText(in.Reason, MaxReasonLen, true); m != "" {
		errs["reason"] = m
	}
	if m := workflow.CheckText(in.Message, MaxMessageLen, true); m != "" {
		errs["message"] = m
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// snapshot is what the rules need to know of a stored request.
func (s *Service) snapshot(r *models.Request) workflow.Snapshot {
	pol := s.policy(r.Jurisdiction)
	snap := workflow.Snapshot{
		Type: workflow.RequestType(r.Type), State: workflow.State(r.Status),
		Approvals: approvals(r), RequiredApprovals: s.cfg.Approvals(workflow.RequestType(r.Type)),
		VerifyBy: r.VerifyBy, DueAt: r.DueAt, Extended: r.Extended,
		CanExtend: !pol.Rules.MaxExtension.IsZero(), RejectedBy: r.RejectedBy, AppealUsed: r.AppealUsed,
	}
	if r.AppealBy != nil {
		snap.AppealBy = *r.AppealBy
	}
	if w := pol.Rules.ExtensionNoticeWithin; !w.IsZero() {
		snap.ExtendBy = s.cal.EndOf(s.cal.End(s.cal.Today(s.clockStart(r, pol)), w))
	}
	return snap
}

// clockStart is when the jurisdiction's clock started for r.
func (s *Service) clockStart(r *models.Request, pol *config.Policy) time.Time {
	if pol.Rules.ClockAtSubmission || r.VerifiedAt == nil {
		return r.CreatedAt
	}
	return *r.VerifiedAt
}

func approvals(r *models.Request) []string {
	var ids []string
	json.Unmarshal([]byte(r.Approvals), &ids)
	return ids
}

// staffChange builds what a staff action writes.
func (s *Service) staffChange(ctx context.Context, staff *models.Staff, req *models.Request, in ActInput, out workflow.Outcome, now time.Time) (models.Change, error) {
	reason, message := strings.TrimSpace(in.Reason), strings.TrimSpace(in.Message)
	ch := models.Change{RequestID: req.ID, Version: req.Version, Set: map[string]any{"status": string(out.To)},
		Event: &models.Event{Action: in.Action, FromState: string(out.From), ToState: string(out.To),
			ActorKind: string(workflow.ActorStaff), ActorID: staff.ID, Reason: reason, Message: message}}
	s.clockChanges(req, out.From, out.To, now, ch.Set)
	ids, _ := json.Marshal(out.Approvals)
	if out.Approvals == nil {
		ids = []byte("[]")
	}
	ch.Set["approvals"] = string(ids)
	var err error
	switch workflow.Action(in.Action) {
	case workflow.ActionStartReview:
		err = s.assignOnStart(ctx, staff, req, in.Assignee, &ch)
	case workflow.ActionApprove:
		if out.To == workflow.StateApproved {
			err = s.approveChange(ctx, req, &ch)
		}
	case workflow.ActionRequestInfo:
		err = s.addSubjectMail(&ch, req, "request_info", map[string]any{"Question": message}, true)
	case workflow.ActionReject:
		if workflow.RejectionCode(reason) == workflow.RejectDuplicate {
			// The subject is told another open request of theirs is
			// answered instead: only true of a flagged duplicate whose
			// other request is still open. CloseDuplicate comes this way
			// too, as do the file's reject form and bulk reject.
			if _, err := s.openOriginal(ctx, req, "reason"); err != nil {
				return ch, err
			}
		}
		ch.Set["rejected_by"] = staff.ID
		ch.Set["refusal_reason"] = reason
		err = s.addSubjectMail(&ch, req, "rejection", s.rejectionData(req, reason, message, ch.Set["appeal_by"]), false)
	case workflow.ActionComplete:
		err = s.completeChange(ctx, &ch, req, message)
	case workflow.ActionExtend:
		err = s.extendChange(&ch, req, reason)
	case workflow.ActionGrantAppeal:
		ch.Set["appeal_used"] = true
		ch.Set["appeal_outcome"] = "granted"
		err = s.addSubjectMail(&ch, req, "appeal_granted", map[string]any{"Reason": reason}, false)
	case workflow.ActionDenyAppeal:
		ch.Set["appeal_used"] = true
		ch.Set["appeal_outcome"] = "denied"
		err = s.addSubjectMail(&ch, req, "appeal_denied", s.withLaw(req, map[string]any{"Reason": reason}), false)
	}
	return ch, err
}

// assignOnStart gives the request to the named staff member, or to the
// one who starts the review, and tells a named other by mail.
func (s *Service) assignOnStart(ctx context.Context, staff *models.Staff, req *models.Request, name string, ch *models.Change) error {
	to := staff
	if name = strings.TrimSpace(name); name != "" {
		st, err := s.findStaff(ctx, name)
		if err != nil {
			return err
		}
		to = st
	}
	ch.Set["assignee_id"] = to.ID
	if to.ID != staff.ID {
		return s.addStaffMail(ch, req, to, "staff_assigned", map[string]any{"By": staff.Name})
	}
	return nil
}

// findStaff resolves an id or an e-mail address to an active staff member.
func (s *Service) findStaff(ctx context.Context, name string) (*models.Staff, error) {
	st, err := s.store.StaffByID(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		email, _ := NormalizeEmail(name)
		st, err = s.store.StaffByEmail(ctx, email)
	}
	if errors.Is(err, models.ErrNotFound) || (err == nil && st.Disabled) {
		return nil, &ValidationError{Fields: map[string]string{"assignee": "No active staff member " + name + "."}}
	}
	return st, err
}

func (s *Service) extendChange(ch *models.Change, req *models.Request, reason string) error {
	due := s.dueFor(req, true, req.PausedDays)
	ch.Set["extended"] = true
	ch.Set["due_at"] = due
	ch.Event.Message = "new due date " + s.cal.Today(due).String()
	return s.addSubjectMail(ch, req, "extension", s.withLaw(req, map[string]any{
		"Reason": reason, "DueDate": s.formatDate(req.Language, due), "OldDueDate": s.formatDate(req.Language, req.DueAt),
	}), false)
}

func (s *Service) rejectionData(req *models.Request, code, message string, appealBy any) map[string]any {
	by := ""
	if t, ok := appealBy.(time.Time); ok {
		by = s.formatDate(req.Language, t)
	}
	return s.withLaw(req, map[string]any{"ReasonCode": code, "ReasonText": s.rejectionText(req.Language, workflow.RejectionCode(code)),
		"Explanation": message, "AppealBy": by})
}

// rejectionText says a reason code in plain words for the subject, in
// lang (the catalog's rejection.<code>; "other" is rejection.other_reason,
// since go-i18n reserves "other" for plural forms).
func (s *Service) rejectionText(lang string, c workflow.RejectionCode) string {
	key := string(c)
	if c == workflow.RejectOther {
		key = "other_reason"
	}
	return s.loc(lang).Or("rejection."+key, rejectionTextEN(c))
}

// rejectionTextEN is a reason code's English words, for a code no
// catalog has.
func rejectionTextEN(c workflow.RejectionCode) string {
	switch c {
	case workflow.RejectIdentityNotVerified:
		return "We could not confirm that the request comes from the person whose data it concerns."
	case workflow.RejectManifestlyUnfounded:
		return "The request is manifestly unfounded."
	case workflow.RejectExcessive:
		return "The request is excessive, in particular because it repeats earlier requests."
	case workflow.RejectLegalExemption:
		return "A legal exemption allows or obliges us not to comply."
	case workflow.RejectNotApplicable:
		return "The right you asked to use does not apply to this processing of your data."
	case workflow.RejectDuplicate:
		return "You already have an open request of the same kind with us. We answer that one, so this copy is closed."
	}
	return "Another reason, explained below."
}

// addSubjectMail queues a mail to the subject with a fresh status link
// and, when replyable, a reply address that carries an answer token.
func (s *Service) addSubjectMail(ch *models.Change, req *models.Request, kind string, extra map[string]any, replyable bool) error {
	status, statusHash := NewToken()
	link := mailer.NewSecret("status_url", s.cfg.HTTP.BaseURL+"/status/"+status)
	extra["StatusURL"] = link.Placeholder
	msg := mailer.Message{Kind: kind, To: req.Email, Lang: req.Language, Data: s.mailData(req, extra), Secrets: []mailer.Secret{link}}
	ch.Tokens = append(ch.Tokens, &models.Token{Purpose: models.TokenStatus, Hash: statusHash, ExpiresAt: statusExpiry(req)})
	if replyable {
		reply, replyHash := NewToken()
		msg.ReplyToken = reply
		ch.Tokens = append(ch.Tokens, &models.Token{Purpose: models.TokenInfoReply, Hash: replyHash, ExpiresAt: statusExpiry(req)})
	}
	m, err := s.mail.Compose(msg)
	if err != nil {
		return err
	}
	ch.Mails = append(ch.Mails, m)
	return nil
}

// statusExpiry: status links live as long as the request's data; the
// retention purge revokes them with everything else.
func statusExpiry(req *models.Request) time.Time {
	return req.CreatedAt.AddDate(10, 0, 0)
}

// addStaffMail queues a notice to a staff member (no subject data beyond
// the reference and type: the notice points to the file).
func (s *Service) addStaffMail(ch *models.Change, req *models.Request, to *models.Staff, kind string, extra map[string]any) error {
	extra["StaffName"] = to.Name
	extra["FileURL"] = s.cfg.HTTP.BaseURL + "/staff/requests/" + req.ID
	m, err := s.mail.Compose(mailer.Message{Kind: kind, To: to.Email, Lang: i18n.Source, Data: s.mailDataIn(i18n.Source, req, extra)})
	if err != nil {
		return err
	}
	ch.Mails = append(ch.Mails, m)
	return nil
}

// AllowedActions lists the actions staff member st may take on r now,
// for the buttons of the request's file.
func (s *Service) AllowedActions(r *models.Request, st *models.Staff) []workflow.Action {
	return workflow.Allowed(s.snapshot(r), workflow.Actor{Kind: workflow.ActorStaff, ID: st.ID}, s.now())
}

// ActionAssign is the audit action of a (re)assignment; it is not in the
// state table because it changes no state.
const ActionAssign = "assign"

// Assign gives an open request to another staff member (or takes it),
// audited, and tells the new assignee by mail.
func (s *Service) Assign(ctx context.Context, actor *models.Staff, id, assignee string, version int) (*models.Request, error) {
	if version <= 0 {
		return nil, ErrVersionRequired
	}
	req, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	st := workflow.State(req.Status)
	if st == workflow.StateUnverified || st.Closed() {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Action: ActionAssign, State: st,
			Msg: "only an open, confirmed request can be assigned"}
	}
	to, err := s.findStaff(ctx, assignee)
	if err != nil {
		return nil, err
	}
	ch := models.Change{RequestID: req.ID, Version: version, Set: map[string]any{"assignee_id": to.ID},
		Event: &models.Event{Action: ActionAssign, FromState: req.Status, ToState: req.Status,
			ActorKind: string(workflow.ActorStaff), ActorID: actor.ID, Reason: "assigned to " + to.Email}}
	if to.ID != actor.ID {
		if err := s.addStaffMail(&ch, req, to, "staff_assigned", map[string]any{"By": actor.Name}); err != nil {
			return nil, err
		}
	}
	return s.store.Apply(ctx, models.Now(s.now()), ch)
}

// approveChange creates the work approval implies, once: a request whose
// tasks already run (an absolute right started at verification, or one
// approved before an appeal) keeps them.
func (s *Service) approveChange(ctx context.Context, req *models.Request, ch *models.Change) error {
	tasks, err := s.store.Tasks(ctx, req.ID)
	if err != nil || len(tasks) > 0 {
		return err
	}
	ch.Tasks = s.tasksFor(req)
	return nil
}

// completeChange releases the package (where there is one) for the
// download window and mails the answer.
func (s *Service) completeChange(ctx context.Context, ch *models.Change, req *models.Request, message string) error {
	extra := map[string]any{"Answer": message, "HasPackage": false, "DownloadUntil": ""}
	if _, err := s.store.PackageOf(ctx, req.ID); err == nil {
		until := models.Now(s.now().Add(s.cfg.Fulfilment.DownloadFor.D()))
		ch.ReleasePackageUntil = &until
		extra["HasPackage"], extra["DownloadUntil"] = true, s.formatDate(req.Language, until)
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	return s.addSubjectMail(ch, req, "completion", extra, false)
}

// ActionRevokeStatusLinks is the audit action of RevokeStatusLinks.
const ActionRevokeStatusLinks = "revoke_status_links"

// RevokeStatusLinks stops every status link of a request from working
// (a forwarded or leaked mail) and mails the subject a fresh one, in one
// transaction. Any staff member may; it is audited with the reason.
func (s *Service) RevokeStatusLinks(ctx context.Context, actor *models.Staff, id, reason string, version int) (*models.Request, error) {
	if version <= 0 {
		return nil, ErrVersionRequired
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, &workflow.Error{Kind: workflow.ErrInvalid, Action: ActionRevokeStatusLinks, Field: "link_reason",
			Msg: "say why the links must stop working (the timeline keeps it)"}
	}
	req, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	st := workflow.State(req.Status)
	if req.VerifiedAt == nil || req.PurgedAt != nil {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Action: ActionRevokeStatusLinks, State: st,
			Msg: "only a confirmed request that still holds its data has status links"}
	}
	ch := models.Change{RequestID: req.ID, Version: version, Set: map[string]any{},
		RevokeTokens: []string{models.TokenStatus},
		Event: &models.Event{Action: ActionRevokeStatusLinks, FromState: req.Status, ToState: req.Status,
			ActorKind: string(workflow.ActorStaff), ActorID: actor.ID, Reason: clip(reason, 1000)}}
	if err := s.addSubjectMail(&ch, req, "status_link", map[string]any{}, false); err != nil {
		return nil, err
	}
	return s.store.Apply(ctx, models.Now(s.now()), ch)
}
