package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/service"
	"rightsportal/workflow"
)

// httpError is an error with what the client may see: a status, a stable
// code, a message safe to show and, for invalid input, one message per
// field. The internal error behind it is logged, never shown.
type httpError struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *httpError) Error() string { return e.Code + ": " + e.Message }

var (
	errNotFound     = &httpError{http.StatusNotFound, "not_found", "There is nothing at this address.", nil}
	errMethod       = &httpError{http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept that method.", nil}
	errUnauthorized = &httpError{http.StatusUnauthorized, "unauthorized", "A valid API token is required (Authorization: Bearer <token>).", nil}
	errTooLarge     = &httpError{http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.", nil}
	errInternal     = &httpError{http.StatusInternalServerError, "internal", "Something went wrong on our side. Nothing was changed; please try again later.", nil}
	errUnavailable  = &httpError{http.StatusServiceUnavailable, "unavailable", "The service is busy or unavailable. Nothing was changed; please try again in a moment.", nil}
)

// msgUnreadable is the answer to a form that could not be parsed.
const msgUnreadable = "The form could not be read. Please go back and send it again."

// pageMessages are the catalog keys of the safe messages a public page
// may show, by their English text: the error page shows them in the
// visitor's language. JSON keeps the English text (SPEC §7's stable
// codes and messages); a message not listed shows as it is.
var pageMessages = map[string]string{
	errNotFound.Message:    "error.not_found",
	errMethod.Message:      "error.method",
	errTooLarge.Message:    "error.too_large",
	errInternal.Message:    "error.internal",
	errUnavailable.Message: "error.unavailable",
	msgUnreadable:          "error.unreadable",
	msgInvalid:             "error.invalid",
	msgTokenInvalid:        "error.token_invalid",
	msgTokenUsed:           "error.token_used",
	msgTokenExpired:        "error.token_expired",
	msgConflict:            "error.conflict",
}

const (
	msgInvalid      = "Some fields are not valid."
	msgTokenInvalid = "This link or code is not valid. Check that you copied all of it."
	msgTokenUsed    = "This link or code was already used."
	msgTokenExpired = "This link or code has expired."
	msgConflict     = "The request was changed by someone else in the meantime. Reload it and try again."
)

func malformed(msg string) *httpError {
	return &httpError{http.StatusBadRequest, "malformed", msg, nil}
}

func invalid(fields map[string]string) *httpError {
	return &httpError{http.StatusUnprocessableEntity, "invalid", msgInvalid, fields}
}

// asHTTPError maps an error from below to what the client is told.
func asHTTPError(err error) *httpError {
	var he *httpError
	var ve *service.ValidationError
	var we *workflow.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &ve):
		return invalid(ve.Fields)
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.As(err, &we):
		return workflowError(we)
	case errors.Is(err, service.ErrTokenInvalid):
		return &httpError{http.StatusNotFound, "invalid_token", msgTokenInvalid, nil}
	case errors.Is(err, service.ErrTokenSpent):
		return &httpError{http.StatusGone, "token_used", msgTokenUsed, nil}
	case errors.Is(err, service.ErrTokenExpired):
		return &httpError{http.StatusGone, "token_expired", msgTokenExpired, nil}
	case errors.Is(err, service.ErrMalformedMail):
		return malformed("The body is not a readable RFC 5322 e-mail message.")
	case errors.Is(err, service.ErrUnauthenticated), errors.Is(err, service.ErrBadCredentials):
		return errUnauthorized
	case errors.Is(err, service.ErrTokenForOther):
		return &httpError{http.StatusForbidden, "forbidden", "Nobody can create an API token in someone else's name: each staff member creates their own on their API tokens page.", nil}
	case errors.Is(err, service.ErrForbidden):
		return &httpError{http.StatusForbidden, "forbidden", "Your role does not allow this.", nil}
	case errors.Is(err, models.ErrBadCursor):
		return invalid(map[string]string{"cursor": "This cursor was not handed out by this API."})
	case errors.Is(err, models.ErrNotFound):
		return errNotFound
	case errors.Is(err, models.ErrConflict):
		return &httpError{http.StatusConflict, "conflict", msgConflict, nil}
	case isBusy(err):
		return errUnavailable
	}
	return errInternal
}

func workflowError(we *workflow.Error) *httpError {
	switch we.Kind {
	case workflow.ErrForbidden:
		return &httpError{http.StatusForbidden, "forbidden", we.Msg, nil}
	case workflow.ErrInvalid:
		return invalid(map[string]string{we.Field: we.Msg})
	case workflow.ErrUnknown:
		return invalid(map[string]string{"action": we.Msg})
	}
	return &httpError{http.StatusConflict, "not_allowed", we.Msg, nil}
}

// isBusy recognises a database that cannot take the write now (locked,
// full): the client gets 503, not 500, and may retry.
func isBusy(err error) bool {
	if errors.Is(err, models.ErrBusy) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "database is locked") || strings.Contains(s, "SQLITE_BUSY") ||
		strings.Contains(s, "database or disk is full") || strings.Contains(s, "disk I/O error")
}

// fail answers with an error: JSON for the API, a page otherwise. The
// real error is logged for 5xx; the client sees only the safe text.
func (h *Handler) fail(c *gin.Context, err error) {
	he := asHTTPError(err)
	if he.Status >= 500 {
		h.log.ErrorContext(c, "request failed", "path", c.FullPath(), "err", err)
	}
	if he.Status == http.StatusTooManyRequests || he.Status == http.StatusServiceUnavailable {
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", "5")
		}
	}
	if wantsJSON(c) {
		writeJSONError(c.Writer, he.Status, he.Code, he.Message, he.Fields)
		c.Abort()
		return
	}
	h.renderError(c, he)
}

func wantsJSON(c *gin.Context) bool {
	return strings.HasPrefix(c.Request.URL.Path, "/api/") || c.Request.URL.Path == "/metrics" ||
		strings.Contains(c.GetHeader("Accept"), "application/json") && !strings.Contains(c.GetHeader("Accept"), "text/html")
}

// writeJSONError writes SPEC §7's error shape.
func writeJSONError(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	body := map[string]any{"code": code, "message": msg}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}
