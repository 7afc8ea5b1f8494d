package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Package is the download a completed access or portability request
// delivers: a ZIP, encrypted at rest under the packages folder.
type Package struct {
	RequestID string `gorm:"primaryKey;size:36"`
	// File is the encrypted file's name inside the packages folder.
	File    string `gorm:"not null"`
	Size    int64  `gorm:"not null"`
	SHA256  string `gorm:"size:64;not null"`
	BuiltAt time.Time
	// ReleasedAt is set when the request completes; the subject may
	// download until ExpiresAt.
	ReleasedAt     *time.Time
	ExpiresAt      *time.Time
	Downloads      int `gorm:"not null;default:0"`
	LastDownloadAt *time.Time
}

// PackageFile is a file staff add to a package before release.
type PackageFile struct {
	ID          int64  `gorm:"primaryKey"`
	RequestID   string `gorm:"size:36;not null;index"`
	Name        string `gorm:"not null"`
	ContentType string `gorm:"size:100;not null"`
	Size        int64  `gorm:"not null"`
	// Stored is the encrypted file's name inside the packages folder.
	Stored    string `gorm:"not null"`
	AddedBy   string `gorm:"size:36;not null"`
	CreatedAt time.Time
}

// DownloadCode is a one-time code mailed to the subject; typing it on the
// status page downloads the package once. Only its hash is kept.
type DownloadCode struct {
	ID        int64     `gorm:"primaryKey"`
	RequestID string    `gorm:"size:36;not null;index"`
	Hash      string    `gorm:"size:64;not null;uniqueIndex"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
	// Attempts counts wrong codes typed against this request while the
	// code was live; too many void it.
	Attempts  int `gorm:"not null;default:0"`
	CreatedAt time.Time
}

// PackageOf reads a request's package (ErrNotFound: none built).
func (s *Store) PackageOf(ctx context.Context, requestID string) (*Package, error) {
	var p Package
	if err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Take(&p).Error; err != nil {
		return nil, notFound(err, "package of "+requestID)
	}
	return &p, nil
}

// SavePackage records a (re)built package.
func (s *Store) SavePackage(ctx context.Context, p *Package) error {
	p.BuiltAt = Now(p.BuiltAt)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("request_id = ?", p.RequestID).Delete(&Package{}).Error; err != nil {
			return err
		}
		return tx.Create(p).Error
	})
}

// PackageFiles lists the files staff added to a request's package.
func (s *Store) PackageFiles(ctx context.Context, requestID string) ([]PackageFile, error) {
	var out []PackageFile
	err := s.r.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&out).Error
	return out, err
}

// AddPackageFile records an added file and its audit event together.
func (s *Store) AddPackageFile(ctx context.Context, now time.Time, f *PackageFile, ev *Event) error {
	f.CreatedAt = Now(now)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(f).Error; err != nil {
			return err
		}
		ev.RequestID, ev.CreatedAt = f.RequestID, Now(now)
		return s.appendEvent(tx, ev)
	})
}

// RemovePackageFile deletes an added file's record, with the audit event
// ev makes of it, and returns it.
func (s *Store) RemovePackageFile(ctx context.Context, now time.Time, requestID string, id int64, ev func(*PackageFile) *Event) (*PackageFile, error) {
	var f PackageFile
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND request_id = ?", id, requestID).Take(&f).Error; err != nil {
			return notFound(err, fmt.Sprintf("file %d", id))
		}
		if err := tx.Delete(&f).Error; err != nil {
			return err
		}
		e := ev(&f)
		e.RequestID, e.CreatedAt = requestID, Now(now)
		return s.appendEvent(tx, e)
	})
	return &f, err
}

// CreateDownloadCode stores a new code's hash; earlier live codes of the
// request stop working.
func (s *Store) CreateDownloadCode(ctx context.Context, now time.Time, c *DownloadCode, mail *Mail) error {
	now = Now(now)
	c.CreatedAt, c.ExpiresAt = now, Now(c.ExpiresAt)
	return s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&DownloadCode{}).Where("request_id = ? AND used_at IS NULL", c.RequestID).
			Update("used_at", now).Error; err != nil {
			return err
		}
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		return s.queueMails(ctx, tx, now, &c.RequestID, []*Mail{mail}, nil)
	})
}

// ErrCodeWrong: the code does not match the request's live code.
var ErrCodeWrong = errors.New("models: wrong or used code")

// SpendDownloadCode checks a code against the request's live code and, if
// it matches, spends it, counts the download and audits it, in one
// transaction. A wrong code counts an attempt; after maxAttempts the live
// code is void.
func (s *Store) SpendDownloadCode(ctx context.Context, requestID, hash string, now time.Time, maxAttempts int, ev *Event) error {
	now = Now(now)
	wrong := false
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var live DownloadCode
		err := tx.Where("request_id = ? AND used_at IS NULL AND expires_at > ?", requestID, now).
			Order("id DESC").Take(&live).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrCodeWrong
		}
		if err != nil {
			return err
		}
		if live.Hash != hash {
			set := map[string]any{"attempts": live.Attempts + 1}
			if live.Attempts+1 >= maxAttempts {
				set["used_at"] = now
			}
			if err := tx.Model(&DownloadCode{}).Where("id = ?", live.ID).Updates(set).Error; err != nil {
				return err
			}
			wrong = true // commit the counted attempt, then refuse
			return nil
		}
		if err := tx.Model(&DownloadCode{}).Where("id = ?", live.ID).Update("used_at", now).Error; err != nil {
			return err
		}
		res := tx.Model(&Package{}).Where("request_id = ?", requestID).Updates(map[string]any{
			"downloads": gorm.Expr("downloads + 1"), "last_download_at": now})
		if res.Error != nil {
			return res.Error
		}
		ev.RequestID, ev.CreatedAt = requestID, now
		return s.appendEvent(tx, ev)
	})
	if err == nil && wrong {
		return ErrCodeWrong
	}
	return err
}
