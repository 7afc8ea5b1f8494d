package handlers_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3"

	"rightsportal/config"
	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
	"rightsportal/models"
)

// The failure tests of issue 6: the database busy or full, fifty staff
// acting on one request at once, and a relay that refuses a mail for
// good. Each fails if data is lost or half written. Helpers carry an fl
// prefix so that they do not collide with the other handler tests.

// flDB opens the app's SQLite file beside the app (another connection,
// as a second process would).
func flDB(t *testing.T, a *apptest.App, params string) *sql.DB {
	t.Helper()
	path, _, _ := strings.Cut(strings.TrimPrefix(a.Cfg.Database.DSN, "file:"), "?")
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func flCount(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// flTotals counts what requests and their side effects wrote.
func flTotals(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"requests", "tokens", "audit_events", "mails"} {
		out[table] = flCount(t, db, "SELECT COUNT(*) FROM "+table)
	}
	// Only mail jobs: the scheduled work queues jobs of its own.
	out["send_mail jobs"] = flCount(t, db, "SELECT COUNT(*) FROM river_job WHERE kind = 'send_mail'")
	return out
}

// flConsistent checks that nothing is half written: every request has
// its two verification tokens, its submit event and its verification
// mail, every mail has its send job, and the audit chain is intact.
func flConsistent(t *testing.T, a *apptest.App, db *sql.DB) {
	t.Helper()
	for what, q := range map[string]string{
		"requests without two verification tokens": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM tokens k
			WHERE k.request_id = r.id AND k.purpose IN ('verify_link', 'verify_reply')) <> 2`,
		"requests without exactly one submit event": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM audit_events e
			WHERE e.request_id = r.id AND e.action = 'submit') <> 1`,
		"requests without exactly one verification mail": `SELECT COUNT(*) FROM requests r WHERE (SELECT COUNT(*) FROM mails m
			WHERE m.request_id = r.id AND m.kind = 'verification') <> 1`,
		"tokens without their request": `SELECT COUNT(*) FROM tokens k WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = k.request_id)`,
		"events without their request": `SELECT COUNT(*) FROM audit_events e WHERE e.request_id <> '' AND
			NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = e.request_id)`,
		"mails without their request": `SELECT COUNT(*) FROM mails m WHERE m.request_id IS NOT NULL AND
			NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = m.request_id)`,
		"mails without a send job": `SELECT COUNT(*) FROM mails m WHERE NOT EXISTS (SELECT 1 FROM river_job j
			WHERE j.kind = 'send_mail' AND json_extract(j.args, '$.mail_id') = m.id)`,
	} {
		if n := flCount(t, db, q); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	if rep, err := a.Store.VerifyChain(context.Background()); err != nil || rep.BrokenAt != 0 {
		t.Errorf("audit chain: %+v %v", rep, err)
	}
}

// flSQLiteOnly skips a test whose fault is SQLite's own (a file lock, a
// page limit) when the suite runs on PostgreSQL.
func flSQLiteOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("PORTAL_TEST_POSTGRES_DSN") != "" {
		t.Skip("simulates a SQLite fault (file lock, page limit); PostgreSQL's lock and disk-full behaviour is not simulated here")
	}
}

// flWant503 asserts the busy answer: 503, Retry-After, SPEC §7's error
// shape with code "unavailable", and no internal text.
func flWant503(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: %d, want 503: %s", what, resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: content type %q", what, resp.Header.Get("Content-Type"))
	}
	var m struct {
		Error struct {
			Code, Message string
		}
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Error.Code != "unavailable" || m.Error.Message == "" {
		t.Errorf("%s: not SPEC §7's error with code unavailable: %s", what, body)
	}
	low := strings.ToLower(string(body))
	for _, leak := range []string{"locked", "sqlite", "disk is full", "gorm", "sql"} {
		if strings.Contains(low, leak) {
			t.Errorf("%s: the answer leaks %q: %s", what, leak, body)
		}
	}
}

