package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"rightsportal/connectors"
	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/packages"
	"rightsportal/workflow"
)

// packageStore is where encrypted exports, added files and packages live.
type packageStore = packages.Store

func exportName(requestID, system string) string { return requestID + "-" + system + ".export" }
func packageName(requestID string) string        { return requestID + ".zip" }
func addedName(requestID string, id int64) string {
	return fmt.Sprintf("%s-file-%d.bin", requestID, id)
}

// saveExport keeps one system's rows, encrypted, until the package is
// built.
func (s *Service) saveExport(req *models.Request, system string, res connectors.Result) error {
	sys := s.cfg.System(system)
	sec := packages.Section{System: system, Name: system, Columns: res.Columns, Rows: res.Rows}
	if sys != nil {
		sec.Name = sys.Name
	}
	if res.NotFound || len(res.Rows) == 0 {
		sec.Note = "We hold no data about you in this system."
	}
	w, err := s.ful.Files.Create(exportName(req.ID, system))
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(sec); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// buildPackage assembles the download: every system's export, the
// Art. 15(1) summary and the files staff added, as one encrypted ZIP.
func (s *Service) buildPackage(ctx context.Context, req *models.Request) (string, error) {
	// A released package is what the subject was told about: never
	// rebuild it under them (a late rebuild job would also reset its
	// download window).
	if p, err := s.store.PackageOf(ctx, req.ID); err == nil && p.ReleasedAt != nil {
		return "kept: the package was released already", nil
	}
	tasks, err := s.store.Tasks(ctx, req.ID)
	if err != nil {
		return "", err
	}
	var sections []packages.Section
	for _, t := range tasks {
		if t.Kind != models.TaskSQL && t.Kind != models.TaskWebhook || t.State != models.TaskDone {
			continue
		}
		sec, err := s.loadExport(req.ID, t.System)
		if err != nil {
			return "", err
		}
		sections = append(sections, sec)
	}
	files, err := s.store.PackageFiles(ctx, req.ID)
	if err != nil {
		return "", err
	}
	var extra []packages.File
	for _, f := range files {
		name := addedName(req.ID, f.ID)
		extra = append(extra, packages.File{Name: f.Name, ContentType: f.ContentType,
			Open: func() (io.ReadCloser, error) { return s.ful.Files.Open(name) }})
	}
	w, err := s.ful.Files.Create(packageName(req.ID))
	if err != nil {
		return "", err
	}
	if err := packages.Build(w, s.summary(req), sections, extra); err != nil {
		w.Close()
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	p := &models.Package{RequestID: req.ID, File: packageName(req.ID), Size: w.Size(), SHA256: w.SHA256(), BuiltAt: s.now()}
	if err := s.store.SavePackage(ctx, p); err != nil {
		return "", err
	}
	return fmt.Sprintf("built: %d systems, %d added files, %d bytes", len(sections), len(extra), p.Size), nil
}

func (s *Service) loadExport(requestID, system string) (packages.Section, error) {
	var sec packages.Section
	r, err := s.ful.Files.Open(exportName(requestID, system))
	if err != nil {
		return sec, fmt.Errorf("%w: export of %s: %v", connectors.ErrPermanent, system, err)
	}
	defer r.Close()
	err = json.NewDecoder(r).Decode(&sec)
	return sec, err
}

// summary is the inventory as the Art. 15(1) summary needs it.
func (s *Service) summary(req *models.Request) packages.Summary {
	pol := s.policy(req.Jurisdiction)
	sum := packages.Summary{Org: s.cfg.Organisation.Name, OrgContact: s.cfg.Organisation.PrivacyContact,
		Reference: req.Reference, RequestType: req.Type, SubjectName: req.FullName, SubjectEmail: req.Email,
		Generated: models.Now(s.now()), Authority: pol.Authority, Law: pol.Name}
	for _, sys := range s.cfg.Systems {
		info := packages.SystemInfo{Name: sys.Name, LegalBasis: sys.LegalBasis, Retention: sys.Retention,
			Source: sys.Source, AutomatedDecisions: sys.AutomatedDecisions, Purposes: sys.Purposes, Categories: sys.Categories}
		for _, rc := range sys.Recipients {
			info.Recipients = append(info.Recipients, packages.RecipientInfo{Name: rc.Name, OutsideEEA: rc.OutsideEEA, Safeguards: rc.Safeguards})
		}
		sum.Systems = append(sum.Systems, info)
	}
	return sum
}

// AddPackageFile stores a file staff add to a package before release,
// checked by content, encrypted, and rebuilds the package.
func (s *Service) AddPackageFile(ctx context.Context, actor *models.Staff, requestID, name string, r io.Reader) error {
	req, err := s.unreleased(ctx, requestID)
	if err != nil {
		return err
	}
	limit := s.cfg.Fulfilment.MaxUploadBytes
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return &ValidationError{Fields: map[string]string{"file": fmt.Sprintf("is larger than %d bytes", limit)}}
	}
	// The whole file: text and JSON are checked to their end, not only
	// their first bytes.
	ctype, err := packages.CheckUpload(name, data, int64(len(data)))
	if err != nil {
		return &ValidationError{Fields: map[string]string{"file": "is not an allowed type (PDF, text, CSV, JSON, PNG or JPEG whose content matches its name)"}}
	}
	f := &models.PackageFile{RequestID: req.ID, Name: name, ContentType: ctype, Size: int64(len(data)), AddedBy: actor.ID}
	if err := s.store.AddPackageFile(ctx, s.now(), f, s.fileEvent(req, actor, "add_file", name, ctype)); err != nil {
		return err
	}
	w, err := s.ful.Files.Create(addedName(req.ID, f.ID))
	if err == nil {
		_, err = io.Copy(w, bytes.NewReader(data))
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		// The timeline keeps both: the file was added, and taken out again.
		s.store.RemovePackageFile(context.WithoutCancel(ctx), s.now(), req.ID, f.ID, func(*models.PackageFile) *models.Event {
			return s.fileEvent(req, actor, "remove_file", name, "could not be stored")
		})
		return err
	}
	return s.rebuild(ctx, req.ID)
}

// fileEvent is the audit event of a file staff add to or remove from a
// package.
func (s *Service) fileEvent(req *models.Request, actor *models.Staff, action, name, note string) *models.Event {
	return &models.Event{Action: action, FromState: req.Status, ToState: req.Status,
		ActorKind: string(workflow.ActorStaff), ActorID: actor.ID, Reason: clip(name+" ("+note+")", 1000)}
}

// RemovePackageFile takes an added file out before release.
func (s *Service) RemovePackageFile(ctx context.Context, actor *models.Staff, requestID string, id int64) error {
	req, err := s.unreleased(ctx, requestID)
	if err != nil {
		return err
	}
	removed := func(f *models.PackageFile) *models.Event {
		return s.fileEvent(req, actor, "remove_file", f.Name, "removed by staff")
	}
	if _, err := s.store.RemovePackageFile(ctx, s.now(), req.ID, id, removed); err != nil {
		return err
	}
	s.ful.Files.Remove(addedName(req.ID, id))
	return s.rebuild(ctx, req.ID)
}

func (s *Service) unreleased(ctx context.Context, requestID string) (*models.Request, error) {
	req, err := s.store.Request(ctx, requestID)
	if err != nil {
		return nil, err
	}
	t := workflow.RequestType(req.Type)
	if t != workflow.TypeAccess && t != workflow.TypePortability {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Msg: "only access and portability requests have a package"}
	}
	if p, err := s.store.PackageOf(ctx, requestID); err == nil && p.ReleasedAt != nil {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Msg: "the package was released to the subject; it can no longer change"}
	}
	if workflow.State(req.Status).Closed() {
		return nil, &workflow.Error{Kind: workflow.ErrNotAllowed, Msg: "the request is closed"}
	}
	return req, nil
}

