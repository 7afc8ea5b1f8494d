package connectors

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"rightsportal/config"
	"rightsportal/internal/opendsrtest"
	"rightsportal/workflow"
)

const processorToken = "processor-api-token-0123456789"

// newProcessor starts an OpenDSR processor and a registry whose "adtech"
// system reaches it, with its certificate pinned.
func newProcessor(t *testing.T, rsaKey bool) (*Registry, *opendsrtest.Processor) {
	t.Helper()
	p := opendsrtest.Start(t, opendsrtest.Options{RSA: rsaKey, Token: processorToken})
	o := &config.OpenDSR{APIURL: p.APIURL(), CertificateFile: p.CertFile, Token: processorToken}
	if err := o.LoadCertificate(); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry([]config.System{{Code: "adtech", Name: "AdTech", Connector: config.Connector{
		Kind: config.ConnectorOpenDSR, OpenDSR: o}}}, p.Client(), time.Now)
	t.Cleanup(func() { reg.Close() })
	return reg, p
}

func submission(t *testing.T) OpenDSRSubmission {
	id, err := NewSubjectRequestID()
	if err != nil || !ValidSubjectRequestID(id) {
		t.Fatalf("id %q: %v", id, err)
	}
	return OpenDSRSubmission{SubjectRequestID: id, Regulation: "gdpr", SubmittedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		CallbackURL: "https://portal.example.org/api/v1/opendsr/adtech/callbacks/" + id}
}

// TestOpenDSRSubmitAndStatus: the request carries what OpenDSR asks
// (type, identity, regulation, time, callback) and the bearer token; its
// status is read back; an id the processor does not know is said so.
func TestOpenDSRSubmitAndStatus(t *testing.T) {
	reg, p := newProcessor(t, true)
	ctx := context.Background()
	sub := submission(t)
	st, err := reg.SubmitOpenDSR(ctx, "adtech", job(workflow.TypeErasure, "Ann@Example.com"), sub)
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestStatus != OpenDSRPending || st.SubjectRequestID != sub.SubjectRequestID || st.ExpectedCompletionTime == "" {
		t.Errorf("status after submission: %+v", st)
	}
	got := p.Requests()
	if len(got) != 1 || got[0].ID != sub.SubjectRequestID || got[0].Type != "erasure" || got[0].Email != ann ||
		got[0].Regulation != "gdpr" || got[0].CallbackURL != sub.CallbackURL || got[0].Body["submitted_time"] != "2026-03-01T10:00:00Z" {
		t.Fatalf("processor took %+v", got)
	}
	if got[0].Header.Get("Authorization") != "Bearer "+processorToken {
		t.Errorf("no bearer token sent")
	}
	p.SetStatus(sub.SubjectRequestID, OpenDSRCompleted)
	st, err = reg.OpenDSRStatusOf(ctx, "adtech", sub.SubjectRequestID)
	if err != nil || st.RequestStatus != OpenDSRCompleted || st.ResultsCount == nil || *st.ResultsCount != 3 {
		t.Errorf("status: %+v %v", st, err)
	}
	other := submission(t)
	if _, err := reg.OpenDSRStatusOf(ctx, "adtech", other.SubjectRequestID); !errors.Is(err, ErrUnknownAtSource) || !errors.Is(err, ErrPermanent) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := reg.SubmitOpenDSR(ctx, "adtech", job(workflow.TypeRectification, ann), other); !errors.Is(err, ErrPermanent) {
		t.Errorf("rectification: %v, want refused for good", err)
	}
	if _, err := reg.Run(ctx, "adtech", job(workflow.TypeErasure, ann)); !errors.Is(err, ErrPermanent) {
		t.Errorf("Run on an opendsr system: %v", err)
	}
}

// TestOpenDSRErrorClassification: a busy processor is worth a retry, a
// refusal is not, and the token never reaches an error.
func TestOpenDSRErrorClassification(t *testing.T) {
	reg, p := newProcessor(t, false)
	for code, perm := range map[int]bool{503: false, 429: false, 400: true, 401: true} {
		p.PostWith(code)
		_, err := reg.SubmitOpenDSR(context.Background(), "adtech", job(workflow.TypeAccess, ann), submission(t))
		if err == nil || errors.Is(err, ErrPermanent) != perm || strings.Contains(err.Error(), processorToken) {
			t.Errorf("%d: %v, want permanent=%v", code, err, perm)
		}
	}
}

// TestOpenDSRCallbackSignature: a callback counts only when its signature
// over the raw body verifies with the pinned certificate (RSA and ECDSA),
// while that certificate is valid.
func TestOpenDSRCallbackSignature(t *testing.T) {
	for _, rsaKey := range []bool{true, false} {
		reg, p := newProcessor(t, rsaKey)
		body := []byte(`{"subject_request_id":"x","request_status":"completed"}`)
		sig := p.Sign(body) // ECDSA signs differently each time: sign once
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for name, c := range map[string]struct {
			system string
			sig    string
			body   []byte
			want   error
		}{
			"good":           {"adtech", p.Sign(body), body, nil},
			"line-broken":    {"adtech", sig[:20] + "\n " + sig[20:], body, nil},
			"tampered":       {"adtech", p.Sign(body), []byte(strings.Replace(string(body), "x", "y", 1)), ErrBadSignature},
			"other key":      {"adtech", opendsrtest.SignWith(other, body), body, ErrBadSignature},
			"not base64":     {"adtech", "%%%", body, ErrBadSignature},
			"none":           {"adtech", "", body, ErrNoSignature},
			"unknown system": {"crm", p.Sign(body), body, ErrNotOpenDSR},
		} {
			if err := reg.VerifyOpenDSRCallback(c.system, c.sig, c.body); !errors.Is(err, c.want) {
				t.Errorf("rsa=%v %s: %v, want %v", rsaKey, name, err, c.want)
			}
		}
		reg.now = func() time.Time { return time.Now().Add(2 * 365 * 24 * time.Hour) }
		if err := reg.VerifyOpenDSRCallback("adtech", p.Sign(body), body); !errors.Is(err, ErrBadSignature) ||
			!strings.Contains(err.Error(), "not valid now") {
			t.Errorf("expired certificate: %v", err)
		}
	}
	for body, ok := range map[string]bool{
		`{"subject_request_id":"a","request_status":"in_progress","extensions":{"x":1}}`: true,
		`{"subject_request_id":"a","request_status":"done"}`:                             false,
		`{"request_status":"completed"}`:                                                 false,
		`[1]`:                                                                            false,
	} {
		if _, err := ParseOpenDSRStatus([]byte(body)); (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadCallback)) {
			t.Errorf("%s: %v", body, err)
		}
	}
}