// flSetWriterPragma sets a pragma on the app's writer connection. The
// writer pool holds exactly one connection that lives as long as the
// store, so the setting holds for every write the app makes until it is
// set back.
func flSetWriterPragma(t *testing.T, a *apptest.App, pragma string) {
	t.Helper()
	if _, err := a.Store.WriterDB().Exec("PRAGMA " + pragma); err != nil {
		t.Fatalf("PRAGMA %s: %v", pragma, err)
	}
}

var flSeq struct {
	sync.Mutex
	n int
}

func flEmail(prefix string) string {
	flSeq.Lock()
	defer flSeq.Unlock()
	flSeq.n++
	return fmt.Sprintf("%s-%d@example.com", prefix, flSeq.n)
}

func flSubmitBody(email string) map[string]any {
	return map[string]any{"type": "access", "email": email, "full_name": "Failure Test", "jurisdiction": "gdpr"}
}

// flVerifyToken is the token of the verification link mailed to email.
func flVerifyToken(a *apptest.App, email string) string {
	a.T.Helper()
	return apptest.TokenFromLink(a.T, a.MailWithSubject(email, "Please confirm").Link(a.T, "/verify?token="))
}

// flVerified files an access or erasure request and confirms it.
func flVerified(t *testing.T, a *apptest.App, typ string) (id, email string) {
	t.Helper()
	email = flEmail("fl-" + typ)
	body := flSubmitBody(email)
	body["type"] = typ
	id, _ = a.Submit(body)
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": flVerifyToken(a, email)}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	return id, email
}

// flAct posts a staff action through the API.
func flAct(a *apptest.App, token, id string, body map[string]any) (int, map[string]any) {
	a.T.Helper()
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, m
}

func flVersion(t *testing.T, a *apptest.App, id string) int {
	t.Helper()
	r, err := a.Store.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Version
}