// rebuild queues the package task again, if the package was built or is
// due to be.
func (s *Service) rebuild(ctx context.Context, requestID string) error {
	tasks, err := s.store.Tasks(ctx, requestID)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.Kind == models.TaskPackage && t.Attempts > 0 {
			return s.store.StartTasks(ctx, []int64{t.ID})
		}
	}
	return nil
}

// Download errors.
var (
	ErrNoPackage      = errors.New("service: no package is ready for download")
	ErrPackageExpired = errors.New("service: the download has expired")
	ErrCodeWrong      = errors.New("service: the code is wrong or was used")
)

// DownloadCodeTTL is how long a mailed download code works.
const DownloadCodeTTL = 30 * time.Minute

// maxCodeAttempts voids a code after this many wrong tries.
const maxCodeAttempts = 5

// SendDownloadCode mails the subject a fresh one-time code. A code must
// be typed, so a mail scanner that opens links cannot spend it.
func (s *Service) SendDownloadCode(ctx context.Context, statusToken string) error {
	_, req, err := s.statusToken(ctx, statusToken)
	if err != nil {
		return err
	}
	if _, err := s.livePackage(ctx, req); err != nil {
		return err
	}
	code := newCode()
	m, err := s.mail.Compose(mailer.Message{Kind: "download_code", To: req.Email, Lang: req.Language,
		Data:    s.mailData(req, map[string]any{"Code": mailer.NewSecret("code", code).Placeholder, "Minutes": int(DownloadCodeTTL.Minutes())}),
		Secrets: []mailer.Secret{mailer.NewSecret("code", code)}})
	if err != nil {
		return err
	}
	now := s.now()
	return s.store.CreateDownloadCode(ctx, now, &models.DownloadCode{RequestID: req.ID, Hash: HashToken(req.ID + ":" + code),
		ExpiresAt: now.Add(DownloadCodeTTL)}, m)
}

