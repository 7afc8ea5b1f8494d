package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/models"
	"rightsportal/service"
)

// sessionCookie holds a staff session token.
const sessionCookie = "portal_session"

// setSessionCookie sets the cookie: HttpOnly, SameSite=Lax (links from our
// own mails into the workspace keep working; cross-site posts are refused
// anyway), Secure when the portal is served over https.
func (h *Handler) setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(h.cfg.HTTP.BaseURL, "https://")})
}

// requireStaff admits signed-in staff to the workspace pages and sends
// everyone else to the sign-in page.
func (h *Handler) requireStaff(c *gin.Context) {
	cookie, _ := c.Cookie(sessionCookie)
	st, err := h.svc.SessionStaff(c.Request.Context(), cookie)
	if errors.Is(err, service.ErrUnauthenticated) {
		next := c.Request.URL.RequestURI()
		// A HEAD is answered as its GET would be (headToo).
		if m := c.Request.Method; m != http.MethodGet && m != http.MethodHead {
			next = "/staff"
		}
		c.Redirect(http.StatusSeeOther, "/staff/login?next="+url.QueryEscape(next))
		c.Abort()
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	if !h.enrolledIfRequired(c, st) {
		return
	}
	c.Set(ctxStaff, st)
	c.Next()
}

// requireAdmin admits admins only.
func (h *Handler) requireAdmin(c *gin.Context) {
	if staffOf(c).Role != models.RoleAdmin {
		h.fail(c, service.ErrForbidden)
		return
	}
	c.Next()
}

type loginForm struct {
	Email    string `form:"email"`
	Password string `form:"password"`
	Next     string `form:"next"`
}

func (h *Handler) showLogin(c *gin.Context) {
	h.render(c, http.StatusOK, "staff_login", "Sign in", map[string]any{"Next": safeNext(c.Query("next"))})
}

// signIn checks the password and opens a session. Wrong address and wrong
// password get the same answer; repeated failures lock the account and
// the client for a growing time.
func (h *Handler) signIn(c *gin.Context) {
	limitBody(c, 8<<10)
	var f loginForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	old, _ := c.Cookie(sessionCookie)
	res, err := h.svc.SignIn(c.Request.Context(), f.Email, f.Password, clientKey(c), old)
	var locked *service.LockedError
	switch {
	case errors.As(err, &locked):
		h.render(c, http.StatusTooManyRequests, "staff_login", "Sign in", map[string]any{
			"Next": safeNext(f.Next), "Email": f.Email, "Error": lockedMessage(c, locked)})
		return
	case errors.Is(err, service.ErrBadCredentials):
		h.render(c, http.StatusUnauthorized, "staff_login", "Sign in", map[string]any{
			"Next": safeNext(f.Next), "Email": f.Email, "Error": "The e-mail address or the password is wrong."})
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	if res.Pending != "" {
		// The password was right; the code comes next. No session yet.
		h.setPendingCookie(c, res.Pending, int(service.PendingSignInTTL.Seconds()))
		c.Redirect(http.StatusSeeOther, "/staff/login/2fa?next="+url.QueryEscape(safeNext(f.Next)))
		return
	}
	h.setSessionCookie(c, res.Session, int(h.cfg.Staff.SessionAbsolute.D().Seconds()))
	if res.NeedsEnrolment {
		c.Redirect(http.StatusSeeOther, "/staff/2fa")
		return
	}
	c.Redirect(http.StatusSeeOther, safeNext(f.Next))
}

// lockedMessage sets Retry-After and says how long to wait.
func lockedMessage(c *gin.Context, locked *service.LockedError) string {
	secs := int(math.Ceil(locked.RetryAfter.Seconds()))
	c.Header("Retry-After", strconv.Itoa(secs))
	return "Too many failed attempts. Wait " + humanSeconds(secs) + " and try again."
}

func (h *Handler) signOut(c *gin.Context) {
	cookie, _ := c.Cookie(sessionCookie)
	if err := h.svc.SignOut(c.Request.Context(), cookie); err != nil {
		h.fail(c, err)
		return
	}
	h.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/staff/login")
}

// safeNext keeps redirects after sign-in inside the workspace: only a
// local path under /staff, never another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/staff") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/staff"
}

func humanSeconds(s int) string {
	if s < 90 {
		return strconv.Itoa(s) + " seconds"
	}
	return strconv.Itoa((s+59)/60) + " minutes"
}
