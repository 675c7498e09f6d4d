package eghttp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/armtest"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/sqlite"
)

const secret = "s3cret-code"

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestWire(t *testing.T) {
	s := eventgrid.Subscription{
		Scope: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v", Name: "sub-1",
		Endpoint:          "https://user:pw@hooks.example/events?code=" + secret,
		MaxEventsPerBatch: 10, PreferredBatchSizeKB: 128,
		Filter:              eventgrid.Filter{IncludedEventTypes: []string{eventgrid.KeyExpired}, SubjectBeginsWith: "a", SubjectEndsWith: "z", SubjectCaseSensitive: true},
		Labels:              []string{"l1"},
		MaxDeliveryAttempts: 5, EventTTL: 90 * time.Minute,
		Created: t0, Updated: t0.Add(time.Hour),
	}
	got, err := json.Marshal(wire(s))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.EventGrid/eventSubscriptions/sub-1",` +
		`"name":"sub-1","type":"Microsoft.EventGrid/eventSubscriptions","properties":{` +
		`"topic":"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v","provisioningState":"Succeeded",` +
		`"destination":{"endpointType":"WebHook","properties":{"endpointBaseUrl":"https://hooks.example/events","maxEventsPerBatch":10,"preferredBatchSizeInKilobytes":128}},` +
		`"filter":{"includedEventTypes":["Microsoft.KeyVault.KeyExpired"],"subjectBeginsWith":"a","subjectEndsWith":"z","isSubjectCaseSensitive":true},` +
		`"labels":["l1"],"eventDeliverySchema":"EventGridSchema","retryPolicy":{"maxDeliveryAttempts":5,"eventTimeToLiveInMinutes":90}},` +
		`"systemData":{"createdAt":"2026-11-23T12:00:00Z","lastModifiedAt":"2026-11-23T13:00:00Z"}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("wire (-want +got):\n%s", diff)
	}

	// The zero filter shows an empty list of types, as Azure does.
	s.Filter, s.Labels = eventgrid.Filter{}, nil
	got, err = json.Marshal(wire(s))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"filter":{"includedEventTypes":[],"subjectBeginsWith":"","subjectEndsWith":"","isSubjectCaseSensitive":false}`) ||
		strings.Contains(string(got), `"labels"`) {
		t.Errorf("wire with the zero filter and no labels = %s", got)
	}
}

func TestRefuseUnsupported(t *testing.T) {
	webhook := func() *destination {
		return &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{EndpointURL: "https://h/"}}
	}
	tests := []struct {
		name       string
		in         subscriptionProperties
		wantTarget string // "" if accepted
	}{
		{"minimal", subscriptionProperties{Destination: webhook()}, ""},
		{"no destination (PATCH)", subscriptionProperties{}, ""},
		{"endpoint type in another case", subscriptionProperties{Destination: &destination{EndpointType: "webhook"}}, ""},
		{"Event Grid schema", subscriptionProperties{EventDeliverySchema: "eventgridschema"}, ""},
		{"simple filter", subscriptionProperties{Filter: &filter{IncludedEventTypes: []string{"x"}, SubjectBeginsWith: "a"}}, ""},
		{"empty advanced filters", subscriptionProperties{Filter: &filter{AdvancedFilters: []any{}}}, ""},
		{"read-only fields a client echoes", subscriptionProperties{Topic: "t", ProvisioningState: "Succeeded"}, ""},

		{"delivery identity", subscriptionProperties{DeliveryWithResourceIdentity: map[string]any{}}, "properties.deliveryWithResourceIdentity"},
		{"dead-letter destination", subscriptionProperties{DeadLetterDestination: map[string]any{"endpointType": "StorageBlob"}}, "properties.deadLetterDestination"},
		{"dead-letter identity", subscriptionProperties{DeadLetterWithResourceIdentity: map[string]any{}}, "properties.deadLetterDestination"},
		{"expiration", subscriptionProperties{ExpirationTimeUTC: new("2030-01-01T00:00:00Z")}, "properties.expirationTimeUtc"},
		{"CloudEvents", subscriptionProperties{EventDeliverySchema: "CloudEventSchemaV1_0"}, "properties.eventDeliverySchema"},
		{"custom schema", subscriptionProperties{EventDeliverySchema: "CustomInputSchema"}, "properties.eventDeliverySchema"},
		{"advanced filters", subscriptionProperties{Filter: &filter{AdvancedFilters: []any{map[string]any{"key": "subject"}}}}, "properties.filter.advancedFilters"},
		{"event hub", subscriptionProperties{Destination: &destination{EndpointType: "EventHub"}}, "properties.destination.endpointType"},
		{"no endpoint type", subscriptionProperties{Destination: &destination{}}, "properties.destination.endpointType"},
		{"Entra tenant", subscriptionProperties{Destination: &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{AzureActiveDirectoryTenantID: "t"}}},
			"properties.destination.properties.azureActiveDirectoryApplicationIdOrUri"},
		{"Entra application", subscriptionProperties{Destination: &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{AzureActiveDirectoryApplicationIDOrURI: "a"}}},
			"properties.destination.properties.azureActiveDirectoryApplicationIdOrUri"},
		{"attribute mappings", subscriptionProperties{Destination: &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{DeliveryAttributeMappings: []any{1}}}},
			"properties.destination.properties.deliveryAttributeMappings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := refuseUnsupported(&tt.in)
			if tt.wantTarget == "" {
				if err != nil {
					t.Errorf("refuseUnsupported = %v, want nil", err)
				}
				return
			}
			if tresor.KindOf(err) != tresor.Invalid || tresor.ReasonOf(err) != eventgrid.ReasonBadRequest {
				t.Errorf("refuseUnsupported = %v, want Invalid with reason %s", err, eventgrid.ReasonBadRequest)
			}
			// WithTarget prefixes the target to the error's text.
			if err != nil && !strings.HasPrefix(err.Error(), tt.wantTarget+": ") {
				t.Errorf("refuseUnsupported = %q, want target %s", err, tt.wantTarget)
			}
		})
	}
}

