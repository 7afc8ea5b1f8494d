package handlers

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/config"
	"rightsportal/ratelimit"
	"rightsportal/service"
)

// newLimiter is a limiter for a configured limit.
func newLimiter(l config.Limit, now func() time.Time) *ratelimit.Limiter {
	return ratelimit.New(l.Burst, l.Every.D(), now)
}

// limits are the portal's rate limits, each applied only when enabled.
type limits struct {
	enabled                                                       bool
	submitIP, submitEmail, verifyIP, verifyEmail, inboundIP, code *ratelimit.Limiter
}

func newLimits(c config.RateLimit, now func() time.Time) *limits {
	return &limits{
		enabled:  c.Enabled,
		submitIP: newLimiter(c.SubmitPerIP, now), submitEmail: newLimiter(c.SubmitPerEmail, now),
		verifyIP: newLimiter(c.VerifyPerIP, now), verifyEmail: newLimiter(c.VerifyPerEmail, now),
		inboundIP: newLimiter(c.InboundPerIP, now),
		// Download codes are mailed: three an hour per status link keeps a
		// mailbox from being flooded.
		code: newLimiter(config.Limit{Burst: 3, Every: config.Duration(20 * time.Minute)}, now),
	}
}

// clientKey is the client's address as a limit key (ratelimit.AddrKey).
func clientKey(c *gin.Context) string {
	a, err := netip.ParseAddr(c.ClientIP())
	if err != nil {
		return c.ClientIP()
	}
	return ratelimit.AddrKey(a)
}

// take applies l to key and answers 429 with Retry-After when exhausted.
func (h *Handler) take(c *gin.Context, l *ratelimit.Limiter, key string) bool {
	if !h.limits.enabled {
		return true
	}
	ok, wait := l.Allow(key)
	if !ok {
		h.tooMany(c, wait)
	}
	return ok
}

// tooMany answers SPEC §7's 429 with Retry-After in whole seconds.
func (h *Handler) tooMany(c *gin.Context, wait time.Duration) {
	h.fail(c, rateLimited(c, wait))
}

// rateLimited sets Retry-After in whole seconds and is the 429 to answer,
// for refusals that come back as an error from below.
func rateLimited(c *gin.Context, wait time.Duration) error {
	secs := strconv.Itoa(ratelimit.RetrySeconds(wait))
	c.Header("Retry-After", secs)
	return &httpError{http.StatusTooManyRequests, "rate_limited",
		"Too many requests. Please wait " + secs + " seconds and try again.", nil}
}

// addressKey keys a per-address limit by the mailbox
// (service.AddressLimitKey), so that case and +tags give no address a
// second allowance, and by a hash, so that limiters hold no addresses.
func addressKey(email string) string {
	return ratelimit.HashKey(service.AddressLimitKey(email))
}

func (h *Handler) limitSubmit(c *gin.Context) {
	if h.take(c, h.limits.submitIP, clientKey(c)) {
		c.Next()
	}
}

func (h *Handler) limitVerify(c *gin.Context) {
	if h.take(c, h.limits.verifyIP, clientKey(c)) {
		c.Next()
	}
}

func (h *Handler) limitInbound(c *gin.Context) {
	if h.take(c, h.limits.inboundIP, clientKey(c)) {
		c.Next()
	}
}

// admitEmail is service.SubmitInput.Admit: it spends the per-address
// submission allowance only once the input has validated, so that
// invalid submissions naming someone's address (which store nothing)
// cannot lock that person out; the per-client limit counts them all.
// The refusal is the same whether or not the address filed before.
func (h *Handler) admitEmail(c *gin.Context) func(email string) error {
	return func(email string) error {
		if !h.limits.enabled {
			return nil
		}
		if ok, wait := h.limits.submitEmail.Allow(addressKey(email)); !ok {
			return rateLimited(c, wait)
		}
		return nil
	}
}

// takeVerifyEmail limits confirmations by link per e-mail address. The
// address is known only once the token resolves (CheckVerifyToken spends
// nothing), and only then is anything counted: a wrong or unknown token
// names no address and counts against the client alone (limitVerify), so
// nobody without the subject's mail can use up the subject's allowance.
// A spent or expired token still counts: only the mailbox received it.
func (h *Handler) takeVerifyEmail(c *gin.Context, token string) bool {
	if !h.limits.enabled {
		return true
	}
	req, _ := h.svc.CheckVerifyToken(c.Request.Context(), token)
	if req == nil {
		return true // the Verify call that follows answers for the token
	}
	return h.take(c, h.limits.verifyEmail, addressKey(req.Email))
}

// replyAllowed refuses a reply (429) while its From address has used up
// the same per-address allowance. It only looks: From is the sender's to
// write, so countReply charges the address only for a reply that acted,
// which took a valid token issued to that address. Forged replies that
// act on nothing cannot lock the address out.
func (h *Handler) replyAllowed(c *gin.Context, from string) bool {
	if !h.limits.enabled || from == "" {
		return true
	}
	if wait := h.limits.verifyEmail.Wait(addressKey(from)); wait > 0 {
		h.tooMany(c, wait)
		return false
	}
	return true
}

// countReply charges from for a reply that verified a request or
// answered a question.
func (h *Handler) countReply(from string, res service.InboundResult) {
	if h.limits.enabled && from != "" && res.Acted() {
		h.limits.verifyEmail.Allow(addressKey(from))
	}
}

// limitCode keys the code mails by the token as the service reads it:
// the raw path would give each case variant of one link its own three.
func (h *Handler) limitCode(c *gin.Context) {
	if h.take(c, h.limits.code, "code:"+ratelimit.HashKey(service.NormalizeToken(c.Param("token")))) {
		c.Next()
	}
}
