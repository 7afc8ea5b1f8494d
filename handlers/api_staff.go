package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

const ctxStaff = "staff"

// requireAPIToken admits requests with a valid bearer token of an active
// staff member and answers 401 otherwise.
func (h *Handler) requireAPIToken(c *gin.Context) {
	// Everything behind an API token is personal data or about it: no
	// cache, shared or private, may keep a copy.
	c.Header("Cache-Control", "no-store")
	auth := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Header("WWW-Authenticate", `Bearer realm="portal"`)
		h.fail(c, errUnauthorized)
		return
	}
	g, err := h.svc.AuthenticateAPIToken(c.Request.Context(), token)
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="portal", error="invalid_token"`)
		h.fail(c, err)
		return
	}
	c.Set(ctxStaff, g.Staff)
	c.Set(ctxGrant, g)
	c.Next()
}

// ctxGrant holds the service.Grant of the request's API token.
const ctxGrant = "grant"

// needScope lets through only a token that has scope (a token without
// scopes has all of its owner's): 403 with the scope it lacks otherwise.
func (h *Handler) needScope(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		g, _ := c.MustGet(ctxGrant).(service.Grant)
		if !g.Has(scope) {
			h.fail(c, &httpError{http.StatusForbidden, "forbidden", "This API token does not have the scope " + scope + ".", nil})
			return
		}
		c.Next()
	}
}

func staffOf(c *gin.Context) *models.Staff {
	st, _ := c.MustGet(ctxStaff).(*models.Staff)
	return st
}

// requestView is SPEC §7's request object.
type requestView struct {
	ID           string           `json:"id"`
	Reference    string           `json:"reference"`
	Type         string           `json:"type"`
	Status       string           `json:"status"`
	Jurisdiction string           `json:"jurisdiction"`
	Language     string           `json:"language"`
	Email        string           `json:"email"`
	FullName     string           `json:"full_name"`
	Details      workflow.Details `json:"details"`
	CreatedAt    time.Time        `json:"created_at"`
	VerifiedAt   *time.Time       `json:"verified_at"`
	DueAt        *time.Time       `json:"due_at"`
	DueDate      string           `json:"due_date,omitempty"`
	Overdue      bool             `json:"overdue"`
	Extended     bool             `json:"extended"`
	Paused       bool             `json:"paused"`
	PausedDays   int              `json:"paused_days"`
	AppealBy     *time.Time       `json:"appeal_by,omitempty"`
	Assignee     *string          `json:"assignee"`
	Approvals    []string         `json:"approvals"`
	Version      int              `json:"version"`
	// DuplicateOf is the id of the open request this one repeats, found
	// when it was verified; RefusalReason the code of its rejection.
	DuplicateOf   *string      `json:"duplicate_of"`
	RefusalReason string       `json:"refusal_reason,omitempty"`
	AppealOutcome string       `json:"appeal_outcome,omitempty"`
	Events        []eventView  `json:"events,omitempty"`
	Tasks         []taskView   `json:"tasks,omitempty"`
	Package       *packageView `json:"package,omitempty"`
	// Notes are the internal notes (one request's view only); never
	// shown to the subject.
	Notes []noteView `json:"notes,omitempty"`
}

// noteView is an internal note in the staff API, as POST …/notes
// answers it.
type noteView struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// packageView is the download package as staff see it.
type packageView struct {
	Size           int64      `json:"size"`
	BuiltAt        time.Time  `json:"built_at"`
	ReleasedAt     *time.Time `json:"released_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	Downloads      int        `json:"downloads"`
	LastDownloadAt *time.Time `json:"last_download_at"`
}

type eventView struct {
	ID        int64     `json:"id"`
	Action    string    `json:"action"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	ActorKind string    `json:"actor_kind"`
	Actor     string    `json:"actor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	At        time.Time `json:"at"`
}

// staffNames maps staff ids to e-mail addresses for views; staff are few,
// so one query per page beats one per row.
type staffNames map[string]string

func (h *Handler) staffNames(c *gin.Context) staffNames {
	out := staffNames{}
	list, err := h.store.AllStaff(c.Request.Context())
	if err != nil {
		h.log.WarnContext(c, "could not read staff", "err", err)
		return out
	}
	for _, s := range list {
		out[s.ID] = s.Email
	}
	return out
}

func (n staffNames) name(id string) string {
	if e, ok := n[id]; ok {
		return e
	}
	return id
}

func (h *Handler) viewRequest(r *models.Request, names staffNames) requestView {
	v := requestView{ID: r.ID, Reference: r.Reference, Type: r.Type, Status: r.Status,
		Jurisdiction: r.Jurisdiction, Language: r.Language, Email: r.Email, FullName: r.FullName, CreatedAt: r.CreatedAt,
		VerifiedAt: r.VerifiedAt, Extended: r.Extended, Version: r.Version, Approvals: []string{},
		Paused: r.PausedAt != nil, PausedDays: r.PausedDays, AppealBy: r.AppealBy,
		DuplicateOf: r.DuplicateOf, RefusalReason: r.RefusalReason, AppealOutcome: r.AppealOutcome}
	json.Unmarshal([]byte(r.Details), &v.Details)
	// Until the clock runs, there is no due date to show.
	if r.VerifiedAt != nil || r.Status == string(workflow.StateUnverified) && h.clockAtSubmission(r) {
		due := r.DueAt
		v.DueAt = &due
		v.DueDate = due.In(h.cfg.Calendar().Loc).Format(time.DateOnly)
		v.Overdue = h.now().After(due) && !workflow.State(r.Status).Closed() && r.PausedAt == nil
	}
	if r.AssigneeID != nil {
		a := names.name(*r.AssigneeID)
		v.Assignee = &a
	}
	var ids []string
	json.Unmarshal([]byte(r.Approvals), &ids)
	for _, id := range ids {
		v.Approvals = append(v.Approvals, names.name(id))
	}
	return v
}

