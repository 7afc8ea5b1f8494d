package handlers

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/models"
	"rightsportal/service"
)

// pendingCookie holds a sign-in that passed the password and waits for
// its second factor. Its path is the sign-in pages only, so the
// workspace never even sees it; and it is no session there either.
const pendingCookie = "portal_pending"

func (h *Handler) setPendingCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: pendingCookie, Value: value, Path: "/staff/login", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(h.cfg.HTTP.BaseURL, "https://")})
}

// enrolledIfRequired keeps staff without a second factor on the
// enrolment page (and sign-out) while staff.require_2fa is on. It
// answers whether the request may go on.
func (h *Handler) enrolledIfRequired(c *gin.Context, st *models.Staff) bool {
	if !h.cfg.Staff.Require2FA {
		return true
	}
	switch c.FullPath() {
	case "/staff/2fa", "/staff/logout":
		return true
	}
	on, err := h.svc.TwoFactorEnabled(c.Request.Context(), st.ID)
	if err != nil {
		h.fail(c, err)
		return false
	}
	if !on {
		c.Redirect(http.StatusSeeOther, "/staff/2fa")
		c.Abort()
		return false
	}
	return true
}

type secondFactorForm struct {
	Code string `form:"code"`
	Next string `form:"next"`
}

// showSecondFactor asks for the code after a correct password.
func (h *Handler) showSecondFactor(c *gin.Context) {
	pending, _ := c.Cookie(pendingCookie)
	if _, err := h.svc.PendingStaff(c.Request.Context(), pending); err != nil {
		if errors.Is(err, service.ErrPendingSignIn) {
			c.Redirect(http.StatusSeeOther, "/staff/login?next="+url.QueryEscape(safeNext(c.Query("next"))))
			return
		}
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "staff_totp_login", "Sign in: code", map[string]any{"Next": safeNext(c.Query("next"))})
}

// checkSecondFactor completes a sign-in with a TOTP or recovery code.
// Wrong codes count towards the same lock as wrong passwords.
func (h *Handler) checkSecondFactor(c *gin.Context) {
	limitBody(c, 4<<10)
	var f secondFactorForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	pending, _ := c.Cookie(pendingCookie)
	old, _ := c.Cookie(sessionCookie)
	res, err := h.svc.SecondFactor(c.Request.Context(), pending, f.Code, clientKey(c), old)
	var locked *service.LockedError
	switch {
	case errors.As(err, &locked):
		h.render(c, http.StatusTooManyRequests, "staff_totp_login", "Sign in: code", map[string]any{
			"Next": safeNext(f.Next), "Error": lockedMessage(c, locked)})
		return
	case errors.Is(err, service.ErrSecondFactorWrong):
		h.render(c, http.StatusUnauthorized, "staff_totp_login", "Sign in: code", map[string]any{
			"Next": safeNext(f.Next), "Error": "The code is wrong or was used already. Wait for the next code from your app, or use a recovery code."})
		return
	case errors.Is(err, service.ErrPendingSignIn):
		h.setPendingCookie(c, "", -1)
		h.render(c, http.StatusUnauthorized, "staff_login", "Sign in", map[string]any{
			"Next": safeNext(f.Next), "Error": "Your sign-in timed out. Sign in again."})
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.setPendingCookie(c, "", -1)
	h.setSessionCookie(c, res.Session, int(h.cfg.Staff.SessionAbsolute.D().Seconds()))
	c.Redirect(http.StatusSeeOther, safeNext(f.Next))
}

// showTwoFactor is the staff member's own two-step sign-in page:
// enrolment (QR code and otpauth URI) or, once on, its state.
func (h *Handler) showTwoFactor(c *gin.Context) {
	h.renderTwoFactor(c, http.StatusOK, "")
}

func (h *Handler) renderTwoFactor(c *gin.Context, status int, problem string) {
	st := staffOf(c)
	ctx := c.Request.Context()
	data := map[string]any{"Required": h.cfg.Staff.Require2FA, "Error": problem}
	on, err := h.svc.TwoFactorEnabled(ctx, st.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	if on {
		left, err := h.svc.RecoveryCodesLeft(ctx, st.ID)
		if err != nil {
			h.fail(c, err)
			return
		}
		data["Enabled"], data["CodesLeft"] = true, left
	} else {
		e, err := h.svc.BeginTwoFactor(ctx, st)
		if err != nil {
			h.fail(c, err)
			return
		}
		data["URI"] = e.URI
		// A data: URI (the CSP allows img-src data:) keeps the secret off
		// any URL a proxy or a log could record.
		data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR))
	}
	h.render(c, status, "staff_totp", "Two-step sign-in", h.staffPage(c, data))
}

type confirmTwoFactorForm struct {
	Code string `form:"code"`
}

// confirmTwoFactor switches two-step sign-in on with the first code from
// the app, and shows the recovery codes, once.
func (h *Handler) confirmTwoFactor(c *gin.Context) {
	limitBody(c, 4<<10)
	var f confirmTwoFactorForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	codes, err := h.svc.ConfirmTwoFactor(c.Request.Context(), staffOf(c), f.Code)
	switch {
	case errors.Is(err, service.ErrSecondFactorWrong):
		h.renderTwoFactor(c, http.StatusUnprocessableEntity, "That code is not right. Check that the app shows the portal you just added, and type its current code.")
		return
	case errors.Is(err, service.ErrTwoFactorOn):
		c.Redirect(http.StatusSeeOther, "/staff/2fa")
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "staff_totp", "Two-step sign-in", h.staffPage(c, map[string]any{
		"Enabled": true, "Codes": codes, "CodesLeft": len(codes)}))
}

// resetTwoFactor lets an admin remove a staff member's second factor
// (a lost phone); their sessions end.
func (h *Handler) resetTwoFactor(c *gin.Context) {
	limitBody(c, 4<<10)
	err := h.svc.ResetTwoFactor(c.Request.Context(), staffOf(c), c.Param("id"))
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		h.renderAdmin(c, http.StatusUnprocessableEntity, ve.Fields, "", "")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/admin")
}

// twoFactorStates says, per staff id, who has two-step sign-in on, for
// the admin page.
func (h *Handler) twoFactorStates(c *gin.Context) map[string]bool {
	on, err := h.store.TOTPEnabled(c.Request.Context())
	if err != nil {
		h.log.WarnContext(c, "could not read two-step sign-in states", "err", err)
	}
	return on
}
