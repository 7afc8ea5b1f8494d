package connectors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"rightsportal/config"
	"rightsportal/workflow"
)

// maxConns caps each system's pool: the organisation's database serves
// its own application first.
const maxConns = 4

// database is one sql system's connection pool, opened on first use. A
// failed opening is not remembered: the database may be up next time.
type database struct {
	driver, dsn string

	mu     sync.Mutex
	db     *gorm.DB
	closed bool
}

func (d *database) get() (*gorm.DB, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("connectors: the registry is closed")
	}
	if d.db != nil {
		return d.db, nil
	}
	db, err := open(d.driver, d.dsn)
	if err != nil {
		return nil, err
	}
	d.db = db
	return db, nil
}

func (d *database) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.db == nil {
		return nil
	}
	sqlDB, err := d.db.DB()
	if err != nil {
		return err
	}
	d.db = nil
	return sqlDB.Close()
}

// open connects to a system's database. Opening SQLite reads the file, so
// a missing file is a temporary failure (never created: the database is
// the organisation's); opening PostgreSQL only parses the DSN, so its
// failure is permanent and the network is first touched under a context.
func open(driver, dsn string) (*gorm.DB, error) {
	var dialector gorm.Dialector
	switch driver {
	case "sqlite":
		dialector = sqlite.Open(sqliteDSN(dsn))
	case "postgres":
		dialector = postgres.Open(dsn)
	default:
		return nil, permanentf("connectors: database driver %q is not supported", driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
	})
	if err != nil {
		err = fmt.Errorf("connectors: open %s database: %w", driver, err)
		if driver == "postgres" {
			return nil, permanent(err)
		}
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// sqliteDSN opens the file read-write without creating it, waits up to
// 5 s for another writer instead of failing at once, enforces foreign
// keys, and takes the write lock when a transaction begins, so that a
// transaction never fails half way when it upgrades from reading to
// writing. Settings the operator wrote in the DSN come first and win.
func sqliteDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	opts := "_busy_timeout=5000&_foreign_keys=on&_txlock=immediate"
	if !strings.Contains(dsn, "mode=") {
		opts += "&mode=rw"
	}
	return dsn + sep + opts
}

// runSQL runs the right's statements: a query for access and portability,
// otherwise every statement in one transaction.
func (r *Registry) runSQL(ctx context.Context, sys config.System, job Job) (Result, error) {
	stmts := sys.Connector.Statements.For(job.Right)
	if len(stmts) == 0 {
		return Result{}, permanentf("connectors: system %q has no statements for %s", sys.Code, job.Right)
	}
	db, err := r.dbs[sys.Code].get()
	if err != nil {
		return Result{}, err
	}
	switch job.Right {
	case workflow.TypeAccess, workflow.TypePortability:
		return query(ctx, db, sys.Code, string(job.Right), stmts[0], job)
	}
	return execAll(ctx, db, sys.Code, stmts, job)
}

// query runs one statement that returns the subject's rows.
func query(ctx context.Context, db *gorm.DB, system, what, stmt string, job Job) (Result, error) {
	text, vars, err := bind(stmt, job)
	if err != nil {
		return Result{}, fmt.Errorf("connectors: system %q, %s statement: %w", system, what, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return Result{}, err
	}
	rows, err := sqlDB.QueryContext(ctx, text, args(db.Dialector.Name(), vars)...)
	if err != nil {
		return Result{}, classify(fmt.Errorf("connectors: system %q, %s statement: %w", system, what, err))
	}
	defer rows.Close()
	res, err := readRows(rows)
	if err != nil {
		return Result{}, classify(fmt.Errorf("connectors: system %q, %s statement: %w", system, what, err))
	}
	n := int64(len(res.Rows))
	res.NotFound = n == 0
	res.Summary = "found " + plural(n, "row")
	return res, nil
}

// execAll runs every statement in one transaction, rolled back on any
// error, and sums the rows they changed. All statements are checked
// before the transaction begins.
func execAll(ctx context.Context, db *gorm.DB, system string, stmts []string, job Job) (Result, error) {
	all := make([]bound, len(stmts))
	for i, s := range stmts {
		text, vars, err := bind(s, job)
		if err != nil {
			return Result{}, fmt.Errorf("connectors: system %q, %s statement %d: %w", system, job.Right, i+1, err)
		}
		all[i] = bound{text, args(db.Dialector.Name(), vars)}
	}
	affected, err := inTransaction(ctx, db, all)
	if err != nil {
		return Result{}, classify(fmt.Errorf("connectors: system %q, %s: %w", system, job.Right, err))
	}
	res := Result{Affected: affected, NotFound: affected == 0}
	if affected == 0 {
		res.Summary = "no rows matched"
	} else {
		res.Summary = verb(job.Right) + " " + plural(affected, "row")
	}
	return res, nil
}

// bound is a checked statement and the arguments its driver binds.
type bound struct {
	text string
	args []any
}

// inTransaction runs the statements in one database/sql transaction
// (see args for why not gorm's) and sums the rows they changed.
func inTransaction(ctx context.Context, db *gorm.DB, all []bound) (int64, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return 0, err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var affected int64
	for i, b := range all {
		res, err := tx.ExecContext(ctx, b.text, b.args...)
		if err != nil {
			return 0, fmt.Errorf("statement %d: %w", i+1, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("statement %d: %w", i+1, err)
		}
		affected += n
	}
	return affected, tx.Commit()
}

func verb(t workflow.RequestType) string {
	switch t {
	case workflow.TypeErasure:
		return "erased"
	case workflow.TypeRestriction:
		return "restricted"
	case workflow.TypeObjection:
		return "applied the objection to"
	case workflow.TypeConsentWithdrawal:
		return "withdrew consent on"
	case workflow.TypeRectification:
		return "corrected"
	}
	return "changed"
}

// permanentSQLState are the PostgreSQL error classes a retry cannot fix:
// feature not supported, cardinality, data exception, integrity
// constraint, syntax or access rule, check option.
var permanentSQLState = []string{"0A", "21", "22", "23", "42", "44"}

// permanentSQLite are the SQLite (and database/sql) messages of a bad
// statement or of data the statement cannot change; anything else (a
// locked or missing file) may pass.
var permanentSQLite = []string{"syntax error", "no such table", "no such column", "no such function",
	"constraint failed", "has no column named", "ambiguous column name", "datatype mismatch",
	"readonly database", "incomplete input", "unrecognized token", "too many sql variables",
	"wrong number of arguments", "sql: expected", "not enough args"}

// classify marks a database error permanent when the statement itself is
// at fault; timeouts, cancellations, locks and lost connections stay
// temporary.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		for _, class := range permanentSQLState {
			if strings.HasPrefix(pg.SQLState(), class) {
				return permanent(err)
			}
		}
		return err
	}
	msg := strings.ToLower(err.Error())
	for _, m := range permanentSQLite {
		if strings.Contains(msg, m) {
			return permanent(err)
		}
	}
	return err
}
