// Package connectors carries out a rights request in the organisation's
// own systems: a sql connector runs the operator's parameterised
// statements against the system's database, a webhook connector makes a
// signed call to the organisation's service, an opendsr connector sends
// a processor an OpenDSR request and reads its status. Manual systems
// are done by people and never reach this package.
//
// Every failure says whether a retry can help: errors wrapping
// ErrPermanent cannot be fixed by trying again (a refused call, a bad
// statement); all others are worth a retry.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"rightsportal/config"
	"rightsportal/workflow"
)

// runTimeout bounds every statement run and every call, whatever the
// caller's context allows.
const runTimeout = 30 * time.Second

// Job is the data subject and what the right needs: everything a
// statement or a service may use to find and change the subject's data.
type Job struct {
	Right     workflow.RequestType
	RequestID string
	Reference string
	Email     string // lower-case
	Name      string
	Details   workflow.Details
	// Value is, for a rectification, the value staff decided to apply
	// (the @value parameter).
	Value string
	// Delivery is the unique id of this attempt, e.g. "task-17-attempt-2";
	// a webhook receiver refuses a delivery it has seen (replay
	// protection).
	Delivery string
}

// Result is what running a job in one system produced, for the task's
// output and the access package.
type Result struct {
	// Columns is the column order of Rows (for CSV).
	Columns []string
	// Rows are the subject's rows (access, portability, lookup); every
	// value is JSON-safe: times are RFC 3339 strings, bytes are text when
	// valid UTF-8 and base64 otherwise.
	Rows []map[string]any
	// Affected counts the rows changed by erase, restrict, object,
	// withdraw and rectify statements (or the records a service reports).
	Affected int64
	// Summary is one line for staff ("erased 3 rows", "found 2 rows",
	// "service answered: done (4 records)").
	Summary string
	// NotFound says the system holds nothing about the subject.
	NotFound bool
	// Pending says a service accepted the job and will finish it on its
	// own ("accepted"); the work is not yet done.
	Pending bool
}

// ErrPermanent wraps failures a retry cannot fix: a 4xx answer other
// than 408/429, a bad statement, a signature the service refused, a
// system that cannot serve the right. Other errors are temporary.
var ErrPermanent = errors.New("connectors: permanent failure")

// permanentError keeps the cause's message and matches both the cause
// and ErrPermanent, so callers can log the one and branch on the other.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// permanent marks err as one a retry cannot fix.
func permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return permanentError{err}
}

func permanentf(format string, args ...any) error {
	return permanent(fmt.Errorf(format, args...))
}

// Registry runs jobs against the systems of the inventory. It opens each
// sql system's database once, on first use, and is safe for concurrent
// use.
type Registry struct {
	systems map[string]config.System
	dbs     map[string]*database
	client  *http.Client
	now     func() time.Time
}

// NewRegistry prepares the systems; nothing is opened or called yet. The
// client makes the webhook calls (its redirects are not followed: a
// signed call goes only where the inventory says); now stamps them.
func NewRegistry(systems []config.System, client *http.Client, now func() time.Time) *Registry {
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if now == nil {
		now = time.Now
	}
	r := &Registry{systems: map[string]config.System{}, dbs: map[string]*database{}, client: &c, now: now}
	for _, s := range systems {
		r.systems[s.Code] = s
		if s.Connector.Kind == config.ConnectorSQL {
			r.dbs[s.Code] = &database{driver: s.Connector.Driver, dsn: s.Connector.DSN}
		}
	}
	return r
}

// Close closes every database opened so far; later runs fail.
func (r *Registry) Close() error {
	var errs []error
	for _, d := range r.dbs {
		errs = append(errs, d.close())
	}
	return errors.Join(errs...)
}

// Run carries out job.Right in the system named by code. A sql system
// runs the statements of SQLStatements.For(right): for access and
// portability one query returning the subject's rows, for the others
// every statement in one transaction (all or nothing). A webhook system
// gets the signed call. A manual system is refused: people do it.
func (r *Registry) Run(ctx context.Context, system string, job Job) (Result, error) {
	sys, job, err := r.prepare(system, job)
	if err != nil {
		return Result{}, err
	}
	if !sys.Serves(job.Right) {
		return Result{}, permanentf("connectors: system %q does not take part in %s requests", system, job.Right)
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	switch sys.Connector.Kind {
	case config.ConnectorSQL:
		return r.runSQL(ctx, sys, job)
	case config.ConnectorWebhook:
		return r.runWebhook(ctx, sys, job)
	case config.ConnectorManual:
		return Result{}, permanentf("connectors: system %q is manual: team %q does it by hand", system, sys.Connector.Team)
	case config.ConnectorOpenDSR:
		// The processor works on its own time: SubmitOpenDSR, then its status.
		return Result{}, permanentf("connectors: system %q speaks OpenDSR: submit the request and follow its status", system)
	}
	return Result{}, permanentf("connectors: system %q has connector kind %q", system, sys.Connector.Kind)
}

// Lookup runs the sql system's find statement for the subject, reading
// only, so staff can see a rectification's current value beside the
// proposed one.
func (r *Registry) Lookup(ctx context.Context, system string, job Job) (Result, error) {
	sys, job, err := r.prepare(system, job)
	if err != nil {
		return Result{}, err
	}
	if sys.Connector.Kind != config.ConnectorSQL {
		return Result{}, permanentf("connectors: system %q is not a sql system: nothing to look up", system)
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	db, err := r.dbs[system].get()
	if err != nil {
		return Result{}, err
	}
	return query(ctx, db, system, "find", sys.Connector.Statements.Find, job)
}

// prepare finds the system and checks what every run needs: a known
// right and an e-mail address (an empty one could match the rows of
// everyone whose address is empty).
func (r *Registry) prepare(system string, job Job) (config.System, Job, error) {
	sys, ok := r.systems[system]
	if !ok {
		return sys, job, permanentf("connectors: no system %q in the inventory", system)
	}
	if !job.Right.Valid() {
		return sys, job, permanentf("connectors: %q is not a request type", job.Right)
	}
	job.Email = strings.ToLower(strings.TrimSpace(job.Email))
	if job.Email == "" {
		return sys, job, permanentf("connectors: the job names no e-mail address")
	}
	return sys, job, nil
}

// plural writes "1 row" or "3 rows".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
