package config

import "time"

// Webhooks shapes the event webhooks admins register (on /staff/admin or
// through the API). The endpoints themselves live in the database; these
// keys are the operator's limits on them.
type Webhooks struct {
	// AllowLoopback admits endpoints on the host itself (127.0.0.0/8,
	// ::1, localhost), also over plain http: for development and tests.
	// Off in production, so an admin cannot aim signed calls at the
	// host's own services.
	AllowLoopback bool `yaml:"allow_loopback"`
	// AllowPrivate admits endpoints on private, shared and link-local
	// addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7,
	// 169.254/16, fe80::/10), still over https only: for a receiver on the
	// organisation's own network. Off: no SSRF into the host's network.
	AllowPrivate bool `yaml:"allow_private"`
	// Timeout bounds one delivery (connect, send, answer).
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how often a delivery is tried before it is marked
	// failed (staff can still send it again).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxBackoff caps the wait between attempts, which doubles from 10 s.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// defaultWebhooks retries for about two days: 10 s doubling to an hour,
// then hourly, 48 attempts in all.
func defaultWebhooks() Webhooks {
	return Webhooks{Timeout: Duration(10 * time.Second), MaxAttempts: 48, MaxBackoff: Duration(time.Hour)}
}

func (c *Config) checkWebhooks(v *checker) {
	w := c.Webhooks
	if w.Timeout.D() < time.Second || w.Timeout.D() > 2*time.Minute {
		v.bad("webhooks.timeout", "must be from 1s to 2m, not %s", w.Timeout.D())
	}
	if w.MaxAttempts < 1 || w.MaxAttempts > 200 {
		v.bad("webhooks.max_attempts", "must be from 1 to 200, not %d", w.MaxAttempts)
	}
	if w.MaxBackoff.D() < 10*time.Millisecond || w.MaxBackoff.D() > 24*time.Hour {
		v.bad("webhooks.max_backoff", "must be from 10ms to 24h, not %s", w.MaxBackoff.D())
	}
}
