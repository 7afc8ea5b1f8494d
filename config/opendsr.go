package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"strings"

	"rightsportal/workflow"
)

// ConnectorOpenDSR is a processor reached through the OpenDSR protocol
// (the successor of OpenGDPR): the portal sends it the request, follows
// its status by polling and by its signed callbacks.
const ConnectorOpenDSR = "opendsr"

// OpenDSR is a processor's OpenDSR endpoint and what the portal needs to
// trust its callbacks.
type OpenDSR struct {
	// APIURL is the base of the processor's API: requests are POSTed to
	// {api_url}/requests and their status read at
	// {api_url}/requests/{subject_request_id}.
	APIURL string `yaml:"api_url"`
	// CertificateFile is the PEM file of the processor's X.509
	// certificate (the one its discovery document names as
	// processor_certificate). It is pinned: a callback counts only when
	// its X-OpenDSR-Signature verifies with this certificate's key.
	CertificateFile string `yaml:"certificate_file"`
	// Token, when set, is sent as "Authorization: Bearer" on the calls to
	// the processor (OpenDSR leaves the processor's API authentication to
	// the processor). Never logged.
	Token string `yaml:"token"`
	// Regulations maps the portal's jurisdictions to the OpenDSR
	// regulation ("gdpr" or "ccpa") a request is sent under. A request
	// in a jurisdiction not listed is not sent: its task fails for staff.
	// Default: gdpr and uk_gdpr → gdpr, ccpa → ccpa.
	Regulations map[string]string `yaml:"regulations"`

	cert *x509.Certificate
}

// Certificate is the processor's certificate, loaded by Validate.
func (o *OpenDSR) Certificate() *x509.Certificate { return o.cert }

// OpenDSRType is the OpenDSR subject_request_type of a right, and false
// for the rights OpenDSR cannot express: restriction, objection and
// consent withdrawal have no type there, and a rectification has no
// field to carry the corrected value.
func OpenDSRType(t workflow.RequestType) (string, bool) {
	switch t {
	case workflow.TypeErasure, workflow.TypeAccess, workflow.TypePortability:
		return string(t), true
	}
	return "", false
}

// Regulation is the OpenDSR regulation of a request in jurisdiction j.
func (o *OpenDSR) Regulation(j string) (string, bool) {
	if len(o.Regulations) == 0 {
		r, ok := map[string]string{"gdpr": "gdpr", "uk_gdpr": "gdpr", "ccpa": "ccpa"}[j]
		return r, ok
	}
	r, ok := o.Regulations[j]
	return r, ok
}

// checkOpenDSR checks an opendsr connector and loads its certificate. The
// processor calls back at http.base_url, so that must be https too.
func (c *Config) checkOpenDSR(v *checker, key string, conn *Connector) {
	o := conn.OpenDSR
	if o == nil {
		v.bad(key+".opendsr", "is required for an opendsr connector (api_url, certificate_file)")
		return
	}
	base := key
	key += ".opendsr"
	u, err := url.Parse(o.APIURL)
	switch {
	case err != nil || u.Host == "":
		v.bad(key+".api_url", "%q is not an absolute URL", o.APIURL)
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		v.bad(key+".api_url", "must use https (plain http only to localhost)")
	case u.RawQuery != "" || u.Fragment != "":
		v.bad(key+".api_url", "must have no query or fragment: {api_url}/requests is appended to it")
	}
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	if b, err := url.Parse(c.HTTP.BaseURL); err == nil && b.Scheme != "https" && !isLoopback(b.Hostname()) {
		v.bad(key, "the processor calls back at http.base_url (PORTAL_BASE_URL), which must then use https")
	}
	if o.Token != "" && strings.ContainsAny(o.Token, "\r\n") {
		v.bad(key+".token", "must be one line")
	}
	for j, r := range o.Regulations {
		if _, ok := c.Jurisdictions.Policies[j]; !ok {
			v.bad(key+".regulations."+j, "is not one of the jurisdictions")
		}
		if r != "gdpr" && r != "ccpa" {
			v.bad(key+".regulations."+j, "must be gdpr or ccpa (what OpenDSR knows), not %q", r)
		}
	}
	// A right OpenDSR cannot express is refused here, not when a request
	// of that type is approved.
	for _, r := range conn.Rights {
		if _, ok := OpenDSRType(workflow.RequestType(r)); !ok && workflow.RequestType(r).Valid() {
			v.bad(base+".rights", "%q cannot be sent over OpenDSR (erasure, access and portability can)", r)
		}
	}
	o.cert = nil
	if strings.TrimSpace(o.CertificateFile) == "" {
		v.bad(key+".certificate_file", "is required: callbacks are verified with the processor's certificate")
		return
	}
	if err := o.LoadCertificate(); err != nil {
		v.bad(key+".certificate_file", "%s", err)
	}
}

// LoadCertificate reads CertificateFile; Validate calls it for every
// opendsr system.
func (o *OpenDSR) LoadCertificate() error {
	cert, err := loadSigningCert(o.CertificateFile)
	if err != nil {
		return err
	}
	o.cert = cert
	return nil
}

// loadSigningCert reads the first certificate of a PEM file and checks
// that its key is one a callback can be verified with (FIPS 186-4: RSA,
// ECDSA; and Ed25519).
func loadSigningCert(path string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, fmt.Errorf("%q holds no PEM certificate (want a -----BEGIN CERTIFICATE----- block)", path)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", path, err)
		}
		switch cert.PublicKey.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			return cert, nil
		}
		return nil, fmt.Errorf("%q: the certificate's key is %T; want RSA, ECDSA or Ed25519", path, cert.PublicKey)
	}
}
