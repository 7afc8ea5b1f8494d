package workflow_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/workflow"
)

// specRow is one row of the table in SPEC §3, copied by hand so that the
// tests do not take the rules from the code they check.
type specRow struct {
	from []workflow.State
	to   workflow.State // "" means the state stays (extend)
	who  workflow.ActorKind
}

const (
	sUnverified = workflow.State("unverified")
	sVerified   = workflow.State("verified")
	sInReview   = workflow.State("in_review")
	sAwaiting   = workflow.State("awaiting_subject")
	sApproved   = workflow.State("approved")
	sCompleted  = workflow.State("completed")
	sRejected   = workflow.State("rejected")
	sAppealed   = workflow.State("appealed")
	sWithdrawn  = workflow.State("withdrawn")
	sExpired    = workflow.State("expired")
	sNotFiled   = workflow.State("")
)

var specTable = map[workflow.Action]specRow{
	"submit":       {[]workflow.State{sNotFiled}, sUnverified, "subject"},
	"verify":       {[]workflow.State{sUnverified}, sVerified, "subject"},
	"expire":       {[]workflow.State{sUnverified}, sExpired, "system"},
	"start_review": {[]workflow.State{sVerified}, sInReview, "staff"},
	"request_info": {[]workflow.State{sInReview}, sAwaiting, "staff"},
	"provide_info": {[]workflow.State{sAwaiting}, sInReview, "subject"},
	"approve":      {[]workflow.State{sInReview}, sApproved, "staff"},
	"reject":       {[]workflow.State{sInReview, sAwaiting}, sRejected, "staff"},
	"complete":     {[]workflow.State{sApproved}, sCompleted, "staff"},
	"extend":       {[]workflow.State{sInReview, sAwaiting, sApproved}, "", "staff"},
	"withdraw":     {[]workflow.State{sUnverified, sVerified, sInReview, sAwaiting}, sWithdrawn, "subject"},
	"appeal":       {[]workflow.State{sRejected}, sAppealed, "subject"},
	"grant_appeal": {[]workflow.State{sAppealed}, sInReview, "staff"},
	"deny_appeal":  {[]workflow.State{sAppealed}, sRejected, "staff"},
}

var allStates = []workflow.State{sNotFiled, sUnverified, sVerified, sInReview, sAwaiting,
	sApproved, sCompleted, sRejected, sAppealed, sWithdrawn, sExpired}

var actors = map[string]workflow.Actor{
	"subject":      {Kind: workflow.ActorSubject},
	"staff":        {Kind: workflow.ActorStaff, ID: "staff-1"},
	"staff-no-id":  {Kind: workflow.ActorStaff},
	"system":       {Kind: workflow.ActorSystem},
	"empty-actor":  {},
	"unknown-kind": {Kind: "robot", ID: "r2"},
}

var now = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

// okSnapshot gives a request in state st everything the rules need so that
// an action the table allows also passes its rule checks.
func okSnapshot(st workflow.State) workflow.Snapshot {
	return workflow.Snapshot{
		Type:              workflow.TypeAccess,
		State:             st,
		RequiredApprovals: 1,
		VerifyBy:          now.Add(-time.Hour),
		DueAt:             now.Add(10 * 24 * time.Hour),
		CanExtend:         true,
		RejectedBy:        "staff-who-rejected",
		AppealBy:          now.Add(10 * 24 * time.Hour),
	}
}

// okInput is an attempt that carries every reason and message a rule needs.
func okInput(a workflow.Action, actor workflow.Actor) workflow.Input {
	in := workflow.Input{Action: a, Actor: actor, Reason: "the file is large", Message: "Dear subject", Now: now}
	if a == "reject" {
		in.Reason = "legal_exemption"
	}
	return in
}

// wfErr unwraps a *workflow.Error or fails the test.
func wfErr(t *testing.T, err error) *workflow.Error {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *workflow.Error", err, err)
	}
	if !strings.HasPrefix(e.Error(), "workflow: ") {
		t.Errorf("message %q lacks the workflow: prefix", e.Error())
	}
	return e
}

