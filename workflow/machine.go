package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Transition is one row of the table in SPEC §3. An empty To means the
// action leaves the state as it is (extend). Submit is the only row whose
// From holds the empty state: a request that does not exist yet.
type Transition struct {
	Action Action
	From   []State
	To     State
	Actor  ActorKind
}

// Transitions returns the table of SPEC §3 as data. It is a fresh copy on
// every call, so no caller can change the rules for another.
func Transitions() []Transition {
	return []Transition{
		{ActionSubmit, []State{""}, StateUnverified, ActorSubject},
		{ActionVerify, []State{StateUnverified}, StateVerified, ActorSubject},
		{ActionExpire, []State{StateUnverified}, StateExpired, ActorSystem},
		{ActionStartReview, []State{StateVerified}, StateInReview, ActorStaff},
		{ActionRequestInfo, []State{StateInReview}, StateAwaitingSubject, ActorStaff},
		{ActionProvideInfo, []State{StateAwaitingSubject}, StateInReview, ActorSubject},
		{ActionApprove, []State{StateInReview}, StateApproved, ActorStaff},
		{ActionReject, []State{StateInReview, StateAwaitingSubject}, StateRejected, ActorStaff},
		{ActionComplete, []State{StateApproved}, StateCompleted, ActorStaff},
		{ActionExtend, []State{StateInReview, StateAwaitingSubject, StateApproved}, "", ActorStaff},
		{ActionWithdraw, []State{StateUnverified, StateVerified, StateInReview, StateAwaitingSubject}, StateWithdrawn, ActorSubject},
		{ActionAppeal, []State{StateRejected}, StateAppealed, ActorSubject},
		{ActionGrantAppeal, []State{StateAppealed}, StateInReview, ActorStaff},
		{ActionDenyAppeal, []State{StateAppealed}, StateRejected, ActorStaff},
	}
}

// Actions lists every action of the table, in its order.
func Actions() []Action {
	var out []Action
	for _, t := range Transitions() {
		out = append(out, t.Action)
	}
	return out
}

func lookup(a Action) (Transition, bool) {
	for _, t := range Transitions() {
		if t.Action == a {
			return t, true
		}
	}
	return Transition{}, false
}

// ErrorKind sorts refusals so that the layers above can answer each the
// right way (409, 403, 422) without reading messages.
type ErrorKind string

// The kinds of refusal.
const (
	// ErrNotAllowed: the table or a rule does not allow the action now.
	ErrNotAllowed ErrorKind = "not_allowed"
	// ErrForbidden: this actor may never take this action.
	ErrForbidden ErrorKind = "forbidden"
	// ErrInvalid: the action lacks something it requires (Field names it).
	ErrInvalid ErrorKind = "invalid"
	// ErrUnknown: no such action.
	ErrUnknown ErrorKind = "unknown_action"
)

// Error is a refusal by the rules. Its message is safe to show to the
// person who acted: it names the rule, never internal detail.
type Error struct {
	Kind   ErrorKind
	Action Action
	State  State
	Field  string
	Msg    string
}

func (e *Error) Error() string { return "workflow: " + e.Msg }

