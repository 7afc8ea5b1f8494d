package mailer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// ReplyHandler acts on one inbound message. An error means "try later"
// (the database is down, say): the listener answers 451 so the sending
// server keeps the message and retries; nothing is lost. ErrMalformedMail
// is answered with 550.
type ReplyHandler func(ctx context.Context, raw []byte, env Envelope) error

// ListenerConfig configures the inbound SMTP listener.
type ListenerConfig struct {
	Addr        string
	Domain      string // the reply domain: mail for other domains is refused
	LocalPart   string // the reply local part
	MaxBytes    int64
	ReadTimeout time.Duration
}

// NewListener builds the inbound SMTP server (github.com/emersion/go-smtp)
// that receives replies to our mail. It accepts mail only for
// <local>+<token>@<domain> (and <local>@<domain>): it is not a relay.
func NewListener(cfg ListenerConfig, handle ReplyHandler, log *slog.Logger) *smtp.Server {
	be := &backend{cfg: cfg, handle: handle, log: log}
	s := smtp.NewServer(be)
	s.Addr = cfg.Addr
	s.Domain = cfg.Domain
	s.MaxMessageBytes = cfg.MaxBytes
	s.MaxRecipients = 20
	s.ReadTimeout = max(cfg.ReadTimeout, 30*time.Second)
	s.WriteTimeout = 30 * time.Second
	s.AllowInsecureAuth = false
	return s
}

type backend struct {
	cfg    ListenerConfig
	handle ReplyHandler
	log    *slog.Logger
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

type session struct {
	b   *backend
	env Envelope
}

func (s *session) Reset()        { s.env = Envelope{} }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.env = Envelope{HasEnvelope: true, MailFrom: strings.TrimSpace(from)}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !s.b.ours(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "No such mailbox here (this server only takes replies)"}
	}
	s.env.Rcpt = append(s.env.Rcpt, to)
	return nil
}

// ours reports whether addr is our reply address, with or without token.
func (b *backend) ours(addr string) bool {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || addr[at+1:] != strings.ToLower(b.cfg.Domain) {
		return false
	}
	local := addr[:at]
	return local == b.cfg.LocalPart || strings.HasPrefix(local, b.cfg.LocalPart+"+")
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, s.b.cfg.MaxBytes+1))
	if err != nil {
		return err
	}
	if int64(len(raw)) > s.b.cfg.MaxBytes {
		return smtp.ErrDataTooLarge
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.b.handle(ctx, raw, s.env)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrMalformedMail):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message could not be read"}
	}
	s.b.log.Error("inbound mail could not be handled, asked the sender to retry", "err", err)
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
}
