package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the shipped time zone must load on any test machine

	"rightsportal/config"
	"rightsportal/workflow"
)

// shipped is the repository's own config.yaml.
var shipped = filepath.Join("..", "config.yaml")

// minimal is the smallest file that validates: everything else comes from
// the defaults.
const minimal = `organisation:
  name: "Test Org"
  timezone: "Europe/Berlin"
  holidays: ["2026-12-25"]
mail:
  from: "Privacy <privacy@example.org>"
jurisdictions:
  default: "gdpr"
  policies:
    gdpr:
      name: "GDPR"
      label: "the EU"
      period: "1 month"
      clock_starts: "verification"
      authority: "the DPA"
      types: [access, erasure]
`

// edit applies old→new replacements to minimal, failing if one misses.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := minimal
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("minimal config has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// writeConfig puts content in a file of its own.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envOf is a lookup function backed by a map, standing in for os.LookupEnv.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func shippedText(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The shipped config.yaml loads, with the seven jurisdictions of SPEC §4 in
// the file's order and the rules each law sets.
func TestShippedConfig(t *testing.T) {
	cfg, err := config.Load(shipped, envOf(nil))
	if err != nil {
		t.Fatalf("shipped config.yaml: %v", err)
	}
	want := []string{"gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "lgpd"}
	if !slices.Equal(cfg.Jurisdictions.Order, want) {
		t.Errorf("Order = %v, want %v", cfg.Jurisdictions.Order, want)
	}
	if cfg.Jurisdictions.Default != "gdpr" || cfg.Policy("gdpr") == nil {
		t.Errorf("default %q, want gdpr", cfg.Jurisdictions.Default)
	}
	if len(cfg.Jurisdictions.Policies) != len(want) {
		t.Errorf("%d policies, want %d", len(cfg.Jurisdictions.Policies), len(want))
	}
	rules := []struct {
		code         string
		period       workflow.Period
		atSubmission bool
		appeal       bool
		extension    bool
		ackDays      int
	}{
		{"gdpr", workflow.Period{Months: 1}, false, false, true, 0},
		{"uk_gdpr", workflow.Period{Months: 1}, false, false, true, 0},
		{"ccpa", workflow.Period{Days: 45}, true, false, true, 10},
		{"vcdpa", workflow.Period{Days: 45}, true, true, true, 0},
		{"cpa", workflow.Period{Days: 45}, true, true, true, 0},
		{"ctdpa", workflow.Period{Days: 45}, true, true, true, 0},
		{"lgpd", workflow.Period{Days: 15}, false, false, false, 0},
	}
	for _, r := range rules {
		p := cfg.Policy(r.code)
		if p == nil {
			t.Errorf("%s missing", r.code)
			continue
		}
		got := p.Rules
		if got.Period != r.period || got.ClockAtSubmission != r.atSubmission ||
			got.AppealWindow.IsZero() == r.appeal || got.MaxExtension.IsZero() == r.extension ||
			p.AcknowledgeBusinessDays != r.ackDays || strings.TrimSpace(p.Authority) == "" {
			t.Errorf("%s: rules %+v (ack %d), want period %v, at submission %v, appeal %v, extension %v, ack %d",
				r.code, got, p.AcknowledgeBusinessDays, r.period, r.atSubmission, r.appeal, r.extension, r.ackDays)
		}
		if !p.Allows(workflow.TypeAccess) || !p.Allows(workflow.TypeErasure) {
			t.Errorf("%s does not allow access and erasure", r.code)
		}
	}
	if cfg.Policy("vcdpa").Allows(workflow.TypeRestriction) {
		t.Error("vcdpa allows restriction, which that law does not grant")
	}
	if cfg.Approvals(workflow.TypeErasure) != 2 || cfg.Approvals(workflow.TypeAccess) != 1 {
		t.Errorf("approvals erasure %d access %d, want 2 and 1",
			cfg.Approvals(workflow.TypeErasure), cfg.Approvals(workflow.TypeAccess))
	}
	if cfg.Mail.ReplyDomain != "example.org" {
		t.Errorf("reply domain %q, want the domain of mail.from", cfg.Mail.ReplyDomain)
	}
	if cal := cfg.Calendar(); cal.Loc.String() != "Europe/Berlin" {
		t.Errorf("calendar zone %s", cal.Loc)
	}
}

// Without a file value or a variable, every setting of SPEC §5 has its
// documented default.
func TestDefaults(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*config.Config{config.Defaults(), cfg} {
		checks := []struct {
			name      string
			got, want any
		}{
			{"http.addr", c.HTTP.Addr, "127.0.0.1:8080"},
			{"http.base_url", c.HTTP.BaseURL, "http://127.0.0.1:8080"},
			{"database.driver", c.Database.Driver, "sqlite"},
			{"database.dsn", c.Database.DSN, "data/portal.db"},
			{"mail.smtp.host", c.Mail.SMTP.Host, ""},
			{"mail.smtp.port", c.Mail.SMTP.Port, 587},
			{"mail.smtp.tls", c.Mail.SMTP.TLS, "starttls"},
			{"mail.smtp.username", c.Mail.SMTP.Username, ""},
			{"mail.smtp.password", c.Mail.SMTP.Password, ""},
			{"mail.dir", c.Mail.Dir, "data/mail"},
			{"mail.inbound.addr", c.Mail.Inbound.Addr, ""},
			{"mail.inbound.secret", c.Mail.Inbound.Secret, ""},
			{"ratelimit.enabled", c.RateLimit.Enabled, true},
			{"http.trusted_proxies", len(c.HTTP.TrustedProxies), 0},
			{"verification.window", c.Verification.Window.D(), 72 * time.Hour},
			{"approvals erasure", c.Approvals(workflow.TypeErasure), 2},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
			}
		}
	}
}

// A key the portal does not know is an error that names it, so a typo
// never falls back to a default in silence.
func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, doc, key string
	}{
		{"top level", minimal + "colour: red\n", "colour"},
		{"nested", minimal + "http:\n  adress: \":80\"\n", "adress"},
		{"two levels deep", edit(t, `  from: "Privacy <privacy@example.org>"`,
			"  from: \"Privacy <privacy@example.org>\"\n  smtp: {hots: x}"), "hots"},
		{"in a policy", edit(t, `      period: "1 month"`, "      perod: \"1 month\"\n      period: \"1 month\""), "perod"},
		{"in a rate limit", minimal + "ratelimit:\n  submit_per_ip: {burst: 1, evry: 1m}\n", "evry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := config.Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("Parse error %v, want one naming %q", err, tc.key)
			}
			if _, err := config.Load(writeConfig(t, tc.doc), nil); err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("Load error %v, want one naming %q", err, tc.key)
			}
		})
	}
	t.Run("shipped with flow mapping", func(t *testing.T) {
		doc := strings.Replace(shippedText(t), "requests:\n", "mail2: {smtp: {hots: x}}\nrequests:\n", 1)
		if _, err := config.Load(writeConfig(t, doc), nil); err == nil || !strings.Contains(err.Error(), "mail2") {
			t.Errorf("error %v, want one naming mail2", err)
		}
	})
}

