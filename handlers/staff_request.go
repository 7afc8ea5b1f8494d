package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/mailer"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// actionForm is one staff decision from the request's file.
type actionForm struct {
	Action   string `form:"action"`
	Reason   string `form:"reason"`
	Message  string `form:"message"`
	Version  int    `form:"version"`
	Assignee string `form:"assignee"`
	// LinkReason is why the status links are replaced.
	LinkReason string `form:"link_reason"`
}

// actionButton is an action offered on the file, with what it asks for.
type actionButton struct {
	Action, Label, Help string
	NeedsReason         bool
	ReasonIsCode        bool
	NeedsMessage        bool
	NeedsAssignee       bool
	Danger              bool
}

// showRequest is a request's file.
func (h *Handler) showRequest(c *gin.Context) {
	h.renderFile(c, http.StatusOK, c.Param("id"), nil, "")
}

// renderFile renders the file; problem and errs explain a refused action.
func (h *Handler) renderFile(c *gin.Context, status int, id string, errs map[string]string, problem string) {
	r, err := h.store.Request(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	events, err := h.store.Events(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	notes, err := h.store.Notes(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	mails, err := h.store.MailsFor(c.Request.Context(), r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	for i := range mails {
		mails[i].TextBody = mailer.Redact(mails[i].TextBody)
		mails[i].ReplyTo = mailer.Redact(mails[i].ReplyTo)
	}
	names := h.staffNames(c)
	staff, _ := h.store.AllStaff(c.Request.Context())
	var d workflow.Details
	json.Unmarshal([]byte(r.Details), &d)
	ackDue := ""
	if p := h.cfg.Policy(r.Jurisdiction); p != nil && p.AcknowledgeBusinessDays > 0 {
		cal := h.cfg.Calendar()
		ackDue = cal.AddWorkingDays(cal.Today(r.CreatedAt), p.AcknowledgeBusinessDays).String()
	}
	ctx := c.Request.Context()
	tasks, err := h.store.Tasks(ctx, r.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	open := 0
	for i := range tasks {
		if tasks[i].Open() {
			open++
		}
	}
	var dup *models.Request
	if r.DuplicateOf != nil {
		if dup, err = h.store.Request(ctx, *r.DuplicateOf); err != nil && !errors.Is(err, models.ErrNotFound) {
			h.fail(c, err)
			return
		}
	}
	// Closing as a duplicate promises the subject that the other request
	// is answered: no button once it is closed (the service refuses too).
	dupOpen := dup != nil && !workflow.State(dup.Status).Closed()
	closable := r.Status == string(workflow.StateVerified) || r.Status == string(workflow.StateInReview) ||
		r.Status == string(workflow.StateAwaitingSubject)
	files, _ := h.store.PackageFiles(ctx, r.ID)
	pkg, _ := h.store.PackageOf(ctx, r.ID)
	rt := workflow.RequestType(r.Type)
	h.render(c, status, "staff_request", r.Reference, h.staffPage(c, map[string]any{
		"AckDue": ackDue, "Policy": h.cfg.Policy(r.Jurisdiction),
		"Tasks": tasks, "OpenTasks": open, "Files": files, "Package": pkg,
		"HasPackage": rt == workflow.TypeAccess || rt == workflow.TypePortability,
		"Released":   pkg != nil && pkg.ReleasedAt != nil, "Current": h.svc.LookupCurrent(ctx, r),
		"R": r, "V": h.viewRequest(r, names), "Row": h.queueRow(r, names), "Details": d,
		"Events": events, "Notes": notes, "Mails": mails, "Names": names, "StaffList": staff,
		"Actions": h.actionButtons(r, staffOf(c)), "Codes": workflow.RejectionCodes(),
		"Errors": errs, "Problem": problem, "Done": c.Query("done"), "Attachments": h.staffAttachments(c, r.ID),
		"Dup": dup, "CanCloseDup": dupOpen && closable, "DupClosed": dup != nil && !dupOpen && closable,
	}))
}

func (h *Handler) actionButtons(r *models.Request, st *models.Staff) []actionButton {
	var out []actionButton
	for _, a := range h.svc.AllowedActions(r, st) {
		b := actionButton{Action: string(a), Label: actionLabel(a)}
		switch a {
		case workflow.ActionStartReview:
			b.NeedsAssignee, b.Help = true, "Take the request, or give it to a colleague."
		case workflow.ActionRequestInfo:
			b.NeedsMessage, b.Help = true, "Your question is mailed to the subject, who can answer on the status page or by reply."
		case workflow.ActionApprove:
			b.Help = "Approve the request for fulfilment."
			if n := h.cfg.Approvals(workflow.RequestType(r.Type)); n > 1 {
				b.Help = "This type needs approvals from " + strconv.Itoa(n) + " different staff members."
			}
		case workflow.ActionReject:
			b.NeedsReason, b.ReasonIsCode, b.NeedsMessage, b.Danger = true, true, true, true
			b.Help = "The subject is told why, and where they can complain."
		case workflow.ActionComplete:
			b.NeedsMessage, b.Help = true, "The message is the answer mailed to the subject."
		case workflow.ActionExtend:
			b.NeedsReason, b.Help = true, "Once only, and only before the due date. The reason and the new date are mailed to the subject."
		case workflow.ActionGrantAppeal, workflow.ActionDenyAppeal:
			b.NeedsReason = true
		}
		out = append(out, b)
	}
	return out
}

func actionLabel(a workflow.Action) string {
	s := strings.ReplaceAll(string(a), "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// decideRequest carries out an action from the file: 303 back to the file
// on success; the file again with the reason on refusal (409 when someone
// else changed the request first, 422 when something is missing).
func (h *Handler) decideRequest(c *gin.Context) {
	limitBody(c, h.cfg.HTTP.MaxBodyBytes)
	var f actionForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	id := c.Param("id")
	_, err := h.svc.Act(c.Request.Context(), staffOf(c), id, service.ActInput{Action: f.Action, Reason: f.Reason,
		Message: f.Message, Version: f.Version, Assignee: f.Assignee})
	if err != nil {
		h.refuseOnFile(c, id, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(id)+"?done="+url.QueryEscape(f.Action))
}

// refuseOnFile shows the file with why an action was refused.
func (h *Handler) refuseOnFile(c *gin.Context, id string, err error) {
	he := asHTTPError(err)
	switch {
	case errors.Is(err, models.ErrConflict):
		h.renderFile(c, http.StatusConflict, id, nil,
			"This request was changed by someone else while you were looking at it. Nothing was saved. Check the timeline below and decide again.")
	case he.Status == http.StatusUnprocessableEntity || he.Status == http.StatusConflict || he.Status == http.StatusForbidden:
		h.renderFile(c, he.Status, id, he.Fields, he.Message)
	default:
		h.fail(c, err)
	}
}

type noteForm struct {
	Body string `form:"body"`
}

// addNote stores an internal note from the file.
func (h *Handler) addNote(c *gin.Context) {
	limitBody(c, h.cfg.HTTP.MaxBodyBytes)
	var f noteForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	id := c.Param("id")
	if _, err := h.svc.AddNote(c.Request.Context(), staffOf(c), id, f.Body); err != nil {
		h.refuseOnFile(c, id, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(id)+"?done=note#notes")
}

// revokeStatusLinks stops the subject's status links and mails a new one.
func (h *Handler) revokeStatusLinks(c *gin.Context) {
	limitBody(c, 8<<10)
	var f actionForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	id := c.Param("id")
	if _, err := h.svc.RevokeStatusLinks(c.Request.Context(), staffOf(c), id, f.LinkReason, f.Version); err != nil {
		h.refuseOnFile(c, id, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(id)+"?done=status_links")
}

// reassign gives the request to another staff member.
func (h *Handler) reassign(c *gin.Context) {
	limitBody(c, 8<<10)
	var f actionForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	id := c.Param("id")
	if _, err := h.svc.Assign(c.Request.Context(), staffOf(c), id, f.Assignee, f.Version); err != nil {
		h.refuseOnFile(c, id, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(id)+"?done=assign")
}
