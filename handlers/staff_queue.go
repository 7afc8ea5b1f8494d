package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// queueRow is one line of the queue.
type queueRow struct {
	ID, Reference, Type, TypeTitle, Status, StatusName, Jurisdiction, Email, Assignee string
	DueDate                                                                           string
	DaysLeft                                                                          int
	Overdue, Running, Paused, Extended                                                bool
	// Version travels with the bulk form's checkbox ("id:version").
	Version int
	// DuplicateOf and DuplicateRef link a flagged duplicate to the
	// request it repeats.
	DuplicateOf, DuplicateRef string
}

// queueExtras is what a bulk submission adds to the queue page: what
// happened to each request, or why the form was refused (and the form
// as sent, to fill in again).
type queueExtras struct {
	Results    []service.BulkResult
	BulkErrors map[string]string
	Bulk       *bulkForm
}

// statusCount is one entry of the counts per status.
type statusCount struct {
	Status, Name string
	N            int64
	Link         string
}

// showQueue is the staff queue: filters, counts per status, rows ordered
// by due date with days left, and keyset pages.
func (h *Handler) showQueue(c *gin.Context) {
	h.queueWith(c, http.StatusOK, queueExtras{})
}

// queueWith renders the queue for the filters of the address, with what
// a bulk submission adds; status is the answer's status when the queue
// itself is fine.
func (h *Handler) queueWith(c *gin.Context, status int, x queueExtras) {
	// The page opens on the work to do; closed requests are one choice
	// away ("all"). The API's default stays open and closed.
	if !c.Request.URL.Query().Has("status") {
		q := c.Request.URL.Query()
		q.Set("status", "open")
		c.Request.URL.RawQuery = q.Encode()
	}
	f, err := h.parseFilter(c)
	var he *httpError
	if errors.As(err, &he) && he.Status == http.StatusUnprocessableEntity {
		h.renderQueue(c, http.StatusUnprocessableEntity, f, nil, "", he.Fields, x)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.store.ListRequests(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderQueue(c, status, f, list, next, nil, x)
}

func (h *Handler) renderQueue(c *gin.Context, status int, f models.Filter, list []models.Request, next string, errs map[string]string, x queueExtras) {
	counts, err := h.store.CountByStatus(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	names := h.staffNames(c)
	rows := make([]queueRow, 0, len(list))
	var dups []string
	for i := range list {
		rows = append(rows, h.queueRow(&list[i], names))
		if d := list[i].DuplicateOf; d != nil {
			dups = append(dups, *d)
		}
	}
	refs, err := h.store.References(c.Request.Context(), dups)
	if err != nil {
		h.fail(c, err)
		return
	}
	for i := range rows {
		if rows[i].DuplicateOf != "" {
			rows[i].DuplicateRef = refs[rows[i].DuplicateOf]
		}
	}
	staff, err := h.store.AllStaff(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	var cs []statusCount
	for _, st := range workflow.States() {
		cs = append(cs, statusCount{string(st), st.Label(), counts[string(st)], "/staff?status=" + string(st)})
	}
	q := c.Request.URL.Query()
	nextURL := ""
	if next != "" {
		q.Set("cursor", next)
		nextURL = "/staff?" + q.Encode()
	}
	here := c.Request.URL.Query()
	here.Del("select")
	selectAll := c.Request.URL.Query()
	selectAll.Set("select", "all")
	bulk := x.Bulk
	if bulk == nil {
		bulk = &bulkForm{}
	}
	h.render(c, status, "staff_queue", "Queue", h.staffPage(c, map[string]any{
		"Rows": rows, "Counts": cs, "Next": nextURL, "Errors": errs, "Q": queryValues(c.Request.URL.Query()),
		"Types": workflow.RequestTypes(), "States": workflow.States(), "Jurisdictions": h.cfg.Jurisdictions.Order,
		"Staff": names, "First": c.Query("cursor") == "",
		// The bulk form posts to the same filters, so the queue shown
		// after it is the one the staff member was working on.
		"BulkURL": "/staff/bulk?" + here.Encode(), "CSVURL": "/staff/queue.csv?" + here.Encode(),
		"SelectAllURL": "/staff?" + selectAll.Encode(), "SelectNoneURL": "/staff?" + here.Encode(),
		"AllSelected": c.Query("select") == "all", "BulkActions": service.BulkActions(), "Codes": workflow.RejectionCodes(),
		"StaffList": staff, "Results": x.Results, "ResultSummary": bulkSummaryText(x.Results),
		"BulkErrors": x.BulkErrors, "Bulk": bulk,
	}))
}

func queryValues(v url.Values) map[string]string {
	out := map[string]string{}
	for k := range v {
		out[k] = v.Get(k)
	}
	return out
}

func (h *Handler) queueRow(r *models.Request, names staffNames) queueRow {
	v := h.viewRequest(r, names)
	row := queueRow{ID: r.ID, Reference: r.Reference, Type: r.Type, TypeTitle: workflow.RequestType(r.Type).Title(),
		Status: r.Status, StatusName: workflow.State(r.Status).Label(), Jurisdiction: r.Jurisdiction, Email: r.Email,
		DueDate: v.DueDate, Overdue: v.Overdue, Paused: r.PausedAt != nil, Extended: r.Extended, Version: r.Version}
	if r.DuplicateOf != nil {
		row.DuplicateOf = *r.DuplicateOf
	}
	if v.Assignee != nil {
		row.Assignee = *v.Assignee
	}
	if v.DueAt != nil && !workflow.State(r.Status).Closed() {
		row.Running = true
		row.DaysLeft = daysLeft(h.now(), *v.DueAt)
	}
	return row
}

// daysLeft counts whole days until due (negative when overdue).
func daysLeft(now, due time.Time) int {
	return int(math.Floor(due.Sub(now).Hours() / 24))
}

// staffPage adds what every workspace page shows: who is signed in.
func (h *Handler) staffPage(c *gin.Context, data map[string]any) map[string]any {
	st := staffOf(c)
	data["Me"] = st
	data["IsAdmin"] = st.Role == models.RoleAdmin
	return data
}
