package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"rightsportal/i18n"
	"rightsportal/models"
	"rightsportal/packages"
	"rightsportal/workflow"
)

// ActionAttach is the audit event of files the subject sent. It is not a
// step of the state machine: the request stays where it is.
const ActionAttach = "attach"

// Where an attachment came from (models.Attachment.Source).
const (
	SourceForm       = "form"
	SourceStatusPage = "status_page"
)

// Attachment refusals, each wrapped in an *AttachmentError that says
// what is wrong in words for the subject.
var (
	ErrAttachmentTooLarge = errors.New("service: the file is too large")
	ErrAttachmentType     = errors.New("service: the file type is not allowed")
	ErrAttachmentEmpty    = errors.New("service: the file is empty")
	ErrTooManyAttachments = errors.New("service: too many files")
	ErrAttachmentsClosed  = errors.New("service: the request takes no files now")
	// ErrAttachmentsOff: this instance has no file store (a
	// configuration without a packages folder or key).
	ErrAttachmentsOff = errors.New("service: no store for attachments is configured")
	// ErrAttachmentStore: the file could not be written on our side (a
	// full disk): a 500, never the subject's fault.
	ErrAttachmentStore = errors.New("service: the attachment could not be stored")
)

// storeWriter marks write errors as ours, apart from errors reading the
// upload, which are the client's.
type storeWriter struct{ w io.Writer }

func (s storeWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrAttachmentStore, err)
	}
	return n, err
}

// AttachmentError is a refused file: Err is one of the sentinels above,
// Msg the sentence shown beside the form's file field.
type AttachmentError struct {
	Err error
	Msg string
}

func (e *AttachmentError) Error() string { return e.Err.Error() + ": " + e.Msg }
func (e *AttachmentError) Unwrap() error { return e.Err }

// attachmentStore keeps attachments encrypted like packages (the same
// sealed-file format, see packages.Store), in a folder and under a key of
// their own, so that a key leaked from one use opens nothing of the other.
func (s *Service) attachmentStore() (packages.Store, error) {
	f := s.ful.Files
	if f.Dir == "" || len(f.Key) != 32 {
		return packages.Store{}, ErrAttachmentsOff
	}
	return packages.Store{Dir: filepath.Join(f.Dir, "attachments"), Key: DeriveKey(f.Key, "attachments")}, nil
}

// storedName is a fresh name for a file on disk: random, so that nothing
// the subject sent (name, type) ever reaches the file system.
func storedName() string {
	var b [16]byte
	rand.Read(b[:])
	return "att-" + hex.EncodeToString(b[:]) + ".bin"
}

// Upload gathers the files of one form post. Each file is checked and
// sealed to disk as it streams in, so nothing is held in memory or
// written in clear; the rows are written later, with the change, and
// Discard removes the files unless that change committed. Use it from
// one goroutine.
type Upload struct {
	s      *Service
	store  packages.Store
	source string
	// room is how many files this upload may take; perUpload tells
	// whether the request's own limit made it smaller.
	room, perUpload int
	files           []*models.Attachment
	// req is the request a status-page upload goes to.
	req   *models.Request
	token string
	kept  bool
	// l says why a file is refused, in the language of the page.
	l *i18n.Localizer
}

// NewFormUpload starts the upload of files sent with a new request; lang
// is the form's language, for the refusals.
func (s *Service) NewFormUpload(lang string) (*Upload, error) {
	st, err := s.attachmentStore()
	if err != nil {
		return nil, err
	}
	a := s.cfg.Attachments
	return &Upload{s: s, store: st, source: SourceForm, room: min(a.MaxFilesPerUpload, a.MaxFilesPerRequest),
		perUpload: a.MaxFilesPerUpload, l: s.loc(lang)}, nil
}

// StartStatusUpload opens the request behind a status link for an
// upload, before any file is read: a closed or purged request, or one
// that holds as many files as it may, is refused at once. lang is the
// page's language, for the refusals.
func (s *Service) StartStatusUpload(ctx context.Context, token, lang string) (*Upload, error) {
	_, req, err := s.statusToken(ctx, token)
	if err != nil {
		return nil, err
	}
	l := s.loc(lang)
	room, err := s.attachRoom(ctx, req, l)
	if err != nil {
		return nil, err
	}
	st, err := s.attachmentStore()
	if err != nil {
		return nil, err
	}
	a := s.cfg.Attachments
	return &Upload{s: s, store: st, source: SourceStatusPage, room: min(room, a.MaxFilesPerUpload),
		perUpload: a.MaxFilesPerUpload, req: req, token: token, l: l}, nil
}

