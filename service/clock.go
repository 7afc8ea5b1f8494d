package service

import (
	"time"

	"rightsportal/models"
	"rightsportal/workflow"
)

// dueFor is a request's due date under its jurisdiction: the period (and
// the extension, once used) from the day the clock started, plus the days
// it was paused, ending at the end of that local day.
func (s *Service) dueFor(r *models.Request, extended bool, pausedDays int) time.Time {
	pol := s.policy(r.Jurisdiction)
	start := s.cal.Today(s.clockStart(r, pol))
	return s.cal.EndOf(s.cal.Deadline(start, pol.Rules.Period, pol.Rules.MaxExtension, extended, pausedDays))
}

// clockChanges adds to set what the clock needs when a request moves from
// one state to another at now: a pause starts or ends (the paused days
// are added back to the due date), an appeal gets its own deadline, and
// a closed request records when it closed.
func (s *Service) clockChanges(r *models.Request, from, to workflow.State, now time.Time, set map[string]any) {
	pol := s.policy(r.Jurisdiction)
	if to == workflow.StateAwaitingSubject && from != to && pol.PauseAwaitingSubject {
		set["paused_at"] = now
	}
	if from == workflow.StateAwaitingSubject && to != from && r.PausedAt != nil {
		days := r.PausedDays + max(workflow.DaysBetween(s.cal.Today(*r.PausedAt), s.cal.Today(now)), 0)
		set["paused_at"] = nil
		set["paused_days"] = days
		set["due_at"] = s.dueFor(r, r.Extended, days)
	}
	if to.Closed() && !from.Closed() {
		set["closed_at"] = now
	}
	if from.Closed() && !to.Closed() {
		set["closed_at"] = nil
	}
	if to == workflow.StateRejected && from != workflow.StateAppealed && !pol.Rules.AppealWindow.IsZero() {
		set["appeal_by"] = s.cal.EndOf(s.cal.End(s.cal.Today(now), pol.Rules.AppealWindow))
	}
	if to == workflow.StateAppealed {
		set["due_at"] = s.cal.EndOf(s.cal.End(s.cal.Today(now), pol.Rules.AppealDecision))
	}
}
