// Package webhook delivers Event Grid events to webhooks over HTTP(S), in
// Event Grid's schema and with its headers, and performs the validation
// handshake of a new endpoint.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
)

// Timeout is how long Event Grid waits for an endpoint's response.
const Timeout = 30 * time.Second

// Sender implements eventgrid.Sender.
type Sender struct {
	Client *http.Client
}

var _ eventgrid.Sender = (*Sender)(nil)

// New returns a Sender that trusts the system's roots and, if roots is not
// nil, those too. It follows no redirects, as Event Grid does not.
func New(roots *x509.CertPool) *Sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &Sender{Client: &http.Client{
		Transport: tr,
		Timeout:   Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// event is an event in Event Grid's schema.
type event struct {
	ID              string          `json:"id"`
	Topic           string          `json:"topic"`
	Subject         string          `json:"subject"`
	Data            json.RawMessage `json:"data"`
	EventType       string          `json:"eventType"`
	DataVersion     string          `json:"dataVersion"`
	MetadataVersion string          `json:"metadataVersion"`
	EventTime       string          `json:"eventTime"`
}

// Encode returns events as Event Grid posts them: a JSON array.
func Encode(events []eventgrid.Event) []byte {
	out := make([]event, len(events))
	for i, e := range events {
		data := json.RawMessage(e.Data)
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		out[i] = event{
			ID: e.ID, Topic: e.Topic, Subject: e.Subject, Data: data, EventType: e.Type,
			DataVersion: e.DataVersion, MetadataVersion: "1", EventTime: e.Time.UTC().Format(time.RFC3339Nano),
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic("webhook: event data is not JSON: " + err.Error()) // the raising service built it
	}
	return b
}

// Deliver implements eventgrid.Sender.
func (s *Sender) Deliver(ctx context.Context, sub eventgrid.Subscription, events []eventgrid.Event, deliveryCount int) (int, error) {
	req, err := s.request(ctx, sub.Endpoint, Encode(events), "Notification")
	if err != nil {
		return 0, err
	}
	req.Header.Set("aeg-subscription-name", strings.ToUpper(sub.Name))
	req.Header.Set("aeg-delivery-count", strconv.Itoa(deliveryCount))
	if len(events) > 0 {
		req.Header.Set("aeg-data-version", events[0].DataVersion)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver to %s: %w", redact(sub.Endpoint), stripURL(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // reuse the connection if cheap
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Validate implements eventgrid.Sender.
func (s *Sender) Validate(ctx context.Context, endpoint string, ev eventgrid.Event, code string) error {
	fail := func(format string, args ...any) error {
		return tresor.Errorf(tresor.Invalid, "Webhook validation handshake failed for %s: %s. The endpoint must answer the SubscriptionValidation event (header aeg-event-type: SubscriptionValidation) with 200 and {\"validationResponse\": \"<validationCode>\"}.",
			redact(endpoint), fmt.Sprintf(format, args...)).WithReason(eventgrid.ReasonBadRequest)
	}
	req, err := s.request(ctx, endpoint, Encode([]eventgrid.Event{ev}), "SubscriptionValidation")
	if err != nil {
		return fail("%v", err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return fail("the POST failed: %v", stripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("the POST returned HTTP %d", resp.StatusCode)
	}
	var answer struct {
		ValidationResponse string `json:"validationResponse"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer); err != nil || answer.ValidationResponse != code {
		return fail("the response did not carry the validation code")
	}
	return nil
}

func (s *Sender) request(ctx context.Context, endpoint string, body []byte, eventType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", redact(endpoint), stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("aeg-event-type", eventType)
	req.Header.Set("aeg-metadata-version", "1")
	req.Header.Set("User-Agent", "tresor-eventgrid")
	return req, nil
}

// redact drops an endpoint's query, which may hold a secret.
func redact(endpoint string) string {
	return eventgrid.Subscription{Endpoint: endpoint}.EndpointBase()
}

// stripURL removes the URL, which may hold a secret, from a client error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
