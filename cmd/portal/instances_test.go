package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
)

// postgresForTest is the base DSN of a PostgreSQL server for tests: the
// one CI exports, or the throwaway server scripts/pgtest.sh starts when
// PostgreSQL is installed here. Several instances only make sense on
// PostgreSQL (SQLite is one machine's file).
func postgresForTest(t *testing.T) string {
	if dsn := os.Getenv("PORTAL_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	out, err := exec.Command("bash", "../../scripts/pgtest.sh").Output()
	if err != nil {
		t.Fatalf("no PostgreSQL for the two-instance test: set PORTAL_TEST_POSTGRES_DSN or install postgresql (scripts/pgtest.sh: %v)", err)
	}
	return strings.TrimSpace(string(out))
}

// TestTwoInstancesOnePostgres runs two portal processes on one PostgreSQL
// database: each mail goes out once although both run workers, the
// periodic work is scheduled once, a session signed in on one instance
// works on the other, and conflicting actions through the two give one
// winner.
func TestTwoInstancesOnePostgres(t *testing.T) {
	dsn := apptest.FreshPostgres(t, postgresForTest(t))
	relay := smtptest.Start(t, smtptest.Options{})
	e1 := crashEnv(t, relay)
	e1["PORTAL_DATABASE_DRIVER"], e1["PORTAL_DATABASE_DSN"] = "postgres", dsn
	e2 := testEnv{}
	for k, v := range e1 {
		e2[k] = v
	}
	e2["PORTAL_HTTP_ADDR"] = "127.0.0.1:" + freePort(t)
	e2["PORTAL_BASE_URL"] = "http://" + e2["PORTAL_HTTP_ADDR"]

	if _, _, err := e1.run(t, "correct horse battery staple\n", "staff", "add", "--email", "a@example.org", "--name", "A", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	e1.run(t, "correct horse battery staple\n", "staff", "add", "--email", "b@example.org", "--name", "B", "--role", "reviewer")
	tokA, _, _ := e1.run(t, "", "token", "create", "--email", "a@example.org")
	tokB, _, _ := e1.run(t, "", "token", "create", "--email", "b@example.org")
	p1, p2 := e1.start(t), e2.start(t)

	// Mail once: 20 requests, half through each instance.
	var refs []string
	for i := 0; i < 20; i++ {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		ref, ok := p.submit(t, i)
		if !ok {
			t.Fatalf("submit %d failed", i)
		}
		refs = append(refs, ref)
	}
	relay.Wait(20, 30*time.Second)
	time.Sleep(2 * time.Second) // a second sender would have sent by now
	seen := map[string]int{}
	for _, m := range relay.Messages() {
		seen[apptest.ParseMail(t, m.Data).Header.Get("Message-ID")]++
	}
	if len(relay.Messages()) != 20 || len(seen) != 20 {
		t.Fatalf("%d mails with %d Message-IDs for 20 requests: each must go out once", len(relay.Messages()), len(seen))
	}

	// Periodic work scheduled once (by the elected leader).
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sweeps int
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		db.QueryRow("SELECT COUNT(*) FROM river_job WHERE kind = 'sweep'").Scan(&sweeps)
		if sweeps > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	db.QueryRow("SELECT COUNT(*) FROM river_job WHERE kind = 'sweep'").Scan(&sweeps)
	if sweeps != 1 {
		t.Fatalf("%d sweep jobs scheduled in the first minute by two instances, want 1", sweeps)
	}
	// ... and the retention purge once, each run by one worker, once.
	deadline = time.Now().Add(20 * time.Second)
	for {
		var done, retention, attempts int
		db.QueryRow(`SELECT COUNT(*) FILTER (WHERE state = 'completed'), COUNT(*) FILTER (WHERE kind = 'retention'),
			COALESCE(MAX(attempt), 0) FROM river_job WHERE kind IN ('sweep', 'retention')`).Scan(&done, &retention, &attempts)
		if retention > 1 || attempts > 1 {
			t.Fatalf("retention jobs %d (want 1), highest attempt %d (want 1)", retention, attempts)
		}
		if done == 2 && retention == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled jobs did not each complete once: %d completed, %d retention", done, retention)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A session from instance 1 works on instance 2.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"email": {"a@example.org"}, "password": {"correct horse battery staple"}, "next": {"/staff"}}
	resp, err := client.PostForm(p1.base+"/staff/login", form)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in on instance 1: %v %v", err, resp)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" {
			cookie = c.Value
		}
	}
	req, _ := http.NewRequest("GET", p2.base+"/staff", nil)
	req.AddCookie(&http.Cookie{Name: "portal_session", Value: cookie})
	resp, err = client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the session from instance 1 does not work on instance 2: %v %v", err, resp)
	}

	// Conflicting actions through the two instances: one winner.
	id := verifyOne(t, p1, relay, refs[0], strings.TrimSpace(tokA))
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i, p := range []*proc{p1, p2} {
		wg.Add(1)
		go func(i int, p *proc, tok string) {
			defer wg.Done()
			codes[i] = staffPost(t, p, tok, "/api/v1/requests/"+id+"/actions",
				fmt.Sprintf(`{"action":"start_review","version":2,"reason":"from instance %d"}`, i+1))
		}(i, p, strings.TrimSpace([]string{tokA, tokB}[i]))
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("conflicting actions on two instances answered %v, want one 200 and one 409", codes)
	}
	out, _, err := e1.run(t, "", "audit", "verify")
	if err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("audit chain after two instances: %v %s", err, out)
	}
}

// verifyOne confirms the request with reference ref by its mailed link
// and returns its id.
func verifyOne(t *testing.T, p *proc, relay *smtptest.Server, ref, tok string) string {
	for _, m := range relay.Messages() {
		mail := apptest.ParseMail(t, m.Data)
		if !strings.Contains(mail.Subject(), ref) {
			continue
		}
		token := apptest.TokenFromLink(t, mail.Link(t, "/verify?token="))
		if c := staffPost(t, p, "", "/api/v1/verify", `{"token":"`+token+`"}`); c != 200 {
			t.Fatalf("verify: %d", c)
		}
		req, _ := http.NewRequest("GET", p.base+"/api/v1/requests?q="+ref, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Items []struct{ ID string } `json:"items"`
		}
		json.NewDecoder(resp.Body).Decode(&list)
		if len(list.Items) != 1 {
			t.Fatalf("request %s not found", ref)
		}
		return list.Items[0].ID
	}
	t.Fatalf("no mail for %s", ref)
	return ""
}

func staffPost(t *testing.T, p *proc, tok, path, body string) int {
	req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
