package service

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"rightsportal/connectors"
	"rightsportal/models"
	"rightsportal/workflow"
)

// Audit actions of the webhook endpoints (system events, like tokens').
const (
	ActionWebhookCreate    = "webhook_create"
	ActionWebhookDisable   = "webhook_disable"
	ActionWebhookRedeliver = "webhook_redeliver"
)

// WebhookSecretPrefix starts every endpoint's signing secret, so a
// leaked one is recognisable in a scanner or a log.
const WebhookSecretPrefix = "whsec_"

// WebhookInput is an endpoint as an admin registers it.
type WebhookInput struct {
	URL             string
	Events          []string
	IncludePersonal bool
	Description     string
}

// reach is what the operator lets endpoints address.
func (s *Service) reach() connectors.Reach {
	return connectors.Reach{Loopback: s.cfg.Webhooks.AllowLoopback, Private: s.cfg.Webhooks.AllowPrivate}
}

// RegisterWebhook stores an endpoint for an admin and returns it with its
// signing secret, which is shown this once: the receiver needs it, and
// the portal keeps it sealed.
func (s *Service) RegisterWebhook(ctx context.Context, actor *models.Staff, in WebhookInput) (*models.WebhookEndpoint, string, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, "", err
	}
	bad := map[string]string{}
	u, err := s.reach().CheckURL(in.URL)
	if err != nil {
		bad["url"] = "The URL is not allowed: " + err.Error() + "."
	}
	events, err := checkEvents(in.Events)
	if err != nil {
		bad["events"] = err.Error()
	}
	desc := strings.TrimSpace(in.Description)
	if len([]rune(desc)) > 200 || strings.ContainsFunc(desc, func(r rune) bool { return r < ' ' }) {
		bad["description"] = "Keep the description to one line of at most 200 characters."
	}
	if len(bad) > 0 {
		return nil, "", &ValidationError{Fields: bad}
	}
	var raw [24]byte
	rand.Read(raw[:])
	secret := WebhookSecretPrefix + hex.EncodeToString(raw[:])
	sealed, err := s.sealHook(secret)
	if err != nil {
		return nil, "", err
	}
	e := &models.WebhookEndpoint{URL: u.String(), Events: strings.Join(events, ","), IncludePersonal: in.IncludePersonal,
		Description: desc, Sealed: sealed, SecretPrefix: secret[:len(WebhookSecretPrefix)+4], CreatedBy: actor.ID}
	err = s.store.CreateWebhookEndpoint(ctx, s.now(), e, func(e *models.WebhookEndpoint) *models.Event {
		return hookEvent(ActionWebhookCreate, "", "active", actor, describeEndpoint(e))
	})
	if err != nil {
		return nil, "", err
	}
	s.log.InfoContext(ctx, "webhook endpoint registered", "endpoint", e.ID, "host", u.Host, "actor", actor.ID)
	return e, secret, nil
}

