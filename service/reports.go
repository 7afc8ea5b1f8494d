package service

import (
	"context"
	"slices"
	"strconv"
	"time"

	"rightsportal/models"
	"rightsportal/workflow"
)

// maxReportYears bounds a report's range: the per-year figures cost one
// comparison per year per request, and ten years is more than any
// regulator asks for.
const maxReportYears = 10

// Report is what the reports page and GET /api/v1/reports show: the
// figures of the requests received (created) from From to To, both
// dates included, in the organisation's time zone.
type Report struct {
	From         string `json:"from"`
	To           string `json:"to"`
	Jurisdiction string `json:"jurisdiction"`
	TimeZone     string `json:"time_zone"`
	// Defaults names the dates the caller left out and were filled in
	// ("from", "to").
	Defaults    []string  `json:"defaults,omitempty"`
	GeneratedAt time.Time `json:"generated_at"`
	// Reasons are the refusal reason codes in the order pages list them:
	// the known ones, then any other found in the data ("" when a
	// rejection carries none).
	Reasons        []string         `json:"reasons"`
	Total          Figures          `json:"total"`
	ByType         []ReportRow      `json:"by_type"`
	ByJurisdiction []ReportRow      `json:"by_jurisdiction"`
	CCPA           []CCPAYear       `json:"ccpa"`
	Rights         []CCPARightTypes `json:"ccpa_rights"`
}

// ReportRow is the figures of one request type or one jurisdiction.
type ReportRow struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Figures
}

// Figures are the counts of one slice of the requests. Received is the
// sum of Completed, Refused, Withdrawn, Expired and Open.
type Figures struct {
	Received  int64 `json:"received"`
	Completed int64 `json:"completed"`
	// Refused counts the requests whose state is rejected now (after any
	// appeal); RefusedBy splits them by reason code.
	Refused   int64            `json:"refused"`
	RefusedBy map[string]int64 `json:"refused_by_reason"`
	Withdrawn int64            `json:"withdrawn"`
	Expired   int64            `json:"expired"`
	// Open is every request not closed yet, Unconfirmed those of them
	// still waiting for the subject to confirm the address.
	Open        int64 `json:"open"`
	Unconfirmed int64 `json:"open_unconfirmed"`
	// Overdue: open, confirmed, clock running and the due date passed
	// now (the queue's overdue filter). ClosedLate: closed after the due
	// date.
	Overdue    int64 `json:"overdue_now"`
	ClosedLate int64 `json:"closed_late"`
	Extended   int64 `json:"extended"`
	// Appeals counts every appeal made; the three outcomes sum to it.
	Appeals        int64 `json:"appeals"`
	AppealsPending int64 `json:"appeals_pending"`
	AppealsGranted int64 `json:"appeals_granted"`
	AppealsDenied  int64 `json:"appeals_denied"`
	// DaysToClose is over the requests answered: completed or refused.
	DaysToClose DayStats `json:"days_to_close"`
}

// DayStats summarise whole days from receipt to closing. Median and P90
// are nearest-rank percentiles (the value at rank ⌈p·n⌉ of the sorted
// days: the lower middle one for an even count); all are 0 when N is 0.
type DayStats struct {
	N      int64   `json:"n"`
	Median int     `json:"median"`
	P90    int     `json:"p90"`
	Max    int     `json:"max"`
	Mean   float64 `json:"mean"`
}