func refuse(kind ErrorKind, a Action, s State, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Action: a, State: s, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Snapshot is what the rules need to know of a request to decide.
type Snapshot struct {
	Type  RequestType
	State State
	// Approvals holds the ids of staff who approved in the current review.
	Approvals []string
	// RequiredApprovals is how many different staff must approve (at least 1).
	RequiredApprovals int
	// VerifyBy is the end of the verification window (for expire).
	VerifyBy time.Time
	// DueAt is the current due date; Extended says the one extension is used.
	DueAt    time.Time
	Extended bool
	// CanExtend says the jurisdiction allows an extension at all, and
	// ExtendBy is the last moment to announce it (zero: the due date).
	CanExtend bool
	ExtendBy  time.Time
	// RejectedBy is the staff member who made the standing rejection.
	RejectedBy string
	// AppealBy is the end of the appeal window; zero means the jurisdiction
	// grants no appeal. AppealUsed says an appeal was already decided.
	AppealBy   time.Time
	AppealUsed bool
	// OpenTasks counts the fulfilment tasks neither done nor waived;
	// complete waits for them.
	OpenTasks int
}

// Input is one attempt to act.
type Input struct {
	Action  Action
	Actor   Actor
	Reason  string
	Message string
	Now     time.Time
}

// Outcome is what an allowed action does. When Pending is true the action
// was recorded (a first approval) but the state stays.
type Outcome struct {
	From      State
	To        State
	Approvals []string
	Pending   bool
	Extended  bool
}

// Decide answers whether in may happen to the request s now, and what it
// does. It never looks at the clock: in.Now is the time of the action.
func Decide(s Snapshot, in Input) (Outcome, error) {
	t, ok := lookup(in.Action)
	if !ok {
		return Outcome{}, refuse(ErrUnknown, in.Action, s.State, "action", "unknown action %q", in.Action)
	}
	if in.Actor.Kind != t.Actor {
		return Outcome{}, refuse(ErrForbidden, in.Action, s.State, "", "%s is an action for the %s, not the %s", in.Action, t.Actor, orNobody(in.Actor.Kind))
	}
	// Who may act does not depend on the state: a nameless staff member is
	// refused as such, whatever the request's state.
	if t.Actor == ActorStaff && in.Actor.ID == "" {
		return Outcome{}, refuse(ErrForbidden, in.Action, s.State, "", "%s needs a named staff member", in.Action)
	}
	if !slices.Contains(t.From, s.State) {
		return Outcome{}, refuse(ErrNotAllowed, in.Action, s.State, "", "%s is not possible while the request is %s", in.Action, stateName(s.State))
	}
	out := Outcome{From: s.State, To: t.To, Approvals: slices.Clone(s.Approvals), Extended: s.Extended}
	if out.To == "" {
		out.To = s.State
	}
	if err := checkRule(s, in, &out); err != nil {
		return Outcome{}, err
	}
	// Approvals belong to one review: leaving review for anything but
	// approval starts the count again.
	if out.From == StateInReview && out.To != StateInReview && out.To != StateApproved {
		out.Approvals = nil
	}
	return out, nil
}

func checkRule(s Snapshot, in Input, out *Outcome) error {
	a, st := in.Action, s.State
	switch a {
	case ActionExpire:
		if s.VerifyBy.IsZero() || in.Now.Before(s.VerifyBy) {
			return refuse(ErrNotAllowed, a, st, "", "the verification window has not passed yet")
		}
	case ActionRequestInfo, ActionProvideInfo, ActionComplete:
		if a == ActionComplete && s.OpenTasks > 0 {
			return refuse(ErrNotAllowed, a, st, "", "%d fulfilment tasks are still open: finish or waive them first", s.OpenTasks)
		}
		if blank(in.Message) {
			return refuse(ErrInvalid, a, st, "message", "%s needs a message", a)
		}
	case ActionApprove:
		return approve(s, in, out)
	case ActionReject:
		if !RejectionCode(in.Reason).Valid() {
			return refuse(ErrInvalid, a, st, "reason", "reject needs a reason code: one of %s", joinCodes())
		}
		if blank(in.Message) {
			return refuse(ErrInvalid, a, st, "message", "reject needs a message that tells the subject why")
		}
	case ActionExtend:
		return extend(s, in, out)
	case ActionAppeal:
		if s.AppealBy.IsZero() || s.AppealUsed {
			return refuse(ErrNotAllowed, a, st, "", "no appeal is open against this decision")
		}
		if in.Now.After(s.AppealBy) {
			return refuse(ErrNotAllowed, a, st, "", "the appeal window closed on %s", s.AppealBy.Format(time.DateOnly))
		}
	case ActionGrantAppeal, ActionDenyAppeal:
		if blank(in.Reason) {
			return refuse(ErrInvalid, a, st, "reason", "%s needs a reason", a)
		}
		if in.Actor.ID == s.RejectedBy {
			return refuse(ErrForbidden, a, st, "", "an appeal must be decided by someone other than the staff member who rejected the request")
		}
	}
	return nil
}

func approve(s Snapshot, in Input, out *Outcome) error {
	if slices.Contains(s.Approvals, in.Actor.ID) {
		return refuse(ErrNotAllowed, in.Action, s.State, "", "you have approved this request already; a different staff member must give the next approval")
	}
	out.Approvals = append(out.Approvals, in.Actor.ID)
	if len(out.Approvals) < max(s.RequiredApprovals, 1) {
		out.To = s.State
		out.Pending = true
	}
	return nil
}

func extend(s Snapshot, in Input, out *Outcome) error {
	a, st := in.Action, s.State
	switch {
	case !s.CanExtend:
		return refuse(ErrNotAllowed, a, st, "", "this jurisdiction allows no extension")
	case s.Extended:
		return refuse(ErrNotAllowed, a, st, "", "the deadline was extended once already")
	case blank(in.Reason):
		return refuse(ErrInvalid, a, st, "reason", "extend needs a reason, which is sent to the subject")
	}
	// SPEC §3: always before the due date, and before the notice deadline
	// too where the jurisdiction sets one.
	by := s.DueAt
	if !s.ExtendBy.IsZero() && (by.IsZero() || s.ExtendBy.Before(by)) {
		by = s.ExtendBy
	}
	if by.IsZero() || !in.Now.Before(by) {
		return refuse(ErrNotAllowed, a, st, "", "an extension had to be announced before %s", by.Format(time.DateOnly))
	}
	out.Extended = true
	return nil
}

// Allowed lists the actions that actor could take on s now, for offering
// buttons. Actions that need a reason or message are listed: those are
// asked for, not known in advance.
func Allowed(s Snapshot, actor Actor, now time.Time) []Action {
	var out []Action
	for _, t := range Transitions() {
		in := Input{Action: t.Action, Actor: actor, Now: now, Reason: string(RejectOther), Message: "x"}
		if _, err := Decide(s, in); err == nil {
			out = append(out, t.Action)
		} else if e, ok := err.(*Error); ok && e.Kind == ErrInvalid {
			out = append(out, t.Action)
		}
	}
	return out
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func orNobody(k ActorKind) string {
	if k == "" {
		return "unknown actor"
	}
	return string(k)
}

func stateName(s State) string {
	if s == "" {
		return "not yet filed"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

func joinCodes() string {
	var parts []string
	for _, c := range RejectionCodes() {
		parts = append(parts, string(c))
	}
	return strings.Join(parts, ", ")
}
