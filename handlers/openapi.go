package handlers

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// openAPIDoc describes every API route (everything under /api/v1, the
// probes and /metrics) as OpenAPI 3.1. It is kept by hand beside the
// route table; TestOpenAPICoversRoutes fails when the two drift apart and
// TestOpenAPIResponses checks real answers against its schemas.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument is the embedded document, for the tests that hold the
// routes and the answers to it.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDoc) }

// serveOpenAPI answers GET /api/v1/openapi.json. It is public and the same
// for every caller, so caches may keep it; the ETag (a hash of the
// content) lets them revalidate cheaply after a release changes it.
func (h *Handler) serveOpenAPI(c *gin.Context) {
	sum := sha256.Sum256(openAPIDoc)
	c.Header("Content-Type", "application/json")
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(c.Writer, c.Request, "openapi.json", time.Time{}, bytes.NewReader(openAPIDoc))
}
