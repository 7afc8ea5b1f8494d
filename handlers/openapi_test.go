package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"rightsportal/config"
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
	// lastHeader is the header of the last answer.
	lastHeader http.Header
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
	c.lastHeader = resp.Header
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

// TestOpenAPIResponses drives real calls through the running test app,
// successes and the errors a client meets, and validates each request
// the portal accepted and every answer against the document.
func TestOpenAPIResponses(t *testing.T) {
	a := apptest.New(t, apptest.Options{})
	c := newAPIChecker(t, a)
	admin := a.StaffToken("ada@example.org", "admin")

	st, b := c.call("GET", "/healthz", "", nil, nil)
	c.want("healthz", 200, st, b)
	st, b = c.call("GET", "/readyz", "", nil, nil)
	c.want("readyz", 200, st, b)
	st, b = c.call("GET", "/metrics", admin, nil, nil)
	c.want("metrics", 200, st, b)
	st, b = c.call("GET", "/api/v1/openapi.json", "", nil, nil)
	c.want("openapi", 200, st, b)
	etag := c.lastHeader.Get("ETag")
	if cc := c.lastHeader.Get("Cache-Control"); etag == "" || !strings.Contains(cc, "public") {
		t.Errorf("openapi.json: ETag %q, Cache-Control %q: want a public, revalidatable answer", etag, cc)
	}
	st, b = c.call("GET", "/api/v1/openapi.json", "", nil, map[string]string{"If-None-Match": etag})
	c.want("openapi revalidated", 304, st, b)
	st, b = c.call("GET", "/api/v1/jurisdictions", "", nil, nil)
	c.want("jurisdictions", 200, st, b)
	st, b = c.call("GET", "/api/v1/jurisdictions/gdpr/due?received=2025-01-31", "", nil, nil)
	c.want("due", 200, st, b)
	st, b = c.call("GET", "/api/v1/jurisdictions/xx/due?received=2025-01-31", "", nil, nil)
	c.want("due unknown", 404, st, b)
	st, b = c.call("GET", "/api/v1/jurisdictions/gdpr/due", "", nil, nil)
	c.want("due without a date", 422, st, b)

	// Submit and verify, and their errors.
	email := "openapi-subject@example.com"
	st, b = c.call("POST", "/api/v1/requests", "", map[string]any{"type": "access", "email": email,
		"full_name": "Test Subject", "jurisdiction": "gdpr", "details": map[string]any{"description": "All of it."}}, nil)
	c.want("submit", 202, st, b)
	sub := apptest.DecodeJSON(t, b)
	st, b = c.call("POST", "/api/v1/requests", "", map[string]any{"type": "erasure", "email": "other@example.com",
		"full_name": "Other Subject", "details": "Please erase my account."}, nil)
	c.want("submit with text details", 202, st, b)
	other := apptest.DecodeJSON(t, b)["id"].(string)
	st, b = c.call("POST", "/api/v1/requests", "", map[string]any{"type": "access", "email": "not an address", "full_name": "X"}, nil)
	c.want("submit invalid", 422, st, b)
	st, b = c.call("POST", "/api/v1/requests", "", `{"type":`, nil)
	c.want("submit malformed", 400, st, b)
	tok := apptest.TokenFromLink(t, a.MailWithSubject(email, "("+sub["reference"].(string)+")").Link(t, "/verify?token="))
	st, b = c.call("POST", "/api/v1/verify", "", map[string]any{"token": tok}, nil)
	c.want("verify", 200, st, b)
	st, b = c.call("POST", "/api/v1/verify", "", map[string]any{"token": tok}, nil)
	c.want("verify again", 410, st, b)
	st, b = c.call("POST", "/api/v1/verify", "", map[string]any{"token": strings.Repeat("a", service.TokenLen)}, nil)
	c.want("verify unknown", 404, st, b)
	st, b = c.call("POST", "/api/v1/verify", "", map[string]any{"token": ""}, nil)
	c.want("verify empty", 422, st, b)

	// The staff API.
	id := sub["id"].(string)
	st, b = c.call("GET", "/api/v1/requests", admin, nil, nil)
	c.want("list", 200, st, b)
	st, b = c.call("GET", "/api/v1/requests?status=all&limit=1&overdue=false", admin, nil, nil)
	c.want("list filtered", 200, st, b)
	st, b = c.call("GET", "/api/v1/requests?status=bogus", admin, nil, nil)
	c.want("list bad filter", 422, st, b)
	st, b = c.call("GET", "/api/v1/requests", "", nil, nil)
	c.want("list without a token", 401, st, b)
	st, b = c.call("GET", "/api/v1/requests", "not-a-token", nil, nil)
	c.want("list with a wrong token", 401, st, b)
	st, b = c.call("GET", "/api/v1/requests/"+id, admin, nil, nil)
	c.want("get", 200, st, b)
	v := int(apptest.DecodeJSON(t, b)["version"].(float64))
	st, b = c.call("GET", "/api/v1/requests/nothing", admin, nil, nil)
	c.want("get unknown", 404, st, b)

	st, b = c.call("POST", "/api/v1/requests/"+id+"/actions", admin, map[string]any{"action": "start_review", "version": v}, nil)
	c.want("act", 200, st, b)
	st, b = c.call("POST", "/api/v1/requests/"+id+"/actions", admin, map[string]any{"action": "start_review", "version": v}, nil)
	c.want("act stale", 409, st, b)
	st, b = c.call("POST", "/api/v1/requests/"+id+"/actions", admin, map[string]any{"version": v + 1}, nil)
	c.want("act without an action", 422, st, b)
	st, b = c.call("POST", "/api/v1/requests/nothing/actions", admin, map[string]any{"action": "start_review", "version": 1}, nil)
	c.want("act on nothing", 404, st, b)

	st, b = c.call("POST", "/api/v1/requests/"+id+"/notes", admin, map[string]any{"body": "Checked the CRM."}, nil)
	c.want("note", 201, st, b)
	st, b = c.call("POST", "/api/v1/requests/"+id+"/notes", admin, map[string]any{"body": "x", "colour": "red"}, nil)
	c.want("note with an unknown field", 422, st, b)
	readOnly := scopedToken(t, a, "ada@example.org", nil, service.ScopeRequestsRead)
	st, b = c.call("POST", "/api/v1/requests/"+id+"/notes", readOnly, map[string]any{"body": "x"}, nil)
	c.want("note with a read-only token", 403, st, b)

	st, b = c.call("POST", "/api/v1/requests/bulk", admin, map[string]any{"action": "assign", "assignee": "me",
		"requests": []map[string]any{{"id": id, "version": v + 1}, {"id": other, "version": 7}, {"id": "nothing", "version": 1}}}, nil)
	c.want("bulk", 200, st, b)
	st, b = c.call("POST", "/api/v1/requests/bulk", admin, map[string]any{"action": "start_review", "requests": []map[string]any{}}, nil)
	c.want("bulk without requests", 422, st, b)
	st, b = c.call("POST", "/api/v1/requests/"+id+"/tasks/999", admin, map[string]any{"action": "done"}, nil)
	c.want("task unknown", 404, st, b)

	st, b = c.call("GET", "/api/v1/reports?from=2025-01-01&to=2025-12-31", admin, nil, nil)
	c.want("reports", 200, st, b)
	st, b = c.call("GET", "/api/v1/reports", admin, nil, nil)
	c.want("reports by default", 200, st, b)
	st, b = c.call("GET", "/api/v1/reports?jurisdiction=mars", admin, nil, nil)
	c.want("reports unknown jurisdiction", 422, st, b)
	st, b = c.call("GET", "/api/v1/reports", readOnly, nil, nil)
	c.want("reports with requests:read only", 403, st, b)
	st, b = c.call("GET", "/api/v1/requests.csv?status=all", admin, nil, nil)
	c.want("csv", 200, st, b)
	st, b = c.call("GET", "/api/v1/requests.csv?type=nope", admin, nil, nil)
	c.want("csv bad filter", 422, st, b)

	secret := map[string]string{"X-Inbound-Secret": a.Cfg.Mail.Inbound.Secret, "Content-Type": "message/rfc822"}
	st, b = c.call("POST", "/api/v1/inbound/email", "", nil, map[string]string{"X-Inbound-Secret": "wrong"})
	c.want("inbound wrong secret", 401, st, b)
	st, b = c.call("POST", "/api/v1/inbound/email", "", nil, secret)
	c.want("inbound empty", 400, st, b)

	st, b = c.call("POST", "/api/v1/webhooks", admin, map[string]any{"url": "https://hooks.example.org/portal",
		"events": []string{"task.failed"}, "description": "ticketing"}, nil)
	c.want("webhook registered", 201, st, b)
	hook := fmt.Sprint(apptest.DecodeJSON(t, b)["id"])
	st, b = c.call("POST", "/api/v1/webhooks", admin, map[string]any{"url": "http://10.0.0.1/", "events": []string{"task.failed"}}, nil)
	c.want("webhook refused", 422, st, b)
	st, b = c.call("GET", "/api/v1/webhooks", admin, nil, nil)
	c.want("webhooks", 200, st, b)
	st, b = c.call("GET", "/api/v1/webhooks/"+hook+"/deliveries", admin, nil, nil)
	c.want("webhook deliveries", 200, st, b)
	st, b = c.call("POST", "/api/v1/webhooks/"+hook+"/deliveries/nothing/redeliver", admin, nil, nil)
	c.want("redeliver unknown", 404, st, b)
	st, b = c.call("DELETE", "/api/v1/webhooks/"+hook, admin, nil, nil)
	c.want("webhook disabled", 204, st, b)

	c.scopeWalk(a)

	for _, want := range []string{"healthz 200", "readyz 200", "metrics 200", "metrics 403", "openapi 200", "openapi 304",
		"jurisdictions 200", "due 200", "due 404", "due 422",
		"submitRequest 202", "submitRequest 400", "submitRequest 422",
		"verify 200", "verify 404", "verify 410", "verify 422",
		"listRequests 200", "listRequests 401", "listRequests 403", "listRequests 422",
		"getRequest 200", "getRequest 403", "getRequest 404",
		"act 200", "act 403", "act 404", "act 409", "act 422",
		"addNote 201", "addNote 403", "addNote 422", "bulk 200", "bulk 403", "bulk 422", "decideTask 403", "decideTask 404",
		"reports 200", "reports 403", "reports 422", "exportRequests 200", "exportRequests 403", "exportRequests 422",
		"inboundEmail 400", "inboundEmail 401", "createWebhook 201", "createWebhook 422", "listWebhooks 200",
		"webhookDeliveries 200", "redeliverWebhook 404", "disableWebhook 204"} {
		if !c.seen[want] {
			t.Errorf("no %s answer was validated", want)
		}
	}
}

