package handlers

import (
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts bound every connection of the portal's listener, so that a
// client that sends or reads too slowly cannot hold a connection (and its
// goroutine) for long. The few handlers that legitimately take longer (a
// subject's upload, a CSV export) move their own deadlines: see
// allowUpload and keepStreaming.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts are serve's: generous for any page or API call, short
// enough that idle and slow connections do not pile up.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}
}

// NewServer is the http.Server the portal serves h through. It lives here
// rather than in cmd so that a test can run the router behind exactly the
// server serve runs, with shorter timeouts.
func NewServer(h http.Handler, t Timeouts, errorLog *log.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write,
		IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10, ErrorLog: errorLog}
}

// Upload deadlines. slowLink is the slowest upload we still wait for: a
// phone on a poor mobile connection sends about 64 KiB/s, so the default
// attachment allowance (about 24 MiB) gets six and a half minutes instead
// of the server's 30 seconds. The time is capped, because a body limit
// near the 512 MiB the configuration allows would otherwise hold a
// connection for hours, and floored so that a small limit never gets
// less time than the server gives every request.
const (
	slowLink      = 64 << 10 // bytes per second
	minUploadTime = time.Minute
	maxUploadTime = 15 * time.Minute
	// answerTime is what the handler has, after the body, to store the
	// files and answer: the server's write deadline ran from the headers.
	answerTime = time.Minute
)

// allowUpload gives a request body of up to limit bytes the time a slow
// link needs to send it, and the answer a minute after that. Call it
// before the body is read. (Once the body is read, the server waits for
// the client's next request without a deadline until the handler ends.)
func (h *Handler) allowUpload(c *gin.Context, limit int64) {
	d := min(max(time.Duration(limit/slowLink)*time.Second, minUploadTime), maxUploadTime)
	// Wall time, not h.now: the deadline is the socket's.
	now := time.Now()
	rc := http.NewResponseController(c.Writer)
	h.deadlineSet(c, rc.SetReadDeadline(now.Add(d)))
	h.deadlineSet(c, rc.SetWriteDeadline(now.Add(d+answerTime)))
}

// streamStep is how far each page of a streamed download pushes the
// connection's write deadline: a live download never runs into the
// server's write timeout, while a client that stopped reading is cut off
// at most a minute after the last page it took.
const streamStep = time.Minute

// keepStreaming pushes the connection's write deadline streamStep ahead.
// The read deadline is left alone on purpose: the server clears it while
// a handler of a request without a body runs, and one set here would,
// on expiry, cancel the request's context half-way through the export.
func (h *Handler) keepStreaming(c *gin.Context) {
	h.deadlineSet(c, http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(streamStep)))
}

// deadlineSet looks at what setting a deadline answered. A writer that
// cannot (httptest's recorder) has no connection to time out, so
// ErrNotSupported is no problem; any other error means the connection is
// gone, which the next read or write reports anyway.
func (h *Handler) deadlineSet(c *gin.Context, err error) {
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		h.log.DebugContext(c, "connection deadline not set", "path", c.FullPath(), "err", err)
	}
}
