package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"rightsportal/ratelimit"
)

// ReplyHandler acts on one inbound message. An error means "try later"
// (the database is down, say): the listener answers 451 so the sending
// server keeps the message and retries; nothing is lost. ErrMalformedMail
// is answered with 550, ErrNoEffect with 250.
type ReplyHandler func(ctx context.Context, raw []byte, env Envelope) error

// ErrNoEffect is what a ReplyHandler returns, wrapped or not, for a
// message it took that changed nothing: no token of ours, an auto-reply,
// a sender other than the request's. The listener accepts it (250) but
// does not count it against its From address (PerFrom): anyone can write
// any address into From, and only a reply that acted proves it came from
// the mailbox the token was sent to.
var ErrNoEffect = errors.New("mailer: the reply changed nothing")

// ListenerConfig configures the inbound SMTP listener.
type ListenerConfig struct {
	Addr        string
	Domain      string // the reply domain: mail for other domains is refused
	LocalPart   string // the reply local part
	MaxBytes    int64
	ReadTimeout time.Duration
	// PerIP caps the messages of one client address (IPv6: its /64) and
	// PerSender those of one envelope sender other than <>; both count at
	// MAIL FROM, before any data is read. PerFrom caps the replies that
	// act for one From address: one over it is read but not handled.
	// Over any of them the answer is 450 4.7.1, so a real mail server
	// keeps the message and retries later. A zero Limit is no limit.
	PerIP, PerSender, PerFrom Limit
	// Now is the limits' clock; nil is time.Now.
	Now func() time.Time
	// TLS, when set, is offered through STARTTLS (see ListenerTLS).
	// RequireTLS then refuses MAIL before STARTTLS with 530 5.7.0; it
	// wants TLS set, or no message gets in.
	TLS        *tls.Config
	RequireTLS bool
}

// Limit allows Burst messages at once and then one more per Every. It
// mirrors config.Limit, which mailer may not import.
type Limit struct {
	Burst int
	Every time.Duration
}

// NewListener builds the inbound SMTP server (github.com/emersion/go-smtp)
// that receives replies to our mail. It accepts mail only for
// <local>+<token>@<domain> (and <local>@<domain>): it is not a relay.
func NewListener(cfg ListenerConfig, handle ReplyHandler, log *slog.Logger) *smtp.Server {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	be := &backend{cfg: cfg, handle: handle, log: log, perIP: newLimiter(cfg.PerIP, now),
		perSender: newLimiter(cfg.PerSender, now), perFrom: newLimiter(cfg.PerFrom, now)}
	s := smtp.NewServer(be)
	s.Addr = cfg.Addr
	s.Domain = cfg.Domain
	s.MaxMessageBytes = cfg.MaxBytes
	s.MaxRecipients = 20
	s.ReadTimeout = max(cfg.ReadTimeout, 30*time.Second)
	s.WriteTimeout = 30 * time.Second
	s.AllowInsecureAuth = false
	s.TLSConfig = cfg.TLS
	// Replies from internationalised addresses (zoë@bücher.example) come
	// with MAIL FROM:<…> SMTPUTF8; a strict MTA will not send them to a
	// server that does not advertise it. Nothing here needs ASCII: the
	// message is read as bytes and addresses are compared as UTF-8.
	s.EnableSMTPUTF8 = true
	return s
}

type backend struct {
	cfg                       ListenerConfig
	handle                    ReplyHandler
	log                       *slog.Logger
	perIP, perSender, perFrom *ratelimit.Limiter // nil: no limit
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c, client: clientKey(c.Conn().RemoteAddr())}, nil
}

type session struct {
	b      *backend
	conn   *smtp.Conn
	client string // the client's address, the per-IP key
	env    Envelope
}

// errMustStartTLS is the refusal of MAIL in clear where TLS is required,
// in the words (and code) other MTAs use, so a sender knows what to do.
var errMustStartTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
	Message: "Must issue a STARTTLS command first"}

func (s *session) Reset()        { s.env = Envelope{} }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	from = strings.TrimSpace(from)
	// Before the limits: a refused message must not use up a client's
	// allowance for the retry it makes over TLS.
	if _, isTLS := s.conn.TLSConnectionState(); s.b.cfg.RequireTLS && !isTLS {
		return errMustStartTLS
	}
	if ok, wait := s.b.perIP.Allow(s.client); !ok {
		s.b.log.Info("inbound mail deferred", "limit", "per client", "client", s.client)
		return tryLater("Too many messages from your address", wait)
	}
	// The null sender is every server's bounce address: one key for all
	// of them would let anyone hold up everyone's; PerIP covers it.
	if sender := strings.ToLower(strings.Trim(from, "<>")); sender != "" {
		if ok, wait := s.b.perSender.Allow(ratelimit.HashKey(sender)); !ok {
			s.b.log.Info("inbound mail deferred", "limit", "per sender", "client", s.client)
			return tryLater("Too many messages from this sender", wait)
		}
	}
	s.env = Envelope{HasEnvelope: true, MailFrom: from}
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
	from := ratelimit.HashKey(ReplyFrom(raw))
	if wait := s.b.perFrom.Wait(from); wait > 0 {
		s.b.log.Info("inbound mail deferred", "limit", "per From address", "client", s.client)
		return tryLater("Too many replies from this address", wait)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.b.handle(ctx, raw, s.env)
	switch {
	case err == nil:
		s.b.perFrom.Allow(from)
		return nil
	case errors.Is(err, ErrNoEffect):
		return nil
	case errors.Is(err, ErrMalformedMail):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message could not be read"}
	}
	s.b.log.Error("inbound mail could not be handled, asked the sender to retry", "err", err)
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
}

// ReplyFrom is the From address of a raw message as ParseReply reads it
// (lower-cased, no display name), or "" when it has none. It reads the
// header only: for limits that key on the sender before the message is
// handled.
func ReplyFrom(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return inboundFirstAddress(msg.Header.Get("From"))
}

// tryLater is the transient refusal of a message over a limit.
func tryLater(why string, wait time.Duration) error {
	secs := ratelimit.RetrySeconds(wait)
	return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
		Message: why + "; try again in " + strconv.Itoa(secs) + " seconds"}
}

// clientKey is the client's IP address as a limit key
// (ratelimit.AddrKey).
func clientKey(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return ratelimit.AddrKey(ap.Addr())
}

// newLimiter is a limiter for a configured limit; nil (none) when off.
func newLimiter(l Limit, now func() time.Time) *ratelimit.Limiter {
	return ratelimit.New(l.Burst, l.Every, now)
}
