package models

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Store is the one way into the database. On SQLite it holds two pools:
// one connection for every write (SQLite has one writer; queuing writers
// in Go is cheaper than SQLITE_BUSY retries) and several for reads, which
// WAL lets run beside the writer.
type Store struct {
	w    *gorm.DB
	r    *gorm.DB
	wsql *sql.DB
	rsql *sql.DB
	jobs *river.Client[*sql.Tx]
	// pgx is the job workers' pool on PostgreSQL (postgres.go).
	pgx    *pgxpool.Pool
	driver string
	// mailAttempts is fixed on each mail job as it is queued.
	mailAttempts int
	// hookAttempts is fixed on each webhook delivery job as it is queued.
	hookAttempts int
	// writeWait bounds a write's wait for the writer (see writeContext).
	writeWait time.Duration
	// batch, stop and stopped run SQLite's group commit (batch.go); nil
	// on PostgreSQL, which takes parallel writers.
	batch   chan applyReq
	stop    chan struct{}
	stopped chan struct{}
	// ckpt copies the WAL back off the write path (checkpoint.go).
	ckpt     *sql.DB
	ckptStop chan struct{}
	ckptDone chan struct{}
}

// Options say which database to open and how to queue jobs.
type Options struct {
	Driver string
	DSN    string
	Log    *slog.Logger
	// MailMaxAttempts is how often a mail is tried before it counts as
	// failed; it is fixed on each job when the job is queued.
	MailMaxAttempts int
	// WebhookMaxAttempts is the same for a webhook delivery.
	WebhookMaxAttempts int
	// MustExist refuses to create a new SQLite file: commands that only
	// inspect data must not report on an empty database made by a typo.
	MustExist bool
}

// Open connects, migrates the schema (ours and the job engine's) and
// returns a ready Store.
func Open(ctx context.Context, o Options) (*Store, error) {
	driver, dsn, log := o.Driver, o.DSN, o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch driver {
	case "postgres":
		return openPostgres(ctx, o, log)
	case "sqlite":
	default:
		return nil, fmt.Errorf("models: database driver %q is not supported", driver)
	}
	if _, err := os.Stat(sqlitePath(dsn)); o.MustExist && err != nil {
		return nil, fmt.Errorf("models: database %s: %w", sqlitePath(dsn), err)
	}
	if dir := filepath.Dir(sqlitePath(dsn)); dir != "." && dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("models: create database folder: %w", err)
		}
	}
	if err := createPrivate(dsn, log); err != nil {
		return nil, err
	}
	// No gorm PrepareStmt on SQLite: the driver caches compiled statements
	// per connection (stmtcache.go), inside transactions too.
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, TranslateError: true}
	registerCachedDriver()
	w, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: cachedDriverName, DSN: sqliteDSN(dsn, true)}), cfg)
	if err != nil {
		return nil, fmt.Errorf("models: open %s: %w", driver, err)
	}
	wsql, _ := w.DB()
	wsql.SetMaxOpenConns(1)
	wsql.SetMaxIdleConns(1)
	r, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: cachedDriverName, DSN: sqliteDSN(dsn, false)}), cfg)
	if err != nil {
		wsql.Close()
		return nil, fmt.Errorf("models: open %s: %w", driver, err)
	}
	rsql, _ := r.DB()
	n := max(4, 2*runtime.NumCPU())
	rsql.SetMaxOpenConns(n)
	rsql.SetMaxIdleConns(n)
	s := &Store{w: w, r: r, wsql: wsql, rsql: rsql, driver: driver, mailAttempts: max(o.MailMaxAttempts, 1),
		hookAttempts: max(o.WebhookMaxAttempts, 1),
		writeWait:    max(busyTimeout(sqliteDSN(dsn, true)), time.Second)}
	st, err := s.ready(ctx, log)
	if err != nil {
		return nil, err
	}
	if err := st.startCheckpoints(dsn); err != nil {
		st.Close()
		return nil, fmt.Errorf("models: checkpoints: %w", err)
	}
	st.startBatching()
	return st, nil
}

