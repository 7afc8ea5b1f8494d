package handlers_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/connectors"
	"rightsportal/internal/apptest"
	"rightsportal/models"
	"rightsportal/service"
)

// The sample organisation (examples/mkorg/organisation.sql and examples/organisation.yaml): Jane is
// the subject, Max must never be touched.
const (
	fulJane     = "jane@example.com"
	fulJaneName = "Jane Doe"
	fulStaffPW  = "correct horse battery staple" // apptest.StaffToken's password
)

// fulHook is the organisation's support desk: a TLS service that checks
// every call's signature with connectors.Verify and refuses a delivery id
// it has seen, as the connector's contract asks of a receiver.
type fulHook struct {
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	now      func() time.Time
	seen     map[string]bool
	calls    []fulCall
	refused  []string // why calls were refused (signature, replay)
	failWith int      // answer this status instead of the work (0: work)
}

// fulCall is one call the service accepted.
type fulCall struct {
	Path     string
	Delivery string
	Right    string
	Email    string
}

func newFulHook(t *testing.T) *fulHook {
	h := &fulHook{now: time.Now, seen: map[string]bool{}}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fulHook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	var call struct {
		Delivery string `json:"delivery"`
		Right    string `json:"right"`
		Subject  struct {
			Email string `json:"email"`
		} `json:"subject"`
	}
	json.Unmarshal(body, &call)
	delivery := r.Header.Get("X-Portal-Delivery")
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := connectors.Verify(h.secret, r.Header, body, h.now(), 5*time.Minute); err != nil {
		h.refused = append(h.refused, "signature: "+err.Error())
		http.Error(w, "signature refused", http.StatusUnauthorized)
		return
	}
	if delivery == "" || call.Delivery != delivery || h.seen[delivery] {
		h.refused = append(h.refused, "replay: "+delivery)
		http.Error(w, "delivery seen before", http.StatusConflict)
		return
	}
	h.seen[delivery] = true
	if h.failWith != 0 {
		http.Error(w, "support desk is down", h.failWith)
		return
	}
	h.calls = append(h.calls, fulCall{Path: r.URL.Path, Delivery: delivery, Right: call.Right, Email: call.Subject.Email})
	w.Header().Set("Content-Type", "application/json")
	if call.Right == "access" || call.Right == "portability" {
		json.NewEncoder(w).Encode(map[string]any{"status": "done", "rows": []map[string]any{
			{"ticket": "T-1001", "email": call.Subject.Email, "subject": "Teapot arrived broken"},
			{"ticket": "T-1002", "email": call.Subject.Email, "subject": "Thanks for the new one"},
		}})
		return
	}
	fmt.Fprint(w, `{"status":"done","records":1}`)
}

func (h *fulHook) set(f func(h *fulHook)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *fulHook) accepted() []fulCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func (h *fulHook) refusals() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.refused)
}

// fulApp starts a portal whose inventory is the sample organisation's,
// over a fresh copy of its database; change adjusts the configuration.
func fulApp(t *testing.T, hook *fulHook, change func(c *config.Config)) (*apptest.App, *sql.DB) {
	t.Helper()
	dsn := apptest.OrgFixture(t, t.TempDir())
	a := apptest.New(t, apptest.Options{HTTPClient: hook.srv.Client(), Config: func(c *config.Config) {
		c.Systems = apptest.OrgSystems(t, dsn, hook.srv.URL+"/support")
		c.Fulfilment.MaxUploadBytes = 4096
		if change != nil {
			change(c)
		}
	}})
	hook.set(func(h *fulHook) {
		h.now = a.Clock.Now
		h.secret = a.Cfg.System("support").Connector.Webhook.Secret
	})
	return a, apptest.OrgDB(t, dsn)
}

// fulBrowser signs a staff member in (created by a.StaffToken).
func fulBrowser(a *apptest.App, email string) *apptest.Browser {
	a.T.Helper()
	b := a.Browser()
	b.SignIn(email, fulStaffPW)
	return b
}

