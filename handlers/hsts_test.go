package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"rightsportal/config"
	"rightsportal/internal/apptest"
)

// TestHSTSOnlyOverHTTPS: Strict-Transport-Security is sent when the portal
// is served over https, and not over plain http (where it would be
// ignored or, behind a misconfigured proxy, lock users out).
func TestHSTSOnlyOverHTTPS(t *testing.T) {
	plain := apptest.New(t, apptest.Options{})
	resp, _ := plain.Do(http.MethodGet, "/", nil, nil)
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS over http: %q", h)
	}
	tls := apptest.New(t, apptest.Options{Config: func(c *config.Config) { c.HTTP.BaseURL = "https://privacy.example.org" }})
	resp, _ = tls.Do(http.MethodGet, "/", nil, nil)
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=31536000") {
		t.Fatalf("no HSTS with an https base URL: %q", h)
	}
}
