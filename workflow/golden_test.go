package workflow_test

import (
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/workflow"
)

// goldenKind is which of a policy's dates a golden case computes.
type goldenKind int

const (
	// kindDue is the answer deadline: the period (plus the extension when
	// used, plus the paused days) from the clock start.
	kindDue goldenKind = iota
	// kindAck is the acknowledgment deadline, in business days from the
	// day the request arrived.
	kindAck
	// kindNotice is the last day to announce an extension.
	kindNotice
	// kindAppealBy is the last day to appeal, from the rejection (rcv).
	kindAppealBy
	// kindAppealDue is the appeal decision deadline, from the appeal (rcv).
	kindAppealDue
)

// goldenCase is one dated case. rcv and ver are local days (YYYY-MM-DD)
// or instants (RFC 3339), which count on the organisation's local day; ver
// "" means verified the day it arrived. end, when set, is the last instant
// of the due day in UTC.
type goldenCase struct {
	code   string
	kind   goldenKind
	rcv    string
	ver    string
	hol    []string
	ext    bool
	paused int
	want   string
	wd     time.Weekday
	end    string
}

// goldenCases were worked out by hand from SPEC §4 and the laws, with a
// calendar, not from the code. Month periods (gdpr, uk_gdpr) follow
// Regulation 1182/71: same date a month on, else the month's last day,
// then off Saturdays, Sundays and configured holidays; the extension makes
// it three months from the start; paused days are added before the move
// off a weekend. Day periods count calendar days and never move: +15
// moves the weekday by 1, +45 by 3, +60 by 4, +90 by 6. ccpa, vcdpa, cpa
// and ctdpa count from submission, gdpr, uk_gdpr and lgpd from
// verification. Berlin keeps summer time (+2) from 2026-03-29,
// 2027-03-28 and 2028-03-26 to 2026-10-25, 2027-10-31 and 2028-10-29 (on
// which days the last hour is at +1 again).
var goldenCases = []goldenCase{
	// gdpr: 1 month from verification, extended by at most 2 months.
	// Jan 31 → Feb 28 2027 (Sun) → Mon Mar 1, 23:59:59 at +1.
	{code: "gdpr", rcv: "2027-01-31", want: "2027-03-01", wd: time.Monday, end: "2027-03-01T22:59:59Z"},
	// Leap year: Jan 29 → Feb 29 2028 exists (Tue).
	{code: "gdpr", rcv: "2028-01-29", want: "2028-02-29", wd: time.Tuesday},
	// Year end: Dec 31 2027 → Jan 31 2028 (Mon).
	{code: "gdpr", rcv: "2027-12-31", want: "2028-01-31", wd: time.Monday},
	// Sep 10 → Oct 10 (Sat) → Mon Oct 12.
	{code: "gdpr", rcv: "2026-09-10", want: "2026-10-12", wd: time.Monday},
	// Nov 25 → Dec 25 (Fri, holiday), Dec 26 (Sat, holiday), Sun → Mon Dec 28.
	{code: "gdpr", rcv: "2026-11-25", hol: []string{"2026-12-25", "2026-12-26"}, want: "2026-12-28", wd: time.Monday},
	// Counted from verification (Mar 20), not submission (Mar 2): Apr 20 (Mon).
	{code: "gdpr", rcv: "2026-03-02", ver: "2026-03-20", want: "2026-04-20", wd: time.Monday},
	// Extended: May 31 + 3 months → Aug 31 (Mon); unextended Jun 30 (Tue).
	{code: "gdpr", rcv: "2026-05-31", ext: true, want: "2026-08-31", wd: time.Monday},
	{code: "gdpr", rcv: "2026-05-31", want: "2026-06-30", wd: time.Tuesday},
	// Extended across the year end into a leap February: Nov 30 2027 + 3
	// months → Feb 30 does not exist → Feb 29 2028 (Tue).
	{code: "gdpr", rcv: "2027-11-30", ext: true, want: "2028-02-29", wd: time.Tuesday},
	// Extended onto a holiday: Oct 1 + 3 months → Jan 1 2027 (Fri,
	// holiday), Sat, Sun → Mon Jan 4.
	{code: "gdpr", rcv: "2026-10-01", hol: []string{"2027-01-01"}, ext: true, want: "2027-01-04", wd: time.Monday},
	// 23:30 UTC on Mar 28 is 00:30 on Mar 29 in Berlin (still +1): the
	// clock starts Mar 29 → Apr 29 (Wed), which ends at +2.
	{code: "gdpr", rcv: "2026-03-28T23:30:00Z", want: "2026-04-29", wd: time.Wednesday, end: "2026-04-29T21:59:59Z"},
	// Sep 25 → Oct 25 (Sun, clocks go back) → Mon Oct 26, ends at +1.
	{code: "gdpr", rcv: "2026-09-25", want: "2026-10-26", wd: time.Monday, end: "2026-10-26T22:59:59Z"},
	// Extension notice within 1 month: Oct 31 → Nov 30 (Mon).
	{code: "gdpr", kind: kindNotice, rcv: "2026-10-31", want: "2026-11-30", wd: time.Monday},

	// uk_gdpr: as gdpr, and waiting on the subject pauses the clock.
	// Apr 15 → May 15 (Fri) + 10 paused → May 25 (Mon).
	{code: "uk_gdpr", rcv: "2026-04-15", paused: 10, want: "2026-05-25", wd: time.Monday},
	// Jun 10 → Jul 10 (Fri) + 1 → Jul 11 (Sat) → Mon Jul 13.
	{code: "uk_gdpr", rcv: "2026-06-10", paused: 1, want: "2026-07-13", wd: time.Monday},
	// Nov 30 → Dec 30 (Wed) + 5 → across the year end to Jan 4 2027 (Mon).
	{code: "uk_gdpr", rcv: "2026-11-30", paused: 5, want: "2027-01-04", wd: time.Monday},
	// Extended and paused: Jul 31 + 3 months → Oct 31 (Sat) + 3 → Nov 3
	// (Tue); the weekend move is not counted on top of the pause.
	{code: "uk_gdpr", rcv: "2026-07-31", ext: true, paused: 3, want: "2026-11-03", wd: time.Tuesday},
	// Mar 15 → Apr 15 + 16 → May 1 (Fri, holiday), Sat, Sun → Mon May 4.
	{code: "uk_gdpr", rcv: "2026-03-15", hol: []string{"2026-05-01"}, paused: 16, want: "2026-05-04", wd: time.Monday},
	// From the leap day: Feb 29 2028 → Mar 29 (Wed).
	{code: "uk_gdpr", rcv: "2028-02-29", want: "2028-03-29", wd: time.Wednesday},
	// Pause over a leap day: Jan 31 2028 → Feb 29 + 1 → Mar 1 (Wed).
	{code: "uk_gdpr", rcv: "2028-01-31", paused: 1, want: "2028-03-01", wd: time.Wednesday},
	// Aug 31 → Sep 30 (Wed): September has no 31st.
	{code: "uk_gdpr", rcv: "2026-08-31", want: "2026-09-30", wd: time.Wednesday},
	// Verified Jan 4 2027, two weeks after submission: Feb 4 (Thu).
	{code: "uk_gdpr", rcv: "2026-12-20", ver: "2027-01-04", want: "2027-02-04", wd: time.Thursday},
	// Extended: Nov 30 + 3 months → Feb 28 2027 (Sun) → Mon Mar 1.
	{code: "uk_gdpr", rcv: "2026-11-30", ext: true, want: "2027-03-01", wd: time.Monday},
	// Feb 27 → Mar 27 (Fri) + 3 → Mar 30 (Mon), the first summer-time
	// Monday: ends at +2.
	{code: "uk_gdpr", rcv: "2026-02-27", paused: 3, want: "2026-03-30", wd: time.Monday, end: "2026-03-30T21:59:59Z"},

	// ccpa: 45 days from submission (verification does not matter),
	// extended by 45 more; acknowledged within 10 business days.
	// Mar 2 + 29 → Mar 31, + 16 → Apr 16 (Thu), though verified Mar 20.
	{code: "ccpa", rcv: "2026-03-02", ver: "2026-03-20", want: "2026-04-16", wd: time.Thursday},
	// Apr 22 + 8 → Apr 30, + 31 → May 31, + 6 → Jun 6, a Saturday: stays.
	{code: "ccpa", rcv: "2026-04-22", want: "2026-06-06", wd: time.Saturday},
	// Nov 17 + 13 → Nov 30, + 31 → Dec 31, + 1 → Jan 1 2027, a holiday: stays.
	{code: "ccpa", rcv: "2026-11-17", hol: []string{"2027-01-01"}, want: "2027-01-01", wd: time.Friday},
	// Leap year: Jan 20 2028 + 11 → Jan 31, + 29 → Feb 29, + 5 → Mar 5 (Sun).
	{code: "ccpa", rcv: "2028-01-20", want: "2028-03-05", wd: time.Sunday},
	// Nov 20 + 10 → Nov 30, + 31 → Dec 31, + 4 → Jan 4 2027 (Mon).
	{code: "ccpa", rcv: "2026-11-20", want: "2027-01-04", wd: time.Monday},
	// Extended: Jan 4 + 27 → Jan 31, + 18 → Feb 18 2027 (Thu).
	{code: "ccpa", rcv: "2026-11-20", ext: true, want: "2027-02-18", wd: time.Thursday},
	// Feb 12 + 16 → Feb 28, + 29 → Mar 29 (Sun, clocks go forward): the
	// day ends at +2.
	{code: "ccpa", rcv: "2026-02-12", want: "2026-03-29", wd: time.Sunday, end: "2026-03-29T21:59:59Z"},
	// Sep 10 + 20 → Sep 30, + 25 → Oct 25 (Sun, clocks go back): at +1.
	{code: "ccpa", rcv: "2026-09-10", want: "2026-10-25", wd: time.Sunday, end: "2026-10-25T22:59:59Z"},
	// 23:30 UTC on Jan 31 is Feb 1 in Berlin: Feb 1 + 27 → Feb 28, + 18 →
	// Mar 18 (Wed).
	{code: "ccpa", rcv: "2026-01-31T23:30:00Z", want: "2026-03-18", wd: time.Wednesday},
	// Extension notice within 45 days of submission: Apr 16, as the due date.
	{code: "ccpa", kind: kindNotice, rcv: "2026-03-02", ver: "2026-03-20", want: "2026-04-16", wd: time.Thursday},
	// Ack from Wed Dec 23, Dec 25/26 and Jan 1 off: Dec 24 (1), 28-31
	// (2-5), Jan 4-8 (6-10) → Fri Jan 8 2027.
	{code: "ccpa", kind: kindAck, rcv: "2026-12-23", hol: []string{"2026-12-25", "2026-12-26", "2027-01-01"}, want: "2027-01-08", wd: time.Friday},
	// Ack from Thu Apr 2, Good Friday and Easter Monday off: Apr 7-10
	// (1-4), 13-17 (5-9), Mon Apr 20 (10).
	{code: "ccpa", kind: kindAck, rcv: "2026-04-02", hol: []string{"2026-04-03", "2026-04-06"}, want: "2026-04-20", wd: time.Monday},
	// 22:30 UTC on Fri May 29 is Sat May 30 in Berlin: Jun 1-5 (1-5),
	// Jun 8-12 (6-10) → Fri Jun 12.
	{code: "ccpa", kind: kindAck, rcv: "2026-05-29T22:30:00Z", want: "2026-06-12", wd: time.Friday},
	// Ack from Mon Feb 15 2027, over the month end: Feb 16-19 (1-4),
	// 22-26 (5-9), Mon Mar 1 (10).
	{code: "ccpa", kind: kindAck, rcv: "2027-02-15", want: "2027-03-01", wd: time.Monday},

	// vcdpa: 45 days from submission, + 45; appeal within 60 days,
	// decided within 60 days.
	// Jun 30 + 31 → Jul 31, + 14 → Aug 14 (Fri), ends at +2.
	{code: "vcdpa", rcv: "2026-06-30", want: "2026-08-14", wd: time.Friday, end: "2026-08-14T21:59:59Z"},
	// Jul 16 + 15 → Jul 31, + 30 → Aug 30, a Sunday: stays.
	{code: "vcdpa", rcv: "2026-07-16", want: "2026-08-30", wd: time.Sunday},
	// Extended over the year end: Oct 15 + 16 → Oct 31, + 30 → Nov 30,
	// + 31 → Dec 31, + 13 → Jan 13 2027 (Wed).
	{code: "vcdpa", rcv: "2026-10-15", ext: true, want: "2027-01-13", wd: time.Wednesday},
	// Extended into a leap year: Dec 15 2027 + 16 → Dec 31, + 31 → Jan 31,
	// + 29 → Feb 29, + 14 → Mar 14 2028 (Tue).
	{code: "vcdpa", rcv: "2027-12-15", ext: true, want: "2028-03-14", wd: time.Tuesday},
	// From submission Jan 5, though verified Jan 25: + 26 → Jan 31, + 19
	// → Feb 19 (Thu).
	{code: "vcdpa", rcv: "2026-01-05", ver: "2026-01-25", want: "2026-02-19", wd: time.Thursday},
	// Appeal window: rejected Aug 1 + 30 → Aug 31, + 30 → Sep 30 (Wed).
	{code: "vcdpa", kind: kindAppealBy, rcv: "2026-08-01", want: "2026-09-30", wd: time.Wednesday},
	// Appeal decision: Dec 15 + 16 → Dec 31, + 31 → Jan 31, + 13 → Feb 13
	// 2027, a Saturday: stays.
	{code: "vcdpa", kind: kindAppealDue, rcv: "2026-12-15", want: "2027-02-13", wd: time.Saturday},
	// Appeal decision in a leap year: Jan 10 2028 + 21 → Jan 31, + 29 →
	// Feb 29, + 10 → Mar 10 (Fri).
	{code: "vcdpa", kind: kindAppealDue, rcv: "2028-01-10", want: "2028-03-10", wd: time.Friday},
	// Appeal decision on a holiday: Oct 26 + 5 → Oct 31, + 30 → Nov 30,
	// + 25 → Dec 25 (Fri): stays.
	{code: "vcdpa", kind: kindAppealDue, rcv: "2026-10-26", hol: []string{"2026-12-25"}, want: "2026-12-25", wd: time.Friday},
	// Appeal decision Jan 27 2027 + 4 → Jan 31, + 28 → Feb 28, + 28 → Mar
	// 28 (Sun, clocks go forward): ends at +2.
	{code: "vcdpa", kind: kindAppealDue, rcv: "2027-01-27", want: "2027-03-28", wd: time.Sunday, end: "2027-03-28T21:59:59Z"},

	// cpa: 45 days from submission, + 45; appeal within 60 days, decided
	// within 45 days.
	// Feb 14 + 14 → Feb 28, + 31 → Mar 31 (Tue).
	{code: "cpa", rcv: "2026-02-14", want: "2026-03-31", wd: time.Tuesday},
	// Extended across the year end and a leap day: Dec 31 2027 + 31 → Jan
	// 31, + 29 → Feb 29, + 30 → Mar 30 2028 (Thu).
	{code: "cpa", rcv: "2027-12-31", ext: true, want: "2028-03-30", wd: time.Thursday},
	// From submission Feb 1 2028, though verified Feb 20: + 28 → Feb 29,
	// + 17 → Mar 17 (Fri).
	{code: "cpa", rcv: "2028-02-01", ver: "2028-02-20", want: "2028-03-17", wd: time.Friday},
	// Mar 17 + 14 → Mar 31, + 30 → Apr 30, + 1 → May 1, a holiday: stays.
	{code: "cpa", rcv: "2026-03-17", hol: []string{"2026-05-01"}, want: "2026-05-01", wd: time.Friday},
	// Sep 16 2027 + 14 → Sep 30, + 31 → Oct 31 (Sun, clocks go back): +1.
	{code: "cpa", rcv: "2027-09-16", want: "2027-10-31", wd: time.Sunday, end: "2027-10-31T22:59:59Z"},
	// 23:30 UTC on Dec 31 is Jan 1 2027 in Berlin: + 30 → Jan 31, + 15 →
	// Feb 15 (Mon).
	{code: "cpa", rcv: "2026-12-31T23:30:00Z", want: "2027-02-15", wd: time.Monday},
	// Appeal decision (45 days): Nov 30 + 31 → Dec 31, + 14 → Jan 14 2027 (Thu).
	{code: "cpa", kind: kindAppealDue, rcv: "2026-11-30", want: "2027-01-14", wd: time.Thursday},
	// Appeal decision: Jun 30 2027 + 31 → Jul 31, + 14 → Aug 14, a Saturday.
	{code: "cpa", kind: kindAppealDue, rcv: "2027-06-30", want: "2027-08-14", wd: time.Saturday},
	// Appeal window: rejected Dec 31 2028 + 31 → Jan 31, + 28 → Feb 28
	// 2029 (no leap day), + 1 → Mar 1 (Thu).
	{code: "cpa", kind: kindAppealBy, rcv: "2028-12-31", want: "2029-03-01", wd: time.Thursday},

	// ctdpa: 45 days from submission, + 45; appeal within 60 days,
	// decided within 60 days.
	// Feb 1 2027 + 27 → Feb 28, + 18 → Mar 18 (Thu).
	{code: "ctdpa", rcv: "2027-02-01", want: "2027-03-18", wd: time.Thursday},
	// Extended: Mar 18 + 13 → Mar 31, + 30 → Apr 30, + 2 → May 2, a Sunday.
	{code: "ctdpa", rcv: "2027-02-01", ext: true, want: "2027-05-02", wd: time.Sunday},
	// Leap year: Feb 15 2028 + 14 → Feb 29, + 31 → Mar 31 (Fri).
	{code: "ctdpa", rcv: "2028-02-15", want: "2028-03-31", wd: time.Friday},
	// From submission Jul 1, though verified Jul 28: + 30 → Jul 31, + 15
	// → Aug 15, a Saturday.
	{code: "ctdpa", rcv: "2026-07-01", ver: "2026-07-28", want: "2026-08-15", wd: time.Saturday},
	// Extended onto a holiday: Oct 2 + 29 → Oct 31, + 30 → Nov 30, + 31 →
	// Dec 31 (Thu, holiday): stays.
	{code: "ctdpa", rcv: "2026-10-02", hol: []string{"2026-12-31"}, ext: true, want: "2026-12-31", wd: time.Thursday},
	// Extension notice within 45 days: Jul 16 + 15 → Jul 31, + 30 → Aug 30 (Sun).
	{code: "ctdpa", kind: kindNotice, rcv: "2026-07-16", want: "2026-08-30", wd: time.Sunday},
	// Appeal decision: Mar 31 + 30 → Apr 30, + 30 → May 30, a Saturday.
	{code: "ctdpa", kind: kindAppealDue, rcv: "2026-03-31", want: "2026-05-30", wd: time.Saturday},
	// Appeal decision Aug 30 2028 + 1 → Aug 31, + 30 → Sep 30, + 29 → Oct
	// 29 (Sun, clocks go back): ends at +1.
	{code: "ctdpa", kind: kindAppealDue, rcv: "2028-08-30", want: "2028-10-29", wd: time.Sunday, end: "2028-10-29T22:59:59Z"},
	// Appeal window to the year end: rejected Nov 1 2027 + 29 → Nov 30, +
	// 31 → Dec 31 (Fri).
	{code: "ctdpa", kind: kindAppealBy, rcv: "2027-11-01", want: "2027-12-31", wd: time.Friday},

	// lgpd: 15 days from verification, no extension.
	// Jan 31 + 15 → Feb 15, a Sunday: stays.
	{code: "lgpd", rcv: "2026-01-31", want: "2026-02-15", wd: time.Sunday},
	// Feb 14 + 14 → Feb 28, + 1 → Mar 1 (Sun): 2026 has no Feb 29.
	{code: "lgpd", rcv: "2026-02-14", want: "2026-03-01", wd: time.Sunday},
	// Feb 14 2028 + 15 → Feb 29 (Tue), at +1.
	{code: "lgpd", rcv: "2028-02-14", want: "2028-02-29", wd: time.Tuesday, end: "2028-02-29T22:59:59Z"},
	// Dec 20 + 11 → Dec 31, + 4 → Jan 4 2027 (Mon).
	{code: "lgpd", rcv: "2026-12-20", want: "2027-01-04", wd: time.Monday},
	// No extension exists: "extended" changes nothing.
	{code: "lgpd", rcv: "2026-12-20", ext: true, want: "2027-01-04", wd: time.Monday},
	// From verification May 10, not submission May 1: May 25 (Mon).
	{code: "lgpd", rcv: "2026-05-01", ver: "2026-05-10", want: "2026-05-25", wd: time.Monday},
	// Dec 10 + 15 → Dec 25 (Fri, holiday): a day period stays.
	{code: "lgpd", rcv: "2026-12-10", hol: []string{"2026-12-25"}, want: "2026-12-25", wd: time.Friday},
	// Mar 13 2027 + 15 → Mar 28 (Sun, clocks go forward): ends at +2.
	{code: "lgpd", rcv: "2027-03-13", want: "2027-03-28", wd: time.Sunday, end: "2027-03-28T21:59:59Z"},
	// Verified 22:30 UTC on Oct 24 = 00:30 Oct 25 in Berlin (+2): + 6 →
	// Oct 31, + 9 → Nov 9 (Mon), in winter time.
	{code: "lgpd", rcv: "2026-10-20", ver: "2026-10-24T22:30:00Z", want: "2026-11-09", wd: time.Monday, end: "2026-11-09T22:59:59Z"},
}

