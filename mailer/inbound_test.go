package mailer

import (
	"bytes"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	inboundTestToken  = "abcdefghijklmnopqrstuvwxyz234567"
	inboundTestLocal  = "privacy"
	inboundTestDomain = "example.org"
	// inboundHistory is a line of the portal's own mail that every quoted
	// reply in the corpus carries; it must never reach Reply.Text.
	inboundHistory = "we received a request for access"
)

func inboundReadCorpus(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "inbound", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// inboundCorpusCase is what one corpus message must parse to.
type inboundCorpusCase struct {
	file    string
	from    string
	tokens  []string
	autoWhy string   // "" means not Auto
	subject string   // "" means not checked
	text    []string // must all be in Text
	notText []string // must none be in Text
}

var inboundCorpusTok = []string{inboundTestToken}

var inboundCorpusCases = []inboundCorpusCase{
	{file: "gmail_reply.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		text:    []string{"Yes, I filed this request myself – please go ahead and send me a copy of my data.", "Thanks,\nJane"},
		notText: []string{inboundHistory, "wrote:", "verify?token", "privacy+"}},
	{file: "outlook_reply.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		subject: "RE: Please confirm your request for access to your data",
		text:    []string{"I’m happy to confirm that the request is mine – please send the data to this address.", "Kind regards,\nJane Doe"},
		notText: []string{inboundHistory, "From:", "Sent:", "____"}},
	{file: "apple_mail_reply.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		text:    []string{"ja, das war ich. Bitte bearbeiten Sie meine Anfrage auf Auskunft über meine gespeicherten Daten und schicken Sie die Kopie an diese Adresse.", "Viele Grüße"},
		notText: []string{inboundHistory, "schrieb", "Musterstraße", "-- "}},
	{file: "html_only_reply.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		subject: "Re: Please confirm your request – café",
		text:    []string{"I confirm that I made this request & I would like the copy sent by e-mail, not by post.", "Merci à vous – and thanks in advance.\nJane"},
		notText: []string{inboundHistory, "wrote:", "nested quote", "trackOpen", "font-family", "<", "Zürich"}},
	{file: "out_of_office.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		autoWhy: "Auto-Submitted: auto-replied",
		text:    []string{"I am out of the office until 10 November 2026 with limited access to email."}},
	// The bounce and the list mail carry a valid token, and still must
	// never act: Auto wins over Tokens.
	{file: "bounce_dsn.eml", from: "mailer-daemon@mx.example.com", tokens: inboundCorpusTok,
		autoWhy: "Auto-Submitted: auto-replied",
		text:    []string{"could not\nbe delivered"},
		notText: []string{"Reporting-MTA", "Final-Recipient"}},
	{file: "forged_from.eml", from: "mallory@attacker.example", tokens: inboundCorpusTok,
		text: []string{"Yes, this is my request, please send everything to this address."}},
	{file: "mailing_list.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		autoWhy: "Precedence: list",
		text:    []string{"Yes, please go ahead, I confirm the request I filed."}},
	{file: "delivered_to_only.eml", from: "jane.doe@example.com", tokens: inboundCorpusTok,
		text:    []string{"I am the person who filed the request; I confirm it."},
		notText: []string{inboundHistory, "wrote:", "Jane Doe"}},
}

func TestInboundCorpus(t *testing.T) {
	// Every corpus file must have a case, so that none sits there untested.
	files, _ := filepath.Glob(filepath.Join("testdata", "inbound", "*.eml"))
	covered := map[string]bool{}
	for _, tt := range inboundCorpusCases {
		covered[tt.file] = true
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in inboundCorpusCases", f)
		}
	}
	for _, tt := range inboundCorpusCases {
		t.Run(tt.file, func(t *testing.T) {
			r, err := ParseReply(inboundReadCorpus(t, tt.file), Envelope{}, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatalf("ParseReply: %v", err)
			}
			inboundCheckCorpus(t, tt, r)
		})
	}
}

