// Package config reads config.yaml strictly, applies the environment
// overrides of SPEC §5 and validates the result once, at start, with
// messages that name the key that is wrong and why.
package config

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"rightsportal/workflow"
)

// Config is the whole configuration of one portal instance.
type Config struct {
	// SecretKeyFile holds the 32-byte key that seals secrets at rest
	// (links in queued mail); created on first start when missing.
	SecretKeyFile string `yaml:"secret_key_file"`
	// LogLevel is debug, info, warn or error; debug adds a line per
	// HTTP request.
	LogLevel string `yaml:"log_level"`
	// DefaultLanguage is the public side's language when a visitor's
	// browser asks for none of Languages; Languages are the ones offered
	// (each needs a catalog in templates/i18n), in the switcher's order.
	DefaultLanguage string        `yaml:"default_language"`
	Languages       []string      `yaml:"languages"`
	Organisation    Organisation  `yaml:"organisation"`
	HTTP            HTTP          `yaml:"http"`
	Database        Database      `yaml:"database"`
	Mail            Mail          `yaml:"mail"`
	Verification    Verification  `yaml:"verification"`
	RateLimit       RateLimit     `yaml:"ratelimit"`
	Staff           Staff         `yaml:"staff"`
	Requests        Requests      `yaml:"requests"`
	Jurisdictions   Jurisdictions `yaml:"jurisdictions"`
	Retention       Retention     `yaml:"retention"`
	Systems         []System      `yaml:"systems"`
	Fulfilment      Fulfilment    `yaml:"fulfilment"`
	Attachments     Attachments   `yaml:"attachments"`
	Webhooks        Webhooks      `yaml:"webhooks"`

	// calendar is the organisation's calendar, built once by Validate.
	calendar *workflow.Calendar
}

// Level is LogLevel as slog's level (valid after Validate).
func (c *Config) Level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Organisation is who runs the portal.
type Organisation struct {
	Name           string   `yaml:"name"`
	PrivacyContact string   `yaml:"privacy_contact"`
	TimeZone       string   `yaml:"timezone"`
	Holidays       []string `yaml:"holidays"`
}

// HTTP is how the portal listens and how it names itself.
type HTTP struct {
	Addr           string   `yaml:"addr"`
	BaseURL        string   `yaml:"base_url"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`
	// MetricsAddr is a listener of its own for /metrics, without
	// authentication; empty: off (the main listener's /metrics still
	// answers an admin's API token).
	MetricsAddr string `yaml:"metrics_addr"`
}

// Database names the driver and where the data lives.
type Database struct {
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
}

// Mail is outgoing and incoming mail.
type Mail struct {
	From         string   `yaml:"from"`
	ReplyLocal   string   `yaml:"reply_local"`
	ReplyDomain  string   `yaml:"reply_domain"`
	TeamAddress  string   `yaml:"team_address"`
	Dir          string   `yaml:"dir"`
	SMTP         SMTP     `yaml:"smtp"`
	Inbound      Inbound  `yaml:"inbound"`
	MaxAttempts  int      `yaml:"max_attempts"`
	MaxBackoff   Duration `yaml:"max_backoff"`
	RescueAfter  Duration `yaml:"rescue_after"`
	SendTimeout  Duration `yaml:"send_timeout"`
	PollInterval Duration `yaml:"poll_interval"`
}

// SMTP is the relay that takes our outgoing mail.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// InsecureSkipVerify is for test relays with self-signed certificates;
	// start-up logs a warning while it is on. A relay with a private CA
	// wants CAFile instead, which keeps every check.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM bundle trusted for the relay on top of the system's
	// roots: a private CA, without turning verification off.
	CAFile string `yaml:"ca_file"`

	// rootCAs is the system's roots plus CAFile, built once by Validate.
	rootCAs *x509.CertPool
}

// Inbound is how replies reach us.
type Inbound struct {
	Addr      string `yaml:"addr"`
	Secret    string `yaml:"secret"`
	MaxBytes  int64  `yaml:"max_bytes"`
	KeepBytes int64  `yaml:"keep_bytes"`
	// TLSCert and TLSKey are PEM files, both or neither; with them the
	// listener offers STARTTLS, as a sending MTA expects of an MX.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// RequireTLS refuses MAIL before STARTTLS (530 5.7.0), so replies,
	// which carry tokens, never cross the network in clear.
	RequireTLS bool `yaml:"require_tls"`
}

