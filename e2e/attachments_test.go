package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"rightsportal/internal/apptest"
)

// TestAttachmentsOnPhone protects sending a document with the form on a
// phone: a renamed program is refused beside the file field, with the
// other fields kept and the message tied to the field; a PDF then goes
// through, and is stored with the request.
func TestAttachmentsOnPhone(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	tb := newTab(t, a, newBrowser(t), phone)
	dir := t.TempDir()
	exe, pdf := filepath.Join(dir, "id.pdf"), filepath.Join(dir, "passport.pdf")
	os.WriteFile(exe, []byte("MZ\x90\x00 this is a program"), 0o600)
	os.WriteFile(pdf, []byte("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"), 0o600)
	const email = "phone.attach@example.com"

	tb.open("/request?type=access")
	tb.fill("#full_name", "Alex Example")
	tb.fill("#email", email)
	tb.must("choose a renamed program", chromedp.SetUploadFiles(chromedp.CSS("#attachments"), []string{exe}))
	tb.wantStatus("send a renamed program", tb.press(`form[action="/request"] button[type=submit]`), http.StatusUnprocessableEntity)
	tb.wantText(`The file "id.pdf" is not a PDF, PNG or JPEG file.`)
	if d := eval[string](tb, `document.querySelector('#attachments').getAttribute('aria-describedby')`); d != "attachments-hint attachments-error" {
		t.Errorf("file field described by %q", d)
	}
	if v := eval[string](tb, `document.querySelector('#email').value`); v != email {
		t.Errorf("address not kept: %q", v)
	}
	tb.page("form with a refused file")

	tb.must("choose a PDF", chromedp.SetUploadFiles(chromedp.CSS("#attachments"), []string{pdf}))
	tb.wantStatus("send a PDF", tb.press(`form[action="/request"] button[type=submit]`), http.StatusOK)
	tb.wantH1("Check your mailbox")
	if n := a.QueryInt("SELECT COUNT(*) FROM attachments a JOIN requests r ON r.id = a.request_id WHERE r.email = ? AND a.name = ?",
		email, "passport.pdf"); n != 1 {
		t.Errorf("%d attachments stored, want 1", n)
	}
}
