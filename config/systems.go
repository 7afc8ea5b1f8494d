package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"rightsportal/workflow"
)

// System is one place that holds personal data, as the inventory in
// config.yaml describes it: what the access summary tells the subject
// (GDPR Art. 15(1)) and how the portal reaches it (the connector).
type System struct {
	Code               string      `yaml:"code"`
	Name               string      `yaml:"name"`
	Purposes           []string    `yaml:"purposes"`
	Categories         []string    `yaml:"categories"`
	LegalBasis         string      `yaml:"legal_basis"`
	Retention          string      `yaml:"retention"`
	Source             string      `yaml:"source"`
	AutomatedDecisions string      `yaml:"automated_decisions"`
	Recipients         []Recipient `yaml:"recipients"`
	Connector          Connector   `yaml:"connector"`
}

// Recipient is someone the system's data is shared with; after a
// rectification, erasure or restriction it is told (Art. 19).
type Recipient struct {
	Name       string `yaml:"name"`
	OutsideEEA bool   `yaml:"outside_eea"`
	Safeguards string `yaml:"safeguards"`
	// NotifyMail or NotifyWebhook says how to tell it; with neither, a
	// manual task asks staff to.
	NotifyMail    string   `yaml:"notify_mail"`
	NotifyWebhook *Webhook `yaml:"notify_webhook"`
}

// Connector kinds.
const (
	ConnectorSQL     = "sql"
	ConnectorWebhook = "webhook"
	ConnectorManual  = "manual"
)

// Connector says how a system is reached. Exactly the part its Kind needs
// is set.
type Connector struct {
	Kind string `yaml:"kind"`
	// sql: a database reached with a gorm driver, and per right the
	// statements to run, with named parameters @email, @name, @reference,
	// @value (the correction staff apply) and @consent.
	Driver     string        `yaml:"driver"`
	DSN        string        `yaml:"dsn"`
	Statements SQLStatements `yaml:"statements"`
	// webhook: the organisation's own service.
	Webhook *Webhook `yaml:"webhook"`
	// opendsr: a processor that speaks OpenDSR (config/opendsr.go).
	OpenDSR *OpenDSR `yaml:"opendsr"`
	// manual: a team that does it by hand, following the instructions.
	Team         string `yaml:"team"`
	Instructions string `yaml:"instructions"`
	// Rights limits the request types this system takes part in; empty:
	// every type the connector can serve.
	Rights []string `yaml:"rights"`
}

// SQLStatements are the parameterised statements of a sql connector. Find
// and the exports are queries returning the subject's rows; the others
// run in one transaction and their affected rows are counted.
type SQLStatements struct {
	Find string `yaml:"find"`
	// Export is what an access request returns (default: Find);
	// Portability only the data the subject provided (default: Export).
	Export          string   `yaml:"export"`
	Portability     string   `yaml:"portability"`
	Erase           []string `yaml:"erase"`
	Restrict        []string `yaml:"restrict"`
	Object          []string `yaml:"object"`
	WithdrawConsent []string `yaml:"withdraw_consent"`
	Rectify         []string `yaml:"rectify"`
}

// Webhook is an HTTPS endpoint of the organisation's own, called with a
// body signed by HMAC-SHA256 under Secret.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// Fulfilment holds settings of the work after approval.
type Fulfilment struct {
	// PackagesDir holds the encrypted download packages, outside any web
	// root.
	PackagesDir string `yaml:"packages_dir"`
	// DownloadFor is how long a released package can be downloaded.
	DownloadFor Duration `yaml:"download_for"`
	// MaxUploadBytes caps a file staff add to a package.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// AutoRun lists the absolute rights whose tasks start at verification,
	// without waiting for approval: "objection_direct_marketing",
	// "consent_withdrawal".
	AutoRun []string `yaml:"auto_run"`
}

// Statements lists the statements a right runs (nil: the right is not
// served by this connector).
func (s SQLStatements) For(t workflow.RequestType) []string {
	switch t {
	case workflow.TypeAccess:
		return nonEmpty(first(s.Export, s.Find))
	case workflow.TypePortability:
		return nonEmpty(first(s.Portability, s.Export, s.Find))
	case workflow.TypeErasure:
		return s.Erase
	case workflow.TypeRestriction:
		return s.Restrict
	case workflow.TypeObjection:
		return s.Object
	case workflow.TypeConsentWithdrawal:
		return s.WithdrawConsent
	case workflow.TypeRectification:
		return s.Rectify
	}
	return nil
}

