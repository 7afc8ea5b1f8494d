// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp)
// in-process for tests: plain, STARTTLS or implicit TLS, with or without
// AUTH PLAIN, and with switchable failure modes (temporary refusal,
// permanent refusal, a 421 at MAIL, a connection cut mid-send, a hanging
// server).
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server answers a transaction.
type Mode int

// The failure modes.
const (
	Accept   Mode = iota // 250
	TempFail             // 451 at DATA end
	PermFail             // 550 at RCPT
	// Drop answers MAIL with 421 "closing", but go-smtp keeps the session
	// open: the client sees a refusal, not a lost connection. CutAtMail
	// is the real thing.
	Drop
	Hang // never answer DATA (until the client gives up)
	// CutAtMail resets the TCP connection on MAIL FROM, before any
	// answer: the relay saw the sender and nothing else.
	CutAtMail
	// CutAtDataEnd reads the whole message, then resets the TCP
	// connection instead of answering 250. The relay holds the message
	// (see Received) but the client cannot know it: the case where a
	// retry makes a duplicate.
	CutAtDataEnd
)

// Options configure a Server.
type Options struct {
	StartTLS    bool
	ImplicitTLS bool
	Username    string
	Password    string
	// CertHosts are the names and addresses the relay's certificate is
	// for; empty: localhost and 127.0.0.1, the address it listens on.
	CertHosts []string
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running test SMTP server.
type Server struct {
	Host string
	Port int
	// RootCAs trusts the relay's test CA, which signed its certificate;
	// CAPEM is that CA in PEM, for a ca_file.
	RootCAs *x509.CertPool
	CAPEM   []byte

	t       testing.TB
	opts    Options
	srv     *smtp.Server
	ln      net.Listener
	tlsConf *tls.Config
	mu      sync.Mutex
	mode    Mode
	msgs    []Message
	recv    []Message
	tries   int
	cuts    int
	conns   int
	seen    map[*smtp.Conn]bool
	changed chan struct{}
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts, changed: make(chan struct{})}
	s.tlsConf, s.RootCAs, s.CAPEM = testCA(t, opts.CertHosts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		// STARTTLS starts a new session on the same connection: count
		// connections, not sessions.
		if s.seen == nil {
			s.seen = map[*smtp.Conn]bool{}
		}
		if !s.seen[c] {
			s.seen[c] = true
			s.conns++
		}
		s.mu.Unlock()
		return &session{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.AllowInsecureAuth = !s.opts.StartTLS && !s.opts.ImplicitTLS
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	if s.opts.StartTLS || s.opts.ImplicitTLS {
		srv.TLSConfig = s.tlsConf
	}
	if s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.tlsConf)
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Close stops the server: connections are refused until Restart.
func (s *Server) Close() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	// Serve runs in a goroutine and may not have registered the listener
	// with the server yet: close it here too.
	if ln != nil {
		ln.Close()
	}
}

// Restart listens again on the same port after Close.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.Addr()); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: listen again: %v", err)
	}
	s.serve(ln)
}

// SetMode switches how the server answers from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *Server) currentMode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Messages returns a copy of the accepted messages: those answered 250.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Received returns a copy of every message whose whole body the relay
// read, in order: the accepted ones, those refused at the end of DATA,
// and those cut before the 250 (CutAtDataEnd), which a real relay may
// well have delivered.
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.recv...)
}

// Cuts counts connections the relay cut (CutAtMail, CutAtDataEnd).
func (s *Server) Cuts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cuts
}

// Conns counts SMTP connections opened.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Tries counts MAIL commands seen, delivered or not.
func (s *Server) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// Wait blocks until at least n messages were accepted or the timeout
// passes, and returns what was accepted.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Messages()
		}
	}
}

type session struct {
	s    *Server
	c    *smtp.Conn
	from string
	to   []string
	auth bool
}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != x.s.opts.Username || pass != x.s.opts.Password {
			// 535 5.7.8, as real relays answer (RFC 4954), not go-smtp's
			// default 454, so tests see a 5xx auth failure.
			return smtp.ErrAuthFailed
		}
		x.auth = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	x.s.tries++
	mode := x.s.mode
	x.s.mu.Unlock()
	if x.s.opts.Username != "" && !x.auth {
		return smtp.ErrAuthRequired
	}
	switch mode {
	case Drop:
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "closing"}
	case CutAtMail:
		return x.cut()
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	mode := x.s.mode
	x.s.mu.Unlock()
	if mode == PermFail {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	mode := x.s.mode
	msg := Message{From: x.from, To: x.to, Data: data}
	x.s.recv = append(x.s.recv, msg)
	x.s.mu.Unlock()
	switch mode {
	case CutAtDataEnd:
		return x.cut()
	case TempFail:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	case Hang:
		// Hold the client until the test switches the mode back, then
		// fail this attempt so the client retries cleanly.
		for i := 0; i < 2400 && x.s.currentMode() == Hang; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "timed out"}
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, msg)
	close(x.s.changed)
	x.s.changed = make(chan struct{})
	x.s.mu.Unlock()
	return nil
}

// cut ends the connection at once, with no SMTP answer: a TCP reset
// rather than an orderly close (and no TLS close_notify), as when a relay
// crashes or a middlebox drops the flow. go-smtp then fails to write its
// reply and ends the session on the next read.
func (x *session) cut() error {
	nc := x.c.Conn() // after STARTTLS, the TLS conn
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	// Count first: the client may see the reset before Close returns.
	x.s.mu.Lock()
	x.s.cuts++
	x.s.mu.Unlock()
	nc.Close()
	// Nobody reads this answer: the connection is gone.
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "cut"}
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// testCA makes a CA and a certificate it signs for hosts, as a relay
// with a private CA has: the tls.Config that serves it, the pool that
// trusts the CA, and the CA in PEM.
func testCA(t testing.TB, hosts []string) (*tls.Config, *x509.CertPool, []byte) {
	c := issue(t, hosts)
	conf := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.der, c.caDER}, PrivateKey: c.key}}}
	return conf, c.pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.caDER})
}

// CertFiles writes a certificate for hosts (default: localhost and
// 127.0.0.1), signed by a new test CA, with the CA after it, and its
// key, as PEM files in dir: for a server under test to serve (the
// inbound listener's tls_cert and tls_key). pool trusts the CA.
func CertFiles(t testing.TB, dir string, hosts ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := issue(t, hosts)
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.caDER})...)
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c.pool
}

// issued is a leaf certificate and the test CA that signed it.
type issued struct {
	key        *ecdsa.PrivateKey
	der, caDER []byte
	pool       *x509.CertPool // trusts the CA
}

func issue(t testing.TB, hosts []string) issued {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1"}
	}
	caKey, caDER := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest CA"},
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}, nil, nil)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	key, der := newCert(t, leaf, ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return issued{key: key, der: der, caDER: caDER, pool: pool}
}

// newCert signs tmpl with parent's key (itself when parent is nil) for a
// new key, valid from an hour ago for a day.
func newCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}