func inboundCheckCorpus(t *testing.T, tt inboundCorpusCase, r *Reply) {
	t.Helper()
	if r.From != tt.from {
		t.Errorf("From = %q, want %q", r.From, tt.from)
	}
	if !slices.Equal(r.Tokens, tt.tokens) {
		t.Errorf("Tokens = %q, want %q", r.Tokens, tt.tokens)
	}
	if r.Auto != (tt.autoWhy != "") || r.AutoWhy != tt.autoWhy {
		t.Errorf("Auto, AutoWhy = %v, %q; want %q", r.Auto, r.AutoWhy, tt.autoWhy)
	}
	if tt.subject != "" && r.Subject != tt.subject {
		t.Errorf("Subject = %q, want %q", r.Subject, tt.subject)
	}
	if r.MessageID == "" || strings.ContainsAny(r.MessageID, "<> ") {
		t.Errorf("MessageID = %q", r.MessageID)
	}
	if r.DMARCFail {
		t.Error("DMARCFail = true for a message whose DMARC passed")
	}
	inboundCheckText(t, r.Text, tt.text, tt.notText)
}

func inboundCheckText(t *testing.T, got string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("Text lacks %q; Text:\n%s", w, got)
		}
	}
	for _, w := range notWant {
		if strings.Contains(got, w) {
			t.Errorf("Text holds %q; Text:\n%s", w, got)
		}
	}
}

// TestInboundCorpusHTMLParts runs the HTML fallback over the HTML parts of
// the multipart corpus, which ParseReply skips because a plain part exists.
func TestInboundCorpusHTMLParts(t *testing.T) {
	for file, want := range map[string]string{
		"gmail_reply.eml":   "Yes, I filed this request myself – please go ahead and send me a copy of my data.\n\nThanks,\nJane",
		"outlook_reply.eml": "Hello,\n\nI’m happy to confirm that the request is mine – please send the data to this address.\n\nKind regards,\nJane Doe",
	} {
		t.Run(file, func(t *testing.T) {
			r, err := ParseReply(inboundReadCorpus(t, file), Envelope{}, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatal(err)
			}
			body := inboundTestBody(t, file)
			if got := replyText(replyHTMLText(body.html)); got != want {
				t.Errorf("HTML text = %q, want %q", got, want)
			}
			if !strings.Contains(r.Text, strings.Split(want, "\n")[0]) {
				t.Errorf("plain Text = %q", r.Text)
			}
		})
	}
}

func inboundTestBody(t *testing.T, file string) inboundBody {
	t.Helper()
	msg := inboundTestMessage(t, string(inboundReadCorpus(t, file)))
	var b inboundBody
	b.walk(msg.Header, msg.Body, 0)
	if b.html == "" {
		t.Fatalf("%s has no HTML part", file)
	}
	return b
}

func TestParseReplyEnvelope(t *testing.T) {
	raw := "From: Jane <jane.doe@example.com>\r\nTo: privacy@example.org\r\nSubject: yes\r\n\r\nYes.\r\n"
	tests := []struct {
		name     string
		env      Envelope
		tokens   []string
		autoWhy  string
		wantAuto bool
	}{
		{"no envelope", Envelope{}, nil, "", false},
		{"null sender", Envelope{HasEnvelope: true, MailFrom: ""}, nil, "null envelope sender", true},
		{"null sender in brackets", Envelope{HasEnvelope: true, MailFrom: "<>"}, nil, "null envelope sender", true},
		{"rcpt token", Envelope{HasEnvelope: true, MailFrom: "jane.doe@example.com",
			Rcpt: []string{"<PRIVACY+" + strings.ToUpper(inboundTestToken) + "@Example.Org>", "privacy+" + inboundTestToken + "@example.org"}},
			[]string{inboundTestToken}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseReply([]byte(raw), tt.env, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Tokens, tt.tokens) || r.Auto != tt.wantAuto || r.AutoWhy != tt.autoWhy {
				t.Errorf("Tokens, Auto, AutoWhy = %q, %v, %q; want %q, %v, %q",
					r.Tokens, r.Auto, r.AutoWhy, tt.tokens, tt.wantAuto, tt.autoWhy)
			}
		})
	}
}

