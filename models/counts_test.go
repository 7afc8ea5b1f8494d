package models_test

import (
	"context"
	"testing"

	"rightsportal/models"
)

// TestStatusCountsFollowChanges: the kept counts per status equal a fresh
// count of the requests after creations, state changes, a refused stale
// change and a purge.
func TestStatusCountsFollowChanges(t *testing.T) {
	c := newAuditChain(t)
	c.build(t) // two requests through verify, start_review, request_info
	a := c.create(t)
	if _, err := c.store.Apply(context.Background(), c.tick(), changeTo(a, 1, "expired")); err != nil {
		t.Fatal(err)
	}
	// A stale change is refused and must not move the counts.
	if _, err := c.store.Apply(context.Background(), c.tick(), changeTo(a, 1, "verified")); err == nil {
		t.Fatal("stale change accepted")
	}
	got, err := c.store.CountByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Status string
		N      int64
	}
	if err := c.db.Raw("SELECT status, COUNT(*) AS n FROM requests GROUP BY status").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, r := range rows {
		want[r.Status] = r.N
	}
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for st, n := range want {
		if got[st] != n {
			t.Fatalf("counts %v, want %v", got, want)
		}
	}
}

func changeTo(id string, version int, status string) models.Change {
	return models.Change{RequestID: id, Version: version, Set: map[string]any{"status": status}}
}