func TestApply(t *testing.T) {
	base := eventgrid.Subscription{
		Scope: "scope", Name: "n", Endpoint: "https://old/", MaxEventsPerBatch: 2, PreferredBatchSizeKB: 3,
		Filter: eventgrid.Filter{SubjectBeginsWith: "old"}, Labels: []string{"old"}, MaxDeliveryAttempts: 4, EventTTL: 5 * time.Minute,
	}
	tests := []struct {
		name string
		in   updateParameters
		want func(s *eventgrid.Subscription)
	}{
		{"nothing", updateParameters{}, nil},
		{"destination without properties", updateParameters{Destination: &destination{EndpointType: "WebHook"}}, nil},
		{"empty endpoint keeps it", updateParameters{Destination: &destination{Properties: &destinationWebhookCfg{MaxEventsPerBatch: new(9)}}},
			func(s *eventgrid.Subscription) { s.MaxEventsPerBatch = 9 }},
		{"destination", updateParameters{Destination: &destination{Properties: &destinationWebhookCfg{
			EndpointURL: "https://new/", PreferredBatchSizeInKilobytes: new(99)}}},
			func(s *eventgrid.Subscription) { s.Endpoint, s.PreferredBatchSizeKB = "https://new/", 99 }},
		{"filter replaced whole", updateParameters{Filter: &filter{IncludedEventTypes: []string{"t"}, SubjectEndsWith: "e", IsSubjectCaseSensitive: true}},
			func(s *eventgrid.Subscription) {
				s.Filter = eventgrid.Filter{IncludedEventTypes: []string{"t"}, SubjectEndsWith: "e", SubjectCaseSensitive: true}
			}},
		{"labels", updateParameters{Labels: []string{}}, func(s *eventgrid.Subscription) { s.Labels = []string{} }},
		{"retry policy", updateParameters{RetryPolicy: &retryPolicy{MaxDeliveryAttempts: new(7), EventTimeToLiveInMinutes: new(60)}},
			func(s *eventgrid.Subscription) { s.MaxDeliveryAttempts, s.EventTTL = 7, time.Hour }},
		{"retry policy, TTL only", updateParameters{RetryPolicy: &retryPolicy{EventTimeToLiveInMinutes: new(1)}},
			func(s *eventgrid.Subscription) { s.EventTTL = time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base
			got.Labels = append([]string(nil), base.Labels...)
			patchOf(&tt.in).Apply(&got)
			want := base
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("patchOf(...).Apply (-want +got):\n%s", diff)
			}
		})
	}
}

// sender accepts every handshake and counts them.
type sender struct {
	mu          sync.Mutex
	validations int
}

func (s *sender) Deliver(context.Context, eventgrid.Subscription, []eventgrid.Event, int) (int, error) {
	return 200, nil
}

func (s *sender) Validate(context.Context, string, eventgrid.Event, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validations++
	return nil
}

const (
	tenant = "10000000-0000-4000-8000-000000000000"
	token  = "good-token"
)