// checkEvents keeps the known events, in their usual order, once each.
func checkEvents(in []string) ([]string, error) {
	var out []string
	for _, ev := range models.HookEvents() {
		if slices.Contains(in, ev) {
			out = append(out, ev)
		}
	}
	for _, ev := range in {
		if !slices.Contains(models.HookEvents(), ev) {
			return nil, fmt.Errorf("%q is not an event; choose from %s.", clip(ev, 40), strings.Join(models.HookEvents(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("Choose at least one event.")
	}
	return out, nil
}

func describeEndpoint(e *models.WebhookEndpoint) string {
	d := fmt.Sprintf("webhook endpoint %d %s for %s", e.ID, e.URL, e.Events)
	if e.IncludePersonal {
		d += ", with the subject's personal data"
	}
	return clip(d, 1000)
}

func hookEvent(action, from, to string, actor *models.Staff, reason string) *models.Event {
	return &models.Event{Action: action, FromState: from, ToState: to, ActorKind: string(workflow.ActorStaff),
		ActorID: actor.ID, Reason: reason}
}

// DisableWebhook stops an endpoint for good; its queued deliveries are
// marked failed when their turn comes.
func (s *Service) DisableWebhook(ctx context.Context, actor *models.Staff, id int64) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	err := s.store.DisableWebhookEndpoint(ctx, s.now(), id, func(e *models.WebhookEndpoint) *models.Event {
		return hookEvent(ActionWebhookDisable, "active", "disabled", actor, describeEndpoint(e))
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "webhook endpoint disabled", "endpoint", id, "actor", actor.ID)
	return nil
}

// WebhookEndpoints lists the endpoints for an admin.
func (s *Service) WebhookEndpoints(ctx context.Context, actor *models.Staff) ([]models.WebhookEndpoint, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	return s.store.WebhookEndpoints(ctx)
}

// WebhookDeliveries is an endpoint's delivery log for an admin, newest
// first, at most limit.
func (s *Service) WebhookDeliveries(ctx context.Context, actor *models.Staff, endpointID int64, limit int) ([]models.WebhookDelivery, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	if _, err := s.store.WebhookEndpoint(ctx, endpointID); err != nil {
		return nil, err
	}
	return s.store.WebhookDeliveries(ctx, endpointID, limit)
}

// ErrEndpointDisabled: the delivery's endpoint was disabled; nothing is
// sent to it any more.
var ErrEndpointDisabled = errors.New("service: the webhook endpoint is disabled")

// RedeliverWebhook sends a delivery again (the admin's "send again"):
// after a receiver lost one, or once it is back after the retries ran
// out. The delivery keeps its id, so a receiver that has it can tell.
func (s *Service) RedeliverWebhook(ctx context.Context, actor *models.Staff, endpointID int64, deliveryID string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	d, err := s.store.WebhookDelivery(ctx, deliveryID)
	if err != nil {
		return err
	}
	if d.EndpointID != endpointID {
		return fmt.Errorf("%w: webhook delivery of endpoint %d", models.ErrNotFound, endpointID)
	}
	e, err := s.store.WebhookEndpoint(ctx, endpointID)
	if err != nil {
		return err
	}
	if e.DisabledAt != nil {
		return ErrEndpointDisabled
	}
	return s.store.RedeliverWebhook(ctx, s.now(), deliveryID, func(d *models.WebhookDelivery) *models.Event {
		return hookEvent(ActionWebhookRedeliver, d.State, models.DeliveryPending, actor,
			fmt.Sprintf("delivery %s (%s, request %s) to webhook endpoint %d", d.ID, d.Event, d.RequestID, d.EndpointID))
	})
}

// The headers of an event delivery, besides the connector's signature
// headers (X-Portal-Delivery, X-Portal-Timestamp, X-Portal-Signature).
const headerEvent = "X-Portal-Event"

// DeliverWebhook makes one attempt at a delivery (the job's work). A 2xx
// answer delivers it; anything else is an error the job retries with
// backoff, and on the last attempt (last) the delivery is marked failed
// for the admin to send again. A delivery no longer pending, or whose
// endpoint is disabled, is left alone.
func (s *Service) DeliverWebhook(ctx context.Context, id string, last bool) error {
	d, err := s.store.WebhookDelivery(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if d.State != models.DeliveryPending {
		return nil
	}
	e, err := s.store.WebhookEndpoint(ctx, d.EndpointID)
	if err != nil {
		return err
	}
	if e.DisabledAt != nil {
		return s.store.MarkWebhookDelivery(ctx, s.now(), id, models.DeliveryOutcome{State: models.DeliveryFailed,
			Error: "not sent: the endpoint was disabled"})
	}
	body, err := s.hookBody(ctx, d, e)
	if err != nil {
		return err
	}
	secret, err := s.openHook(e.Sealed)
	if err != nil {
		return err
	}
	code, sendErr := s.postHook(ctx, e.URL, d, secret, body)
	out := models.DeliveryOutcome{State: models.DeliveryDelivered, Code: code}
	if sendErr != nil {
		out = models.DeliveryOutcome{State: models.DeliveryPending, Code: code, Error: clip(sendErr.Error(), 300)}
		if last {
			out.State = models.DeliveryFailed
		}
	}
	// The mark must not depend on the call's context: a receiver that
	// took the whole timeout still gets its attempt counted.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.MarkWebhookDelivery(mctx, s.now(), id, out); err != nil {
		return err
	}
	if sendErr != nil {
		s.log.WarnContext(ctx, "webhook delivery failed", "endpoint", e.ID, "delivery", d.ID, "event", d.Event,
			"status", code, "last_attempt", last, "error", out.Error)
		return sendErr
	}
	return nil
}

// hookBody is the stored payload, with the subject's data added when the
// endpoint asked for it and the request still holds it.
func (s *Service) hookBody(ctx context.Context, d *models.WebhookDelivery, e *models.WebhookEndpoint) ([]byte, error) {
	if !e.IncludePersonal {
		return []byte(d.Payload), nil
	}
	var p models.HookPayload
	if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
		return nil, fmt.Errorf("service: delivery %s payload: %w", d.ID, err)
	}
	r, err := s.store.Request(ctx, d.RequestID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, err
	}
	if err == nil && r.PurgedAt == nil {
		details := json.RawMessage(r.Details)
		if !json.Valid(details) {
			details = json.RawMessage("{}")
		}
		p.Subject = &models.HookSubject{Email: r.Email, Name: r.FullName, Details: details}
	}
	return json.Marshal(p)
}

// postHook makes the signed call; the status code is 0 when no answer
// came.
func (s *Service) postHook(ctx context.Context, url string, d *models.WebhookDelivery, secret string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Webhooks.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rightsportal-webhooks/1")
	req.Header.Set(headerEvent, d.Event)
	req.Header.Set("X-Portal-Delivery", d.ID)
	req.Header.Set("X-Portal-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Portal-Signature", connectors.Sign(secret, ts, body))
	resp, err := s.hookClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %d: %s", resp.StatusCode, clip(strings.ToValidUTF8(string(data), "?"), 200))
	}
	return resp.StatusCode, nil
}

// hookClient is the SSRF-guarded client, built once.
func (s *Service) hookClient() *http.Client {
	s.hookOnce.Do(func() { s.hooks = s.reach().Client(s.cfg.Webhooks.Timeout.D()) })
	return s.hooks
}

// sealHook encrypts an endpoint's signing secret with AES-256-GCM under a
// key of its own, derived from the master key.
func (s *Service) sealHook(secret string) ([]byte, error) {
	aead, err := s.hookAEAD()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(secret), []byte("webhook")), nil
}

func (s *Service) openHook(sealed []byte) (string, error) {
	aead, err := s.hookAEAD()
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("service: sealed webhook secret is truncated")
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte("webhook"))
	if err != nil {
		return "", fmt.Errorf("service: webhook secret does not open with this key: %w", err)
	}
	return string(plain), nil
}

func (s *Service) hookAEAD() (cipher.AEAD, error) {
	if len(s.hookKey) == 0 {
		return nil, errors.New("service: no secret key for webhook secrets (WithSecrets)")
	}
	block, err := aes.NewCipher(s.hookKey)
	if err != nil {
		return nil, fmt.Errorf("service: webhook key: %w", err)
	}
	return cipher.NewGCM(block)
}
