package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/models"
	"rightsportal/service"
)

// showAdmin lists staff and API tokens, with the forms to manage them.
func (h *Handler) showAdmin(c *gin.Context) {
	h.renderAdmin(c, http.StatusOK, nil, "", "")
}

func (h *Handler) renderAdmin(c *gin.Context, status int, errs map[string]string, newToken, notice string) {
	staff, err := h.store.AllStaff(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	toks, err := h.store.APITokens(c.Request.Context(), "")
	if err != nil {
		h.fail(c, err)
		return
	}
	hooks, err := h.webhookRows(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, status, "staff_admin", "Staff and tokens", h.staffPage(c, map[string]any{
		"Staff": staff, "Tokens": tokenRows(toks, h.staffNames(c), h.now()), "Errors": errs, "NewToken": newToken, "Notice": notice, "TwoFactor": h.twoFactorStates(c),
		"Form":     map[string]string{"email": c.PostForm("email"), "name": c.PostForm("name"), "role": c.PostForm("role")},
		"Webhooks": hooks, "HookEvents": models.HookEvents(), "HookForm": hookForm(c),
	}))
}

type addStaffForm struct {
	Email    string `form:"email"`
	Name     string `form:"name"`
	Role     string `form:"role"`
	Password string `form:"password"`
}

// addStaff creates an account from the admin page. Without a password one
// is generated and shown once.
func (h *Handler) addStaff(c *gin.Context) {
	limitBody(c, 8<<10)
	var f addStaffForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	password, generated := f.Password, false
	if password == "" {
		password, generated = service.GeneratePassword(), true
	}
	st, err := h.svc.AdminAddStaff(c.Request.Context(), staffOf(c), f.Email, f.Name, f.Role, password)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		h.renderAdmin(c, http.StatusUnprocessableEntity, ve.Fields, "", "")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	notice := "Added " + st.Email + "."
	if generated {
		notice += " Their password, shown only now: " + password
	}
	h.renderAdmin(c, http.StatusOK, nil, "", notice)
}

// changeStaff sets the role or disables/enables an account.
func (h *Handler) changeStaff(c *gin.Context) {
	limitBody(c, 4<<10)
	id := c.Param("id")
	var err error
	switch c.PostForm("change") {
	case "role":
		err = h.svc.SetRole(c.Request.Context(), staffOf(c), id, c.PostForm("role"))
	case "disable":
		err = h.svc.SetDisabled(c.Request.Context(), staffOf(c), id, true)
	case "enable":
		err = h.svc.SetDisabled(c.Request.Context(), staffOf(c), id, false)
	default:
		err = &httpError{http.StatusUnprocessableEntity, "invalid", "Say what to change.", map[string]string{"change": "must be role, disable or enable"}}
	}
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

// createToken is the admin page's old way to issue tokens. An admin
// creates their own token here as anyone does on /staff/tokens; a
// staff_id naming someone else is refused (403) and nothing is created.
func (h *Handler) createToken(c *gin.Context) {
	limitBody(c, 4<<10)
	tok, err := h.svc.CreateOwnAPIToken(c.Request.Context(), staffOf(c), c.PostForm("staff_id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderAdmin(c, http.StatusOK, nil, tok, "")
}

// revokeToken stops anyone's API token.
func (h *Handler) revokeToken(c *gin.Context) {
	if h.revokeTokenParam(c) {
		c.Redirect(http.StatusSeeOther, "/staff/admin")
	}
}