// The action list of the code is the one of SPEC §3: no action is missing
// from the table test below, and none is added unseen.
func TestActionsMatchSpec(t *testing.T) {
	var want []string
	for a := range specTable {
		want = append(want, string(a))
	}
	var got []string
	for _, a := range workflow.Actions() {
		got = append(got, string(a))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Actions() = %v, want %v", got, want)
	}
	states := slices.Clone(allStates[1:])
	if got := workflow.States(); !slices.Equal(got, states) {
		t.Fatalf("States() = %v, want %v", got, states)
	}
}

// Decide allows exactly the state × action × actor combinations of SPEC §3
// and refuses the others with the kind of error that tells why.
func TestDecideTable(t *testing.T) {
	allowed := 0
	for _, st := range allStates {
		for _, a := range workflow.Actions() {
			for name, actor := range actors {
				t.Run(fmt.Sprintf("%s/%s/%s", orNone(st), a, name), func(t *testing.T) {
					row := specTable[a]
					out, err := workflow.Decide(okSnapshot(st), okInput(a, actor))
					var wantKind workflow.ErrorKind
					switch {
					case actor.Kind != row.who:
						wantKind = workflow.ErrForbidden
					case actor.Kind == workflow.ActorStaff && actor.ID == "":
						wantKind = workflow.ErrForbidden
					case !slices.Contains(row.from, st):
						wantKind = workflow.ErrNotAllowed
					}
					if wantKind != "" {
						if err == nil {
							t.Fatalf("allowed (→ %s), want refusal %s", out.To, wantKind)
						}
						e := wfErr(t, err)
						if e.Kind != wantKind {
							t.Fatalf("kind %s (%v), want %s", e.Kind, err, wantKind)
						}
						if e.Action != a || e.State != st {
							t.Errorf("error names %s/%q, want %s/%q", e.Action, e.State, a, st)
						}
						return
					}
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					allowed++
					want := row.to
					if want == "" {
						want = st
					}
					if out.From != st || out.To != want || out.Pending {
						t.Fatalf("outcome %+v, want %s → %s, not pending", out, st, want)
					}
				})
			}
		}
	}
	// 20 (state, action) pairs in the table; exactly one actor passes each.
	if allowed != 20 {
		t.Errorf("%d combinations allowed, want 20", allowed)
	}
}

// An action the table does not know is ErrUnknown whoever asks, whatever
// the state.
func TestDecideUnknownAction(t *testing.T) {
	for _, st := range allStates {
		for _, a := range []workflow.Action{"", "fly", "SUBMIT", "approve ", "delete"} {
			for name, actor := range actors {
				_, err := workflow.Decide(okSnapshot(st), okInput(a, actor))
				if err == nil {
					t.Fatalf("%q/%q/%s allowed", st, a, name)
				}
				if e := wfErr(t, err); e.Kind != workflow.ErrUnknown || e.Field != "action" {
					t.Errorf("%q/%q/%s: kind %s field %q, want %s field action", st, a, name, e.Kind, e.Field, workflow.ErrUnknown)
				}
			}
		}
	}
}

// Erasure needs two approvals by two different staff: the first is
// recorded but leaves the request in review.
func TestApproveTwoApprovals(t *testing.T) {
	s := okSnapshot(sInReview)
	s.Type = workflow.TypeErasure
	s.RequiredApprovals = 2
	alice := workflow.Actor{Kind: workflow.ActorStaff, ID: "alice"}
	bob := workflow.Actor{Kind: workflow.ActorStaff, ID: "bob"}

	first, err := workflow.Decide(s, okInput("approve", alice))
	if err != nil {
		t.Fatalf("first approval: %v", err)
	}
	if !first.Pending || first.To != sInReview || !slices.Equal(first.Approvals, []string{"alice"}) {
		t.Fatalf("first approval: %+v, want pending in_review with [alice]", first)
	}

	s.Approvals = first.Approvals
	_, err = workflow.Decide(s, okInput("approve", alice))
	if err == nil {
		t.Fatal("alice approved twice")
	}
	if e := wfErr(t, err); e.Kind != workflow.ErrNotAllowed {
		t.Errorf("second approval by alice: kind %s, want %s", e.Kind, workflow.ErrNotAllowed)
	}

	second, err := workflow.Decide(s, okInput("approve", bob))
	if err != nil {
		t.Fatalf("approval by bob: %v", err)
	}
	if second.Pending || second.To != sApproved || !slices.Equal(second.Approvals, []string{"alice", "bob"}) {
		t.Fatalf("second approval: %+v, want approved with [alice bob]", second)
	}
	if !slices.Equal(s.Approvals, []string{"alice"}) {
		t.Errorf("Decide changed the snapshot's approvals to %v", s.Approvals)
	}
}

