package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// deMonths and deWeekdays write a German date in the test itself, not
// through the catalog the portal uses.
var (
	deMonths   = []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	deWeekdays = []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	enMonths   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

func germanDate(t time.Time) string {
	return fmt.Sprintf("%s, %d. %s %d", deWeekdays[t.Weekday()], t.Day(), deMonths[t.Month()-1], t.Year())
}

// wantGerman checks a mail is the German one: Content-Language, <html
// lang>, the German words, and a German month rather than an English one.
func wantGerman(t *testing.T, what string, m *apptest.Mail, words ...string) {
	t.Helper()
	if got := m.Header.Get("Content-Language"); got != "de" {
		t.Errorf("%s: Content-Language %q, want de", what, got)
	}
	if !strings.Contains(m.HTML, `<html lang="de">`) {
		t.Errorf("%s: HTML part is not lang=de", what)
	}
	if !strings.Contains(m.HTML, "Guten Tag Anna Schmidt,") {
		t.Errorf("%s: HTML part is not German:\n%s", what, m.HTML)
	}
	for _, w := range append([]string{"Guten Tag Anna Schmidt,"}, words...) {
		if !strings.Contains(m.Text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, m.Text)
		}
	}
	for _, mon := range enMonths {
		if mon != "April" && mon != "August" && mon != "September" && strings.Contains(m.Text, mon) {
			t.Errorf("%s holds the English month %s:\n%s", what, mon, m.Text)
		}
	}
}

// TestSubjectMailInRequestLanguage files a request in German and follows
// it: the verification, the acknowledgment and a question from staff are
// German, with German dates, whatever language staff work in; the
// notice to the team stays English.
func TestSubjectMailInRequestLanguage(t *testing.T) {
	a := apptest.New(t, apptest.Options{Config: func(c *config.Config) { c.Mail.TeamAddress = "team@example.org" }})
	const email = "anna.schmidt@example.com"
	id, ref := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Anna Schmidt", "language": "de"})

	verify := a.MailWithSubject(email, "Bitte bestätigen Sie Ihre E-Mail-Adresse")
	wantGerman(t, "verification", verify, "Aktenzeichen "+ref, "Oder antworten Sie einfach auf diese E-Mail.")
	loc := a.Cfg.Calendar().Loc
	if expires := a.Clock.Now().Add(a.Cfg.Verification.Window.D()).In(loc); !strings.Contains(verify.Text, deMonths[expires.Month()-1]) {
		t.Errorf("verification does not name the German month %s:\n%s", deMonths[expires.Month()-1], verify.Text)
	}

	token := apptest.TokenFromLink(t, verify.Link(t, "/verify?token="))
	if resp, body := a.PostJSON("/api/v1/verify", map[string]any{"token": token}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, body)
	}
	staff := a.StaffToken("officer@example.org", "reviewer")
	req := trGet(t, a, staff, id)
	due, err := time.Parse(time.RFC3339Nano, req["due_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ack := a.MailWithSubject(email, "Eingangsbestätigung – Auskunftsersuchen")
	wantGerman(t, "acknowledgment", ack, "Wir antworten bis: "+germanDate(due.In(loc)), "(DSGVO) beträgt 1 Monat")
	if !strings.Contains(ack.HTML, germanDate(due.In(loc))) {
		t.Errorf("acknowledgment's HTML part lacks the German due date %s", germanDate(due.In(loc)))
	}

	team := a.MailWithSubject("team@example.org", "New ")
	if got := team.Header.Get("Content-Language"); got != "en" || !strings.Contains(team.Subject(), "access request") ||
		!strings.Contains(team.Subject(), due.In(loc).Format("Monday, 2 January 2006")) || strings.Contains(team.Text, "Antrag") {
		t.Errorf("staff notice is not English (Content-Language %q): %s\n%s", got, team.Subject(), team.Text)
	}

	m := trMust(t, a, staff, id, map[string]any{"action": "start_review", "version": version(req)}, "in_review")
	trMust(t, a, staff, id, map[string]any{"action": "request_info", "message": "Welche Kundennummer haben Sie?", "version": version(m)}, "awaiting_subject")
	q := a.MailWithSubject(email, "Rückfrage – Auskunftsersuchen")
	wantGerman(t, "question", q, "Welche Kundennummer haben Sie?", "Antworten Sie einfach auf diese E-Mail")
}

// TestGermanRejectionWording refuses a German request: the reason, the
// law, the authority and the remedies are the German catalog's words
// (DSGVO Art. 12(4), 77, 79), not the English configuration's.
func TestGermanRejectionWording(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	const email = "anna.schmidt@example.com"
	id, _ := a.Submit(map[string]any{"type": "access", "email": email, "full_name": "Anna Schmidt", "language": "de"})
	token := apptest.TokenFromLink(t, a.MailWithSubject(email, "Bitte bestätigen").Link(t, "/verify?token="))
	if resp, body := a.PostJSON("/api/v1/verify", map[string]any{"token": token}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, body)
	}
	staff := a.StaffToken("officer@example.org", "reviewer")
	m := trMust(t, a, staff, id, map[string]any{"action": "start_review", "version": version(trGet(t, a, staff, id))}, "in_review")
	trMust(t, a, staff, id, map[string]any{"action": "reject", "reason": "manifestly_unfounded",
		"message": "Das genannte Konto hat es bei uns nie gegeben.", "version": version(m)}, "rejected")
	r := a.MailWithSubject(email, "Unsere Entscheidung – Auskunftsersuchen")
	wantGerman(t, "rejection", r, "Der Antrag ist offenkundig unbegründet.", "Das genannte Konto hat es bei uns nie gegeben.",
		"das Recht auf Beschwerde bei einer Aufsichtsbehörde", "einen gerichtlichen Rechtsbehelf einzulegen")
	if strings.Contains(r.Text, "supervisory authority") {
		t.Errorf("rejection names the authority in English:\n%s", r.Text)
	}
}
