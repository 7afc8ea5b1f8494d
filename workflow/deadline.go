package workflow

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Period is a legal time limit: whole calendar months or calendar days.
// Exactly one of the two is set.
type Period struct {
	Months int
	Days   int
}

// ParsePeriod reads "1 month", "3 months", "45 days" or "1 day".
func ParsePeriod(s string) (Period, error) {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) != 2 {
		return Period{}, fmt.Errorf("period %q: want a number and a unit, like \"1 month\" or \"45 days\"", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 || n > 1200 {
		return Period{}, fmt.Errorf("period %q: %q is not a whole number from 0 to 1200", s, f[0])
	}
	switch f[1] {
	case "month", "months":
		return Period{Months: n}, nil
	case "day", "days":
		return Period{Days: n}, nil
	}
	return Period{}, fmt.Errorf("period %q: unit %q is neither months nor days", s, f[1])
}

// IsZero reports whether the period is empty (no time at all).
func (p Period) IsZero() bool { return p.Months == 0 && p.Days == 0 }

func (p Period) String() string {
	switch {
	case p.Months == 1:
		return "1 month"
	case p.Months > 0:
		return fmt.Sprintf("%d months", p.Months)
	case p.Days == 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", p.Days)
}

// Calendar is the organisation's local calendar: its time zone and the
// public holidays on which no period may end.
type Calendar struct {
	Loc      *time.Location
	Holidays map[Date]bool
}

// Date is a day on the local calendar, free of any time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads YYYY-MM-DD and refuses impossible dates (2026-02-30).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want an existing day as YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the calendar date t shows in its own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// AddDays moves d by n calendar days (n may be negative).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.String() < e.String() }

func (c Calendar) loc() *time.Location {
	if c.Loc == nil {
		return time.UTC
	}
	return c.Loc
}

// Today is the local date of the instant t.
func (c Calendar) Today(t time.Time) Date { return DateOf(t.In(c.loc())) }

// EndOf is the last second of the local day d, as an instant. Because it is
// built from the local date, it is right on days when clocks change.
func (c Calendar) EndOf(d Date) time.Time {
	next := time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, c.loc())
	if DateOf(next) != d.AddDays(1) {
		// The clocks skip that midnight (America/Santiago and others):
		// time.Date fell back into day d, and the next day starts when the
		// zone in force now ends.
		if _, end := next.ZoneBounds(); !end.IsZero() {
			next = end
		}
	}
	return next.Add(-time.Second)
}

// Working reports whether d is neither a weekend day nor a holiday.
func (c Calendar) Working(d Date) bool {
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday && !c.Holidays[d]
}

// NextWorking is d itself when it is a working day, otherwise the first
// working day after it.
func (c Calendar) NextWorking(d Date) Date {
	for i := 0; i < 366 && !c.Working(d); i++ {
		d = d.AddDays(1)
	}
	return d
}

// AddMonths follows Regulation (EEC, Euratom) No 1182/71, Art. 3(2)(c):
// the period ends on the day of the last month with the same date as the
// start, or on that month's last day when it has no such date.
func AddMonths(d Date, n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return Date{first.Year(), first.Month(), min(d.Day, last)}
}

// End is the last day of the period p that runs from the day start. Month
// periods follow 1182/71, including Art. 3(4): a period that would end on
// a Saturday, a Sunday or a holiday ends on the next working day. Day
// periods count calendar days.
func (c Calendar) End(start Date, p Period) Date {
	if p.Months > 0 {
		return c.NextWorking(AddMonths(start, p.Months))
	}
	return start.AddDays(p.Days)
}

// AddWorkingDays is the n-th working day after d (acknowledgment deadlines
// counted in business days).
func (c Calendar) AddWorkingDays(d Date, n int) Date {
	for n > 0 {
		d = d.AddDays(1)
		if c.Working(d) {
			n--
		}
	}
	return d
}

// Deadline is the last day to answer: the period, plus the extension when
// it is used, counted from the start day, plus the days the clock was
// paused. Months and days are added as the law counts them: a GDPR month
// period extended by two months ends three months after the start (the
// same date, per 1182/71), not two months after a first end that was
// moved off a weekend. Month periods then move off weekends and holidays;
// day periods do not.
func (c Calendar) Deadline(start Date, period, ext Period, extended bool, pausedDays int) Date {
	total := period
	var tail Period
	if extended {
		switch {
		case period.Months > 0 && ext.Days == 0:
			total.Months += ext.Months
		case period.Months == 0 && ext.Months == 0:
			total.Days += ext.Days
		default:
			tail = ext
		}
	}
	end := rawEnd(start, total)
	if !tail.IsZero() {
		end = rawEnd(end, tail)
	}
	end = end.AddDays(max(pausedDays, 0))
	if total.Months > 0 || tail.Months > 0 {
		end = c.NextWorking(end)
	}
	return end
}

func rawEnd(start Date, p Period) Date {
	if p.Months > 0 {
		return AddMonths(start, p.Months)
	}
	return start.AddDays(p.Days)
}

// DaysBetween counts calendar days from a to b (negative when b is
// earlier).
func DaysBetween(a, b Date) int {
	ta := time.Date(a.Year, a.Month, a.Day, 12, 0, 0, 0, time.UTC)
	tb := time.Date(b.Year, b.Month, b.Day, 12, 0, 0, 0, time.UTC)
	return int(math.Round(tb.Sub(ta).Hours() / 24))
}