// RequiredApprovals below one still needs one approval: a zero value never
// approves without anybody.
func TestApproveRequiredZeroMeansOne(t *testing.T) {
	s := okSnapshot(sInReview)
	s.RequiredApprovals = 0
	out, err := workflow.Decide(s, okInput("approve", actors["staff"]))
	if err != nil || out.To != sApproved || out.Pending {
		t.Fatalf("got %+v, %v; want approved", out, err)
	}
}

// Approvals belong to one review: leaving in_review for anything but
// approval starts the count again.
func TestApprovalsResetWhenLeavingReview(t *testing.T) {
	tests := []struct {
		action workflow.Action
		actor  string
		want   []string
	}{
		{"request_info", "staff", nil},
		{"reject", "staff", nil},
		{"withdraw", "subject", nil},
		{"extend", "staff", []string{"alice"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.action), func(t *testing.T) {
			s := okSnapshot(sInReview)
			s.RequiredApprovals = 2
			s.Approvals = []string{"alice"}
			out, err := workflow.Decide(s, okInput(tc.action, actors[tc.actor]))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Approvals, tc.want) {
				t.Errorf("approvals %v, want %v", out.Approvals, tc.want)
			}
		})
	}
}

// Actions that need a reason, a code or a message refuse with ErrInvalid
// and name the missing field.
func TestRequiredFields(t *testing.T) {
	tests := []struct {
		name    string
		state   workflow.State
		action  workflow.Action
		actor   string
		reason  string
		message string
		field   string
	}{
		{"reject without code", sInReview, "reject", "staff", "", "why", "reason"},
		{"reject with free text as code", sInReview, "reject", "staff", "because I say so", "why", "reason"},
		{"reject with upper-case code", sInReview, "reject", "staff", "EXCESSIVE", "why", "reason"},
		{"reject without message", sInReview, "reject", "staff", "excessive", "", "message"},
		{"reject with blank message", sAwaiting, "reject", "staff", "other", " \n\t", "message"},
		{"request_info without message", sInReview, "request_info", "staff", "r", "", "message"},
		{"request_info with blank message", sInReview, "request_info", "staff", "r", "   ", "message"},
		{"provide_info without message", sAwaiting, "provide_info", "subject", "", "", "message"},
		{"complete without message", sApproved, "complete", "staff", "r", "", "message"},
		{"extend without reason", sInReview, "extend", "staff", "", "m", "reason"},
		{"grant_appeal without reason", sAppealed, "grant_appeal", "staff", " ", "m", "reason"},
		{"deny_appeal without reason", sAppealed, "deny_appeal", "staff", "", "m", "reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := workflow.Input{Action: tc.action, Actor: actors[tc.actor], Reason: tc.reason, Message: tc.message, Now: now}
			_, err := workflow.Decide(okSnapshot(tc.state), in)
			if err == nil {
				t.Fatal("allowed")
			}
			if e := wfErr(t, err); e.Kind != workflow.ErrInvalid || e.Field != tc.field {
				t.Errorf("kind %s field %q, want %s field %q (%v)", e.Kind, e.Field, workflow.ErrInvalid, tc.field, err)
			}
		})
	}
}

// Every rejection code of SPEC §3 is accepted by reject.
func TestRejectAcceptsEveryCode(t *testing.T) {
	for _, code := range []string{"identity_not_verified", "manifestly_unfounded", "excessive",
		"legal_exemption", "not_applicable", "other"} {
		in := workflow.Input{Action: "reject", Actor: actors["staff"], Reason: code, Message: "why", Now: now}
		if _, err := workflow.Decide(okSnapshot(sInReview), in); err != nil {
			t.Errorf("code %s: %v", code, err)
		}
	}
}

