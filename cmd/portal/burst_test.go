package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
)

// burstAttempt is one submission of the burst and what came of it.
type burstAttempt struct {
	email string
	// status is the HTTP answer; 0 means none came (the process died).
	status int
	ref    string
}

// burstSubmit files one request and records the answer, never failing
// the test from a goroutine.
func burstSubmit(client *http.Client, base string, at *burstAttempt) {
	body := fmt.Sprintf(`{"type":"access","email":%q,"full_name":"Burst Subject"}`, at.email)
	resp, err := client.Post(base+"/api/v1/requests", "application/json", strings.NewReader(body))
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return // cut off mid-answer: no promise was read
	}
	at.status = resp.StatusCode
	if resp.StatusCode == http.StatusAccepted {
		if i := strings.Index(string(b), `"reference":"`); i >= 0 {
			rest := string(b[i+len(`"reference":"`):])
			at.ref = rest[:strings.IndexByte(rest, '"')]
		}
	}
}

// TestBurstKillNineLosesNoRequest fires 200 submissions from 16 clients
// at the real binary and kills it with SIGKILL in the middle of the
// burst, while the relay is taking mail. After a restart every request
// that got a 202 is in the database, complete (its two verification
// tokens, its submit event, its verification mail and the mail's job),
// and its verification mail arrives exactly once, or at worst twice with
// the same Message-ID. Requests that got no answer may or may not exist,
// but any that exists is just as complete; a request refused with an
// answer does not exist; the audit chain is intact.
func TestBurstKillNineLosesNoRequest(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	e := crashEnv(t, relay)
	p := e.start(t)

	const total, clients, killAfter = 200, 16, 70
	attempts := make([]burstAttempt, total)
	for i := range attempts {
		attempts[i].email = fmt.Sprintf("burst-%03d@example.com", i)
	}
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
	var next, acked atomic.Int64
	killNow := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				burstSubmit(client, p.base, &attempts[i])
				if attempts[i].status == http.StatusAccepted && acked.Add(1) == killAfter {
					once.Do(func() { close(killNow) })
				}
			}
		})
	}
	select {
	case <-killNow:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d submissions acknowledged in a minute", acked.Load(), killAfter)
	}
	p.kill()
	wg.Wait()
	client.CloseIdleConnections()

	var ok, refused, silent int
	for _, at := range attempts {
		switch {
		case at.status == http.StatusAccepted:
			ok++
		case at.status != 0:
			refused++
		default:
			silent++
		}
	}
	t.Logf("burst: %d acknowledged, %d refused, %d without an answer when the process died", ok, refused, silent)
	if silent == 0 {
		t.Errorf("every submission was answered: the kill did not land mid-burst")
	}

	// Restart with the relay up and let every queued mail go out.
	p = e.start(t)
	db := e.db(t)
	deadline := time.Now().Add(90 * time.Second)
	for burstCount(t, db, "SELECT COUNT(*) FROM mails WHERE status <> 'sent'") > 0 {
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("%d mails still unsent a minute and a half after the restart\n%s",
				burstCount(t, db, "SELECT COUNT(*) FROM mails WHERE status <> 'sent'"), p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A send the kill interrupted is retried once its job is rescued; give
	// a duplicate the time to arrive before counting.
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exited; err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}

	stored := burstStored(t, db)
	for _, at := range attempts {
		r, exists := stored[at.email]
		switch {
		case at.status == http.StatusAccepted && !exists:
			t.Errorf("%s: acknowledged as %s, but not in the database", at.email, at.ref)
		case at.status == http.StatusAccepted && r.ref != at.ref:
			t.Errorf("%s: acknowledged as %s, stored as %s", at.email, at.ref, r.ref)
		case at.status != http.StatusAccepted && at.status != 0 && exists:
			t.Errorf("%s: refused with %d, but stored as %s", at.email, at.status, r.ref)
		}
	}
	jobArg := "json_extract(j.args, '$.mail_id')"
	if e["PORTAL_DATABASE_DRIVER"] == "postgres" {
		jobArg = "(j.args->>'mail_id')::bigint"
	}
	for what, q := range map[string]string{
		"requests without two verification tokens": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM tokens k
			WHERE k.request_id = r.id AND k.purpose IN ('verify_link', 'verify_reply')) <> 2`,
		"requests without exactly one submit event": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM audit_events e
			WHERE e.request_id = r.id AND e.action = 'submit') <> 1`,
		"requests without exactly one verification mail": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM mails m
			WHERE m.request_id = r.id AND m.kind = 'verification') <> 1`,
		"mails without a send job": `SELECT COUNT(*) FROM mails m WHERE NOT EXISTS (SELECT 1 FROM river_job j
			WHERE j.kind = 'send_mail' AND ` + jobArg + ` = m.id)`,
	} {
		if n := burstCount(t, db, q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}

	// Mail: each stored request's verification mail arrived once, or
	// twice with the Message-ID it was queued with.
	got := map[string][]string{} // reference → Message-IDs received
	for _, m := range relay.Messages() {
		mail := apptest.ParseMail(t, m.Data)
		for _, r := range stored {
			if strings.Contains(mail.Subject(), r.ref) {
				got[r.ref] = append(got[r.ref], mail.Header.Get("Message-ID"))
			}
		}
	}
	dups := 0
	for email, r := range stored {
		ids := got[r.ref]
		switch {
		case len(ids) == 0:
			t.Errorf("%s (%s): verification mail lost", r.ref, email)
		case len(ids) > 2:
			t.Errorf("%s: %d copies of the verification mail", r.ref, len(ids))
		}
		for _, id := range ids {
			if id != "<"+r.messageID+">" {
				t.Errorf("%s: delivered Message-ID %s, queued %s", r.ref, id, r.messageID)
			}
		}
		if len(ids) == 2 {
			dups++
		}
	}
	t.Logf("%d requests stored, %d verification mails delivered twice (same Message-ID)", len(stored), dups)

	if out, _, err := e.run(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify after the kill: %v %q", err, out)
	}
	if t.Failed() {
		t.Logf("portal log after the restart:\n%s", p.logs)
	}
}

// burstRow is a stored request with its verification mail's Message-ID.
type burstRow struct {
	ref, messageID string
}

// burstStored reads every stored request by address.
func burstStored(t *testing.T, db *sql.DB) map[string]burstRow {
	t.Helper()
	rows, err := db.Query(`SELECT r.email, r.reference, COALESCE(m.message_id, '') FROM requests r
		LEFT JOIN mails m ON m.request_id = r.id AND m.kind = 'verification'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]burstRow{}
	for rows.Next() {
		var email string
		var r burstRow
		if err := rows.Scan(&email, &r.ref, &r.messageID); err != nil {
			t.Fatal(err)
		}
		out[email] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func burstCount(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
