package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"rightsportal/service"
)

// bulkBody is POST /api/v1/requests/bulk.
type bulkBody struct {
	Action   string             `json:"action"`
	Reason   string             `json:"reason"`
	Message  string             `json:"message"`
	Assignee string             `json:"assignee"`
	Requests []service.BulkItem `json:"requests"`
}

// bulkBodyLimit holds the most requests a call may name with a long
// message besides: bigger than one action's body, still bounded.
const bulkBodyLimit = 256 << 10

// apiBulk does one action on many requests, each on its own: 200 with
// what happened to each, or 422 (and nothing done) when the call itself
// is wrong.
func (h *Handler) apiBulk(c *gin.Context) {
	var b bulkBody
	if err := decodeJSON(c, bulkBodyLimit, &b); err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.svc.Bulk(c.Request.Context(), staffOf(c), service.BulkInput{Action: b.Action, Reason: b.Reason,
		Message: b.Message, Assignee: b.Assignee, Items: b.Requests})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.logBulkFailures(c, res)
	c.JSON(http.StatusOK, gin.H{"results": res, "summary": bulkSummary(res)})
}

// bulkSummaryText says the counts in words, most common first order of
// the outcomes: "48 done, 2 changed meanwhile".
func bulkSummaryText(res []service.BulkResult) string {
	n := bulkSummary(res)
	var parts []string
	for _, o := range []string{service.BulkDone, service.BulkStale, service.BulkNotAllowed, service.BulkInvalid,
		service.BulkNotFound, service.BulkBusy, service.BulkFailed} {
		if n[o] > 0 {
			parts = append(parts, strconv.Itoa(n[o])+" "+outcomeLabel(o))
		}
	}
	return strings.Join(parts, ", ")
}

func bulkSummary(res []service.BulkResult) map[string]int {
	out := map[string]int{}
	for _, r := range res {
		out[r.Outcome]++
	}
	return out
}

func (h *Handler) logBulkFailures(c *gin.Context, res []service.BulkResult) {
	for _, r := range res {
		if r.Err != nil {
			h.log.ErrorContext(c, "bulk action failed", "request", r.ID, "err", r.Err)
		}
	}
}

// bulkForm is the queue page's bulk form. Each ticked box carries
// "id:version", so the version a decision was made on travels with the
// choice, without any script.
type bulkForm struct {
	Selected []string `form:"selected"`
	Action   string   `form:"bulk_action"`
	Reason   string   `form:"bulk_reason"`
	Message  string   `form:"bulk_message"`
	Assignee string   `form:"bulk_assignee"`
}

// bulkFromQueue applies the bulk form, then shows the queue again (with
// the filters of the address) and what happened to each request above
// it. A second submission of the same form changes nothing: every
// version in it is stale by then.
func (h *Handler) bulkFromQueue(c *gin.Context) {
	limitBody(c, bulkBodyLimit)
	var f bulkForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	items := make([]service.BulkItem, 0, len(f.Selected))
	for _, s := range f.Selected {
		id, v, _ := strings.Cut(s, ":")
		n, _ := strconv.Atoi(v)
		items = append(items, service.BulkItem{ID: id, Version: n})
	}
	res, err := h.svc.Bulk(c.Request.Context(), staffOf(c), service.BulkInput{Action: f.Action, Reason: f.Reason,
		Message: f.Message, Assignee: f.Assignee, Items: items})
	if err != nil {
		he := asHTTPError(err)
		if he.Status != http.StatusUnprocessableEntity {
			h.fail(c, err)
			return
		}
		fields := map[string]string{}
		for k, v := range he.Fields {
			fields["bulk_"+k] = v
		}
		h.queueWith(c, http.StatusUnprocessableEntity, queueExtras{BulkErrors: fields, Bulk: &f})
		return
	}
	h.logBulkFailures(c, res)
	h.queueWith(c, http.StatusOK, queueExtras{Results: res})
}

// closeDuplicate closes a flagged duplicate from its file in one click.
func (h *Handler) closeDuplicate(c *gin.Context) {
	limitBody(c, 8<<10)
	var f actionForm
	if err := c.ShouldBindWith(&f, binding.Form); err != nil {
		h.fail(c, formError(err))
		return
	}
	id := c.Param("id")
	if _, err := h.svc.CloseDuplicate(c.Request.Context(), staffOf(c), id, f.Version); err != nil {
		h.refuseOnFile(c, id, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/requests/"+url.PathEscape(id)+"?done=closed+as+duplicate")
}

// bulkLabel says a bulk action in the words of the queue page.
func bulkLabel(a string) string {
	switch a {
	case service.BulkAssign:
		return "Assign"
	case service.BulkStartReview:
		return "Start review"
	case service.BulkApprove:
		return "Approve (counts as your approval on each)"
	case service.BulkReject:
		return "Reject with a reason"
	case service.BulkDuplicate:
		return "Close flagged duplicates"
	}
	return a
}

// outcomeLabel says what happened to a request in plain words.
func outcomeLabel(o string) string {
	switch o {
	case service.BulkDone:
		return "done"
	case service.BulkStale:
		return "changed meanwhile"
	case service.BulkNotAllowed:
		return "not allowed"
	case service.BulkNotFound:
		return "not found"
	case service.BulkInvalid:
		return "incomplete"
	case service.BulkBusy:
		return "busy, try again"
	}
	return "failed"
}

// bulkFieldLabel names a field of the bulk form in an error summary.
func bulkFieldLabel(k string) string {
	switch k {
	case "bulk_action":
		return "Action"
	case "bulk_assignee":
		return "Assign to"
	case "bulk_reason":
		return "Reason"
	case "bulk_message":
		return "Message"
	case "bulk_requests":
		return "Selection"
	}
	return k
}