func (h *Handler) clockAtSubmission(r *models.Request) bool {
	p := h.cfg.Policy(r.Jurisdiction)
	return p != nil && p.Rules.ClockAtSubmission
}

// apiListRequests is the staff queue as JSON, ordered by due date, with
// keyset pagination.
func (h *Handler) apiListRequests(c *gin.Context) {
	f, err := h.parseFilter(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.store.ListRequests(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	names := h.staffNames(c)
	items := make([]requestView, 0, len(list))
	for i := range list {
		items = append(items, h.viewRequest(&list[i], names))
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

// parseFilter reads the queue's query parameters, refusing unknown
// values with 422 rather than silently ignoring them.
func (h *Handler) parseFilter(c *gin.Context) (models.Filter, error) {
	f := models.Filter{Now: h.now(), Limit: 50, Cursor: c.Query("cursor"), Query: c.Query("q")}
	errs := map[string]string{}
	switch s := c.Query("status"); s {
	case "open":
		// The work to do: confirmed and not closed.
		f.Statuses = models.OpenStatuses()
	case "all", "":
		// Unconfirmed and expired requests are not work yet (or any more).
		f.Statuses = models.QueueStatuses()
	default:
		for _, st := range strings.Split(s, ",") {
			if !workflow.State(strings.TrimSpace(st)).Valid() {
				errs["status"] = "unknown status " + strconv.Quote(st)
			}
			f.Statuses = append(f.Statuses, strings.TrimSpace(st))
		}
	}
	if t := c.Query("type"); t != "" {
		if !workflow.RequestType(t).Valid() {
			errs["type"] = "unknown type " + strconv.Quote(t)
		}
		f.Type = t
	}
	if j := c.Query("jurisdiction"); j != "" {
		if h.cfg.Policy(j) == nil {
			errs["jurisdiction"] = "unknown jurisdiction " + strconv.Quote(j)
		}
		f.Jurisdiction = j
	}
	switch a := c.Query("assignee"); a {
	case "":
	case "me", "mine":
		f.Assignee = staffOf(c).ID
	case models.Unassigned:
		f.Assignee = models.Unassigned
	default:
		st, err := h.store.StaffByEmail(c.Request.Context(), strings.ToLower(a))
		if err != nil {
			st, err = h.store.StaffByID(c.Request.Context(), a)
		}
		if err != nil {
			errs["assignee"] = "no staff member " + strconv.Quote(a) + " (use me, unassigned, an e-mail or an id)"
		} else {
			f.Assignee = st.ID
		}
	}
	if o := c.Query("overdue"); o != "" {
		b, err := strconv.ParseBool(o)
		if err != nil {
			errs["overdue"] = "must be true or false"
		}
		f.Overdue = b
	}
	if d := c.Query("due_within"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 3660 {
			errs["due_within"] = "must be a number of days from 0 to 3660"
		}
		cal := h.cfg.Calendar()
		f.DueBefore = cal.EndOf(cal.Today(h.now()).AddDays(n)).Add(time.Second)
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			errs["limit"] = "must be a whole number from 1 to 200"
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		return f, invalid(errs)
	}
	return f, nil
}

// apiGetRequest is one request with its timeline.
func (h *Handler) apiGetRequest(c *gin.Context) {
	r, err := h.store.Request(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	events, err := h.store.Events(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	names := h.staffNames(c)
	v := h.viewRequest(r, names)
	v.Events = []eventView{}
	for _, e := range events {
		ev := eventView{ID: e.ID, Action: e.Action, From: e.FromState, To: e.ToState, ActorKind: e.ActorKind,
			Reason: e.Reason, Message: e.Message, At: e.CreatedAt}
		if e.ActorID != "" {
			ev.Actor = names.name(e.ActorID)
		}
		v.Events = append(v.Events, ev)
	}
	tasks, err := h.store.Tasks(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	for i := range tasks {
		v.Tasks = append(v.Tasks, viewTask(&tasks[i]))
	}
	if p, err := h.store.PackageOf(c.Request.Context(), r.ID); err == nil {
		v.Package = &packageView{Size: p.Size, BuiltAt: p.BuiltAt, ReleasedAt: p.ReleasedAt, ExpiresAt: p.ExpiresAt,
			Downloads: p.Downloads, LastDownloadAt: p.LastDownloadAt}
	}
	notes, err := h.store.Notes(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	v.Notes = []noteView{}
	for _, n := range notes {
		v.Notes = append(v.Notes, noteView{ID: n.ID, Author: names.name(n.StaffID), Body: n.Body, CreatedAt: n.CreatedAt})
	}
	c.JSON(http.StatusOK, v)
}