// The time-bound rules: extension once and in time, expiry only after the
// verification window, appeals only while a window is open.
func TestTimeRules(t *testing.T) {
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	tests := []struct {
		name   string
		state  workflow.State
		action workflow.Action
		actor  string
		edit   func(*workflow.Snapshot)
		want   workflow.ErrorKind // "" means allowed
	}{
		{"extend in time", sInReview, "extend", "staff", func(s *workflow.Snapshot) {}, ""},
		{"extend twice", sInReview, "extend", "staff", func(s *workflow.Snapshot) { s.Extended = true }, workflow.ErrNotAllowed},
		{"extend after due date", sAwaiting, "extend", "staff", func(s *workflow.Snapshot) { s.DueAt = past }, workflow.ErrNotAllowed},
		{"extend at the due instant", sAwaiting, "extend", "staff", func(s *workflow.Snapshot) { s.DueAt = now }, workflow.ErrNotAllowed},
		{"extend after due date though notice period runs on", sApproved, "extend", "staff",
			func(s *workflow.Snapshot) { s.DueAt = past; s.ExtendBy = future }, workflow.ErrNotAllowed},
		{"extend without due date", sInReview, "extend", "staff", func(s *workflow.Snapshot) { s.DueAt = time.Time{} }, workflow.ErrNotAllowed},
		{"extend where law allows none", sInReview, "extend", "staff", func(s *workflow.Snapshot) { s.CanExtend = false }, workflow.ErrNotAllowed},
		{"extend after notice deadline", sInReview, "extend", "staff", func(s *workflow.Snapshot) { s.ExtendBy = past }, workflow.ErrNotAllowed},
		{"extend before notice deadline", sInReview, "extend", "staff", func(s *workflow.Snapshot) { s.ExtendBy = future }, ""},
		{"expire before window ends", sUnverified, "expire", "system", func(s *workflow.Snapshot) { s.VerifyBy = future }, workflow.ErrNotAllowed},
		{"expire without window", sUnverified, "expire", "system", func(s *workflow.Snapshot) { s.VerifyBy = time.Time{} }, workflow.ErrNotAllowed},
		{"expire at window end", sUnverified, "expire", "system", func(s *workflow.Snapshot) { s.VerifyBy = now }, ""},
		{"appeal after window", sRejected, "appeal", "subject", func(s *workflow.Snapshot) { s.AppealBy = past }, workflow.ErrNotAllowed},
		{"appeal at window end", sRejected, "appeal", "subject", func(s *workflow.Snapshot) { s.AppealBy = now }, ""},
		{"appeal where law grants none", sRejected, "appeal", "subject", func(s *workflow.Snapshot) { s.AppealBy = time.Time{} }, workflow.ErrNotAllowed},
		{"second appeal", sRejected, "appeal", "subject", func(s *workflow.Snapshot) { s.AppealUsed = true }, workflow.ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := okSnapshot(tc.state)
			tc.edit(&s)
			out, err := workflow.Decide(s, okInput(tc.action, actors[tc.actor]))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.action == "extend" && (!out.Extended || out.To != tc.state) {
					t.Errorf("outcome %+v, want extended and state kept", out)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed: %+v", out)
			}
			if e := wfErr(t, err); e.Kind != tc.want {
				t.Errorf("kind %s, want %s (%v)", e.Kind, tc.want, err)
			}
		})
	}
}

// An appeal is decided by someone other than the staff member who rejected.
func TestAppealDecidedByAnotherStaffMember(t *testing.T) {
	for _, a := range []workflow.Action{"grant_appeal", "deny_appeal"} {
		s := okSnapshot(sAppealed)
		s.RejectedBy = "staff-1"
		_, err := workflow.Decide(s, okInput(a, actors["staff"]))
		if err == nil {
			t.Fatalf("%s by the rejecting staff member allowed", a)
		}
		if e := wfErr(t, err); e.Kind != workflow.ErrForbidden {
			t.Errorf("%s: kind %s, want %s", a, e.Kind, workflow.ErrForbidden)
		}
		s.RejectedBy = "staff-2"
		if _, err := workflow.Decide(s, okInput(a, actors["staff"])); err != nil {
			t.Errorf("%s by another staff member: %v", a, err)
		}
	}
}