func TestParseReplyMalformed(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":            "",
		"garbage":          "\x00\xff\xfe garbage bytes \x01\x02\n\x7f",
		"body only":        "\r\n\r\nJust a body.\r\n",
		"no From":          "To: privacy@example.org\r\nSubject: hi\r\n\r\nhi\r\n",
		"From without @":   "From: Jane Doe\r\n\r\nhi\r\n",
		"From empty group": "From: undisclosed-recipients:;\r\n\r\nhi\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
			if !errors.Is(err, ErrMalformedMail) || r != nil {
				t.Errorf("ParseReply = %v, %v; want nil and ErrMalformedMail", r, err)
			}
		})
	}
}

func TestParseReplyTokens(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		to     string
		tokens []string
	}{
		{"wrong domain", "privacy+" + inboundTestToken + "@example.net", nil},
		{"subdomain", "privacy+" + inboundTestToken + "@mail.example.org", nil},
		{"wrong local part", "privacyx+" + inboundTestToken + "@example.org", nil},
		{"too short", "privacy+abcdefghijklmno@example.org", nil},
		{"too long", "privacy+" + long + "a@example.org", nil},
		{"longest", "privacy+" + long + "@example.org", []string{long}},
		{"not base32", "privacy+abcdefghijklmnop1@example.org", nil},
		{"upper case", "PRIVACY+" + strings.ToUpper(inboundTestToken) + "@EXAMPLE.ORG", []string{inboundTestToken}},
		{"two, deduplicated", "a <privacy+" + inboundTestToken + "@example.org>, privacy+" + long +
			"@example.org, privacy+" + strings.ToUpper(inboundTestToken) + "@example.org", []string{inboundTestToken, long}},
		{"unparseable list", "Jürgen \"M. <privacy+" + inboundTestToken + "@example.org>", []string{inboundTestToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: jane.doe@example.com\r\nTo: " + tt.to + "\r\n\r\nYes.\r\n"
			r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Tokens, tt.tokens) {
				t.Errorf("Tokens = %q, want %q", r.Tokens, tt.tokens)
			}
		})
	}
}

func TestParseReplyFrom(t *testing.T) {
	for from, want := range map[string]string{
		"=?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <Jane.Doe@Example.com>": "jane.doe@example.com",
		"=?windows-1252?Q?J=92s?= <jane.doe@example.com>":            "jane.doe@example.com",
		"=?koi8-r?B?8NLJ18XU?= <jane.doe@example.com>":               "jane.doe@example.com",
		"Jürgen Müller <jane.doe@example.com>":                       "jane.doe@example.com",
		"Jürgen \"M. <jane.doe@example.com>":                         "jane.doe@example.com",
		"\"Doe, Jane\" <jane.doe@example.com>, other@example.net":    "jane.doe@example.com",
		"jane.doe@example.com (Jane Doe)":                            "jane.doe@example.com",
		"Jane <jane.doe@example.com":                                 "jane.doe@example.com",
	} {
		raw := "From: " + from + "\r\n\r\nYes.\r\n"
		r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
		if err != nil || r.From != want {
			t.Errorf("From: %s: got %v, %v; want %q", from, r, err, want)
		}
	}
}

