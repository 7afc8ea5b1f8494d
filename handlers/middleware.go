package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/observe"
)

// requestID gives each request an ID: the one a trusted reverse proxy
// sent in X-Request-ID when it is well-formed, else a fresh one. It goes
// back in the answer's X-Request-ID and into every log line written with
// the request's context, so one request's lines can be found together.
func (h *Handler) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !observe.ValidRequestID(id) || !h.fromTrustedProxy(c) {
		id = observe.NewRequestID()
	}
	c.Request = c.Request.WithContext(observe.WithRequestID(c.Request.Context(), id))
	c.Header("X-Request-ID", id)
	c.Next()
}

// fromTrustedProxy tells whether the TCP peer is a configured proxy,
// whose headers may be believed.
func (h *Handler) fromTrustedProxy(c *gin.Context) bool {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range h.cfg.HTTP.TrustedProxies {
		if pre, err := netip.ParsePrefix(p); err == nil && pre.Contains(ip.Unmap()) {
			return true
		}
		if a, err := netip.ParseAddr(p); err == nil && a == ip.Unmap() {
			return true
		}
	}
	return false
}

// recoverPanics turns a panic into a 500 with the safe message and logs
// what happened.
func (h *Handler) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			h.log.ErrorContext(c, "panic", "path", c.FullPath(), "panic", fmt.Sprint(v))
			if !c.Writer.Written() {
				h.fail(c, errInternal)
			}
			c.Abort()
		}
	}()
	c.Next()
}

// logRequests logs one line per request. It logs the route pattern and
// never the query string, so tokens in links (/verify?token=…) never
// reach the logs.
func (h *Handler) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	took := time.Since(start)
	if h.metrics != nil {
		h.metrics.ObserveHTTP(c.Request.Method, c.FullPath(), c.Writer.Status(), took)
	}
	route := c.FullPath()
	if route == "" {
		route = "(no route)"
	}
	h.log.DebugContext(c, "http", "method", c.Request.Method, "route", route,
		"status", c.Writer.Status(), "ms", took.Milliseconds())
}

// securityHeaders sets the headers every answer carries (see
// setSecurityHeaders).
func (h *Handler) securityHeaders(c *gin.Context) {
	h.setSecurityHeaders(c.Writer.Header())
	c.Next()
}

// setSecurityHeaders sets a strict CSP without inline script or style,
// no sniffing, no referrer (tokens in URLs must not leak), no framing,
// and HSTS when served over https. It takes a plain header so that the
// cross-site refusal, written before gin sees the request, carries them
// too.
func (h *Handler) setSecurityHeaders(w http.Header) {
	w.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Set("X-Content-Type-Options", "nosniff")
	w.Set("Referrer-Policy", "no-referrer")
	w.Set("X-Frame-Options", "DENY")
	w.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(h.cfg.HTTP.BaseURL, "https://") {
		w.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// limitBody caps the request body; reading past the cap fails with an
// *http.MaxBytesError, which becomes 413.
func limitBody(c *gin.Context, n int64) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
}

// serveStatic serves the embedded stylesheet and friends.
func (h *Handler) serveStatic(root http.FileSystem) gin.HandlerFunc {
	fileServer := http.StripPrefix("/static", http.FileServer(root))
	return func(c *gin.Context) {
		if strings.HasSuffix(c.Param("file"), "/") {
			h.fail(c, errNotFound)
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(c.Writer, c.Request)
	}
}
