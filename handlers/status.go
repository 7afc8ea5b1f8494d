package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/i18n"
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
// kept input) over what it always shows, in the visitor's language.
func (h *Handler) renderStatusWith(c *gin.Context, status int, token string, extra map[string]any) {
	returnToStatus(c, token)
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
	l, loc := h.loc(c), h.cfg.Calendar().Loc
	var timeline []subjectEvent
	question := ""
	for _, e := range events {
		se, show := subjectView(l, e)
		if !show {
			continue
		}
		se.At = l.DateTime(e.CreatedAt.In(loc))
		timeline = append(timeline, se)
		if e.Action == string(workflow.ActionRequestInfo) {
			question = e.Message
		}
	}
	var d workflow.Details
	json.Unmarshal([]byte(req.Details), &d)
	st := workflow.State(req.Status)
	data := map[string]any{
		"R": req, "StateName": l.Or("state."+req.Status, st.Name()), "TypeTitle": l.T("type." + req.Type + ".title"),
		"DueDate":  l.Date(req.DueAt.In(loc)),
		"Timeline": timeline, "Token": token, "Question": question,
		"Awaiting": st == workflow.StateAwaitingSubject, "CanWithdraw": canWithdraw(st),
		"Done": c.Query("done"), "CanAppeal": h.svc.CanAppeal(req), "AppealBy": appealBy(l, req, loc),
		"Error": "", "Answer": "", "DownloadError": "", "CodeError": "", "AppealError": "", "Appeal": "",
		"CanAttach": req.PurgedAt == nil && !st.Closed(), "AttachHint": h.svc.AttachmentLimits(l.Lang()), "AttachError": "",
		"LawName": "", "LawPeriod": "", "Refusal": "", "Authority": "",
	}
	h.lawFacts(l, req, data)
	if p, err := h.store.PackageOf(c.Request.Context(), req.ID); err == nil && p.ReleasedAt != nil {
		data["Package"] = p
		data["PackageLive"] = p.ExpiresAt != nil && h.now().Before(*p.ExpiresAt)
		data["PackageUntil"] = l.DateTime(p.ExpiresAt.In(loc))
	}
	if told, err := h.svc.RecipientsTold(c.Request.Context(), req); err == nil {
		data["Told"] = told
	}
	for k, v := range extra {
		data[k] = v
	}
	h.render(c, status, "status", l.T("status.title", "Ref", req.Reference), data)
}

// lawFacts adds the law, its time to answer and, for a refusal, the
// reason and the authority to complain to. A law an operator added has
// no catalog entry: its configured words show.
func (h *Handler) lawFacts(l *i18n.Localizer, req *models.Request, data map[string]any) {
	pol := h.cfg.Policy(req.Jurisdiction)
	if pol == nil {
		return
	}
	code := req.Jurisdiction
	data["LawName"] = l.Or("law."+code+".name", pol.Name)
	data["LawPeriod"] = l.Period(pol.Rules.Period.Months, pol.Rules.Period.Days)
	if workflow.State(req.Status) != workflow.StateRejected {
		return
	}
	reason := req.RefusalReason
	if reason == string(workflow.RejectOther) || reason == "" {
		reason = "other_reason"
	}
	data["Refusal"] = l.Or("rejection."+reason, l.T("rejection.other_reason"))
	data["Authority"] = l.Or("law."+code+".authority", pol.Authority)
}

