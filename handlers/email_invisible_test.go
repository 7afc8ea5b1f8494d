package handlers_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"rightsportal/internal/apptest"
)

// TestEmailInvisibleCharacters: an address with a character that shows
// as nothing (Unicode format characters: zero-width space, joiners, word
// joiner, byte-order mark, soft hyphen) in its domain or its local part
// looks like another address, and is refused with 422 and a message on
// the e-mail field, through the API and the form; nothing is stored.
func TestEmailInvisibleCharacters(t *testing.T) {
	a := apptest.New(t, apptest.Options{NoJobs: true})
	for _, r := range []rune{0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x00ad} {
		c := string(r)
		for _, addr := range []string{"jane@exa" + c + "mple.com", "jane@" + c + "example.com",
			"jane@example" + c + ".com", "ja" + c + "ne@example.com", c + "jane@example.com"} {
			what := fmt.Sprintf("%U in %+q", r, addr)
			body := map[string]any{"type": "access", "email": addr, "full_name": "Jane Doe", "jurisdiction": "gdpr"}
			resp, b := postRaw(t, a, "/api/v1/requests", "application/json", mustJSON(body), nil)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("API, %s: %d %s", what, resp.StatusCode, b)
				continue
			}
			e := checkError(t, resp, b, http.StatusUnprocessableEntity, "email")
			if msg, _ := e["fields"].(map[string]any)["email"].(string); !strings.Contains(msg, "invisible") {
				t.Errorf("API, %s: email error %q does not say what is wrong", what, msg)
			}

			form := url.Values{"type": {"access"}, "email": {addr}, "full_name": {"Jane Doe"}, "jurisdiction": {"gdpr"}}
			page, text := postForm(t, a, "/request", form, map[string]string{"Accept": "text/html"})
			if page.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("form, %s: %d", what, page.StatusCode)
				continue
			}
			wantHTML(t, page, text, http.StatusUnprocessableEntity)
			if !strings.Contains(html.UnescapeString(text), "Remove the invisible characters") {
				t.Errorf("form, %s: no message beside the field:\n%s", what, text)
			}
		}
	}
	assertNothingStored(t, a)

	// The same address without them is taken.
	a.Submit(map[string]any{"type": "access", "email": "jane@example.com", "full_name": "Jane Doe", "jurisdiction": "gdpr"})
}