// Allowed offers each actor exactly the buttons the rules would accept.
func TestAllowed(t *testing.T) {
	staff := actors["staff"]
	tests := []struct {
		name  string
		state workflow.State
		actor workflow.Actor
		edit  func(*workflow.Snapshot)
		want  []workflow.Action
	}{
		{"staff in review", sInReview, staff, func(*workflow.Snapshot) {}, []workflow.Action{"request_info", "approve", "reject", "extend"}},
		{"staff in review, extended", sInReview, staff, func(s *workflow.Snapshot) { s.Extended = true }, []workflow.Action{"request_info", "approve", "reject"}},
		{"staff in review, no extension by law", sInReview, staff, func(s *workflow.Snapshot) { s.CanExtend = false }, []workflow.Action{"request_info", "approve", "reject"}},
		{"staff in review, approved already", sInReview, staff, func(s *workflow.Snapshot) {
			s.RequiredApprovals = 2
			s.Approvals = []string{"staff-1"}
		}, []workflow.Action{"request_info", "reject", "extend"}},
		{"staff without id in review", sInReview, actors["staff-no-id"], func(*workflow.Snapshot) {}, nil},
		{"subject in review", sInReview, actors["subject"], func(*workflow.Snapshot) {}, []workflow.Action{"withdraw"}},
		{"system in review", sInReview, actors["system"], func(*workflow.Snapshot) {}, nil},
		{"subject not filed", sNotFiled, actors["subject"], func(*workflow.Snapshot) {}, []workflow.Action{"submit"}},
		{"subject unverified", sUnverified, actors["subject"], func(*workflow.Snapshot) {}, []workflow.Action{"verify", "withdraw"}},
		{"system unverified, window passed", sUnverified, actors["system"], func(*workflow.Snapshot) {}, []workflow.Action{"expire"}},
		{"system unverified, window open", sUnverified, actors["system"], func(s *workflow.Snapshot) { s.VerifyBy = now.Add(time.Hour) }, nil},
		{"subject rejected", sRejected, actors["subject"], func(*workflow.Snapshot) {}, []workflow.Action{"appeal"}},
		{"subject rejected, no appeal", sRejected, actors["subject"], func(s *workflow.Snapshot) { s.AppealBy = time.Time{} }, nil},
		{"rejecting staff on appeal", sAppealed, staff, func(s *workflow.Snapshot) { s.RejectedBy = "staff-1" }, nil},
		{"other staff on appeal", sAppealed, staff, func(*workflow.Snapshot) {}, []workflow.Action{"grant_appeal", "deny_appeal"}},
		{"staff completed", sCompleted, staff, func(*workflow.Snapshot) {}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := okSnapshot(tc.state)
			tc.edit(&s)
			if got := workflow.Allowed(s, tc.actor, now); !slices.Equal(got, tc.want) {
				t.Errorf("Allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

// Transitions hands out a copy: one caller changing it cannot change the
// rules for the next.
func TestTransitionsIsAFreshCopy(t *testing.T) {
	first := workflow.Transitions()
	want := fmt.Sprint(workflow.Transitions())
	for i := range first {
		first[i].Actor = workflow.ActorSystem
		first[i].To = sCompleted
		for j := range first[i].From {
			first[i].From[j] = sCompleted
		}
	}
	first = append(first[:0], workflow.Transition{Action: "fly"})
	_ = first
	if got := fmt.Sprint(workflow.Transitions()); got != want {
		t.Fatalf("Transitions changed after a caller mutated its copy:\n got %s\nwant %s", got, want)
	}
	if _, err := workflow.Decide(okSnapshot(sNotFiled), okInput("submit", actors["subject"])); err != nil {
		t.Fatalf("submit refused after mutation: %v", err)
	}
}

func orNone(s workflow.State) string {
	if s == "" {
		return "not_filed"
	}
	return string(s)
}
