package workflow_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo

	"rightsportal/workflow"
)

func date(t testing.TB, s string) workflow.Date {
	t.Helper()
	d, err := workflow.ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return d
}

func location(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// ParsePeriod reads only whole months or days from 0 to 1200; anything
// else is an error rather than a silent default.
func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want workflow.Period
		ok   bool
	}{
		{"1 month", workflow.Period{Months: 1}, true},
		{"3 months", workflow.Period{Months: 3}, true},
		{"1 months", workflow.Period{Months: 1}, true},
		{"  2  Months ", workflow.Period{Months: 2}, true},
		{"45 days", workflow.Period{Days: 45}, true},
		{"1 day", workflow.Period{Days: 1}, true},
		{"15 DAYS", workflow.Period{Days: 15}, true},
		{"0 days", workflow.Period{}, true},
		{"1200 months", workflow.Period{Months: 1200}, true},
		{"1201 months", workflow.Period{}, false},
		{"-1 month", workflow.Period{}, false},
		{"1 week", workflow.Period{}, false},
		{"2 years", workflow.Period{}, false},
		{"", workflow.Period{}, false},
		{"   ", workflow.Period{}, false},
		{"abc days", workflow.Period{}, false},
		{"1.5 months", workflow.Period{}, false},
		{"45", workflow.Period{}, false},
		{"days", workflow.Period{}, false},
		{"1 month 2 days", workflow.Period{}, false},
		{"99999999999999999999 days", workflow.Period{}, false},
	}
	for _, tc := range tests {
		got, err := workflow.ParsePeriod(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParsePeriod(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if got != tc.want {
			t.Errorf("ParsePeriod(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if !(workflow.Period{}).IsZero() || (workflow.Period{Days: 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
}

// A period prints the way the config writes it, so it reads back the same.
func TestPeriodStringRoundTrip(t *testing.T) {
	for _, in := range []string{"1 month", "2 months", "1 day", "45 days", "0 days"} {
		p, err := workflow.ParsePeriod(in)
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != in {
			t.Errorf("ParsePeriod(%q).String() = %q", in, p.String())
		}
	}
}

// ParseDate accepts only existing days written exactly as YYYY-MM-DD.
func TestParseDate(t *testing.T) {
	good := map[string]workflow.Date{
		"2026-02-28": {Year: 2026, Month: time.February, Day: 28},
		"2028-02-29": {Year: 2028, Month: time.February, Day: 29},
		"2026-12-31": {Year: 2026, Month: time.December, Day: 31},
	}
	for in, want := range good {
		got, err := workflow.ParseDate(in)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("ParseDate(%q).String() = %q", in, got.String())
		}
	}
	for _, in := range []string{"2026-02-30", "2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
		"2026-1-1", "2026-01-1", "26-01-01", "", "2026/01/01", "2026-01-01T00:00:00Z", " 2026-01-01"} {
		if d, err := workflow.ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, d)
		}
	}
}

// AddMonths follows Regulation 1182/71: the same date in the target month,
// or that month's last day where it has no such date.
func TestAddMonths(t *testing.T) {
	tests := []struct {
		start string
		n     int
		want  string
	}{
		{"2026-01-31", 1, "2026-02-28"},
		{"2028-01-31", 1, "2028-02-29"},
		{"2026-01-30", 1, "2026-02-28"},
		{"2026-01-29", 1, "2026-02-28"},
		{"2026-01-28", 1, "2026-02-28"},
		{"2026-03-31", 1, "2026-04-30"},
		{"2026-08-31", 6, "2027-02-28"},
		{"2027-08-31", 6, "2028-02-29"},
		{"2026-12-15", 1, "2027-01-15"},
		{"2026-12-31", 2, "2027-02-28"},
		{"2026-01-15", 0, "2026-01-15"},
		{"2026-01-15", 12, "2027-01-15"},
		{"2028-02-29", 12, "2029-02-28"},
		{"2026-05-31", 1, "2026-06-30"},
		{"2026-03-31", -1, "2026-02-28"},
		{"2026-01-15", -1, "2025-12-15"},
		{"2100-01-31", 1, "2100-02-28"}, // not a leap year
		{"2000-01-31", 1, "2000-02-29"}, // a leap year
	}
	for _, tc := range tests {
		if got := workflow.AddMonths(date(t, tc.start), tc.n).String(); got != tc.want {
			t.Errorf("AddMonths(%s, %d) = %s, want %s", tc.start, tc.n, got, tc.want)
		}
	}
}

// The test dates below are chosen for their weekday; this guards the
// choice itself.
func checkWeekdays(t *testing.T, want map[string]time.Weekday) {
	t.Helper()
	for s, wd := range want {
		d := date(t, s)
		if got := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday(); got != wd {
			t.Fatalf("%s is a %s, not a %s: fix the test", s, got, wd)
		}
		if d.Weekday() != wd {
			t.Errorf("Date(%s).Weekday() = %s, want %s", s, d.Weekday(), wd)
		}
	}
}

// germanHolidays2026 are public holidays in Germany in 2026 that fall near
// the test dates (Good Friday, Easter Monday, Labour Day, Christmas).
func germanHolidays2026(t *testing.T) map[workflow.Date]bool {
	h := map[workflow.Date]bool{}
	for _, s := range []string{"2026-04-03", "2026-04-06", "2026-05-01", "2026-12-25", "2026-12-26"} {
		h[date(t, s)] = true
	}
	return h
}

// Month periods that end on a weekend or a holiday end on the next working
// day (1182/71 Art. 3(4)); day periods count calendar days and never roll.
func TestCalendarEnd(t *testing.T) {
	checkWeekdays(t, map[string]time.Weekday{
		"2026-02-13": time.Friday, "2026-02-14": time.Saturday, "2026-02-15": time.Sunday,
		"2026-02-16": time.Monday, "2026-04-03": time.Friday, "2026-04-04": time.Saturday,
		"2026-04-06": time.Monday, "2026-04-07": time.Tuesday, "2026-05-01": time.Friday,
		"2026-05-04": time.Monday, "2026-12-25": time.Friday, "2026-12-28": time.Monday,
		"2026-03-31": time.Tuesday, "2026-04-30": time.Thursday,
	})
	cal := workflow.Calendar{Loc: time.UTC, Holidays: germanHolidays2026(t)}
	tests := []struct {
		name   string
		start  string
		period string
		want   string
	}{
		{"month ends on a Friday", "2026-01-13", "1 month", "2026-02-13"},
		{"month ends on a Saturday", "2026-01-14", "1 month", "2026-02-16"},
		{"month ends on a Sunday", "2026-01-15", "1 month", "2026-02-16"},
		{"month ends on Good Friday, then a weekend, then Easter Monday", "2026-03-03", "1 month", "2026-04-07"},
		{"month ends on Labour Day, a Friday before a weekend", "2026-04-01", "1 month", "2026-05-04"},
		{"month ends on Christmas, then a holiday and a Sunday", "2026-11-25", "1 month", "2026-12-28"},
		{"short month, last day is a working day", "2026-03-31", "1 month", "2026-04-30"},
		{"three months", "2025-11-14", "3 months", "2026-02-16"},
		{"45 days ending on a Saturday stay there", "2025-12-31", "45 days", "2026-02-14"},
		{"45 days ending on a Sunday stay there", "2026-01-01", "45 days", "2026-02-15"},
		{"15 days ending on Good Friday stay there", "2026-03-19", "15 days", "2026-04-03"},
		{"zero days", "2026-02-14", "0 days", "2026-02-14"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := workflow.ParsePeriod(tc.period)
			if err != nil {
				t.Fatal(err)
			}
			if got := cal.End(date(t, tc.start), p).String(); got != tc.want {
				t.Errorf("End(%s, %s) = %s, want %s", tc.start, tc.period, got, tc.want)
			}
		})
	}
	// Without the holidays, Good Friday is an ordinary Friday.
	plain := workflow.Calendar{}
	if got := plain.End(date(t, "2026-03-03"), workflow.Period{Months: 1}).String(); got != "2026-04-03" {
		t.Errorf("End without holidays = %s, want 2026-04-03", got)
	}
}

