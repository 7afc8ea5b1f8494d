package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openPostgres connects to PostgreSQL. Unlike SQLite, PostgreSQL takes
// many writers at once, so one pool serves reads and writes; it is sized
// for a few instances sharing one server's connection limit.
func openPostgres(ctx context.Context, o Options, log *slog.Logger) (*Store, error) {
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, TranslateError: true, PrepareStmt: true}
	db, err := gorm.Open(postgres.Open(pgDSN(o.DSN)), cfg)
	if err != nil {
		return nil, fmt.Errorf("models: open postgres: %w", err)
	}
	sqlDB, _ := db.DB()
	n := max(8, 4*runtime.NumCPU())
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("models: reach postgres: %w", err)
	}
	// The job engine's workers run on River's pgx driver, which listens
	// for new jobs (LISTEN/NOTIFY) instead of polling; pgxpool connects
	// lazily, so commands that never start workers never open it.
	pcfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("models: postgres dsn: %w", err)
	}
	// Workers, the producer's fetches and the listener's own connection.
	pcfg.MaxConns = 8
	pcfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("models: postgres job pool: %w", err)
	}
	s := &Store{w: db, r: db, wsql: sqlDB, rsql: sqlDB, pgx: pool, driver: "postgres", mailAttempts: max(o.MailMaxAttempts, 1),
		hookAttempts: max(o.WebhookMaxAttempts, 1)}
	return s.ready(ctx, log)
}

// PgxPool is the pgx pool the job engine's workers use on PostgreSQL;
// nil on SQLite. Jobs are still inserted through database/sql, inside
// gorm's transactions (JobDriver); both drivers share River's tables.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pgx }

// pgLockTimeout is how long a statement waits for a row lock (the audit
// chain's head, a request another instance is changing) before it fails
// with lock_not_available, which becomes ErrBusy and a 503: a request
// waits seconds at most, never until the proxy gives up.
const pgLockTimeout = "10000" // ms

// pgDSN adds lock_timeout to the DSN unless the operator set one (pgx
// passes unknown DSN keys to the server as run-time parameters).
func pgDSN(dsn string) string {
	if strings.Contains(dsn, "lock_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // gorm reports the bad DSN
		}
		q := u.Query()
		q.Set("lock_timeout", pgLockTimeout)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " lock_timeout=" + pgLockTimeout
}

// pgBusy turns PostgreSQL's "cannot take this write now" answers into
// ErrBusy: a lock not granted in time, a full disk, no connection slot
// or memory left. Nothing of the transaction was written.
func pgBusy(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "55P03", "53100", "53200", "53300":
		return fmt.Errorf("%w: %s (%s)", ErrBusy, pe.Message, pe.Code)
	}
	return err
}
