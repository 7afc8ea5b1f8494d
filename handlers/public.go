package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"sort"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/i18n"
	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// typeInfo describes a right for the home page and the form.
type typeInfo struct {
	Code    workflow.RequestType
	Title   string
	Explain string
}

// typeInfos lists the rights in the visitor's language.
func typeInfos(l *i18n.Localizer) []typeInfo {
	var out []typeInfo
	for _, t := range workflow.RequestTypes() {
		out = append(out, typeInfo{t, l.T("type." + string(t) + ".title"), l.T("type." + string(t) + ".explain")})
	}
	return out
}

func (h *Handler) showHome(c *gin.Context) {
	l := h.loc(c)
	h.render(c, http.StatusOK, "home", l.T("home.title"), map[string]any{"Types": typeInfos(l)})
}

// requestForm is the public form, for every type; fields a type does not
// use are ignored by the service.
type requestForm struct {
	Type            string `form:"type"`
	FullName        string `form:"full_name"`
	Email           string `form:"email"`
	Jurisdiction    string `form:"jurisdiction"`
	Description     string `form:"description"`
	Inaccurate      string `form:"inaccurate"`
	Correction      string `form:"correction"`
	Ground          string `form:"ground"`
	DirectMarketing bool   `form:"direct_marketing"`
	Grounds         string `form:"grounds"`
	Consent         string `form:"consent"`
}

func (f requestForm) details() workflow.Details {
	return workflow.Details{Description: f.Description, Inaccurate: f.Inaccurate, Correction: f.Correction,
		Ground: f.Ground, DirectMarketing: f.DirectMarketing, Grounds: f.Grounds, Consent: f.Consent}
}

type jurisdictionOption struct{ Code, Label string }

type fieldError struct{ ID, Msg string }

// showRequestForm shows the chooser, or the form for ?type=.
func (h *Handler) showRequestForm(c *gin.Context) {
	t := workflow.RequestType(c.Query("type"))
	if !t.Valid() {
		l := h.loc(c)
		h.render(c, http.StatusOK, "choose", l.T("choose.title"), map[string]any{"Types": typeInfos(l)})
		return
	}
	h.renderForm(c, http.StatusOK, requestForm{Type: string(t), Jurisdiction: h.cfg.Jurisdictions.Default}, nil)
}

func (h *Handler) renderForm(c *gin.Context, status int, f requestForm, errs map[string]string) {
	t := workflow.RequestType(f.Type)
	l := h.loc(c)
	if c.Request.Method == http.MethodPost {
		// The switcher leads to the empty form: what was typed is not
		// carried over into a link.
		c.Set(langReturnKey, "/request?type="+url.QueryEscape(f.Type))
	}
	var opts []jurisdictionOption
	for _, code := range h.cfg.Jurisdictions.Order {
		if p := h.cfg.Policy(code); p.Allows(t) {
			// A law an operator added has no catalog entry: its label.
			opts = append(opts, jurisdictionOption{code, l.Or("law."+code+".live_in", l.T("law.live_in_other", "Label", p.Label))})
		}
	}
	var grounds []jurisdictionOption
	for _, g := range workflow.RestrictionGrounds() {
		grounds = append(grounds, jurisdictionOption{g, l.T("form.ground." + g)})
	}
	h.render(c, status, "request_form", l.T("type."+string(t)+".title"), map[string]any{
		"Type": t, "Explain": l.T("type." + string(t) + ".explain"), "Form": f, "Errors": errs, "ErrorList": errorList(errs),
		"Jurisdictions": opts, "Grounds": grounds, "AttachHint": h.svc.AttachmentLimits(l.Lang()),
	})
}

// errorList orders field errors for the summary, each linking to its
// field.
func errorList(errs map[string]string) []fieldError {
	ids := map[string]string{"details.inaccurate": "inaccurate", "details.correction": "correction",
		"details.ground": "ground-contested_accuracy", "details.grounds": "grounds", "details.consent": "consent",
		"details.description": "description", "type": "type-error"}
	order := map[string]int{"full_name": 0, "email": 1, "jurisdiction": 2, "type": 3}
	var out []fieldError
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := order[keys[i]]
		oj, jok := order[keys[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		id := ids[k]
		if id == "" {
			id = k
		}
		out = append(out, fieldError{id, errs[k]})
	}
	return out
}

// submitRequest files the form: 422 with the errors beside the fields,
// or 303 to the "check your mailbox" page.
func (h *Handler) submitRequest(c *gin.Context) {
	f, up, ok := h.readRequestForm(c)
	if !ok {
		return
	}
	defer up.Discard() // unless the request was filed with them
	if !workflow.RequestType(f.Type).Valid() {
		h.fail(c, invalid(map[string]string{"type": h.loc(c).T("check.choose_type")}))
		return
	}
	_, err := h.svc.Submit(c.Request.Context(), service.SubmitInput{Type: f.Type, Email: f.Email, FullName: f.FullName,
		Jurisdiction: f.Jurisdiction, Details: f.details(), Language: h.language(c), Admit: h.admitEmail(c), Attachments: up})
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		h.renderForm(c, http.StatusUnprocessableEntity, f, reattach(h.loc(c), ve.Fields, up))
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/request/sent")
}

// formError sorts a form that could not be parsed: too large, or not a
// form at all.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	// err's text is Go's, not for the subject's eyes (STYLE §5).
	return malformed(msgUnreadable)
}

