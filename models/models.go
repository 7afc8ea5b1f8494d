// Package models stores requests, tokens, audit events, mails and staff
// with gorm. Every multi-step write is one transaction; every update names
// its columns; staff decisions are guarded by the request's version.
package models

import (
	"errors"
	"time"
)

// Sentinel errors, wrapped with a "models: …" prefix; the handlers map
// them to a status and a safe message.
var (
	ErrNotFound  = errors.New("models: not found")
	ErrConflict  = errors.New("models: changed by someone else")
	ErrTokenUsed = errors.New("models: token already used")
	ErrDuplicate = errors.New("models: already exists")
)

// Request is one rights request. Email, FullName and Details are the
// subject's personal data, emptied when the request is purged.
type Request struct {
	// The queue's indexes end in (due_at, id), the keyset order, so that
	// every filtered page is an index range scan, deep or not.
	// idx_requests_report holds every column the reports read, in their
	// GROUP BY order (models/reports.go).
	ID           string `gorm:"primaryKey;size:36;index:idx_requests_queue_due,priority:2;index:idx_requests_queue_status,priority:3;index:idx_requests_queue_assignee,priority:3;index:idx_requests_queue_type,priority:3;index:idx_requests_queue_jurisdiction,priority:3"`
	Reference    string `gorm:"size:16;not null;uniqueIndex"`
	Type         string `gorm:"size:32;not null;index:idx_requests_queue_type,priority:1;index:idx_requests_report,priority:1"`
	Status       string `gorm:"size:32;not null;index:idx_requests_queue_status,priority:1;index:idx_requests_report,priority:3"`
	Jurisdiction string `gorm:"size:32;not null;index:idx_requests_queue_jurisdiction,priority:1;index:idx_requests_report,priority:2"`
	Email        string `gorm:"size:254;not null;index"`
	FullName     string `gorm:"size:200;not null"`
	// Language is the subject's language (a code of config languages):
	// every mail to the subject about this request is written in it.
	Language string `gorm:"size:16;not null;default:'en'"`
	// Details is the workflow.Details of the request as JSON.
	Details   string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index:idx_requests_report,priority:7"`
	UpdatedAt time.Time `gorm:"not null"`
	// VerifyBy is the end of the verification window.
	VerifyBy   time.Time `gorm:"not null"`
	VerifiedAt *time.Time
	// DueAt orders the queue. Until the clock starts it is the date the
	// request would be due if the clock started at submission.
	DueAt      time.Time `gorm:"not null;index:idx_requests_queue_status,priority:2;index:idx_requests_queue_due,priority:1;index:idx_requests_queue_assignee,priority:2;index:idx_requests_queue_type,priority:2;index:idx_requests_queue_jurisdiction,priority:2;index:idx_requests_report,priority:9"`
	Extended   bool      `gorm:"not null;default:false;index:idx_requests_report,priority:6"`
	AssigneeID *string   `gorm:"size:36;index:idx_requests_queue_assignee,priority:1"`
	// Approvals is a JSON list of the staff ids that approved in the
	// current review.
	Approvals  string `gorm:"not null;default:'[]'"`
	RejectedBy string `gorm:"size:36;not null;default:''"`
	AppealUsed bool   `gorm:"not null;default:false"`
	// AppealBy is the end of the appeal window of a rejection, where the
	// jurisdiction grants one.
	AppealBy *time.Time
	// PausedAt is set while the clock is stopped waiting for the subject
	// (where the jurisdiction pauses it); PausedDays sums finished pauses.
	PausedAt   *time.Time `gorm:"index:idx_requests_report,priority:10"`
	PausedDays int        `gorm:"not null;default:0"`
	// ClosedAt is when the request reached a closed state; retention
	// counts from it.
	ClosedAt *time.Time `gorm:"index;index:idx_requests_report,priority:8"`
	// The scheduled work's marks, so each notice goes out once: when the
	// verification reminder went, and the due date a due-soon reminder
	// and an overdue escalation were sent for (a new due date, after an
	// extension or a pause, earns new ones).
	RemindedAt        *time.Time
	DueRemindedFor    *time.Time
	EscalatedFor      *time.Time
	ExtensionWarnedAt *time.Time
	// PurgedAt is when the personal data was removed (expiry or
	// retention); the row stays as an anonymous stub for statistics.
	PurgedAt *time.Time
	// RefusalReason is the reason code of the last rejection, kept on the
	// row so that reports count refusals by reason without reading the
	// audit trail.
	RefusalReason string `gorm:"size:32;not null;default:'';index:idx_requests_report,priority:4"`
	// AppealOutcome follows the request's appeal: "" (none), "pending",
	// "granted" or "denied".
	AppealOutcome string `gorm:"size:16;not null;default:'';index:idx_requests_report,priority:5"`
	// DuplicateOf names another open request of the same subject and type
	// found when this one was verified (never before: an unverified
	// request proves nothing about who filed it).
	DuplicateOf *string `gorm:"size:36;index"`
	Version     int     `gorm:"not null;default:1"`
}

// Token purposes. A token is only ever stored as its SHA-256.
const (
	TokenVerifyLink  = "verify_link"
	TokenVerifyReply = "verify_reply"
	TokenStatus      = "status"
	TokenInfoReply   = "info_reply"
)

