package models

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func cachedDB(t *testing.T) *sql.DB {
	registerCachedDriver()
	db, err := sql.Open(cachedDriverName, "file:"+filepath.Join(t.TempDir(), "c.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStmtCacheScriptsAndReuse: a script of several statements still runs
// every statement (scripts bypass the cache); a cached statement gives
// right answers when reused, inside and outside transactions.
func TestStmtCacheScriptsAndReuse(t *testing.T) {
	db := cachedDB(t)
	if _, err := db.Exec("CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER); INSERT INTO b VALUES (7);"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT n FROM b").Scan(&n); err != nil || n != 7 {
		t.Fatalf("the script's later statements did not run: %v %d", err, n)
	}
	for i := 0; i < 50; i++ {
		tx, _ := db.Begin()
		if _, err := tx.Exec("INSERT INTO a VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	var sum, count int
	db.QueryRow("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM a").Scan(&count, &sum)
	if count != 25 || sum != 600 {
		t.Fatalf("count %d sum %d, want 25 and 600", count, sum)
	}
}

// TestStmtCacheNestedAndEvicted: the same query run while its rows are
// still open gets a statement of its own; more distinct queries than the
// cache holds stay correct.
func TestStmtCacheNestedAndEvicted(t *testing.T) {
	db := cachedDB(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.ExecContext(ctx, "CREATE TABLE t (n INTEGER)")
	for i := 0; i < 5; i++ {
		conn.ExecContext(ctx, "INSERT INTO t VALUES (?)", i)
	}
	outer, err := conn.QueryContext(ctx, "SELECT n FROM t ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for outer.Next() {
		var n int
		outer.Scan(&n)
		// Same query text while the outer rows are open.
		var c int
		if err := conn.QueryRowContext(ctx, "SELECT n FROM t ORDER BY n").Scan(&c); err != nil || c != 0 {
			t.Fatalf("nested query: %v %d", err, c)
		}
		got += n
	}
	outer.Close()
	if got != 10 {
		t.Fatalf("outer rows summed to %d, want 10", got)
	}
	for i := 0; i < maxCachedStmts+50; i++ {
		var v int
		q := fmt.Sprintf("SELECT %d + n FROM t WHERE n = ?", i)
		if err := conn.QueryRowContext(ctx, q, 1).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("query %d: %v %d", i, err, v)
		}
	}
}

// TestCheckpointsOffTheWritePath: the writer never checkpoints (the
// checkpointer does), and closing the store leaves an empty WAL.
func TestCheckpointsOffTheWritePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.db")
	st, err := Open(context.Background(), Options{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	var auto int
	if err := st.wsql.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer autocheckpoint = %d (%v), want 0", auto, err)
	}
	if err := st.InsertRequests(context.Background(), []Request{{ID: "x", Reference: "DSR-CK00-0001", Type: "access",
		Status: "verified", Jurisdiction: "gdpr", Email: "ck@example.com", FullName: "C", Details: "{}", Approvals: "[]"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Fatalf("WAL left with %d bytes after close", fi.Size())
	}
}
