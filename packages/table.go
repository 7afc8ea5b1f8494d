package packages

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// columnsOf is the section's columns, each once, followed by any other
// key a row holds, sorted: the subject gets every value found, even one
// the connector did not announce.
func columnsOf(sec Section) []string {
	seen := map[string]bool{}
	var cols, extra []string
	for _, c := range sec.Columns {
		if !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	for _, row := range sec.Rows {
		for k := range row {
			if !seen[k] {
				seen[k] = true
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	return append(cols, extra...)
}

// jsonValue encodes one value as the JSON file shows it. Text that
// drivers return as bytes is shown as text; numbers JSON cannot hold
// (NaN, ±Inf) as strings.
func jsonValue(v any) []byte {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			v = string(x)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			v = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Not a value a database or a JSON answer gives; show it anyway.
		buf.Reset()
		enc.Encode(fmt.Sprint(v))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSON writes the rows as a pretty-printed array of objects whose
// keys follow cols; a missing value is null.
func writeJSON(w io.Writer, cols []string, rows []map[string]any) error {
	var compact bytes.Buffer
	compact.WriteByte('[')
	for i, row := range rows {
		if i > 0 {
			compact.WriteByte(',')
		}
		compact.WriteByte('{')
		for j, c := range cols {
			if j > 0 {
				compact.WriteByte(',')
			}
			compact.Write(jsonValue(c))
			compact.WriteByte(':')
			compact.Write(jsonValue(row[c]))
		}
		compact.WriteByte('}')
	}
	compact.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// writeCSV writes a header row and one record per row (RFC 4180: CRLF,
// quoting where needed).
func writeCSV(w io.Writer, cols []string, rows []map[string]any) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = guardFormula(c)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	for _, row := range rows {
		for i, c := range cols {
			rec[i] = csvCell(row[c])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell shows a value as the JSON file does, but a string without its
// quotes and a missing value as an empty cell.
func csvCell(v any) string {
	if v == nil {
		return ""
	}
	b := jsonValue(v)
	switch {
	case b[0] == '"':
		var s string
		json.Unmarshal(b, &s)
		return guardFormula(s)
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		return string(b) // a number: a spreadsheet reads it as one, never as a formula
	}
	return guardFormula(string(b))
}

// guardFormula defuses CSV formula injection: a spreadsheet would run a
// cell starting with one of these characters as a formula, so it gets a
// leading apostrophe and is read as text.
func guardFormula(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
