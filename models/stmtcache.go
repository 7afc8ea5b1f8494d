package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// A per-connection cache of prepared SQLite statements.
//
// Compiling a statement is a large part of what a short SQLite query
// costs, and nothing below us keeps compiled statements across
// transactions: mattn/go-sqlite3 compiles every Exec and Query anew,
// gorm's PrepareStmt binds what it prepares inside a transaction to that
// transaction, and the job engine passes raw SQL through. This driver
// wraps mattn's and keeps the compiled statements of each connection by
// query text, so the same INSERT is compiled once per connection, not
// once per request.

// cachedDriverName is the database/sql name of the caching driver.
const cachedDriverName = "sqlite3_stmtcache"

var registerCached sync.Once

func registerCachedDriver() {
	registerCached.Do(func() { sql.Register(cachedDriverName, &cachingDriver{base: &sqlite3.SQLiteDriver{}}) })
}

// maxCachedStmts bounds one connection's cache: gorm writes IN lists with
// as many placeholders as values, so query texts are not a closed set.
const maxCachedStmts = 256

type cachingDriver struct{ base *sqlite3.SQLiteDriver }

func (d *cachingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.base.Open(dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{SQLiteConn: c.(*sqlite3.SQLiteConn), stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is used by one goroutine at a time (database/sql's promise
// for a driver.Conn), so its cache needs no lock.
type cachingConn struct {
	*sqlite3.SQLiteConn
	stmts map[string]*cachedStmt
	order []string
}

type cachedStmt struct {
	driver.Stmt
	conn   *cachingConn
	query  string
	inUse  bool
	cached bool
}

// single reports whether query holds one statement: only those are
// cached; a script (migrations) goes to mattn as it is.
func single(query string) bool {
	return !strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";")
}

// take returns a compiled statement for query that nobody is using.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if s := c.stmts[query]; s != nil && !s.inUse {
		s.inUse = true
		return s, nil
	}
	st, err := c.SQLiteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: st, conn: c, query: query, inUse: true}
	if c.stmts[query] == nil {
		c.evict()
		s.cached = true
		c.stmts[query] = s
		c.order = append(c.order, query)
	}
	return s, nil
}

// evict makes room by dropping the oldest statements not in use.
func (c *cachingConn) evict() {
	for len(c.stmts) >= maxCachedStmts && len(c.order) > 0 {
		q := c.order[0]
		c.order = c.order[1:]
		if s := c.stmts[q]; s != nil {
			delete(c.stmts, q)
			s.cached = false
			if !s.inUse {
				s.Stmt.Close()
			}
		}
	}
}

// release hands a statement back; one no longer cached is closed.
func (s *cachedStmt) release() error {
	s.inUse = false
	if !s.cached {
		return s.Stmt.Close()
	}
	return nil
}

// Close is database/sql's "done with it": the statement stays compiled.
func (s *cachedStmt) Close() error { return s.release() }

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// PrepareContext gives database/sql a cached statement.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if !single(query) {
		return c.SQLiteConn.PrepareContext(ctx, query)
	}
	return c.take(ctx, query)
}

// Prepare is PrepareContext without a context.
func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// ExecContext runs a statement from the cache.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !single(query) {
		return c.SQLiteConn.ExecContext(ctx, query, args)
	}
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	defer s.release()
	return s.ExecContext(ctx, args)
}

// QueryContext runs a query from the cache; the statement is in use until
// the rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if !single(query) {
		return c.SQLiteConn.QueryContext(ctx, query, args)
	}
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(ctx, args)
	if err != nil {
		s.release()
		return nil, err
	}
	return &cachedRows{Rows: rows, stmt: s}, nil
}

// Close closes every cached statement, then the connection.
func (c *cachingConn) Close() error {
	for _, s := range c.stmts {
		s.Stmt.Close()
	}
	c.stmts = nil
	return c.SQLiteConn.Close()
}

type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
	done bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.stmt.release()
	}
	return err
}

// ColumnTypeDatabaseTypeName and friends pass through for gorm's scans.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return nil
}
