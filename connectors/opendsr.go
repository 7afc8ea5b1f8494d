package connectors

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"rightsportal/config"
)

// The statuses of an OpenDSR request, as the processor reports them.
const (
	OpenDSRPending    = "pending"
	OpenDSRInProgress = "in_progress"
	OpenDSRCompleted  = "completed"
	OpenDSRCancelled  = "cancelled"
)

// Why a callback is refused; the handler turns each into its answer.
var (
	ErrNoSignature     = errors.New("connectors: the callback carries no signature")
	ErrBadSignature    = errors.New("connectors: the callback's signature does not verify with the processor's certificate")
	ErrNotOpenDSR      = errors.New("connectors: no opendsr system of that code in the inventory")
	ErrBadCallback     = errors.New("connectors: the callback is not an OpenDSR status")
	ErrUnknownAtSource = errors.New("connectors: the processor does not know this subject_request_id")
)

// OpenDSRSubmission is what the portal decided about one OpenDSR request
// beside the job: its id (UUID v4, made once and kept, so that a retry
// re-sends the same request), the regulation and the callback URL.
type OpenDSRSubmission struct {
	SubjectRequestID string
	Regulation       string
	SubmittedAt      time.Time
	CallbackURL      string
}

// OpenDSRStatus is a processor's word on one request: the answer to a
// status GET, or a callback's body.
type OpenDSRStatus struct {
	SubjectRequestID       string `json:"subject_request_id"`
	RequestStatus          string `json:"request_status"`
	ExpectedCompletionTime string `json:"expected_completion_time"`
	StatusCallbackURL      string `json:"status_callback_url"`
	ResultsURL             string `json:"results_url"`
	ResultsCount           *int64 `json:"results_count"`
}

// NewSubjectRequestID is a fresh subject_request_id: a lower-case UUID v4
// from crypto/rand, as OpenDSR requires.
func NewSubjectRequestID() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// ValidSubjectRequestID reports whether s is a lower-case UUID v4, the
// only form the portal hands out.
func ValidSubjectRequestID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && id.Version() == 4 && id.String() == s
}

// openDSRRequest is the body of POST {api_url}/requests.
type openDSRRequest struct {
	SubjectRequestID   string            `json:"subject_request_id"`
	SubjectRequestType string            `json:"subject_request_type"`
	SubmittedTime      string            `json:"submitted_time"`
	SubjectIdentities  []openDSRIdentity `json:"subject_identities"`
	Regulation         string            `json:"regulation"`
	StatusCallbackURLs []string          `json:"status_callback_urls"`
	APIVersion         string            `json:"api_version"`
}

type openDSRIdentity struct {
	Type   string `json:"identity_type"`
	Value  string `json:"identity_value"`
	Format string `json:"identity_format"`
}

// openDSR finds the system and its opendsr settings.
func (r *Registry) openDSR(system string) (*config.OpenDSR, error) {
	sys, ok := r.systems[system]
	if !ok || sys.Connector.Kind != config.ConnectorOpenDSR || sys.Connector.OpenDSR == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotOpenDSR, system)
	}
	return sys.Connector.OpenDSR, nil
}

// SubmitOpenDSR sends the processor the request. The subject is named by
// e-mail address only (raw), the one identity the portal has verified.
func (r *Registry) SubmitOpenDSR(ctx context.Context, system string, job Job, sub OpenDSRSubmission) (OpenDSRStatus, error) {
	sys, job, err := r.prepare(system, job)
	if err != nil {
		return OpenDSRStatus{}, err
	}
	o, err := r.openDSR(system)
	if err != nil {
		return OpenDSRStatus{}, permanent(err)
	}
	typ, ok := config.OpenDSRType(job.Right)
	if !ok || !sys.Serves(job.Right) {
		return OpenDSRStatus{}, permanentf("connectors: system %q cannot take %s requests over OpenDSR", system, job.Right)
	}
	if !ValidSubjectRequestID(sub.SubjectRequestID) || sub.Regulation == "" || sub.CallbackURL == "" {
		return OpenDSRStatus{}, permanentf("connectors: the OpenDSR submission lacks an id, a regulation or a callback URL")
	}
	body, err := json.Marshal(openDSRRequest{
		SubjectRequestID: sub.SubjectRequestID, SubjectRequestType: typ,
		SubmittedTime:     sub.SubmittedAt.UTC().Format(time.RFC3339),
		SubjectIdentities: []openDSRIdentity{{Type: "email", Value: job.Email, Format: "raw"}},
		Regulation:        sub.Regulation, StatusCallbackURLs: []string{sub.CallbackURL}, APIVersion: "1.0",
	})
	if err != nil {
		return OpenDSRStatus{}, permanent(err)
	}
	data, err := r.openDSRCall(ctx, o, http.MethodPost, o.APIURL+"/requests", body)
	if err != nil {
		return OpenDSRStatus{}, fmt.Errorf("connectors: system %q: %w", system, err)
	}
	var st OpenDSRStatus
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &st); err != nil {
			return OpenDSRStatus{}, fmt.Errorf("connectors: system %q: the processor's answer is not JSON: %w", system, err)
		}
	}
	if st.SubjectRequestID != "" && st.SubjectRequestID != sub.SubjectRequestID {
		return OpenDSRStatus{}, permanentf("connectors: system %q answered for another subject_request_id", system)
	}
	st.SubjectRequestID = sub.SubjectRequestID
	if st.RequestStatus == "" {
		st.RequestStatus = OpenDSRPending // 201 means received: pending
	}
	if !knownStatus(st.RequestStatus) {
		return OpenDSRStatus{}, fmt.Errorf("connectors: system %q answered request_status %q", system, snippet([]byte(st.RequestStatus), 40))
	}
	return st, nil
}

