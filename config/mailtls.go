package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

// Keys of the mail TLS settings, as messages name them.
const (
	keyInboundCert = "mail.inbound.tls_cert (PORTAL_MAIL_INBOUND_TLS_CERT)"
	keyInboundKey  = "mail.inbound.tls_key (PORTAL_MAIL_INBOUND_TLS_KEY)"
	keyRequireTLS  = "mail.inbound.require_tls (PORTAL_MAIL_INBOUND_REQUIRE_TLS)"
	keyCAFile      = "mail.smtp.ca_file (PORTAL_MAIL_SMTP_CA_FILE)"
)

// checkMailTLS loads the files the TLS keys name, at start: a listener
// that would fail its first handshake, or a relay that would fail every
// send, is better refused before the portal takes any request.
func (m *Mail) checkMailTLS(v *checker) {
	in := &m.Inbound
	switch {
	case in.TLSCert == "" && in.TLSKey == "":
		if in.RequireTLS {
			v.bad(keyRequireTLS, "needs mail.inbound.tls_cert and tls_key: without a certificate no sender can start TLS")
		}
	case in.TLSCert == "":
		v.bad(keyInboundCert, "is required with mail.inbound.tls_key: set both or neither")
	case in.TLSKey == "":
		v.bad(keyInboundKey, "is required with mail.inbound.tls_cert: set both or neither")
	default:
		checkKeyPair(v, in.TLSCert, in.TLSKey)
	}
	s := &m.SMTP
	s.rootCAs = nil
	if s.CAFile == "" {
		return
	}
	if s.InsecureSkipVerify {
		v.bad("mail.smtp.insecure_skip_verify", "is on, so mail.smtp.ca_file would never be used: turn it off")
	}
	pool, err := relayRoots(s.CAFile)
	if err != nil {
		v.bad(keyCAFile, "%s", err)
		return
	}
	s.rootCAs = pool
}

// checkKeyPair reads each file on its own, so that the message names the
// key whose file is missing, then checks that they belong together.
func checkKeyPair(v *checker, certFile, keyFile string) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		v.bad(keyInboundCert, "%s", err)
	}
	keyPEM, kerr := os.ReadFile(keyFile)
	if kerr != nil {
		v.bad(keyInboundKey, "%s", kerr)
	}
	if err != nil || kerr != nil {
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		v.bad(keyInboundCert, "%q and mail.inbound.tls_key %q do not load as a PEM certificate and its private key: %v",
			certFile, keyFile, err)
	}
}

// relayRoots is the system's trusted roots plus the PEM bundle in path.
// Where the system has none to offer, the bundle alone.
func relayRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("holds no PEM certificate (want one or more -----BEGIN CERTIFICATE----- blocks)")
	}
	return pool, nil
}

// RootCAs is the pool to verify the relay's certificate with: the
// system's roots plus mail.smtp.ca_file; nil (the system's roots) when
// no CA file is set. Valid after Validate.
func (s SMTP) RootCAs() *x509.CertPool { return s.rootCAs }