// Verification is the e-mail ownership check.
type Verification struct {
	Window Duration `yaml:"window"`
	// ReminderAfter: an unconfirmed request gets one reminder this long
	// after submission (0 turns reminders off).
	ReminderAfter Duration `yaml:"reminder_after"`
}

// Retention says how long personal data of closed requests is kept.
type Retention struct {
	// ClosedRequests is a period ("24 months") counted from closing.
	ClosedRequests string `yaml:"closed_requests"`
	// Period is ClosedRequests, parsed by Validate.
	Period workflow.Period `yaml:"-"`
}

// RateLimit holds the per-client and per-address limits.
type RateLimit struct {
	Enabled        bool  `yaml:"enabled"`
	SubmitPerIP    Limit `yaml:"submit_per_ip"`
	SubmitPerEmail Limit `yaml:"submit_per_email"`
	VerifyPerIP    Limit `yaml:"verify_per_ip"`
	// VerifyPerEmail counts only what a token ties to the address: a
	// link confirmation whose token belongs to the address's request,
	// and a reply from the address that acted. A wrong token names no
	// address, so a stranger cannot use up someone else's allowance.
	VerifyPerEmail Limit `yaml:"verify_per_email"`
	InboundPerIP   Limit `yaml:"inbound_per_ip"`
	// InboundSMTPPerIP and InboundSMTPPerSender cap the messages the
	// inbound SMTP listener takes per client address and per envelope
	// sender; over them it answers 450 and the sending server retries.
	InboundSMTPPerIP     Limit `yaml:"inbound_smtp_per_ip"`
	InboundSMTPPerSender Limit `yaml:"inbound_smtp_per_sender"`
}

// Limit allows Burst events at once and then one per Every.
type Limit struct {
	Burst int      `yaml:"burst"`
	Every Duration `yaml:"every"`
}

// Staff holds settings for the staff workspace.
type Staff struct {
	SessionIdle     Duration `yaml:"session_idle"`
	SessionAbsolute Duration `yaml:"session_absolute"`
	// RemindDaysBefore: the assignee is reminded this many days before a
	// request is due; ExtensionWarningDays: warned this many days before
	// the last day to announce an extension.
	RemindDaysBefore     int `yaml:"remind_days_before"`
	ExtensionWarningDays int `yaml:"extension_warning_days"`
	// Require2FA: every staff member must sign in with a TOTP code too;
	// whoever has none is sent to enrol and reaches nothing else first.
	Require2FA bool `yaml:"require_2fa"`
}

// Requests holds per-type settings.
type Requests struct {
	// Approvals maps a request type to the number of different staff who
	// must approve it; types not named need one.
	Approvals ApprovalCounts `yaml:"approvals"`
	// DuplicateWindowDays: a request verified within this many days of
	// another open request with the same e-mail and type is flagged as
	// its possible duplicate. 0 turns the check off.
	DuplicateWindowDays int `yaml:"duplicate_window_days"`
}

// ApprovalCounts is requests.approvals. Read from YAML it replaces the
// defaults as a whole instead of merging into them, so that a type the
// file does not name needs one approval, as config.yaml promises.
type ApprovalCounts map[string]int

// UnmarshalYAML decodes into a fresh map.
func (a *ApprovalCounts) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]int{}
	if err := n.Decode(&m); err != nil {
		return err
	}
	*a = m
	return nil
}

// Jurisdictions are the laws requests are filed under.
type Jurisdictions struct {
	Default  string             `yaml:"default"`
	Policies map[string]*Policy `yaml:"policies"`
	// Order is the order of Policies in the file, for forms and lists.
	Order []string `yaml:"-"`
}

