package mailer_test

import (
	"regexp"
	"strings"
	"testing"

	"rightsportal/i18n"
	"rightsportal/internal/apptest"
	"rightsportal/mailer"
	"rightsportal/models"
)

// keyMarkerRE is what i18n shows for a key no catalog has: "[mail.x.y]".
var keyMarkerRE = regexp.MustCompile(`\[[a-z_]+(\.[A-Za-z0-9_]+)+\]`)

// subjectKinds are the kinds written in the subject's language (and
// recipient_notice, written in whichever language it is asked for).
func subjectKinds() []string {
	var out []string
	for _, k := range mailer.Kinds() {
		if !strings.HasPrefix(k, "staff_") {
			out = append(out, k)
		}
	}
	return out
}

// TestMailInEveryLanguage renders every subject-facing kind in every
// shipped language: no missing key, no missing data, the HTML part and
// the stored mail name the language, and the words are not English.
func TestMailInEveryLanguage(t *testing.T) {
	c := newComposer(t)
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	for _, kind := range subjectKinds() {
		en := composeLang(t, c, kind, "en", goldenData(verify))
		for _, lang := range c.Catalog().Languages() {
			t.Run(kind+"/"+lang, func(t *testing.T) {
				m := composeLang(t, c, kind, lang, goldenData(verify))
				for part, body := range map[string]string{"subject": m.Subject, "text": m.TextBody, "html": m.HTMLBody} {
					if k := keyMarkerRE.FindString(body); k != "" {
						t.Errorf("%s part shows the missing key %s:\n%s", part, k, body)
					}
					if strings.Contains(body, "<no value>") || strings.Contains(body, "&lt;no value&gt;") {
						t.Errorf("%s part shows <no value>:\n%s", part, body)
					}
				}
				if want := `<html lang="` + lang + `">`; !strings.Contains(m.HTMLBody, want) {
					t.Errorf("HTML part lacks %s", want)
				}
				if m.Language != lang {
					t.Errorf("mail language %q, want %q", m.Language, lang)
				}
				if lang != i18n.Source && (m.Subject == en.Subject || m.TextBody == en.TextBody) {
					t.Errorf("%s mail is the English one:\n%s\n%s", lang, m.Subject, m.TextBody)
				}
			})
		}
	}
}

// TestMailLanguageChoice: an unknown or empty language gets the default,
// and staff notices are English whatever is asked.
func TestMailLanguageChoice(t *testing.T) {
	c := newComposer(t)
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	for _, lang := range []string{"", "xx", "DE"} {
		if m := composeLang(t, c, "acknowledgment", lang, goldenData(verify)); m.Language != "en" || !strings.HasPrefix(m.Subject, "We received") {
			t.Errorf("language %q: got %q, subject %q; want the default en", lang, m.Language, m.Subject)
		}
	}
	m := composeLang(t, c, "staff_new_request", "de", goldenData(verify))
	if m.Language != i18n.Source || !strings.Contains(m.HTMLBody, `<html lang="en">`) {
		t.Errorf("staff notice asked in de: language %q\n%s", m.Language, m.HTMLBody)
	}
	golden, _ := c.Compose(mailer.Message{Kind: "staff_new_request", To: "x@example.org", Data: goldenData(verify)})
	if m.Subject != golden.Subject || m.TextBody != golden.TextBody {
		t.Errorf("staff notice differs when asked in de:\n%s\n%s", m.Subject, golden.Subject)
	}
}

// TestGermanMailThroughSMTP files a request in German through the API and
// reads the verification mail the real SMTP relay received: German
// subject and words, Content-Language: de, <html lang="de">.
func TestGermanMailThroughSMTP(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	a.Submit(map[string]any{"type": "access", "email": "anna@example.com", "full_name": "Anna Schmidt", "language": "de"})
	m := a.MailWithSubject("anna@example.com", "Auskunftsersuchen")
	if !strings.Contains(m.Subject(), "Bitte bestätigen Sie Ihre E-Mail-Adresse") {
		t.Errorf("subject %q is not the German one", m.Subject())
	}
	if got := m.Header.Get("Content-Language"); got != "de" {
		t.Errorf("Content-Language %q, want de", got)
	}
	if !strings.Contains(m.Text, "Guten Tag Anna Schmidt,") || !strings.Contains(m.Text, "Oder antworten Sie einfach auf diese E-Mail.") {
		t.Errorf("text part is not German:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `<html lang="de">`) {
		t.Errorf("HTML part lacks lang=de:\n%s", m.HTML)
	}
	m.Link(t, "/verify?token=")
}

func composeLang(t *testing.T, c *mailer.Composer, kind, lang string, data map[string]any) *models.Mail {
	t.Helper()
	verify := mailer.NewSecret("verify_url", secretVerifyURL)
	msg := mailer.Message{Kind: kind, To: "zoe@example.com", Lang: lang, Data: data}
	if kind == "verification" || kind == "verification_reminder" {
		msg.ReplyToken = secretReply
		msg.Secrets = []mailer.Secret{verify}
	}
	m, err := c.Compose(msg)
	if err != nil {
		t.Fatalf("compose %s in %q: %v", kind, lang, err)
	}
	return m
}