// fixture is the ARM front door serving the provider, with one vault as a
// topic.
type fixture struct {
	h      http.Handler
	sender *sender
	vault  string // the vault's ARM id, as the client spells it in paths
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	svc := arm.NewService(armtest.NewMemStore())
	sub, err := svc.Bootstrap(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	canonical := "/subscriptions/" + sub.ID + "/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/Vault1"
	topic := func(ctx context.Context, scope string) (eventgrid.Topic, error) {
		if !strings.EqualFold(scope, canonical) {
			return eventgrid.Topic{}, tresor.Errorf(tresor.NotFound, "The Resource was not found.")
		}
		return eventgrid.Topic{ID: canonical, EventTypes: eventgrid.KeyVaultEventTypes}, nil
	}
	f := &fixture{sender: &sender{}, vault: strings.ToLower(canonical)}
	events := &eventgrid.Service{Store: db, Topic: topic, Sender: f.sender, Now: func() time.Time { return t0 }, Rand: rand.Reader}
	f.h = armhttp.New(armhttp.Config{
		ARM: svc, Authority: "https://localhost/" + tenant, Providers: []armhttp.Provider{&Provider{Events: events}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticate: func(ctx context.Context, tok string) (tresor.Principal, error) {
			if tok != token {
				return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "bad token")
			}
			return tresor.Principal{TenantID: tenant, ObjectID: "o1"}, nil
		},
	})
	return f
}

type response struct {
	status int
	body   string
}

func (f *fixture) do(t *testing.T, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path+"?api-version=2022-06-15", rd)
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return response{w.Code, w.Body.String()}
}

// resource decodes a response's subscription resource.
func (r response) resource(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

func TestHandlers(t *testing.T) {
	f := newFixture(t)
	one := f.vault + "/providers/Microsoft.EventGrid/eventSubscriptions/sub-1"
	endpoint := "https://hooks.example/events?code=" + secret
	put := `{"properties":{"destination":{"endpointType":"WebHook","properties":{"endpointUrl":"` + endpoint + `","maxEventsPerBatch":5}},` +
		`"filter":{"includedEventTypes":["microsoft.keyvault.keyexpired"]},"retryPolicy":{"eventTimeToLiveInMinutes":60}}}`

	steps := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string // of a CloudError
		check                    func(t *testing.T, r response)
	}{
		{name: "create", method: "PUT", path: one, body: put, wantStatus: 201, check: func(t *testing.T, r response) {
			m := r.resource(t)
			props := m["properties"].(map[string]any)
			dest := props["destination"].(map[string]any)["properties"].(map[string]any)
			want := map[string]any{
				"endpointBaseUrl": "https://hooks.example/events", "maxEventsPerBatch": 5.0, "preferredBatchSizeInKilobytes": 64.0,
			}
			if diff := cmp.Diff(want, dest); diff != "" {
				t.Errorf("destination properties (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]any{"maxDeliveryAttempts": 30.0, "eventTimeToLiveInMinutes": 60.0}, props["retryPolicy"]); diff != "" {
				t.Errorf("retry policy (-want +got):\n%s", diff)
			}
			if got := props["filter"].(map[string]any)["includedEventTypes"]; !cmp.Equal(got, []any{eventgrid.KeyExpired}) {
				t.Errorf("includedEventTypes = %v, want the canonical spelling", got)
			}
			if !strings.EqualFold(m["id"].(string), one) || m["name"] != "sub-1" {
				t.Errorf("id, name = %v, %v", m["id"], m["name"])
			}
		}},
		{name: "replace", method: "PUT", path: strings.ToUpper(one[:20]) + one[20:], body: put, wantStatus: 200},
		{name: "get", method: "GET", path: one, wantStatus: 200},
		{name: "full URL", method: "POST", path: one + "/getFullUrl", wantStatus: 200, check: func(t *testing.T, r response) {
			if diff := cmp.Diff(map[string]any{"endpointUrl": endpoint}, r.resource(t)); diff != "" {
				t.Errorf("getFullUrl (-want +got):\n%s", diff)
			}
		}},
		{name: "patch", method: "PATCH", path: one, body: `{"retryPolicy":{"maxDeliveryAttempts":3}}`, wantStatus: 200, check: func(t *testing.T, r response) {
			rp := r.resource(t)["properties"].(map[string]any)["retryPolicy"]
			if diff := cmp.Diff(map[string]any{"maxDeliveryAttempts": 3.0, "eventTimeToLiveInMinutes": 60.0}, rp); diff != "" {
				t.Errorf("retry policy after PATCH (-want +got):\n%s", diff)
			}
		}},
		{name: "patch refused", method: "PATCH", path: one, body: `{"deadLetterDestination":{"endpointType":"StorageBlob"}}`, wantStatus: 400, wantCode: "BadRequest"},
		{name: "patch out of range", method: "PATCH", path: one, body: `{"retryPolicy":{"maxDeliveryAttempts":31}}`, wantStatus: 400, wantCode: "BadRequest"},
		{name: "list", method: "GET", path: f.vault + "/providers/Microsoft.EventGrid/eventSubscriptions", wantStatus: 200, check: func(t *testing.T, r response) {
			var l struct{ Value []map[string]any }
			if err := json.Unmarshal([]byte(r.body), &l); err != nil || len(l.Value) != 1 || l.Value[0]["name"] != "sub-1" {
				t.Errorf("list = %s, %v, want sub-1", r.body, err)
			}
		}},
		{name: "no endpoint", method: "PUT", path: one, body: `{"properties":{"destination":{"endpointType":"WebHook","properties":{}}}}`, wantStatus: 400, wantCode: "BadRequest"},
		{name: "no properties", method: "PUT", path: one, body: `{}`, wantStatus: 400, wantCode: "BadRequest"},
		{name: "event hub", method: "PUT", path: one,
			body:       `{"properties":{"destination":{"endpointType":"EventHub","properties":{"endpointUrl":"https://h/"}}}}`,
			wantStatus: 400, wantCode: "BadRequest"},
		{name: "http endpoint", method: "PUT", path: one,
			body:       `{"properties":{"destination":{"endpointType":"WebHook","properties":{"endpointUrl":"http://hooks.example/"}}}}`,
			wantStatus: 400, wantCode: "BadRequest"},
		{name: "other vault", method: "GET", path: strings.Replace(one, "vault1", "vault2", 1), wantStatus: 404},
		{name: "create on another vault", method: "PUT", path: strings.Replace(one, "vault1", "vault2", 1), body: put, wantStatus: 404},
		{name: "get absent", method: "GET", path: f.vault + "/providers/Microsoft.EventGrid/eventSubscriptions/absent", wantStatus: 404},
		{name: "delete", method: "DELETE", path: one, wantStatus: 200},
		{name: "delete again", method: "DELETE", path: one, wantStatus: 204},
		{name: "get deleted", method: "GET", path: one, wantStatus: 404},
	}
	for _, s := range steps {
		r := f.do(t, s.method, s.path, s.body)
		if r.status != s.wantStatus {
			t.Errorf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, r.status, r.body, s.wantStatus)
			continue
		}
		if strings.Contains(r.body, secret) && s.name != "full URL" {
			t.Errorf("%s: response %s shows the endpoint's query", s.name, r.body)
		}
		if s.wantCode != "" {
			var e struct{ Error struct{ Code string } }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code != s.wantCode {
				t.Errorf("%s: error %s, want code %s", s.name, r.body, s.wantCode)
			}
		}
		if s.check != nil {
			s.check(t, r)
		}
	}
	// One handshake: at creation; replacing with the same endpoint and
	// patching needed none.
	if f.sender.validations != 1 {
		t.Errorf("%d handshakes, want 1", f.sender.validations)
	}
}