// attachRoom is how many more files req may take, or why it takes none.
func (s *Service) attachRoom(ctx context.Context, req *models.Request, l *i18n.Localizer) (int, error) {
	if req.PurgedAt != nil || workflow.State(req.Status).Closed() {
		return 0, &AttachmentError{ErrAttachmentsClosed, l.T("attach.closed")}
	}
	n, err := s.store.CountAttachments(ctx, req.ID)
	if err != nil {
		return 0, err
	}
	max := s.cfg.Attachments.MaxFilesPerRequest
	if n >= max {
		return 0, &AttachmentError{ErrTooManyAttachments, l.T("attach.request_full", "Max", max)}
	}
	return max - n, nil
}

// Len is the number of files taken so far (0 for no upload at all).
func (u *Upload) Len() int {
	if u == nil {
		return 0
	}
	return len(u.files)
}

// Add checks one file by its content and seals it to disk. The file's
// name is the client's, used only for display; the type is what the
// first bytes say. A refusal is an *AttachmentError; any other error
// (the body ended or was too large for the route) comes from r. Either
// way nothing of the file stays on disk.
func (u *Upload) Add(client string, r io.Reader) error {
	shown := packages.AttachmentName(client, "")
	if len(u.files) >= u.room {
		if u.room < u.perUpload {
			return &AttachmentError{ErrTooManyAttachments, u.l.N("attach.room", u.room)}
		}
		return &AttachmentError{ErrTooManyAttachments, u.l.N("attach.per_upload", u.room)}
	}
	head := make([]byte, packages.SniffHead)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	head = head[:n]
	if n == 0 {
		return &AttachmentError{ErrAttachmentEmpty, u.l.T("attach.empty", "Name", strconv.Quote(shown))}
	}
	ctype, ok := packages.SniffAttachment(head)
	if !ok {
		return &AttachmentError{ErrAttachmentType,
			u.l.T("attach.wrong_type", "Name", strconv.Quote(shown), "Kinds", u.l.T("attach.kinds"))}
	}
	max := u.s.cfg.Attachments.MaxFileBytes
	stored := storedName()
	w, err := u.store.Create(stored)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAttachmentStore, err)
	}
	_, err = io.Copy(storeWriter{w}, io.MultiReader(bytes.NewReader(head), io.LimitReader(r, max+1-int64(n))))
	if err == nil && w.Size() > max {
		err = &AttachmentError{ErrAttachmentTooLarge,
			u.l.T("attach.too_large", "Name", strconv.Quote(shown), "Size", humanBytes(max))}
	}
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrAttachmentStore, err)
	}
	u.files = append(u.files, &models.Attachment{Name: packages.AttachmentName(client, ctype), ContentType: ctype,
		Size: w.Size(), SHA256: w.SHA256(), Stored: stored, Source: u.source})
	return nil
}

// Discard removes the upload's files unless the change that recorded
// them committed. Safe to call more than once, and on nil.
func (u *Upload) Discard() {
	if u == nil || u.kept {
		return
	}
	for _, f := range u.files {
		if err := u.store.Remove(f.Stored); err != nil {
			u.s.log.Warn("attachment file not removed", "file", f.Stored, "err", err)
		}
	}
	u.files = nil
}

// event audits the upload: the names for the subject's timeline, and
// type, size and SHA-256 of each file for staff, so the audit chain pins
// what was received.
func (u *Upload) event(state string) *models.Event {
	names := make([]string, len(u.files))
	lines := make([]string, len(u.files))
	for i, f := range u.files {
		names[i] = f.Name
		lines[i] = fmt.Sprintf("%s (%s, %d bytes, sha256 %s)", f.Name, f.ContentType, f.Size, f.SHA256)
	}
	where := "the request form"
	if u.source == SourceStatusPage {
		where = "the status page"
	}
	return &models.Event{Action: ActionAttach, FromState: state, ToState: state,
		ActorKind: string(workflow.ActorSubject),
		Reason:    clip(fmt.Sprintf("%d file(s) from %s: %s", len(u.files), where, strings.Join(lines, "; ")), 8000),
		Message:   clip(strings.Join(names, ", "), 4000)}
}

