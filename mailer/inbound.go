package mailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
)

// ErrMalformedMail is returned when an inbound message cannot be read as a
// mail at all; callers drop such messages without acting.
var ErrMalformedMail = errors.New("mailer: malformed mail")

// Envelope is what the SMTP transaction said, when the reply came over SMTP.
// From the webhook it is empty (HasEnvelope false).
type Envelope struct {
	HasEnvelope bool
	MailFrom    string   // the return path; "" means the null sender <>
	Rcpt        []string // RCPT TO addresses
}

// Reply is what the portal needs to know of an inbound message to decide
// whether it verifies a request (SPEC §8); it carries no decision itself.
type Reply struct {
	MessageID string   // Message-ID header without angle brackets, trimmed; may be ""
	From      string   // the From address, lower-cased, no display name
	Tokens    []string // tokens found in recipient addresses, lower-cased, de-duplicated, in order found
	Auto      bool     // auto-reply, bounce, DSN, list mail: must never act
	AutoWhy   string   // short reason when Auto (for logs), e.g. "Auto-Submitted: auto-replied"
	Text      string   // the subject's own words, quoted history and signature removed, at most 20000 chars
	Subject   string   // decoded Subject header (RFC 2047)
	DMARCFail bool     // an Authentication-Results header says dmarc=fail (or spf=fail and dkim not pass)
}

const (
	replyMaxText  = 20000
	replyMaxDepth = 8   // nesting of multiparts; deeper is abuse, not mail
	replyMaxParts = 100 // parts per multipart
)

// ParseReply reads a raw RFC 5322 message. Tokens are taken from any
// recipient address <localPart>+<token>@<domain> found in the envelope
// recipients, To, Cc, Delivered-To, X-Original-To and Envelope-To. It fails
// (wrapping ErrMalformedMail) only when there are no headers or no From
// address; everything else is parsed as leniently as real mail demands.
func ParseReply(raw []byte, env Envelope, localPart, domain string) (*Reply, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedMail, err)
	}
	if len(msg.Header) == 0 {
		return nil, fmt.Errorf("%w: no headers", ErrMalformedMail)
	}
	from := inboundFirstAddress(msg.Header.Get("From"))
	if from == "" {
		return nil, fmt.Errorf("%w: no From address", ErrMalformedMail)
	}
	r := &Reply{
		MessageID: strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>"),
		From:      from,
		Subject:   inboundDecodeHeader(msg.Header.Get("Subject")),
		Tokens:    inboundTokens(msg.Header, env, localPart, domain),
		DMARCFail: inboundDMARCFail(msg.Header["Authentication-Results"]),
	}
	var body inboundBody
	body.walk(msg.Header, msg.Body, 0)
	r.AutoWhy = inboundAutoWhy(msg.Header, env, r, body.types)
	r.Auto = r.AutoWhy != ""
	r.Text = replyText(body.text())
	return r, nil
}

// inboundHeader is what mail.Header and textproto.MIMEHeader share, so one
// walker serves the top level and every part.
type inboundHeader interface{ Get(string) string }

// inboundWords decodes RFC 2047 words; the CharsetReader adds the
// single-byte charsets Outlook still uses, and never fails, so that one odd
// charset does not cost the whole header.
var inboundWords = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	return strings.NewReader(inboundToUTF8(charset, b)), err
}}

// inboundDecodeHeader decodes RFC 2047 words. mime decodes "iso-8859-1"
// itself, byte for byte, so C1 controls are mapped afterwards as
// windows-1252: senders that label text latin-1 mean that.
func inboundDecodeHeader(v string) string {
	if s, err := inboundWords.DecodeHeader(v); err == nil {
		v = s
	}
	v = strings.Map(func(r rune) rune {
		if r >= 0x80 && r < 0xA0 {
			return inboundCP1252[r-0x80]
		}
		return r
	}, v)
	return strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD")
}

var (
	inboundAngleAddr = regexp.MustCompile(`<([^<>\s@]+@[^<>\s@]+)>`)
	inboundBareAddr  = regexp.MustCompile(`[^\s<>()",;:@]+@[^\s<>()",;:@]+`)
)

// inboundAddresses lists the addr-specs of one address header, lower-cased.
// net/mail is tried first; when it rejects the header (raw 8-bit names,
// stray quotes), the addresses are pulled out by pattern instead, because a
// sloppy client must not make a genuine reply unreadable.
func inboundAddresses(v string) []string {
	var out []string
	p := mail.AddressParser{WordDecoder: inboundWords}
	if list, err := p.ParseList(v); err == nil {
		for _, a := range list {
			out = append(out, strings.ToLower(a.Address))
		}
		return out
	}
	if m := inboundAngleAddr.FindAllStringSubmatch(v, -1); len(m) > 0 {
		for _, s := range m {
			out = append(out, strings.ToLower(s[1]))
		}
		return out
	}
	for _, s := range inboundBareAddr.FindAllString(v, -1) {
		out = append(out, strings.ToLower(s))
	}
	return out
}

