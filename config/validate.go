package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"rightsportal/workflow"
)

// Rules are a policy's values in the form the workflow computes with;
// Validate fills them in.
type Rules struct {
	Period                workflow.Period
	MaxExtension          workflow.Period
	ExtensionNoticeWithin workflow.Period
	AppealWindow          workflow.Period
	AppealDecision        workflow.Period
	ClockAtSubmission     bool
	Types                 []workflow.RequestType
}

var (
	codeRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)
	localRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,40}$`)
)

// Validate checks every key once, at start, and names each that is wrong.
func (c *Config) Validate() error {
	v := &checker{}
	if strings.TrimSpace(c.SecretKeyFile) == "" {
		v.bad("secret_key_file (PORTAL_SECRET_KEY_FILE)", "is required: it names the file that holds the sealing key")
	}
	c.checkOrganisation(v)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log_level (PORTAL_LOG_LEVEL)", "%q is none of debug, info, warn, error", c.LogLevel)
	}
	c.checkHTTP(v)
	c.checkDatabase(v)
	c.checkMail(v)
	if w := c.Verification.Window.D(); w < time.Hour || w > 30*24*time.Hour {
		v.bad("verification.window", "must be between 1h and 720h, not %s", w)
	}
	if r := c.Verification.ReminderAfter.D(); r < 0 || (r > 0 && r >= c.Verification.Window.D()) {
		v.bad("verification.reminder_after", "must be 0 (off) or shorter than verification.window, not %s", r)
	}
	if p, err := workflow.ParsePeriod(c.Retention.ClosedRequests); err != nil || p.IsZero() {
		v.bad("retention.closed_requests", "%q is not a period like \"24 months\"", c.Retention.ClosedRequests)
	} else {
		c.Retention.Period = p
	}
	if c.Staff.RemindDaysBefore < 0 || c.Staff.RemindDaysBefore > 60 || c.Staff.ExtensionWarningDays < 0 || c.Staff.ExtensionWarningDays > 60 {
		v.bad("staff", "remind_days_before and extension_warning_days must be from 0 to 60")
	}
	for name, l := range map[string]Limit{
		"submit_per_ip": c.RateLimit.SubmitPerIP, "submit_per_email": c.RateLimit.SubmitPerEmail,
		"verify_per_ip": c.RateLimit.VerifyPerIP, "verify_per_email": c.RateLimit.VerifyPerEmail,
		"inbound_per_ip": c.RateLimit.InboundPerIP, "inbound_smtp_per_ip": c.RateLimit.InboundSMTPPerIP,
		"inbound_smtp_per_sender": c.RateLimit.InboundSMTPPerSender,
	} {
		if l.Burst < 1 || l.Every.D() <= 0 {
			v.bad("ratelimit."+name, "needs burst of at least 1 and a positive every")
		}
	}
	if c.Staff.SessionIdle.D() < time.Minute || c.Staff.SessionAbsolute.D() < c.Staff.SessionIdle.D() {
		v.bad("staff", "session_idle must be at least 1m and session_absolute at least session_idle")
	}
	if d := c.Requests.DuplicateWindowDays; d < 0 || d > 3660 {
		v.bad("requests.duplicate_window_days", "must be from 0 (off) to 3660, not %d", d)
	}
	for k, n := range c.Requests.Approvals {
		if !workflow.RequestType(k).Valid() {
			v.bad("requests.approvals."+k, "is not a request type")
		} else if n < 1 || n > 5 {
			v.bad("requests.approvals."+k, "must be from 1 to 5, not %d", n)
		}
	}
	c.checkJurisdictions(v)
	c.checkSystems(v)
	c.checkAttachments(v)
	c.checkWebhooks(v)
	c.checkLanguages(v)
	cal := c.buildCalendar()
	c.calendar = &cal
	return errors.Join(v.errs...)
}

type checker struct{ errs []error }

func (v *checker) bad(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (c *Config) checkOrganisation(v *checker) {
	o := &c.Organisation
	if strings.TrimSpace(o.Name) == "" {
		v.bad("organisation.name", "is required: it is shown on every page and in every mail")
	}
	if _, err := time.LoadLocation(o.TimeZone); err != nil || o.TimeZone == "" {
		v.bad("organisation.timezone", "%q is not an IANA time zone like Europe/Berlin", o.TimeZone)
	}
	for i, h := range o.Holidays {
		if _, err := workflow.ParseDate(h); err != nil {
			v.bad(fmt.Sprintf("organisation.holidays[%d]", i), "%q is not a date as YYYY-MM-DD", h)
		}
	}
	if o.PrivacyContact != "" {
		if _, err := mail.ParseAddress(o.PrivacyContact); err != nil {
			v.bad("organisation.privacy_contact", "%q is not an e-mail address", o.PrivacyContact)
		}
	}
}

func (c *Config) checkHTTP(v *checker) {
	h := &c.HTTP
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		v.bad("http.addr (PORTAL_HTTP_ADDR)", "%q is not host:port", h.Addr)
	}
	if h.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(h.MetricsAddr); err != nil {
			v.bad("http.metrics_addr (PORTAL_METRICS_ADDR)", "%q is not host:port", h.MetricsAddr)
		} else if h.MetricsAddr == h.Addr {
			v.bad("http.metrics_addr (PORTAL_METRICS_ADDR)", "must differ from http.addr")
		}
	}
	u, err := url.Parse(h.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		v.bad("http.base_url (PORTAL_BASE_URL)", "%q is not an absolute http or https URL", h.BaseURL)
	}
	h.BaseURL = strings.TrimRight(h.BaseURL, "/")
	for _, p := range h.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			v.bad("http.trusted_proxies (PORTAL_TRUSTED_PROXIES)", "%q is neither an IP address nor a CIDR", p)
		}
	}
	if h.MaxBodyBytes < 1<<10 || h.MaxBodyBytes > 10<<20 {
		v.bad("http.max_body_bytes", "must be between 1024 and 10485760, not %d", h.MaxBodyBytes)
	}
}

func (c *Config) checkDatabase(v *checker) {
	if c.Database.Driver != "sqlite" && c.Database.Driver != "postgres" {
		v.bad("database.driver (PORTAL_DATABASE_DRIVER)", "must be sqlite or postgres, not %q", c.Database.Driver)
	}
	if strings.TrimSpace(c.Database.DSN) == "" {
		v.bad("database.dsn (PORTAL_DATABASE_DSN)", "is required: a file path for sqlite, a connection string for postgres")
	}
}

func (c *Config) checkMail(v *checker) {
	m := &c.Mail
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		v.bad("mail.from (PORTAL_MAIL_FROM)", "%q is not a sender address like \"Privacy Team <privacy@example.org>\"", m.From)
	} else if m.ReplyDomain == "" {
		m.ReplyDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	if !localRE.MatchString(m.ReplyLocal) {
		v.bad("mail.reply_local", "%q must be lower-case letters, digits, dots, dashes or underscores", m.ReplyLocal)
	}
	if m.ReplyDomain != "" {
		if _, err := mail.ParseAddress(m.ReplyLocal + "@" + m.ReplyDomain); err != nil {
			v.bad("mail.reply_domain", "%q is not a mail domain", m.ReplyDomain)
		}
	}
	if m.TeamAddress != "" {
		if _, err := mail.ParseAddress(m.TeamAddress); err != nil {
			v.bad("mail.team_address", "%q is not an e-mail address", m.TeamAddress)
		}
	}
	if !slices.Contains([]string{"none", "starttls", "tls"}, m.SMTP.TLS) {
		v.bad("mail.smtp.tls (PORTAL_MAIL_SMTP_TLS)", "must be none, starttls or tls, not %q", m.SMTP.TLS)
	}
	if m.SMTP.Port < 1 || m.SMTP.Port > 65535 {
		v.bad("mail.smtp.port (PORTAL_MAIL_SMTP_PORT)", "%d is not a port", m.SMTP.Port)
	}
	if (m.SMTP.Username == "") != (m.SMTP.Password == "") {
		v.bad("mail.smtp.username", "username and password go together: set both or neither")
	}
	if m.Host() == "" && strings.TrimSpace(m.Dir) == "" {
		v.bad("mail.dir (PORTAL_MAIL_DIR)", "is required when no SMTP host is set")
	}
	if m.Inbound.Addr != "" {
		if _, _, err := net.SplitHostPort(m.Inbound.Addr); err != nil {
			v.bad("mail.inbound.addr (PORTAL_MAIL_INBOUND_ADDR)", "%q is not host:port", m.Inbound.Addr)
		}
	}
	if m.Inbound.Secret != "" && len(m.Inbound.Secret) < 16 {
		v.bad("mail.inbound.secret (PORTAL_MAIL_INBOUND_SECRET)", "must be at least 16 characters")
	}
	if m.Inbound.MaxBytes < 64<<10 || m.Inbound.KeepBytes < 1<<10 {
		v.bad("mail.inbound", "max_bytes must be at least 65536 and keep_bytes at least 1024")
	}
	if m.MaxAttempts < 1 || m.MaxBackoff.D() < 10*time.Millisecond || m.SendTimeout.D() < time.Second ||
		m.RescueAfter.D() <= m.SendTimeout.D() || m.PollInterval.D() < 10*time.Millisecond {
		v.bad("mail", "max_attempts ≥ 1, max_backoff ≥ 10ms, send_timeout ≥ 1s, rescue_after > send_timeout and poll_interval ≥ 10ms")
	}
	m.checkMailTLS(v)
}

// Host is the SMTP relay, or "" when mail goes to files.
func (m Mail) Host() string { return strings.TrimSpace(m.SMTP.Host) }

func (c *Config) checkJurisdictions(v *checker) {
	j := &c.Jurisdictions
	if len(j.Policies) == 0 {
		v.bad("jurisdictions.policies", "needs at least one jurisdiction")
		return
	}
	if _, ok := j.Policies[j.Default]; !ok {
		v.bad("jurisdictions.default", "%q is not one of the policies", j.Default)
	}
	if len(j.Order) != len(j.Policies) {
		j.Order = nil
		for code := range j.Policies {
			j.Order = append(j.Order, code)
		}
		slices.Sort(j.Order)
	}
	for _, code := range j.Order {
		p := j.Policies[code]
		key := "jurisdictions.policies." + code
		if p == nil {
			v.bad(key, "is empty")
			continue
		}
		if !codeRE.MatchString(code) {
			v.bad(key, "the code must be lower-case letters, digits and underscores")
		}
		p.check(v, key)
	}
}

func (p *Policy) check(v *checker, key string) {
	if strings.TrimSpace(p.Name) == "" || strings.TrimSpace(p.Label) == "" {
		v.bad(key, "needs a name and a label (the plain words the form shows)")
	}
	period := func(field, s string, required bool) workflow.Period {
		if s == "" && !required {
			return workflow.Period{}
		}
		pp, err := workflow.ParsePeriod(s)
		if err != nil || (required && pp.IsZero()) {
			v.bad(key+"."+field, "%q is not a period like \"1 month\" or \"45 days\"", s)
		}
		return pp
	}
	r := &p.Rules
	r.Period = period("period", p.Period, true)
	r.MaxExtension = period("max_extension", p.MaxExtension, false)
	r.ExtensionNoticeWithin = period("extension_notice_within", p.ExtensionNoticeWithin, false)
	r.AppealWindow = period("appeal_window", p.AppealWindow, false)
	r.AppealDecision = period("appeal_decision", p.AppealDecision, false)
	period("appeal_extension", p.AppealExtension, false)
	if r.AppealWindow.IsZero() != r.AppealDecision.IsZero() {
		v.bad(key, "appeal_window and appeal_decision go together: set both or neither")
	}
	switch p.ClockStarts {
	case "submission":
		r.ClockAtSubmission = true
	case "verification":
	default:
		v.bad(key+".clock_starts", "must be submission or verification, not %q", p.ClockStarts)
	}
	if p.AcknowledgeBusinessDays < 0 || p.AcknowledgeBusinessDays > 60 {
		v.bad(key+".acknowledge_business_days", "must be from 0 to 60")
	}
	if strings.TrimSpace(p.Authority) == "" {
		v.bad(key+".authority", "is required: a rejection mail must name where the subject may complain")
	}
	if len(p.Types) == 0 {
		v.bad(key+".types", "must list the request types this law grants")
	}
	r.Types = nil
	for _, t := range p.Types {
		if !workflow.RequestType(t).Valid() {
			v.bad(key+".types", "%q is not a request type", t)
			continue
		}
		r.Types = append(r.Types, workflow.RequestType(t))
	}
}

// Calendar is the organisation's calendar: its time zone and holidays.
//
// Validate builds it once: loading a time zone parses tzdata, far too slow
// to do for every row of a page.
func (c *Config) Calendar() workflow.Calendar {
	if c.calendar != nil {
		return *c.calendar
	}
	return c.buildCalendar()
}

func (c *Config) buildCalendar() workflow.Calendar {
	loc, err := time.LoadLocation(c.Organisation.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	cal := workflow.Calendar{Loc: loc, Holidays: map[workflow.Date]bool{}}
	for _, h := range c.Organisation.Holidays {
		if d, err := workflow.ParseDate(h); err == nil {
			cal.Holidays[d] = true
		}
	}
	return cal
}

// Approvals is how many different staff must approve a request of type t.
func (c *Config) Approvals(t workflow.RequestType) int {
	if n := c.Requests.Approvals[string(t)]; n > 0 {
		return n
	}
	return 1
}

// Policy is the jurisdiction named code, or nil.
func (c *Config) Policy(code string) *Policy { return c.Jurisdictions.Policies[code] }

// Allows reports whether the policy grants requests of type t.
func (p *Policy) Allows(t workflow.RequestType) bool { return slices.Contains(p.Rules.Types, t) }