func (h *Handler) showSent(c *gin.Context) {
	l := h.loc(c)
	w := h.cfg.Verification.Window.D()
	h.render(c, http.StatusOK, "sent", l.T("sent.title"), map[string]any{"Window": humanHours(l, w.Hours())})
}

// showVerify is the page behind the link in the verification mail. It
// changes nothing, so that mail scanners that fetch links verify nothing:
// only the button's POST confirms.
func (h *Handler) showVerify(c *gin.Context) {
	l := h.loc(c)
	token := c.Query("token")
	req, err := h.svc.CheckVerifyToken(c.Request.Context(), token)
	data := map[string]any{"Token": token}
	if err != nil {
		he := asHTTPError(err)
		if he.Status >= 500 {
			h.fail(c, err)
			return
		}
		data["Problem"], data["ProblemTitle"] = verifyProblem(l, err)
		h.render(c, he.Status, "verify", l.T("verify.title"), data)
		return
	}
	data["Reference"] = req.Reference
	data["TypeNoun"] = l.T("type." + req.Type + ".noun")
	h.render(c, http.StatusOK, "verify", l.T("verify.title"), data)
}

func verifyProblem(l *i18n.Localizer, err error) (msg, title string) {
	switch {
	case errors.Is(err, service.ErrTokenSpent):
		return l.T("verify.spent"), l.T("verify.spent_title")
	case errors.Is(err, service.ErrTokenExpired):
		return l.T("verify.expired"), l.T("verify.expired_title")
	}
	return l.T("verify.invalid"), l.T("verify.invalid_title")
}

type verifyForm struct {
	Token string `form:"token"`
}

// confirmVerify spends the token and sends the subject to the page with
// the reference and the due date.
func (h *Handler) confirmVerify(c *gin.Context) {
	if req, ok := h.onVerifyLink(c, func(token string) (*models.Request, error) {
		return h.svc.Verify(c.Request.Context(), token, service.ViaLink)
	}); ok {
		c.Redirect(http.StatusSeeOther, "/verified?ref="+url.QueryEscape(req.Reference))
	}
}

// onVerifyLink runs do with the token posted from the verification
// link's page, after the per-address limit; a refusal is shown on that
// page. ok is false when an answer was already written.
func (h *Handler) onVerifyLink(c *gin.Context, do func(token string) (*models.Request, error)) (*models.Request, bool) {
	limitBody(c, 4<<10)
	var f verifyForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return nil, false
	}
	// The switcher leads back to the link's page, which shows the same.
	c.Set(langReturnKey, "/verify?token="+url.QueryEscape(f.Token))
	if !h.takeVerifyEmail(c, f.Token) {
		return nil, false
	}
	req, err := do(f.Token)
	if err != nil {
		he := asHTTPError(err)
		if he.Status >= 500 {
			h.fail(c, err)
			return nil, false
		}
		l := h.loc(c)
		msg, title := verifyProblem(l, err)
		h.render(c, he.Status, "verify", l.T("verify.title"), map[string]any{"Problem": msg, "ProblemTitle": title})
		return nil, false
	}
	return req, true
}

// cancelVerify withdraws an unconfirmed request from its verification
// link's page.
func (h *Handler) cancelVerify(c *gin.Context) {
	if req, ok := h.onVerifyLink(c, func(token string) (*models.Request, error) {
		return h.svc.CancelUnverified(c.Request.Context(), token)
	}); ok {
		c.Set(langReturnKey, "/")
		h.render(c, http.StatusOK, "verify", h.loc(c).T("verify.cancelled_title"), map[string]any{"Cancelled": req.Reference})
	}
}

// showVerified shows the reference and due date of a confirmed request.
// It reveals nothing personal: the type and a date, to whoever holds the
// unguessable reference.
func (h *Handler) showVerified(c *gin.Context) {
	req, err := h.store.RequestByReference(c.Request.Context(), c.Query("ref"))
	if err != nil || req.VerifiedAt == nil {
		h.fail(c, errNotFound)
		return
	}
	l := h.loc(c)
	h.render(c, http.StatusOK, "verified", l.T("verified.title"), map[string]any{
		"Reference": req.Reference, "TypeTitle": l.T("type." + req.Type + ".title"),
		"DueDate": l.Date(req.DueAt.In(h.cfg.Calendar().Loc)),
	})
}

// humanHours writes the verification window: whole days from two days
// on, else hours.
func humanHours(l *i18n.Localizer, h float64) string {
	if h >= 48 && int(h)%24 == 0 {
		return l.Period(0, int(h)/24)
	}
	return l.N("sent.hours", int(h))
}