// FinishStatusUpload records a status-page upload: the rows and their
// audit event in one transaction, guarded so that a request closed,
// purged or filled meanwhile takes nothing. On success the files stay;
// on any error the caller's Discard removes them.
func (s *Service) FinishStatusUpload(ctx context.Context, u *Upload) (*models.Request, error) {
	if u.Len() == 0 {
		return nil, &AttachmentError{ErrAttachmentEmpty, u.l.T("attach.none_chosen")}
	}
	req := u.req
	max := s.cfg.Attachments.MaxFilesPerRequest
	// A conflict means the request moved on while the files streamed in:
	// look again and decide on what it is now.
	for try := 0; try < 3; try++ {
		room, err := s.attachRoom(ctx, req, u.l)
		if err != nil {
			return nil, err
		}
		if room < u.Len() {
			return nil, &AttachmentError{ErrTooManyAttachments, u.l.N("attach.room", room)}
		}
		now := models.Now(s.now())
		out, err := s.store.Apply(ctx, now, models.Change{RequestID: req.ID, Bookkeeping: true,
			// No decision depends on the files' arrival: the version stays,
			// so a staff member's open form does not turn stale.
			Guard: models.GuardAttachable(req.Status, u.Len(), max), Set: map[string]any{"updated_at": now},
			Attachments: u.files, Event: u.event(req.Status)})
		if err == nil {
			u.kept = true
			return out, nil
		}
		if !errors.Is(err, models.ErrConflict) {
			return nil, err
		}
		if req, err = s.store.Request(ctx, req.ID); err != nil {
			return nil, err
		}
	}
	return nil, models.ErrConflict
}

// into puts a form upload into a submission's change.
func (u *Upload) into(ch *models.Change, state string) {
	if u.Len() == 0 {
		return
	}
	ch.Attachments, ch.AttachEvent = u.files, u.event(state)
}

// keep marks the upload's files as recorded (nil-safe).
func (u *Upload) keep() {
	if u != nil {
		u.kept = true
	}
}

// OpenAttachment decrypts one attachment of a request for staff.
func (s *Service) OpenAttachment(ctx context.Context, requestID string, id int64) (io.ReadCloser, *models.Attachment, error) {
	a, err := s.store.Attachment(ctx, requestID, id)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.attachmentStore()
	if err != nil {
		return nil, nil, err
	}
	r, err := st.Open(a.Stored)
	if err != nil {
		return nil, nil, fmt.Errorf("service: open attachment %d of %s: %w", id, requestID, err)
	}
	return r, a, nil
}

// removeAttachments deletes the files of a purged request's attachments.
func (s *Service) removeAttachments(list []models.Attachment) {
	st, err := s.attachmentStore()
	if err != nil {
		return
	}
	for _, a := range list {
		if err := st.Remove(a.Stored); err != nil {
			s.log.Warn("attachment file not removed", "file", a.Stored, "err", err)
		}
	}
}

// orphanAge is how long a file may sit in the attachments folder without
// its row: far longer than any upload takes between sealing its files
// and committing their rows.
const orphanAge = time.Hour

// removeOrphanAttachments deletes files a crash left behind: a sealed
// file whose transaction never committed, or the temporary file of an
// upload cut off mid-way. Files younger than orphanAge may belong to an
// upload still under way and are left alone.
func (s *Service) removeOrphanAttachments(ctx context.Context) (int, error) {
	st, err := s.attachmentStore()
	if err != nil {
		return 0, nil
	}
	ents, err := os.ReadDir(st.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-orphanAge)
	var old []string
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.ModTime().After(cutoff) {
			continue
		}
		if strings.HasPrefix(e.Name(), ".tmp-att-") {
			os.Remove(filepath.Join(st.Dir, e.Name()))
			continue
		}
		if strings.HasPrefix(e.Name(), "att-") {
			old = append(old, e.Name())
		}
	}
	known, err := s.store.KnownAttachments(ctx, old)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range old {
		if !known[name] && st.Remove(name) == nil {
			n++
		}
	}
	if n > 0 {
		s.log.Info("attachment files without a row removed", "files", n)
	}
	return n, nil
}

// humanBytes writes a limit the way people read it: "8 MB".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// AttachmentLimits describes the limits for the forms' hints, in lang.
func (s *Service) AttachmentLimits(lang string) string {
	a := s.cfg.Attachments
	l := s.loc(lang)
	return l.N("attach.limits", a.MaxFilesPerUpload, "Kinds", l.T("attach.kinds"), "Size", humanBytes(a.MaxFileBytes))
}