// OpenDSRStatusOf asks the processor for a request's status (GET
// {api_url}/requests/{id}). A 404 is ErrUnknownAtSource: the request
// never arrived.
func (r *Registry) OpenDSRStatusOf(ctx context.Context, system, id string) (OpenDSRStatus, error) {
	o, err := r.openDSR(system)
	if err != nil {
		return OpenDSRStatus{}, permanent(err)
	}
	if !ValidSubjectRequestID(id) {
		return OpenDSRStatus{}, permanentf("connectors: %q is not a subject_request_id", id)
	}
	data, err := r.openDSRCall(ctx, o, http.MethodGet, o.APIURL+"/requests/"+url.PathEscape(id), nil)
	if err != nil {
		var se statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return OpenDSRStatus{}, permanent(fmt.Errorf("%w: system %q", ErrUnknownAtSource, system))
		}
		return OpenDSRStatus{}, fmt.Errorf("connectors: system %q: %w", system, err)
	}
	st, err := ParseOpenDSRStatus(data)
	if err != nil {
		return OpenDSRStatus{}, fmt.Errorf("connectors: system %q: %w", system, err)
	}
	if st.SubjectRequestID != id {
		return OpenDSRStatus{}, permanentf("connectors: system %q answered for another subject_request_id", system)
	}
	return st, nil
}

// statusError is a processor's non-2xx answer.
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string { return e.msg }

// openDSRCall makes one call to the processor and returns a 2xx answer's
// body; failures are classified as the webhook's are (408, 429, 5xx and
// the network are temporary). The token never reaches an error.
func (r *Registry) openDSRCall(ctx context.Context, o *config.OpenDSR, method, target string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, permanent(fmt.Errorf("opendsr: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("opendsr %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("opendsr %s %s: reading the answer: %w", method, req.URL.Host, err)
	}
	code := resp.StatusCode
	se := statusError{code, fmt.Sprintf("opendsr %s %s answered %d: %s", method, req.URL.Host, code, snippet(data, 200))}
	switch {
	case code >= 200 && code < 300:
		if len(data) > maxAnswer {
			return nil, permanentf("opendsr %s %s: the answer is larger than %d bytes", method, req.URL.Host, maxAnswer)
		}
		return data, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return nil, se
	}
	return nil, permanent(se)
}

// ParseOpenDSRStatus reads a status answer or a callback body: an object
// with a subject_request_id and one of the four statuses. Unknown fields
// (controller_id, extensions) are allowed.
func ParseOpenDSRStatus(body []byte) (OpenDSRStatus, error) {
	var st OpenDSRStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("%w: not a JSON object of the expected fields", ErrBadCallback)
	}
	if st.SubjectRequestID == "" {
		return st, fmt.Errorf("%w: subject_request_id is missing", ErrBadCallback)
	}
	if !knownStatus(st.RequestStatus) {
		return st, fmt.Errorf("%w: request_status %q is none of pending, in_progress, completed, cancelled",
			ErrBadCallback, snippet([]byte(st.RequestStatus), 40))
	}
	return st, nil
}

func knownStatus(s string) bool {
	return s == OpenDSRPending || s == OpenDSRInProgress || s == OpenDSRCompleted || s == OpenDSRCancelled
}

// VerifyOpenDSRCallback checks a callback's signature (the base64
// X-OpenDSR-Signature header) over the raw body with the key of the
// certificate pinned for the system, before anything reads the body. The
// certificate must be within its validity period.
func (r *Registry) VerifyOpenDSRCallback(system, sig string, body []byte) error {
	o, err := r.openDSR(system)
	if err != nil {
		return err
	}
	cert := o.Certificate()
	if cert == nil {
		return fmt.Errorf("%w: system %q has no certificate loaded", ErrBadSignature, system)
	}
	if strings.TrimSpace(sig) == "" {
		return ErrNoSignature
	}
	if now := r.now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("%w: the certificate of system %q is not valid now (from %s to %s)", ErrBadSignature, system,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	raw, err := decodeSignature(sig)
	if err != nil {
		return fmt.Errorf("%w: the header is not base64", ErrBadSignature)
	}
	if !verifySignature(cert.PublicKey, raw, body) {
		return ErrBadSignature
	}
	return nil
}

// decodeSignature reads base64 with or without padding; the spec's own
// examples break it over lines, so white space is dropped first.
func decodeSignature(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// verifySignature checks sig over SHA-256 of body: RSA (PKCS #1 v1.5 or
// PSS) and ECDSA (ASN.1) as FIPS 186-4 has them, and Ed25519 (which
// hashes itself).
func verifySignature(key any, sig, body []byte) bool {
	sum := sha256.Sum256(body)
	switch k := key.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil ||
			rsa.VerifyPSS(k, crypto.SHA256, sum[:], sig, nil) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, sum[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, body, sig)
	}
	return false
}