// scopeWalk calls every staff operation with a token that has every
// scope but the one the document says it needs (403 naming that scope),
// then with that scope alone (anything but 401 or 403): the document's
// x-required-scope is then the route table's, route by route.
func (c *apiChecker) scopeWalk(a *apptest.App) {
	c.t.Helper()
	all := []string{service.ScopeRequestsRead, service.ScopeRequestsWrite, service.ScopeReportsRead, service.ScopeAdmin}
	for path, item := range loadOpenAPI(c.t).Paths.Map() {
		for method, op := range item.Operations() {
			scope, _ := op.Extensions["x-required-scope"].(string)
			if scope == "" {
				continue
			}
			var others []string
			for _, s := range all {
				if s != scope {
					others = append(others, s)
				}
			}
			url := strings.NewReplacer("{id}", "nothing", "{task}", "1", "{delivery}", "nothing").Replace(path)
			var body any
			if method == http.MethodPost {
				body = map[string]any{}
			}
			st, b := c.call(method, url, scopedToken(c.t, a, "ada@example.org", nil, others...), body, nil)
			if st != http.StatusForbidden || !strings.Contains(string(b), scope) {
				c.t.Errorf("%s %s without %s: %d %s, want 403 naming the scope", method, path, scope, st, b)
			}
			st, b = c.call(method, url, scopedToken(c.t, a, "ada@example.org", nil, scope), body, nil)
			if st == http.StatusForbidden || st == http.StatusUnauthorized {
				c.t.Errorf("%s %s with %s: %d %s", method, path, scope, st, b)
			}
		}
	}
}