// TestFailureDatabaseBusy holds SQLite's write lock from a second
// connection, as another process (the CLI, a maintenance script) may: a
// submission, a verification, a staff action and the public form each
// get a clear 503 with Retry-After, nothing of them is written, the
// verification token is not spent, and once the lock is released the same
// calls succeed and everything stored is complete.
//
// The job engine runs throughout: its pollers queue for the same writer
// connection and each holds it for the busy timeout while the lock is
// taken, which is what made requests wait minutes before models bounded
// a write's wait. The app's busy timeout is set through the DSN, as an
// operator may, to 300 ms so the test takes seconds, not minutes; each
// refused call must answer within a few busy timeouts.
func TestFailureDatabaseBusy(t *testing.T) {
	flSQLiteOnly(t)
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Database.DSN = "file:" + c.Database.DSN + "?_busy_timeout=300"
	}})
	staff := a.StaffToken("busy-reviewer@example.org", "reviewer")
	id, _ := flVerified(t, a, "access")
	pendingEmail := flEmail("fl-busy-pending")
	a.Submit(flSubmitBody(pendingEmail))
	pendingToken := flVerifyToken(a, pendingEmail)
	// Let the workers finish the mail of the setup, so that the totals
	// below only move for what the test does.
	db := flDB(t, a, "")
	deadline := time.Now().Add(10 * time.Second)
	for flCount(t, db, "SELECT COUNT(*) FROM mails WHERE status = 'queued'") > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := flTotals(t, db)
	version := flVersion(t, a, id)

	locker := flDB(t, a, "&_txlock=immediate")
	hold, err := locker.Begin() // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}

	// Each refused call must answer soon: within a few busy timeouts (the
	// write's bound is a second here), not after the job engine's turns.
	jsonHeader := map[string]string{"Content-Type": "application/json"}
	newEmail := flEmail("fl-busy-new")
	calls := []struct {
		what, path, body string
		header           map[string]string
	}{
		{"submit", "/api/v1/requests", flJSON(flSubmitBody(newEmail)), jsonHeader},
		{"verify", "/api/v1/verify", `{"token":"` + pendingToken + `"}`, jsonHeader},
		{"start_review", "/api/v1/requests/" + id + "/actions", fmt.Sprintf(`{"action":"start_review","version":%d}`, version),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + staff}},
	}
	for _, c := range calls {
		start := time.Now()
		resp, body := a.Do(http.MethodPost, c.path, strings.NewReader(c.body), c.header)
		flWant503(t, c.what, resp, body)
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("%s: the 503 took %s", c.what, took.Round(time.Millisecond))
		}
	}
	form := url.Values{"type": {"access"}, "email": {newEmail}, "full_name": {"Failure Test"}, "jurisdiction": {"gdpr"}}
	start := time.Now()
	resp, page := a.Browser().PostForm("/request", form, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("public form while busy: %d, Retry-After %q, %s; want a 503 page",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("public form: the 503 took %s", took.Round(time.Millisecond))
	}
	if strings.Contains(strings.ToLower(page), "locked") {
		t.Errorf("the busy page leaks the database error:\n%s", page)
	}

	// The worst case, made certain: a job poller waiting out its busy
	// timeout holds the one writer connection for as long as the lock
	// stays taken. A submission must still get its 503 in bounded time.
	conn, err := a.Store.WriterDB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(30*time.Second, func() { conn.Close() })
	start = time.Now()
	resp, body := a.Do(http.MethodPost, "/api/v1/requests", strings.NewReader(flJSON(flSubmitBody(newEmail))), jsonHeader)
	took := time.Since(start)
	release.Stop()
	conn.Close()
	flWant503(t, "submit while the writer connection is taken", resp, body)
	if took > 8*time.Second {
		t.Errorf("submit while the writer connection is taken: the 503 took %s", took.Round(time.Millisecond))
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}

	if after := flTotals(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("rows changed while the database was busy:\nbefore %v\nafter  %v", before, after)
	}
	if v := flVersion(t, a, id); v != version {
		t.Errorf("version %d after a refused action, want %d", v, version)
	}
	flConsistent(t, a, db)

	// Released: the same calls work, and the token was not spent.
	a.Submit(flSubmitBody(newEmail))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": pendingToken}, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("verify after the lock: %d %v; the refused attempt must not spend the token", resp.StatusCode, m)
	}
	if code, m := flAct(a, staff, id, map[string]any{"action": "start_review", "version": version}); code != http.StatusOK {
		t.Errorf("start_review after the lock: %d %v", code, m)
	}
	a.MailWithSubject(newEmail, "Please confirm")
	flConsistent(t, a, db)
}

func flJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestFailureDiskFull fills the database to its limit while requests
// come in: once a write no longer fits, submissions get a clear 503,
// nothing is half written (every stored request has its tokens, its
// submit event, its mail and the mail's send job), and every request that
// got a 202 has its verification mail delivered exactly once when the
// disk has room again.
//
// SQLite reports a full disk and a database at its page limit alike
// (SQLITE_FULL, "database or disk is full") and rolls the transaction
// back the same way; the test lowers max_page_count on the app's writer
// connection to get there without filling a real disk.
func TestFailureDiskFull(t *testing.T) {
	flSQLiteOnly(t)
	a := apptest.New(t, apptest.Options{NoJobs: true})
	db := flDB(t, a, "")
	a.Submit(flSubmitBody(flEmail("fl-full-first")))

	var pages int
	if err := a.Store.WriterDB().QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	flSetWriterPragma(t, a, fmt.Sprintf("max_page_count = %d", pages+2))
	t.Cleanup(func() { a.Store.WriterDB().Exec("PRAGMA max_page_count = 1073741823") })

	accepted := map[string]string{} // address → reference
	full := 0
	long := strings.Repeat("Please include every record about me. ", 100)
	for i := 0; i < 300 && full < 5; i++ {
		email := flEmail("fl-full")
		body := flSubmitBody(email)
		if i%2 == 0 {
			// Long requests fill the pages; short ones then fit their
			// row but not their mail, and fail half way through.
			body["details"] = map[string]any{"description": long}
		}
		resp, b := a.Do(http.MethodPost, "/api/v1/requests", strings.NewReader(flJSON(body)),
			map[string]string{"Content-Type": "application/json"})
		switch resp.StatusCode {
		case http.StatusAccepted:
			var m map[string]string
			json.Unmarshal(b, &m)
			accepted[email] = m["reference"]
		case http.StatusServiceUnavailable:
			flWant503(t, "submit on a full disk", resp, b)
			full++
		default:
			t.Fatalf("submit on a filling disk: %d %s\nlog:\n%s", resp.StatusCode, b, fzTail(a.Logs.String()))
		}
	}
	if full == 0 {
		t.Fatalf("the database never filled up (%d requests accepted)", len(accepted))
	}
	var limit int
	if err := a.Store.WriterDB().QueryRow("PRAGMA max_page_count").Scan(&limit); err != nil || limit != pages+2 {
		t.Fatalf("the writer's page limit is %d (%v), not the %d set: the test filled nothing", limit, err, pages+2)
	}
	logs := a.Logs.String()
	if !strings.Contains(logs, "database or disk is full") {
		t.Errorf("the log does not say why the requests failed")
	}
	t.Logf("failures: %s", flFullAt(logs))
	if !strings.Contains(flFullAt(logs), "after the request row") {
		t.Errorf("no submission failed after its request row was written; the test proves less than it claims")
	}
	if n := flCount(t, db, "SELECT COUNT(*) FROM requests"); n != len(accepted)+1 {
		t.Errorf("%d requests stored, but %d were accepted", n, len(accepted)+1)
	}
	flConsistent(t, a, db)

	// Room again: the next request is taken, and every accepted one's
	// mail goes out once.
	a.Store.WriterDB().Exec("PRAGMA max_page_count = 1073741823")
	last := flEmail("fl-full-last")
	_, ref := a.Submit(flSubmitBody(last))
	accepted[last] = ref
	a.StartJobs()
	a.Relay.Wait(len(accepted)+1, 60*time.Second)
	for email, ref := range accepted {
		n := 0
		for _, m := range a.Relay.Messages() {
			if len(m.To) == 1 && strings.EqualFold(m.To[0], email) && bytes.Contains(m.Data, []byte(ref)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("request %s: %d verification mails delivered, want 1", ref, n)
		}
	}
	flConsistent(t, a, db)
}

// flFullAt says where in the transaction the full disk was met, from the
// logged errors: at the request row, or after it (tokens, audit event,
// mail, mail job).
func flFullAt(logs string) string {
	var at []string
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "database or disk is full") {
			continue
		}
		if strings.Contains(line, "insert request") {
			at = append(at, "at the request row")
		} else {
			at = append(at, "after the request row")
		}
	}
	return strings.Join(at, ", ")
}

// flRace posts every body at once (as nearly as a barrier allows), each
// with its own staff member's token, and returns the status codes in
// order.
func flRace(t *testing.T, a *apptest.App, id string, tokens []string, bodies []map[string]any) []int {
	t.Helper()
	codes := make([]int, len(bodies))
	errs := make([]error, len(bodies))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(bodies)}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			b, _ := json.Marshal(bodies[i])
			req, err := http.NewRequest(http.MethodPost, a.URL("/api/v1/requests/"+url.PathEscape(id)+"/actions"), bytes.NewReader(b))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			<-start
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes
}

