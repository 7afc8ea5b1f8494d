package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"rightsportal/workflow"
)

// Attachment is a file the data subject sent with a request: on the
// form, or later from the status page. The file itself is encrypted in
// the attachments folder under Stored, a name the portal made; Name is
// the subject's own name for it, cleaned, for display and downloads
// only. Rows and files are removed when the request is purged.
type Attachment struct {
	ID        int64  `gorm:"primaryKey"`
	RequestID string `gorm:"size:36;not null;index"`
	Name      string `gorm:"size:255;not null"`
	// ContentType is what the content was recognised as, never what the
	// browser claimed.
	ContentType string `gorm:"size:100;not null"`
	Size        int64  `gorm:"not null"`
	SHA256      string `gorm:"size:64;not null"`
	Stored      string `gorm:"size:200;not null;uniqueIndex"`
	// Source is where it came from: "form" or "status_page".
	Source    string    `gorm:"size:16;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// Attachments lists a request's attachments, oldest first.
func (s *Store) Attachments(ctx context.Context, requestID string) ([]Attachment, error) {
	var out []Attachment
	if err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: read attachments of %s: %w", requestID, err)
	}
	return out, nil
}

// Attachment reads one attachment of a request (ErrNotFound: none such
// on that request, so an id from another request opens nothing).
func (s *Store) Attachment(ctx context.Context, requestID string, id int64) (*Attachment, error) {
	var a Attachment
	if err := s.r.WithContext(ctx).Where("id = ? AND request_id = ?", id, requestID).Take(&a).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("attachment %d", id))
	}
	return &a, nil
}

// CountAttachments counts a request's attachments, for the per-request
// limit.
func (s *Store) CountAttachments(ctx context.Context, requestID string) (int, error) {
	var n int64
	if err := s.r.WithContext(ctx).Model(&Attachment{}).Where("request_id = ?", requestID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("models: count attachments of %s: %w", requestID, err)
	}
	return int(n), nil
}

// KnownAttachments tells which of the stored names have a row, for the
// sweep of files a crash left without one.
func (s *Store) KnownAttachments(ctx context.Context, stored []string) (map[string]bool, error) {
	known := map[string]bool{}
	for len(stored) > 0 {
		n := min(len(stored), 500)
		var names []string
		if err := s.r.WithContext(ctx).Model(&Attachment{}).Where("stored IN ?", stored[:n]).Pluck("stored", &names).Error; err != nil {
			return nil, fmt.Errorf("models: read attachment names: %w", err)
		}
		for _, x := range names {
			known[x] = true
		}
		stored = stored[n:]
	}
	return known, nil
}

// GuardAttachable is the guard of a change that adds n attachments to an
// existing request: still in the state the upload was decided on (an
// open one: the caller checks), not purged, and with room for n more files
// under max. It is checked in the transaction that writes them, so that
// a closing, a purge or another upload that commits first wins cleanly
// (ErrConflict) and the caller decides again.
func GuardAttachable(status string, n, max int) string {
	if !workflow.State(status).Valid() {
		return "1 = 0" // never quote anything but a known state into SQL
	}
	return fmt.Sprintf("status = '%s' AND purged_at IS NULL"+
		" AND (SELECT COUNT(*) FROM attachments WHERE attachments.request_id = requests.id) <= %d", status, max-n)
}

// insertAttachments writes the change's attachment rows, and their audit
// event when the change carries one of its own besides, in tx. The files
// were stored before the transaction began; if it fails, the caller
// removes them.
func (s *Store) insertAttachments(tx *gorm.DB, now time.Time, id string, ch Change) error {
	if len(ch.Attachments) == 0 {
		return nil
	}
	for _, a := range ch.Attachments {
		a.RequestID, a.CreatedAt = id, now
	}
	if err := tx.Create(ch.Attachments).Error; err != nil {
		return fmt.Errorf("models: insert attachments: %w", err)
	}
	if ev := ch.AttachEvent; ev != nil {
		ev.RequestID, ev.CreatedAt = id, now
		return s.appendEvent(tx, ev)
	}
	return nil
}
