package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/workflow"
)

// sweepBatch bounds the work of one run; the next run takes the rest.
const sweepBatch = 200

// SweepReport counts what one run of the scheduled work did.
type SweepReport struct {
	Expired, Reminded, DueSoon, Escalated, ExtensionWarned int
}

// Sweep runs the frequent scheduled work: expiry of unconfirmed requests,
// the verification reminder, due-date reminders, overdue escalations and
// extension warnings. Every step marks what it did, so running it twice,
// or on two instances at once, sends nothing twice.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	var errs []error
	for _, step := range []struct {
		n   *int
		run func(context.Context) (int, error)
	}{
		{&rep.Expired, s.expireUnverified}, {&rep.Reminded, s.remindUnverified}, {&rep.DueSoon, s.remindDue},
		{&rep.Escalated, s.escalateOverdue}, {&rep.ExtensionWarned, s.warnExtension},
	} {
		n, err := step.run(ctx)
		*step.n = n
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// skip reports errors that mean "someone else got there first".
func skip(err error) bool {
	var we *workflow.Error
	return errors.Is(err, models.ErrConflict) || errors.As(err, &we)
}

// expireUnverified ends requests never confirmed within the window and
// purges their personal data, keeping an anonymous stub.
func (s *Service) expireUnverified(ctx context.Context) (int, error) {
	now := models.Now(s.now())
	list, err := s.store.FindCandidates(ctx, models.Candidates{Statuses: []string{string(workflow.StateUnverified)},
		VerifyByBefore: now, Limit: sweepBatch})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list {
		r := &list[i]
		out, err := workflow.Decide(s.snapshot(r), workflow.Input{Action: workflow.ActionExpire,
			Actor: workflow.Actor{Kind: workflow.ActorSystem}, Now: now})
		if err != nil {
			continue
		}
		// Files sent with the form go with the personal data.
		files := s.filesOf(ctx, r.ID)
		_, err = s.store.Apply(ctx, now, models.Change{RequestID: r.ID, Version: r.Version,
			Set: s.stateSet(r, out, now), Purge: true,
			Event: &models.Event{Action: string(workflow.ActionExpire), FromState: string(out.From),
				ToState: string(out.To), ActorKind: string(workflow.ActorSystem), Reason: "verification window passed"}})
		if skip(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		files()
		n++
	}
	return n, nil
}

// remindUnverified sends one reminder to confirm, with fresh link and
// reply tokens that expire with the window.
func (s *Service) remindUnverified(ctx context.Context) (int, error) {
	after := s.cfg.Verification.ReminderAfter.D()
	if after <= 0 {
		return 0, nil
	}
	now := models.Now(s.now())
	list, err := s.store.FindCandidates(ctx, models.Candidates{Statuses: []string{string(workflow.StateUnverified)},
		CreatedBefore: now.Add(-after), NotReminded: true, Limit: sweepBatch})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list {
		r := &list[i]
		if !now.Before(r.VerifyBy) {
			continue // expiring now; no point in a reminder
		}
		link, linkHash := NewToken()
		reply, replyHash := NewToken()
		m, err := s.mail.Compose(mailer.Message{Kind: "verification_reminder", To: r.Email, ReplyToken: reply, Lang: r.Language,
			Data: s.mailData(r, map[string]any{"VerifyURL": verifySecret(s.cfg, link).Placeholder,
				"ExpiresAt": s.formatTime(r.Language, r.VerifyBy)}),
			Secrets: []mailer.Secret{verifySecret(s.cfg, link)}})
		if err != nil {
			return n, err
		}
		_, err = s.store.Apply(ctx, now, models.Change{RequestID: r.ID, Bookkeeping: true, Guard: models.GuardNotReminded,
			Set: map[string]any{"reminded_at": now}, Mails: []*models.Mail{m},
			Tokens: []*models.Token{{Purpose: models.TokenVerifyLink, Hash: linkHash, ExpiresAt: r.VerifyBy},
				{Purpose: models.TokenVerifyReply, Hash: replyHash, ExpiresAt: r.VerifyBy}}})
		if skip(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// openStates are the states in which staff owe the subject something.
func openStates() []string {
	return []string{string(workflow.StateVerified), string(workflow.StateInReview), string(workflow.StateAwaitingSubject),
		string(workflow.StateApproved), string(workflow.StateAppealed)}
}

// remindDue tells the assignee (or the team) that a request is due soon,
// once per due date.
func (s *Service) remindDue(ctx context.Context) (int, error) {
	days := s.cfg.Staff.RemindDaysBefore
	if days <= 0 {
		return 0, nil
	}
	now := models.Now(s.now())
	list, err := s.store.FindCandidates(ctx, models.Candidates{Statuses: openStates(), NotPaused: true,
		DueBefore: now.AddDate(0, 0, days), DueNotReminded: true, Limit: sweepBatch})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list {
		r := &list[i]
		if !now.Before(r.DueAt) {
			continue // overdue: the escalation speaks instead
		}
		ch := models.Change{RequestID: r.ID, Bookkeeping: true, Guard: models.GuardDueNotReminded,
			Set: map[string]any{"due_reminded_for": r.DueAt}}
		if err := s.notifyTeam(ctx, r, &ch, "staff_due_soon", map[string]any{"DueDate": s.formatDate(i18n.Source, r.DueAt)}); err != nil {
			return n, err
		}
		if _, err := s.store.Apply(ctx, now, ch); skip(err) {
			continue
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// escalateOverdue tells every admin (and the assignee) about a request
// past its due date, once per due date.
func (s *Service) escalateOverdue(ctx context.Context) (int, error) {
	now := models.Now(s.now())
	list, err := s.store.FindCandidates(ctx, models.Candidates{Statuses: openStates(), NotPaused: true,
		DueBefore: now, NotEscalated: true, Limit: sweepBatch})
	if err != nil {
		return 0, err
	}
	admins, err := s.store.Admins(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list {
		r := &list[i]
		ch := models.Change{RequestID: r.ID, Bookkeeping: true, Guard: models.GuardNotEscalated,
			Set: map[string]any{"escalated_for": r.DueAt}}
		extra := map[string]any{"DueDate": s.formatDate(i18n.Source, r.DueAt)}
		for j := range admins {
			if err := s.addStaffMail(&ch, r, &admins[j], "staff_overdue", extra); err != nil {
				return n, err
			}
		}
		if r.AssigneeID != nil && !isAdmin(admins, *r.AssigneeID) {
			// The overdue notice names the due date, which notifyAssignee
			// does not pass on.
			st, err := s.store.StaffByID(ctx, *r.AssigneeID)
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return n, err
			}
			if err == nil && !st.Disabled {
				if err := s.addStaffMail(&ch, r, st, "staff_overdue", extra); err != nil {
					return n, err
				}
			}
		}
		if _, err := s.store.Apply(ctx, now, ch); skip(err) {
			continue
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func isAdmin(admins []models.Staff, id string) bool {
	for _, a := range admins {
		if a.ID == id {
			return true
		}
	}
	return false
}

// warnExtension tells the assignee that the last day to announce an
// extension is near, once per request, while one is still possible.
func (s *Service) warnExtension(ctx context.Context) (int, error) {
	days := s.cfg.Staff.ExtensionWarningDays
	if days <= 0 {
		return 0, nil
	}
	now := models.Now(s.now())
	horizon := now.AddDate(0, 0, days)
	base := models.Candidates{Statuses: []string{string(workflow.StateInReview),
		string(workflow.StateAwaitingSubject), string(workflow.StateApproved)}, NotExtended: true, NotWarned: true,
		Limit: sweepBatch}
	near := base
	near.DueBefore = horizon.AddDate(0, 0, 1)
	list, err := s.store.FindCandidates(ctx, near)
	if err != nil {
		return 0, err
	}
	// A pause moved the due date on but not the last day to announce an
	// extension, so paused requests are looked at whatever their due date
	// (they are few: walked in batches).
	seen := map[string]bool{}
	for _, r := range list {
		seen[r.ID] = true
	}
	paused := base
	paused.Paused = true
	for {
		more, err := s.store.FindCandidates(ctx, paused)
		if err != nil {
			return 0, err
		}
		for _, r := range more {
			if !seen[r.ID] {
				seen[r.ID] = true
				list = append(list, r)
			}
		}
		if len(more) < sweepBatch {
			break
		}
		paused.AfterDue, paused.AfterID = more[len(more)-1].DueAt, more[len(more)-1].ID
	}
	n := 0
	for i := range list {
		r := &list[i]
		snap := s.snapshot(r)
		by := snap.DueAt
		if !snap.ExtendBy.IsZero() && snap.ExtendBy.Before(by) {
			by = snap.ExtendBy
		}
		if !snap.CanExtend || !now.Before(by) || by.After(horizon) {
			continue
		}
		ch := models.Change{RequestID: r.ID, Bookkeeping: true, Guard: models.GuardNotWarned,
			Set: map[string]any{"extension_warned_at": now}}
		err := s.notifyTeam(ctx, r, &ch, "staff_extension_deadline", map[string]any{"DueDate": s.formatDate(i18n.Source, by)})
		if err != nil {
			return n, err
		}
		if _, err := s.store.Apply(ctx, now, ch); skip(err) {
			continue
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// PurgeItem is one request the retention purge removes (or would).
type PurgeItem struct {
	ID, Reference, Status string
	ClosedAt              time.Time
}

// PurgeClosed removes the personal data of requests closed longer ago
// than the retention period, keeping anonymous stubs and a verifiable
// audit chain. With dryRun it only lists them.
func (s *Service) PurgeClosed(ctx context.Context, dryRun bool) ([]PurgeItem, error) {
	now := models.Now(s.now())
	cutoffDay := s.cal.Today(now)
	p := s.cfg.Retention.Period
	cutoff := s.cal.EndOf(workflow.AddMonths(cutoffDay, -p.Months).AddDays(-p.Days))
	var out []PurgeItem
	if !dryRun {
		if _, err := s.removeOrphanAttachments(ctx); err != nil {
			return out, err
		}
	}
	// Walk every candidate once, in batches: a dry run lists them all,
	// and requests kept for an open appeal do not stall the walk.
	after := models.Candidates{}
	for {
		list, err := s.store.FindCandidates(ctx, models.Candidates{Statuses: closedStates(), ClosedBefore: cutoff,
			NotPurged: true, AfterDue: after.AfterDue, AfterID: after.AfterID, Limit: sweepBatch})
		if err != nil {
			return out, err
		}
		for i := range list {
			r := &list[i]
			if r.AppealBy != nil && !r.AppealUsed && now.Before(*r.AppealBy) {
				continue // an appeal is still open to it
			}
			out = append(out, PurgeItem{r.ID, r.Reference, r.Status, *r.ClosedAt})
			if dryRun {
				continue
			}
			files := s.filesOf(ctx, r.ID)
			_, err := s.store.Apply(ctx, now, models.Change{RequestID: r.ID, Version: r.Version, Purge: true,
				Set: map[string]any{}, Event: &models.Event{Action: "purge", FromState: r.Status, ToState: r.Status,
					ActorKind: string(workflow.ActorSystem), Reason: fmt.Sprintf("retention period of %s passed", p)}})
			if err != nil && !skip(err) {
				return out, err
			}
			if err == nil {
				files()
			}
		}
		if len(list) < sweepBatch {
			return out, nil
		}
		last := list[len(list)-1]
		after.AfterDue, after.AfterID = last.DueAt, last.ID
	}
}

func closedStates() []string {
	return []string{string(workflow.StateCompleted), string(workflow.StateWithdrawn), string(workflow.StateRejected)}
}

// filesOf notes a request's files before its purge, and returns the
// function that removes them once the purge is committed.
func (s *Service) filesOf(ctx context.Context, requestID string) func() {
	tasks, _ := s.store.Tasks(ctx, requestID)
	files, _ := s.store.PackageFiles(ctx, requestID)
	atts, _ := s.store.Attachments(ctx, requestID)
	return func() { s.removeFiles(ctx, requestID, tasks, files); s.removeAttachments(atts) }
}
