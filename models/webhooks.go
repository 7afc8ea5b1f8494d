package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// The events a webhook endpoint can subscribe to.
const (
	HookSubmitted    = "request.submitted"
	HookVerified     = "request.verified"
	HookStateChanged = "request.state_changed"
	HookOverdue      = "request.overdue"
	HookTaskFailed   = "task.failed"
	HookAppealFiled  = "appeal.filed"
)

// HookEvents lists every event, in the order the admin page shows them.
func HookEvents() []string {
	return []string{HookSubmitted, HookVerified, HookStateChanged, HookOverdue, HookTaskFailed, HookAppealFiled}
}

// WebhookEndpoint is a receiver an admin registered for some events.
type WebhookEndpoint struct {
	ID  int64  `gorm:"primaryKey"`
	URL string `gorm:"size:2048;not null"`
	// Events is the subscribed events, comma-separated.
	Events string `gorm:"size:512;not null"`
	// IncludePersonal adds the subject's e-mail, name and details to each
	// payload; off, a payload carries only ids, type, status and dates.
	IncludePersonal bool   `gorm:"not null;default:false"`
	Description     string `gorm:"size:200;not null;default:''"`
	// Sealed is the signing secret, encrypted with the service's key: it
	// must be read back to sign, so it cannot rest as a hash.
	Sealed []byte `gorm:"not null"`
	// SecretPrefix is the secret's first characters, to tell endpoints
	// apart on the admin page.
	SecretPrefix string     `gorm:"size:16;not null"`
	CreatedBy    string     `gorm:"size:36;not null"`
	CreatedAt    time.Time  `gorm:"not null"`
	DisabledAt   *time.Time `gorm:"index"`
}

// Wants says whether the endpoint subscribed to event.
func (e *WebhookEndpoint) Wants(event string) bool {
	return slices.Contains(e.EventList(), event)
}

// EventList is Events as a list.
func (e *WebhookEndpoint) EventList() []string {
	if e.Events == "" {
		return nil
	}
	return strings.Split(e.Events, ",")
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event for one endpoint: written in the
// transaction of the change that caused it, with its job, so an event is
// never lost and never sent for a change that did not happen. Payload
// holds no personal data; an endpoint that asked for it gets the
// subject's data added when the call is made (and nothing once purged).
type WebhookDelivery struct {
	// ID is the delivery id the receiver deduplicates on (a UUID).
	ID          string    `gorm:"primaryKey;size:36"`
	EndpointID  int64     `gorm:"not null;index:idx_webhook_deliveries_endpoint,priority:1"`
	Event       string    `gorm:"size:32;not null"`
	RequestID   string    `gorm:"size:36;not null;index"`
	Payload     string    `gorm:"not null"`
	State       string    `gorm:"size:16;not null"`
	Attempts    int       `gorm:"not null;default:0"`
	LastCode    int       `gorm:"not null;default:0"`
	LastError   string    `gorm:"size:300;not null;default:''"`
	CreatedAt   time.Time `gorm:"not null;index:idx_webhook_deliveries_endpoint,priority:2"`
	UpdatedAt   time.Time `gorm:"not null"`
	DeliveredAt *time.Time
}

// QueueWebhooks is the job queue of webhook deliveries, apart from mail
// so a slow receiver never holds up a verification link.
const QueueWebhooks = "webhooks"

// DeliverWebhookArgs is the job that makes one delivery's call.
type DeliverWebhookArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind names the job.
func (DeliverWebhookArgs) Kind() string { return "deliver_webhook" }

// InsertOpts puts deliveries on their own queue.
func (DeliverWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks}
}

// HookPayload is the JSON body of a delivery (before the subject's data
// is added for endpoints that asked for it).
type HookPayload struct {
	ID             string       `json:"id"`
	Event          string       `json:"event"`
	OccurredAt     time.Time    `json:"occurred_at"`
	Request        HookRequest  `json:"request"`
	PreviousStatus string       `json:"previous_status,omitempty"`
	Action         string       `json:"action,omitempty"`
	Task           *HookTask    `json:"task,omitempty"`
	Subject        *HookSubject `json:"subject,omitempty"`
}

// HookRequest is what a payload tells of the request: ids, type, status
// and dates, nothing about the person.
type HookRequest struct {
	ID            string     `json:"id"`
	Reference     string     `json:"reference"`
	Type          string     `json:"type"`
	Status        string     `json:"status"`
	Jurisdiction  string     `json:"jurisdiction"`
	ReceivedAt    time.Time  `json:"received_at"`
	VerifiedAt    *time.Time `json:"verified_at"`
	DueAt         time.Time  `json:"due_at"`
	Extended      bool       `json:"extended"`
	ClosedAt      *time.Time `json:"closed_at"`
	RefusalReason string     `json:"refusal_reason,omitempty"`
	DuplicateOf   *string    `json:"duplicate_of,omitempty"`
}

