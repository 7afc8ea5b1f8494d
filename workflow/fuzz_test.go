package workflow_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"rightsportal/workflow"
)

// The fuzz targets of this file check the rules against SPEC §3 and §4 as
// written, not against the code: the table below is a second hand-written
// copy of SPEC §3, and the calendar arithmetic is redone from civil day
// numbers. Helpers carry an fz prefix so that they do not collide with the
// package's other tests.

// fzRow is one row of SPEC §3: from which states, to which ("" keeps the
// state: extend), by whom.
type fzRow struct {
	from []workflow.State
	to   workflow.State
	who  workflow.ActorKind
}

var fzTable = map[workflow.Action]fzRow{
	"submit":       {[]workflow.State{""}, "unverified", "subject"},
	"verify":       {[]workflow.State{"unverified"}, "verified", "subject"},
	"expire":       {[]workflow.State{"unverified"}, "expired", "system"},
	"start_review": {[]workflow.State{"verified"}, "in_review", "staff"},
	"request_info": {[]workflow.State{"in_review"}, "awaiting_subject", "staff"},
	"provide_info": {[]workflow.State{"awaiting_subject"}, "in_review", "subject"},
	"approve":      {[]workflow.State{"in_review"}, "approved", "staff"},
	"reject":       {[]workflow.State{"in_review", "awaiting_subject"}, "rejected", "staff"},
	"complete":     {[]workflow.State{"approved"}, "completed", "staff"},
	"extend":       {[]workflow.State{"in_review", "awaiting_subject", "approved"}, "", "staff"},
	"withdraw":     {[]workflow.State{"unverified", "verified", "in_review", "awaiting_subject"}, "withdrawn", "subject"},
	"appeal":       {[]workflow.State{"rejected"}, "appealed", "subject"},
	"grant_appeal": {[]workflow.State{"appealed"}, "in_review", "staff"},
	"deny_appeal":  {[]workflow.State{"appealed"}, "rejected", "staff"},
}

// fzActions is what a step's first byte picks from: every action of the
// table in SPEC order, and one that does not exist.
var fzActions = []workflow.Action{"submit", "verify", "expire", "start_review", "request_info", "provide_info",
	"approve", "reject", "complete", "extend", "withdraw", "appeal", "grant_appeal", "deny_appeal", "bogus"}

var (
	fzKinds   = []workflow.ActorKind{"subject", "staff", "system", ""}
	fzStaff   = []string{"", "s1", "s2", "s3"}
	fzReasons = []string{"", " \t ", "other", "because the law says so"}
	fzMsgs    = []string{"", " \r\n ", "Please send a copy of your ID.", "Done."}
	fzSteps   = []time.Duration{0, time.Hour, 12 * time.Hour, 24 * time.Hour, 72 * time.Hour,
		10 * 24 * time.Hour, 30 * 24 * time.Hour, 100 * 24 * time.Hour}
)

// fzTerminal are the states SPEC §3 calls terminal outright; rejected is
// terminal only once no appeal is open, which is checked on its own.
var fzTerminal = []workflow.State{"completed", "withdrawn", "expired"}

// fzMachine is a request as the fuzz target keeps it: the snapshot the
// rules see, kept in step with each outcome the way the service does.
type fzMachine struct {
	snap         workflow.Snapshot
	now          time.Time
	appealWindow time.Duration // 0: the jurisdiction grants no appeal
}

// fzStep decodes three bytes into one attempt to act and the time that
// passes before it.
func fzStep(b0, b1, b2 byte) (workflow.Input, time.Duration, int) {
	in := workflow.Input{
		Action:  fzActions[int(b0)%len(fzActions)],
		Actor:   workflow.Actor{Kind: fzKinds[b1&3], ID: fzStaff[(b1>>2)&3]},
		Reason:  fzReasons[(b1>>4)&3],
		Message: fzMsgs[(b2>>3)&3],
	}
	openTasks := int(b1>>6) & 1
	return in, fzSteps[b2&7], openTasks
}

