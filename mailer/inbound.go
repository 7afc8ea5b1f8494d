package mailer

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
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

// inboundBody collects, while walking the MIME tree, the first inline plain
// and HTML parts and every content type seen (a DSN part anywhere marks a
// bounce).
type inboundBody struct {
	plain, html string
	hasPlain    bool
	types       []string
}

// text prefers the plain part: it is what the sender's client meant as text,
// and the HTML converter is only a fallback.
func (b *inboundBody) text() string {
	if b.hasPlain {
		return b.plain
	}
	return replyHTMLText(b.html)
}

func (b *inboundBody) walk(h inboundHeader, body io.Reader, depth int) {
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil && ct == "" {
		ct, params = "text/plain", map[string]string{}
	}
	b.types = append(b.types, ct)
	disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case strings.HasPrefix(ct, "multipart/"):
		if depth < replyMaxDepth && params["boundary"] != "" {
			b.walkParts(multipart.NewReader(body, params["boundary"]), depth)
		}
	case disp == "attachment":
		// An attached text file is not what the subject wrote.
	case ct == "text/plain" && !b.hasPlain:
		b.plain, b.hasPlain = inboundDecodePart(h, body, params), true
		if strings.EqualFold(params["format"], "flowed") {
			b.plain = replyUnflow(b.plain, strings.EqualFold(params["delsp"], "yes"))
		}
	case ct == "text/html" && b.html == "":
		b.html = inboundDecodePart(h, body, params)
	}
}

// walkParts uses NextRawPart so that every part is decoded by the same code
// whatever its transfer encoding; a broken part ends the walk but keeps what
// was found before it.
func (b *inboundBody) walkParts(mr *multipart.Reader, depth int) {
	for i := 0; i < replyMaxParts; i++ {
		p, err := mr.NextRawPart()
		if err != nil {
			return
		}
		b.walk(p.Header, p, depth+1)
	}
}

func inboundDecodePart(h inboundHeader, body io.Reader, params map[string]string) string {
	raw, _ := io.ReadAll(body) // a truncated part still gives its beginning
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		raw, _ = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	case "base64":
		raw = inboundBase64(raw)
	}
	return inboundToUTF8(params["charset"], raw)
}

// inboundBase64 decodes leniently: clients wrap lines, pad wrongly or leave
// trailing junk, and the readable part is still worth having.
func inboundBase64(raw []byte) []byte {
	clean := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c == '=' {
			break // padding ends the data; what follows is junk
		}
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// inboundCP1252 maps windows-1252's 0x80-0x9F, where it differs from
// ISO-8859-1; Outlook's curly quotes and dashes live here. Unassigned bytes
// map to U+FFFD.
var inboundCP1252 = [32]rune{
	'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
	'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
}

// inboundToUTF8 converts the charsets seen in practice by hand, to keep the
// module free of x/text; anything else is kept when it is valid UTF-8 (often
// mislabelled) and otherwise has its invalid bytes replaced.
func inboundToUTF8(charset string, b []byte) string {
	switch strings.ToLower(strings.Trim(charset, `" `)) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1",
		"windows-1252", "cp1252", "x-cp1252":
		// Windows-1252 is a superset of ISO-8859-1's printable range, and
		// C1 controls never occur in real text, so one table serves both
		// (as WHATWG decoders also treat them).
		var s strings.Builder
		for _, c := range b {
			if c >= 0x80 && c < 0xA0 {
				s.WriteRune(inboundCP1252[c-0x80])
			} else {
				s.WriteRune(rune(c))
			}
		}
		return s.String()
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// replyUnflow joins format=flowed soft line breaks (RFC 3676) so that a
// sentence wrapped by the client reads as one line again. Quoted lines keep
// their depth; they are dropped later anyway.
func replyUnflow(s string, delsp bool) string {
	var out strings.Builder
	open, prevDepth := false, 0 // open: the previous line ended with a soft break
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		depth := len(line) - len(strings.TrimLeft(line, ">"))
		content := strings.TrimPrefix(line[depth:], " ") // space-stuffing
		if !open || depth != prevDepth {
			if i > 0 {
				out.WriteByte('\n')
			}
			out.WriteString(strings.Repeat(">", depth) + replySpaceIf(depth > 0))
		}
		open, prevDepth = strings.HasSuffix(content, " ") && content != "-- ", depth
		if open && delsp {
			content = strings.TrimSuffix(content, " ")
		}
		out.WriteString(content)
	}
	return out.String()
}

func replySpaceIf(b bool) string {
	if b {
		return " "
	}
	return ""
}

var (
	// Attribution lines, joined with the next line first because Gmail
	// wraps long ones: "On …, Name <addr> wrote:", "Am … schrieb …:",
	// "Le … a écrit :", "Op … schreef …:", "El … escribió:".
	replyAttribution = regexp.MustCompile(`(?i)^(on\s.+\swrote|am\s.+\sschrieb\s.*|le\s.+\sa\s+écrit[\s\x{a0}]*|op\s.+\sschreef\s.*|el\s.+\sescribió)\s*:$`)
	replySeparator   = regexp.MustCompile(`(?i)^(-{3,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)\s*-{3,}|begin forwarded message:)$`)
	replyUnderscores = regexp.MustCompile(`^_{10,}$`)
	replyHeaderLine  = regexp.MustCompile(`(?i)^(from|von|de|sent|gesendet|envoyé|date|datum|to|an|à|cc|subject|betreff|objet)\s*:`)
	replyFromLine    = regexp.MustCompile(`(?i)^(from|von|de)\s*:`)
)

// replyText reduces a plain-text body to the subject's own words: it cuts at
// the first sign of quoted history or a signature, drops "> " lines left
// from inline quoting, and caps the length.
func replyText(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(s, "\n")
	lines = lines[:replyCut(lines)]
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") {
			kept = append(kept, strings.TrimRight(l, " \t\u00a0"))
		}
	}
	s = strings.TrimSpace(strings.Join(kept, "\n"))
	if utf8.RuneCountInString(s) > replyMaxText {
		s = string([]rune(s)[:replyMaxText])
	}
	return s
}

