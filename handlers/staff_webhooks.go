package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"rightsportal/models"
	"rightsportal/service"
)

// adminDeliveries is how much of each endpoint's delivery log the admin
// page shows; the API gives up to maxDeliveries.
const (
	adminDeliveries = 10
	maxDeliveries   = 200
)

// webhookJSON is an endpoint as the API shows it (never its secret).
type webhookJSON struct {
	ID              int64      `json:"id"`
	URL             string     `json:"url"`
	Events          []string   `json:"events"`
	IncludePersonal bool       `json:"include_personal"`
	Description     string     `json:"description"`
	SecretPrefix    string     `json:"secret_prefix"`
	Active          bool       `json:"active"`
	CreatedAt       time.Time  `json:"created_at"`
	CreatedBy       string     `json:"created_by"`
	DisabledAt      *time.Time `json:"disabled_at"`
	// Secret is set once, in the answer to the registration.
	Secret string `json:"secret,omitempty"`
}

func endpointJSON(e *models.WebhookEndpoint) webhookJSON {
	return webhookJSON{ID: e.ID, URL: e.URL, Events: e.EventList(), IncludePersonal: e.IncludePersonal,
		Description: e.Description, SecretPrefix: e.SecretPrefix, Active: e.DisabledAt == nil,
		CreatedAt: e.CreatedAt.UTC(), CreatedBy: e.CreatedBy, DisabledAt: utcOrNil(e.DisabledAt)}
}

