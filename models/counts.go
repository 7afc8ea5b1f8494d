package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// StatusCount is how many requests are in a status, kept up to date in
// the transaction of every change of status. The queue shows counts on
// every page; counting a million rows each time would cost more than the
// rest of the page.
type StatusCount struct {
	Status string `gorm:"primaryKey;size:32"`
	N      int64  `gorm:"not null"`
}

// bumpCount adds delta to a status's count.
func bumpCount(tx *gorm.DB, status string, delta int64) error {
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "status"}},
		DoUpdates: clause.Assignments(map[string]any{"n": gorm.Expr("status_counts.n + excluded.n")}),
	}).Create(&StatusCount{Status: status, N: delta}).Error
	if err != nil {
		return fmt.Errorf("models: count %s: %w", status, err)
	}
	return nil
}

// oldStatus reads a request's status inside tx before a change that sets
// one. The change's version guard makes the read and the write agree: if
// another transaction changed the status in between, the write fails.
func oldStatus(tx *gorm.DB, ch Change) (string, error) {
	if ch.Create != nil || ch.Set["status"] == nil {
		return "", nil
	}
	var st []string
	if err := tx.Model(&Request{}).Where("id = ?", ch.RequestID).Pluck("status", &st).Error; err != nil {
		return "", err
	}
	if len(st) == 0 {
		return "", nil
	}
	return st[0], nil
}

// countChange keeps the counts right after a change was written.
func countChange(tx *gorm.DB, ch Change, old string) error {
	if ch.Create != nil {
		return bumpCount(tx, ch.Create.Status, 1)
	}
	nw, _ := ch.Set["status"].(string)
	if nw == "" || nw == old || old == "" {
		return nil
	}
	if err := bumpCount(tx, old, -1); err != nil {
		return err
	}
	return bumpCount(tx, nw, 1)
}

// recount rebuilds the counts from the requests (on a database written
// before counts were kept, and after `portal seed`).
func recount(tx *gorm.DB) error {
	var rows []StatusCount
	if err := tx.Model(&Request{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return err
	}
	if err := tx.Where("1 = 1").Delete(&StatusCount{}).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.Create(&rows).Error
}

// ensureCounts builds the counts where requests exist but none were kept.
func ensureCounts(tx *gorm.DB) error {
	var kept, requests int64
	if err := tx.Model(&StatusCount{}).Count(&kept).Error; err != nil || kept > 0 {
		return err
	}
	if err := tx.Model(&Request{}).Limit(1).Count(&requests).Error; err != nil || requests == 0 {
		return err
	}
	return recount(tx)
}

// CountByStatus is how many requests are in each status.
func (s *Store) CountByStatus(ctx context.Context) (map[string]int64, error) {
	var rows []StatusCount
	if err := s.r.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("models: count requests: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		if r.N != 0 {
			out[r.Status] = r.N
		}
	}
	return out, nil
}