// FuzzStateMachine drives a request from submission through any sequence
// of attempts (any action, any actor, with or without reason and message,
// as time passes) and checks after each one that what Decide allowed is
// exactly what SPEC §3 allows, and that the approvals stay sound.
func FuzzStateMachine(f *testing.F) {
	f.Add(byte(2), []byte{})
	// access: verify, start_review, approve, complete.
	f.Add(byte(0), []byte{1, 0, 1, 3, 0x05, 1, 6, 0x05, 1, 8, 0x05, 0x18})
	// erasure: the same staff member approves twice, then a second one.
	f.Add(byte(2), []byte{1, 0, 1, 3, 0x05, 1, 6, 0x05, 1, 6, 0x05, 1, 6, 0x09, 1, 8, 0x09, 0x18})
	// reject with a code, appeal within the window, grant by another.
	f.Add(byte(0x10), []byte{1, 0, 1, 3, 0x05, 1, 7, 0x25, 0x18, 11, 0, 3, 12, 0x39, 1, 7, 0x25, 0x18})
	// request info, answer, extend twice, withdraw.
	f.Add(byte(0x08), []byte{1, 0, 1, 3, 0x05, 1, 4, 0x05, 0x18, 5, 0, 0x18, 9, 0x35, 1, 9, 0x35, 1, 10, 0, 1})
	// nothing happens for four days: expire, then everything bounces.
	f.Add(byte(1), []byte{2, 2, 4, 2, 2, 4, 1, 0, 1, 10, 0, 1, 14, 0x05, 1})
	// wrong actors and a nameless staff member.
	f.Add(byte(3), []byte{1, 1, 1, 1, 2, 1, 3, 0, 1, 3, 1, 1, 3, 3, 1, 2, 0, 1})
	// reject, appeal after the window has closed, deny by the rejecter.
	f.Add(byte(0x10), []byte{1, 0, 1, 3, 0x05, 1, 7, 0x25, 0x18, 11, 0, 7, 11, 0, 7, 13, 0x25, 1})
	f.Fuzz(func(t *testing.T, setup byte, prog []byte) {
		if len(prog) > 3*64 {
			prog = prog[:3*64]
		}
		m := fzNewMachine(t, setup)
		for i := 0; i+2 < len(prog); i += 3 {
			in, step, open := fzStep(prog[i], prog[i+1], prog[i+2])
			m.now = m.now.Add(step)
			in.Now = m.now
			m.try(t, i/3, in, open)
		}
	})
}

