package mailer

import (
	"html"
	"regexp"
	"strings"
	"unicode/utf8"
)

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