// ready migrates and builds the insert-only job client: jobs are written
// inside our transactions here; the client that works them is built by
// the jobs package on the same pool.
func (s *Store) ready(ctx context.Context, log *slog.Logger) (*Store, error) {
	if err := s.migrate(ctx, log); err != nil {
		s.Close()
		return nil, err
	}
	var err error
	s.jobs, err = river.NewClient(s.JobDriver(), &river.Config{Logger: log})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("models: job client: %w", err)
	}
	return s, nil
}

// JobDriver is the job engine's driver on the store's writer pool:
// riversqlite on SQLite, riverdatabasesql (database/sql over pgx) on
// PostgreSQL, so that jobs join gorm's *sql.Tx transactions. It inserts
// and migrates; on PostgreSQL the workers use River's pgx driver
// (PgxPool), which hears of new jobs by LISTEN/NOTIFY.
func (s *Store) JobDriver() riverdriver.Driver[*sql.Tx] {
	if s.driver == "postgres" {
		return riverdatabasesql.New(s.wsql)
	}
	return riversqlite.New(s.wsql)
}

// sqlitePath is the file part of a DSN ("file:x.db?..." or "x.db").
func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// sqliteDSN adds the settings a web application needs: WAL so readers do
// not block the writer, a busy timeout instead of instant SQLITE_BUSY
// (another process, such as the CLI, may hold the lock briefly), foreign
// keys, synchronous=FULL so an acknowledged request survives a power
// cut, and BEGIN IMMEDIATE for writers so a transaction never fails half
// way when it upgrades from reading to writing.
func sqliteDSN(dsn string, writer bool) string {
	base := dsn
	if !strings.HasPrefix(base, "file:") {
		base = "file:" + base
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	opts := "_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=FULL"
	if writer {
		opts += "&_txlock=immediate"
	} else {
		opts += "&_query_only=true"
	}
	return base + sep + opts
}

// busyTimeout is the busy timeout the SQLite driver applies for dsn, by
// its rule: _timeout over _busy_timeout, the first value of either, in
// milliseconds. An operator may set it in the DSN; sqliteDSN appends the
// default.
func busyTimeout(dsn string) time.Duration {
	_, query, _ := strings.Cut(dsn, "?")
	params, _ := url.ParseQuery(query)
	key := "_busy_timeout"
	if params.Has("_timeout") {
		key = "_timeout"
	}
	ms, err := strconv.Atoi(params.Get(key))
	if err != nil || ms < 0 {
		return 10 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}

func (s *Store) migrate(ctx context.Context, log *slog.Logger) error {
	if err := s.w.WithContext(ctx).AutoMigrate(allModels()...); err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	if err := ensureHead(s.w.WithContext(ctx)); err != nil {
		return fmt.Errorf("models: audit head: %w", err)
	}
	if err := ensureCounts(s.w.WithContext(ctx)); err != nil {
		return fmt.Errorf("models: status counts: %w", err)
	}
	m, err := rivermigrate.New(s.JobDriver(), &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("models: job migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("models: job migrations: %w", err)
	}
	return nil
}

// Close closes both pools. Workers must have stopped first.
func (s *Store) Close() error {
	s.stopBatching()
	s.stopCheckpoints()
	if s.pgx != nil {
		s.pgx.Close()
	}
	var err error
	if s.rsql != s.wsql {
		err = s.rsql.Close()
	}
	if e := s.wsql.Close(); e != nil {
		err = e
	}
	return err
}

// Ping answers whether the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error
}

// WriterDB is the pool the job engine must share with the store, so that
// a job and the change that caused it commit together.
func (s *Store) WriterDB() *sql.DB { return s.wsql }

// Driver names the database kind ("sqlite" or "postgres").
func (s *Store) Driver() string { return s.driver }

// sqlTx digs the database/sql transaction out of a gorm transaction so
// that River can insert a job in it.
func sqlTx(tx *gorm.DB) (*sql.Tx, error) {
	switch p := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return p, nil
	case *gorm.PreparedStmtTX:
		if t, ok := p.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("models: not in a database/sql transaction (%T)", tx.Statement.ConnPool)
}
