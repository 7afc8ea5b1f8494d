// Package mailer turns events into real MIME mail and back: it renders
// outgoing mail from templates, queues nothing itself (the store writes
// mail in the transaction of the change that caused it), sends queued
// mail through SMTP or into .eml files from a job worker, and reads the
// replies that come back.
package mailer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"strings"
	texttemplate "text/template"

	"rightsportal/i18n"
	"rightsportal/models"
)

// Composer renders mail from the templates in templates/mail: for each
// kind a subject line and a text part (text/template) and an HTML part
// (html/template, inside a shared layout). Mail to a data subject is
// parsed once per configured language, with that language's template
// functions ({{t "key"}}, {{date .At}}, {{lang}}) bound; staff notices
// once, in English, the language staff work in.
type Composer struct {
	from        *mail.Address
	replyLocal  string
	replyDomain string
	key         []byte
	cat         *i18n.Catalog
	// sets is each kind's templates by language.
	sets map[string]map[string]*templateSet
}

// templateSet is one kind's three templates in one language.
type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Kinds are the mails the portal sends; each has three templates.
func Kinds() []string {
	return []string{"verification", "verification_reminder", "acknowledgment", "request_info", "rejection", "completion", "extension",
		"withdrawal", "download_code", "status_link", "recipient_notice", "appeal_received", "appeal_granted", "appeal_denied",
		"staff_new_request", "staff_assigned", "staff_answered", "staff_withdrawn", "staff_appeal",
		"staff_due_soon", "staff_overdue", "staff_extension_deadline", "staff_task_failed"}
}

// NewComposer parses every mail template once. key seals the secrets a
// mail carries until it is sent (32 bytes, AES-256); cat holds the
// languages mail to a subject is written in.
func NewComposer(tfs fs.FS, from, replyLocal, replyDomain string, key []byte, cat *i18n.Catalog) (*Composer, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mailer: sender %q: %w", from, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("mailer: the sealing key must be 32 bytes, not %d", len(key))
	}
	if cat == nil {
		return nil, fmt.Errorf("mailer: no language catalog")
	}
	c := &Composer{from: addr, replyLocal: replyLocal, replyDomain: replyDomain, key: key, cat: cat,
		sets: map[string]map[string]*templateSet{}}
	for _, k := range Kinds() {
		langs := cat.Languages()
		if staffKind(k) {
			langs = []string{i18n.Source}
		}
		c.sets[k] = map[string]*templateSet{}
		for _, l := range langs {
			if c.sets[k][l], err = parseKind(tfs, k, cat.For(l).Funcs()); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parseKind parses one kind's templates with one language's functions.
// missingkey=error: a template that names data the caller did not give
// fails loudly instead of mailing "<no value>".
func parseKind(tfs fs.FS, k string, funcs map[string]any) (*templateSet, error) {
	var ts templateSet
	var err error
	if ts.subject, err = texttemplate.New(k+".subject.txt").Option("missingkey=error").Funcs(funcs).ParseFS(tfs, "mail/"+k+".subject.txt"); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	if ts.text, err = texttemplate.New(k+".txt").Option("missingkey=error").Funcs(funcs).ParseFS(tfs, "mail/"+k+".txt"); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	if ts.html, err = htmltemplate.New(k+".html").Option("missingkey=error").Funcs(funcs).ParseFS(tfs, "mail/layout.html", "mail/"+k+".html"); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	return &ts, nil
}

// staffKind reports whether a kind is a notice to staff, always written
// in English.
func staffKind(kind string) bool { return strings.HasPrefix(kind, "staff_") }

// language is the language a mail of kind is written in when the caller
// asks for want: English for staff, want when it is configured, else the
// default language.
func (c *Composer) language(kind, want string) string {
	switch {
	case staffKind(kind):
		return i18n.Source
	case c.cat.Supported(want):
		return want
	}
	return c.cat.Default()
}

// Catalog is the languages the composer writes in.
func (c *Composer) Catalog() *i18n.Catalog { return c.cat }

// Secret stands in a rendered mail for a value that must not rest in the
// database readable: a link or an address holding a token. The mail keeps
// the placeholder; the value travels sealed and is put in only when sent.
type Secret struct {
	Placeholder string
	Value       string
}

// NewSecret names a secret. The placeholder is made of characters that no
// escaping (HTML, URL, quoted-printable) changes.
func NewSecret(name, value string) Secret {
	return Secret{Placeholder: "__SECRET_" + strings.ToUpper(name) + "__", Value: value}
}

// Message is what a caller asks to send.
type Message struct {
	Kind string
	To   string
	// Lang is the language of a mail to a data subject: the request's
	// language; empty or not configured means the default language.
	// Staff notices ignore it (they are in English).
	Lang string
	// ReplyToken, when set, makes the Reply-To address carry a token:
	// <reply_local>+<token>@<reply_domain>, as a secret of its own.
	ReplyToken string
	Data       any
	Secrets    []Secret
}

// Compose renders m into a mail row ready to be queued.
func (c *Composer) Compose(m Message) (*models.Mail, error) {
	if c.sets[m.Kind] == nil {
		return nil, fmt.Errorf("mailer: no templates for mail kind %q", m.Kind)
	}
	lang := c.language(m.Kind, m.Lang)
	ts := c.sets[m.Kind][lang]
	var subj, text, html bytes.Buffer
	if err := ts.subject.Execute(&subj, m.Data); err != nil {
		return nil, fmt.Errorf("mailer: render %s subject: %w", m.Kind, err)
	}
	if err := ts.text.Execute(&text, m.Data); err != nil {
		return nil, fmt.Errorf("mailer: render %s text: %w", m.Kind, err)
	}
	if err := ts.html.ExecuteTemplate(&html, "layout", m.Data); err != nil {
		return nil, fmt.Errorf("mailer: render %s html: %w", m.Kind, err)
	}
	secrets := m.Secrets
	replyTo := c.from.Address
	if m.ReplyToken != "" {
		s := NewSecret("reply_to", c.replyLocal+"+"+m.ReplyToken+"@"+c.replyDomain)
		secrets = append(secrets, s)
		replyTo = s.Placeholder
	}
	sealed, err := sealSecrets(c.key, secrets)
	if err != nil {
		return nil, err
	}
	return &models.Mail{
		Kind: m.Kind, Language: lang, ToAddr: m.To, ReplyTo: replyTo,
		Subject:  strings.Join(strings.Fields(subj.String()), " "),
		TextBody: text.String(), HTMLBody: html.String(),
		Sealed: sealed, MessageID: c.newMessageID(),
	}, nil
}

// newMessageID is fixed when the mail is queued, so every retry and any
// duplicate after a crash carries the same Message-ID.
func (c *Composer) newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + c.replyDomain
}
