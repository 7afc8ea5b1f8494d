package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"rightsportal/internal/apptest"
	"rightsportal/internal/smtptest"
)

// buildPortal compiles this command once per test binary.
var buildPortal = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "portal-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "portal")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is the portal running as a real process.
type proc struct {
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	base   string
	exited chan error
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// crashEnv is a config file with short mail timings (the shipped file
// with a few values changed) plus the test environment, mail going to
// the given relay.
func crashEnv(t *testing.T, relay *smtptest.Server) testEnv {
	e := newTestEnv(t)
	raw, err := os.ReadFile(filepath.Join(apptest.RepoRoot(t), "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for old, repl := range map[string]string{
		`poll_interval: "1s"`: `poll_interval: "50ms"`, `max_backoff: "30m"`: `max_backoff: "200ms"`,
		`send_timeout: "60s"`: `send_timeout: "2s"`, `rescue_after: "5m"`: `rescue_after: "4s"`,
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("config.yaml no longer has %s", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(s), 0o600)
	e["PORTAL_CONFIG"] = path
	e["PORTAL_MAIL_SMTP_HOST"] = relay.Host
	e["PORTAL_MAIL_SMTP_PORT"] = strconv.Itoa(relay.Port)
	e["PORTAL_MAIL_SMTP_TLS"] = "none"
	e["PORTAL_BASE_URL"] = "http://" + e["PORTAL_HTTP_ADDR"]
	return e
}

func (e testEnv) start(t *testing.T) *proc {
	t.Helper()
	bin, err := buildPortal()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(bin), logs: &bytes.Buffer{}, base: "http://" + e["PORTAL_HTTP_ADDR"]}
	p.cmd.Env = os.Environ()
	for k, v := range e {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	waitReady(t, p.base, p.exited)
	return p
}

func (p *proc) submit(t *testing.T, i int) (string, bool) {
	body := fmt.Sprintf(`{"type":"erasure","email":"crash%d@example.com","full_name":"Crash %d"}`, i, i)
	resp, err := http.Post(p.base+"/api/v1/requests", "application/json", strings.NewReader(body))
	if err != nil {
		return "", false // the process died mid-request: nothing was promised
	}
	defer resp.Body.Close()
	var out struct{ Reference string }
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Reference, resp.StatusCode == http.StatusAccepted
}

// TestKillNineLosesNoMail: with the relay down, requests are filed and
// the server is killed with SIGKILL while their mail waits (and, in the
// second round, while a send hangs); after a restart every acknowledged
// request's verification mail is delivered, and a mail delivered twice
// keeps its Message-ID.
func TestKillNineLosesNoMail(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	relay.Close()
	e := crashEnv(t, relay)

	p := e.start(t)
	var acked []string
	for i := 0; i < 15; i++ {
		if ref, ok := p.submit(t, i); ok {
			acked = append(acked, ref)
		}
	}
	time.Sleep(300 * time.Millisecond) // let a few delivery attempts fail
	p.kill()

	// Round two: the relay answers but hangs on DATA; kill mid-send.
	relay.Restart()
	relay.SetMode(smtptest.Hang)
	p = e.start(t)
	for i := 15; i < 20; i++ {
		if ref, ok := p.submit(t, i); ok {
			acked = append(acked, ref)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for relay.Tries() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()

	relay.SetMode(smtptest.Accept)
	p = e.start(t)
	if len(acked) != 20 {
		t.Fatalf("only %d of 20 submissions were acknowledged", len(acked))
	}
	relay.Wait(len(acked), 60*time.Second)
	byRef := map[string]map[string]bool{}
	for _, m := range relay.Messages() {
		mail := apptest.ParseMail(t, m.Data)
		for _, ref := range acked {
			if strings.Contains(mail.Subject(), ref) {
				if byRef[ref] == nil {
					byRef[ref] = map[string]bool{}
				}
				byRef[ref][mail.Header.Get("Message-ID")] = true
			}
		}
	}
	for _, ref := range acked {
		switch n := len(byRef[ref]); {
		case n == 0:
			t.Errorf("request %s: verification mail lost", ref)
		case n > 1:
			t.Errorf("request %s: %d different Message-IDs; a duplicate must keep its Message-ID", ref, n)
		}
	}
	if t.Failed() {
		t.Logf("portal log:\n%s", p.logs.String())
	}
}

// TestSigtermDrains: SIGTERM stops the process cleanly (exit 0) and mail
// queued before it is delivered after the next start.
func TestSigtermDrains(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	e := crashEnv(t, relay)
	p := e.start(t)
	ref, ok := p.submit(t, 1)
	if !ok {
		t.Fatal("submit failed")
	}
	relay.Wait(1, 20*time.Second)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	msgs := relay.Messages()
	if len(msgs) != 1 || !strings.Contains(apptest.ParseMail(t, msgs[0].Data).Subject(), ref) {
		t.Fatalf("want the one verification mail, got %d", len(msgs))
	}
	if !strings.Contains(p.logs.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", p.logs)
	}
}
