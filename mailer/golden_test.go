package mailer_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"rightsportal/i18n"
	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Fixed test values. The secrets are what must never appear in a stored
// mail: only their placeholders may.
const (
	testFrom        = "Example Privacy Team <privacy@example.org>"
	secretVerifyURL = "https://portal.example.org/verify?token=S3CRET-LINK-TOKEN-0123456789"
	secretReply     = "S3CRET-REPLY-TOKEN-9876543210"
	hostileName     = `Zoë <O'Brien> & Co`
)

var testKey = bytes.Repeat([]byte{7}, 32)

func newComposer(t *testing.T) *mailer.Composer {
	t.Helper()
	c, err := mailer.NewComposer(templates.FS, testFrom, "privacy", "example.org", testKey, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// goldenData is the fixed data every kind is rendered with; the service
// passes the same keys (service.mailData plus the per-kind extras).
func goldenData(verify mailer.Secret) map[string]any {
	return map[string]any{
		"Org": "Example Organisation", "OrgContact": "privacy@example.org",
		"BaseURL": "https://portal.example.org", "Name": hostileName,
		"Reference": "DSR-2026-ABCD", "TypeTitle": "Access to my data", "TypeNoun": "access request",
		"Type": "access", "VerifyURL": verify.Placeholder,
		"ExpiresAt": "4 March 2026, 10:00 CET", "DueDate": "Wednesday, 1 April 2026",
		"Period": "1 month", "Law": "GDPR",
		"StatusURL":  mailer.NewSecret("status_url", "https://portal.example.org/status/S3CRET-STATUS").Placeholder,
		"Question":   "Which customer number did you use?\nPlease also tell us <your> address.",
		"Answer":     "We deleted your account.\nNothing else is kept.",
		"ReasonCode": "excessive", "ReasonText": "The request is excessive.", "Explanation": "You asked 5 times this week.",
		"Authority": "the Example Data Protection Authority", "AppealBy": "",
		"Reason": "Many systems to search.", "OldDueDate": "Wednesday, 1 April 2026", "Extension": "2 months",
		"Code": mailer.NewSecret("code", "12345678").Placeholder, "Minutes": 30,
		"Recipient": "Acme Mailing Ltd", "System": "Newsletter", "Email": "zoe@example.com",
		"Action": "erase the personal data of this person", "Task": "Erase in Newsletter",
		"HasPackage": true, "DownloadUntil": "Wednesday, 8 April 2026",
		"StaffName": "Olga Officer", "FileURL": "https://portal.example.org/staff/requests/x", "By": "Ada Admin",
	}
}

// composeKind renders one kind as the service would: the verify link as a
// secret, and (for verification) a reply token.
func composeKind(t *testing.T, c *mailer.Composer, kind string, data map[string]any) *models.Mail {
	t.Helper()
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	msg := mailer.Message{Kind: kind, To: "zoe@example.com", Data: data}
	if kind == "verification" {
		msg.ReplyToken = secretReply
		msg.Secrets = []mailer.Secret{verify}
	}
	m, err := c.Compose(msg)
	if err != nil {
		t.Fatalf("compose %s: %v", kind, err)
	}
	return m
}

// checkGolden compares got with testdata/golden/name, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mailer -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is meant):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// TestGoldenMail pins the subject, text part and HTML part of every mail
// kind, so a template change is always a reviewed diff.
func TestGoldenMail(t *testing.T) {
	c := newComposer(t)
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	for _, kind := range mailer.Kinds() {
		t.Run(kind, func(t *testing.T) {
			m := composeKind(t, c, kind, goldenData(verify))
			checkGolden(t, kind+".subject.txt", m.Subject)
			checkGolden(t, kind+".txt", m.TextBody)
			checkGolden(t, kind+".html", m.HTMLBody)
		})
	}
}

var htmlTagRE = regexp.MustCompile(`(?i)</?(html|head|body|p|a|br|table|tr|td|strong|em|div|span|meta|title)\b[^>]*>`)

// TestGoldenMailSafety checks what the golden files cannot show by eye:
// the HTML escapes the name, the text part is plain text, and secrets are
// in the stored mail only as placeholders and in the sealed blob only
// encrypted.
func TestGoldenMailSafety(t *testing.T) {
	c := newComposer(t)
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	for _, kind := range mailer.Kinds() {
		t.Run(kind, func(t *testing.T) {
			data := goldenData(verify)
			// Staff notices greet the staff member, not the subject.
			if strings.HasPrefix(kind, "staff_") {
				data["StaffName"] = hostileName
			}
			m := composeKind(t, c, kind, data)
			if strings.Contains(m.HTMLBody, "<O'Brien>") || !strings.Contains(m.HTMLBody, "Zoë &lt;O&#39;Brien&gt; &amp; Co") {
				t.Errorf("HTML does not escape the name:\n%s", m.HTMLBody)
			}
			if tag := htmlTagRE.FindString(m.TextBody); tag != "" {
				t.Errorf("text part holds the HTML tag %q", tag)
			}
			if !strings.Contains(m.TextBody, hostileName) {
				t.Errorf("text part should show the name as written (no HTML escaping):\n%s", m.TextBody)
			}
			stored := strings.Join([]string{m.Subject, m.TextBody, m.HTMLBody, m.ReplyTo, m.ToAddr, m.MessageID}, "\n")
			for _, secret := range []string{secretVerifyURL, "S3CRET-LINK-TOKEN", secretReply} {
				if strings.Contains(stored, secret) {
					t.Errorf("stored mail holds the secret %q in clear", secret)
				}
				if bytes.Contains(m.Sealed, []byte(secret)) {
					t.Errorf("sealed blob holds the secret %q in clear", secret)
				}
			}
			if kind == "verification" {
				for _, body := range []string{m.TextBody, m.HTMLBody} {
					if !strings.Contains(body, verify.Placeholder) {
						t.Errorf("body lacks the link placeholder %s", verify.Placeholder)
					}
				}
				if !strings.HasPrefix(m.ReplyTo, "__SECRET_") || len(m.Sealed) == 0 {
					t.Errorf("reply-to %q should be a sealed placeholder (sealed %d bytes)", m.ReplyTo, len(m.Sealed))
				}
			}
		})
	}
}

// TestSubjectHeaderInjection makes sure no field can put a line break
// (and so a new header such as Bcc) into the subject.
func TestSubjectHeaderInjection(t *testing.T) {
	c := newComposer(t)
	inject := "\r\nBcc: x@y"
	for _, kind := range mailer.Kinds() {
		data := goldenData(mailer.NewSecret("verify_url", secretVerifyURL))
		for _, k := range []string{"Name", "Reference", "TypeNoun", "TypeTitle", "Org"} {
			data[k] = data[k].(string) + inject
		}
		m := composeKind(t, c, kind, data)
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Errorf("%s subject holds a line break: %q", kind, m.Subject)
		}
	}
}

// testCatalog is every language the portal ships.
func testCatalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.Load(templates.FS, []string{"en", "de", "fr", "es", "pt-BR"}, "en")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
