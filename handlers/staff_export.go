package handlers

import (
	"encoding/csv"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
)

// csvHeader names the export's columns, in order.
var csvHeader = []string{"id", "reference", "type", "status", "jurisdiction", "received", "verified", "due",
	"closed", "assignee", "approvers", "refusal_reason"}

// exportQueue is the staff queue as a CSV file (GET /staff/queue.csv),
// with the queue page's filters, so the link beside the page's filters
// downloads what the page lists: the status defaults to "open", as on
// the page.
func (h *Handler) exportQueue(c *gin.Context) {
	if !c.Request.URL.Query().Has("status") {
		q := c.Request.URL.Query()
		q.Set("status", "open")
		c.Request.URL.RawQuery = q.Encode()
	}
	h.writeQueueCSV(c, "queue")
}

// apiExportRequests is GET /api/v1/requests.csv: the staff API's list
// as CSV, with its filters and defaults.
func (h *Handler) apiExportRequests(c *gin.Context) {
	h.writeQueueCSV(c, "requests")
}

// writeQueueCSV streams every request the query's filters select, in
// the queue's order, as CSV (RFC 4180, UTF-8). It reads one keyset page
// at a time and flushes it, so an export of a million rows holds one
// page in memory and the download starts at once; the connection's
// write deadline moves on with every page (keepStreaming). cursor and limit are
// dropped: an export is the whole list, not the page it was asked from.
func (h *Handler) writeQueueCSV(c *gin.Context, name string) {
	q := c.Request.URL.Query()
	q.Del("cursor")
	q.Del("limit")
	c.Request.URL.RawQuery = q.Encode()
	f, err := h.parseFilter(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	f.Limit = 200
	// A big export outlasts the server's write timeout: each page moves
	// the deadline on, so only a client that stops reading is cut off.
	h.keepStreaming(c)
	ctx := c.Request.Context()
	// The first page is read before anything is sent, so that a failure
	// there is still an error status and not an empty file.
	list, next, err := h.store.ListRequests(ctx, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	names := h.staffNames(c)
	day := h.cfg.Calendar().Today(h.now()).String()
	w := c.Writer
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+day+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	cw.Write(csvHeader)
	for {
		for i := range list {
			cw.Write(h.csvRow(&list[i], names))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			// The client went away; nothing more to send.
			return
		}
		w.Flush()
		if next == "" {
			return
		}
		h.keepStreaming(c)
		f.Cursor = next
		if list, next, err = h.store.ListRequests(ctx, f); err != nil {
			// The status is sent already, and the file would look whole
			// though it ends short: say so in a last row of its own (as
			// wide as the others, so CSV readers still read it), and log
			// why.
			h.log.ErrorContext(c, "queue export failed part way", "err", err)
			last := make([]string, len(csvHeader))
			last[0] = "EXPORT INCOMPLETE: an error on the server cut it short; please download it again"
			cw.Write(last)
			cw.Flush()
			return
		}
	}
}

// csvRow is one request as the export's columns. Times are RFC 3339 in
// the organisation's time zone; the due date is the date staff see (none
// while the clock does not run).
func (h *Handler) csvRow(r *models.Request, names staffNames) []string {
	v := h.viewRequest(r, names)
	loc := h.cfg.Calendar().Loc
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format(time.RFC3339)
	}
	assignee := ""
	if v.Assignee != nil {
		assignee = *v.Assignee
	}
	row := []string{r.ID, r.Reference, r.Type, r.Status, r.Jurisdiction, stamp(&r.CreatedAt), stamp(r.VerifiedAt),
		v.DueDate, stamp(r.ClosedAt), assignee, strings.Join(v.Approvals, " "), r.RefusalReason}
	for i := range row {
		row[i] = csvSafe(row[i])
	}
	return row
}

// csvSafe keeps a spreadsheet from running a cell as a formula (CSV
// injection): a cell that starts with = + - @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets show as text.
// Quoting is encoding/csv's (RFC 4180).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
