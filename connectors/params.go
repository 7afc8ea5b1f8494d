package connectors

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// parameters are the named parameters every statement may use. Values
// are always bound by the driver, never written into the statement.
func parameters(job Job) map[string]any {
	return map[string]any{
		"email":      job.Email,
		"name":       job.Name,
		"reference":  job.Reference,
		"request_id": job.RequestID,
		"value":      job.Value,
		"consent":    job.Details.Consent,
		"correction": job.Details.Correction,
	}
}

// bind checks an operator's statement before anything runs and returns
// the arguments to pass with it: a map holding only the parameters the
// statement mentions, for args to hand to the driver.
//
// bind reads the statement itself, skipping quoted text: it drops
// comments (an @word there is no parameter), puts a space after each
// @name (so the driver's name ends where bind's did: SQLite would read
// "@value::x" as one name), refuses '?' (SQLite reads it as a positional
// parameter) and refuses a name that is not a parameter — which SQLite
// would otherwise bind as NULL without a word.
func bind(stmt string, job Job) (string, []any, error) {
	params := parameters(job)
	used := map[string]any{}
	var b strings.Builder
	for i := 0; i < len(stmt); {
		c := stmt[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := strings.IndexByte(stmt[i+1:], c)
			if j < 0 {
				return "", nil, permanentf("unterminated %c quote", c)
			}
			b.WriteString(stmt[i : i+j+2])
			i += j + 2
		case strings.HasPrefix(stmt[i:], "--"):
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				j = len(stmt) - i
			}
			b.WriteByte(' ')
			i += j
		case strings.HasPrefix(stmt[i:], "/*"):
			j := strings.Index(stmt[i+2:], "*/")
			if j < 0 {
				return "", nil, permanentf("unterminated /* comment")
			}
			b.WriteByte(' ')
			i += j + 4
		case c == '?':
			return "", nil, permanentf("'?' is not allowed: name the parameter (@email, @name, @reference, @request_id, @value, @consent, @correction)")
		case c == '@' && i+1 < len(stmt) && nameStart(stmt[i+1]):
			j := i + 1
			for j < len(stmt) && (nameStart(stmt[j]) || stmt[j] >= '0' && stmt[j] <= '9') {
				j++
			}
			name := stmt[i+1 : j]
			v, ok := params[name]
			if !ok {
				return "", nil, permanentf("unknown parameter @%s", name)
			}
			used[name] = v
			b.WriteString("@" + name + " ")
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	if _, ok := used["value"]; ok && strings.TrimSpace(job.Value) == "" {
		return "", nil, permanentf("the statement applies @value but the job has no value")
	}
	if len(used) == 0 {
		return b.String(), nil, nil
	}
	return b.String(), []any{used}, nil
}

// args hands bind's parameters to the driver, which binds them by name
// itself: go-sqlite3 takes sql.Named values, pgx one StrictNamedArgs map
// (it also refuses a name the statement does not use). Both drivers read
// @name outside quotes and comments only. The statements never go
// through gorm's placeholder parser, which knows no quotes: it would
// bind a '?' or an @name inside a string literal.
func args(driver string, vars []any) []any {
	if len(vars) == 0 {
		return nil
	}
	named := vars[0].(map[string]any)
	if driver == "postgres" {
		return []any{pgx.StrictNamedArgs(named)}
	}
	names := slices.Sorted(maps.Keys(named))
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = sql.Named(n, named[n])
	}
	return out
}

func nameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// readRows reads a query's rows into JSON-safe maps, keeping the column
// order. A column name given twice (a join) is suffixed "_2", "_3", … so
// that no value is lost.
func readRows(rows *sql.Rows) (Result, error) {
	cols, err := rows.Columns()
	if err != nil {
		return Result{}, err
	}
	cols = uniqueNames(cols)
	res := Result{Columns: cols, Rows: []map[string]any{}}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return Result{}, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = jsonValue(vals[i])
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	return res, nil
}

func uniqueNames(cols []string) []string {
	out := make([]string, len(cols))
	seen := map[string]bool{}
	for i, c := range cols {
		name := c
		for n := 2; seen[name]; n++ {
			name = c + "_" + strconv.Itoa(n)
		}
		seen[name] = true
		out[i] = name
	}
	return out
}

// jsonValue turns what a driver returns into a value encoding/json
// writes faithfully: times as RFC 3339, bytes as text (or base64 when not
// UTF-8), non-finite floats as text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, int32, int, uint64, uint32:
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case float32:
		return jsonValue(float64(x))
	}
	return fmt.Sprint(v)
}
