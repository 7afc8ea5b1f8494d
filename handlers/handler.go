// Package handlers translates HTTP into calls to the service and back:
// it parses and checks the shape of input, makes one call below, and
// renders a page or JSON. No business rule lives here.
package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/config"
	"rightsportal/models"
	"rightsportal/observe"
	"rightsportal/service"
)

// Handler holds what every handler needs; one value serves all requests.
type Handler struct {
	svc    *service.Service
	store  *models.Store
	cfg    *config.Config
	pages  *Pages
	limits *limits
	log    *slog.Logger
	now    func() time.Time
	// metrics counts answered requests and serves /metrics; nil: off.
	metrics *observe.Metrics
}

// Deps are the parts a Handler is built from.
type Deps struct {
	Service *service.Service
	Store   *models.Store
	Config  *config.Config
	Log     *slog.Logger
	Now     func() time.Time
	// Metrics, when set, counts every answer and serves /metrics to an
	// admin's API token.
	Metrics *observe.Metrics
}

// New parses the page templates and builds the handler.
func New(d Deps) (*Handler, error) {
	pages, err := NewPages(d.Config)
	if err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Handler{svc: d.Service, store: d.Store, cfg: d.Config, pages: pages,
		limits: newLimits(d.Config.RateLimit, d.Now), log: d.Log, now: d.Now, metrics: d.Metrics}, nil
}

// Router is the whole web application: pages, API and static files,
// behind the security headers and cross-origin protection.
func (h *Handler) Router() (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	// Only configured proxies may name the client in X-Forwarded-For;
	// with none, the client is the peer of the TCP connection.
	if err := r.SetTrustedProxies(h.cfg.HTTP.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(h.requestID, h.recoverPanics, h.logRequests, h.securityHeaders, h.chooseLanguage)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNotFound) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errMethod) })
	h.routes(r)

	// Browsers announce where a form post comes from (Sec-Fetch-Site,
	// Origin): a post from another site is refused before it reaches gin.
	// Non-browser clients send neither and pass; the inbound webhook is
	// authenticated by its secret instead, a processor's callback by its
	// signature.
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST /api/v1/inbound/email")
	cop.AddInsecureBypassPattern("POST /api/v1/opendsr/{system}/callbacks/{id}")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		const msg = "This form was sent from another website, so it was refused. Nothing was changed."
		// Written outside gin, so without its middleware: the refusal
		// must not be the one page that may be framed or sniffed.
		h.setSecurityHeaders(w.Header())
		if strings.HasPrefix(req.URL.Path, "/api/") || !strings.Contains(req.Header.Get("Accept"), "text/html") {
			writeJSONError(w, http.StatusForbidden, "cross_origin", msg, nil)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><title>Refused</title><h1>Refused</h1><p>%s</p><p><a href=\"/\">Back to the start</a></p></html>", msg)
	}))
	return cop.Handler(r), nil
}