// TestFailureFiftyStaffAtOnce: fifty staff members, each with an API
// token, act on the same version of one request at the same moment.
// Exactly one wins (200) and 49 get 409; the request's version moves by
// one, exactly one audit event (the winner's, with the winner's text) and
// only the winner's mail are written, and the audit chain stays valid.
// Three rounds: approve (access), request_info with fifty different
// questions, and the first approval of an erasure, which must not count
// twice.
func TestFailureFiftyStaffAtOnce(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	const n = 50
	ids := make([]string, n)
	tokens := make([]string, n)
	for i := range n {
		// Through the store: fifty argon2 password hashes would only slow
		// the test; API tokens do not use the password.
		st := &models.Staff{ID: uuid.NewString(), Email: fmt.Sprintf("fifty-%02d@example.org", i),
			Name: fmt.Sprintf("Reviewer %02d", i), Role: models.RoleReviewer, PasswordHash: "-"}
		if err := a.Store.CreateStaff(ctx, st); err != nil {
			t.Fatal(err)
		}
		tok, err := a.Svc.CreateAPIToken(ctx, st.Email)
		if err != nil {
			t.Fatal(err)
		}
		ids[i], tokens[i] = st.ID, tok
	}

	for _, round := range []struct {
		name, typ, action string
		wantStatus        string
		wantMails         int
	}{
		{"approve access", "access", "approve", "approved", 0},
		{"request_info", "access", "request_info", "awaiting_subject", 1},
		{"first approval of an erasure", "erasure", "approve", "in_review", 0},
	} {
		t.Run(round.name, func(t *testing.T) {
			id, _ := flVerified(t, a, round.typ)
			if code, m := flAct(a, tokens[0], id, map[string]any{"action": "start_review", "version": flVersion(t, a, id)}); code != http.StatusOK {
				t.Fatalf("start_review: %d %v", code, m)
			}
			v := flVersion(t, a, id)
			eventsBefore, _ := a.Store.Events(ctx, id)
			mailsBefore, _ := a.Store.MailsFor(ctx, id)
			bodies := make([]map[string]any, n)
			for i := range bodies {
				bodies[i] = map[string]any{"action": round.action, "version": v,
					"message": fmt.Sprintf("Question %02d: which account do you mean?", i)}
			}
			codes := flRace(t, a, id, tokens, bodies)

			winner, conflicts := -1, 0
			for i, c := range codes {
				switch c {
				case http.StatusOK:
					if winner >= 0 {
						t.Fatalf("two winners: %d and %d (codes %v)", winner, i, codes)
					}
					winner = i
				case http.StatusConflict:
					conflicts++
				default:
					t.Fatalf("staff %d got %d (codes %v)", i, c, codes)
				}
			}
			if winner < 0 || conflicts != n-1 {
				t.Fatalf("want one 200 and %d × 409, got %v", n-1, codes)
			}
			r, err := a.Store.Request(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != v+1 || r.Status != round.wantStatus {
				t.Errorf("after the race: version %d status %s, want %d %s", r.Version, r.Status, v+1, round.wantStatus)
			}
			events, _ := a.Store.Events(ctx, id)
			if len(events) != len(eventsBefore)+1 {
				t.Fatalf("%d audit events written, want 1", len(events)-len(eventsBefore))
			}
			last := events[len(events)-1]
			if last.Action != round.action || last.ActorID != ids[winner] {
				t.Errorf("the event is %s by %s, want %s by the winner %s", last.Action, last.ActorID, round.action, ids[winner])
			}
			if round.action == "request_info" && last.Message != bodies[winner]["message"] {
				t.Errorf("the event's message %q is not the winner's %q", last.Message, bodies[winner]["message"])
			}
			if round.action == "approve" && r.Approvals != fmt.Sprintf(`[%q]`, ids[winner]) {
				t.Errorf("approvals %s, want only the winner %s", r.Approvals, ids[winner])
			}
			mails, _ := a.Store.MailsFor(ctx, id)
			if len(mails) != len(mailsBefore)+round.wantMails {
				t.Errorf("%d mails queued, want %d", len(mails)-len(mailsBefore), round.wantMails)
			}
			if round.wantMails == 1 {
				q := bodies[winner]["message"].(string)
				if m := mails[len(mails)-1]; m.Kind != "request_info" || !strings.Contains(m.TextBody, q) {
					t.Errorf("the mail is %s and does not carry the winner's question %q", m.Kind, q)
				}
			}
			if rep, err := a.Store.VerifyChain(ctx); err != nil || rep.BrokenAt != 0 {
				t.Fatalf("audit chain: %+v %v", rep, err)
			}
		})
	}
}

// TestFailureRelayRefusalShownToStaff: the relay refusing a mail for good
// (550), for now (451) or dropping the connection (421) is visible on the
// request's file in the staff workspace, with the relay's answer, so that
// staff can reach the subject another way; a mail refused for now goes
// out once the relay takes it again, and the file then shows it sent,
// while the one refused for good stays failed.
func TestFailureRelayRefusalShownToStaff(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	const password = "correct horse battery staple"
	if _, err := a.Svc.AddStaff(context.Background(), "relay-reviewer@example.org", "Relay Reviewer", "reviewer", password); err != nil {
		t.Fatal(err)
	}
	b := a.Browser()
	b.SignIn("relay-reviewer@example.org", password)

	mailOf := func(id string, done func(*models.Mail) bool) *models.Mail {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ms, err := a.Store.MailsFor(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 1 && done(&ms[0]) {
				return &ms[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("mail of %s: %+v", id, ms)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fileShows := func(id string, want ...string) {
		t.Helper()
		resp, body := b.Get("/staff/requests/" + id)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("file of %s: %d", id, resp.StatusCode)
		}
		text := html.UnescapeString(body)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("the file of %s does not show %q:\n%s", id, w, text[strings.Index(text, `id="mails"`):])
			}
		}
	}

	a.Relay.SetMode(smtptest.PermFail)
	permEmail := flEmail("fl-perm")
	permID, _ := a.Submit(flSubmitBody(permEmail))
	m := mailOf(permID, func(m *models.Mail) bool { return m.Status == models.MailFailed })
	if !strings.Contains(m.LastError, "550") {
		t.Fatalf("last_error %q does not carry the relay's 550", m.LastError)
	}
	fileShows(permID, "verification to "+permEmail+" · failed", "last error: "+m.LastError)

	a.Relay.SetMode(smtptest.TempFail)
	tempEmail := flEmail("fl-temp")
	tempID, _ := a.Submit(flSubmitBody(tempEmail))
	m = mailOf(tempID, func(m *models.Mail) bool { return m.Attempts > 0 })
	if m.Status != models.MailQueued || !strings.Contains(m.LastError, "451") {
		t.Fatalf("after a 451: status %s, last_error %q", m.Status, m.LastError)
	}
	fileShows(tempID, "verification to "+tempEmail+" · queued", "451")

	a.Relay.SetMode(smtptest.Drop)
	dropEmail := flEmail("fl-drop")
	dropID, _ := a.Submit(flSubmitBody(dropEmail))
	m = mailOf(dropID, func(m *models.Mail) bool { return m.Attempts > 0 })
	if m.Status != models.MailQueued || !strings.Contains(m.LastError, "421") {
		t.Fatalf("after the relay dropped the connection: status %s, last_error %q", m.Status, m.LastError)
	}
	fileShows(dropID, "verification to "+dropEmail+" · queued", "421")

	a.Relay.SetMode(smtptest.Accept)
	for _, c := range []struct{ id, email string }{{tempID, tempEmail}, {dropID, dropEmail}} {
		mailOf(c.id, func(m *models.Mail) bool { return m.Status == models.MailSent })
		fileShows(c.id, "verification to "+c.email+" · sent")
		a.MailWithSubject(c.email, "Please confirm")
	}
	if m := mailOf(permID, func(*models.Mail) bool { return true }); m.Status != models.MailFailed {
		t.Errorf("the permanently refused mail became %s", m.Status)
	}
}