func TestParseReplyAuto(t *testing.T) {
	tests := []struct {
		name    string
		headers string
		autoWhy string
	}{
		{"Auto-Submitted no", "Auto-Submitted: No\r\n", ""},
		{"Auto-Submitted empty", "Auto-Submitted:\r\n", "Auto-Submitted:"},
		{"Auto-Submitted with parameters", "Auto-Submitted: auto-generated; owner-email=\"x@y\"\r\n", "Auto-Submitted: auto-generated"},
		{"Precedence bulk", "Precedence: Bulk\r\n", "Precedence: bulk"},
		{"Precedence junk", "Precedence: junk\r\n", "Precedence: junk"},
		{"Precedence auto_reply", "Precedence: auto_reply\r\n", "Precedence: auto_reply"},
		{"Precedence first-class", "Precedence: first-class\r\n", ""},
		{"X-Autoreply", "X-Autoreply: yes\r\n", "X-Autoreply present"},
		{"X-Autorespond", "X-Autorespond: Out of office\r\n", "X-Autorespond present"},
		{"X-Auto-Response-Suppress is not a signal", "X-Auto-Response-Suppress: All\r\n", ""},
		{"List-Id", "List-Id: <x.lists.example.net>\r\n", "List-Id present"},
		{"List-Unsubscribe", "List-Unsubscribe: <mailto:leave@example.net>\r\n", "List-Unsubscribe present"},
		{"Return-Path null", "Return-Path: <>\r\n", "Return-Path: <>"},
		{"Return-Path set", "Return-Path: <jane.doe@example.com>\r\n", ""},
		{"report", "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n", "content type multipart/report"},
		{"DSN part", "Content-Type: multipart/mixed; boundary=b\r\n", "content type message/delivery-status"},
		{"subject out of office", "Subject: Out of Office: Re: your request\r\n", "Subject: Out of Office: Re: your request"},
		{"subject Abwesenheitsnotiz", "Subject: =?utf-8?Q?Abwesenheitsnotiz:_Ihre_Anfrage?=\r\n", "Subject: Abwesenheitsnotiz: Ihre Anfrage"},
		{"subject Undeliverable", "Subject: Undeliverable: your request\r\n", "Subject: Undeliverable: your request"},
		{"subject plain Re", "Subject: Re: Automatic reply settings\r\n", ""},
	}
	body := "--b\r\nContent-Type: text/plain\r\n\r\nYes.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b--\r\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: jane.doe@example.com\r\n" + tt.headers + "\r\n" + body
			r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatal(err)
			}
			if r.Auto != (tt.autoWhy != "") || r.AutoWhy != tt.autoWhy {
				t.Errorf("Auto, AutoWhy = %v, %q; want %q", r.Auto, r.AutoWhy, tt.autoWhy)
			}
		})
	}
	for _, from := range []string{"MAILER-DAEMON@example.net", "Postmaster <postmaster@example.net>"} {
		r, err := ParseReply([]byte("From: "+from+"\r\n\r\nx\r\n"), Envelope{}, inboundTestLocal, inboundTestDomain)
		if err != nil || !r.Auto || !strings.HasPrefix(r.AutoWhy, "From: ") {
			t.Errorf("From: %s: got %+v, %v; want Auto by From", from, r, err)
		}
	}
}

func TestParseReplyDMARC(t *testing.T) {
	for results, want := range map[string]bool{
		"mx.example.org; dkim=pass header.d=example.com; spf=pass; dmarc=pass":             false,
		"mx.example.org; dkim=fail; spf=softfail; DMARC=FAIL (p=reject) header.from=x.com": true,
		"mx.example.org; dkim=none; spf=fail smtp.mailfrom=example.com":                    true,
		"mx.example.org; dkim=pass header.d=example.com; spf=fail smtp.mailfrom=x.com":     false,
		"mx.example.org; dmarc = fail":                                                     true,
		"mx.example.org; dmarc=failed-to-parse-is-not-fail; spf=none":                      false,
	} {
		raw := "From: jane.doe@example.com\r\nAuthentication-Results: " + results + "\r\n\r\nYes.\r\n"
		r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
		if err != nil || r.DMARCFail != want {
			t.Errorf("%s: got %+v, %v; want DMARCFail %v", results, r, err, want)
		}
	}
	two := "From: jane.doe@example.com\r\nAuthentication-Results: a; dmarc=pass\r\nAuthentication-Results: b; dmarc=fail\r\n\r\nx\r\n"
	if r, _ := ParseReply([]byte(two), Envelope{}, inboundTestLocal, inboundTestDomain); r == nil || !r.DMARCFail {
		t.Errorf("a failing second Authentication-Results header was missed: %+v", r)
	}
}

