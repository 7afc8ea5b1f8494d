package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"rightsportal/config"
	"rightsportal/handlers"
	"rightsportal/jobs"
	"rightsportal/mailer"
	"rightsportal/observe"
)

// serve runs the portal until ctx ends, then shuts down in order: stop
// taking HTTP requests and inbound mail, let the workers finish their
// jobs, close the database.
func serve(ctx context.Context, path string, args []string, getenv env, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// -workers=false serves the web app and the API only: for an instance
	// in front of others that send the mail and run the tasks (and for
	// measuring intake on its own). Work it queues waits for a worker.
	workers := fs.Bool("workers", true, "run the mail, task and scheduled-work workers in this process")
	// -pprof serves Go's profiler on the metrics listener: never on the
	// main one, and only when asked, because the metrics listener has no
	// authentication and a profile or trace costs the server CPU.
	// -profile-waits adds where goroutines block and which locks they
	// contend for; it costs a little on every wait.
	prof := fs.Bool("pprof", false, "serve /debug/pprof on the metrics listener (http.metrics_addr)")
	waits := fs.Bool("profile-waits", false, "with -pprof: also record block and mutex profiles")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *waits && !*prof {
		return errors.New("serve: -profile-waits needs -pprof")
	}
	if *waits {
		runtime.SetBlockProfileRate(int((100 * time.Microsecond).Nanoseconds()))
		runtime.SetMutexProfileFraction(10)
	}
	a, err := openApp(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	// Checked before anything listens, so that the refusal leaves no
	// port bound behind it.
	if *prof && a.cfg.HTTP.MetricsAddr == "" {
		return errors.New("serve: -pprof needs a metrics listener (http.metrics_addr or PORTAL_METRICS_ADDR)")
	}
	metrics := observe.New(a.store, time.Now, a.log)
	jobs, err := a.jobClient(metrics)
	if err != nil {
		return err
	}
	h, err := handlers.New(handlers.Deps{Service: a.svc, Store: a.store, Config: a.cfg, Log: a.log, Metrics: metrics})
	if err != nil {
		return err
	}
	router, err := h.Router()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.HTTP.Addr, err)
	}
	// Uploads and CSV exports extend their own deadlines past these.
	srv := handlers.NewServer(router, handlers.DefaultTimeouts(), slog.NewLogLogger(a.log.Handler(), slog.LevelWarn))
	if *workers {
		if err := jobs.Start(ctx); err != nil {
			ln.Close()
			return fmt.Errorf("start workers: %w", err)
		}
	}
	errc := make(chan error, 3)
	// Metrics first: when /readyz answers, every listener is up.
	msrv, err := a.startMetrics(metrics, *prof, errc)
	if err != nil {
		ln.Close()
		jobs.Stop(context.Background())
		return err
	}
	go func() { errc <- srv.Serve(ln) }()
	inbound, err := a.startInbound(errc)
	if err != nil {
		srv.Close()
		if msrv != nil {
			msrv.Close()
		}
		jobs.Stop(context.Background())
		return err
	}
	a.log.Info("portal ready", "addr", ln.Addr().String(), "base_url", a.cfg.HTTP.BaseURL,
		"database", a.cfg.Database.Driver, "mail", a.mailMode(), "workers", *workers)

	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if e := srv.Shutdown(sctx); e != nil {
		a.log.Warn("http shutdown", "err", e)
	}
	if inbound != nil {
		inbound.Shutdown(sctx)
	}
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	// Jobs that do not finish in time stay in the queue and run again
	// after restart: nothing is lost.
	if !*workers {
		return err
	}
	if e := jobs.Stop(sctx); e != nil {
		a.log.Warn("workers did not stop in time; cancelling", "err", e)
		jobs.StopAndCancel(context.Background())
	}
	return err
}

func (a *app) mailMode() string {
	if a.cfg.Mail.Host() == "" {
		return "files in " + a.cfg.Mail.Dir
	}
	return fmt.Sprintf("smtp %s:%d (%s)", a.cfg.Mail.SMTP.Host, a.cfg.Mail.SMTP.Port, a.cfg.Mail.SMTP.TLS)
}

// jobClient is the River client that works the queues.
func (a *app) jobClient(obs mailer.Observer) (jobs.Client, error) {
	return jobs.New(jobs.Deps{Store: a.store, Config: a.cfg, Key: a.key, Log: a.log, JobLog: jobLog(a.logOut),
		Service: a.svc, Observe: obs})
}

// startMetrics serves /metrics, without authentication, on the listener
// of its own that http.metrics_addr names; nil when none is set.
func (a *app) startMetrics(m *observe.Metrics, prof bool, errc chan<- error) (*http.Server, error) {
	addr := a.cfg.HTTP.MetricsAddr
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if prof {
		// Go's profiler, with serve -pprof only, so that an operator (or
		// scripts/bench.sh) can see where a running portal spends its
		// time: CPU, allocations, and where goroutines wait.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		a.log.Warn("profiler on the metrics listener (serve -pprof): keep that address private", "addr", addr)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics: %w", err)
		}
	}()
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

// startInbound starts the inbound SMTP listener when an address is set.
// Its limits are ratelimit.inbound_smtp_per_ip and _per_sender, and
// verify_per_email per From address; the listener keeps its own count of
// the last, apart from the web app's.
func (a *app) startInbound(errc chan<- error) (interface{ Shutdown(context.Context) error }, error) {
	m := a.cfg.Mail
	if m.Inbound.Addr == "" {
		return nil, nil
	}
	log := a.log.With("component", "inbound")
	lc, err := a.listenerConfig(log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", m.Inbound.Addr)
	if err != nil {
		return nil, fmt.Errorf("inbound smtp: listen on %s: %w", m.Inbound.Addr, err)
	}
	srv := mailer.NewListener(lc,
		func(ctx context.Context, raw []byte, env mailer.Envelope) error {
			res, err := a.svc.HandleReply(ctx, raw, env)
			if err == nil && !res.Acted() {
				return mailer.ErrNoEffect // not counted against the From address
			}
			return err
		}, log)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			errc <- fmt.Errorf("inbound smtp: %w", err)
		}
	}()
	a.log.Info("inbound smtp listening", "addr", ln.Addr().String(), "starttls", lc.TLS != nil, "require_tls", lc.RequireTLS)
	return srv, nil
}

// listenerConfig is the inbound listener's configuration: its limits
// when rate limits are on, and STARTTLS when a certificate is set.
func (a *app) listenerConfig(log *slog.Logger) (mailer.ListenerConfig, error) {
	m, rl := a.cfg.Mail, a.cfg.RateLimit
	lc := mailer.ListenerConfig{Addr: m.Inbound.Addr, Domain: m.ReplyDomain, LocalPart: m.ReplyLocal,
		MaxBytes: m.Inbound.MaxBytes, RequireTLS: m.Inbound.RequireTLS}
	if rl.Enabled {
		limit := func(l config.Limit) mailer.Limit { return mailer.Limit{Burst: l.Burst, Every: l.Every.D()} }
		lc.PerIP, lc.PerSender, lc.PerFrom = limit(rl.InboundSMTPPerIP), limit(rl.InboundSMTPPerSender), limit(rl.VerifyPerEmail)
	}
	if m.Inbound.TLSCert != "" {
		tc, err := mailer.ListenerTLS(m.Inbound.TLSCert, m.Inbound.TLSKey, log)
		if err != nil {
			return lc, fmt.Errorf("inbound smtp: %w", err)
		}
		lc.TLS = tc
	}
	return lc, nil
}
