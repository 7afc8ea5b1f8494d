package handlers

import "github.com/gin-gonic/gin"

// RouteTable is every route of the route table, for tests that walk
// them all (so that a route added later is covered without anyone
// remembering to add it).
func RouteTable(h *Handler) gin.RoutesInfo {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	h.routes(e)
	return e.Routes()
}
