package handlers

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"rightsportal/mailer"
	"rightsportal/service"
	"rightsportal/workflow"
)

// decodeJSON reads exactly one JSON object into v, strictly: unknown
// fields, wrong types, trailing data and oversized bodies each get their
// own clear error. (gin's ShouldBindJSON would do, but says less.)
func decodeJSON(c *gin.Context, limit int64, v any) error {
	limitBody(c, limit)
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return malformed("The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("The request body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// More() is false before a stray '}' or ']', so read one token: only
	// the end of the input may follow the object.
	if _, err := dec.Token(); err != io.EOF {
		return malformed("The request body holds more than one JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return malformed(fmt.Sprintf("The request body is not valid JSON (at byte %d).", se.Offset))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return malformed("The request body must be a JSON object.")
		}
		return invalid(map[string]string{field: "must be a " + jsonKind(te.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(map[string]string{name: "is not a known field"})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("The request body is cut short: the JSON is incomplete.")
	}
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	return malformed("The request body is not valid JSON.")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean (true or false)"
	case "struct", "map":
		return "JSON object"
	}
	return k
}

// submitBody is SPEC §7's POST /api/v1/requests.
type submitBody struct {
	Type         string          `json:"type"`
	Email        string          `json:"email"`
	FullName     string          `json:"full_name"`
	Jurisdiction string          `json:"jurisdiction"`
	Details      json.RawMessage `json:"details"`
	// Language is the subject's language for the mail (optional: the
	// Accept-Language header, else the default language, when absent).
	Language string `json:"language"`
}

// details reads "details" as an object of workflow.Details or, for
// clients that send plain text, a string.
func (b submitBody) details() (workflow.Details, error) {
	var d workflow.Details
	raw := bytes.TrimSpace(b.Details)
	if len(raw) == 0 || string(raw) == "null" {
		return d, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return d, invalid(map[string]string{"details": "must be a string or a JSON object"})
		}
		return workflow.FromText(workflow.RequestType(strings.TrimSpace(b.Type)), s), nil
	}
	if raw[0] != '{' {
		return d, invalid(map[string]string{"details": "must be a string or a JSON object"})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		he := asHTTPError(jsonError(err))
		fields := map[string]string{}
		for k, v := range he.Fields {
			fields["details."+k] = v
		}
		if len(fields) == 0 {
			fields["details"] = he.Message
		}
		return d, invalid(fields)
	}
	return d, nil
}

// apiSubmit files a request. The answer is the same whether or not the
// address filed before.
func (h *Handler) apiSubmit(c *gin.Context) {
	var b submitBody
	if err := decodeJSON(c, h.cfg.HTTP.MaxBodyBytes, &b); err != nil {
		h.fail(c, err)
		return
	}
	d, err := b.details()
	if err != nil {
		h.fail(c, err)
		return
	}
	lang := h.language(c)
	if b.Language != "" {
		if lang = h.pages.cat.Canonical(b.Language); lang == "" {
			h.fail(c, invalid(map[string]string{"language": "must be one of " + strings.Join(h.pages.cat.Languages(), ", ")}))
			return
		}
	}
	req, err := h.svc.Submit(c.Request.Context(), service.SubmitInput{Type: b.Type, Email: b.Email, FullName: b.FullName,
		Jurisdiction: b.Jurisdiction, Details: d, Language: lang, Admit: h.admitEmail(c)})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": req.ID, "reference": req.Reference, "status": req.Status})
}

type verifyBody struct {
	Token string `json:"token"`
}

// apiVerify spends a verification token (the link's token).
func (h *Handler) apiVerify(c *gin.Context) {
	var b verifyBody
	if err := decodeJSON(c, 4<<10, &b); err != nil {
		h.fail(c, err)
		return
	}
	t := service.NormalizeToken(b.Token)
	if t == "" {
		h.fail(c, invalid(map[string]string{"token": "is required"}))
		return
	}
	if !service.WellFormedToken(t) {
		h.fail(c, invalid(map[string]string{"token": fmt.Sprintf("must be %d characters of a-z and 2-7", service.TokenLen)}))
		return
	}
	if !h.takeVerifyEmail(c, t) {
		return
	}
	req, err := h.svc.Verify(c.Request.Context(), t, service.ViaLink)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"reference": req.Reference, "status": req.Status})
}

// apiInbound takes a reply forwarded by a mail provider: the raw message
// as the body, authenticated by the shared secret.
func (h *Handler) apiInbound(c *gin.Context) {
	secret := h.cfg.Mail.Inbound.Secret
	if secret == "" {
		h.fail(c, &httpError{http.StatusNotFound, "not_found", "The inbound webhook is off (no secret is configured).", nil})
		return
	}
	got := c.GetHeader("X-Inbound-Secret")
	if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
		h.fail(c, &httpError{http.StatusUnauthorized, "unauthorized", "The X-Inbound-Secret header is missing or wrong.", nil})
		return
	}
	limitBody(c, h.cfg.Mail.Inbound.MaxBytes)
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		h.fail(c, formError(err))
		return
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		h.fail(c, malformed("The body is empty; send the raw RFC 5322 message."))
		return
	}
	from := mailer.ReplyFrom(raw)
	if !h.replyAllowed(c, from) {
		return
	}
	res, err := h.svc.HandleReply(c.Request.Context(), raw, mailer.Envelope{})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.countReply(from, res)
	c.JSON(http.StatusOK, gin.H{"outcome": res.Outcome, "reason": res.Why})
}
