package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"rightsportal/service"
)

// actionBody is SPEC §7's POST /api/v1/requests/{id}/actions. Assignee
// is our addition: whom start_review (or the "assign" action) gives the
// request to.
type actionBody struct {
	Action   string `json:"action"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	Version  int    `json:"version"`
	Assignee string `json:"assignee"`
}

// apiAct carries out a staff action and answers with the updated request.
func (h *Handler) apiAct(c *gin.Context) {
	var b actionBody
	if err := decodeJSON(c, h.cfg.HTTP.MaxBodyBytes, &b); err != nil {
		h.fail(c, err)
		return
	}
	if b.Action == "" {
		h.fail(c, invalid(map[string]string{"action": "is required"}))
		return
	}
	var err error
	if b.Action == service.ActionAssign {
		_, err = h.svc.Assign(c.Request.Context(), staffOf(c), c.Param("id"), b.Assignee, b.Version)
	} else {
		_, err = h.svc.Act(c.Request.Context(), staffOf(c), c.Param("id"), service.ActInput{Action: b.Action, Reason: b.Reason,
			Message: b.Message, Version: b.Version, Assignee: b.Assignee})
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	r, err := h.store.Request(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.viewRequest(r, h.staffNames(c)))
}

type noteBody struct {
	Body string `json:"body"`
}

// apiAddNote stores an internal note.
func (h *Handler) apiAddNote(c *gin.Context) {
	var b noteBody
	if err := decodeJSON(c, h.cfg.HTTP.MaxBodyBytes, &b); err != nil {
		h.fail(c, err)
		return
	}
	n, err := h.svc.AddNote(c.Request.Context(), staffOf(c), c.Param("id"), b.Body)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": n.ID, "request_id": n.RequestID, "body": n.Body,
		"author": staffOf(c).Email, "created_at": n.CreatedAt})
}