func first(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Serves reports whether the system takes part in requests of type t.
func (s *System) Serves(t workflow.RequestType) bool {
	if len(s.Connector.Rights) > 0 && !slices.Contains(s.Connector.Rights, string(t)) {
		return false
	}
	switch s.Connector.Kind {
	case ConnectorSQL:
		return len(s.Connector.Statements.For(t)) > 0
	case ConnectorOpenDSR:
		_, ok := OpenDSRType(t) // an empty rights list must not bring in the others
		return ok
	}
	return true
}

// System finds a system by code.
func (c *Config) System(code string) *System {
	for i := range c.Systems {
		if c.Systems[i].Code == code {
			return &c.Systems[i]
		}
	}
	return nil
}

func (c *Config) checkSystems(v *checker) {
	seen := map[string]bool{}
	for i := range c.Systems {
		s := &c.Systems[i]
		key := fmt.Sprintf("systems[%d]", i)
		if !codeRE.MatchString(s.Code) {
			v.bad(key+".code", "%q must be lower-case letters, digits and underscores", s.Code)
		}
		if seen[s.Code] {
			v.bad(key+".code", "%q is used twice", s.Code)
		}
		seen[s.Code] = true
		if strings.TrimSpace(s.Name) == "" || len(s.Purposes) == 0 || len(s.Categories) == 0 || s.LegalBasis == "" || s.Retention == "" {
			v.bad(key, "needs name, purposes, categories, legal_basis and retention: the access summary tells the subject all of them")
		}
		for _, r := range s.Connector.Rights {
			if !workflow.RequestType(r).Valid() {
				v.bad(key+".connector.rights", "%q is not a request type", r)
			}
		}
		s.Connector.check(v, key+".connector")
		if s.Connector.Kind == ConnectorOpenDSR {
			c.checkOpenDSR(v, key+".connector", &s.Connector)
		}
		for j, r := range s.Recipients {
			rk := fmt.Sprintf("%s.recipients[%d]", key, j)
			if strings.TrimSpace(r.Name) == "" {
				v.bad(rk+".name", "is required")
			}
			if r.NotifyWebhook != nil {
				r.NotifyWebhook.check(v, rk+".notify_webhook")
			}
		}
	}
	f := &c.Fulfilment
	if strings.TrimSpace(f.PackagesDir) == "" {
		v.bad("fulfilment.packages_dir", "is required")
	}
	if f.DownloadFor.D() <= 0 || f.MaxUploadBytes < 1024 || f.MaxUploadBytes > 100<<20 {
		v.bad("fulfilment", "download_for must be positive and max_upload_bytes from 1024 to 104857600")
	}
	for _, a := range f.AutoRun {
		if a != "objection_direct_marketing" && a != "consent_withdrawal" {
			v.bad("fulfilment.auto_run", "%q: only the absolute rights objection_direct_marketing and consent_withdrawal may run without approval", a)
		}
	}
}

func (c *Connector) check(v *checker, key string) {
	switch c.Kind {
	case ConnectorSQL:
		if c.Driver != "sqlite" && c.Driver != "postgres" {
			v.bad(key+".driver", "must be sqlite or postgres, not %q", c.Driver)
		}
		if strings.TrimSpace(c.DSN) == "" {
			v.bad(key+".dsn", "is required")
		}
		if c.Statements.Find == "" {
			v.bad(key+".statements.find", "is required: it finds the subject's rows by e-mail")
		}
	case ConnectorWebhook:
		if c.Webhook == nil {
			v.bad(key+".webhook", "is required for a webhook connector")
			return
		}
		c.Webhook.check(v, key+".webhook")
	case ConnectorManual:
		if strings.TrimSpace(c.Team) == "" || strings.TrimSpace(c.Instructions) == "" {
			v.bad(key, "a manual connector needs a team and instructions")
		}
	case ConnectorOpenDSR:
		// Config.checkOpenDSR: it needs the jurisdictions and base_url.
	default:
		v.bad(key+".kind", "must be sql, webhook, manual or opendsr, not %q", c.Kind)
	}
}

// check requires https, except to this machine (development and tests),
// and a secret long enough to sign with.
func (w *Webhook) check(v *checker, key string) {
	u, err := url.Parse(w.URL)
	switch {
	case err != nil || u.Host == "":
		v.bad(key+".url", "%q is not an absolute URL", w.URL)
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		v.bad(key+".url", "must use https (plain http only to localhost)")
	}
	if len(w.Secret) < 16 {
		v.bad(key+".secret", "must be at least 16 characters")
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
