package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
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
	// RootCAs, when set, replaces the system's trusted roots: the system's
	// plus mail.smtp.ca_file, or a test's own CA.
	RootCAs *x509.CertPool
	// HELO is the name we greet the relay with.
	HELO string
}

// SMTPSender sends through a relay with go-mail, keeping a few
// connections open between sends: a burst of mail then costs one TCP and
// TLS handshake (and one AUTH) per connection, not per message.
type SMTPSender struct {
	cfg    SMTPConfig
	client *gomail.Client
	// slots caps the connections open at once (maxConns): the mail queue
	// runs more workers than that, and a relay that limits connections
	// per client should see a few busy sessions, not one per worker.
	slots chan struct{}
	mu    sync.Mutex
	idle  []idleConn
}

type idleConn struct {
	sc    *smtp.Client
	since time.Time
}

// maxConns bounds the connections to the relay, busy or idle; idleFor
// bounds how long one waits unused: relays close quiet sessions (often
// after a minute), so an older idle connection is not reused.
const (
	maxConns     = 4
	maxIdleConns = maxConns
	idleFor      = 30 * time.Second
)

// NewSMTPSender checks the settings once.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	cl, err := cfg.client()
	if err != nil {
		return nil, err
	}
	return &SMTPSender{cfg: cfg, client: cl, slots: make(chan struct{}, maxConns)}, nil
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

// Send sends msg on an idle connection, or a new one. A reused
// connection that turns out dead fails go-mail's NOOP check before
// anything is sent, so the message is then tried once on a fresh one.
func (s *SMTPSender) Send(ctx context.Context, msg *gomail.Msg) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	sc, reused := s.take()
	if sc == nil {
		var err error
		if sc, err = s.client.DialToSMTPClientWithContext(ctx); err != nil {
			return err
		}
	}
	err := s.client.SendWithSMTPClient(sc, msg)
	var se *gomail.SendError
	if err != nil && reused && errors.As(err, &se) && se.Reason == gomail.ErrConnCheck {
		s.client.CloseWithSMTPClient(sc)
		if sc, err = s.client.DialToSMTPClientWithContext(ctx); err != nil {
			return err
		}
		err = s.client.SendWithSMTPClient(sc, msg)
	}
	if err != nil {
		// After a failure the session's state is unknown: never reuse it.
		s.client.CloseWithSMTPClient(sc)
		return err
	}
	s.put(sc)
	return nil
}

func (s *SMTPSender) take() (*smtp.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.since) < idleFor {
			return c.sc, true
		}
		go s.client.CloseWithSMTPClient(c.sc)
	}
	return nil, false
}

func (s *SMTPSender) put(sc *smtp.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.idle) >= maxIdleConns {
		go s.client.CloseWithSMTPClient(sc)
		return
	}
	s.idle = append(s.idle, idleConn{sc, time.Now()})
}

// Close ends the idle connections (at shutdown).
func (s *SMTPSender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		s.client.CloseWithSMTPClient(c.sc)
	}
	return nil
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
