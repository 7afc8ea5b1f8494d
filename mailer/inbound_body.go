package mailer

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
)

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
