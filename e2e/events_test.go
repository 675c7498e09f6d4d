package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
)

// gridEvent is an event as a webhook receives it, in Event Grid's schema.
type gridEvent struct {
	ID              string          `json:"id"`
	Topic           string          `json:"topic"`
	Subject         string          `json:"subject"`
	EventType       string          `json:"eventType"`
	EventTime       time.Time       `json:"eventTime"`
	DataVersion     string          `json:"dataVersion"`
	MetadataVersion string          `json:"metadataVersion"`
	Data            json.RawMessage `json:"data"`
}

// keyData is the data of the Key Vault events.
type keyData struct {
	ID, VaultName, ObjectType, ObjectName, Version string
	NBF, EXP                                       *int64
}

func (e gridEvent) key(tb testing.TB) keyData {
	tb.Helper()
	var d keyData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		tb.Fatalf("event data %s: %v", e.Data, err)
	}
	return d
}

// hook is a webhook endpoint on loopback that answers the validation
// handshake and records every notification. While fail is positive it
// answers notifications 503 and counts down.
type hook struct {
	srv *httptest.Server

	mu          sync.Mutex
	validations []gridEvent
	received    []gridEvent
	headers     []http.Header // one per notification request
	fail        int
	failed      int
	arrived     chan struct{}
}

func newHook(tb testing.TB) *hook {
	h := &hook{arrived: make(chan struct{}, 1000)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var evs []gridEvent
		if err := json.NewDecoder(r.Body).Decode(&evs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get("aeg-event-type") == "SubscriptionValidation" {
			h.validations = append(h.validations, evs...)
			var d struct{ ValidationCode string }
			json.Unmarshal(evs[0].Data, &d) //nolint:errcheck // checked by the caller's assertions
			json.NewEncoder(w).Encode(map[string]string{"validationResponse": d.ValidationCode})
			return
		}
		if h.fail > 0 {
			h.fail--
			h.failed++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.received = append(h.received, evs...)
		h.headers = append(h.headers, r.Header.Clone())
		h.arrived <- struct{}{}
	}))
	tb.Cleanup(h.srv.Close)
	return h
}

// wait returns once n events have been received, or fails.
func (h *hook) wait(tb testing.TB, n int) []gridEvent {
	tb.Helper()
	deadline := time.After(15 * time.Second)
	for {
		h.mu.Lock()
		got := append([]gridEvent(nil), h.received...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-h.arrived:
		case <-deadline:
			tb.Fatalf("received %d events, want %d: %+v", len(got), n, got)
		}
	}
}

// armCall sends a request through azcore's ARM pipeline (armeventgrid is
// not on the module proxy) and returns the status and body.
func (e *env) armCall(tb testing.TB, method, path string, body any) (int, []byte) {
	tb.Helper()
	c, err := arm.NewClient("tresor-e2e", "v0.0.1", e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		tb.Fatal(err)
	}
	req, err := runtime.NewRequest(context.Background(), method, runtime.JoinPaths(c.Endpoint(), path))
	if err != nil {
		tb.Fatal(err)
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", "2025-02-15")
	req.Raw().URL.RawQuery = q.Encode()
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			tb.Fatal(err)
		}
	}
	resp, err := c.Pipeline().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func subscriptionBody(endpoint string, types ...string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"destination": map[string]any{"endpointType": "WebHook", "properties": map[string]any{"endpointUrl": endpoint}},
		"filter":      map[string]any{"includedEventTypes": types},
	}}
}