// fulVerified files Jane's request of type typ and confirms it by link.
func fulVerified(a *apptest.App, typ string, details map[string]any) string {
	a.T.Helper()
	body := map[string]any{"type": typ, "email": fulJane, "full_name": fulJaneName, "jurisdiction": "gdpr"}
	if details != nil {
		body["details"] = details
	}
	before := fulCountMails(a, fulJane, "Please confirm")
	id, _ := a.Submit(body)
	tok := apptest.TokenFromLink(a.T, fulMailN(a, fulJane, "Please confirm", before+1).Link(a.T, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		a.T.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
	return id
}

// fulTaskV is a task as the staff API shows it.
type fulTaskV struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	System   string `json:"system"`
	Title    string `json:"title"`
	State    string `json:"state"`
	Output   string `json:"output"`
	Error    string `json:"error"`
	Evidence string `json:"evidence"`
	Value    string `json:"value"`
	Attempts int    `json:"attempts"`
}

// fulReq is a request as the staff API shows it.
type fulReq struct {
	Status  string     `json:"status"`
	Version int        `json:"version"`
	Tasks   []fulTaskV `json:"tasks"`
	Events  []struct {
		Action  string `json:"action"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"events"`
	Package *struct {
		BuiltAt        time.Time  `json:"built_at"`
		ReleasedAt     *time.Time `json:"released_at"`
		Downloads      int        `json:"downloads"`
		LastDownloadAt *time.Time `json:"last_download_at"`
	} `json:"package"`
}

func fulGet(a *apptest.App, token, id string) fulReq {
	a.T.Helper()
	resp, b := a.Do(http.MethodGet, "/api/v1/requests/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		a.T.Fatalf("GET request: %d %s", resp.StatusCode, b)
	}
	var r fulReq
	if err := json.Unmarshal(b, &r); err != nil {
		a.T.Fatal(err)
	}
	return r
}

// fulTry takes a staff action on the current version.
func fulTry(a *apptest.App, token, id, action string, extra map[string]any) (int, map[string]any) {
	a.T.Helper()
	body := map[string]any{"action": action, "version": fulGet(a, token, id).Version}
	for k, v := range extra {
		body[k] = v
	}
	resp, m := a.PostJSON("/api/v1/requests/"+id+"/actions", body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, m
}

func fulAct(a *apptest.App, token, id, action string, extra map[string]any) {
	a.T.Helper()
	if code, m := fulTry(a, token, id, action, extra); code != http.StatusOK {
		a.T.Fatalf("%s: %d %v", action, code, m)
	}
}

// fulApprove takes a request from verified to approved by one staff
// member.
func fulApprove(a *apptest.App, token, id string) {
	a.T.Helper()
	fulAct(a, token, id, "start_review", nil)
	fulAct(a, token, id, "approve", nil)
}

// fulWait polls the request until cond holds for its tasks (they run as
// jobs).
func fulWait(a *apptest.App, token, id, what string, cond func(tasks []fulTaskV) bool) fulReq {
	a.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := fulGet(a, token, id)
		if cond(r.Tasks) {
			return r
		}
		if time.Now().After(deadline) {
			a.T.Fatalf("waiting for %s; tasks:\n%+v\nlogs:\n%s", what, r.Tasks, a.Logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// fulTask finds the task of a system by kind ("" matches any kind).
func fulTask(tasks []fulTaskV, kind, system string) fulTaskV {
	for _, t := range tasks {
		if (kind == "" || t.Kind == kind) && t.System == system {
			return t
		}
	}
	return fulTaskV{}
}

// fulStates says whether each named system's first task is in state.
func fulStates(state string, systems ...string) func([]fulTaskV) bool {
	return func(tasks []fulTaskV) bool {
		for _, s := range systems {
			if fulTask(tasks, "", s).State != state {
				return false
			}
		}
		return true
	}
}

// fulTaskForm posts a step on a task from the file.
func fulTaskForm(t *testing.T, b *apptest.Browser, id string, task int64, form url.Values, status int) string {
	t.Helper()
	resp, body := b.PostForm(fmt.Sprintf("/staff/requests/%s/tasks/%d", id, task), form, nil)
	if resp.StatusCode != status {
		t.Fatalf("task %d %v: got %d, want %d\n%s", task, form, resp.StatusCode, status, body)
	}
	return html.UnescapeString(body)
}

// fulTaskAPI posts a step on a task through the staff API.
func fulTaskAPI(a *apptest.App, token, id string, task int64, body map[string]any) (int, map[string]any) {
	a.T.Helper()
	resp, m := a.PostJSON(fmt.Sprintf("/api/v1/requests/%s/tasks/%d", id, task), body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, m
}

func fulPage(t *testing.T, b *apptest.Browser, path string) string {
	t.Helper()
	resp, body := b.Get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	return html.UnescapeString(body)
}

// fulMails lists the mails the relay took for addr whose subject holds
// substr, in arrival order.
func fulMails(a *apptest.App, addr, substr string) []*apptest.Mail {
	var out []*apptest.Mail
	for _, msg := range a.Relay.Messages() {
		for _, to := range msg.To {
			if strings.EqualFold(to, addr) {
				if m := apptest.ParseMail(a.T, msg.Data); strings.Contains(m.Subject(), substr) {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

func fulCountMails(a *apptest.App, addr, substr string) int { return len(fulMails(a, addr, substr)) }

// fulMailN waits for the n-th such mail.
func fulMailN(a *apptest.App, addr, substr string, n int) *apptest.Mail {
	a.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := fulMails(a, addr, substr); len(got) >= n {
			return got[n-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.T.Fatalf("no mail #%d to %s with %q; logs:\n%s", n, addr, substr, a.Logs.String())
	return nil
}

// fulStatusToken is the status token of the mail's link.
func fulStatusToken(t *testing.T, m *apptest.Mail) string {
	t.Helper()
	link := m.Link(t, "/status/")
	return link[strings.LastIndex(link, "/status/")+len("/status/"):]
}

// fulSubjectPost posts a form on the status page as the subject's
// browser does.
func fulSubjectPost(a *apptest.App, path string, form url.Values) (*http.Response, []byte) {
	a.T.Helper()
	return a.Do(http.MethodPost, path, strings.NewReader(form.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
		"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin"})
}

var fulCodeRE = regexp.MustCompile(`\b\d{8}\b`)

// fulNewCode asks for a download code and returns the one mailed (the
// n-th code mail to Jane).
func fulNewCode(a *apptest.App, token string, n int) string {
	a.T.Helper()
	resp, body := fulSubjectPost(a, "/status/"+token+"/code", nil)
	if resp.StatusCode != http.StatusSeeOther {
		a.T.Fatalf("ask for a code: %d\n%s", resp.StatusCode, body)
	}
	m := fulMailN(a, fulJane, "Your download code", n)
	code := fulCodeRE.FindString(m.Text)
	if code == "" || !strings.Contains(m.HTML, code) {
		a.T.Fatalf("no 8-digit code in the mail:\n%s", m.Text)
	}
	return code
}

// fulDownload spends code on the status page.
func fulDownload(a *apptest.App, token, code string) (*http.Response, []byte) {
	a.T.Helper()
	return fulSubjectPost(a, "/status/"+token+"/download", url.Values{"code": {code}})
}

// fulZip opens a package.
func fulZip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

// fulJSONRows decodes a package's JSON file, keeping each row's keys in
// order.
func fulJSONRows(t *testing.T, name string, b []byte) (keys [][]string, rows []map[string]any) {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b)
	}
	for _, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		dec.Token()
		var ks []string
		row := map[string]any{}
		for dec.More() {
			tok, _ := dec.Token()
			var v any
			dec.Decode(&v)
			ks = append(ks, tok.(string))
			row[tok.(string)] = v
		}
		keys, rows = append(keys, ks), append(rows, row)
	}
	return keys, rows
}

func fulCSV(t *testing.T, name string, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b)
	}
	return recs
}

// fulOrgRows reads rows of the organisation's database as strings.
func fulOrgRows(t *testing.T, db *sql.DB, query string, args ...any) []map[string]string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			switch v := vals[i].(type) {
			case []byte:
				row[c] = string(v)
			case nil:
				row[c] = ""
			default:
				row[c] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	return out
}

func fulOrgCount(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// fulPortalCount counts in the portal's own database, for what no page
// shows.
func fulPortalCount(t testing.TB, a *apptest.App, query string, args ...any) int {
	t.Helper()
	return a.QueryInt(query, args...)
}

// fulCells renders a JSON row's values as the fixture query does.
func fulCells(row map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range row {
		if v == nil {
			out[k] = ""
			continue
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

func fulHasEvent(r fulReq, action string) bool {
	return slices.ContainsFunc(r.Events, func(e struct {
		Action  string `json:"action"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}) bool {
		return e.Action == action
	})
}

// fulArchiveSystem is a paper archive answered by hand for access requests,
// so that an access request has a manual task too (backups, in the
// sample, takes no part in access).
func fulArchiveSystem() config.System {
	return config.System{Code: "archive", Name: "Paper archive", Purposes: []string{"keeping signed contracts"},
		Categories: []string{"signed contracts"}, LegalBasis: "legal obligation (GDPR Art. 6(1)(c))", Retention: "10 years",
		Connector: config.Connector{Kind: config.ConnectorManual, Team: "Records office",
			Instructions: "Scan the subject's paper file and add it.", Rights: []string{"access"}}}
}

// TestFulfilmentAccessPackageAndDownload: manual tasks gate completion; the package holds exactly Jane's rows, once per mailed code, until the window ends.
func TestFulfilmentAccessPackageAndDownload(t *testing.T) {
	hook := newFulHook(t)
	a, org := fulApp(t, hook, func(c *config.Config) { c.Systems = append(c.Systems, fulArchiveSystem()) })
	ann := a.StaffToken("ann@example.org", "admin")
	b := fulBrowser(a, "ann@example.org")
	id := fulVerified(a, "access", nil)
	fulApprove(a, ann, id)

	r := fulWait(a, ann, id, "sql and webhook tasks done", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	var got []string
	for _, tk := range r.Tasks {
		got = append(got, tk.Kind+":"+tk.System)
	}
	// backups serves only erasure, rectification and restriction.
	if want := []string{"sql:newsletter", "sql:shop", "webhook:support", "manual:archive", "package:"}; !slices.Equal(got, want) {
		t.Fatalf("tasks: %v, want %v", got, want)
	}
	archive, pkg := fulTask(r.Tasks, "manual", "archive"), fulTask(r.Tasks, "package", "")
	if archive.State != models.TaskPending || pkg.State != models.TaskPending || pkg.Attempts != 0 {
		t.Fatalf("manual and package tasks should wait: %+v %+v", archive, pkg)
	}
	if c := hook.accepted(); len(c) != 1 || c[0].Right != "access" || c[0].Email != fulJane {
		t.Fatalf("webhook calls: %+v", c)
	}
	code, m := fulTry(a, ann, id, "complete", map[string]any{"message": "Here is your data."})
	if msg := fmt.Sprint(m["error"]); code != http.StatusConflict || !strings.Contains(msg, "2 fulfilment tasks are still open") {
		t.Fatalf("complete with open tasks: %d %v", code, m)
	}

	fulTaskForm(t, b, id, archive.ID, url.Values{"action": {"done"}}, http.StatusUnprocessableEntity)
	fulTaskForm(t, b, id, archive.ID, url.Values{"action": {"done"}, "evidence": {"Paper file scanned: nothing beyond the shop data."}}, http.StatusSeeOther)
	r = fulWait(a, ann, id, "package built", fulStates(models.TaskDone, "archive", ""))
	if r.Package == nil || r.Package.ReleasedAt != nil {
		t.Fatalf("package: %+v", r.Package)
	}
	page := fulPage(t, b, "/staff/requests/"+id)
	if !strings.Contains(page, "Paper file scanned: nothing beyond the shop data.") || !strings.Contains(page, "not yet (on completion)") {
		t.Fatalf("file page lacks the evidence or the package:\n%s", page)
	}
	// Nothing is released before completion, even by a forged form post.
	if resp, body := b.PostForm("/staff/requests/"+id+"/release", url.Values{}, nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("release before completion: %d\n%s", resp.StatusCode, body)
	}
	if r = fulGet(a, ann, id); r.Package.ReleasedAt != nil || fulHasEvent(r, "release_package") {
		t.Fatalf("package released before completion: %+v", r.Package)
	}
	fulAct(a, ann, id, "complete", map[string]any{"message": "Here is your data."})
	done := a.MailWithSubject(fulJane, "is complete")
	if !strings.Contains(done.Text, "Your data is ready to download until") {
		t.Fatalf("completion mail:\n%s", done.Text)
	}
	token := fulStatusToken(t, done)

	// Encrypted at rest: nothing of Jane's is readable in the packages
	// folder.
	files, _ := os.ReadDir(a.Cfg.Fulfilment.PackagesDir)
	if len(files) < 4 { // three exports and the package
		t.Fatalf("packages folder: %v", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(a.Cfg.Fulfilment.PackagesDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, clear := range []string{fulJane, fulJaneName, "Blue teapot", "T-1001", "PK\x03\x04"} {
			if bytes.Contains(raw, []byte(clear)) {
				t.Errorf("%s holds %q in clear", f.Name(), clear)
			}
		}
	}

	code1 := fulNewCode(a, token, 1)
	wrong := fmt.Sprintf("%08d", (fulAtoi(t, code1)+1)%100_000_000)
	if resp, body := fulDownload(a, token, wrong); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "The code is wrong") ||
		!strings.Contains(string(body), `aria-describedby="code-error"`) {
		t.Fatalf("wrong code: %d\n%s", resp.StatusCode, body)
	}
	if n := fulPortalCount(t, a, "SELECT attempts FROM download_codes WHERE request_id = ? AND used_at IS NULL", id); n != 1 {
		t.Fatalf("wrong tries counted: %d", n)
	}
	resp, zipped := fulDownload(a, token, code1)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %s\n%.500s", resp.StatusCode, resp.Header.Get("Content-Type"), zipped)
	}
	fulCheckAccessZip(t, org, fulZip(t, zipped))

	if resp, body := fulDownload(a, token, code1); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("the same code twice: %d\n%.300s", resp.StatusCode, body)
	}
	r = fulGet(a, ann, id)
	if r.Package == nil || r.Package.Downloads != 1 || r.Package.LastDownloadAt == nil || !fulHasEvent(r, "download") {
		t.Fatalf("download not counted or audited: %+v %+v", r.Package, r.Events)
	}

	// Five wrong tries void the live code: the right one then fails too.
	code2 := fulNewCode(a, token, 2)
	for i := range 5 {
		bad := fmt.Sprintf("%08d", (fulAtoi(t, code2)+1+i)%100_000_000)
		if resp, _ := fulDownload(a, token, bad); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong try %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := fulDownload(a, token, code2); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a voided code downloaded: %d", resp.StatusCode)
	}

	// After the download window, no code is sent.
	a.Clock.Advance(8 * 24 * time.Hour)
	codes := fulPortalCount(t, a, "SELECT count(*) FROM mails WHERE request_id = ? AND kind = 'download_code'", id)
	resp, body := fulSubjectPost(a, "/status/"+token+"/code", nil)
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "ended") {
		t.Fatalf("code after the window: %d\n%s", resp.StatusCode, body)
	}
	if n := fulPortalCount(t, a, "SELECT count(*) FROM mails WHERE request_id = ? AND kind = 'download_code'", id); n != codes {
		t.Fatalf("a code mail was queued after the window: %d, was %d", n, codes)
	}
	// Staff open a new window: audited, and a fresh code downloads again.
	b = fulBrowser(a, "ann@example.org") // a week on, signed in anew
	if resp, body := b.PostForm("/staff/requests/"+id+"/release", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("release again: %d\n%s", resp.StatusCode, body)
	}
	if r = fulGet(a, ann, id); !fulHasEvent(r, "release_package") {
		t.Fatalf("new download window not audited: %+v", r.Events)
	}
	if resp, zipped := fulDownload(a, token, fulNewCode(a, token, 3)); resp.StatusCode != http.StatusOK {
		t.Fatalf("download in the new window: %d\n%.300s", resp.StatusCode, zipped)
	}
	if rf := hook.refusals(); len(rf) != 0 {
		t.Fatalf("the service refused calls: %v", rf)
	}
}

func fulAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fulCheckAccessZip compares the package with the fixture: Jane's rows
// from every system, the webhook's rows, the Art. 15 summary.
func fulCheckAccessZip(t *testing.T, org *sql.DB, zf map[string][]byte) {
	t.Helper()
	for _, name := range []string{"README.txt", "summary.html", "newsletter.json", "newsletter.csv", "shop.json", "shop.csv", "support.json", "support.csv"} {
		if _, ok := zf[name]; !ok {
			t.Fatalf("package lacks %s; has %v", name, slices.Sorted(maps.Keys(zf)))
		}
	}
	for name, b := range zf {
		for _, other := range []string{"max@example.com", "Max Mustermann", "Red kettle", "Musterweg"} {
			if bytes.Contains(b, []byte(other)) {
				t.Errorf("%s holds another person's data: %q", name, other)
			}
		}
	}
	fixtures := map[string][]map[string]string{
		"newsletter": fulOrgRows(t, org, "SELECT email, name, newsletter_opt_in, restricted, subscribed_at FROM subscribers WHERE email = ?", fulJane),
		"shop": fulOrgRows(t, org, `SELECT c.email, c.name, c.address, o.item, o.total_cents, o.ordered_at FROM customers c
			LEFT JOIN orders o ON o.customer_email = c.email WHERE c.email = ? ORDER BY o.ordered_at`, fulJane),
	}
	if len(fixtures["newsletter"]) != 1 || len(fixtures["shop"]) != 2 {
		t.Fatalf("fixture: %v", fixtures)
	}
	for sys, want := range fixtures {
		_, rows := fulJSONRows(t, sys+".json", zf[sys+".json"])
		if len(rows) != len(want) {
			t.Fatalf("%s.json: %d rows, want %d", sys, len(rows), len(want))
		}
		for i := range want {
			if got := fulCells(rows[i]); !maps.Equal(got, want[i]) {
				t.Errorf("%s.json row %d: %v, want %v", sys, i, got, want[i])
			}
		}
		recs := fulCSV(t, sys+".csv", zf[sys+".csv"])
		if len(recs) != len(want)+1 || !slices.Contains(recs[0], "email") {
			t.Fatalf("%s.csv: %v", sys, recs)
		}
		for _, rec := range recs[1:] {
			if !slices.Contains(rec, fulJane) {
				t.Errorf("%s.csv row not Jane's: %v", sys, rec)
			}
		}
	}
	_, support := fulJSONRows(t, "support.json", zf["support.json"])
	if len(support) != 2 || support[0]["ticket"] != "T-1001" || support[1]["subject"] != "Thanks for the new one" {
		t.Fatalf("support.json: %s", zf["support.json"])
	}
	sum := html.UnescapeString(string(zf["summary.html"]))
	for _, want := range []string{
		"sending you the newsletter you subscribed to", "consent (GDPR Art. 6(1)(a))", "until you unsubscribe",
		"delivering your orders", "accounting", "10 years for invoices, otherwise 3 years after the last order",
		"answering your questions", "legitimate interest in answering enquiries (GDPR Art. 6(1)(f))", "2 years after the conversation ends",
		"restoring our systems after a failure", "90 days, then overwritten",
		"MailBlast Inc. (newsletter delivery)", "outside the EEA", "EU standard contractual clauses", "ParcelCo (deliveries)",
		"Right to erasure", "right to lodge a complaint", "supervisory authority",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary.html lacks %q", want)
		}
	}
	if !strings.Contains(string(zf["README.txt"]), "summary.html") {
		t.Errorf("README.txt:\n%s", zf["README.txt"])
	}
}

// fulCompletedPortability files, approves and completes a portability
// request whose package is built, and returns its id and status token.
func fulCompletedPortability(t *testing.T, a *apptest.App, ann string) (id, token string) {
	t.Helper()
	id = fulVerified(a, "portability", nil)
	fulApprove(a, ann, id)
	fulWait(a, ann, id, "package built", fulStates(models.TaskDone, "newsletter", "shop", "support", ""))
	fulAct(a, ann, id, "complete", map[string]any{"message": "Your data, to take with you."})
	return id, fulStatusToken(t, a.MailWithSubject(fulJane, "is complete"))
}

// TestFulfilmentPortabilityOnlyProvidedData: a portability package holds only the columns the subject provided.
func TestFulfilmentPortabilityOnlyProvidedData(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, nil)
	ann := a.StaffToken("ann@example.org", "admin")
	_, token := fulCompletedPortability(t, a, ann)
	resp, zipped := fulDownload(a, token, fulNewCode(a, token, 1))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d\n%.500s", resp.StatusCode, zipped)
	}
	zf := fulZip(t, zipped)
	for sys, cols := range map[string][]string{"newsletter": {"email", "name"}, "shop": {"email", "name", "address"}} {
		keys, rows := fulJSONRows(t, sys+".json", zf[sys+".json"])
		if len(rows) != 1 || !slices.Equal(keys[0], cols) || rows[0]["email"] != fulJane || rows[0]["name"] != fulJaneName {
			t.Errorf("%s.json: %s", sys, zf[sys+".json"])
		}
		if recs := fulCSV(t, sys+".csv", zf[sys+".csv"]); len(recs) != 2 || !slices.Equal(recs[0], cols) {
			t.Errorf("%s.csv: %v", sys, recs)
		}
	}
	for name, b := range zf {
		for _, not := range []string{"newsletter_opt_in", "restricted", "subscribed_at", "Blue teapot", "total_cents"} {
			if strings.HasSuffix(name, ".json") && bytes.Contains(b, []byte(not)) {
				t.Errorf("%s holds %q, which the subject did not provide", name, not)
			}
		}
	}
	if !strings.Contains(string(zf["summary.html"]), "Your data, ready to take with you") {
		t.Errorf("summary.html is not the portability one")
	}
}

// TestFulfilmentErasureAcrossSystems: two approvals erase Jane's rows (not Max's) and every recipient is told, visibly to her.
func TestFulfilmentErasureAcrossSystems(t *testing.T) {
	hook := newFulHook(t)
	a, org := fulApp(t, hook, nil)
	ann := a.StaffToken("ann@example.org", "admin")
	bob := a.StaffToken("bob@example.org", "reviewer")
	b := fulBrowser(a, "bob@example.org")
	id := fulVerified(a, "erasure", nil)
	fulApprove(a, ann, id)
	if r := fulGet(a, ann, id); r.Status != "in_review" || len(r.Tasks) != 0 {
		t.Fatalf("one approval of two created work: %s %+v", r.Status, r.Tasks)
	}
	fulAct(a, bob, id, "approve", nil)
	r := fulWait(a, ann, id, "sql and webhook tasks done", fulStates(models.TaskDone, "newsletter", "shop", "support"))

	for table, col := range map[string]string{"subscribers": "email", "customers": "email", "orders": "customer_email"} {
		if n := fulOrgCount(t, org, "SELECT count(*) FROM "+table+" WHERE "+col+" = ?", fulJane); n != 0 {
			t.Errorf("%d of Jane's rows left in %s", n, table)
		}
		if n := fulOrgCount(t, org, "SELECT count(*) FROM "+table+" WHERE "+col+" = 'max@example.com'"); n != 1 {
			t.Errorf("Max's rows in %s: %d, want 1", table, n)
		}
	}
	if c := hook.accepted(); len(c) != 1 || c[0].Right != "erasure" {
		t.Fatalf("webhook calls: %+v", c)
	}
	var backups, mailblast, parcel fulTaskV
	for _, tk := range r.Tasks {
		switch {
		case tk.System == "backups":
			backups = tk
		case strings.Contains(tk.Title, "MailBlast"):
			mailblast = tk
		case strings.Contains(tk.Title, "ParcelCo"):
			parcel = tk
		}
	}
	if backups.Kind != "manual" || mailblast.Kind != "notify" || parcel.Kind != "manual" || parcel.System != "shop" {
		t.Fatalf("tasks: %+v", r.Tasks)
	}
	// Recipients are told only once the systems are done.
	if mailblast.State != models.TaskPending || mailblast.Attempts != 0 {
		t.Fatalf("notice ran before the backups task: %+v", mailblast)
	}
	code, m := fulTaskAPI(a, ann, id, backups.ID, map[string]any{"action": "done", "evidence": "Added to the restore exclusion list, ticket OPS-7."})
	if code != http.StatusOK || m["state"] != models.TaskDone || m["evidence"] != "Added to the restore exclusion list, ticket OPS-7." {
		t.Fatalf("backups done: %d %v", code, m)
	}
	if code, m := fulTaskAPI(a, ann, id, backups.ID, map[string]any{"action": "done", "evidence": "again"}); code != http.StatusConflict {
		t.Fatalf("done twice: %d %v", code, m)
	}
	r = fulWait(a, ann, id, "recipient told by mail", func(ts []fulTaskV) bool {
		return slices.ContainsFunc(ts, func(x fulTaskV) bool { return x.ID == mailblast.ID && x.State == models.TaskDone })
	})
	notice := a.MailWithSubject("privacy@mailblast.example", "please erase")
	if !strings.Contains(notice.Text, fulJane) || !strings.Contains(notice.Text, "MailBlast Inc.") {
		t.Fatalf("recipient notice:\n%s", notice.Text)
	}
	if code, m := fulTry(a, ann, id, "complete", map[string]any{"message": "Erased."}); code != http.StatusConflict {
		t.Fatalf("complete with ParcelCo untold: %d %v", code, m)
	}
	fulTaskForm(t, b, id, parcel.ID, url.Values{"action": {"done"}, "evidence": {"Phoned ParcelCo; they erased the delivery address."}}, http.StatusSeeOther)
	fulAct(a, ann, id, "complete", map[string]any{"message": "We erased your data."})
	token := fulStatusToken(t, a.MailWithSubject(fulJane, "is complete"))
	resp, body := a.Do(http.MethodGet, "/status/"+token, nil, map[string]string{"Accept": "text/html"})
	page := html.UnescapeString(string(body))
	i := strings.Index(page, "Who we told")
	if resp.StatusCode != http.StatusOK || i < 0 || !strings.Contains(page[i:], "MailBlast Inc. (newsletter delivery)") ||
		!strings.Contains(page[i:], "ParcelCo (deliveries)") {
		t.Fatalf("status page does not list the recipients told:\n%s", page)
	}
}

// TestFulfilmentRectificationShowsAndAppliesValue: current values beside the correction; sql tasks wait for the value staff apply.
func TestFulfilmentRectificationShowsAndAppliesValue(t *testing.T) {
	hook := newFulHook(t)
	a, org := fulApp(t, hook, nil)
	ann := a.StaffToken("ann@example.org", "admin")
	b := fulBrowser(a, "ann@example.org")
	id := fulVerified(a, "rectification", map[string]any{"inaccurate": "My surname is wrong.", "correction": "Jane Smith"})
	fulAct(a, ann, id, "start_review", nil)
	page := fulPage(t, b, "/staff/requests/"+id)
	i := strings.Index(page, "Current values in our systems")
	if i < 0 || !strings.Contains(page, "Jane Smith") {
		t.Fatalf("file lacks the current values or the correction:\n%s", page)
	}
	for _, want := range []string{"Newsletter list", "Online shop", fulJaneName, "1 Example Street, Exampletown"} {
		if !strings.Contains(page[i:], want) {
			t.Errorf("current values lack %q", want)
		}
	}
	if strings.Contains(page, "Max Mustermann") {
		t.Error("current values show another person's row")
	}
	fulAct(a, ann, id, "approve", nil)
	r := fulWait(a, ann, id, "webhook done", fulStates(models.TaskDone, "support"))
	news, shop := fulTask(r.Tasks, "sql", "newsletter"), fulTask(r.Tasks, "sql", "shop")
	if news.State != models.TaskPending || news.Attempts != 0 || shop.State != models.TaskPending || shop.Attempts != 0 {
		t.Fatalf("sql tasks ran without a value: %+v %+v", news, shop)
	}
	if !strings.Contains(fulPage(t, b, "/staff/requests/"+id), "Apply correction") {
		t.Fatal("file offers no apply form")
	}
	fulTaskForm(t, b, id, news.ID, url.Values{"action": {"apply"}, "value": {" "}}, http.StatusUnprocessableEntity)
	fulTaskForm(t, b, id, news.ID, url.Values{"action": {"apply"}, "value": {"Jane Smith"}}, http.StatusSeeOther)
	if code, m := fulTaskAPI(a, ann, id, shop.ID, map[string]any{"action": "apply", "value": "Jane Smith"}); code != http.StatusOK {
		t.Fatalf("apply through the API: %d %v", code, m)
	}
	r = fulWait(a, ann, id, "corrections applied", fulStates(models.TaskDone, "newsletter", "shop"))
	for _, sys := range []string{"newsletter", "shop"} {
		tk := fulTask(r.Tasks, "sql", sys)
		if tk.Value != "Jane Smith" || !strings.Contains(tk.Output, `applied "Jane Smith"`) {
			t.Errorf("%s task does not record the value applied: %+v", sys, tk)
		}
	}
	for _, table := range []string{"subscribers", "customers"} {
		rows := fulOrgRows(t, org, "SELECT email, name FROM "+table+" ORDER BY email")
		if len(rows) != 2 || rows[0]["name"] != "Jane Smith" || rows[1]["name"] != "Max Mustermann" {
			t.Errorf("%s after the correction: %v", table, rows)
		}
	}
	if !fulHasEvent(r, "task_apply") {
		t.Fatalf("no task_apply event: %+v", r.Events)
	}
	if code, m := fulTaskAPI(a, ann, id, news.ID, map[string]any{"action": "apply", "value": "Jane Other"}); code != http.StatusConflict {
		t.Fatalf("apply to a finished task: %d %v", code, m)
	}
}

// TestFulfilmentRestrictionObjectionConsent: the flags change in the fixture; an auto-run consent withdrawal runs at verification.
func TestFulfilmentRestrictionObjectionConsent(t *testing.T) {
	hook := newFulHook(t)
	a, org := fulApp(t, hook, func(c *config.Config) {
		c.Fulfilment.AutoRun = []string{"objection_direct_marketing", "consent_withdrawal"}
	})
	ann := a.StaffToken("ann@example.org", "admin")
	flags := func(table, col, email string) string {
		return fulOrgRows(t, org, "SELECT "+col+" AS v FROM "+table+" WHERE email = ?", email)[0]["v"]
	}

	id := fulVerified(a, "consent_withdrawal", map[string]any{"consent": "newsletter"})
	r := fulWait(a, ann, id, "consent tasks done without approval", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	if r.Status != "verified" || len(r.Tasks) != 3 {
		t.Fatalf("auto-run: %s %+v", r.Status, r.Tasks)
	}
	if flags("subscribers", "newsletter_opt_in", fulJane) != "0" || flags("customers", "marketing_opt_in", fulJane) != "1" {
		t.Fatal("only the newsletter consent should be withdrawn")
	}

	id = fulVerified(a, "objection", map[string]any{"grounds": "You keep profiling my purchases."})
	if r := fulGet(a, ann, id); len(r.Tasks) != 0 {
		t.Fatalf("an objection on grounds ran before approval: %+v", r.Tasks)
	}
	fulApprove(a, ann, id)
	fulWait(a, ann, id, "objection applied", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	if flags("customers", "marketing_opt_in", fulJane) != "0" {
		t.Fatal("objection did not stop the marketing")
	}

	id = fulVerified(a, "restriction", map[string]any{"ground": "contested_accuracy"})
	fulApprove(a, ann, id)
	fulWait(a, ann, id, "restriction applied", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	if flags("subscribers", "restricted", fulJane) != "1" || flags("customers", "restricted", fulJane) != "1" {
		t.Fatal("restriction not applied")
	}
	for _, f := range [][2]string{{"subscribers", "newsletter_opt_in"}, {"customers", "marketing_opt_in"}, {"subscribers", "restricted"}, {"customers", "restricted"}} {
		want := "1"
		if f[1] == "restricted" {
			want = "0"
		}
		if got := flags(f[0], f[1], "max@example.com"); got != want {
			t.Errorf("Max's %s.%s changed: %s", f[0], f[1], got)
		}
	}
}

// fulPauseTasks stops the job engine from taking task jobs, so a test can
// run a task by hand; resume lets it go on.
func fulPauseTasks(t *testing.T, a *apptest.App) (resume func()) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := a.Jobs.QueuePause(ctx, models.QueueTasks, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pause the task queue: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The engine polls for work without a listener, so its task producer
	// learns of the pause from its queue settings poll, every 2 s.
	time.Sleep(3 * time.Second)
	return func() {
		if err := a.Jobs.QueueResume(ctx, models.QueueTasks, nil); err != nil {
			t.Fatalf("resume the task queue: %v", err)
		}
	}
}

// fulSettled waits until the job engine has no task job left to run.
func fulSettled(a *apptest.App) {
	a.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for fulPortalCount(a.T, a, "SELECT count(*) FROM river_job WHERE kind = 'run_task' AND state NOT IN ('completed', 'cancelled', 'discarded')") > 0 {
		if time.Now().After(deadline) {
			a.T.Fatalf("task jobs still running; logs:\n%s", a.Logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestFulfilmentRecipientWebhookRetry: a recipient told by webhook (Art.
// 19) gets a fresh delivery id on each attempt, so the retry after its
// 503 is taken, not refused as a replay of the first.
func TestFulfilmentRecipientWebhookRetry(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, func(c *config.Config) {
		secret := c.System("support").Connector.Webhook.Secret
		for i := range c.Systems {
			if c.Systems[i].Code == "newsletter" {
				c.Systems[i].Recipients[0].NotifyMail = ""
				c.Systems[i].Recipients[0].NotifyWebhook = &config.Webhook{URL: hook.srv.URL + "/mailblast", Secret: secret}
			}
		}
	})
	ann := a.StaffToken("ann@example.org", "admin")
	bob := a.StaffToken("bob@example.org", "reviewer")
	id := fulVerified(a, "erasure", nil)
	fulApprove(a, ann, id)
	fulAct(a, bob, id, "approve", nil)
	r := fulWait(a, ann, id, "sql and webhook tasks done", fulStates(models.TaskDone, "newsletter", "shop", "support"))
	resume := fulPauseTasks(t, a)
	defer resume()
	hook.set(func(h *fulHook) { h.failWith = http.StatusServiceUnavailable })
	var backups, notice fulTaskV
	for _, tk := range r.Tasks {
		if tk.System == "backups" {
			backups = tk
		}
		if tk.Kind == "notify" && strings.Contains(tk.Title, "MailBlast") {
			notice = tk
		}
	}
	if notice.ID == 0 {
		t.Fatalf("no webhook notice task: %+v", r.Tasks)
	}
	if code, m := fulTaskAPI(a, ann, id, backups.ID, map[string]any{"action": "done", "evidence": "Excluded from restores."}); code != http.StatusOK {
		t.Fatalf("backups done: %d %v", code, m)
	}
	ctx := context.Background()
	if err := a.Svc.RunTask(ctx, notice.ID, false); err == nil {
		t.Fatal("a 503 from the recipient did not ask for a retry")
	}
	hook.set(func(h *fulHook) { h.failWith = 0 })
	if err := a.Svc.RunTask(ctx, notice.ID, false); err != nil {
		t.Fatalf("retry: %v (refused: %v)", err, hook.refusals())
	}
	if tk := fulTask(fulGet(a, ann, id).Tasks, "notify", "newsletter"); tk.State != models.TaskDone || tk.Attempts != 2 {
		t.Fatalf("notice after the retry: %+v", tk)
	}
	calls := hook.accepted()
	if last := calls[len(calls)-1]; last.Path != "/mailblast" || last.Delivery != fmt.Sprintf("notify-%d-attempt-2", notice.ID) {
		t.Fatalf("recipient calls: %+v", calls)
	}
	if rf := hook.refusals(); len(rf) != 0 {
		t.Fatalf("the recipient refused calls: %v", rf)
	}
}

// TestFulfilmentFailedTaskRetryWaive: 500s leave a task pending then failed; retry and waive; a refused signature fails at once.
func TestFulfilmentFailedTaskRetryWaive(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, func(c *config.Config) {
		strict := config.System{Code: "crm", Name: "CRM", Purposes: []string{"customer care"}, Categories: []string{"contact details"},
			LegalBasis: "contract (GDPR Art. 6(1)(b))", Retention: "3 years",
			Connector: config.Connector{Kind: config.ConnectorWebhook, Webhook: &config.Webhook{
				URL: hook.srv.URL + "/crm", Secret: "not-the-secret-the-service-knows"}}}
		c.Systems = append(c.Systems, strict)
	})
	ann := a.StaffToken("ann@example.org", "admin")
	b := fulBrowser(a, "ann@example.org")
	hook.set(func(h *fulHook) { h.failWith = http.StatusInternalServerError })
	resume := fulPauseTasks(t, a)
	id := fulVerified(a, "objection", map[string]any{"grounds": "I never agreed to this."})
	fulApprove(a, ann, id)
	support := fulTask(fulGet(a, ann, id).Tasks, "webhook", "support")

	ctx := context.Background()
	if err := a.Svc.RunTask(ctx, support.ID, false); err == nil {
		t.Fatal("a 500 answer did not ask for a retry")
	}
	tk := fulTask(fulGet(a, ann, id).Tasks, "webhook", "support")
	if tk.State != models.TaskPending || tk.Attempts != 1 || !strings.Contains(tk.Error, "500") {
		t.Fatalf("after a temporary failure: %+v", tk)
	}
	if err := a.Svc.RunTask(ctx, support.ID, true); err != nil {
		t.Fatalf("last attempt: %v", err)
	}
	tk = fulTask(fulGet(a, ann, id).Tasks, "webhook", "support")
	if tk.State != models.TaskFailed || tk.Attempts != 2 || !strings.Contains(tk.Error, "answered 500") {
		t.Fatalf("after the last attempt: %+v", tk)
	}
	page := fulPage(t, b, "/staff/requests/"+id)
	if !strings.Contains(page, "answered 500") || !strings.Contains(page, `value="retry"`) {
		t.Fatalf("file does not show the error or the retry:\n%s", page)
	}

	hook.set(func(h *fulHook) { h.failWith = 0 })
	resume()
	r := fulWait(a, ann, id, "sql done and crm failed", func(ts []fulTaskV) bool {
		return fulStates(models.TaskDone, "newsletter", "shop")(ts) && fulTask(ts, "", "crm").State == models.TaskFailed
	})
	fulSettled(a)
	r = fulGet(a, ann, id)
	crm := fulTask(r.Tasks, "", "crm")
	if crm.Attempts != 1 || !strings.Contains(crm.Error, "401") {
		t.Fatalf("a refused signature is not a permanent failure at once: %+v", crm)
	}
	if rf := hook.refusals(); len(rf) != 1 || !strings.HasPrefix(rf[0], "signature") {
		t.Fatalf("refusals: %v", rf)
	}
	if fulTask(r.Tasks, "", "support").State != models.TaskFailed {
		t.Fatalf("the job queued at approval overrode the failure: %+v", r.Tasks)
	}
	if code, _ := fulTry(a, ann, id, "complete", map[string]any{"message": "Done."}); code != http.StatusConflict {
		t.Fatalf("complete with failed tasks: %d", code)
	}

	fulTaskForm(t, b, id, support.ID, url.Values{"action": {"retry"}}, http.StatusSeeOther)
	r = fulWait(a, ann, id, "retried task done", fulStates(models.TaskDone, "support"))
	if tk := fulTask(r.Tasks, "", "support"); tk.Error != "" || tk.Attempts != 3 || !fulHasEvent(r, "task_retry") {
		t.Fatalf("after the retry: %+v", tk)
	}
	fulTaskForm(t, b, id, crm.ID, url.Values{"action": {"retry"}, "reason": {"x"}}, http.StatusSeeOther)
	fulWait(a, ann, id, "crm failed again", func(ts []fulTaskV) bool {
		tk := fulTask(ts, "", "crm")
		return tk.State == models.TaskFailed && tk.Attempts == 2
	})
	fulTaskForm(t, b, id, crm.ID, url.Values{"action": {"waive"}}, http.StatusUnprocessableEntity)
	fulTaskForm(t, b, id, crm.ID, url.Values{"action": {"waive"}, "reason": {"The CRM holds no data of this subject."}}, http.StatusSeeOther)
	r = fulGet(a, ann, id)
	if tk := fulTask(r.Tasks, "", "crm"); tk.State != models.TaskWaived || tk.Evidence != "The CRM holds no data of this subject." || !fulHasEvent(r, "task_waived") {
		t.Fatalf("waive: %+v", tk)
	}
	fulAct(a, ann, id, "complete", map[string]any{"message": "We stopped the processing."})
	if rf := hook.refusals(); len(rf) != 2 {
		t.Fatalf("a retry reused a delivery id or the signature passed: %v", rf)
	}
}

// fulUpload adds a file to the package from the file page.
func fulUpload(b *apptest.Browser, id, name string, data []byte) (*http.Response, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(data)
	w.Close()
	return b.Do(http.MethodPost, "/staff/requests/"+id+"/files", &buf, map[string]string{"Content-Type": w.FormDataContentType()})
}

// fulRebuilt waits for the package to be built again after prev (one
// build at a time: each change of the files queues one).
func fulRebuilt(a *apptest.App, token, id string, prev time.Time) time.Time {
	a.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := fulGet(a, token, id)
		if fulTask(r.Tasks, "package", "").State == models.TaskDone && r.Package != nil && r.Package.BuiltAt.After(prev) {
			return r.Package.BuiltAt
		}
		if time.Now().After(deadline) {
			a.T.Fatalf("package not rebuilt after %v: %+v %+v", prev, r.Package, r.Tasks)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var fulRemoveRE = regexp.MustCompile(`/files/(\d+)/remove`)

// TestFulfilmentStaffFilesAndPurge: checked staff files join the package before release only; the purge removes every file.
func TestFulfilmentStaffFilesAndPurge(t *testing.T) {
	hook := newFulHook(t)
	a, _ := fulApp(t, hook, func(c *config.Config) { c.Retention.ClosedRequests = "1 months" })
	ann := a.StaffToken("ann@example.org", "admin")
	b := fulBrowser(a, "ann@example.org")
	id := fulVerified(a, "access", nil)
	fulApprove(a, ann, id)
	r := fulWait(a, ann, id, "package built", fulStates(models.TaskDone, "newsletter", "shop", "support", ""))
	built := r.Package.BuiltAt

	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	resp, body := fulUpload(b, id, "contract.pdf", pdf)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload a PDF: %d\n%s", resp.StatusCode, body)
	}
	built = fulRebuilt(a, ann, id, built)
	resp, body = fulUpload(b, id, "notes.txt", []byte("Internal working notes.\n"))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload a text: %d\n%s", resp.StatusCode, body)
	}
	built = fulRebuilt(a, ann, id, built)
	if resp, body := fulUpload(b, id, "letter.pdf", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("HTML named .pdf: %d\n%s", resp.StatusCode, body)
	}
	big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), int(a.Cfg.Fulfilment.MaxUploadBytes))...)
	if resp, body := fulUpload(b, id, "big.pdf", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("file over the limit: %d\n%s", resp.StatusCode, body)
	}
	page := fulPage(t, b, "/staff/requests/"+id)
	if !strings.Contains(page, fmt.Sprintf("contract.pdf (application/pdf, %d bytes)", len(pdf))) || !strings.Contains(page, "notes.txt") ||
		strings.Contains(page, "letter.pdf") || strings.Contains(page, "big.pdf") {
		t.Fatalf("files listed:\n%s", page)
	}
	ids := fulRemoveRE.FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("remove buttons: %v", ids)
	}
	resp, body = b.PostForm("/staff/requests/"+id+"/files/"+ids[1][1]+"/remove", nil, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove notes.txt: %d\n%s", resp.StatusCode, body)
	}
	fulRebuilt(a, ann, id, built)
	// Both steps are on the timeline, with the file's name and who.
	for action, name := range map[string]string{"add_file": "contract.pdf", "remove_file": "notes.txt"} {
		if n := fulPortalCount(t, a, "SELECT COUNT(*) FROM audit_events WHERE request_id = ? AND action = ? AND reason LIKE ? AND actor_id <> ''",
			id, action, name+"%"); n != 1 {
			t.Errorf("%s of %s audited %d times, want 1", action, name, n)
		}
	}
	fulAct(a, ann, id, "complete", map[string]any{"message": "Your data and your contract."})
	token := fulStatusToken(t, a.MailWithSubject(fulJane, "is complete"))
	resp, zipped := fulDownload(a, token, fulNewCode(a, token, 1))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d\n%.500s", resp.StatusCode, zipped)
	}
	zf := fulZip(t, zipped)
	if !bytes.Equal(zf["files/contract.pdf"], pdf) || zf["files/notes.txt"] != nil {
		t.Fatalf("added files in the package: %v", slices.Sorted(maps.Keys(zf)))
	}

	if resp, body := fulUpload(b, id, "late.pdf", pdf); resp.StatusCode != http.StatusConflict {
		t.Fatalf("upload after release: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.PostForm("/staff/requests/"+id+"/files/"+ids[0][1]+"/remove", nil, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("remove after release: %d\n%s", resp.StatusCode, body)
	}

	dir := a.Cfg.Fulfilment.PackagesDir
	mine := func() []string {
		entries, _ := os.ReadDir(dir)
		var out []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), id) {
				out = append(out, e.Name())
			}
		}
		return out
	}
	if f := mine(); len(f) != 5 { // package, three exports, contract.pdf
		t.Fatalf("files before the purge: %v", f)
	}
	a.Clock.Advance(70 * 24 * time.Hour)
	items, err := a.Svc.PurgeClosed(context.Background(), false)
	if err != nil || !slices.ContainsFunc(items, func(it service.PurgeItem) bool { return it.ID == id }) {
		t.Fatalf("purge: %+v %v", items, err)
	}
	if f := mine(); len(f) != 0 {
		t.Fatalf("files left after the purge: %v", f)
	}
	rep, err := a.Store.VerifyChain(context.Background())
	if err != nil || rep.BrokenAt != 0 {
		t.Fatalf("audit chain after the purge: %+v %v", rep, err)
	}
}
