package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/i18n"
)

// langCookie remembers the language a visitor picked in the switcher.
const langCookie = "portal_lang"

// langKey is where the language of the current request is kept on the
// gin context; langReturnKey, when a handler sets it, is the page the
// switcher should lead back to (for a page answered to a POST).
const (
	langKey       = "lang"
	langReturnKey = "lang_return"
)

// chooseLanguage picks the visitor's language, in this order: the `lang`
// parameter (what the switcher's links carry), the choice the visitor
// made before (a cookie the parameter sets), the browser's
// Accept-Language, the configured default. An unknown `lang` is ignored
// rather than refused: an old link must still open its page.
func (h *Handler) chooseLanguage(c *gin.Context) {
	cat := h.pages.cat
	lang := ""
	// Read from the URL, not c.Query: gin caches the query on first use,
	// and a handler that rewrites its query (the queue's default status)
	// must still see its own rewrite.
	if q := c.Request.URL.Query().Get("lang"); q != "" {
		if lang = cat.Canonical(q); lang != "" {
			http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(h.cfg.HTTP.BaseURL, "https://")})
		}
	}
	if lang == "" {
		if ck, err := c.Cookie(langCookie); err == nil {
			lang = cat.Canonical(ck)
		}
	}
	if lang == "" {
		lang = cat.Negotiate(c.GetHeader("Accept-Language"))
	}
	c.Set(langKey, lang)
	c.Writer.Header().Add("Vary", "Accept-Language")
	c.Next()
}

// language is the current request's language (the default outside the
// public pages' middleware).
func (h *Handler) language(c *gin.Context) string {
	if l := c.GetString(langKey); l != "" {
		return l
	}
	return h.pages.cat.Default()
}

// loc is the current request's localizer.
func (h *Handler) loc(c *gin.Context) *i18n.Localizer { return h.pages.cat.For(h.language(c)) }

// langLink is one entry of the language switcher.
type langLink struct {
	Code, Name, URL string
	Current         bool
}

// switcher links every configured language to the page the visitor is
// on, its other query parameters kept, so that switching never loses
// the place. A page answered to a POST links to the page a handler
// named, or to its own path.
func (h *Handler) switcher(c *gin.Context) []langLink {
	cur := h.language(c)
	base := c.Request.URL.Path
	q := url.Values{}
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		q = c.Request.URL.Query()
	}
	if r := c.GetString(langReturnKey); r != "" {
		if u, err := url.Parse(r); err == nil {
			base, q = u.Path, u.Query()
		}
	}
	var out []langLink
	for _, l := range h.pages.cat.Languages() {
		q.Set("lang", l)
		out = append(out, langLink{Code: l, Name: i18n.Names[l], URL: base + "?" + q.Encode(), Current: l == cur})
	}
	return out
}