// TestEventsToWebhook subscribes a webhook to a Key Vault through ARM and
// follows the key events through creation, rotation by the seed's
// policies on the virtual clock, expiry, failed deliveries and a restart.
func TestEventsToWebhook(t *testing.T) {
	dir := t.TempDir()
	cfg := cli.Config{DataDir: dir, Clock: cli.ClockVirtual, EventBackoff: []time.Duration{50 * time.Millisecond}}
	e := startWith(t, cfg)
	ctx := context.Background()
	kv := e.vault(t, "kv-events", false, nil)
	e.vault(t, "hsm-events", true, nil)
	sub := "/subscriptions/" + e.env["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/rg-e2e/providers/Microsoft.KeyVault"
	vaultID := sub + "/vaults/kv-events"
	h := newHook(t)
	endpoint := h.srv.URL + "/events?code=secret"
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer silent.Close()

	// Refusals first, each with Azure's status.
	for _, tc := range []struct {
		name, scope string
		body        any
		status      int
	}{
		{"Managed HSM", sub + "/managedHSMs/hsm-events", subscriptionBody(endpoint), 400},
		{"no such vault", sub + "/vaults/nope", subscriptionBody(endpoint), 404},
		{"unknown event type", vaultID, subscriptionBody(endpoint, "Microsoft.KeyVault.KeyRotated"), 400},
		{"http to a remote host", vaultID, subscriptionBody("http://example.com/hook"), 400},
		{"CloudEvents", vaultID, map[string]any{"properties": map[string]any{
			"destination":         map[string]any{"endpointType": "WebHook", "properties": map[string]any{"endpointUrl": endpoint}},
			"eventDeliverySchema": "CloudEventSchemaV1_0",
		}}, 400},
		{"an event hub", vaultID, map[string]any{"properties": map[string]any{
			"destination": map[string]any{"endpointType": "EventHub", "properties": map[string]any{"resourceId": "x"}},
		}}, 400},
		{"a webhook that does not validate", vaultID, subscriptionBody(silent.URL), 400},
	} {
		status, out := e.armCall(t, "PUT", tc.scope+"/providers/Microsoft.EventGrid/eventSubscriptions/es-bad", tc.body)
		if status != tc.status || !bytes.Contains(out, []byte(`"error"`)) {
			t.Errorf("%s: PUT = %d %s, want %d with an error", tc.name, status, out, tc.status)
		}
	}

	esID := vaultID + "/providers/Microsoft.EventGrid/eventSubscriptions/es-keys"
	status, out := e.armCall(t, "PUT", esID, subscriptionBody(endpoint,
		"Microsoft.KeyVault.KeyNewVersionCreated", "Microsoft.KeyVault.KeyNearExpiry", "Microsoft.KeyVault.KeyExpired"))
	if status != http.StatusCreated {
		t.Fatalf("PUT event subscription = %d %s", status, out)
	}
	var es struct {
		ID         string
		Properties struct {
			Topic, ProvisioningState string
			Destination              struct {
				EndpointType string
				Properties   map[string]any
			}
			RetryPolicy struct{ MaxDeliveryAttempts, EventTimeToLiveInMinutes int }
		}
	}
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(es.ID, esID) || es.Properties.ProvisioningState != "Succeeded" || !strings.EqualFold(es.Properties.Topic, vaultID) ||
		es.Properties.Destination.Properties["endpointBaseUrl"] != h.srv.URL+"/events" || es.Properties.Destination.Properties["endpointUrl"] != nil ||
		es.Properties.RetryPolicy.MaxDeliveryAttempts != 30 || es.Properties.RetryPolicy.EventTimeToLiveInMinutes != 1440 {
		t.Errorf("event subscription = %s", out)
	}
	if len(h.validations) != 1 || h.validations[0].EventType != "Microsoft.EventGrid.SubscriptionValidationEvent" {
		t.Errorf("validation handshake: %+v", h.validations)
	}
	if status, out := e.armCall(t, "POST", esID+"/getFullUrl", nil); status != 200 || !bytes.Contains(out, []byte(`"endpointUrl":"`+endpoint+`"`)) {
		t.Errorf("getFullUrl = %d %s", status, out)
	}
	if status, out := e.armCall(t, "GET", vaultID+"/providers/Microsoft.EventGrid/eventSubscriptions", nil); status != 200 || !bytes.Contains(out, []byte(`es-keys`)) {
		t.Errorf("list = %d %s", status, out)
	}

	// A second subscription, through the CLI as with az, filtered to the
	// expiry of keys whose names start with "pla".
	h2 := newHook(t)
	run := func(args ...string) []byte {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.Bytes()
	}
	run("eventgrid", "event-subscription", "create", "--source-resource-id", vaultID, "-n", "es-expired",
		"--endpoint", h2.srv.URL, "--included-event-types", "Microsoft.KeyVault.KeyExpired", "--subject-begins-with", "pla")
	if out := run("eventgrid", "event-subscription", "list", "--source-resource-id", vaultID); !bytes.Contains(out, []byte(`"es-expired"`)) || !bytes.Contains(out, []byte(`"es-keys"`)) {
		t.Errorf("event-subscription list = %s", out)
	}

	// A new key raises KeyNewVersionCreated, naming the key as azkeys does.
	created, err := kv.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := h.wait(t, 1)
	ev, d := got[0], got[0].key(t)
	if ev.EventType != "Microsoft.KeyVault.KeyNewVersionCreated" || !strings.EqualFold(ev.Topic, vaultID) || ev.Subject != "cmk" ||
		ev.DataVersion != "1" || ev.MetadataVersion != "1" || !ev.EventTime.Equal(*created.Attributes.Created) {
		t.Errorf("event = %+v", ev)
	}
	if d.ID != string(*created.Key.KID) || d.VaultName != "kv-events" || d.ObjectType != "Key" || d.ObjectName != "cmk" ||
		d.Version != created.Key.KID.Version() || d.NBF != nil || d.EXP != nil {
		t.Errorf("event data = %+v; key %s", d, *created.Key.KID)
	}
	hd := h.headers[0]
	if hd.Get("aeg-event-type") != "Notification" || hd.Get("aeg-subscription-name") != "ES-KEYS" || hd.Get("aeg-delivery-count") != "0" {
		t.Errorf("headers = %v", hd)
	}

	// Seed policy 1 (rotate 18 months after creation, expire after two
	// years): one new version at 18 and one at 36 months, and no expiry
	// event, since each version is replaced before it nears its expiry.
	run("keyvault", "key", "rotation-policy", "update", "--vault-name", "kv-events", "--name", "cmk",
		"--value", `{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P18M"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P2Y"}}`)
	start := *created.Attributes.Created
	run("clock", "advance", "P36M")
	got = h.wait(t, 3)
	for i, want := range []time.Time{start.AddDate(0, 18, 0), start.AddDate(0, 36, 0)} {
		ev := got[1+i]
		if d := ev.key(t); ev.EventType != "Microsoft.KeyVault.KeyNewVersionCreated" || !ev.EventTime.Equal(want) ||
			d.EXP == nil || *d.EXP != want.AddDate(2, 0, 0).Unix() || d.ObjectName != "cmk" {
			t.Errorf("rotation %d: event %+v, data %+v; want created %v", i+1, ev, d, want)
		}
	}

	// Seed policy 2 (rotate 28 days before expiry, expire after a year)
	// on a key that expires in a year: KeyNearExpiry 30 days before (the
	// Notify Azure adds), then the rotation two days later.
	now := start.AddDate(0, 36, 0)
	exp := now.AddDate(1, 0, 0)
	if _, err := kv.CreateKey(ctx, "short", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP256),
		KeyAttributes: &azkeys.KeyAttributes{Expires: &exp}}, nil); err != nil {
		t.Fatal(err)
	}
	run("keyvault", "key", "rotation-policy", "update", "--vault-name", "kv-events", "--name", "short",
		"--value", `{"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P28D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}}`)
	// And a key with the empty policy (no Notify): KeyExpired only.
	exp2 := now.AddDate(0, 2, 0)
	if _, err := kv.CreateKey(ctx, "plain", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP256),
		KeyAttributes: &azkeys.KeyAttributes{Expires: &exp2}}, nil); err != nil {
		t.Fatal(err)
	}
	run("keyvault", "key", "rotation-policy", "update", "--vault-name", "kv-events", "--name", "plain", "--value", `{"lifetimeActions":[]}`)
	got = h.wait(t, 5)
	run("clock", "advance", "P1Y")
	got = h.wait(t, 8)
	type seen struct {
		typ, subject string
		at           time.Time
	}
	var after []seen
	for _, ev := range got[5:] {
		after = append(after, seen{ev.EventType, ev.Subject, ev.EventTime})
	}
	want := []seen{
		{"Microsoft.KeyVault.KeyExpired", "plain", exp2},
		{"Microsoft.KeyVault.KeyNearExpiry", "short", exp.AddDate(0, 0, -30)},
		{"Microsoft.KeyVault.KeyNewVersionCreated", "short", exp.AddDate(0, 0, -28)},
	}
	if len(after) != len(want) {
		t.Fatalf("events after a year = %+v, want %+v", after, want)
	}
	for i := range want {
		if after[i].typ != want[i].typ || after[i].subject != want[i].subject || !after[i].at.Equal(want[i].at) {
			t.Errorf("event %d = %+v, want %+v", i, after[i], want[i])
		}
	}
	if got := h2.wait(t, 1); len(got) != 1 || got[0].EventType != "Microsoft.KeyVault.KeyExpired" || got[0].Subject != "plain" {
		t.Errorf("the filtered subscription received %+v", got)
	}
	run("eventgrid", "event-subscription", "delete", "--source-resource-id", vaultID, "-n", "es-expired")

	// A failing endpoint gets the event again, with the delivery count,
	// and a restart in the middle loses nothing.
	h.mu.Lock()
	h.fail = 1 << 30
	h.mu.Unlock()
	late, err := kv.CreateKey(ctx, "late", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP256)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		h.mu.Lock()
		failed := h.failed
		h.mu.Unlock()
		if failed >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing endpoint saw %d attempts", failed)
		}
	}
	e.stop()
	h.mu.Lock()
	h.fail = 0
	h.mu.Unlock()
	e = startWith(t, cfg)
	got = h.wait(t, 9)
	ev = got[8]
	if ev.Subject != "late" || ev.key(t).Version != late.Key.KID.Version() {
		t.Errorf("after the restart: %+v", ev)
	}
	if n := h.headers[len(h.headers)-1].Get("aeg-delivery-count"); n == "0" || n == "" {
		t.Errorf("redelivery after failures has aeg-delivery-count %q", n)
	}

	// Deleting the subscription removes it.
	if status, out := e.armCall(t, "DELETE", esID, nil); status != 200 {
		t.Errorf("DELETE = %d %s", status, out)
	}
	if status, _ := e.armCall(t, "GET", esID, nil); status != 404 {
		t.Errorf("GET after DELETE = %d, want 404", status)
	}
	if status, _ := e.armCall(t, "DELETE", esID, nil); status != 204 {
		t.Errorf("DELETE again = %d, want 204", status)
	}

	// Deleting a vault deletes the subscriptions on it, as in Azure: a
	// vault created again under the name does not inherit them.
	e.vault(t, "kv-gone", false, nil)
	goneID := sub + "/vaults/kv-gone/providers/Microsoft.EventGrid/eventSubscriptions/es-gone"
	if status, out := e.armCall(t, "PUT", goneID, subscriptionBody(endpoint)); status != http.StatusCreated {
		t.Fatalf("PUT on kv-gone = %d %s", status, out)
	}
	vaults, err := armkeyvault.NewVaultsClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vaults.Delete(ctx, "rg-e2e", "kv-gone", nil); err != nil {
		t.Fatal(err)
	}
	if status, out := e.armCall(t, "GET", goneID, nil); status != 404 {
		t.Errorf("subscription on a deleted vault: GET = %d %s, want 404", status, out)
	}
}