// replyCut returns the index of the first line that starts quoted history
// or a signature, or len(lines).
func replyCut(lines []string) int {
	for i, l := range lines {
		if l == "-- " || l == "--" {
			return i
		}
		t := strings.TrimSpace(l)
		next := ""
		if i+1 < len(lines) {
			next = strings.TrimSpace(lines[i+1])
		}
		switch {
		case replyAttribution.MatchString(t), replySeparator.MatchString(t):
			return i
		case next != "" && replyAttribution.MatchString(t+" "+next) && !replyAttribution.MatchString(next):
			return i
		case replyUnderscores.MatchString(t) && replyHeaderBlock(lines[i+1:]):
			return i
		case replyHeaderBlock(lines[i:]):
			return i
		}
	}
	return len(lines)
}

// replyHeaderBlock says whether lines start (after at most one blank line)
// with a quoted message's header block as Outlook writes it: "From:" and at
// least two more of "Sent:", "To:", "Subject:"... in a row, so that a
// sentence of the subject's that begins "From:" does not cut the text.
func replyHeaderBlock(lines []string) bool {
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) == 0 || !replyFromLine.MatchString(strings.TrimSpace(lines[0])) {
		return false
	}
	for n, l := range lines {
		if n == 3 {
			return true
		}
		if !replyHeaderLine.MatchString(strings.TrimSpace(l)) {
			return false
		}
	}
	return len(lines) >= 3
}

// replyHTMLCuts mark where quoted history begins in HTML replies: Gmail's
// quote container, Thunderbird's attribution, Outlook's reply header and the
// marker it inserts before it. Everything from there on is history.
var replyHTMLCuts = regexp.MustCompile(`(?i)<div[^>]*\s(class\s*=\s*["']?(gmail_quote|moz-cite-prefix|yahoo_quoted)|id\s*=\s*["']?(divRplyFwdMsg|appendonsend))`)

// replyHTMLText turns an HTML-only body into plain text with a tolerant tag
// scanner; quoting, scripts and styles are dropped, block ends become
// newlines, and what is left goes through the same clean-up as plain text.
func replyHTMLText(s string) string {
	if loc := replyHTMLCuts.FindStringIndex(s); loc != nil {
		s = s[:loc[0]]
	}
	var b strings.Builder
	skip, depth := "", 0 // element whose content is dropped, and its nesting
	for s != "" {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			i = len(s)
		}
		if skip == "" {
			b.WriteString(replyCollapse(s[:i]))
		}
		s = s[i:]
		if s == "" {
			break
		}
		if strings.HasPrefix(s, "<!--") {
			_, s, _ = strings.Cut(s, "-->")
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			// No tag can close from here on, so the rest is text; stopping
			// also keeps a run of bare '<' from costing quadratic time.
			if skip == "" {
				b.WriteString(replyCollapse(s))
			}
			break
		}
		name, closing := replyTagName(s)
		if name == "" {
			if skip == "" {
				b.WriteByte('<') // a '<' not opening a tag is text
			}
			s = s[1:]
			continue
		}
		s = s[end+1:]
		skip, depth = replyTag(&b, name, closing, skip, depth)
	}
	return strings.TrimSpace(replyTidyLines(strings.ReplaceAll(html.UnescapeString(b.String()), "\u00a0", " ")))
}

// replyTag applies one tag: it enters or leaves a dropped element, or
// writes the newline a block element implies.
func replyTag(b *strings.Builder, name string, closing bool, skip string, depth int) (string, int) {
	switch {
	case skip != "":
		if name == skip && closing {
			depth--
		} else if name == skip {
			depth++
		}
		if depth == 0 {
			skip = ""
		}
	case !closing && (name == "style" || name == "script" || name == "head" || name == "title" || name == "blockquote"):
		b.WriteString("\n")
		return name, 1
	case name == "br" || closing && (name == "p" || name == "div" || name == "li" || name == "tr" || name == "table" ||
		len(name) == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6'):
		b.WriteString("\n")
	}
	return skip, depth
}

// replyTagName reads the element name after '<' (or "</"), lower-cased.
func replyTagName(s string) (string, bool) {
	s = s[1:]
	closing := strings.HasPrefix(s, "/")
	s = strings.TrimPrefix(s, "/")
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return strings.ToLower(s[:n]), closing
}

// replyCollapse folds HTML source whitespace, newlines included, into single
// spaces: in HTML only tags break lines.
func replyCollapse(s string) string {
	if s == "" {
		return ""
	}
	f := strings.Join(strings.Fields(s), " ")
	if strings.ContainsRune(" \t\r\n", rune(s[0])) {
		f = " " + f
	}
	if f != " " && strings.ContainsRune(" \t\r\n", rune(s[len(s)-1])) {
		f += " "
	}
	return f
}

// replyTidyLines trims every line and keeps at most one blank line in a
// row, which is what converted HTML needs to read like typed text.
func replyTidyLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
