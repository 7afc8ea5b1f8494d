package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// attFile is one file part as a client sends it: the name and the
// Content-Type are the client's word, data is what it really is.
type attFile struct {
	name, ctype string
	data        []byte
}

// attPDF is a small PDF carrying marker, so a test can look for its
// plaintext on disk.
func attPDF(marker string) []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% " + strings.Repeat(marker+" ", 20) + "\n%%EOF\n")
}

// attPNG is a real 3×2 PNG.
func attPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// attBody builds a multipart/form-data body as a browser does.
func attBody(t *testing.T, fields map[string]string, files []attFile) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename=%q`, f.name))
		h.Set("Content-Type", f.ctype)
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(f.data)
	}
	w.Close()
	return &b, w.FormDataContentType()
}

// attPost posts a multipart form from the portal's own page (or, with
// accept "application/json", as a script asking for JSON).
func attPost(t *testing.T, a *apptest.App, path string, fields map[string]string, files []attFile, accept string) (*http.Response, string) {
	t.Helper()
	body, ctype := attBody(t, fields, files)
	resp, b := a.Do(http.MethodPost, path, body, map[string]string{"Content-Type": ctype, "Accept": accept,
		"Origin": a.Server.URL, "Sec-Fetch-Site": "same-origin"})
	return resp, html.UnescapeString(string(b))
}

func attForm(email string) map[string]string {
	return map[string]string{"type": "access", "full_name": "Test Subject", "email": email, "jurisdiction": "gdpr"}
}

// attDir is where the encrypted attachments live.
func attDir(a *apptest.App) string { return filepath.Join(a.Cfg.Fulfilment.PackagesDir, "attachments") }

// attFiles lists the files in the attachments folder (temporary ones
// included, so a half-written upload is seen too).
func attFiles(t *testing.T, a *apptest.App) []string {
	t.Helper()
	ents, err := os.ReadDir(attDir(a))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// attRows counts attachment rows (of one request, or all with id "").
func attRows(a *apptest.App, id string) int {
	if id == "" {
		return a.QueryInt("SELECT COUNT(*) FROM attachments")
	}
	return a.QueryInt("SELECT COUNT(*) FROM attachments WHERE request_id = ?", id)
}

// attNothingStored fails unless the folder and the table hold exactly
// files and rows: a refusal must leave neither a row without its file
// nor a file without its row.
func attNothingStored(t *testing.T, a *apptest.App, what string, files, rows int) {
	t.Helper()
	if got := attFiles(t, a); len(got) != files {
		t.Errorf("%s: %d files on disk, want %d: %v", what, len(got), files, got)
	}
	if got := attRows(a, ""); got != rows {
		t.Errorf("%s: %d attachment rows, want %d", what, got, rows)
	}
}

func attRequestID(t *testing.T, a *apptest.App, email string) string {
	t.Helper()
	var id string
	if err := a.DB().Raw("SELECT id FROM requests WHERE email = ?", email).Row().Scan(&id); err != nil {
		t.Fatalf("request of %s: %v", email, err)
	}
	return id
}

// attVerify confirms a request filed on the form by its mailed link.
func attVerify(t *testing.T, a *apptest.App, email string) {
	t.Helper()
	tok := apptest.TokenFromLink(t, a.MailWithSubject(email, "Please confirm").Link(t, "/verify?token="))
	if resp, m := a.PostJSON("/api/v1/verify", map[string]any{"token": tok}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, m)
	}
}

// attUploaded sends a PDF from the status page of request id and
// returns its staff download path.
func attUploaded(t *testing.T, a *apptest.App, statusToken, id string) string {
	t.Helper()
	resp, body := attPost(t, a, "/status/"+statusToken+"/attachments", nil, []attFile{{"id.pdf", "application/pdf", attPDF("HEAD")}}, "text/html")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", resp.StatusCode, body)
	}
	var att int64
	if err := a.DB().Raw("SELECT MAX(id) FROM attachments WHERE request_id = ?", id).Row().Scan(&att); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("/staff/requests/%s/attachments/%d", id, att)
}

// attChainOK fails unless the audit chain verifies.
func attChainOK(t *testing.T, a *apptest.App) {
	t.Helper()
	rep, err := a.Store.VerifyChain(context.Background())
	if err != nil || rep.BrokenAt != 0 {
		t.Errorf("audit chain: %v %+v", err, rep)
	}
}

var attStoredRE = regexp.MustCompile(`^att-[0-9a-f]{32}\.bin$`)

// TestAttachFormStatusAndStaff protects the whole way of a subject's
// files: sent with the form and later from the status page, stored
// encrypted under names the portal makes, audited, listed on the file,
// and downloaded by staff (only) as exactly the bytes sent.
func TestAttachFormStatusAndStaff(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	wsStaff(t, a, "ann@example.org", "reviewer")
	api := a.StaffToken("api@example.org", "reviewer")
	email := trEmail("att-flow")
	pdf, img := attPDF("SECRET-PASSPORT-4711"), attPNG(t)

	resp, body := attPost(t, a, "/request", attForm(email), []attFile{
		{"passport.pdf", "application/pdf", pdf}, {"../../../../tmp/Selfie Müller.png", "image/png", img}}, "text/html")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/request/sent" {
		t.Fatalf("form with files: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	id := attRequestID(t, a, email)
	if n := attRows(a, id); n != 2 {
		t.Fatalf("%d attachment rows, want 2", n)
	}
	files := attFiles(t, a)
	if len(files) != 2 {
		t.Fatalf("files on disk: %v", files)
	}
	for _, f := range files {
		if !attStoredRE.MatchString(f) {
			t.Errorf("stored name %q is not one the portal makes", f)
		}
		raw, err := os.ReadFile(filepath.Join(attDir(a), f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("SECRET-PASSPORT-4711")) || bytes.Contains(raw, []byte("%PDF-")) || bytes.Contains(raw, []byte("PNG")) {
			t.Errorf("%s holds plaintext", f)
		}
	}

	// From the status page, once confirmed.
	attVerify(t, a, email)
	page := "/status/" + trStatusToken(t, a, email)
	code, body := spGet(t, a, page)
	if code != http.StatusOK {
		t.Fatalf("status page: %d", code)
	}
	spWant(t, "status page", body, `action="`+page+`/attachments"`, `enctype="multipart/form-data"`,
		`aria-describedby="attachments-hint"`, "PDF, PNG or JPEG only, up to 8 MB each, at most 3 files at a time.",
		"You sent us files.", "passport.pdf, Selfie Müller.png")
	scan := append(attPDF("SCAN-2"), []byte("more")...)
	resp, body = attPost(t, a, page+"/attachments", nil, []attFile{{"scan.pdf", "application/octet-stream", scan}}, "text/html")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), page+"?done=attach") {
		t.Fatalf("status upload: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	_, body = spGet(t, a, resp.Header.Get("Location"))
	spWant(t, "status page after the upload", body, "Thank you, we received your files.", "scan.pdf")

	// Each upload is an event of the audit chain, naming every file
	// with its hash.
	var attach []map[string]any
	for _, e := range trEvents(trGet(t, a, api, id)) {
		if e["action"] == "attach" {
			attach = append(attach, e)
		}
	}
	if len(attach) != 2 || attach[0]["actor_kind"] != "subject" ||
		!strings.Contains(attach[0]["reason"].(string), "from the request form") ||
		!strings.Contains(attach[1]["reason"].(string), "from the status page") ||
		!strings.Contains(attach[1]["reason"].(string), "scan.pdf (application/pdf, "+fmt.Sprint(len(scan))+" bytes, sha256 ") {
		t.Errorf("attach events: %v", attach)
	}
	attChainOK(t, a)

	// Staff see the files on the request's file and download exactly
	// what was sent.
	b := wsSignedIn(a, "ann@example.org")
	r, page2 := b.Get("/staff/requests/" + id)
	wsWant(t, "file", r, page2, http.StatusOK)
	links := regexp.MustCompile(`href="(/staff/requests/`+id+`/attachments/\d+)" download>([^<]*)</a>`).FindAllStringSubmatch(page2, -1)
	if len(links) != 3 {
		t.Fatalf("attachment links on the file: %v\n%s", links, page2)
	}
	want := map[string][]byte{"passport.pdf": pdf, "Selfie Müller.png": img, "scan.pdf": scan}
	types := map[string]string{"passport.pdf": "application/pdf", "Selfie Müller.png": "image/png", "scan.pdf": "application/pdf"}
	for _, l := range links {
		r, got := b.Get(l[1])
		if r.StatusCode != http.StatusOK || !bytes.Equal([]byte(got), want[l[2]]) {
			t.Errorf("download %s (%s): %d, %d bytes, want %d", l[1], l[2], r.StatusCode, len(got), len(want[l[2]]))
		}
		if disp, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err != nil || disp != "attachment" || params["filename"] != l[2] {
			t.Errorf("%s: Content-Disposition %q", l[2], r.Header.Get("Content-Disposition"))
		}
		if r.Header.Get("Content-Type") != types[l[2]] || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
			r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", l[2], r.Header)
		}
	}

	// Nobody else: not without a session, not through another request.
	if r, got := a.Do(http.MethodGet, links[0][1], nil, nil); r.StatusCode == http.StatusOK || strings.Contains(string(got), "SECRET-PASSPORT") {
		t.Errorf("download without a session: %d", r.StatusCode)
	}
	other, _ := trSubmitVerified(t, a, trEmail("att-other"), "access", "gdpr")
	attID := links[0][1][strings.LastIndex(links[0][1], "/")+1:]
	for _, p := range []string{"/staff/requests/" + other + "/attachments/" + attID, "/staff/requests/" + id + "/attachments/999999",
		"/staff/requests/" + id + "/attachments/x", "/staff/requests/" + id + "/attachments/-1"} {
		if r, _ := b.Get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
}

// TestAttachRefusals protects the checks: a renamed program, a file too
// large, too many files, an empty one, a body over the route's limit, a
// cross-site post are each refused with a 4xx and a clear message beside
// the file field (or in SPEC §7's JSON), and leave no row, no file, and
// on the form no request. A hostile name is cleaned, never used on disk.
func TestAttachRefusals(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) {
		c.Attachments = config.Attachments{MaxFileBytes: 16 << 10, MaxFilesPerUpload: 2, MaxFilesPerRequest: 3}
	}})
	mz := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), bytes.Repeat([]byte{0}, 200)...)
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0}, 200)...)
	pdf := attPDF("OK")
	big := append(attPDF("BIG"), bytes.Repeat([]byte("x"), 16<<10)...)
	cases := []struct {
		what   string
		files  []attFile
		status int
		msg    string
	}{
		{"a program renamed id.pdf", []attFile{{"id.pdf", "application/pdf", mz}}, 422, `The file "id.pdf" is not a PDF, PNG or JPEG file.`},
		{"an ELF renamed scan.png", []attFile{{"scan.png", "image/png", elf}}, 422, `The file "scan.png" is not a PDF, PNG or JPEG file.`},
		{"HTML named page.pdf", []attFile{{"page.pdf", "application/pdf", []byte("<html><script>alert(1)</script>")}}, 422, "is not a PDF, PNG or JPEG file"},
		{"a bad file after a good one", []attFile{{"ok.pdf", "application/pdf", pdf}, {"id.pdf", "application/pdf", mz}}, 422, `"id.pdf" is not a PDF`},
		{"a file too large", []attFile{{"big.pdf", "application/pdf", big}}, 413, `The file "big.pdf" is larger than 16 KB.`},
		{"too many files", []attFile{{"1.pdf", "application/pdf", pdf}, {"2.pdf", "application/pdf", pdf}, {"3.pdf", "application/pdf", pdf}}, 422, "Send at most 2 files at a time."},
		{"an empty file", []attFile{{"empty.pdf", "application/pdf", nil}}, 422, `The file "empty.pdf" is empty.`},
	}
	email := trEmail("att-refused")
	for _, c := range cases {
		resp, body := attPost(t, a, "/request", attForm(email), c.files, "text/html")
		if resp.StatusCode != c.status || !strings.Contains(body, c.msg) ||
			!strings.Contains(body, `id="attachments-error"`) || !strings.Contains(body, `aria-describedby="attachments-hint attachments-error"`) ||
			!strings.Contains(body, `value="Test Subject"`) {
			t.Errorf("form, %s: %d, want %d with %q beside the field\n%s", c.what, resp.StatusCode, c.status, c.msg, body)
		}
		attNothingStored(t, a, "form, "+c.what, 0, 0)
		resp, body = attPost(t, a, "/request", attForm(email), c.files, "application/json")
		var m struct {
			Error struct {
				Code, Message string
				Fields        map[string]string
			}
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != c.status || !strings.Contains(m.Error.Fields["attachments"], c.msg) {
			t.Errorf("form as JSON, %s: %d %s", c.what, resp.StatusCode, body)
		}
		attNothingStored(t, a, "form as JSON, "+c.what, 0, 0)
	}
	if n := a.QueryInt("SELECT COUNT(*) FROM requests"); n != 0 {
		t.Errorf("%d requests filed with refused files", n)
	}

	// Valid fields elsewhere wrong: the files are not kept, and the
	// subject is told to choose them again.
	bad := attForm(email)
	bad["email"] = "not an address"
	resp, body := attPost(t, a, "/request", bad, []attFile{{"ok.pdf", "application/pdf", pdf}}, "text/html")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Please choose your files again") {
		t.Errorf("invalid address with a file: %d\n%s", resp.StatusCode, body)
	}
	attNothingStored(t, a, "invalid address with a file", 0, 0)

	// The same checks on the status page.
	email = trEmail("att-status")
	id, _ := trSubmitVerified(t, a, email, "access", "gdpr")
	page := "/status/" + trStatusToken(t, a, email)
	for _, c := range cases {
		resp, body := attPost(t, a, page+"/attachments", nil, c.files, "text/html")
		if resp.StatusCode != c.status || !strings.Contains(body, c.msg) || !strings.Contains(body, `id="attachments-error"`) {
			t.Errorf("status page, %s: %d, want %d with %q\n%s", c.what, resp.StatusCode, c.status, c.msg, body)
		}
		attNothingStored(t, a, "status page, "+c.what, 0, 0)
	}
	resp, body = attPost(t, a, page+"/attachments", nil, nil, "text/html")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose at least one file to send.") {
		t.Errorf("status page without a file: %d\n%s", resp.StatusCode, body)
	}

	// A body over the route's limit (several files' worth) is 413.
	huge := bytes.Repeat([]byte("A"), int(a.Cfg.Attachments.BodyLimit(a.Cfg.HTTP.MaxBodyBytes))+1)
	resp, body = attPost(t, a, page+"/attachments", map[string]string{"note": string(huge)}, nil, "text/html")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: %d\n%.300s", resp.StatusCode, body)
	}

	// A cross-site post is refused before anything is read.
	mp, ctype := attBody(t, nil, []attFile{{"ok.pdf", "application/pdf", pdf}})
	r, _ := a.Do(http.MethodPost, page+"/attachments", mp, map[string]string{"Content-Type": ctype,
		"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Accept": "text/html"})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site upload: %d", r.StatusCode)
	}
	attNothingStored(t, a, "after every refusal", 0, 0)

	// A hostile name is cleaned for display and never reaches the disk.
	resp, body = attPost(t, a, page+"/attachments", nil, []attFile{
		{`..\..\<img src=x onerror=alert(1)>.pdf`, "text/html", pdf}, {"../../../etc/passwd", "application/pdf", pdf}}, "text/html")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hostile names: %d\n%s", resp.StatusCode, body)
	}
	var names []string
	a.DB().Raw("SELECT name FROM attachments WHERE request_id = ? ORDER BY id", id).Scan(&names)
	if strings.Join(names, "|") != "_img src=x onerror=alert(1)_.pdf|passwd.pdf" {
		t.Errorf("shown names: %q", names)
	}
	for _, f := range attFiles(t, a) {
		if !attStoredRE.MatchString(f) {
			t.Errorf("stored name %q", f)
		}
	}
	wsStaff(t, a, "ann@example.org", "reviewer")
	_, raw := wsSignedIn(a, "ann@example.org").Get("/staff/requests/" + id)
	if strings.Contains(raw, "<img src=x") || !strings.Contains(raw, "_img src=x onerror=alert(1)_.pdf") {
		t.Errorf("the file page shows the hostile name unescaped or not at all")
	}

	// The request holds 2 of 3: two more are too many for it.
	resp, body = attPost(t, a, page+"/attachments", nil, []attFile{{"a.pdf", "application/pdf", pdf}, {"b.pdf", "application/pdf", pdf}}, "text/html")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "You can send at most 1 more file with this request.") {
		t.Errorf("over the request's limit: %d\n%s", resp.StatusCode, body)
	}
	attNothingStored(t, a, "over the request's limit", 2, 2)
}

// TestAttachBodyLimitsElsewhere protects http.max_body_bytes on the
// routes that take no files: only the upload routes get more.
func TestAttachBodyLimitsElsewhere(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	email := trEmail("att-limits")
	trSubmitVerified(t, a, email, "access", "gdpr")
	page := "/status/" + trStatusToken(t, a, email)
	long := strings.Repeat("x", int(a.Cfg.HTTP.MaxBodyBytes)+10)
	for _, path := range []string{page + "/answer", page + "/appeal"} {
		resp, body := spPost(t, a, path, map[string][]string{"message": {long}})
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: %d\n%.300s", path, len(long), resp.StatusCode, body)
		}
	}
	form := map[string][]string{"type": {"access"}, "email": {trEmail("att-long")}, "full_name": {"X"}, "description": {long}}
	if resp, body := spPost(t, a, "/request", form); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("url-encoded form over the limit: %d\n%.300s", resp.StatusCode, body)
	}
	// The multipart form's text fields keep the same allowance.
	f := attForm(trEmail("att-long-mp"))
	f["description"] = long
	if resp, body := attPost(t, a, "/request", f, nil, "text/html"); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("multipart form text over the limit: %d\n%.300s", resp.StatusCode, body)
	}
	// The JSON API is as it was.
	resp, m := a.PostJSON("/api/v1/requests", map[string]any{"type": "access", "email": trEmail("att-api"),
		"full_name": "X", "details": map[string]any{"description": long}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("API over the limit: %d %v", resp.StatusCode, m)
	}
}

// TestAttachClosedAndPurged protects the end of a request's files: a
// closed request takes none, the retention purge and the expiry of an
// unconfirmed request remove rows and files.
func TestAttachClosedAndPurged(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	pdf := attPDF("PURGE-ME")

	email := trEmail("att-closed")
	id, _ := trSubmitVerified(t, a, email, "access", "gdpr")
	page := "/status/" + trStatusToken(t, a, email)
	if resp, body := attPost(t, a, page+"/attachments", nil, []attFile{{"a.pdf", "application/pdf", pdf}}, "text/html"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := spPost(t, a, page+"/withdraw", map[string][]string{"confirm": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d\n%s", resp.StatusCode, body)
	}
	_, body := spGet(t, a, page)
	spNot(t, "status page of a closed request", body, page+"/attachments")
	resp, body := attPost(t, a, page+"/attachments", nil, []attFile{{"b.pdf", "application/pdf", pdf}}, "text/html")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "Your request is closed, so we cannot take files for it any more.") {
		t.Errorf("upload to a closed request: %d\n%s", resp.StatusCode, body)
	}
	resp, body = attPost(t, a, page+"/attachments", nil, []attFile{{"b.pdf", "application/pdf", pdf}}, "application/json")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `"code":"closed"`) {
		t.Errorf("upload to a closed request, JSON: %d %s", resp.StatusCode, body)
	}
	attNothingStored(t, a, "closed request", 1, 1)

	// An unconfirmed request with files from the form.
	unconfirmed := trEmail("att-unconfirmed")
	if resp, body := attPost(t, a, "/request", attForm(unconfirmed), []attFile{{"c.pdf", "application/pdf", pdf}}, "text/html"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form: %d\n%s", resp.StatusCode, body)
	}
	uid := attRequestID(t, a, unconfirmed)
	attNothingStored(t, a, "two requests with a file each", 2, 2)

	// Past the verification window the unconfirmed one expires, its
	// file with it.
	a.Clock.Advance(a.Cfg.Verification.Window.D() + time.Hour)
	if _, err := a.Svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if attRows(a, uid) != 0 || attRows(a, id) != 1 || len(attFiles(t, a)) != 1 {
		t.Errorf("after expiry: rows %d/%d, files %v", attRows(a, uid), attRows(a, id), attFiles(t, a))
	}

	// Files a crash left without a row (sealed, or cut off mid-way) go
	// with the next purge run.
	for _, name := range []string{"att-" + strings.Repeat("0", 32) + ".bin", ".tmp-att-" + strings.Repeat("1", 32) + ".bin-42"} {
		if err := os.WriteFile(filepath.Join(attDir(a), name), []byte("left over"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	attNothingStored(t, a, "with two orphans", 3, 1)

	// Past retention the withdrawn one is purged, its file with it.
	a.Clock.Advance(25 * 31 * 24 * time.Hour)
	items, err := a.Svc.PurgeClosed(ctx, false)
	if err != nil || len(items) == 0 {
		t.Fatalf("purge: %v %v", items, err)
	}
	attNothingStored(t, a, "after the purge", 0, 0)
	attChainOK(t, a)
}