// Token is a single-use (or, for status links, revocable) secret mailed
// to the subject.
type Token struct {
	ID        int64     `gorm:"primaryKey"`
	RequestID string    `gorm:"size:36;not null;index"`
	Purpose   string    `gorm:"size:32;not null"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
}

// Event is one entry of the audit trail. Events form one chain: Hash is
// SHA-256 over the event's fields, ContentHash and PrevHash. Reason and
// Message may be purged with the personal data; ContentHash keeps the
// chain verifiable without them.
type Event struct {
	ID          int64     `gorm:"primaryKey"`
	RequestID   string    `gorm:"size:36;not null;index"`
	Action      string    `gorm:"size:32;not null"`
	FromState   string    `gorm:"size:32;not null"`
	ToState     string    `gorm:"size:32;not null"`
	ActorKind   string    `gorm:"size:16;not null"`
	ActorID     string    `gorm:"size:36;not null"`
	Reason      string    `gorm:"not null"`
	Message     string    `gorm:"not null"`
	ContentHash string    `gorm:"size:64;not null"`
	PrevHash    string    `gorm:"size:64;not null"`
	Hash        string    `gorm:"size:64;not null"`
	CreatedAt   time.Time `gorm:"not null"`
}

// Mail states.
const (
	MailQueued = "queued"
	MailSent   = "sent"
	MailFailed = "failed"
)

// Mail is one outgoing message, written in the transaction that caused it
// and sent by a worker. Secrets (links with tokens) are not in the bodies:
// those carry placeholders, and Sealed holds the values encrypted until
// the mail is sent, then it is cleared.
type Mail struct {
	ID        int64   `gorm:"primaryKey"`
	RequestID *string `gorm:"size:36;index"`
	Kind      string  `gorm:"size:32;not null"`
	// Language is the mail's language, sent as Content-Language.
	Language  string `gorm:"size:16;not null;default:'en'"`
	ToAddr    string `gorm:"size:254;not null"`
	ReplyTo   string `gorm:"size:320;not null"`
	Subject   string `gorm:"not null"`
	TextBody  string `gorm:"not null"`
	HTMLBody  string `gorm:"not null"`
	Sealed    []byte
	MessageID string    `gorm:"size:255;not null;uniqueIndex"`
	Status    string    `gorm:"size:16;not null"`
	Attempts  int       `gorm:"not null;default:0"`
	LastError string    `gorm:"not null;default:''"`
	CreatedAt time.Time `gorm:"not null"`
	SentAt    *time.Time
}

// Inbound is a reply that matched a request, kept (size-capped) as
// evidence of what the subject sent.
type Inbound struct {
	ID         int64     `gorm:"primaryKey"`
	RequestID  string    `gorm:"size:36;not null;index"`
	MessageID  string    `gorm:"size:998;not null"`
	FromAddr   string    `gorm:"size:254;not null"`
	Purpose    string    `gorm:"size:32;not null"`
	Raw        []byte    `gorm:"not null"`
	Truncated  bool      `gorm:"not null"`
	ReceivedAt time.Time `gorm:"not null"`
}

// Staff roles.
const (
	RoleAdmin    = "admin"
	RoleReviewer = "reviewer"
)

// Staff is a member of the privacy team.
type Staff struct {
	ID           string    `gorm:"primaryKey;size:36"`
	Email        string    `gorm:"size:254;not null;uniqueIndex"`
	Name         string    `gorm:"size:200;not null"`
	Role         string    `gorm:"size:16;not null"`
	PasswordHash string    `gorm:"not null"`
	Disabled     bool      `gorm:"not null;default:false"`
	CreatedAt    time.Time `gorm:"not null"`
}

// APIToken lets a staff member use the API; only its hash is stored.
type APIToken struct {
	ID         int64     `gorm:"primaryKey"`
	StaffID    string    `gorm:"size:36;not null;index"`
	Hash       string    `gorm:"size:64;not null;uniqueIndex"`
	Prefix     string    `gorm:"size:16;not null"`
	CreatedAt  time.Time `gorm:"not null"`
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// CreatedByKind and CreatedBy name who made the token: "staff" and
	// their id, or "operator" (the command line) and "". Both are ""
	// on tokens made before the creator was recorded.
	CreatedByKind string `gorm:"size:16;not null;default:''"`
	CreatedBy     string `gorm:"size:36;not null;default:''"`
	// Scopes is a space-separated list of what the token may do ("" on
	// tokens with their owner's full reach); ExpiresAt, when set, is when
	// it stops working.
	Scopes    string `gorm:"size:200;not null;default:''"`
	ExpiresAt *time.Time
}

// TableName keeps the audit table's name plain.
func (Event) TableName() string { return "audit_events" }

// TableName names the outbox for what it is.
func (Mail) TableName() string { return "mails" }

// TableName names the inbound store.
func (Inbound) TableName() string { return "inbound_messages" }

// TableName keeps "staff" uncountable.
func (Staff) TableName() string { return "staff" }

func allModels() []any {
	return []any{&Request{}, &Token{}, &Event{}, &Mail{}, &Inbound{}, &Staff{}, &APIToken{}, &Session{}, &LoginThrottle{}, &Note{}, &AuditHead{}, &Task{}, &Package{}, &PackageFile{}, &DownloadCode{}, &StaffTOTP{}, &RecoveryCode{}, &PendingSignIn{}, &StatusCount{}, &Attachment{}, &WebhookEndpoint{}, &WebhookDelivery{}, &OpenDSRRequest{}}
}

// Now is the store's notion of a timestamp: UTC, microseconds, so that a
// value reads back exactly as written on SQLite and PostgreSQL alike.
func Now(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
