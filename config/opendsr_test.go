package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/workflow"
)

// processorCert writes a processor's signing certificate as PEM.
func processorCert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opendsr.processor.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"opendsr.processor.example"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "processor.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openDSRSystem is minimal with one opendsr system; extra lines go under
// its opendsr block, rights (if any) under its connector.
func openDSRSystem(apiURL, certFile, extra, rights string) string {
	s := minimal + `systems:
  - code: "adtech"
    name: "AdTech processor"
    purposes: ["advertising"]
    categories: ["identifiers"]
    legal_basis: "consent (GDPR Art. 6(1)(a))"
    retention: "13 months"
    connector:
      kind: "opendsr"
`
	if rights != "" {
		s += "      rights: " + rights + "\n"
	}
	s += "      opendsr:\n        api_url: \"" + apiURL + "\"\n        certificate_file: \"" + certFile + "\"\n"
	if extra != "" {
		s += "        " + strings.ReplaceAll(extra, "\n", "\n        ") + "\n"
	}
	return s
}

// TestConfigOpenDSR: a valid opendsr system loads its pinned certificate
// and serves only erasure, access and portability; each wrong key is
// named.
func TestConfigOpenDSR(t *testing.T) {
	cert := processorCert(t)
	cfg, err := config.Parse([]byte(openDSRSystem("https://opendsr.processor.example/v1/", cert, "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid opendsr system refused: %v", err)
	}
	sys := cfg.System("adtech")
	o := sys.Connector.OpenDSR
	if o.Certificate() == nil || o.Certificate().Subject.CommonName != "opendsr.processor.example" {
		t.Errorf("certificate not loaded: %+v", o.Certificate())
	}
	if o.APIURL != "https://opendsr.processor.example/v1" {
		t.Errorf("api_url %q: want the trailing slash trimmed", o.APIURL)
	}
	for typ, want := range map[workflow.RequestType]bool{workflow.TypeErasure: true, workflow.TypeAccess: true,
		workflow.TypePortability: true, workflow.TypeRectification: false, workflow.TypeRestriction: false,
		workflow.TypeObjection: false, workflow.TypeConsentWithdrawal: false} {
		if sys.Serves(typ) != want {
			t.Errorf("Serves(%s) = %v, want %v", typ, !want, want)
		}
	}
	if r, ok := o.Regulation("uk_gdpr"); !ok || r != "gdpr" {
		t.Errorf("uk_gdpr → %q %v, want gdpr", r, ok)
	}
	if _, ok := o.Regulation("lgpd"); ok {
		t.Error("lgpd has an OpenDSR regulation by default")
	}

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for name, c := range map[string]struct {
		yaml, want string
	}{
		"plain http":           {openDSRSystem("http://opendsr.processor.example/v1", cert, "", ""), "opendsr.api_url: must use https"},
		"query":                {openDSRSystem("https://opendsr.processor.example/v1?x=1", cert, "", ""), "opendsr.api_url: must have no query"},
		"relative":             {openDSRSystem("/v1", cert, "", ""), "opendsr.api_url: \"/v1\" is not an absolute URL"},
		"no certificate":       {openDSRSystem("https://p.example", "", "", ""), "opendsr.certificate_file: is required"},
		"missing file":         {openDSRSystem("https://p.example", cert+".gone", "", ""), "opendsr.certificate_file: open"},
		"not PEM":              {openDSRSystem("https://p.example", notPEM, "", ""), "holds no PEM certificate"},
		"rectification":        {openDSRSystem("https://p.example", cert, "", "[erasure, rectification]"), `connector.rights: "rectification" cannot be sent over OpenDSR`},
		"restriction":          {openDSRSystem("https://p.example", cert, "", "[restriction]"), `"restriction" cannot be sent over OpenDSR`},
		"bad regulation":       {openDSRSystem("https://p.example", cert, "regulations:\n  gdpr: \"lgpd\"", ""), "regulations.gdpr: must be gdpr or ccpa"},
		"unknown jurisdiction": {openDSRSystem("https://p.example", cert, "regulations:\n  mars: \"gdpr\"", ""), "regulations.mars: is not one of the jurisdictions"},
		"no block":             {strings.Replace(openDSRSystem("https://p.example", cert, "", ""), "      opendsr:\n", "      xopendsr:\n", 1), "field xopendsr not found"},
	} {
		cfg, err := config.Parse([]byte(c.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}

	// The processor calls back at base_url: it must be https beyond this
	// machine.
	cfg, _ = config.Parse([]byte(openDSRSystem("https://p.example", cert, "", "")))
	cfg.HTTP.BaseURL = "http://portal.example.org"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "calls back at http.base_url") {
		t.Errorf("http base_url: %v", err)
	}
	cfg, _ = config.Parse([]byte(strings.Replace(openDSRSystem("https://p.example", cert, "", ""), "      opendsr:\n        api_url: \"https://p.example\"\n        certificate_file: \""+cert+"\"\n", "", 1)))
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "connector.opendsr: is required") {
		t.Errorf("no opendsr block: %v", err)
	}
}