// CCPAYear is the CCPA §7102-style table of one calendar year (or of
// its part inside the report's range).
type CCPAYear struct {
	Year   int       `json:"year"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Rights []CCPARow `json:"rights"`
}

// CCPARow is one right's line: received, complied with in whole or in
// part (completed), denied (refused, after any appeal), and days to
// respond over the requests complied with or denied. Requests that
// expired unconfirmed are not denials: nobody decided on them; they are
// shown apart, as are withdrawn and still open ones, so that the columns
// add up to Received.
type CCPARow struct {
	Right       string   `json:"right"`
	Received    int64    `json:"received"`
	Complied    int64    `json:"complied"`
	Denied      int64    `json:"denied"`
	Expired     int64    `json:"expired_unconfirmed"`
	Withdrawn   int64    `json:"withdrawn"`
	Open        int64    `json:"open"`
	DaysRespond DayStats `json:"days_to_respond"`
}

// CCPARightTypes says which request types count for a CCPA right.
type CCPARightTypes struct {
	Right string   `json:"right"`
	Types []string `json:"types"`
}

// CCPARights maps the CCPA's rights onto our request types: know is
// access and portability (a copy, and a copy in a portable form), delete
// is erasure, correct is rectification, and opt-out is objection and
// consent withdrawal (stopping a use of the data). Restriction has no
// CCPA counterpart and is left out of that table.
func CCPARights() []CCPARightTypes {
	return []CCPARightTypes{
		{"know", []string{string(workflow.TypeAccess), string(workflow.TypePortability)}},
		{"delete", []string{string(workflow.TypeErasure)}},
		{"correct", []string{string(workflow.TypeRectification)}},
		{"opt-out", []string{string(workflow.TypeObjection), string(workflow.TypeConsentWithdrawal)}},
	}
}

// answered are the states whose closing is an answer on the substance;
// days to close count these only (a withdrawal or an expiry says when
// the subject left, not how fast staff answered).
var answered = []string{string(workflow.StateCompleted), string(workflow.StateRejected)}

// Report computes the figures for requests received from from to to
// (YYYY-MM-DD, both included, in the organisation's time zone) under
// one jurisdiction or, when it is "", all. An empty to is today; an
// empty from is 1 January of to's year. Bad input is a ValidationError.
func (s *Service) Report(ctx context.Context, from, to, jurisdiction string) (*Report, error) {
	now := s.now()
	rep := &Report{Jurisdiction: jurisdiction, TimeZone: s.cal.Loc.String(), GeneratedAt: now.UTC()}
	q, first, last, err := s.reportRange(rep, from, to, jurisdiction, now)
	if err != nil {
		return nil, err
	}
	counts, err := s.store.ReportCounts(ctx, q)
	if err != nil {
		return nil, err
	}
	s.fillReport(rep, counts, first, last)
	return rep, nil
}

// reportRange checks the query and turns it into the store's query and
// the first and last day of the range.
func (s *Service) reportRange(rep *Report, from, to, jurisdiction string, now time.Time) (models.ReportQuery, workflow.Date, workflow.Date, error) {
	fields := map[string]string{}
	last := s.cal.Today(now)
	if to == "" {
		rep.Defaults = append(rep.Defaults, "to")
	} else if d, err := workflow.ParseDate(to); err != nil {
		fields["to"] = "must be a date as YYYY-MM-DD"
	} else {
		last = d
	}
	first := workflow.Date{Year: last.Year, Month: time.January, Day: 1}
	if from == "" {
		rep.Defaults = append(rep.Defaults, "from")
	} else if d, err := workflow.ParseDate(from); err != nil {
		fields["from"] = "must be a date as YYYY-MM-DD"
	} else {
		first = d
	}
	switch {
	case len(fields) > 0:
	case last.Before(first):
		fields["from"] = "must not be after to (" + last.String() + ")"
	case last.Year-first.Year >= maxReportYears:
		fields["from"] = "a report covers at most 10 calendar years"
	}
	if jurisdiction != "" && s.cfg.Policy(jurisdiction) == nil {
		fields["jurisdiction"] = "unknown jurisdiction; use one of the configured codes or leave it empty"
	}
	if len(fields) > 0 {
		return models.ReportQuery{}, first, last, &ValidationError{Fields: fields}
	}
	rep.From, rep.To = first.String(), last.String()
	q := models.ReportQuery{From: s.startOf(first), To: s.startOf(last.AddDays(1)), Jurisdiction: jurisdiction,
		Now: now, OpenStatuses: models.OpenStatuses(), AnsweredStatuses: answered}
	for y := first.Year + 1; y <= last.Year; y++ {
		q.YearStarts = append(q.YearStarts, s.startOf(workflow.Date{Year: y, Month: time.January, Day: 1}))
	}
	return q, first, last, nil
}

// startOf is the instant the local day d begins.
func (s *Service) startOf(d workflow.Date) time.Time {
	return s.cal.EndOf(d.AddDays(-1)).Add(time.Second)
}

// fillReport adds up the grouped rows into the report's tables.
func (s *Service) fillReport(rep *Report, counts []models.ReportCount, first, last workflow.Date) {
	byType, byJur := map[string]*Figures{}, map[string]*Figures{}
	reasons := map[string]bool{}
	years := last.Year - first.Year + 1
	ccpa := make([]map[string]*CCPARow, years)
	rightOf := map[string]string{}
	for _, r := range CCPARights() {
		for _, t := range r.Types {
			rightOf[t] = r.Right
		}
	}
	for i := range ccpa {
		ccpa[i] = map[string]*CCPARow{}
		for _, r := range CCPARights() {
			ccpa[i][r.Right] = &CCPARow{Right: r.Right}
		}
	}
	hist := newHistograms()
	for _, c := range counts {
		for _, f := range []*Figures{&rep.Total, figuresOf(byType, c.Type), figuresOf(byJur, c.Jurisdiction)} {
			f.add(c)
		}
		if c.Status == string(workflow.StateRejected) {
			reasons[c.RefusalReason] = true
		}
		right, isRight := rightOf[c.Type]
		if isRight {
			for y, n := range c.PerYear {
				ccpa[y][right].add(c.Status, n)
			}
		}
		for yd, n := range c.Days {
			hist.add("", yd.Days, n)
			hist.add("type:"+c.Type, yd.Days, n)
			hist.add("jur:"+c.Jurisdiction, yd.Days, n)
			if isRight {
				hist.add(ccpaKey(yd.Year, right), yd.Days, n)
			}
		}
	}
	rep.Total.DaysToClose = hist.stats("")
	rep.Reasons = reasonOrder(reasons)
	for _, t := range workflow.RequestTypes() {
		f := figuresOf(byType, string(t))
		f.DaysToClose = hist.stats("type:" + string(t))
		rep.ByType = append(rep.ByType, ReportRow{Key: string(t), Label: t.Title(), Figures: *f})
	}
	for _, j := range s.jurisdictionOrder(byJur, rep.Jurisdiction) {
		f := figuresOf(byJur, j)
		f.DaysToClose = hist.stats("jur:" + j)
		label := j
		if p := s.cfg.Policy(j); p != nil && p.Name != "" {
			label = p.Name
		}
		rep.ByJurisdiction = append(rep.ByJurisdiction, ReportRow{Key: j, Label: label, Figures: *f})
	}
	rep.Rights = CCPARights()
	for y := range years {
		year := CCPAYear{Year: first.Year + y, From: laterDate(first, workflow.Date{Year: first.Year + y, Month: 1, Day: 1}).String(),
			To: earlierDate(last, workflow.Date{Year: first.Year + y, Month: 12, Day: 31}).String()}
		for _, r := range CCPARights() {
			row := ccpa[y][r.Right]
			row.DaysRespond = hist.stats(ccpaKey(y, r.Right))
			year.Rights = append(year.Rights, *row)
		}
		rep.CCPA = append(rep.CCPA, year)
	}
}

func figuresOf(m map[string]*Figures, key string) *Figures {
	f := m[key]
	if f == nil {
		f = &Figures{RefusedBy: map[string]int64{}}
		m[key] = f
	}
	return f
}

func ccpaKey(year int, right string) string { return "ccpa:" + strconv.Itoa(year) + ":" + right }

// jurisdictionOrder lists the configured jurisdictions in the file's
// order (only the one asked for, when one is), then any code found in
// the data that the configuration no longer names.
func (s *Service) jurisdictionOrder(found map[string]*Figures, only string) []string {
	if only != "" {
		return []string{only}
	}
	out := slices.Clone(s.cfg.Jurisdictions.Order)
	var extra []string
	for j := range found {
		if !slices.Contains(out, j) {
			extra = append(extra, j)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}