// inboundFirstAddress returns the first address of a From header; with
// several authors the first one is the one mail clients show.
func inboundFirstAddress(v string) string {
	if list := inboundAddresses(v); len(list) > 0 {
		return list[0]
	}
	return ""
}

// inboundTokenHeaders are the headers a reply address may show up in; the
// delivery headers matter when the subject used Bcc.
var inboundTokenHeaders = []string{"To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"}

func inboundTokens(h mail.Header, env Envelope, localPart, domain string) []string {
	var addrs []string
	for _, rcpt := range env.Rcpt {
		addrs = append(addrs, inboundAddresses(rcpt)...)
	}
	for _, name := range inboundTokenHeaders {
		for _, v := range h[name] {
			addrs = append(addrs, inboundAddresses(v)...)
		}
	}
	prefix := strings.ToLower(localPart) + "+"
	var tokens []string
	for _, a := range addrs {
		at := strings.LastIndexByte(a, '@')
		if at < 0 || !strings.EqualFold(a[at+1:], domain) || !strings.HasPrefix(a[:at], prefix) {
			continue
		}
		tok := a[len(prefix):at]
		if replyValidToken(tok) && !inboundContains(tokens, tok) {
			tokens = append(tokens, tok)
		}
	}
	return tokens
}

// replyValidToken says whether s is a lower-case base32 token of 16-64
// characters, the shape the portal issues.
func replyValidToken(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func inboundContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	inboundDMARCFailRE = regexp.MustCompile(`\bdmarc\s*=\s*fail\b`)
	inboundSPFFailRE   = regexp.MustCompile(`\bspf\s*=\s*fail\b`)
	inboundDKIMPassRE  = regexp.MustCompile(`\bdkim\s*=\s*pass\b`)
)

// inboundDMARCFail reads the receiving MTA's verdict. SPF failing alone is
// not enough: forwarding breaks SPF while a DKIM pass still proves origin.
func inboundDMARCFail(results []string) bool {
	for _, v := range results {
		v = strings.ToLower(v)
		if inboundDMARCFailRE.MatchString(v) {
			return true
		}
		if inboundSPFFailRE.MatchString(v) && !inboundDKIMPassRE.MatchString(v) {
			return true
		}
	}
	return false
}

// inboundSubjectPrefixes are subject starts of auto-replies and bounces in
// the languages the portal's subjects write in. They are checked last: a
// header is better evidence, but a subject alone is enough to stay silent.
var inboundSubjectPrefixes = []string{
	"auto:", "automatic reply:", "autoreply:", "auto-reply:", "out of office",
	"abwesenheitsnotiz", "automatische antwort:", "réponse automatique",
	"undeliverable:", "undelivered mail", "delivery status notification",
	"returned mail:", "mail delivery failed", "failure notice",
}

// inboundAutoWhy returns why the message is machine-made, or "". Any one
// signal suffices (SPEC §8): acting on an auto-reply could verify a request
// for someone who never read the mail.
func inboundAutoWhy(h mail.Header, env Envelope, r *Reply, types []string) string {
	// An empty Auto-Submitted is malformed; staying silent is the safe side.
	if v, ok := h["Auto-Submitted"]; ok && (len(v) == 0 || inboundHeaderWord(v[0]) != "no") {
		return strings.TrimSpace("Auto-Submitted: " + inboundHeaderWord(h.Get("Auto-Submitted")))
	}
	switch v := inboundHeaderWord(h.Get("Precedence")); v {
	case "bulk", "junk", "list", "auto_reply":
		return "Precedence: " + v
	}
	// X-Auto-Response-Suppress is deliberately absent: senders set it on
	// ordinary mail to ask that others do not auto-reply to them.
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "X-Autogenerated", "List-Id", "List-Unsubscribe"} {
		if _, ok := h[name]; ok {
			return name + " present"
		}
	}
	if rp, ok := h["Return-Path"]; ok && len(rp) > 0 && inboundNullPath(rp[0]) {
		return "Return-Path: <>"
	}
	if env.HasEnvelope && inboundNullPath(env.MailFrom) {
		return "null envelope sender"
	}
	for _, t := range types {
		switch t {
		case "multipart/report", "message/delivery-status", "message/global-delivery-status":
			return "content type " + t
		}
	}
	if local, _, _ := strings.Cut(r.From, "@"); local == "mailer-daemon" || local == "postmaster" {
		return "From: " + local
	}
	subject := strings.ToLower(r.Subject)
	for _, p := range inboundSubjectPrefixes {
		if strings.HasPrefix(subject, p) {
			return "Subject: " + r.Subject
		}
	}
	return ""
}

// inboundHeaderWord is a header's value before any ';' parameters,
// lower-cased and trimmed.
func inboundHeaderWord(v string) string {
	v, _, _ = strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(v))
}

func inboundNullPath(v string) bool {
	v = strings.TrimSpace(v)
	return strings.TrimSpace(strings.Trim(v, "<>")) == ""
}