// returnToStatus points the language switcher of a page answered to a
// POST on the status page back to the status page itself.
func returnToStatus(c *gin.Context, token string) {
	if c.Request.Method == http.MethodPost && token != "" {
		c.Set(langReturnKey, "/status/"+url.PathEscape(token))
	}
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

// subjectView decides what of an audit event the subject sees, in l's
// language.
func subjectView(l *i18n.Localizer, e models.Event) (subjectEvent, bool) {
	what := func(key string) string { return l.T("status.event." + key) }
	switch workflow.Action(e.Action) {
	case workflow.ActionSubmit:
		return subjectEvent{What: what("submit")}, true
	case workflow.ActionVerify:
		return subjectEvent{What: what("verify")}, true
	case workflow.ActionStartReview:
		return subjectEvent{What: what("start_review")}, true
	case workflow.ActionRequestInfo:
		return subjectEvent{What: what("request_info"), Text: e.Message}, true
	case workflow.ActionProvideInfo:
		return subjectEvent{What: what("provide_info"), Text: e.Message, FromThem: true}, true
	case workflow.ActionApprove:
		if e.FromState == e.ToState {
			return subjectEvent{}, false // a first of two approvals is internal
		}
		return subjectEvent{What: what("approve")}, true
	case workflow.ActionReject:
		return subjectEvent{What: what("reject"), Text: e.Message}, true
	case workflow.ActionComplete:
		return subjectEvent{What: what("complete"), Text: e.Message}, true
	case workflow.ActionExtend:
		return subjectEvent{What: what("extend"), Text: e.Reason}, true
	case workflow.ActionWithdraw:
		return subjectEvent{What: what("withdraw"), FromThem: true}, true
	case workflow.ActionAppeal:
		return subjectEvent{What: what("appeal"), Text: e.Message, FromThem: true}, true
	case workflow.ActionGrantAppeal:
		return subjectEvent{What: what("grant_appeal"), Text: e.Reason}, true
	case workflow.ActionDenyAppeal:
		return subjectEvent{What: what("deny_appeal"), Text: e.Reason}, true
	case workflow.ActionExpire:
		return subjectEvent{What: what("expire")}, true
	case service.ActionAttach:
		return subjectEvent{What: what("attach"), Text: e.Message, FromThem: true}, true
	}
	return subjectEvent{}, false
}

// statusProblem explains a status link that does not work.
func (h *Handler) statusProblem(c *gin.Context, err error) {
	// The switcher leads home: a link that does not work is not repeated
	// (every unknown token gets the same page, SECURITY.md).
	c.Set(langReturnKey, "/")
	he := asHTTPError(err)
	if he.Status >= 500 {
		h.fail(c, err)
		return
	}
	l := h.loc(c)
	msg := l.T("status.link_invalid")
	if errors.Is(err, service.ErrTokenSpent) || errors.Is(err, service.ErrTokenExpired) {
		msg = l.T("status.link_gone")
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
	_, err := h.svc.ProvideInfo(c.Request.Context(), token, f.Message, h.language(c))
	var ve *service.ValidationError
	var we *workflow.Error
	switch {
	case errors.As(err, &ve):
		h.renderStatus(c, http.StatusUnprocessableEntity, token, ve.Fields["message"], f.Message)
		return
	case errors.As(err, &we) && we.Kind == workflow.ErrInvalid:
		h.renderStatus(c, http.StatusUnprocessableEntity, token, h.loc(c).T("status.write_answer"), f.Message)
		return
	case errors.As(err, &we), errors.Is(err, models.ErrConflict):
		h.renderStatus(c, http.StatusConflict, token, h.loc(c).T("status.not_awaiting"), f.Message)
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
	l := h.loc(c)
	h.render(c, http.StatusOK, "withdraw", l.T("withdraw.title"), map[string]any{
		"R": req, "Token": c.Param("token"), "CanWithdraw": canWithdraw(workflow.State(req.Status)),
		"TypeTitle": l.T("type." + req.Type + ".title"),
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
		c.Set(langReturnKey, "/status/"+url.PathEscape(token)+"/withdraw")
		h.fail(c, invalid(map[string]string{"confirm": h.loc(c).T("withdraw.tick")}))
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

func appealBy(l *i18n.Localizer, r *models.Request, loc *time.Location) string {
	if r.AppealBy == nil {
		return ""
	}
	return l.Date(r.AppealBy.In(loc))
}

// appealRequest is the subject's appeal against a rejection.
func (h *Handler) appealRequest(c *gin.Context) {
	token, f, ok := h.readAnswer(c)
	if !ok {
		return
	}
	_, err := h.svc.Appeal(c.Request.Context(), token, f.Message, h.language(c))
	var ve *service.ValidationError
	var we *workflow.Error
	switch {
	case errors.As(err, &ve):
		// Beside the appeal's field, with what the subject wrote kept.
		h.renderStatusWith(c, http.StatusUnprocessableEntity, token, map[string]any{
			"AppealError": ve.Fields["message"], "Appeal": f.Message})
		return
	case errors.As(err, &we):
		why := "status.no_appeal"
		if strings.HasPrefix(we.Msg, "the appeal window closed") {
			why = "status.appeal_closed"
		}
		h.renderStatus(c, http.StatusConflict, token, h.loc(c).T(why), "")
		return
	case errors.Is(err, models.ErrConflict):
		h.renderStatus(c, http.StatusConflict, token, h.loc(c).T("status.changed"), "")
		return
	case err != nil:
		h.statusProblem(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/status/"+url.PathEscape(token)+"?done=appeal")
}
