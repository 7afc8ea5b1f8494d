package workflow_test

import (
	"os"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin must not depend on the machine's zoneinfo

	"rightsportal/config"
	"rightsportal/workflow"
)

// lawConfig is the shipped config.yaml, parsed and validated, with the
// given public holidays; the deadline tables below read their policies
// from it, so a change to a shipped policy shows up here.
func lawConfig(t *testing.T, holidays ...string) *config.Config {
	t.Helper()
	raw, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisation.Holidays = holidays
	if err := cfg.Validate(); err != nil {
		t.Fatalf("shipped config.yaml does not validate: %v", err)
	}
	return cfg
}

func lawDate(t *testing.T, s string) workflow.Date {
	t.Helper()
	d, err := workflow.ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return d
}

// lawWeekdays guards the weekday each expected date was chosen for, with
// the standard library as the judge.
func lawWeekdays(t *testing.T, want map[string]time.Weekday) {
	t.Helper()
	for s, wd := range want {
		got, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		if got.Weekday() != wd {
			t.Fatalf("%s is a %s, not a %s: fix the test", s, got.Weekday(), wd)
		}
	}
}

// lawPolicy is a shipped policy's parsed rules.
func lawPolicy(t *testing.T, cfg *config.Config, code string) config.Rules {
	t.Helper()
	p := cfg.Policy(code)
	if p == nil {
		t.Fatalf("config.yaml ships no policy %q", code)
	}
	return p.Rules
}

// TestLawGDPRMonthPeriods protects the GDPR clock (1 month, extended by at
// most 2 more) under Regulation 1182/71: same date, clamped to the month's
// end, moved off weekends and configured holidays; the extension counts
// three months from the start, not two months from a moved end.
func TestLawGDPRMonthPeriods(t *testing.T) {
	lawWeekdays(t, map[string]time.Weekday{
		"2026-02-28": time.Saturday, "2026-03-02": time.Monday, "2026-04-30": time.Thursday,
		"2026-06-30": time.Tuesday, "2026-05-01": time.Friday, "2026-05-04": time.Monday,
		"2027-01-31": time.Sunday, "2027-02-01": time.Monday, "2027-03-31": time.Wednesday,
		"2028-02-29": time.Tuesday, "2028-04-30": time.Sunday, "2028-05-01": time.Monday,
	})
	cfg := lawConfig(t)
	gdpr := lawPolicy(t, cfg, "gdpr")
	if gdpr.Period != (workflow.Period{Months: 1}) || gdpr.MaxExtension != (workflow.Period{Months: 2}) {
		t.Fatalf("shipped gdpr policy is %v + %v, want 1 month + 2 months", gdpr.Period, gdpr.MaxExtension)
	}
	cal := cfg.Calendar()
	tests := []struct {
		received, due, extended, why string
	}{
		// Jan 31 + 1 month: February has no 31st → Feb 28, a Saturday →
		// Monday Mar 2. Jan 31 + 3 months → Apr 30, a Thursday.
		{"2026-01-31", "2026-03-02", "2026-04-30", "clamped to Feb 28, a Saturday"},
		// Mar 31 + 1 month → Apr 30 (Thursday); + 3 months → Jun 30 (Tuesday).
		{"2026-03-31", "2026-04-30", "2026-06-30", "clamped to Apr 30, a working day"},
		// Dec 31 + 1 month → Jan 31 2027, a Sunday → Feb 1; + 3 months →
		// Mar 31 2027, a Wednesday.
		{"2026-12-31", "2027-02-01", "2027-03-31", "across the year end onto a Sunday"},
		// Leap year: Jan 31 2028 + 1 month → Feb 29 (Tuesday); + 3 months
		// → Apr 30 2028, a Sunday → Monday May 1.
		{"2028-01-31", "2028-02-29", "2028-05-01", "leap day; extension ends on a Sunday"},
	}
	for _, tc := range tests {
		start := lawDate(t, tc.received)
		if got := cal.Deadline(start, gdpr.Period, gdpr.MaxExtension, false, 0).String(); got != tc.due {
			t.Errorf("%s: received %s, due %s, want %s", tc.why, tc.received, got, tc.due)
		}
		if got := cal.Deadline(start, gdpr.Period, gdpr.MaxExtension, true, 0).String(); got != tc.extended {
			t.Errorf("%s: received %s, extended due %s, want %s", tc.why, tc.received, got, tc.extended)
		}
	}

	// Configured holidays: Mar 31 + 1 month → Apr 30, a holiday; May 1
	// is one too; May 2-3 are a weekend → Monday May 4. The extended end
	// (Jun 30) is no holiday and stays.
	hol := lawConfig(t, "2026-04-30", "2026-05-01").Calendar()
	start := lawDate(t, "2026-03-31")
	if got := hol.Deadline(start, gdpr.Period, gdpr.MaxExtension, false, 0).String(); got != "2026-05-04" {
		t.Errorf("due on two holidays before a weekend: %s, want 2026-05-04", got)
	}
	if got := hol.Deadline(start, gdpr.Period, gdpr.MaxExtension, true, 0).String(); got != "2026-06-30" {
		t.Errorf("extended past the holidays: %s, want 2026-06-30", got)
	}
}