type deliveryJSON struct {
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	RequestID   string     `json:"request_id"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"last_status"`
	LastError   string     `json:"last_error"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
}

func deliveriesJSON(ds []models.WebhookDelivery) []deliveryJSON {
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryJSON{ID: d.ID, Event: d.Event, RequestID: d.RequestID, State: d.State,
			Attempts: d.Attempts, LastStatus: d.LastCode, LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(),
			UpdatedAt: d.UpdatedAt.UTC(), DeliveredAt: utcOrNil(d.DeliveredAt)})
	}
	return out
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type webhookBody struct {
	URL             string   `json:"url"`
	Events          []string `json:"events"`
	IncludePersonal bool     `json:"include_personal"`
	Description     string   `json:"description"`
}

// apiListWebhooks: GET /api/v1/webhooks.
func (h *Handler) apiListWebhooks(c *gin.Context) {
	eps, err := h.svc.WebhookEndpoints(c.Request.Context(), staffOf(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	items := make([]webhookJSON, 0, len(eps))
	for i := range eps {
		items = append(items, endpointJSON(&eps[i]))
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// apiCreateWebhook: POST /api/v1/webhooks. The answer carries the signing
// secret, this once.
func (h *Handler) apiCreateWebhook(c *gin.Context) {
	var b webhookBody
	if err := decodeJSON(c, 8<<10, &b); err != nil {
		h.fail(c, err)
		return
	}
	e, secret, err := h.svc.RegisterWebhook(c.Request.Context(), staffOf(c), service.WebhookInput(b))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := endpointJSON(e)
	out.Secret = secret
	c.Header("Location", "/api/v1/webhooks/"+strconv.FormatInt(e.ID, 10))
	c.JSON(http.StatusCreated, out)
}

// webhookID reads :id; a malformed one is a 404 like an unknown one.
func (h *Handler) webhookID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(c, errNotFound)
		return 0, false
	}
	return id, true
}

// apiDisableWebhook: DELETE /api/v1/webhooks/{id} stops the endpoint (it
// stays listed, with its log, as disabled).
func (h *Handler) apiDisableWebhook(c *gin.Context) {
	id, ok := h.webhookID(c)
	if !ok {
		return
	}
	if err := h.svc.DisableWebhook(c.Request.Context(), staffOf(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// apiWebhookDeliveries: GET /api/v1/webhooks/{id}/deliveries?limit=.
func (h *Handler) apiWebhookDeliveries(c *gin.Context) {
	id, ok := h.webhookID(c)
	if !ok {
		return
	}
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeliveries {
			h.fail(c, invalid(map[string]string{"limit": "must be a whole number from 1 to " + strconv.Itoa(maxDeliveries)}))
			return
		}
		limit = n
	}
	ds, err := h.svc.WebhookDeliveries(c.Request.Context(), staffOf(c), id, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": deliveriesJSON(ds)})
}

// apiRedeliverWebhook: POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver.
func (h *Handler) apiRedeliverWebhook(c *gin.Context) {
	id, ok := h.webhookID(c)
	if !ok {
		return
	}
	if err := h.svc.RedeliverWebhook(c.Request.Context(), staffOf(c), id, c.Param("delivery")); err != nil {
		h.fail(c, webhookError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("delivery"), "state": models.DeliveryPending})
}

func webhookError(err error) error {
	if errors.Is(err, service.ErrEndpointDisabled) {
		return &httpError{http.StatusConflict, "conflict", "The endpoint is disabled: nothing is sent to it any more.", nil}
	}
	return err
}

// endpointRow is one endpoint on the admin page with its recent log.
type endpointRow struct {
	models.WebhookEndpoint
	Deliveries []models.WebhookDelivery
}

// webhookRows reads the endpoints and each one's latest deliveries.
func (h *Handler) webhookRows(c *gin.Context) ([]endpointRow, error) {
	eps, err := h.svc.WebhookEndpoints(c.Request.Context(), staffOf(c))
	if err != nil {
		return nil, err
	}
	rows := make([]endpointRow, 0, len(eps))
	for _, e := range eps {
		ds, err := h.svc.WebhookDeliveries(c.Request.Context(), staffOf(c), e.ID, adminDeliveries)
		if err != nil {
			return nil, err
		}
		rows = append(rows, endpointRow{WebhookEndpoint: e, Deliveries: ds})
	}
	return rows, nil
}

// addWebhook registers an endpoint from the admin page and shows its
// secret once.
func (h *Handler) addWebhook(c *gin.Context) {
	limitBody(c, 8<<10)
	if err := c.Request.ParseForm(); err != nil {
		h.fail(c, formError(err))
		return
	}
	in := service.WebhookInput{URL: c.PostForm("url"), Events: c.PostFormArray("events"),
		IncludePersonal: c.PostForm("include_personal") == "yes", Description: c.PostForm("description")}
	e, secret, err := h.svc.RegisterWebhook(c.Request.Context(), staffOf(c), in)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		h.renderAdmin(c, http.StatusUnprocessableEntity, ve.Fields, "", "")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderAdmin(c, http.StatusOK, nil, "", "Registered endpoint "+strconv.FormatInt(e.ID, 10)+
		" ("+e.URL+"). Its signing secret, shown only now: "+secret)
}

// disableWebhook stops an endpoint from the admin page.
func (h *Handler) disableWebhook(c *gin.Context) {
	id, ok := h.webhookID(c)
	if !ok {
		return
	}
	if err := h.svc.DisableWebhook(c.Request.Context(), staffOf(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/admin#webhook-"+strconv.FormatInt(id, 10))
}

// redeliverWebhook is the delivery log's "Send again".
func (h *Handler) redeliverWebhook(c *gin.Context) {
	id, ok := h.webhookID(c)
	if !ok {
		return
	}
	if err := h.svc.RedeliverWebhook(c.Request.Context(), staffOf(c), id, c.Param("delivery")); err != nil {
		h.fail(c, webhookError(err))
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff/admin#webhook-"+strconv.FormatInt(id, 10))
}

// hookForm is the registration form as posted (to show it again beside
// its errors); on a fresh page every event is ticked.
func hookForm(c *gin.Context) map[string]any {
	events := map[string]bool{}
	posted := c.Request.Method == http.MethodPost && c.PostForm("url") != ""
	for _, ev := range models.HookEvents() {
		events[ev] = !posted
	}
	if posted {
		for _, ev := range c.PostFormArray("events") {
			events[ev] = true
		}
	}
	return map[string]any{"URL": c.PostForm("url"), "Description": c.PostForm("description"),
		"Personal": c.PostForm("include_personal") == "yes", "Events": events}
}