// Policy is one jurisdiction's rules (SPEC §4).
type Policy struct {
	Name  string `yaml:"name"`
	Label string `yaml:"label"`
	// Period is the time to answer: "1 month", "45 days".
	Period      string `yaml:"period"`
	ClockStarts string `yaml:"clock_starts"`
	// MaxExtension is the longest extension, "" for none.
	MaxExtension string `yaml:"max_extension"`
	// ExtensionNoticeWithin: the extension must be announced within this
	// period of the clock start; "" means before the due date.
	ExtensionNoticeWithin string `yaml:"extension_notice_within"`
	PauseAwaitingSubject  bool   `yaml:"pause_awaiting_subject"`
	// AcknowledgeBusinessDays: the acknowledgment is due within this many
	// business days (0: no separate acknowledgment deadline).
	AcknowledgeBusinessDays int `yaml:"acknowledge_business_days"`
	// AppealWindow and AppealDecision: "" when the law grants no appeal.
	AppealWindow   string `yaml:"appeal_window"`
	AppealDecision string `yaml:"appeal_decision"`
	// AppealExtension: how much longer the appeal decision may take where
	// the law allows it (Colorado: 60 days); shown to staff.
	AppealExtension string   `yaml:"appeal_extension"`
	Authority       string   `yaml:"authority"`
	Types           []string `yaml:"types"`
	// Rules are the values above, parsed by Validate.
	Rules Rules `yaml:"-"`
}