// newCode is 8 digits: easy to type, and with 5 tries per code and codes
// rate-limited, out of reach of guessing.
func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("%08d", n.Int64())
}

func (s *Service) livePackage(ctx context.Context, req *models.Request) (*models.Package, error) {
	p, err := s.store.PackageOf(ctx, req.ID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && p.ReleasedAt == nil) {
		return nil, ErrNoPackage
	}
	if err != nil {
		return nil, err
	}
	if p.ExpiresAt == nil || !s.now().Before(*p.ExpiresAt) {
		return nil, ErrPackageExpired
	}
	return p, nil
}

// Download spends a code and opens the package, auditing the download.
func (s *Service) Download(ctx context.Context, statusToken, code string) (io.ReadCloser, *models.Package, *models.Request, error) {
	_, req, err := s.statusToken(ctx, statusToken)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := s.livePackage(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	ev := &models.Event{Action: "download", FromState: req.Status, ToState: req.Status,
		ActorKind: string(workflow.ActorSubject), Reason: "package downloaded"}
	err = s.store.SpendDownloadCode(ctx, req.ID, HashToken(req.ID+":"+code), s.now(), maxCodeAttempts, ev)
	if errors.Is(err, models.ErrCodeWrong) {
		return nil, nil, nil, ErrCodeWrong
	}
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := s.ful.Files.Open(p.File)
	return r, p, req, err
}

// ReleaseAgain gives the subject another download window, for a package
// that completion released already (the first window lapsed, the code
// mail was lost). Before completion nothing is released: the answer goes
// out with `complete`, after every task is done or waived. Audited.
func (s *Service) ReleaseAgain(ctx context.Context, actor *models.Staff, requestID string) error {
	req, err := s.store.Request(ctx, requestID)
	if err != nil {
		return err
	}
	p, err := s.store.PackageOf(ctx, requestID)
	if err != nil {
		return err
	}
	st := workflow.State(req.Status)
	if st != workflow.StateCompleted || p.ReleasedAt == nil {
		return &workflow.Error{Kind: workflow.ErrNotAllowed, Action: "release_package", State: st,
			Msg: "the package can be released again only after the request was completed"}
	}
	now := models.Now(s.now())
	until := models.Now(now.Add(s.cfg.Fulfilment.DownloadFor.D()))
	// Guarded on the state, so a purge in between wins cleanly.
	ch := models.Change{RequestID: req.ID, Bookkeeping: true, Guard: "status = 'completed'",
		Set: map[string]any{"updated_at": now}, ReleasePackageUntil: &until,
		Event: &models.Event{Action: "release_package", FromState: req.Status, ToState: req.Status,
			ActorKind: string(workflow.ActorStaff), ActorID: actor.ID,
			Reason: "download window reopened until " + s.formatDate(i18n.Source, until)}}
	_, err = s.store.Apply(ctx, now, ch)
	return err
}

// removeFiles deletes every file of a purged request.
func (s *Service) removeFiles(ctx context.Context, requestID string, tasks []models.Task, files []models.PackageFile) {
	if s.ful.Files.Dir == "" {
		return
	}
	s.ful.Files.Remove(packageName(requestID))
	for _, t := range tasks {
		s.ful.Files.Remove(exportName(requestID, t.System))
	}
	for _, f := range files {
		s.ful.Files.Remove(addedName(requestID, f.ID))
	}
}
