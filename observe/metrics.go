package observe

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"rightsportal/models"
	"rightsportal/workflow"
)

// Source is where the gauges are read from at each scrape: the database,
// so that every instance reports the same, whole picture.
type Source interface {
	CountByStatus(ctx context.Context) (map[string]int64, error)
	CountOverdue(ctx context.Context, now time.Time) (int64, error)
	JobDepths(ctx context.Context) ([]models.JobDepth, error)
}

// Metrics holds the portal's Prometheus metrics on a registry of its own
// (nothing registered globally, so tests can build many).
type Metrics struct {
	reg         *prometheus.Registry
	httpTotal   *prometheus.CounterVec
	httpSeconds *prometheus.HistogramVec
	mailSent    *prometheus.CounterVec
	mailRetry   *prometheus.CounterVec
	mailFailed  *prometheus.CounterVec
}

// New builds the metrics. Counters (HTTP, mail) are this process's own;
// gauges (requests by state, overdue, job queue depth) are read from src
// when scraped.
func New(src Source, now func() time.Time, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code."}, []string{"method", "route", "status"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portal_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "route"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_mail_sent_total",
			Help: "Mails the relay accepted (or written to files), by kind."}, []string{"kind"}),
		mailRetry: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_mail_deferred_total",
			Help: "Delivery attempts that failed for now and will be retried, by kind."}, []string{"kind"}),
		mailFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_mail_failed_total",
			Help: "Mails given up on (refused for good or out of attempts), by kind."}, []string{"kind"}),
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.reg.MustRegister(m.httpTotal, m.httpSeconds, m.mailSent, m.mailRetry, m.mailFailed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&dbCollector{src: src, now: now, log: log})
	return m
}

// Handler serves the metrics in Prometheus's text format. A gauge whose
// query fails is left out of that scrape, logged, and the rest served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// knownMethods keeps the method label to a fixed set: a client inventing
// methods must not invent time series.
var knownMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true}

// ObserveHTTP counts one answered request. route is the matched route
// pattern ("" when none matched): never the path, which carries tokens
// and ids.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpTotal.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpSeconds.WithLabelValues(method, route).Observe(d.Seconds())
}

// MailSent, MailDeferred and MailFailed count delivery outcomes
// (mailer.Observer).
func (m *Metrics) MailSent(kind string)     { m.mailSent.WithLabelValues(kind).Inc() }
func (m *Metrics) MailDeferred(kind string) { m.mailRetry.WithLabelValues(kind).Inc() }
func (m *Metrics) MailFailed(kind string)   { m.mailFailed.WithLabelValues(kind).Inc() }

var (
	requestsDesc = prometheus.NewDesc("portal_requests", "Requests in each state.", []string{"status"}, nil)
	overdueDesc  = prometheus.NewDesc("portal_requests_overdue",
		"Open requests past their due date (a paused clock is not overdue).", nil, nil)
	jobsDesc = prometheus.NewDesc("portal_jobs",
		"Background jobs not yet finished, by queue (mail, tasks, maintenance) and state.", []string{"queue", "state"}, nil)
)

// dbCollector reads the gauges from the database at scrape time.
type dbCollector struct {
	src Source
	now func() time.Time
	log *slog.Logger
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- overdueDesc
	ch <- jobsDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := c.src.CountByStatus(ctx); err != nil {
		c.fail(ch, requestsDesc, err)
	} else {
		// Every state, zeros too: a series that vanishes at zero breaks
		// alerts and graphs.
		for _, st := range workflow.States() {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.GaugeValue, float64(counts[string(st)]), string(st))
		}
	}
	if n, err := c.src.CountOverdue(ctx, c.now()); err != nil {
		c.fail(ch, overdueDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(n))
	}
	if depths, err := c.src.JobDepths(ctx); err != nil {
		c.fail(ch, jobsDesc, err)
	} else {
		for _, d := range depths {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(d.N), d.Queue, d.State)
		}
	}
}

func (c *dbCollector) fail(ch chan<- prometheus.Metric, d *prometheus.Desc, err error) {
	c.log.Warn("metrics: could not read a gauge", "err", err)
	ch <- prometheus.NewInvalidMetric(d, err)
}