// Duration is a time.Duration written as "72h" or "30m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 72h or 30m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads the file at path (strictly: unknown keys are errors), applies
// the environment overrides (env is os.LookupEnv or a test's stand-in) and
// validates the result.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	// Report a bad variable together with every bad key, not one at a time.
	if err := errors.Join(cfg.applyEnv(env), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML strictly over the defaults, without validating.
func Parse(raw []byte) (*Config, error) {
	cfg := Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	cfg.Jurisdictions.Order = policyOrder(raw)
	return cfg, nil
}

// policyOrder reads the jurisdiction codes in the order the file gives
// them, because a Go map forgets it.
func policyOrder(raw []byte) []string {
	var doc struct {
		Jurisdictions struct {
			Policies yaml.Node `yaml:"policies"`
		} `yaml:"jurisdictions"`
	}
	if yaml.Unmarshal(raw, &doc) != nil {
		return nil
	}
	var order []string
	n := doc.Jurisdictions.Policies
	for i := 0; i+1 < len(n.Content); i += 2 {
		order = append(order, n.Content[i].Value)
	}
	return order
}

// Defaults is the configuration before the file is read: the values SPEC
// §5 gives as defaults.
func Defaults() *Config {
	return &Config{
		SecretKeyFile:   "data/secret.key",
		LogLevel:        "info",
		DefaultLanguage: "en",
		Languages:       defaultLanguages(),
		Organisation:    Organisation{Name: "Example Organisation", TimeZone: "UTC"},
		HTTP:            HTTP{Addr: "127.0.0.1:8080", BaseURL: "http://127.0.0.1:8080", MaxBodyBytes: 64 << 10},
		Database:        Database{Driver: "sqlite", DSN: "data/portal.db"},
		Mail: Mail{
			ReplyLocal: "privacy", Dir: "data/mail",
			SMTP:        SMTP{Port: 587, TLS: "starttls"},
			Inbound:     Inbound{MaxBytes: 10 << 20, KeepBytes: 256 << 10},
			MaxAttempts: 200, MaxBackoff: Duration(30 * time.Minute),
			RescueAfter: Duration(5 * time.Minute), SendTimeout: Duration(60 * time.Second),
			PollInterval: Duration(time.Second),
		},
		Verification: Verification{Window: Duration(72 * time.Hour), ReminderAfter: Duration(24 * time.Hour)},
		Retention:    Retention{ClosedRequests: "24 months"},
		Fulfilment: Fulfilment{PackagesDir: "data/packages", DownloadFor: Duration(7 * 24 * time.Hour),
			MaxUploadBytes: 20 << 20},
		Attachments: defaultAttachments(),
		Webhooks:    defaultWebhooks(),
		RateLimit: RateLimit{
			Enabled:              true,
			SubmitPerIP:          Limit{Burst: 10, Every: Duration(time.Minute)},
			SubmitPerEmail:       Limit{Burst: 3, Every: Duration(20 * time.Minute)},
			VerifyPerIP:          Limit{Burst: 20, Every: Duration(30 * time.Second)},
			VerifyPerEmail:       Limit{Burst: 10, Every: Duration(6 * time.Minute)},
			InboundPerIP:         Limit{Burst: 60, Every: Duration(time.Second)},
			InboundSMTPPerIP:     Limit{Burst: 30, Every: Duration(10 * time.Second)},
			InboundSMTPPerSender: Limit{Burst: 10, Every: Duration(time.Minute)},
		},
		Staff: Staff{SessionIdle: Duration(30 * time.Minute), SessionAbsolute: Duration(12 * time.Hour),
			RemindDaysBefore: 7, ExtensionWarningDays: 5},
		Requests: Requests{Approvals: ApprovalCounts{"erasure": 2}, DuplicateWindowDays: 90},
	}
}

// applyEnv overrides the file with the variables of SPEC §5.
func (c *Config) applyEnv(env func(string) (string, bool)) error {
	str := map[string]*string{
		"PORTAL_HTTP_ADDR":             &c.HTTP.Addr,
		"PORTAL_BASE_URL":              &c.HTTP.BaseURL,
		"PORTAL_METRICS_ADDR":          &c.HTTP.MetricsAddr,
		"PORTAL_DATABASE_DRIVER":       &c.Database.Driver,
		"PORTAL_DATABASE_DSN":          &c.Database.DSN,
		"PORTAL_MAIL_FROM":             &c.Mail.From,
		"PORTAL_MAIL_SMTP_HOST":        &c.Mail.SMTP.Host,
		"PORTAL_MAIL_SMTP_TLS":         &c.Mail.SMTP.TLS,
		"PORTAL_MAIL_SMTP_USERNAME":    &c.Mail.SMTP.Username,
		"PORTAL_MAIL_SMTP_PASSWORD":    &c.Mail.SMTP.Password,
		"PORTAL_MAIL_DIR":              &c.Mail.Dir,
		"PORTAL_MAIL_INBOUND_ADDR":     &c.Mail.Inbound.Addr,
		"PORTAL_MAIL_INBOUND_SECRET":   &c.Mail.Inbound.Secret,
		"PORTAL_MAIL_INBOUND_TLS_CERT": &c.Mail.Inbound.TLSCert,
		"PORTAL_MAIL_INBOUND_TLS_KEY":  &c.Mail.Inbound.TLSKey,
		"PORTAL_MAIL_SMTP_CA_FILE":     &c.Mail.SMTP.CAFile,
		"PORTAL_SECRET_KEY_FILE":       &c.SecretKeyFile,
		"PORTAL_LOG_LEVEL":             &c.LogLevel,
		"PORTAL_DEFAULT_LANGUAGE":      &c.DefaultLanguage,
	}
	for name, p := range str {
		if v, ok := lookup(env, name); ok {
			*p = v
		}
	}
	var errs []error
	if v, ok := lookup(env, "PORTAL_MAIL_SMTP_PORT"); ok {
		if n, err := strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("mail.smtp.port (PORTAL_MAIL_SMTP_PORT): %q is not a port number", v))
		} else {
			c.Mail.SMTP.Port = n
		}
	}
	errs = append(errs, envBool(env, "PORTAL_RATELIMIT_ENABLED", "ratelimit.enabled", &c.RateLimit.Enabled),
		envBool(env, "PORTAL_MAIL_INBOUND_REQUIRE_TLS", "mail.inbound.require_tls", &c.Mail.Inbound.RequireTLS),
		envBool(env, "PORTAL_WEBHOOKS_ALLOW_LOOPBACK", "webhooks.allow_loopback", &c.Webhooks.AllowLoopback),
		envBool(env, "PORTAL_WEBHOOKS_ALLOW_PRIVATE", "webhooks.allow_private", &c.Webhooks.AllowPrivate))
	if v, ok := lookup(env, "PORTAL_TRUSTED_PROXIES"); ok {
		c.HTTP.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, p)
			}
		}
	}
	return errors.Join(errs...)
}

// envBool sets *dst from the variable name when it is set; key is the
// file's key it overrides, for the message.
func envBool(env func(string) (string, bool), name, key string, dst *bool) error {
	v, ok := lookup(env, name)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%s (%s): %q is neither true nor false", key, name, v)
	}
	*dst = b
	return nil
}

// lookup reads one variable. A variable that is set but empty counts:
// PORTAL_MAIL_SMTP_HOST= turns SMTP off even where the file sets a host.
func lookup(env func(string) (string, bool), name string) (string, bool) {
	if env == nil {
		return "", false
	}
	v, ok := env(name)
	return strings.TrimSpace(v), ok
}