// TestDeadlineGolden checks every shipped policy, as config.yaml defines
// it, against dates worked out by hand (see goldenCases).
func TestDeadlineGolden(t *testing.T) {
	cfgs := map[string]*config.Config{}
	perPolicy := map[string]int{}
	for i, tc := range goldenCases {
		if d, err := time.Parse(time.DateOnly, tc.want); err != nil || d.Weekday() != tc.wd {
			t.Fatalf("case %d: %s is not a %s: fix the test", i, tc.want, tc.wd)
		}
		key := strings.Join(tc.hol, ",")
		if cfgs[key] == nil {
			cfgs[key] = lawConfig(t, tc.hol...)
		}
		cfg := cfgs[key]
		pol := cfg.Policy(tc.code)
		if pol == nil {
			t.Fatalf("case %d: config.yaml ships no policy %q", i, tc.code)
		}
		if tc.paused > 0 && !pol.PauseAwaitingSubject {
			t.Fatalf("case %d: %s does not pause the clock: fix the test", i, tc.code)
		}
		perPolicy[tc.code]++
		cal := cfg.Calendar()
		got, start := goldenCompute(t, cal, pol, tc)
		if got.String() != tc.want {
			t.Errorf("case %d (%s, kind %d, received %s, verified %q, extended %v, paused %d, holidays %v): got %s, want %s",
				i, tc.code, tc.kind, tc.rcv, tc.ver, tc.ext, tc.paused, tc.hol, got, tc.want)
			continue
		}
		if got.Before(start) {
			t.Errorf("case %d: %s before the start %s", i, got, start)
		}
		end := cal.EndOf(got)
		if local := end.In(cal.Loc); workflow.DateOf(local) != got || local.Format(time.TimeOnly) != "23:59:59" {
			t.Errorf("case %d: EndOf(%s) is %s local, want 23:59:59 that day", i, got, local)
		}
		if tc.end != "" {
			if want, _ := time.Parse(time.RFC3339, tc.end); !end.Equal(want) {
				t.Errorf("case %d: EndOf(%s) = %s, want %s", i, got, end.UTC().Format(time.RFC3339), tc.end)
			}
		}
	}
	for _, code := range cfgs[""].Jurisdictions.Order {
		if perPolicy[code] < 5 {
			t.Errorf("shipped policy %s has %d golden cases, want at least 5", code, perPolicy[code])
		}
	}
	if len(goldenCases) < 60 {
		t.Errorf("%d golden cases, want at least 60", len(goldenCases))
	}
}

