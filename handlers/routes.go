package handlers

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"rightsportal/service"
	"rightsportal/templates"
)

// routes is the single route table. Every GET route in it answers HEAD
// too (headToo).
func (h *Handler) routes(e *gin.Engine) {
	r := headToo{e}
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	if h.metrics != nil {
		// Prometheus metrics for an admin's API token; a listener of
		// its own (http.metrics_addr) serves them without one.
		r.GET("/metrics", h.requireAPIToken, h.needScope(service.ScopeAdmin), h.requireAdmin, gin.WrapH(h.metrics.Handler()))
	}
	static, _ := fs.Sub(templates.FS, "static")
	r.GET("/static/*file", h.serveStatic(http.FS(static)))

	// Public pages.
	r.GET("/", h.showHome)
	r.GET("/request", h.showRequestForm)
	r.POST("/request", h.limitSubmit, h.submitRequest)
	r.GET("/request/sent", h.showSent)
	r.GET("/verify", h.limitVerify, h.showVerify)
	r.POST("/verify", h.limitVerify, h.confirmVerify)
	r.POST("/verify/cancel", h.limitVerify, h.cancelVerify)
	r.GET("/verified", h.limitVerify, h.showVerified)

	// Public API.
	api := r.Group("/api/v1")
	api.POST("/requests", h.limitSubmit, h.apiSubmit)
	api.POST("/verify", h.limitVerify, h.apiVerify)
	api.POST("/inbound/email", h.limitInbound, h.apiInbound)
	// A processor's OpenDSR status callback, authenticated by its signature.
	api.POST("/opendsr/:system/callbacks/:id", h.limitInbound, h.openDSRCallback)
	api.GET("/jurisdictions", h.apiJurisdictions)
	api.GET("/jurisdictions/:code/due", h.apiDue)
	api.GET("/openapi.json", h.serveOpenAPI)

	// The subject's private status page.
	r.GET("/status/:token", h.limitVerify, h.showStatus)
	r.POST("/status/:token/answer", h.limitVerify, h.answerQuestion)
	r.GET("/status/:token/withdraw", h.limitVerify, h.confirmWithdraw)
	r.POST("/status/:token/withdraw", h.limitVerify, h.withdrawRequest)
	r.POST("/status/:token/appeal", h.limitVerify, h.appealRequest)
	r.POST("/status/:token/code", h.limitVerify, h.limitCode, h.sendCode)
	r.POST("/status/:token/download", h.limitVerify, h.download)
	r.POST("/status/:token/attachments", h.limitVerify, h.uploadFromStatus)

	// Staff API. Each route names the token scope it needs.
	staff := api.Group("", h.requireAPIToken)
	read, write := h.needScope(service.ScopeRequestsRead), h.needScope(service.ScopeRequestsWrite)
	staff.GET("/requests", read, h.apiListRequests)
	staff.GET("/requests/:id", read, h.apiGetRequest)
	staff.POST("/requests/bulk", write, h.apiBulk)
	staff.POST("/requests/:id/actions", write, h.apiAct)
	staff.POST("/requests/:id/notes", write, h.apiAddNote)
	staff.POST("/requests/:id/tasks/:task", write, h.apiDecideTask)
	staff.GET("/reports", h.needScope(service.ScopeReportsRead), h.apiReports)
	staff.GET("/requests.csv", read, h.apiExportRequests)
	hooks := staff.Group("/webhooks", h.needScope(service.ScopeAdmin), h.requireAdmin)
	hooks.GET("", h.apiListWebhooks)
	hooks.POST("", h.apiCreateWebhook)
	hooks.DELETE("/:id", h.apiDisableWebhook)
	hooks.GET("/:id/deliveries", h.apiWebhookDeliveries)
	hooks.POST("/:id/deliveries/:delivery/redeliver", h.apiRedeliverWebhook)

	// The staff workspace.
	r.GET("/staff/login", h.showLogin)
	r.POST("/staff/login", h.signIn)
	r.GET("/staff/login/2fa", h.showSecondFactor)
	r.POST("/staff/login/2fa", h.checkSecondFactor)
	ws := r.Group("/staff", h.requireStaff)
	ws.POST("/logout", h.signOut)
	ws.GET("/2fa", h.showTwoFactor)
	ws.POST("/2fa", h.confirmTwoFactor)
	ws.GET("/tokens", h.showTokens)
	ws.POST("/tokens", h.createOwnToken)
	ws.POST("/tokens/:id/revoke", h.revokeOwnToken)
	ws.GET("", h.showQueue)
	ws.GET("/reports", h.showReports)
	ws.GET("/queue.csv", h.exportQueue)
	ws.POST("/bulk", h.bulkFromQueue)
	ws.GET("/requests/:id", h.showRequest)
	ws.POST("/requests/:id/actions", h.decideRequest)
	ws.POST("/requests/:id/notes", h.addNote)
	ws.POST("/requests/:id/assign", h.reassign)
	ws.POST("/requests/:id/close-duplicate", h.closeDuplicate)
	ws.POST("/requests/:id/status-links", h.revokeStatusLinks)
	ws.POST("/requests/:id/tasks/:task", h.decideTask)
	ws.POST("/requests/:id/files", h.addFile)
	ws.POST("/requests/:id/files/:file/remove", h.removeFile)
	ws.POST("/requests/:id/release", h.releaseAgain)
	ws.GET("/requests/:id/attachments/:att", h.downloadAttachment)
	admin := ws.Group("/admin", h.requireAdmin)
	admin.GET("", h.showAdmin)
	admin.POST("/staff", h.addStaff)
	admin.POST("/staff/:id", h.changeStaff)
	admin.POST("/staff/:id/2fa/reset", h.resetTwoFactor)
	admin.POST("/tokens", h.createToken)
	admin.POST("/tokens/:id/revoke", h.revokeToken)
	admin.POST("/webhooks", h.addWebhook)
	admin.POST("/webhooks/:id/disable", h.disableWebhook)
	admin.POST("/webhooks/:id/deliveries/:delivery/redeliver", h.redeliverWebhook)
}
