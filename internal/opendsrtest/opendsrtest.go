// Package opendsrtest is an OpenDSR processor for tests, in-process over
// TLS (httptest): it takes requests (POST /v1/requests), answers their
// status (GET /v1/requests/{id}) and sends status callbacks signed with a
// private key of its own, whose certificate it writes as PEM for the
// portal's inventory to pin.
package opendsrtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options shape the processor.
type Options struct {
	// RSA signs with an RSA key (PKCS #1 v1.5); the default is ECDSA P-256.
	RSA bool
	// Token, when set, is the bearer token every call must carry.
	Token string
}

// Request is one request the processor took.
type Request struct {
	ID          string
	Type        string
	Regulation  string
	Email       string
	CallbackURL string
	Status      string
	Body        map[string]any
	Header      http.Header
}

// Processor is the running processor.
type Processor struct {
	Server   *httptest.Server
	CertFile string
	key      crypto.Signer
	token    string

	mu       sync.Mutex
	requests map[string]*Request
	order    []string
	gets     int
	postWith int // answer POSTs with this status instead (0: take them)
}

// Start runs a processor until the test ends.
func Start(t testing.TB, o Options) *Processor {
	t.Helper()
	p := &Processor{requests: map[string]*Request{}, token: o.Token}
	var err error
	if o.RSA {
		p.key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.CertFile = WriteCert(t, p.key, "opendsr.processor.test")
	p.Server = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	return p
}

// WriteCert writes a certificate for key's public half as PEM.
func WriteCert(t testing.TB, key crypto.Signer, name string) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// APIURL is what the inventory's api_url names.
func (p *Processor) APIURL() string { return p.Server.URL + "/v1" }

// Client trusts the processor's TLS certificate.
func (p *Processor) Client() *http.Client { return p.Server.Client() }

func (p *Processor) serve(w http.ResponseWriter, r *http.Request) {
	if p.token != "" && r.Header.Get("Authorization") != "Bearer "+p.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"code": 401, "message": "no token"}})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/requests":
		p.take(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/requests/"):
		p.status(w, strings.TrimPrefix(r.URL.Path, "/v1/requests/"))
	default:
		http.NotFound(w, r)
	}
}

func (p *Processor) take(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID         string   `json:"subject_request_id"`
		Type       string   `json:"subject_request_type"`
		Submitted  string   `json:"submitted_time"`
		Regulation string   `json:"regulation"`
		Callbacks  []string `json:"status_callback_urls"`
		Identities []struct {
			Type   string `json:"identity_type"`
			Value  string `json:"identity_value"`
			Format string `json:"identity_format"`
		} `json:"subject_identities"`
	}
	raw, _ := io.ReadAll(r.Body)
	var all map[string]any
	if json.Unmarshal(raw, &body) != nil || json.Unmarshal(raw, &all) != nil || body.ID == "" || len(body.Identities) != 1 ||
		len(body.Callbacks) != 1 || body.Identities[0].Type != "email" || body.Identities[0].Format != "raw" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "malformed request"}})
		return
	}
	if _, err := time.Parse(time.RFC3339, body.Submitted); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "submitted_time"}})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.postWith != 0 {
		writeJSON(w, p.postWith, map[string]any{"error": map[string]any{"code": p.postWith, "message": "unavailable"}})
		return
	}
	if _, dup := p.requests[body.ID]; dup {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": "duplicate subject_request_id"}})
		return
	}
	p.requests[body.ID] = &Request{ID: body.ID, Type: body.Type, Regulation: body.Regulation, Email: body.Identities[0].Value,
		CallbackURL: body.Callbacks[0], Status: "pending", Body: all, Header: r.Header.Clone()}
	p.order = append(p.order, body.ID)
	p.signed(w, http.StatusCreated, map[string]any{"controller_id": "portal", "subject_request_id": body.ID,
		"received_time": time.Now().UTC().Format(time.RFC3339), "expected_completion_time": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"encoded_request": base64.StdEncoding.EncodeToString(raw)})
}

func (p *Processor) status(w http.ResponseWriter, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets++
	req, ok := p.requests[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "unknown request"}})
		return
	}
	p.signed(w, http.StatusOK, p.statusBody(req, ""))
}

func (p *Processor) statusBody(req *Request, callbackURL string) map[string]any {
	m := map[string]any{"controller_id": "portal", "subject_request_id": req.ID, "request_status": req.Status,
		"expected_completion_time": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339), "api_version": "1.0"}
	if callbackURL != "" {
		m["status_callback_url"] = callbackURL
	}
	if req.Status == "completed" {
		m["results_count"] = 3
	}
	return m
}

// signed writes v as JSON with the processor's signature, as OpenDSR
// answers are.
func (p *Processor) signed(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("X-OpenDSR-Processor-Domain", "opendsr.processor.test")
	w.Header().Set("X-OpenDSR-Signature", p.Sign(b))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Sign is the base64 signature of body by the processor's key.
func (p *Processor) Sign(body []byte) string { return SignWith(p.key, body) }

// SignWith signs SHA-256 of body with key (PKCS #1 v1.5 for RSA, ASN.1
// for ECDSA).
func SignWith(key crypto.Signer, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// PostWith makes the processor refuse new requests with this status (0:
// take them again).
func (p *Processor) PostWith(code int) {
	p.mu.Lock()
	p.postWith = code
	p.mu.Unlock()
}

// Requests lists what the processor took, in order.
func (p *Processor) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, 0, len(p.order))
	for _, id := range p.order {
		out = append(out, *p.requests[id])
	}
	return out
}

// StatusReads counts the status GETs answered.
func (p *Processor) StatusReads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets
}

// SetStatus changes a request's status without calling back (the
// portal's polling must find it).
func (p *Processor) SetStatus(id, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.requests[id]; ok {
		r.Status = status
	}
}

// CallbackBody is the body of a status callback about request id.
func (p *Processor) CallbackBody(id, status string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	req, ok := p.requests[id]
	if !ok {
		req = &Request{ID: id, CallbackURL: ""}
	}
	cp := *req
	cp.Status = status
	b, _ := json.Marshal(p.statusBody(&cp, req.CallbackURL))
	return b
}

// Callback sets request id's status and tells the portal at the
// callback URL it gave, signed.
func (p *Processor) Callback(id, status string) (int, []byte) {
	p.SetStatus(id, status)
	body := p.CallbackBody(id, status)
	return Post(p.callbackURL(id), body, p.Sign(body))
}

func (p *Processor) callbackURL(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.requests[id]; ok {
		return r.CallbackURL
	}
	return ""
}

// Post sends a callback body with the signature given ("" leaves the
// header out) and returns the answer.
func Post(url string, body []byte, signature string) (int, []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-OpenDSR-Processor-Domain", "opendsr.processor.test")
	if signature != "" {
		req.Header.Set("X-OpenDSR-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
