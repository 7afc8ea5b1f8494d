package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"rightsportal/handlers"
	"rightsportal/internal/apptest"
	"rightsportal/service"
)

// loadOpenAPI loads the embedded document with kin-openapi and validates
// it as OpenAPI (3.1: the loader reads it with JSON Schema 2020-12
// schemas, so type arrays such as ["string","null"] are understood).
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(handlers.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid document: %v", err)
	}
	return doc
}

// isAPIPath is what the document must describe: the JSON API, the
// probes and the metrics; pages are for browsers and stay out.
func isAPIPath(p string) bool {
	return strings.HasPrefix(p, "/api/v1/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// TestOpenAPICoversRoutes walks the real route table: every API route
// must be in the document and every operation in the document must be a
// route, so the two cannot drift apart. HEAD is left out on both sides:
// headToo adds it to every GET, and the document lists the GETs.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	a := apptest.New(t, apptest.Options{NoJobs: true})
	h, err := handlers.New(handlers.Deps{Service: a.Svc, Store: a.Store, Config: a.Cfg, Now: a.Clock.Now,
		Log: slog.New(slog.DiscardHandler), Metrics: a.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, r := range handlers.RouteTable(h) {
		if r.Method == http.MethodHead || !isAPIPath(r.Path) {
			continue
		}
		routes[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in handlers/openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("handlers/openapi.json names %s, which is no route", d)
		}
	}
	if !routes["GET /metrics"] {
		t.Error("the route walk did not see /metrics: build the handler with metrics")
	}
}

// TestOpenAPIViewerReady checks what a standard viewer (Swagger UI,
// Redoc) needs beyond validity: OpenAPI 3.1, a relative server so that
// "try it" calls the portal it was loaded from, info, declared tags, and
// for each staff operation the bearer scheme and the scope it needs.
func TestOpenAPIViewerReady(t *testing.T) {
	doc := loadOpenAPI(t)
	var raw map[string]any
	if err := json.Unmarshal(handlers.OpenAPIDocument(), &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if raw["openapi"] != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %v, want 3.1.0", raw["openapi"])
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one relative \"/\"", doc.Servers)
	}
	if doc.Info == nil || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Error("info needs a title and a version")
	}
	tags := map[string]bool{}
	for _, tg := range doc.Tags {
		tags[tg.Name] = true
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Error("no bearerAuth http bearer security scheme")
	}
	scopes := []string{service.ScopeRequestsRead, service.ScopeRequestsWrite, service.ScopeReportsRead, service.ScopeAdmin}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || len(op.Tags) == 0 {
				t.Errorf("%s: needs an operationId and a tag", name)
			}
			for _, tg := range op.Tags {
				if !tags[tg] {
					t.Errorf("%s: tag %q is not declared", name, tg)
				}
			}
			scope, _ := op.Extensions["x-required-scope"].(string)
			staff := op.Security != nil && len(*op.Security) > 0
			if staff != (scope != "") {
				t.Errorf("%s: security %v but x-required-scope %q", name, op.Security, scope)
			}
			if scope != "" && (!slices.Contains(scopes, scope) || !strings.Contains(op.Description, "`"+scope+"`")) {
				t.Errorf("%s: scope %q is unknown or not named in the description", name, scope)
			}
		}
	}
}

// apiChecker sends calls to the running test app and validates every
// answer (status, Content-Type, body) against the document with
// kin-openapi; it notes which operation answered which status so the
// test can require that each one was seen.
type apiChecker struct {
	t      *testing.T
	a      *apptest.App
	router routers.Router
	seen   map[string]bool
}

func newAPIChecker(t *testing.T, a *apptest.App) *apiChecker {
	doc := loadOpenAPI(t)
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiChecker{t: t, a: a, router: r, seen: map[string]bool{}}
}

// call sends body (nil, a raw string or a value to encode as JSON) and
// returns the status and the body.
func (c *apiChecker) call(method, path, token string, body any, header map[string]string) (int, []byte) {
	c.t.Helper()
	var raw []byte
	h := map[string]string{}
	switch b := body.(type) {
	case nil:
	case string:
		raw, h["Content-Type"] = []byte(b), "application/json"
	default:
		raw, _ = json.Marshal(b)
		h["Content-Type"] = "application/json"
	}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	for k, v := range header {
		h[k] = v
	}
	resp, out := c.a.Do(method, path, bytes.NewReader(raw), h)
	c.validate(method, path, h, raw, resp, out)
	return resp.StatusCode, out
}

func (c *apiChecker) validate(method, path string, h map[string]string, raw []byte, resp *http.Response, out []byte) {
	c.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s %s: not in the document: %v", method, path, err)
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	// A call the portal accepted must be one the document allows too.
	if resp.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			c.t.Errorf("%s %s: the request the portal accepted breaks the document: %v", method, path, err)
		}
		req.Body = http.NoBody
	}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: opts}
	rv.SetBodyBytes(out)
	if err := openapi3filter.ValidateResponse(ctx, rv); err != nil {
		c.t.Errorf("%s %s: %d %s does not match the document: %v\n%s", method, path, resp.StatusCode,
			resp.Header.Get("Content-Type"), err, out)
	}
	c.seen[route.Operation.OperationID+" "+strconv.Itoa(resp.StatusCode)] = true
}

func (c *apiChecker) want(op string, status int, got int, body []byte) {
	c.t.Helper()
	if got != status {
		c.t.Errorf("%s: %d, want %d: %s", op, got, status, body)
	}
}
