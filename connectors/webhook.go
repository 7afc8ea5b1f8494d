package connectors

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"rightsportal/config"
	"rightsportal/workflow"
)

// The headers of a signed call.
const (
	headerDelivery  = "X-Portal-Delivery"
	headerTimestamp = "X-Portal-Timestamp"
	headerSignature = "X-Portal-Signature"
)

// maxAnswer caps what is read of a service's answer.
const maxAnswer = 10 << 20

// Sign is the X-Portal-Signature value of a call: "sha256=" and the hex
// HMAC-SHA256 under secret of the unix timestamp, a dot and the body.
// Signing the timestamp lets a receiver refuse an old call replayed.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

var (
	errNoSecret  = errors.New("connectors: no secret to verify with")
	errTimestamp = errors.New("connectors: missing or malformed " + headerTimestamp)
	errStale     = errors.New("connectors: " + headerTimestamp + " is too far from now")
	errSignature = errors.New("connectors: " + headerSignature + " does not match")
)

// Verify is the receiver's check of a signed call: the timestamp is
// within maxSkew of now (either way) and the signature matches, compared
// in constant time. A receiver should also refuse an X-Portal-Delivery it
// has seen within maxSkew; the body carries the same id, signed.
func Verify(secret string, header http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if secret == "" {
		return errNoSecret
	}
	ts, err := strconv.ParseInt(header.Get(headerTimestamp), 10, 64)
	if err != nil {
		return errTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return errStale
	}
	if !hmac.Equal([]byte(header.Get(headerSignature)), []byte(Sign(secret, ts, body))) {
		return errSignature
	}
	return nil
}

// call is the body of a webhook connector's call.
type call struct {
	Delivery  string               `json:"delivery"`
	RequestID string               `json:"request_id"`
	Reference string               `json:"reference"`
	Right     workflow.RequestType `json:"right"`
	Subject   subject              `json:"subject"`
	Details   workflow.Details     `json:"details"`
	Value     string               `json:"value"`
	SentAt    string               `json:"sent_at"`
}

type subject struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// answer is what the service says back.
type answer struct {
	Status  string            `json:"status"`
	Records *int64            `json:"records"`
	Rows    []json.RawMessage `json:"rows"`
	Message string            `json:"message"`
}

func (r *Registry) runWebhook(ctx context.Context, sys config.System, job Job) (Result, error) {
	if sys.Connector.Webhook == nil {
		return Result{}, permanentf("connectors: system %q has no webhook", sys.Code)
	}
	if job.Delivery == "" {
		return Result{}, permanentf("connectors: the job has no delivery id")
	}
	at := r.now()
	body, err := json.Marshal(call{
		Delivery: job.Delivery, RequestID: job.RequestID, Reference: job.Reference, Right: job.Right,
		Subject: subject{Email: job.Email, Name: job.Name}, Details: job.Details, Value: job.Value,
		SentAt: at.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return Result{}, permanent(err)
	}
	data, err := r.post(ctx, *sys.Connector.Webhook, job.Delivery, at, body)
	if err != nil {
		return Result{}, fmt.Errorf("connectors: system %q: %w", sys.Code, err)
	}
	res, err := readAnswer(data, job.Right)
	if err != nil {
		return Result{}, fmt.Errorf("connectors: system %q: %w", sys.Code, err)
	}
	return res, nil
}

// Notify tells a recipient of the subject's data about a rectification,
// erasure or restriction (GDPR Art. 19): the payload, with the delivery
// id and the time added, signed and classified like a connector's call.
// Any 2xx answer will do.
func (r *Registry) Notify(ctx context.Context, wh config.Webhook, payload map[string]any, delivery string) error {
	if delivery == "" {
		return permanentf("connectors: the notification has no delivery id")
	}
	at := r.now()
	msg := make(map[string]any, len(payload)+2)
	for k, v := range payload {
		msg[k] = v
	}
	msg["delivery"] = delivery
	msg["sent_at"] = at.UTC().Format(time.RFC3339)
	body, err := json.Marshal(msg)
	if err != nil {
		return permanent(fmt.Errorf("connectors: notification payload: %w", err))
	}
	_, err = r.post(ctx, wh, delivery, at, body)
	return err
}

// post makes the signed call and returns a 2xx answer's body. 408, 429,
// 5xx and network failures are temporary; any other answer (a refused
// signature, a replay, a redirect) is permanent.
func (r *Registry) post(ctx context.Context, wh config.Webhook, delivery string, at time.Time, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return nil, permanent(fmt.Errorf("connectors: webhook: %w", err))
	}
	ts := at.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(headerDelivery, delivery)
	req.Header.Set(headerTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(headerSignature, Sign(wh.Secret, ts, body))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("connectors: webhook: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("connectors: webhook %s: reading the answer: %w", req.URL.Host, err)
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		if len(data) > maxAnswer {
			return nil, permanentf("connectors: webhook %s: the answer is larger than %d bytes", req.URL.Host, maxAnswer)
		}
		return data, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return nil, fmt.Errorf("connectors: webhook %s answered %d: %s", req.URL.Host, code, snippet(data, 200))
	}
	return nil, permanentf("connectors: webhook %s answered %d: %s", req.URL.Host, code, snippet(data, 200))
}

// readAnswer maps the service's JSON answer onto a Result. Row columns
// keep the order in which they first appear.
func readAnswer(data []byte, right workflow.RequestType) (Result, error) {
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		return Result{}, fmt.Errorf("connectors: the service's answer is not the expected JSON: %w", err)
	}
	switch a.Status {
	case "done", "not_found", "accepted":
	default:
		return Result{}, fmt.Errorf("connectors: the service answered status %q, not done, not_found or accepted", snippet([]byte(a.Status), 40))
	}
	res := Result{NotFound: a.Status == "not_found", Pending: a.Status == "accepted"}
	seen := map[string]bool{}
	for i, raw := range a.Rows {
		keys, row, err := orderedObject(raw)
		if err != nil {
			return Result{}, fmt.Errorf("connectors: the service's row %d: %w", i+1, err)
		}
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				res.Columns = append(res.Columns, k)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	n := int64(len(res.Rows))
	if a.Records != nil {
		n = *a.Records
	}
	if right != workflow.TypeAccess && right != workflow.TypePortability {
		res.Affected = n
	}
	res.Summary = "service answered: " + a.Status
	if a.Records != nil || len(res.Rows) > 0 {
		res.Summary += " (" + plural(n, "record") + ")"
	}
	if m := snippet([]byte(a.Message), 200); m != "" {
		res.Summary += ": " + m
	}
	return res, nil
}

// orderedObject decodes one JSON object, returning its keys in order
// (a Go map forgets it). Numbers stay exact (json.Number).
func orderedObject(raw []byte) ([]string, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	var keys []string
	row := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := row[key]; !dup {
			keys = append(keys, key)
		}
		row[key] = v
	}
	return keys, row, nil
}

// snippet is at most limit characters of text from elsewhere, on one
// line, fit to show staff.
func snippet(b []byte, limit int) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > limit {
		s = strings.TrimSpace(string(r[:limit]))
	}
	return s
}
