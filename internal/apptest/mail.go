package apptest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Mail is a received message, decoded.
type Mail struct {
	Header mail.Header
	Text   string
	HTML   string
	Raw    []byte
}

// ParseMail decodes a raw message with a text and an HTML part.
func ParseMail(t testing.TB, raw []byte) *Mail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a mail: %v", err)
	}
	m := &Mail{Header: msg.Header, Raw: raw}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		m.Text = decodePart(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		body := decodePart(t, p.Header.Get("Content-Transfer-Encoding"), p)
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			m.Text = body
		case strings.HasPrefix(ct, "text/html"):
			m.HTML = body
		}
	}
	return m
}

func decodePart(t testing.TB, enc string, r io.Reader) string {
	switch strings.ToLower(enc) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	return string(b)
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link is the first link in the text part that contains substr.
func (m *Mail) Link(t testing.TB, substr string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Text, -1) {
		if strings.Contains(l, substr) {
			return l
		}
	}
	t.Fatalf("no link with %q in:\n%s", substr, m.Text)
	return ""
}

// Subject is the decoded subject.
func (m *Mail) Subject() string {
	s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	return s
}

// ReplyTo is the bare Reply-To address.
func (m *Mail) ReplyTo(t testing.TB) string {
	t.Helper()
	a, err := mail.ParseAddress(m.Header.Get("Reply-To"))
	if err != nil {
		t.Fatalf("reply-to: %v", err)
	}
	return a.Address
}

// MailTo waits for the n-th mail (1-based) the relay accepted for addr
// and decodes it.
func (a *App) MailTo(addr string, n int) *Mail {
	a.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var got []*Mail
		for _, msg := range a.Relay.Messages() {
			for _, to := range msg.To {
				if strings.EqualFold(to, addr) {
					got = append(got, ParseMail(a.T, msg.Data))
				}
			}
		}
		if len(got) >= n {
			return got[n-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.T.Fatalf("no mail #%d to %s; relay has %d messages; logs:\n%s", n, addr, len(a.Relay.Messages()), a.Logs.String())
	return nil
}

// TokenFromLink is the token query parameter of a link.
func TokenFromLink(t testing.TB, link string) string {
	t.Helper()
	i := strings.Index(link, "token=")
	if i < 0 {
		t.Fatalf("no token in %s", link)
	}
	return link[i+len("token="):]
}

// MailWithSubject waits for a mail to addr whose subject contains substr
// (mails are sent by several workers, so arrival order is not queue
// order) and decodes it.
func (a *App) MailWithSubject(addr, substr string) *Mail {
	a.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, msg := range a.Relay.Messages() {
			m := ParseMail(a.T, msg.Data)
			for _, to := range msg.To {
				if strings.EqualFold(to, addr) && strings.Contains(m.Subject(), substr) {
					return m
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.T.Fatalf("no mail to %s with subject containing %q; logs:\n%s", addr, substr, a.Logs.String())
	return nil
}