// fzNewMachine files a request: setup picks the type, whether the
// jurisdiction allows an extension (and announces it by a notice
// deadline), whether it grants an appeal, and whether erasure needs three
// approvals instead of two.
func fzNewMachine(t *testing.T, setup byte) *fzMachine {
	types := workflow.RequestTypes()
	typ := types[int(setup&7)%len(types)]
	required := 1
	if typ == workflow.TypeErasure {
		required = 2
		if setup&0x80 != 0 {
			required = 3
		}
	}
	m := &fzMachine{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	if setup&0x10 != 0 {
		m.appealWindow = 45 * 24 * time.Hour
	}
	out, err := workflow.Decide(workflow.Snapshot{}, workflow.Input{Action: "submit",
		Actor: workflow.Actor{Kind: "subject"}, Now: m.now})
	if err != nil || out.From != "" || out.To != "unverified" || out.Pending || len(out.Approvals) != 0 {
		t.Fatalf("submit: %+v, %v", out, err)
	}
	m.snap = workflow.Snapshot{Type: typ, State: out.To, RequiredApprovals: required,
		VerifyBy: m.now.Add(72 * time.Hour), DueAt: m.now.Add(30 * 24 * time.Hour),
		CanExtend: setup&0x08 != 0}
	if setup&0x20 != 0 {
		m.snap.ExtendBy = m.now.Add(10 * 24 * time.Hour)
	}
	return m
}

// try makes one attempt and checks the answer.
func (m *fzMachine) try(t *testing.T, step int, in workflow.Input, open int) {
	t.Helper()
	m.snap.OpenTasks = open
	before := m.snap
	before.Approvals = slices.Clone(m.snap.Approvals)
	want, wantKind := m.expect(in)

	out, err := workflow.Decide(m.snap, in)
	if !slices.Equal(m.snap.Approvals, before.Approvals) {
		t.Fatalf("step %d: Decide changed the snapshot's approvals: %v, was %v", step, m.snap.Approvals, before.Approvals)
	}
	if err != nil {
		var we *workflow.Error
		if !errors.As(err, &we) {
			t.Fatalf("step %d: %s refused with %T %v, want *workflow.Error", step, in.Action, err, err)
		}
		if want {
			t.Fatalf("step %d: %s by %s %q from %s (%+v) refused (%v), but SPEC §3 allows it",
				step, in.Action, in.Actor.Kind, in.Actor.ID, before.State, in, err)
		}
		if wantKind != "" && we.Kind != wantKind {
			t.Fatalf("step %d: %s from %s refused as %s, want %s (%v)", step, in.Action, before.State, we.Kind, wantKind, err)
		}
		if slices.Contains(fzTerminal, before.State) && we.Kind == workflow.ErrInvalid {
			t.Fatalf("step %d: a %s request asked for a field (%v) instead of refusing the action", step, before.State, err)
		}
		return
	}
	if !want {
		t.Fatalf("step %d: %s by %s %q from %s allowed (%+v), but SPEC §3 forbids it (%+v)",
			step, in.Action, in.Actor.Kind, in.Actor.ID, before.State, out, in)
	}
	m.checkOutcome(t, step, before, in, out)
	if allowed := workflow.Allowed(before, in.Actor, in.Now); !slices.Contains(allowed, in.Action) {
		t.Fatalf("step %d: %s succeeded but Allowed offers only %v", step, in.Action, allowed)
	}
	m.apply(in, out)
}

// expect is SPEC §3 restated: whether in may happen now, and when not,
// which kind of refusal the table itself calls for ("" when a rule of the
// row refuses it, where the kind depends on the rule).
func (m *fzMachine) expect(in workflow.Input) (bool, workflow.ErrorKind) {
	s := m.snap
	row, ok := fzTable[in.Action]
	switch {
	case !ok:
		return false, workflow.ErrUnknown
	case in.Actor.Kind != row.who:
		return false, workflow.ErrForbidden
	case row.who == "staff" && in.Actor.ID == "":
		return false, workflow.ErrForbidden
	case !slices.Contains(row.from, s.State):
		return false, workflow.ErrNotAllowed
	}
	blank := func(x string) bool { return strings.TrimSpace(x) == "" }
	switch in.Action {
	case "expire":
		return !s.VerifyBy.IsZero() && !in.Now.Before(s.VerifyBy), ""
	case "request_info", "provide_info":
		return !blank(in.Message), ""
	case "complete":
		return !blank(in.Message) && s.OpenTasks == 0, ""
	case "approve":
		return !slices.Contains(s.Approvals, in.Actor.ID), ""
	case "reject":
		return workflow.RejectionCode(in.Reason).Valid() && !blank(in.Message), ""
	case "extend":
		by := s.DueAt
		if !s.ExtendBy.IsZero() && s.ExtendBy.Before(by) {
			by = s.ExtendBy
		}
		return s.CanExtend && !s.Extended && !blank(in.Reason) && in.Now.Before(by), ""
	case "appeal":
		return !s.AppealBy.IsZero() && !s.AppealUsed && !in.Now.After(s.AppealBy), ""
	case "grant_appeal", "deny_appeal":
		return !blank(in.Reason) && in.Actor.ID != s.RejectedBy, ""
	}
	return true, ""
}

// checkOutcome holds an allowed action's outcome against the table and
// the approval rules.
func (m *fzMachine) checkOutcome(t *testing.T, step int, before workflow.Snapshot, in workflow.Input, out workflow.Outcome) {
	t.Helper()
	row := fzTable[in.Action]
	if out.From != before.State {
		t.Fatalf("step %d: outcome from %s, but the request was %s", step, out.From, before.State)
	}
	if slices.Contains(fzTerminal, before.State) {
		t.Fatalf("step %d: terminal state %s accepted %s", step, before.State, in.Action)
	}
	if before.State == "rejected" && in.Action != "appeal" {
		t.Fatalf("step %d: a rejected request accepted %s", step, in.Action)
	}
	to := row.to
	if to == "" {
		to = before.State
	}
	if in.Action == "approve" && len(out.Approvals) < max(before.RequiredApprovals, 1) {
		to = before.State
		if !out.Pending {
			t.Fatalf("step %d: approval %d of %d not marked pending", step, len(out.Approvals), before.RequiredApprovals)
		}
	} else if out.Pending {
		t.Fatalf("step %d: %s marked pending (%+v)", step, in.Action, out)
	}
	if out.To != to {
		t.Fatalf("step %d: %s from %s reached %s, SPEC §3 says %s", step, in.Action, before.State, out.To, to)
	}
	if !out.To.Valid() {
		t.Fatalf("step %d: unknown state %q", step, out.To)
	}
	seen := map[string]bool{}
	for _, id := range out.Approvals {
		if id == "" || seen[id] {
			t.Fatalf("step %d: approvals %q hold a duplicate or a nameless approver", step, out.Approvals)
		}
		seen[id] = true
	}
	if in.Action == "approve" && (len(out.Approvals) != len(before.Approvals)+1 || out.Approvals[len(out.Approvals)-1] != in.Actor.ID) {
		t.Fatalf("step %d: approve by %s turned approvals %v into %v", step, in.Actor.ID, before.Approvals, out.Approvals)
	}
	if out.To == "approved" && out.From != "approved" {
		if len(out.Approvals) < max(before.RequiredApprovals, 1) {
			t.Fatalf("step %d: approved with %d of %d approvals", step, len(out.Approvals), before.RequiredApprovals)
		}
		if before.Type == workflow.TypeErasure && len(seen) < 2 {
			t.Fatalf("step %d: erasure approved by %d distinct staff members: %v", step, len(seen), out.Approvals)
		}
	}
	if len(out.Approvals) > 0 && out.To != "in_review" && out.To != "approved" && out.To != "completed" {
		t.Fatalf("step %d: %s left review for %s but kept approvals %v", step, in.Action, out.To, out.Approvals)
	}
	if before.Extended && !out.Extended {
		t.Fatalf("step %d: %s undid the extension", step, in.Action)
	}
	if out.Extended != (before.Extended || in.Action == "extend") {
		t.Fatalf("step %d: %s set extended to %v (was %v)", step, in.Action, out.Extended, before.Extended)
	}
}

// apply keeps the snapshot in step with an allowed outcome, as the
// service does with the stored request.
func (m *fzMachine) apply(in workflow.Input, out workflow.Outcome) {
	s := &m.snap
	s.State, s.Approvals, s.Extended = out.To, out.Approvals, out.Extended
	switch in.Action {
	case "verify":
		s.DueAt = in.Now.Add(30 * 24 * time.Hour)
	case "extend":
		s.DueAt = s.DueAt.Add(60 * 24 * time.Hour)
	case "reject":
		s.RejectedBy = in.Actor.ID
		if m.appealWindow > 0 {
			s.AppealBy = in.Now.Add(m.appealWindow)
		}
	case "appeal":
		s.DueAt = in.Now.Add(60 * 24 * time.Hour)
	case "grant_appeal", "deny_appeal":
		s.AppealUsed = true
	}
}

// ---- deadlines ----

// fzCivil is the day number of y-m-d counted from 1970-01-01 (Howard
// Hinnant's days_from_civil), so that day arithmetic is checked without
// the time package the code uses.
func fzCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// fzFromCivil is the inverse of fzCivil.
func fzFromCivil(z int) workflow.Date {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return workflow.Date{Year: y, Month: time.Month(m), Day: d}
}

func fzDay(d workflow.Date) int { return fzCivil(d.Year, int(d.Month), d.Day) }

func fzMonthLen(y, m int) int { return fzCivil(y, m+1, 1) - fzCivil(y, m, 1) }

// fzAddMonths is Regulation 1182/71 Art. 3(2)(c) redone: the same date n
// months on, or that month's last day.
func fzAddMonths(d workflow.Date, n int) int {
	total := d.Year*12 + int(d.Month) - 1 + n
	y, m := total/12, total%12+1
	return fzCivil(y, m, min(d.Day, fzMonthLen(y, m)))
}

// fzWorking is a day that is neither Saturday, Sunday nor a holiday
// (1970-01-01 was a Thursday).
func fzWorking(day int, holidays map[workflow.Date]bool) bool {
	wd := ((day % 7) + 7 + 4) % 7 // 0 Sunday … 6 Saturday
	return wd != 0 && wd != 6 && !holidays[fzFromCivil(day)]
}

// fzNextWorking is the first working day on or after day.
func fzNextWorking(day int, holidays map[workflow.Date]bool) int {
	for !fzWorking(day, holidays) {
		day++
	}
	return day
}

// fzDays is how many start days the fuzz target picks from: 1970-01-01
// through 2200-12-31.
var fzDays = fzCivil(2201, 1, 1)

// FuzzDeadline checks Calendar.End and Calendar.Deadline for start dates
// from 1970 to 2200, months 0–36, days 0–400, paused days 0–400, with or
// without the extension, and holidays placed where the periods end:
// never before the start, a month period ends on the first working day on
// or after its 1182/71 end (plus the paused days), a day period ends
// exactly that many days on, extending or pausing never ends sooner, and
// neither does a later start.
func FuzzDeadline(f *testing.F) {
	// start day, months, days, paused, extension months, extension days,
	// flags (1 month period, 2 extended, 4 extension in months), holidays.
	f.Add(uint32(20484), uint16(1), uint16(0), uint16(0), uint8(2), uint8(0), uint8(3), uint64(0))                      // 2026-01-31 + 1 month
	f.Add(uint32(20513), uint16(1), uint16(0), uint16(0), uint8(2), uint8(0), uint8(7), uint64(0xff))                   // 2026-03-01, holidays
	f.Add(uint32(20529), uint16(0), uint16(45), uint16(0), uint8(0), uint8(45), uint8(2), uint64(0))                    // ccpa 45+45 days
	f.Add(uint32(20529), uint16(0), uint16(15), uint16(12), uint8(0), uint8(15), uint8(0), uint64(1<<40|1<<8))          // lgpd, paused
	f.Add(uint32(21184), uint16(36), uint16(0), uint16(400), uint8(3), uint8(90), uint8(3), uint64(0xffffffffffffffff)) // every limit
	f.Add(uint32(0), uint16(0), uint16(0), uint16(0), uint8(0), uint8(0), uint8(0), uint64(0))                          // 1970-01-01, nothing
	f.Add(uint32(84370), uint16(36), uint16(400), uint16(400), uint8(3), uint8(90), uint8(7), uint64(0x5555))           // 2200-12-31
	f.Add(uint32(10957), uint16(1), uint16(0), uint16(0), uint8(1), uint8(30), uint8(3), uint64(1<<3))                  // 2000-01-01, mixed kinds
	f.Fuzz(func(t *testing.T, startN uint32, months, days, paused uint16, extM, extD, flags uint8, hmask uint64) {
		startDay := int(startN % uint32(fzDays))
		start := fzFromCivil(startDay)
		period := workflow.Period{Days: int(days % 401)}
		if flags&1 != 0 {
			period = workflow.Period{Months: int(months % 37)}
		}
		ext := workflow.Period{Days: int(extD % 91)}
		if flags&4 != 0 {
			ext = workflow.Period{Months: int(extM % 4)}
		}
		extended := flags&2 != 0
		p := int(paused % 401)

		// Holidays: the low 32 bits around where the plain period ends,
		// the high 32 around where the extended one does.
		holidays := map[workflow.Date]bool{}
		plainEnd, extEnd := fzRawEnd(start, period, workflow.Period{}), fzRawEnd(start, period, ext)
		for i := range 64 {
			if hmask&(1<<i) == 0 {
				continue
			}
			anchor := plainEnd + p - 4
			if i >= 32 {
				anchor = extEnd + p - 4 - 32
			}
			holidays[fzFromCivil(anchor+i)] = true
		}
		cal := workflow.Calendar{Loc: time.UTC, Holidays: holidays}

		end := fzDay(cal.End(start, period))
		if end < startDay {
			t.Fatalf("End(%s, %v) = %s, before the start", start, period, fzFromCivil(end))
		}
		if period.Months > 0 {
			if want := fzNextWorking(fzAddMonths(start, period.Months), holidays); end != want {
				t.Fatalf("End(%s, %v) = %s, want %s (1182/71, next working day)", start, period, fzFromCivil(end), fzFromCivil(want))
			}
		} else if end != startDay+period.Days {
			t.Fatalf("End(%s, %v) = %s, want exactly %d days on", start, period, fzFromCivil(end), period.Days)
		}

		got := fzDay(cal.Deadline(start, period, ext, extended, p))
		want := fzRawEnd(start, period, fzIf(extended, ext)) + p
		monthly := period.Months > 0 || (extended && ext.Months > 0)
		if monthly {
			want = fzNextWorking(want, holidays)
			if !fzWorking(got, holidays) {
				t.Fatalf("Deadline(%s, %v, %v, %v, %d) = %s, not a working day", start, period, ext, extended, p, fzFromCivil(got))
			}
		}
		if got != want {
			t.Fatalf("Deadline(%s, %v, %v, %v, %d) = %s, want %s", start, period, ext, extended, p, fzFromCivil(got), fzFromCivil(want))
		}
		if got < startDay || got < end {
			t.Fatalf("Deadline(%s, …) = %s, before the start or the plain end %s", start, fzFromCivil(got), fzFromCivil(end))
		}
		if plain := fzDay(cal.Deadline(start, period, ext, false, 0)); plain != end {
			t.Fatalf("Deadline without extension or pause = %s, End = %s", fzFromCivil(plain), fzFromCivil(end))
		}
		if !extended {
			if with := fzDay(cal.Deadline(start, period, ext, true, p)); with < got {
				t.Fatalf("extended deadline %s before the plain one %s", fzFromCivil(with), fzFromCivil(got))
			}
		}
		if later := fzDay(cal.Deadline(start, period, ext, extended, p+1)); later < got {
			t.Fatalf("one more paused day moved the deadline from %s back to %s", fzFromCivil(got), fzFromCivil(later))
		}
		if neg := fzDay(cal.Deadline(start, period, ext, extended, -p)); neg != fzDay(cal.Deadline(start, period, ext, extended, 0)) {
			t.Fatalf("negative paused days changed the deadline")
		}
		// Monotone in the received date: a later start never ends sooner,
		// checked for the next day and for a jump of up to 400 days taken
		// from the part of startN that picking the start left unused.
		for _, k := range []int{1, 1 + int(startN/uint32(fzDays))%400} {
			later := fzFromCivil(startDay + k)
			if due := fzDay(cal.Deadline(later, period, ext, extended, p)); due < got {
				t.Fatalf("received %s: due %s; received %d days later (%s): due %s, earlier",
					start, fzFromCivil(got), k, later, fzFromCivil(due))
			}
		}
	})
}

// fzRawEnd is where period, then ext, end before any move off a weekend:
// months and days of the same kind are added together (a GDPR month
// extended by two months is three months from the start), different
// kinds one after the other.
func fzRawEnd(start workflow.Date, period, ext workflow.Period) int {
	switch {
	case period.Months > 0 && ext.Days == 0:
		return fzAddMonths(start, period.Months+ext.Months)
	case period.Months == 0 && ext.Months == 0:
		return fzDay(start) + period.Days + ext.Days
	case period.Months > 0:
		return fzAddMonths(start, period.Months) + ext.Days
	}
	return fzAddMonths(fzFromCivil(fzDay(start)+period.Days), ext.Months)
}

func fzIf(ok bool, p workflow.Period) workflow.Period {
	if ok {
		return p
	}
	return workflow.Period{}
}