// TestLawDayPeriodsDoNotRoll protects the US clocks (45 days, extended by
// 45 more): calendar days, ending on a weekend or holiday where the count
// ends.
func TestLawDayPeriodsDoNotRoll(t *testing.T) {
	lawWeekdays(t, map[string]time.Weekday{"2026-02-15": time.Sunday, "2026-04-01": time.Wednesday})
	// A holiday on the very due date changes nothing for a day period.
	cfg := lawConfig(t, "2026-02-15", "2026-04-01")
	ccpa := lawPolicy(t, cfg, "ccpa")
	if ccpa.Period != (workflow.Period{Days: 45}) || ccpa.MaxExtension != (workflow.Period{Days: 45}) || !ccpa.ClockAtSubmission {
		t.Fatalf("shipped ccpa policy: %+v", ccpa)
	}
	cal := cfg.Calendar()
	tests := []struct{ received, due, extended, why string }{
		// Jan 1 + 45: Jan 31 is +30, Feb 15 is +45 (a Sunday, stays).
		// + 90: Feb 28 is +58, Mar 31 is +89, Apr 1 is +90.
		{"2026-01-01", "2026-02-15", "2026-04-01", "ends on a Sunday and a holiday"},
		// Dec 1 + 45: Dec 31 is +30, Jan 15 2027 is +45. + 90: Jan 31 is
		// +61, Feb 28 is +89, Mar 1 is +90.
		{"2026-12-01", "2027-01-15", "2027-03-01", "across the year end"},
		// Leap year: Jan 15 2028 + 45: Jan 31 is +16, Feb 29 is +45.
		// + 90: Mar 31 is +76, Apr 14 is +90.
		{"2028-01-15", "2028-02-29", "2028-04-14", "leap day"},
	}
	for _, tc := range tests {
		start := lawDate(t, tc.received)
		if got := cal.Deadline(start, ccpa.Period, ccpa.MaxExtension, false, 0).String(); got != tc.due {
			t.Errorf("%s: received %s, due %s, want %s", tc.why, tc.received, got, tc.due)
		}
		if got := cal.Deadline(start, ccpa.Period, ccpa.MaxExtension, true, 0).String(); got != tc.extended {
			t.Errorf("%s: received %s, extended due %s, want %s", tc.why, tc.received, got, tc.extended)
		}
	}
}