// Business-day deadlines skip weekends and holidays.
func TestAddWorkingDays(t *testing.T) {
	checkWeekdays(t, map[string]time.Weekday{
		"2026-03-31": time.Tuesday, "2026-04-16": time.Thursday, "2026-04-14": time.Tuesday,
		"2026-05-15": time.Friday, "2026-05-18": time.Monday, "2026-02-14": time.Saturday,
	})
	holidays := workflow.Calendar{Holidays: germanHolidays2026(t)}
	plain := workflow.Calendar{}
	tests := []struct {
		name  string
		cal   workflow.Calendar
		start string
		n     int
		want  string
	}{
		{"10 days over two weekends and Easter", holidays, "2026-03-31", 10, "2026-04-16"},
		{"10 days over two weekends", plain, "2026-03-31", 10, "2026-04-14"},
		{"Friday plus one", plain, "2026-05-15", 1, "2026-05-18"},
		{"from a Saturday", plain, "2026-02-14", 1, "2026-02-16"},
		{"zero days", plain, "2026-02-14", 0, "2026-02-14"},
	}
	for _, tc := range tests {
		if got := tc.cal.AddWorkingDays(date(t, tc.start), tc.n).String(); got != tc.want {
			t.Errorf("%s: AddWorkingDays(%s, %d) = %s, want %s", tc.name, tc.start, tc.n, got, tc.want)
		}
	}
}

