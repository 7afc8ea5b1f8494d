package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// subjectEvent is a timeline entry as the subject sees it: what happened
// and when, never who on the staff did it, never internal steps.
type subjectEvent struct {
	At       string
	What     string
	Text     string
	FromThem bool
}

// showStatus is the subject's private status page behind the link in our
// mails.
func (h *Handler) showStatus(c *gin.Context) {
	h.renderStatus(c, http.StatusOK, c.Param("token"), "", "")
}

func (h *Handler) renderStatus(c *gin.Context, status int, token, fieldErr, answer string) {
	h.renderStatusWith(c, status, token, map[string]any{"Error": fieldErr, "Answer": answer})
}

// renderStatusWith renders the status page with extra data (errors,
// kept input) over what it always shows.
func (h *Handler) renderStatusWith(c *gin.Context, status int, token string, extra map[string]any) {
	req, err := h.svc.StatusRequest(c.Request.Context(), token)
	if err != nil {
		h.statusProblem(c, err)
		return
	}
	events, err := h.store.Events(c.Request.Context(), req.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	loc := h.cfg.Calendar().Loc
	var timeline []subjectEvent
	question := ""
	for _, e := range events {
		se, show := subjectView(e)
		if !show {
			continue
		}
		se.At = e.CreatedAt.In(loc).Format("2 Jan 2006, 15:04")
		timeline = append(timeline, se)
		if e.Action == string(workflow.ActionRequestInfo) {
			question = e.Message
		}
	}
	var d workflow.Details
	json.Unmarshal([]byte(req.Details), &d)
	st := workflow.State(req.Status)
	data := map[string]any{
		"R": req, "StateName": st.Name(), "TypeTitle": workflow.RequestType(req.Type).Title(),
		"DueDate":  req.DueAt.In(loc).Format("Monday, 2 January 2006"),
		"Timeline": timeline, "Token": token, "Question": question,
		"Awaiting": st == workflow.StateAwaitingSubject, "CanWithdraw": canWithdraw(st),
		"Done": c.Query("done"), "CanAppeal": h.svc.CanAppeal(req), "AppealBy": appealBy(req, loc),
		"Error": "", "Answer": "", "DownloadError": "", "CodeError": "", "AppealError": "", "Appeal": "",
		"CanAttach": req.PurgedAt == nil && !st.Closed(), "AttachHint": h.svc.AttachmentLimits(), "AttachError": "",
	}
	if p, err := h.store.PackageOf(c.Request.Context(), req.ID); err == nil && p.ReleasedAt != nil {
		data["Package"] = p
		data["PackageLive"] = p.ExpiresAt != nil && h.now().Before(*p.ExpiresAt)
		data["PackageUntil"] = p.ExpiresAt.In(loc).Format("Monday, 2 January 2006, 15:04")
	}
	if told, err := h.svc.RecipientsTold(c.Request.Context(), req); err == nil {
		data["Told"] = told
	}
	for k, v := range extra {
		data[k] = v
	}
	h.render(c, status, "status", "Your request "+req.Reference, data)
}

func canWithdraw(s workflow.State) bool {
	for _, t := range workflow.Transitions() {
		if t.Action == workflow.ActionWithdraw {
			for _, f := range t.From {
				if f == s {
					return true
				}
			}
		}
	}
	return false
}

// subjectView decides what of an audit event the subject sees.
func subjectView(e models.Event) (subjectEvent, bool) {
	switch workflow.Action(e.Action) {
	case workflow.ActionSubmit:
		return subjectEvent{What: "You made the request."}, true
	case workflow.ActionVerify:
		return subjectEvent{What: "You confirmed your e-mail address. The clock started."}, true
	case workflow.ActionStartReview:
		return subjectEvent{What: "Our privacy team started reviewing your request."}, true
	case workflow.ActionRequestInfo:
		return subjectEvent{What: "We asked you a question.", Text: e.Message}, true
	case workflow.ActionProvideInfo:
		return subjectEvent{What: "You answered.", Text: e.Message, FromThem: true}, true
	case workflow.ActionApprove:
		if e.FromState == e.ToState {
			return subjectEvent{}, false // a first of two approvals is internal
		}
		return subjectEvent{What: "Your request was approved; we are carrying it out."}, true
	case workflow.ActionReject:
		return subjectEvent{What: "We refused the request.", Text: e.Message}, true
	case workflow.ActionComplete:
		return subjectEvent{What: "We completed your request.", Text: e.Message}, true
	case workflow.ActionExtend:
		return subjectEvent{What: "We extended the deadline.", Text: e.Reason}, true
	case workflow.ActionWithdraw:
		return subjectEvent{What: "You withdrew the request.", FromThem: true}, true
	case workflow.ActionAppeal:
		return subjectEvent{What: "You appealed.", Text: e.Message, FromThem: true}, true
	case workflow.ActionGrantAppeal:
		return subjectEvent{What: "Your appeal was granted; we are reviewing the request again.", Text: e.Reason}, true
	case workflow.ActionDenyAppeal:
		return subjectEvent{What: "Your appeal was refused.", Text: e.Reason}, true
	case workflow.ActionExpire:
		return subjectEvent{What: "The request expired because it was never confirmed."}, true
	case service.ActionAttach:
		return subjectEvent{What: "You sent us files.", Text: e.Message, FromThem: true}, true
	}
	return subjectEvent{}, false
}

// statusProblem explains a status link that does not work.
func (h *Handler) statusProblem(c *gin.Context, err error) {
	he := asHTTPError(err)
	if he.Status >= 500 {
		h.fail(c, err)
		return
	}
	msg := "This status link is not valid. Use the link from our most recent e-mail."
	if errors.Is(err, service.ErrTokenSpent) || errors.Is(err, service.ErrTokenExpired) {
		msg = "This status link no longer works. If you need to know more about your request, contact us with its reference."
		he = &httpError{http.StatusGone, he.Code, msg, nil}
	}
	h.renderError(c, &httpError{he.Status, he.Code, msg, nil})
}

type answerForm struct {
	Message string `form:"message"`
}

// readAnswer reads a status-page form with a message (an answer, an
// appeal); on a body that is not a form it has answered already.
func (h *Handler) readAnswer(c *gin.Context) (string, answerForm, bool) {
	limitBody(c, h.cfg.HTTP.MaxBodyBytes)
	var f answerForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return "", f, false
	}
	return c.Param("token"), f, true
}