// goldenCompute is what the portal computes for tc, the way the service
// does it: the clock starts on the local day of submission or of
// verification, as the policy says. It returns the date and the day it
// was counted from.
func goldenCompute(t *testing.T, cal workflow.Calendar, pol *config.Policy, tc goldenCase) (workflow.Date, workflow.Date) {
	t.Helper()
	rcv := goldenDay(t, cal, tc.rcv)
	start := rcv
	if tc.ver != "" && !pol.Rules.ClockAtSubmission {
		start = goldenDay(t, cal, tc.ver)
	}
	r := pol.Rules
	switch tc.kind {
	case kindAck:
		return cal.AddWorkingDays(rcv, pol.AcknowledgeBusinessDays), rcv
	case kindNotice:
		return cal.End(start, r.ExtensionNoticeWithin), start
	case kindAppealBy:
		return cal.End(rcv, r.AppealWindow), rcv
	case kindAppealDue:
		return cal.End(rcv, r.AppealDecision), rcv
	}
	return cal.Deadline(start, r.Period, r.MaxExtension, tc.ext, tc.paused), start
}

// goldenDay reads a local day, or an instant as the local day it falls on.
func goldenDay(t *testing.T, cal workflow.Calendar, s string) workflow.Date {
	t.Helper()
	if len(s) == len(time.DateOnly) {
		return lawDate(t, s)
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return cal.Today(at)
}