// EndOf is the last second of the local day, also on days when the clocks
// change, so a deadline neither ends an hour early nor an hour late.
func TestEndOfAcrossClockChanges(t *testing.T) {
	berlin := location(t, "Europe/Berlin")
	santiago := location(t, "America/Santiago")
	tests := []struct {
		name    string
		loc     *time.Location
		day     string
		wantUTC string // the instant of the last second
		offset  int    // UTC offset at that second, in hours
		nextDay string // local clock one second later
	}{
		{"Berlin, ordinary winter day", berlin, "2026-01-15", "2026-01-15T22:59:59Z", 1, "2026-01-16 00:00:00"},
		{"Berlin, clocks go forward", berlin, "2026-03-29", "2026-03-29T21:59:59Z", 2, "2026-03-30 00:00:00"},
		{"Berlin, clocks go back", berlin, "2026-10-25", "2026-10-25T22:59:59Z", 1, "2026-10-26 00:00:00"},
		{"Berlin, day before clocks go forward", berlin, "2026-03-28", "2026-03-28T22:59:59Z", 1, "2026-03-29 00:00:00"},
		// Chile moves its clocks at midnight: 2026-09-06 begins at 01:00.
		{"Santiago, next midnight skipped", santiago, "2026-09-05", "2026-09-06T03:59:59Z", -4, "2026-09-06 01:00:00"},
		// and 2026-04-04 24:00 (-03) becomes 23:00 (-04): that day is 25 h.
		{"Santiago, last hour repeated", santiago, "2026-04-04", "2026-04-05T03:59:59Z", -4, "2026-04-05 00:00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cal := workflow.Calendar{Loc: tc.loc}
			d := date(t, tc.day)
			end := cal.EndOf(d)
			want, _ := time.Parse(time.RFC3339, tc.wantUTC)
			if !end.Equal(want) {
				t.Errorf("EndOf(%s) = %s, want %s", tc.day, end.UTC(), want)
			}
			local := end.In(tc.loc)
			if workflow.DateOf(local) != d || local.Hour() != 23 || local.Minute() != 59 || local.Second() != 59 {
				t.Errorf("EndOf(%s) is %s local, want 23:59:59 that day", tc.day, local)
			}
			if _, off := local.Zone(); off != tc.offset*3600 {
				t.Errorf("offset %ds, want %dh", off, tc.offset)
			}
			if got := end.Add(time.Second).In(tc.loc).Format(time.DateTime); got != tc.nextDay {
				t.Errorf("one second later: %s, want %s", got, tc.nextDay)
			}
			if cal.Today(end) != d || cal.Today(end.Add(time.Second)) != d.AddDays(1) {
				t.Errorf("Today around EndOf(%s) is wrong", tc.day)
			}
		})
	}
}

// EndOf is right in zones whose clocks change at midnight on every day
// of a year, not only on the days picked above.
func TestEndOfEveryDay(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/Santiago", "America/Havana", "Asia/Beirut",
		"America/Asuncion", "Australia/Lord_Howe", "America/Los_Angeles", "UTC"} {
		cal := workflow.Calendar{Loc: location(t, name)}
		for d := date(t, "2025-01-01"); d.Before(date(t, "2027-01-01")); d = d.AddDays(1) {
			end := cal.EndOf(d)
			if cal.Today(end) != d || cal.Today(end.Add(time.Second)) != d.AddDays(1) {
				t.Fatalf("%s: EndOf(%s) = %s, not the last second of that day", name, d, end.In(cal.Loc))
			}
		}
	}
}

