package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/workflow"
)

// queueRow is one line of the queue.
type queueRow struct {
	ID, Reference, Type, TypeTitle, Status, StatusName, Jurisdiction, Email, Assignee string
	DueDate                                                                           string
	DaysLeft                                                                          int
	Overdue, Running, Paused, Extended                                                bool
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
		h.renderQueue(c, http.StatusUnprocessableEntity, f, nil, "", he.Fields)
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
	h.renderQueue(c, http.StatusOK, f, list, next, nil)
}

func (h *Handler) renderQueue(c *gin.Context, status int, f models.Filter, list []models.Request, next string, errs map[string]string) {
	counts, err := h.store.CountByStatus(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	names := h.staffNames(c)
	rows := make([]queueRow, 0, len(list))
	for i := range list {
		rows = append(rows, h.queueRow(&list[i], names))
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
	h.pages.render(c, status, "staff_queue", "Queue", h.staffPage(c, map[string]any{
		"Rows": rows, "Counts": cs, "Next": nextURL, "Errors": errs, "Q": queryValues(c.Request.URL.Query()),
		"Types": workflow.RequestTypes(), "States": workflow.States(), "Jurisdictions": h.cfg.Jurisdictions.Order,
		"Staff": names, "First": c.Query("cursor") == "",
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
		DueDate: v.DueDate, Overdue: v.Overdue, Paused: r.PausedAt != nil, Extended: r.Extended}
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