// TestLawPausedDays protects the paused clock (UK GDPR): the days spent
// waiting on the subject are added to the period as calendar days, and a
// month period that then ends on a weekend still moves to the next
// working day.
func TestLawPausedDays(t *testing.T) {
	lawWeekdays(t, map[string]time.Weekday{
		"2026-03-05": time.Thursday, "2026-03-07": time.Saturday, "2026-03-09": time.Monday,
		"2026-05-05": time.Tuesday, "2026-02-18": time.Wednesday,
	})
	cfg := lawConfig(t)
	uk := lawPolicy(t, cfg, "uk_gdpr")
	if !cfg.Policy("uk_gdpr").PauseAwaitingSubject || cfg.Policy("gdpr").PauseAwaitingSubject || cfg.Policy("ccpa").PauseAwaitingSubject {
		t.Fatal("shipped pause settings: want uk_gdpr on, gdpr and ccpa off")
	}
	ccpa := lawPolicy(t, cfg, "ccpa")
	cal := cfg.Calendar()
	start := lawDate(t, "2026-01-31")
	tests := []struct {
		period, ext workflow.Period
		start       workflow.Date
		extended    bool
		paused      int
		want, why   string
	}{
		// Unpaused the period ends Feb 28 (Saturday), due Monday Mar 2.
		{uk.Period, uk.MaxExtension, start, false, 0, "2026-03-02", "no pause"},
		// Paused 5 days: the period itself ends Feb 28 + 5 = Mar 5, a
		// Thursday; the weekend move of the unpaused end is not part of
		// the period and is not counted on top.
		{uk.Period, uk.MaxExtension, start, false, 5, "2026-03-05", "5 paused days"},
		// Paused 7 days: Feb 28 + 7 = Mar 7, a Saturday → Monday Mar 9.
		{uk.Period, uk.MaxExtension, start, false, 7, "2026-03-09", "7 paused days ending on a Saturday"},
		// Extended: Apr 30 + 5 = May 5, a Tuesday.
		{uk.Period, uk.MaxExtension, start, true, 5, "2026-05-05", "extended and paused"},
		// A negative count is no pause at all.
		{uk.Period, uk.MaxExtension, start, false, -3, "2026-03-02", "negative pause"},
		// Day periods add the days and never move: Jan 1 + 45 + 3 = Feb 18.
		{ccpa.Period, ccpa.MaxExtension, lawDate(t, "2026-01-01"), false, 3, "2026-02-18", "day period paused"},
	}
	for _, tc := range tests {
		if got := cal.Deadline(tc.start, tc.period, tc.ext, tc.extended, tc.paused).String(); got != tc.want {
			t.Errorf("%s: Deadline(%s, paused %d) = %s, want %s", tc.why, tc.start, tc.paused, got, tc.want)
		}
	}
}