// answerQuestion is provide_info from the status page.
func (h *Handler) answerQuestion(c *gin.Context) {
	token, f, ok := h.readAnswer(c)
	if !ok {
		return
	}
	_, err := h.svc.ProvideInfo(c.Request.Context(), token, f.Message)
	var ve *service.ValidationError
	var we *workflow.Error
	switch {
	case errors.As(err, &ve):
		h.renderStatus(c, http.StatusUnprocessableEntity, token, ve.Fields["message"], f.Message)
		return
	case errors.As(err, &we) && we.Kind == workflow.ErrInvalid:
		h.renderStatus(c, http.StatusUnprocessableEntity, token, "Write your answer.", f.Message)
		return
	case errors.As(err, &we), errors.Is(err, models.ErrConflict):
		h.renderStatus(c, http.StatusConflict, token, "Your request is not waiting for an answer any more.", f.Message)
		return
	case err != nil:
		h.statusProblem(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=answer")
}

// confirmWithdraw asks before withdrawing: withdrawal cannot be undone.
func (h *Handler) confirmWithdraw(c *gin.Context) {
	req, err := h.svc.StatusRequest(c.Request.Context(), c.Param("token"))
	if err != nil {
		h.statusProblem(c, err)
		return
	}
	h.render(c, http.StatusOK, "withdraw", "Withdraw your request", map[string]any{
		"R": req, "Token": c.Param("token"), "CanWithdraw": canWithdraw(workflow.State(req.Status)),
		"TypeTitle": workflow.RequestType(req.Type).Title(),
	})
}

// withdrawRequest withdraws after confirmation.
func (h *Handler) withdrawRequest(c *gin.Context) {
	limitBody(c, 4<<10)
	token := c.Param("token")
	if _, err := h.svc.StatusRequest(c.Request.Context(), token); err != nil {
		h.statusProblem(c, err)
		return
	}
	if c.PostForm("confirm") != "yes" {
		h.fail(c, invalid(map[string]string{"confirm": "Tick the box to confirm that you want to withdraw."}))
		return
	}
	_, err := h.svc.Withdraw(c.Request.Context(), token)
	var we *workflow.Error
	if errors.As(err, &we) || errors.Is(err, models.ErrConflict) {
		h.renderStatus(c, http.StatusConflict, token, "", "")
		return
	}
	if err != nil {
		h.statusProblem(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=withdraw")
}

func appealBy(r *models.Request, loc *time.Location) string {
	if r.AppealBy == nil {
		return ""
	}
	return r.AppealBy.In(loc).Format("Monday, 2 January 2006")
}

// appealRequest is the subject's appeal against a rejection.
func (h *Handler) appealRequest(c *gin.Context) {
	token, f, ok := h.readAnswer(c)
	if !ok {
		return
	}
	_, err := h.svc.Appeal(c.Request.Context(), token, f.Message)
	var ve *service.ValidationError
	var we *workflow.Error
	switch {
	case errors.As(err, &ve):
		// Beside the appeal's field, with what the subject wrote kept.
		h.renderStatusWith(c, http.StatusUnprocessableEntity, token, map[string]any{
			"AppealError": ve.Fields["message"], "Appeal": f.Message})
		return
	case errors.As(err, &we):
		h.renderStatus(c, http.StatusConflict, token, "An appeal is not possible now: "+we.Msg+".", "")
		return
	case errors.Is(err, models.ErrConflict):
		h.renderStatus(c, http.StatusConflict, token, "Your request changed meanwhile; please look again.", "")
		return
	case err != nil:
		h.statusProblem(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=appeal")
}