// Each variable of SPEC §5 overrides the file.
func TestEnvOverrides(t *testing.T) {
	file := writeConfig(t, shippedText(t))
	tests := []struct {
		name  string
		env   map[string]string
		check func(*config.Config) bool
	}{
		{"PORTAL_HTTP_ADDR", map[string]string{"PORTAL_HTTP_ADDR": "0.0.0.0:9090"},
			func(c *config.Config) bool { return c.HTTP.Addr == "0.0.0.0:9090" }},
		{"PORTAL_HTTP_ADDR trimmed", map[string]string{"PORTAL_HTTP_ADDR": " :9090 \n"},
			func(c *config.Config) bool { return c.HTTP.Addr == ":9090" }},
		{"PORTAL_BASE_URL", map[string]string{"PORTAL_BASE_URL": "https://privacy.example.org/"},
			func(c *config.Config) bool { return c.HTTP.BaseURL == "https://privacy.example.org" }},
		{"PORTAL_DATABASE_DRIVER and DSN", map[string]string{"PORTAL_DATABASE_DRIVER": "postgres", "PORTAL_DATABASE_DSN": "postgres://portal@db/portal"},
			func(c *config.Config) bool {
				return c.Database.Driver == "postgres" && c.Database.DSN == "postgres://portal@db/portal"
			}},
		{"PORTAL_DATABASE_DSN", map[string]string{"PORTAL_DATABASE_DSN": "/var/lib/portal/portal.db"},
			func(c *config.Config) bool {
				return c.Database.Driver == "sqlite" && c.Database.DSN == "/var/lib/portal/portal.db"
			}},
		{"PORTAL_MAIL_FROM", map[string]string{"PORTAL_MAIL_FROM": "DPO <dpo@example.com>"},
			func(c *config.Config) bool {
				return c.Mail.From == "DPO <dpo@example.com>" && c.Mail.ReplyDomain == "example.com"
			}},
		{"PORTAL_MAIL_SMTP_HOST", map[string]string{"PORTAL_MAIL_SMTP_HOST": "smtp.example.org"},
			func(c *config.Config) bool { return c.Mail.Host() == "smtp.example.org" }},
		{"PORTAL_MAIL_SMTP_PORT", map[string]string{"PORTAL_MAIL_SMTP_PORT": "465"},
			func(c *config.Config) bool { return c.Mail.SMTP.Port == 465 }},
		{"PORTAL_MAIL_SMTP_TLS tls", map[string]string{"PORTAL_MAIL_SMTP_TLS": "tls"},
			func(c *config.Config) bool { return c.Mail.SMTP.TLS == "tls" }},
		{"PORTAL_MAIL_SMTP_TLS none", map[string]string{"PORTAL_MAIL_SMTP_TLS": "none"},
			func(c *config.Config) bool { return c.Mail.SMTP.TLS == "none" }},
		{"PORTAL_MAIL_SMTP_USERNAME and PASSWORD", map[string]string{"PORTAL_MAIL_SMTP_USERNAME": "portal", "PORTAL_MAIL_SMTP_PASSWORD": "s3cret"},
			func(c *config.Config) bool {
				return c.Mail.SMTP.Username == "portal" && c.Mail.SMTP.Password == "s3cret"
			}},
		{"PORTAL_MAIL_DIR", map[string]string{"PORTAL_MAIL_DIR": "/var/spool/portal"},
			func(c *config.Config) bool { return c.Mail.Dir == "/var/spool/portal" }},
		{"PORTAL_MAIL_INBOUND_ADDR", map[string]string{"PORTAL_MAIL_INBOUND_ADDR": "0.0.0.0:2525"},
			func(c *config.Config) bool { return c.Mail.Inbound.Addr == "0.0.0.0:2525" }},
		{"PORTAL_MAIL_INBOUND_SECRET", map[string]string{"PORTAL_MAIL_INBOUND_SECRET": "0123456789abcdef"},
			func(c *config.Config) bool { return c.Mail.Inbound.Secret == "0123456789abcdef" }},
		{"PORTAL_RATELIMIT_ENABLED false", map[string]string{"PORTAL_RATELIMIT_ENABLED": "false"},
			func(c *config.Config) bool { return !c.RateLimit.Enabled }},
		{"PORTAL_RATELIMIT_ENABLED 0", map[string]string{"PORTAL_RATELIMIT_ENABLED": "0"},
			func(c *config.Config) bool { return !c.RateLimit.Enabled }},
		{"PORTAL_RATELIMIT_ENABLED true", map[string]string{"PORTAL_RATELIMIT_ENABLED": "true"},
			func(c *config.Config) bool { return c.RateLimit.Enabled }},
		{"PORTAL_TRUSTED_PROXIES", map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1,,::1 , fd00::/8"},
			func(c *config.Config) bool {
				return slices.Equal(c.HTTP.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"})
			}},
		{"PORTAL_SECRET_KEY_FILE", map[string]string{"PORTAL_SECRET_KEY_FILE": "/etc/portal/key"},
			func(c *config.Config) bool { return c.SecretKeyFile == "/etc/portal/key" }},
		{"PORTAL_WEBHOOKS_ALLOW_LOOPBACK and ALLOW_PRIVATE", map[string]string{"PORTAL_WEBHOOKS_ALLOW_LOOPBACK": "true", "PORTAL_WEBHOOKS_ALLOW_PRIVATE": "1"},
			func(c *config.Config) bool { return c.Webhooks.AllowLoopback && c.Webhooks.AllowPrivate }},
		{"webhooks stay closed by default", nil,
			func(c *config.Config) bool {
				return !c.Webhooks.AllowLoopback && !c.Webhooks.AllowPrivate && c.Webhooks.MaxAttempts == 48
			}},
		{"unrelated variables change nothing", map[string]string{"PORTAL_HTTP_PORT": "1", "HOME": "/root"},
			func(c *config.Config) bool { return c.HTTP.Addr == "127.0.0.1:8080" && c.Mail.SMTP.Port == 587 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(file, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Errorf("override %v not applied: http %+v db %+v smtp %+v dir %q inbound %+v ratelimit %v",
					tc.env, cfg.HTTP, cfg.Database, cfg.Mail.SMTP, cfg.Mail.Dir, cfg.Mail.Inbound, cfg.RateLimit.Enabled)
			}
		})
	}
}

// A variable that is set but empty counts: PORTAL_MAIL_SMTP_HOST= turns
// SMTP off where the file names a host; unset, the file's host stays.
func TestEnvSetButEmpty(t *testing.T) {
	doc := edit(t, `  from: "Privacy <privacy@example.org>"`,
		"  from: \"Privacy <privacy@example.org>\"\n  smtp: {host: smtp.example.org}")
	file := writeConfig(t, doc)
	cfg, err := config.Load(file, envOf(map[string]string{"PORTAL_MAIL_SMTP_HOST": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mail.Host() != "" {
		t.Errorf("host %q after PORTAL_MAIL_SMTP_HOST=, want none", cfg.Mail.Host())
	}
	cfg, err = config.Load(file, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mail.Host() != "smtp.example.org" {
		t.Errorf("host %q with the variable unset, want the file's", cfg.Mail.Host())
	}
	doc = edit(t, "organisation:", "http: {trusted_proxies: [10.0.0.1]}\norganisation:")
	cfg, err = config.Load(writeConfig(t, doc), envOf(map[string]string{"PORTAL_TRUSTED_PROXIES": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HTTP.TrustedProxies) != 0 {
		t.Errorf("trusted proxies %v after PORTAL_TRUSTED_PROXIES=, want none", cfg.HTTP.TrustedProxies)
	}
}

// A bad value, from a variable or the file, is an error naming the key.
func TestInvalidValues(t *testing.T) {
	noPolicies := strings.SplitN(minimal, "jurisdictions:", 2)[0]
	tests := []struct {
		name string
		doc  string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"smtp tls", minimal, map[string]string{"PORTAL_MAIL_SMTP_TLS": "ssl"}, []string{"mail.smtp.tls", "ssl"}},
		{"smtp port not a number", minimal, map[string]string{"PORTAL_MAIL_SMTP_PORT": "abc"}, []string{"PORTAL_MAIL_SMTP_PORT", "mail.smtp.port", "abc"}},
		{"smtp port out of range", minimal, map[string]string{"PORTAL_MAIL_SMTP_PORT": "70000"}, []string{"mail.smtp.port"}},
		{"smtp port zero", minimal, map[string]string{"PORTAL_MAIL_SMTP_PORT": "0"}, []string{"mail.smtp.port"}},
		{"ratelimit maybe", minimal, map[string]string{"PORTAL_RATELIMIT_ENABLED": "maybe"}, []string{"PORTAL_RATELIMIT_ENABLED", "ratelimit.enabled", "maybe"}},
		{"trusted proxy", minimal, map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.1,not-an-ip"}, []string{"http.trusted_proxies", "not-an-ip"}},
		{"base url ftp", minimal, map[string]string{"PORTAL_BASE_URL": "ftp://x"}, []string{"http.base_url", "ftp://x"}},
		{"base url relative", minimal, map[string]string{"PORTAL_BASE_URL": "/portal"}, []string{"http.base_url"}},
		{"http addr", minimal, map[string]string{"PORTAL_HTTP_ADDR": "localhost"}, []string{"http.addr"}},
		{"database driver", minimal, map[string]string{"PORTAL_DATABASE_DRIVER": "mysql"}, []string{"database.driver", "mysql"}},
		{"database dsn empty", minimal, map[string]string{"PORTAL_DATABASE_DSN": ""}, []string{"database.dsn"}},
		{"mail from", minimal, map[string]string{"PORTAL_MAIL_FROM": "not an address"}, []string{"mail.from"}},
		{"smtp username alone", minimal, map[string]string{"PORTAL_MAIL_SMTP_USERNAME": "portal"}, []string{"mail.smtp.username"}},
		{"mail dir empty without smtp", minimal, map[string]string{"PORTAL_MAIL_DIR": ""}, []string{"mail.dir"}},
		{"inbound addr", minimal, map[string]string{"PORTAL_MAIL_INBOUND_ADDR": "nope"}, []string{"mail.inbound.addr"}},
		{"inbound secret too short", minimal, map[string]string{"PORTAL_MAIL_INBOUND_SECRET": "short"}, []string{"mail.inbound.secret"}},
		{"time zone", edit(t, "Europe/Berlin", "Mars/Olympus_Mons"), nil, []string{"organisation.timezone", "Mars/Olympus_Mons"}},
		{"time zone empty", edit(t, `timezone: "Europe/Berlin"`, `timezone: ""`), nil, []string{"organisation.timezone"}},
		{"holiday", edit(t, "2026-12-25", "2026-02-30"), nil, []string{"organisation.holidays[0]", "2026-02-30"}},
		{"period in weeks", edit(t, `"1 month"`, `"1 week"`), nil, []string{"jurisdictions.policies.gdpr.period", "1 week"}},
		{"period zero", edit(t, `"1 month"`, `"0 days"`), nil, []string{"jurisdictions.policies.gdpr.period"}},
		{"appeal window without decision", edit(t, "      authority:", "      appeal_window: \"60 days\"\n      authority:"), nil,
			[]string{"jurisdictions.policies.gdpr", "appeal_window"}},
		{"appeal decision without window", edit(t, "      authority:", "      appeal_decision: \"60 days\"\n      authority:"), nil,
			[]string{"jurisdictions.policies.gdpr", "appeal_decision"}},
		{"unknown type", edit(t, "[access, erasure]", "[access, teleport]"), nil, []string{"jurisdictions.policies.gdpr.types", "teleport"}},
		{"no types", edit(t, "[access, erasure]", "[]"), nil, []string{"jurisdictions.policies.gdpr.types"}},
		{"clock start", edit(t, `"verification"`, `"whenever"`), nil, []string{"jurisdictions.policies.gdpr.clock_starts"}},
		{"default missing", edit(t, `default: "gdpr"`, `default: "atlantis"`), nil, []string{"jurisdictions.default", "atlantis"}},
		{"no jurisdictions", noPolicies, nil, []string{"jurisdictions.policies"}},
		{"empty jurisdiction", noPolicies + "jurisdictions:\n  default: x\n  policies:\n    x:\n", nil, []string{"jurisdictions.policies.x"}},
		{"approvals too many", minimal + "requests:\n  approvals:\n    erasure: 9\n", nil, []string{"requests.approvals.erasure"}},
		{"approvals zero", minimal + "requests:\n  approvals:\n    erasure: 0\n", nil, []string{"requests.approvals.erasure"}},
		{"approvals unknown type", minimal + "requests:\n  approvals:\n    teleport: 2\n", nil, []string{"requests.approvals.teleport"}},
		{"duration", minimal + "verification:\n  window: \"3 days\"\n", nil, []string{"3 days"}},
		{"verification window too short", minimal + "verification:\n  window: \"1m\"\n", nil, []string{"verification.window"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.doc), envOf(tc.env))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// All that is wrong is reported at once, variables and file together, so
// an operator fixes it in one round.
func TestSeveralErrorsReportedTogether(t *testing.T) {
	doc := edit(t, "Europe/Berlin", "Nowhere/Town", "2026-12-25", "2026-02-30", `"1 month"`, `"1 week"`,
		`default: "gdpr"`, `default: "atlantis"`)
	env := map[string]string{
		"PORTAL_MAIL_SMTP_TLS":     "ssl",
		"PORTAL_MAIL_SMTP_PORT":    "abc",
		"PORTAL_RATELIMIT_ENABLED": "maybe",
		"PORTAL_TRUSTED_PROXIES":   "not-an-ip",
	}
	_, err := config.Load(writeConfig(t, doc), envOf(env))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, key := range []string{"organisation.timezone", "organisation.holidays[0]", "jurisdictions.policies.gdpr.period",
		"jurisdictions.default", "mail.smtp.tls", "mail.smtp.port", "ratelimit.enabled", "http.trusted_proxies"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not mention %s:\n%v", key, err)
		}
	}
}

// requests.approvals in the file replaces the defaults as a whole: a type
// it does not name needs one approval, as config.yaml says.
func TestApprovalsReplaceDefaults(t *testing.T) {
	tests := []struct {
		name            string
		doc             string
		erasure, access int
	}{
		{"not in the file", minimal, 2, 1},
		{"erasure raised", minimal + "requests:\n  approvals:\n    erasure: 3\n", 3, 1},
		{"only access named", minimal + "requests:\n  approvals:\n    access: 2\n", 1, 2},
		{"empty map", minimal + "requests:\n  approvals: {}\n", 1, 1},
		{"null", minimal + "requests:\n  approvals:\n", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(writeConfig(t, tc.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if e, a := cfg.Approvals(workflow.TypeErasure), cfg.Approvals(workflow.TypeAccess); e != tc.erasure || a != tc.access {
				t.Errorf("erasure %d access %d, want %d and %d", e, a, tc.erasure, tc.access)
			}
		})
	}
	if config.Defaults().Requests.Approvals["erasure"] != 2 {
		t.Error("loading a file changed the defaults")
	}
	if _, err := config.Parse([]byte("requests:\n  approvals:\n    erasure: two\n")); err == nil {
		t.Error("approvals erasure: two parsed")
	}
}

// Jurisdictions keep the file's order, which is the order forms offer.
func TestJurisdictionOrder(t *testing.T) {
	policy := func(code string) string {
		return "    " + code + ":\n      name: \"" + code + "\"\n      label: \"l\"\n      period: \"45 days\"\n" +
			"      clock_starts: \"submission\"\n      authority: \"a\"\n      types: [access]\n"
	}
	doc := edit(t, `default: "gdpr"`, `default: "zeta"`)
	doc = strings.SplitN(doc, "    gdpr:", 2)[0] + policy("zeta") + policy("alpha") + policy("mid")
	cfg, err := config.Load(writeConfig(t, doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"zeta", "alpha", "mid"}; !slices.Equal(cfg.Jurisdictions.Order, want) {
		t.Errorf("Order = %v, want %v", cfg.Jurisdictions.Order, want)
	}
}

// The calendar carries the organisation's zone and holidays.
func TestCalendar(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := cfg.Calendar()
	if cal.Loc.String() != "Europe/Berlin" {
		t.Errorf("zone %s", cal.Loc)
	}
	xmas, _ := workflow.ParseDate("2026-12-25")
	if !cal.Holidays[xmas] || cal.Working(xmas) {
		t.Error("2026-12-25 is not a holiday in the calendar")
	}
}

// A missing or empty file is reported, not replaced by defaults in silence.
func TestLoadMissingOrEmptyFile(t *testing.T) {
	if _, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
		t.Error("missing file loaded")
	}
	// An empty file parses to the defaults, which lack a sender and a law.
	_, err := config.Load(writeConfig(t, ""), nil)
	if err == nil || !strings.Contains(err.Error(), "mail.from") || !strings.Contains(err.Error(), "jurisdictions.policies") {
		t.Errorf("empty file: error %v, want mail.from and jurisdictions.policies", err)
	}
}

// TestExampleOrganisationConfig keeps examples/organisation.yaml valid: it
// is the sample operators try fulfilment with.
func TestExampleOrganisationConfig(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "examples", "organisation.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Systems) != 4 || cfg.System("shop") == nil || cfg.System("shop").Connector.Kind != config.ConnectorSQL {
		t.Fatalf("systems: %+v", cfg.Systems)
	}
}

// TestWebhookURLsMustBeHTTPS: a webhook connector or recipient may only be
// called over https, except on this machine; the URL comes only from the
// operator's configuration (no SSRF from requests).
func TestWebhookURLsMustBeHTTPS(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "examples", "organisation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for url, ok := range map[string]bool{
		"https://support.example.org/x": true, "http://127.0.0.1:9000/x": true, "http://localhost/x": true,
		"http://support.example.org/x": false, "ftp://support.example.org/x": false, "support.example.org": false,
	} {
		raw := strings.Replace(string(base), "https://support.example.org/privacy-requests", url, 1)
		cfg, err := config.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "webhook.url"); got != ok {
			t.Errorf("webhook %s: valid=%v, want %v (%v)", url, got, ok, err)
		}
	}
}

func TestWebhookLimits(t *testing.T) {
	for _, c := range []struct {
		set   func(*config.Config)
		field string
	}{
		{func(c *config.Config) { c.Webhooks.Timeout = config.Duration(0) }, "webhooks.timeout"},
		{func(c *config.Config) { c.Webhooks.MaxAttempts = 0 }, "webhooks.max_attempts"},
		{func(c *config.Config) { c.Webhooks.MaxAttempts = 1000 }, "webhooks.max_attempts"},
		{func(c *config.Config) { c.Webhooks.MaxBackoff = config.Duration(48 * time.Hour) }, "webhooks.max_backoff"},
	} {
		cfg := config.Defaults()
		c.set(cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: Validate() = %v, want an error naming it", c.field, err)
		}
	}
}

// TestLanguages: the shipped file offers every language, English the
// default; a language without a catalog, one listed twice, none at all,
// or a default outside the list each stop start-up naming the key; the
// environment picks the default.
func TestLanguages(t *testing.T) {
	shipped := func(env map[string]string) (*config.Config, error) {
		return config.Load(filepath.Join("..", "config.yaml"), envOf(env))
	}
	cfg, err := shipped(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultLanguage != "en" || strings.Join(cfg.Languages, ",") != "en,de,fr,es,pt-BR" {
		t.Errorf("shipped: %q %v", cfg.DefaultLanguage, cfg.Languages)
	}
	for _, c := range []struct {
		set   func(*config.Config)
		field string
	}{
		{func(c *config.Config) { c.Languages = []string{"en", "it"} }, `languages: "it" has no catalog`},
		{func(c *config.Config) { c.Languages = []string{"en", "de", "de"} }, `languages: "de" is listed twice`},
		{func(c *config.Config) { c.Languages = nil }, "languages: must name at least one"},
		{func(c *config.Config) { c.DefaultLanguage = "fr"; c.Languages = []string{"en", "de"} }, "default_language"},
		{func(c *config.Config) { c.DefaultLanguage = "pt-br" }, "default_language"},
	} {
		cfg, err := shipped(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.set(cfg)
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: Validate() = %v, want an error naming it", c.field, err)
		}
	}
	if cfg, err := shipped(map[string]string{"PORTAL_DEFAULT_LANGUAGE": "de"}); err != nil || cfg.DefaultLanguage != "de" {
		t.Errorf("PORTAL_DEFAULT_LANGUAGE=de: %v %v", cfg, err)
	}
	if _, err := shipped(map[string]string{"PORTAL_DEFAULT_LANGUAGE": "it"}); err == nil || !strings.Contains(err.Error(), "PORTAL_DEFAULT_LANGUAGE") {
		t.Errorf("PORTAL_DEFAULT_LANGUAGE=it: %v, want an error naming it", err)
	}
}