// TestPutReplacesWhole checks that a PUT on an existing subscription
// replaces it: settings the request leaves out go back to their defaults.
func TestPutReplacesWhole(t *testing.T) {
	f := newFixture(t)
	one := f.vault + "/providers/Microsoft.EventGrid/eventSubscriptions/sub-1"
	full := `{"properties":{"destination":{"endpointType":"WebHook","properties":{"endpointUrl":"https://h/","maxEventsPerBatch":5}},` +
		`"labels":["a"],"retryPolicy":{"maxDeliveryAttempts":3}}}`
	bare := `{"properties":{"destination":{"endpointType":"WebHook","properties":{"endpointUrl":"https://h/"}}}}`
	if r := f.do(t, "PUT", one, full); r.status != 201 {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	r := f.do(t, "PUT", one, bare)
	if r.status != 200 {
		t.Fatalf("PUT again = %d %s", r.status, r.body)
	}
	var got subscriptionResource
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := subscriptionProperties{
		ProvisioningState: "Succeeded",
		Destination: &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{
			EndpointBaseURL: "https://h/", MaxEventsPerBatch: new(1), PreferredBatchSizeInKilobytes: new(64)}},
		Filter:              &filter{IncludedEventTypes: []string{}},
		EventDeliverySchema: "EventGridSchema",
		RetryPolicy:         &retryPolicy{MaxDeliveryAttempts: new(30), EventTimeToLiveInMinutes: new(1440)},
	}
	if diff := cmp.Diff(want, got.Properties, cmpopts.IgnoreFields(subscriptionProperties{}, "Topic"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("PUT without settings (-want +got):\n%s", diff)
	}
}
