package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"rightsportal/service"
)

// maxCallbackBytes caps a processor's callback: an OpenDSR status is a
// few hundred bytes.
const maxCallbackBytes = 64 << 10

// openDSRCallback takes a processor's status callback (OpenDSR): the raw
// body and the signature go below unread; the service checks the
// signature before it parses anything. The answer is 202, as OpenDSR
// asks, once the callback is verified and about a request of ours.
func (h *Handler) openDSRCallback(c *gin.Context) {
	limitBody(c, maxCallbackBytes)
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(c, errTooLarge)
			return
		}
		h.fail(c, malformed("The request body could not be read."))
		return
	}
	sig := c.GetHeader("X-OpenDSR-Signature")
	if sig == "" {
		sig = c.GetHeader("X-OpenGDPR-Signature") // OpenDSR's older name, still honoured
	}
	res, err := h.svc.OpenDSRCallback(c.Request.Context(), service.OpenDSRCallbackInput{
		System: c.Param("system"), ID: c.Param("id"), Signature: sig, Body: body})
	if err != nil {
		h.fail(c, callbackError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"subject_request_id": res.SubjectRequestID, "request_status": res.RequestStatus,
		"task_state": res.TaskState})
}

// callbackError says why a callback was refused, in words a processor's
// operator can act on.
func callbackError(err error) error {
	switch {
	case errors.Is(err, service.ErrCallbackUnsigned):
		return &httpError{http.StatusUnauthorized, "unsigned", "The callback has no X-OpenDSR-Signature header.", nil}
	case errors.Is(err, service.ErrCallbackSignature):
		return &httpError{http.StatusForbidden, "bad_signature", "The X-OpenDSR-Signature does not verify with the processor's certificate. Nothing was changed.", nil}
	case errors.Is(err, service.ErrCallbackUnknown):
		return &httpError{http.StatusNotFound, "unknown_request", "There is no OpenDSR request of this processor at this address.", nil}
	case errors.Is(err, service.ErrCallbackMismatch):
		why := "it is about another request"
		var m *service.CallbackMismatch
		if errors.As(err, &m) {
			why = m.Why
		}
		return &httpError{http.StatusConflict, "mismatch", "The callback does not belong at this address: " + why + ". Nothing was changed.", nil}
	case errors.Is(err, service.ErrCallbackBody):
		return &httpError{http.StatusUnprocessableEntity, "invalid", "The body is not an OpenDSR status: it needs subject_request_id and a request_status of pending, in_progress, completed or cancelled.", nil}
	}
	return err
}