func inboundTestMessage(t *testing.T, raw string) *mail.Message {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader([]byte(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestInboundReplyText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"CRLF and trailing space", "Yes.  \r\nSure.\r\n\r\n", "Yes.\nSure."},
		{"On wrote", "Yes.\n\nOn Mon, 3 Nov 2026, Team <p@example.org> wrote:\nold\n", "Yes."},
		{"On wrote over two lines", "Yes.\nOn Mon, 3 Nov 2026 at 10:02, Team <\np@example.org> wrote:\nold", "Yes."},
		{"sentence starting On is kept", "On Monday I filed it.\nYes, it is mine.", "On Monday I filed it.\nYes, it is mine."},
		{"German", "Ja.\n\nAm 03.11.2026 um 10:02 schrieb Team <p@example.org>:\nalt", "Ja."},
		{"French", "Oui.\n\nLe lun. 3 nov. 2026 à 10:02, Team <p@example.org> a écrit\u00a0:\nancien", "Oui."},
		{"Original Message", "Yes.\n-----Original Message-----\nFrom: Team\nold", "Yes."},
		{"German Outlook separator", "Ja.\n-----Ursprüngliche Nachricht-----\nVon: Team\nalt", "Ja."},
		{"Outlook underscores", "Yes.\n\n________________________________\nFrom: Team\nSent: Monday\nTo: Jane\nSubject: x\n\nold", "Yes."},
		{"Outlook header block", "Yes.\n\nFrom: Team <p@example.org>\nSent: Monday\nTo: Jane\nSubject: x\n\nold", "Yes."},
		{"German header block", "Ja.\nVon: Team\nGesendet: Montag\nAn: Jane\nBetreff: x\nalt", "Ja."},
		{"a From: sentence is kept", "From: my side, yes.\nThanks.", "From: my side, yes.\nThanks."},
		{"forwarded", "See below.\n\nBegin forwarded message:\n\nFrom: Team\nold", "See below."},
		{"Gmail forward", "See below.\n---------- Forwarded message ---------\nFrom: Team\nold", "See below."},
		{"inline quotes dropped", "> Is it yours?\nYes.\n> Send by mail?\nNo, by email.", "Yes.\nNo, by email."},
		{"signature dash dash space", "Yes.\n-- \nJane\nStreet 1", "Yes."},
		{"signature dash dash", "Yes.\n--\nJane", "Yes."},
		{"three dashes are text", "Yes.\n---\nNo.", "Yes.\n---\nNo."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replyText(tt.in); got != tt.want {
				t.Errorf("replyText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	long := strings.Repeat("ü", replyMaxText+10)
	if got := replyText(long); len([]rune(got)) != replyMaxText || !strings.HasPrefix(long, got) {
		t.Errorf("replyText of %d runes gave %d runes", replyMaxText+10, len([]rune(got)))
	}
}

func TestInboundHTMLText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"blocks and entities", "<p>Yes &amp; <b>no</b>&nbsp;then</p><p>Second\n  line</p>", "Yes & no then\nSecond line"},
		{"br", "One<br>Two<br/>Three", "One\nTwo\nThree"},
		{"head style script", "<html><head><title>T</title><style>p{}</style></head><body>Text<script>x()</script></body></html>", "Text"},
		{"nested blockquote", "Mine<blockquote>a<blockquote>b</blockquote>c</blockquote>after", "Mine\nafter"},
		{"gmail quote", "<div dir=ltr>Yes</div><div class=\"gmail_quote\">On x wrote:<blockquote>old</blockquote></div>", "Yes"},
		{"outlook appendonsend", "<div>Yes</div><div id=\"appendonsend\"></div><hr><div id=\"divRplyFwdMsg\">From: Team</div>old", "Yes"},
		{"outlook divRplyFwdMsg", "<div>Yes</div><hr><div id=divRplyFwdMsg dir=ltr>From: Team</div>old", "Yes"},
		{"comment", "Yes<!-- <p>hidden</p> -->!", "Yes!"},
		{"bare less-than", "1 < 2 and 3 <4", "1 < 2 and 3 <4"},
		{"unclosed tag", "Yes <b", "Yes <b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replyHTMLText(tt.in); got != tt.want {
				t.Errorf("replyHTMLText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInboundBodyDecoding(t *testing.T) {
	tests := []struct {
		name, headers, body, want string
	}{
		{"latin-1 quoted-printable", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
			"Gr=FC=DFe =96 Jane", "Grüße – Jane"},
		{"windows-1252 8bit", "Content-Type: text/plain; charset=\"windows-1252\"\r\nContent-Transfer-Encoding: 8bit\r\n",
			"I\x92m sure \x80", "I’m sure €"},
		{"base64 with junk", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
			"WWVz LCBp\r\ndCdzIG1p bmUu\r\n==junk", "Yes, it's mine."},
		{"unknown charset, invalid bytes", "Content-Type: text/plain; charset=x-unknown\r\n", "ok \xff ok", "ok \uFFFD ok"},
		{"no content type", "", "plain", "plain"},
		{"format=flowed", "Content-Type: text/plain; format=flowed\r\n",
			"\r\nOne \r\ntwo \r\n three.\r\n> quoted \r\n> more\r\n-- \r\nsig", "One two three."},
		{"format=flowed delsp", "Content-Type: text/plain; format=flowed; delsp=yes\r\n",
			"Zusammen \r\ngeschrieben.\r\n\r\nNeu.", "Zusammengeschrieben.\n\nNeu."},
		{"related inside mixed inside alternative",
			"Content-Type: multipart/mixed; boundary=m\r\n",
			"--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n" +
				"--r\r\nContent-Type: text/html\r\n\r\n<p>Deep</p>\r\n--r\r\nContent-Type: image/png\r\n\r\nPNG\r\n--r--\r\n--a--\r\n" +
				"--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached\r\n--m--\r\n",
			"Deep"},
		{"plain preferred over earlier HTML", "Content-Type: multipart/alternative; boundary=a\r\n",
			"--a\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n--a--\r\n", "plain"},
		{"forwarded message not descended", "Content-Type: multipart/mixed; boundary=m\r\n",
			"--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.z\r\n\r\ninner\r\n--m--\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "From: jane.doe@example.com\r\n" + tt.headers + "\r\n" + tt.body
			r, err := ParseReply([]byte(raw), Envelope{}, inboundTestLocal, inboundTestDomain)
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tt.want {
				t.Errorf("Text = %q, want %q", r.Text, tt.want)
			}
		})
	}
}

func FuzzParseReply(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "inbound", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env := Envelope{HasEnvelope: true, MailFrom: "x@example.com", Rcpt: []string{string(raw)}}
		r, err := ParseReply(raw, env, inboundTestLocal, inboundTestDomain)
		if err != nil {
			if !errors.Is(err, ErrMalformedMail) || r != nil {
				t.Fatalf("ParseReply = %v, %v", r, err)
			}
			return
		}
		for _, tok := range r.Tokens {
			if !replyValidToken(tok) || strings.ToLower(tok) != tok {
				t.Errorf("invalid token %q", tok)
			}
		}
		if r.Auto != (r.AutoWhy != "") || len([]rune(r.Text)) > replyMaxText || r.From == "" {
			t.Errorf("inconsistent reply %+v", r)
		}
	})
}