// TestOpenAPILimitAnswers validates the 413 and 429 answers, which need
// an oversized body and an app with rate limiting on.
func TestOpenAPILimitAnswers(t *testing.T) {
	a := withLimits(t, func(c *config.Config) {
		// Two: the oversized call spends one before its body is read.
		c.RateLimit.SubmitPerIP = config.Limit{Burst: 2, Every: config.Duration(time.Hour)}
	})
	c := newAPIChecker(t, a)
	big := map[string]any{"type": "access", "email": "big@example.com", "full_name": "Big",
		"details": strings.Repeat("x", int(a.Cfg.HTTP.MaxBodyBytes))}
	st, b := c.call("POST", "/api/v1/requests", "", big, nil)
	c.want("submit too large", 413, st, b)
	body := map[string]any{"type": "access", "email": "limit@example.com", "full_name": "Rate Tester"}
	st, b = c.call("POST", "/api/v1/requests", "", body, nil)
	c.want("submit within the limit", 202, st, b)
	st, b = c.call("POST", "/api/v1/requests", "", body, nil)
	c.want("submit over the limit", 429, st, b)
	for _, want := range []string{"submitRequest 413", "submitRequest 429"} {
		if !c.seen[want] {
			t.Errorf("no %s answer was validated", want)
		}
	}
}
