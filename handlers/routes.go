package handlers

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"rightsportal/templates"
)

// routes is the single route table.
func (h *Handler) routes(r *gin.Engine) {
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	static, _ := fs.Sub(templates.FS, "static")
	r.GET("/static/*file", h.serveStatic(http.FS(static)))

	// Public pages.
	r.GET("/", h.showHome)
	r.GET("/request", h.showRequestForm)
	r.POST("/request", h.limitSubmit, h.submitRequest)
	r.GET("/request/sent", h.showSent)
	r.GET("/verify", h.limitVerify, h.showVerify)
	r.POST("/verify", h.limitVerify, h.confirmVerify)
	r.GET("/verified", h.limitVerify, h.showVerified)

	// Public API.
	api := r.Group("/api/v1")
	api.POST("/requests", h.limitSubmit, h.apiSubmit)
	api.POST("/verify", h.limitVerify, h.apiVerify)
	api.POST("/inbound/email", h.limitInbound, h.apiInbound)

	// Staff API.
	staff := api.Group("", h.requireAPIToken)
	staff.GET("/requests", h.apiListRequests)
	staff.GET("/requests/:id", h.apiGetRequest)
}