// Today is the date in the organisation's zone, not in UTC.
func TestToday(t *testing.T) {
	la := workflow.Calendar{Loc: location(t, "America/Los_Angeles")}
	berlin := workflow.Calendar{Loc: location(t, "Europe/Berlin")}
	tests := []struct {
		instant       string
		la, berlin    string
		utc           string
		calendarsZero string
	}{
		{"2026-06-15T23:30:00Z", "2026-06-15", "2026-06-16", "2026-06-15", "2026-06-15"},
		{"2026-06-16T00:30:00Z", "2026-06-15", "2026-06-16", "2026-06-16", "2026-06-16"},
		{"2026-01-01T06:59:59Z", "2025-12-31", "2026-01-01", "2026-01-01", "2026-01-01"},
		{"2026-01-01T08:00:00Z", "2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01"},
		{"2026-01-01T00:30:00+09:00", "2025-12-31", "2025-12-31", "2025-12-31", "2025-12-31"},
	}
	for _, tc := range tests {
		at, err := time.Parse(time.RFC3339, tc.instant)
		if err != nil {
			t.Fatal(err)
		}
		if got := la.Today(at).String(); got != tc.la {
			t.Errorf("Los Angeles Today(%s) = %s, want %s", tc.instant, got, tc.la)
		}
		if got := berlin.Today(at).String(); got != tc.berlin {
			t.Errorf("Berlin Today(%s) = %s, want %s", tc.instant, got, tc.berlin)
		}
		if got := (workflow.Calendar{Loc: time.UTC}).Today(at).String(); got != tc.utc {
			t.Errorf("UTC Today(%s) = %s, want %s", tc.instant, got, tc.utc)
		}
		if got := (workflow.Calendar{}).Today(at).String(); got != tc.calendarsZero {
			t.Errorf("zero Calendar Today(%s) = %s, want %s (UTC)", tc.instant, got, tc.calendarsZero)
		}
	}
}

// Date helpers compare and move by calendar days across months and years.
func TestDateHelpers(t *testing.T) {
	if got := date(t, "2026-12-31").AddDays(1).String(); got != "2027-01-01" {
		t.Errorf("AddDays(1) = %s", got)
	}
	if got := date(t, "2028-03-01").AddDays(-1).String(); got != "2028-02-29" {
		t.Errorf("AddDays(-1) = %s", got)
	}
	if !date(t, "2026-09-30").Before(date(t, "2026-10-01")) || date(t, "2026-10-01").Before(date(t, "2026-10-01")) {
		t.Error("Before is wrong")
	}
}

// FuzzAddMonths: whatever the start and the number of months, the result
// is an existing day in the expected month, on the start's day or that
// month's last day.
func FuzzAddMonths(f *testing.F) {
	f.Add(2026, 1, 31, 1)
	f.Add(2028, 1, 31, 1)
	f.Add(2026, 8, 31, 6)
	f.Add(2026, 12, 15, 1)
	f.Add(2026, 3, 31, -1)
	f.Add(1, 1, 1, -1)
	f.Add(9999, 12, 31, 1200)
	f.Add(-5, 40, -3, -7777)
	f.Fuzz(func(t *testing.T, y, m, d, n int) {
		y = 1 + int(uint(y)%9999)
		m = 1 + int(uint(m)%12)
		d = 1 + int(uint(d)%uint(lastDay(y, m)))
		n %= 1201
		start := workflow.Date{Year: y, Month: time.Month(m), Day: d}
		got := workflow.AddMonths(start, n)

		total := y*12 + (m - 1) + n
		wantY := total / 12
		if total < 0 && total%12 != 0 {
			wantY--
		}
		wantM := total - wantY*12 + 1
		if got.Year != wantY || int(got.Month) != wantM {
			t.Fatalf("AddMonths(%s, %d) = %s, want month %04d-%02d", start, n, got, wantY, wantM)
		}
		if want := min(d, lastDay(wantY, wantM)); got.Day != want {
			t.Fatalf("AddMonths(%s, %d) = %s, want day %d", start, n, got, want)
		}
		norm := time.Date(got.Year, got.Month, got.Day, 12, 0, 0, 0, time.UTC)
		if workflow.DateOf(norm) != got {
			t.Fatalf("AddMonths(%s, %d) = %+v, not an existing day", start, n, got)
		}
	})
}

// lastDay is the number of days in a month, by the Gregorian rule, written
// out so the fuzz target does not trust the code it checks.
func lastDay(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}