// HookTask is the task of a task.failed event.
type HookTask struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	System   string `json:"system"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
}

// HookSubject is the personal data an endpoint may ask for.
type HookSubject struct {
	Email   string          `json:"email"`
	Name    string          `json:"name"`
	Details json.RawMessage `json:"details"`
}

// hookFacts is what a change did, as webhook events see it.
type hookFacts struct {
	events []string
	req    *Request
	prev   string
	action string
	task   *Task
}

// changeHooks names the events of a change to a request: a creation is
// request.submitted; a new status is request.state_changed, and also
// request.verified or appeal.filed when it is one of those; marking the
// overdue notice is request.overdue. Derived here, from what is written,
// so no path through the service can forget one.
func changeHooks(ch Change, old string, out *Request) hookFacts {
	f := hookFacts{req: out, prev: old}
	if ch.Event != nil {
		f.action = ch.Event.Action
	}
	if ch.Create != nil {
		f.events = append(f.events, HookSubmitted)
	}
	if nw, _ := ch.Set["status"].(string); nw != "" && old != "" && nw != old {
		f.events = append(f.events, HookStateChanged)
		switch nw {
		case "verified":
			f.events = append(f.events, HookVerified)
		case "appealed":
			f.events = append(f.events, HookAppealFiled)
		}
	}
	if _, ok := ch.Set["escalated_for"]; ok {
		f.events = append(f.events, HookOverdue)
	}
	return f
}

// queueHooks writes a delivery and its job for every active endpoint that
// subscribed to one of the facts' events, in the caller's transaction.
func (s *Store) queueHooks(ctx context.Context, tx *gorm.DB, now time.Time, f hookFacts, jb *jobBuf) error {
	if len(f.events) == 0 || f.req == nil {
		return nil
	}
	var eps []WebhookEndpoint
	if err := tx.Select("id", "events").Where("disabled_at IS NULL").Find(&eps).Error; err != nil {
		return fmt.Errorf("models: read webhook endpoints: %w", err)
	}
	if len(eps) == 0 {
		return nil
	}
	own := jb == nil
	if own {
		jb = &jobBuf{}
	}
	for _, ev := range f.events {
		for i := range eps {
			if !eps[i].Wants(ev) {
				continue
			}
			id, err := uuid.NewRandom()
			if err != nil {
				return fmt.Errorf("models: delivery id: %w", err)
			}
			body, err := json.Marshal(hookPayload(id.String(), ev, now, f))
			if err != nil {
				return fmt.Errorf("models: webhook payload: %w", err)
			}
			d := &WebhookDelivery{ID: id.String(), EndpointID: eps[i].ID, Event: ev, RequestID: f.req.ID,
				Payload: string(body), State: DeliveryPending, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(d).Error; err != nil {
				return fmt.Errorf("models: insert webhook delivery: %w", err)
			}
			jb.add(DeliverWebhookArgs{DeliveryID: d.ID}, &river.InsertOpts{MaxAttempts: s.hookAttempts})
		}
	}
	if own {
		return s.flushJobs(ctx, tx, jb)
	}
	return nil
}

func hookPayload(id, event string, now time.Time, f hookFacts) HookPayload {
	r := f.req
	p := HookPayload{ID: id, Event: event, OccurredAt: now.UTC(), Action: f.action,
		Request: HookRequest{ID: r.ID, Reference: r.Reference, Type: r.Type, Status: r.Status,
			Jurisdiction: r.Jurisdiction, ReceivedAt: r.CreatedAt.UTC(), VerifiedAt: utcPtr(r.VerifiedAt),
			DueAt: r.DueAt.UTC(), Extended: r.Extended, ClosedAt: utcPtr(r.ClosedAt),
			RefusalReason: r.RefusalReason, DuplicateOf: r.DuplicateOf}}
	if event == HookStateChanged {
		p.PreviousStatus = f.prev
	}
	if t := f.task; t != nil {
		p.Task = &HookTask{ID: t.ID, Kind: t.Kind, System: t.System, State: t.State, Attempts: t.Attempts}
	}
	return p
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// taskHooks queues task.failed when an update leaves a task failed.
func (s *Store) taskHooks(ctx context.Context, tx *gorm.DB, now time.Time, u TaskUpdate, t *Task) error {
	if st, _ := u.Set["state"].(string); st != TaskFailed {
		return nil
	}
	var r Request
	if err := tx.Where("id = ?", t.RequestID).Take(&r).Error; err != nil {
		return fmt.Errorf("models: read request of task %d: %w", t.ID, err)
	}
	f := hookFacts{events: []string{HookTaskFailed}, req: &r, task: t}
	if u.Event != nil {
		f.action = u.Event.Action
	}
	return s.queueHooks(ctx, tx, now, f, nil)
}

// CreateWebhookEndpoint stores an endpoint and the audit event ev makes
// of it, in one transaction.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, now time.Time, e *WebhookEndpoint, ev func(*WebhookEndpoint) *Event) error {
	e.CreatedAt = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(e).Error; err != nil {
			return fmt.Errorf("models: insert webhook endpoint: %w", err)
		}
		return s.appendEvent(tx, tokenEvent(ev(e), now))
	})
}

// DisableWebhookEndpoint stops an endpoint: no new deliveries, and the
// queued ones are marked failed when their turn comes. ErrNotFound when
// it is unknown or disabled already.
func (s *Store) DisableWebhookEndpoint(ctx context.Context, now time.Time, id int64, ev func(*WebhookEndpoint) *Event) error {
	now = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var e WebhookEndpoint
		if err := tx.Where("id = ? AND disabled_at IS NULL", id).Take(&e).Error; err != nil {
			return notFound(err, fmt.Sprintf("webhook endpoint %d", id))
		}
		if err := tx.Model(&WebhookEndpoint{}).Where("id = ?", id).Update("disabled_at", now).Error; err != nil {
			return fmt.Errorf("models: disable webhook endpoint: %w", err)
		}
		e.DisabledAt = &now
		return s.appendEvent(tx, tokenEvent(ev(&e), now))
	})
}

// WebhookEndpoint reads one endpoint.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&e).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("webhook endpoint %d", id))
	}
	return &e, nil
}

// WebhookEndpoints lists the endpoints, active first, newest first.
func (s *Store) WebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	err := s.r.WithContext(ctx).Order("CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END, id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: read webhook endpoints: %w", err)
	}
	return out, nil
}

// WebhookDeliveries is an endpoint's delivery log, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID int64, limit int) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := s.r.WithContext(ctx).Where("endpoint_id = ?", endpointID).
		Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: read webhook deliveries: %w", err)
	}
	return out, nil
}

// WebhookDelivery reads one delivery.
func (s *Store) WebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&d).Error; err != nil {
		return nil, notFound(err, "webhook delivery")
	}
	return &d, nil
}

// DeliveryOutcome is what one attempt came to.
type DeliveryOutcome struct {
	State string
	Code  int
	Error string
}

// MarkWebhookDelivery records an attempt. Only a pending delivery is
// marked, so a late worker never turns a delivered one back.
func (s *Store) MarkWebhookDelivery(ctx context.Context, now time.Time, id string, o DeliveryOutcome) error {
	now = Now(now)
	set := map[string]any{"state": o.State, "attempts": gorm.Expr("attempts + 1"), "last_code": o.Code,
		"last_error": o.Error, "updated_at": now}
	if o.State == DeliveryDelivered {
		set["delivered_at"] = now
	}
	err := s.w.WithContext(ctx).Model(&WebhookDelivery{}).Where("id = ? AND state = ?", id, DeliveryPending).Updates(set).Error
	if err != nil {
		return fmt.Errorf("models: mark webhook delivery: %w", err)
	}
	return nil
}

// RedeliverWebhook queues a delivery again (the admin's "send again"),
// with its own audit event: it goes back to pending and gets a new job.
// The delivery id stays, so a receiver that did get it can tell.
func (s *Store) RedeliverWebhook(ctx context.Context, now time.Time, id string, ev func(*WebhookDelivery) *Event) error {
	now = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var d WebhookDelivery
		if err := tx.Where("id = ?", id).Take(&d).Error; err != nil {
			return notFound(err, "webhook delivery")
		}
		err := tx.Model(&WebhookDelivery{}).Where("id = ?", id).
			Updates(map[string]any{"state": DeliveryPending, "updated_at": now}).Error
		if err != nil {
			return fmt.Errorf("models: requeue webhook delivery: %w", err)
		}
		if err := s.appendEvent(tx, tokenEvent(ev(&d), now)); err != nil {
			return err
		}
		jb := &jobBuf{}
		jb.add(DeliverWebhookArgs{DeliveryID: id}, &river.InsertOpts{MaxAttempts: s.hookAttempts})
		return s.flushJobs(ctx, tx, jb)
	})
}
