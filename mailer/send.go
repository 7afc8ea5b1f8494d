package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers one message. An error that IsPermanent reports as
// permanent means the relay refused the message for good.
type Sender interface {
	Send(ctx context.Context, msg *gomail.Msg) error
}

// SMTPConfig is the relay of SPEC §5.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      string // none, starttls, tls
	Username string
	Password string
	Timeout  time.Duration
	// InsecureSkipVerify accepts any certificate (test relays only).
	InsecureSkipVerify bool
	// RootCAs, when set, replaces the system's trusted roots (tests).
	RootCAs *x509.CertPool
	// HELO is the name we greet the relay with.
	HELO string
}

// SMTPSender sends through a relay with go-mail.
type SMTPSender struct {
	cfg SMTPConfig
}

// NewSMTPSender checks the settings once; connections are made per send.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if _, err := cfg.client(); err != nil {
		return nil, err
	}
	return &SMTPSender{cfg: cfg}, nil
}

func (c SMTPConfig) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: c.Host, InsecureSkipVerify: c.InsecureSkipVerify, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch c.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mailer: smtp tls %q is not none, starttls or tls", c.TLS)
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	if c.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.HELO))
	}
	cl, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mailer: smtp client: %w", err)
	}
	return cl, nil
}

// Send dials the relay, sends msg and hangs up.
func (s *SMTPSender) Send(ctx context.Context, msg *gomail.Msg) error {
	cl, err := s.cfg.client()
	if err != nil {
		return err
	}
	return cl.DialAndSendWithContext(ctx, msg)
}

// IsPermanent reports whether err is a relay's final refusal of this
// message (a 5xx answer to MAIL, RCPT or DATA), which no retry will
// change. Connection failures, timeouts, 4xx answers and authentication
// failures (an operator can fix those) are temporary.
func IsPermanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	code := se.ErrorCode()
	if code < 500 || code > 599 {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return true
	}
	return false
}

// FileSender writes each message as an .eml file, for development and
// for machines without a relay.
type FileSender struct {
	Dir string
}

// Send writes msg to <dir>/<message-id>.eml atomically: a retry after a
// crash overwrites the same file rather than adding a second.
func (f FileSender) Send(_ context.Context, msg *gomail.Msg) error {
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return fmt.Errorf("mailer: mail folder: %w", err)
	}
	ids := msg.GetGenHeader(gomail.HeaderMessageID)
	if len(ids) == 0 {
		return errors.New("mailer: message has no Message-ID")
	}
	name := filepath.Join(f.Dir, fileName(ids[0])+".eml")
	tmp, err := os.CreateTemp(f.Dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("mailer: write mail: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := msg.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("mailer: write mail: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mailer: write mail: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mailer: write mail: %w", err)
	}
	return os.Rename(tmp.Name(), name)
}

// fileName keeps the safe characters of a Message-ID.
func fileName(id string) string {
	b := []byte(id)
	out := b[:0]
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			out = append(out, c)
		}
	}
	return string(out)
}
