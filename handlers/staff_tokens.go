package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/service"
)

// tokenRow is an API token as the token pages list it (never the value):
// whose it is and who made it.
type tokenRow struct {
	models.APIToken
	Owner     string
	CreatedBy string
	Expired   bool
}

// tokenRows names each token's owner and creator.
func tokenRows(toks []models.APIToken, names staffNames, now time.Time) []tokenRow {
	rows := make([]tokenRow, 0, len(toks))
	for _, t := range toks {
		by := "not recorded" // made before creators were recorded
		switch t.CreatedByKind {
		case service.ActorOperator:
			by = "operator (command line)"
		case "staff":
			by = names.name(t.CreatedBy)
		}
		rows = append(rows, tokenRow{APIToken: t, Owner: names.name(t.StaffID), CreatedBy: by,
			Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)})
	}
	return rows
}

// showTokens is a staff member's own API tokens, with the forms to make
// and revoke them. Any staff member, reviewer or admin, has one.
func (h *Handler) showTokens(c *gin.Context) {
	h.renderTokens(c, http.StatusOK, "", nil)
}

func (h *Handler) renderTokens(c *gin.Context, status int, newToken string, errs map[string]string) {
	toks, err := h.store.APITokens(c.Request.Context(), staffOf(c).ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, status, "staff_tokens", "Your API tokens", h.staffPage(c, map[string]any{
		"Tokens": tokenRows(toks, h.staffNames(c), h.now()), "NewToken": newToken,
		"Scopes": service.AllScopes(), "Errors": errs, "Picked": c.PostFormArray("scope"), "Expires": c.PostForm("expires"),
	}))
}

// createOwnToken issues the signed-in staff member a token and shows it
// once.
func (h *Handler) createOwnToken(c *gin.Context) {
	limitBody(c, 4<<10)
	until, err := h.svc.ParseTokenExpiry(c.PostForm("expires"))
	var tok string
	if err == nil {
		tok, err = h.svc.CreateOwnAPIToken(c.Request.Context(), staffOf(c), c.PostForm("staff_id"),
			service.TokenOptions{Scopes: c.PostFormArray("scope"), ExpiresAt: until})
	}
	if err != nil {
		if he := asHTTPError(err); he.Status == http.StatusUnprocessableEntity {
			h.renderTokens(c, he.Status, "", he.Fields)
			return
		}
		h.fail(c, err)
		return
	}
	h.renderTokens(c, http.StatusOK, tok, nil)
}

// revokeOwnToken stops one of the staff member's own tokens.
func (h *Handler) revokeOwnToken(c *gin.Context) {
	if h.revokeTokenParam(c) {
		c.Redirect(http.StatusSeeOther, "/staff/tokens")
	}
}

// revokeTokenParam revokes the token of the :id parameter as the
// signed-in staff member, answering the error when it cannot.
func (h *Handler) revokeTokenParam(c *gin.Context) bool {
	limitBody(c, 4<<10)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		h.fail(c, errNotFound)
		return false
	}
	if err := h.svc.RevokeAPIToken(c.Request.Context(), staffOf(c), id); err != nil {
		h.fail(c, err)
		return false
	}
	return true
}

// scopeHelp says what a token scope lets a program do.
func scopeHelp(scope string) string {
	switch scope {
	case service.ScopeRequestsRead:
		return "read the queue and requests"
	case service.ScopeRequestsWrite:
		return "act on requests, add notes, decide tasks"
	case service.ScopeReportsRead:
		return "read reports"
	case service.ScopeAdmin:
		return "admin endpoints such as /metrics"
	}
	return ""
}
