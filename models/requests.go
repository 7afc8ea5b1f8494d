package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"rightsportal/workflow"
)

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("models: read %s: %w", what, err)
}

// Request reads one request by id.
func (s *Store) Request(ctx context.Context, id string) (*Request, error) {
	var r Request
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, notFound(err, "request "+id)
	}
	return &r, nil
}

// RequestByReference reads one request by its public reference.
func (s *Store) RequestByReference(ctx context.Context, ref string) (*Request, error) {
	var r Request
	if err := s.r.WithContext(ctx).Where("reference = ?", ref).Take(&r).Error; err != nil {
		return nil, notFound(err, "request "+ref)
	}
	return &r, nil
}

// TokenByHash reads a token (used or not) by the hash of its value.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	var t Token
	if err := s.r.WithContext(ctx).Where("hash = ?", hash).Take(&t).Error; err != nil {
		return nil, notFound(err, "token")
	}
	return &t, nil
}

// Events is a request's timeline, oldest first.
func (s *Store) Events(ctx context.Context, requestID string) ([]Event, error) {
	var out []Event
	err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: read events: %w", err)
	}
	return out, nil
}

// MailsFor lists the mails queued or sent for a request, oldest first.
func (s *Store) MailsFor(ctx context.Context, requestID string) ([]Mail, error) {
	var out []Mail
	err := s.r.WithContext(ctx).Omit("sealed").Where("request_id = ?", requestID).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: read mails: %w", err)
	}
	return out, nil
}

// Filter selects requests for the queue and the staff API. Empty fields
// do not filter.
type Filter struct {
	Statuses     []string
	Type         string
	Jurisdiction string
	// Assignee is a staff id, or "unassigned".
	Assignee string
	// Overdue keeps open requests whose due date has passed at Now.
	Overdue bool
	// DueBefore keeps requests due before this instant.
	DueBefore time.Time
	// Query matches a reference exactly or an e-mail address exactly.
	Query  string
	Cursor string
	Limit  int
	Now    time.Time
}

// Unassigned is the Filter.Assignee value for requests nobody holds.
const Unassigned = "unassigned"

type cursor struct {
	Due time.Time `json:"d"`
	ID  string    `json:"i"`
}

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = errors.New("models: malformed cursor")

// ListRequests returns one page ordered by due date (then id), and the
// cursor of the next page ("" on the last). Keyset pagination: a page deep
// in the list costs what the first does.
func (s *Store) ListRequests(ctx context.Context, f Filter) ([]Request, string, error) {
	limit := min(max(f.Limit, 1), 200)
	q := s.r.WithContext(ctx).Model(&Request{})
	if len(f.Statuses) > 0 {
		q = q.Where("status IN ?", f.Statuses)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Jurisdiction != "" {
		q = q.Where("jurisdiction = ?", f.Jurisdiction)
	}
	switch f.Assignee {
	case "":
	case Unassigned:
		q = q.Where("assignee_id IS NULL")
	default:
		q = q.Where("assignee_id = ?", f.Assignee)
	}
	if f.Overdue {
		// A paused clock is not overdue: its due date moves on resume.
		q = q.Where("due_at < ? AND status IN ? AND paused_at IS NULL", Now(f.Now), OpenStatuses())
	}
	if !f.DueBefore.IsZero() {
		q = q.Where("due_at < ?", Now(f.DueBefore))
	}
	if v := strings.TrimSpace(f.Query); v != "" {
		q = q.Where("(reference = ? OR email = ?)", strings.ToUpper(v), strings.ToLower(v))
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// A row-value comparison, not an OR: both SQLite and PostgreSQL
		// turn it into a range on the (…, due_at, id) indexes.
		q = q.Where("(due_at, id) > (?, ?)", c.Due, c.ID)
	}
	var out []Request
	if err := q.Order("due_at, id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", fmt.Errorf("models: list requests: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(cursor{Due: last.DueAt, ID: last.ID})
	}
	return out, next, nil
}

// OpenStatuses are the states in which a request still waits on staff or
// the subject, after verification.
func OpenStatuses() []string {
	var out []string
	for _, st := range workflow.States() {
		if st != workflow.StateUnverified && !st.Closed() {
			out = append(out, string(st))
		}
	}
	return out
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 200 || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return cursor{}, ErrBadCursor
	}
	c.Due = Now(c.Due)
	return c, nil
}

// QueueStatuses are the states the staff queue shows by default: all but
// unconfirmed and expired requests, which are nobody's work.
func QueueStatuses() []string {
	var out []string
	for _, st := range workflow.States() {
		if st != workflow.StateUnverified && st != workflow.StateExpired {
			out = append(out, string(st))
		}
	}
	return out
}

// InsertRequests writes many requests at once, for `portal seed`: one
// transaction per batch, no events, tokens or mail (seeded requests are
// test data for the queue, not requests anyone filed).
func (s *Store) InsertRequests(ctx context.Context, rs []Request) error {
	for i := range rs {
		r := &rs[i]
		r.CreatedAt, r.UpdatedAt, r.VerifyBy, r.DueAt = Now(r.CreatedAt), Now(r.UpdatedAt), Now(r.VerifyBy), Now(r.DueAt)
		if r.VerifiedAt != nil {
			v := Now(*r.VerifiedAt)
			r.VerifiedAt = &v
		}
		if r.ClosedAt != nil {
			// Stored as UTC like the other times, or SQLite compares
			// closed_at as text in the seeder's zone.
			c := Now(*r.ClosedAt)
			r.ClosedAt = &c
		}
		if r.Version == 0 {
			r.Version = 1
		}
	}
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.CreateInBatches(rs, 500).Error; err != nil {
			return err
		}
		counts := map[string]int64{}
		for _, r := range rs {
			counts[r.Status]++
		}
		for st, n := range counts {
			if err := bumpCount(tx, st, n); err != nil {
				return err
			}
		}
		return nil
	})
}