// TestLawDaysBetween protects the count of paused days: calendar days,
// unaffected by clock changes, across years and leap days, negative when
// the second date is earlier.
func TestLawDaysBetween(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2026-03-28", "2026-03-30", 2},   // Berlin springs forward on Mar 29 (a 23 h day)
		{"2026-10-24", "2026-10-26", 2},   // and falls back on Oct 25 (a 25 h day)
		{"2026-03-29", "2026-03-29", 0},   // the short day itself
		{"2026-03-30", "2026-03-28", -2},  // backwards over the change
		{"2025-12-31", "2026-01-01", 1},   // across the year end
		{"2026-01-01", "2025-12-31", -1},  // and back
		{"2024-02-28", "2024-03-01", 2},   // over a leap day
		{"2026-02-28", "2026-03-01", 1},   // no leap day in 2026
		{"2026-01-01", "2027-01-01", 365}, // a common year
		{"2028-01-01", "2029-01-01", 366}, // a leap year
		{"2026-06-15", "2026-03-31", -76}, // Mar 31 → Jun 15: 30 (April) + 31 (May) + 15
	}
	for _, tc := range tests {
		if got := workflow.DaysBetween(lawDate(t, tc.a), lawDate(t, tc.b)); got != tc.want {
			t.Errorf("DaysBetween(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLawLocalDayAndEnd protects the organisation's time zone: the clock
// starts on the local day of the instant (not the UTC day), and the due
// date ends at the last second of that local day in summer time.
func TestLawLocalDayAndEnd(t *testing.T) {
	cfg := lawConfig(t)
	cal := cfg.Calendar()
	if cal.Loc.String() != "Europe/Berlin" {
		t.Fatalf("shipped time zone %s, want Europe/Berlin", cal.Loc)
	}
	gdpr := lawPolicy(t, cfg, "gdpr")
	// 2026-06-14 22:30 UTC is 2026-06-15 00:30 in Berlin (CEST, +2): the
	// clock starts on Jun 15, so GDPR is due Jul 15 (Wednesday), not Jul 14.
	at := time.Date(2026, 6, 14, 22, 30, 0, 0, time.UTC)
	start := cal.Today(at)
	if start.String() != "2026-06-15" {
		t.Fatalf("local day of %s = %s, want 2026-06-15", at, start)
	}
	due := cal.Deadline(start, gdpr.Period, gdpr.MaxExtension, false, 0)
	if due.String() != "2026-07-15" {
		t.Fatalf("due %s, want 2026-07-15", due)
	}
	// The end of Jul 15 in Berlin (+2) is 21:59:59 UTC.
	if end, want := cal.EndOf(due), time.Date(2026, 7, 15, 21, 59, 59, 0, time.UTC); !end.Equal(want) {
		t.Errorf("EndOf(%s) = %s, want %s", due, end.UTC(), want)
	}
}

// TestLawAcknowledgmentBusinessDays protects the CCPA acknowledgment
// deadline: 10 business days, skipping weekends and configured holidays.
func TestLawAcknowledgmentBusinessDays(t *testing.T) {
	lawWeekdays(t, map[string]time.Weekday{
		"2026-01-09": time.Friday, "2026-01-10": time.Saturday, "2026-01-19": time.Monday,
		"2026-01-23": time.Friday, "2026-01-26": time.Monday, "2026-12-24": time.Thursday,
		"2027-01-01": time.Friday, "2027-01-11": time.Monday,
	})
	cfg := lawConfig(t)
	n := cfg.Policy("ccpa").AcknowledgeBusinessDays
	if n != 10 {
		t.Fatalf("shipped ccpa acknowledge_business_days = %d, want 10", n)
	}
	plain := cfg.Calendar()
	mlk := lawConfig(t, "2026-01-19").Calendar()
	xmas := lawConfig(t, "2026-12-25", "2027-01-01").Calendar()
	tests := []struct {
		cal       workflow.Calendar
		from      string
		want, why string
	}{
		// Fri Jan 9: Mon 12 (1) … Fri 16 (5), Mon 19 (6) … Fri 23 (10).
		{plain, "2026-01-09", "2026-01-23", "over one weekend"},
		// With Mon Jan 19 a holiday: Tue 20 (6) … Fri 23 (9), Mon 26 (10).
		{mlk, "2026-01-09", "2026-01-26", "over a weekend and a holiday"},
		// Received on a Saturday: Mon 12 is the first business day.
		{plain, "2026-01-10", "2026-01-23", "received on a Saturday"},
		// Thu Dec 24 with Dec 25 and Jan 1 off: Mon 28 (1) … Thu 31 (4),
		// Mon Jan 4 (5) … Fri 8 (9), Mon 11 (10).
		{xmas, "2026-12-24", "2027-01-11", "over Christmas and New Year"},
	}
	for _, tc := range tests {
		if got := tc.cal.AddWorkingDays(lawDate(t, tc.from), n).String(); got != tc.want {
			t.Errorf("%s: %d business days from %s = %s, want %s", tc.why, n, tc.from, got, tc.want)
		}
	}
}

// TestLawShippedJurisdictions protects every shipped policy's due date
// and latest extended due date for one received date (Monday 2026-06-15).
func TestLawShippedJurisdictions(t *testing.T) {
	lawWeekdays(t, map[string]time.Weekday{
		"2026-06-15": time.Monday, "2026-07-15": time.Wednesday, "2026-09-15": time.Tuesday,
		"2026-07-30": time.Thursday, "2026-09-13": time.Sunday, "2026-06-30": time.Tuesday,
	})
	cfg, err := config.Load("../config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ due, extended string }{
		// 1 month: Jul 15 (Wednesday); 3 months: Sep 15 (Tuesday).
		"gdpr":    {"2026-07-15", "2026-09-15"},
		"uk_gdpr": {"2026-07-15", "2026-09-15"},
		// 45 days: Jun 30 is +15, Jul 30 is +45 (Thursday). 90 days: Jul
		// 31 is +46, Aug 31 is +77, Sep 13 is +90 (a Sunday; days do not
		// roll).
		"ccpa":  {"2026-07-30", "2026-09-13"},
		"vcdpa": {"2026-07-30", "2026-09-13"},
		"cpa":   {"2026-07-30", "2026-09-13"},
		"ctdpa": {"2026-07-30", "2026-09-13"},
		// 15 days: Jun 30; no extension, so the latest date is the same.
		"lgpd": {"2026-06-30", "2026-06-30"},
	}
	order := []string{"gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "lgpd"}
	if !slices.Equal(cfg.Jurisdictions.Order, order) {
		t.Fatalf("shipped jurisdictions %v, want %v", cfg.Jurisdictions.Order, order)
	}
	cal := cfg.Calendar()
	received := lawDate(t, "2026-06-15")
	for _, code := range order {
		r := lawPolicy(t, cfg, code)
		w := want[code]
		if got := cal.Deadline(received, r.Period, r.MaxExtension, false, 0).String(); got != w.due {
			t.Errorf("%s: due %s, want %s", code, got, w.due)
		}
		if got := cal.Deadline(received, r.Period, r.MaxExtension, true, 0).String(); got != w.extended {
			t.Errorf("%s: latest extended due %s, want %s", code, got, w.extended)
		}
	}
}
