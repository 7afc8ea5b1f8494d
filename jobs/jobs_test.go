package jobs_test

import (
	"fmt"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// TestPostgresWorkersWakeOnInsert protects the PostgreSQL job engine:
// the workers run on River's pgx driver and a job committed by a request
// wakes them at once, not at the next poll. The poll is set to an hour,
// so the mail arrives only if the insert's notification reaches them.
func TestPostgresWorkersWakeOnInsert(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Mail.PollInterval = config.Duration(time.Hour)
	}})
	if !a.Postgres() {
		t.Skip("PostgreSQL only (SQLite has no notifications and polls); run with PORTAL_TEST_POSTGRES_DSN, as .ci/run does")
	}
	// The workers' first fetch runs at start, before any job exists; the
	// listener subscribes just after Start returns, so a request filed in
	// that instant may be missed until the poll. Filing one a second for
	// up to five seconds rules that out; with polling alone none arrives.
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if i < 5 {
			a.Submit(map[string]any{"type": "access", "email": fmt.Sprintf("wake%d@example.com", i), "full_name": "Wake Up"})
		}
		if n := len(a.Relay.Messages()); n > 0 {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no mail within 15 s with an hour's poll: the workers did not hear of the new jobs\n%s", a.Logs.String())
}
