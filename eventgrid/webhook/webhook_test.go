package webhook_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/eventgrid/webhook"
)

// secret is in every endpoint's query; no error may show it.
const secret = "s3cret-code"

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func events() []eventgrid.Event {
	return []eventgrid.Event{
		{
			ID: "e1", Topic: "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v", Subject: "k",
			Type: eventgrid.KeyNewVersionCreated, Time: t0.Add(1500 * time.Millisecond).In(time.FixedZone("CET", 3600)),
			Data: []byte(`{"Id":"https://v.vault.example/keys/k/1","NBF":null}`), DataVersion: "1",
		},
		{ID: "e2", Topic: "t", Subject: "", Type: eventgrid.KeyExpired, Time: t0, DataVersion: "1"},
	}
}

func TestEncode(t *testing.T) {
	got := webhook.Encode(events())
	want := `[{"id":"e1","topic":"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v","subject":"k",` +
		`"data":{"Id":"https://v.vault.example/keys/k/1","NBF":null},"eventType":"Microsoft.KeyVault.KeyNewVersionCreated",` +
		`"dataVersion":"1","metadataVersion":"1","eventTime":"2026-11-23T12:00:01.5Z"},` +
		`{"id":"e2","topic":"t","subject":"","data":{},"eventType":"Microsoft.KeyVault.KeyExpired",` +
		`"dataVersion":"1","metadataVersion":"1","eventTime":"2026-11-23T12:00:00Z"}]`
	if string(got) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", got, want)
	}
	var decoded []struct{ EventTime string }
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatal(err)
	}
	for _, e := range decoded {
		if _, err := time.Parse(time.RFC3339, e.EventTime); err != nil {
			t.Errorf("eventTime %q is not RFC 3339: %v", e.EventTime, err)
		}
	}
	if got := string(webhook.Encode(nil)); got != "[]" {
		t.Errorf("Encode(nil) = %s, want []", got)
	}
}

// received is a request a hook got.
type received struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// hook is a webhook on loopback that records its requests and answers with
// reply.
type hook struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []received
	reply func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newHook(tb testing.TB, reply func(w http.ResponseWriter, r *http.Request, body []byte)) *hook {
	h := &hook{reply: reply}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		h.mu.Unlock()
		h.reply(w, r, body)
	}))
	tb.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got
}

func status(code int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(code) }
}

// refusedURL returns an http URL on loopback where nothing listens.
func refusedURL(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook?code=" + secret
}

func TestDeliver(t *testing.T) {
	for _, code := range []int{200, 202, 400, 413, 500, 503} {
		h := newHook(t, status(code))
		sub := eventgrid.Subscription{Name: "Sub-1", Endpoint: h.srv.URL + "/api/events?code=" + secret}
		got, err := webhook.New(nil).Deliver(context.Background(), sub, events(), 3)
		if err != nil || got != code {
			t.Errorf("Deliver to a hook answering %d = %d, %v", code, got, err)
		}
		reqs := h.requests()
		if len(reqs) != 1 {
			t.Fatalf("hook got %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.method != http.MethodPost || r.path != "/api/events" || r.query != "code="+secret {
			t.Errorf("request %s %s?%s, want POST /api/events?code=...", r.method, r.path, r.query)
		}
		for name, want := range map[string]string{
			"Content-Type":          "application/json; charset=utf-8",
			"aeg-event-type":        "Notification",
			"aeg-subscription-name": "SUB-1",
			"aeg-delivery-count":    "3",
			"aeg-data-version":      "1",
			"aeg-metadata-version":  "1",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("header %s = %q, want %q", name, got, want)
			}
		}
		if !bytes.Equal(r.body, webhook.Encode(events())) {
			t.Errorf("body = %s, want Encode(events)", r.body)
		}
	}
}

func TestNoRedirects(t *testing.T) {
	target := newHook(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		w.Write([]byte(`{"validationResponse":"code"}`)) //nolint:errcheck // best effort
	})
	for _, code := range []int{301, 302, 307, 308} {
		redirect := newHook(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			http.Redirect(w, r, target.srv.URL+"/elsewhere", code)
		})
		endpoint := redirect.srv.URL + "/hook?code=" + secret
		s := webhook.New(nil)
		got, err := s.Deliver(context.Background(), eventgrid.Subscription{Name: "sub", Endpoint: endpoint}, events(), 0)
		if err != nil || got != code {
			t.Errorf("Deliver to a %d redirect = %d, %v, want %d", code, got, err, code)
		}
		err = s.Validate(context.Background(), endpoint, validationEvent("code"), "code")
		wantInvalid(t, "Validate to a redirect", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect target got %d requests, want none", n)
	}
}

func wantInvalid(tb testing.TB, op string, err error) {
	tb.Helper()
	if tresor.KindOf(err) != tresor.Invalid || tresor.ReasonOf(err) != eventgrid.ReasonBadRequest {
		tb.Errorf("%s = %v, want Invalid with reason %s", op, err, eventgrid.ReasonBadRequest)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		tb.Errorf("%s = %v, which shows the endpoint's query", op, err)
	}
}

func validationEvent(code string) eventgrid.Event {
	return eventgrid.Event{
		ID: "v1", Topic: "/subscriptions/s/resourcegroups/g/providers/microsoft.keyvault/vaults/v",
		Type: eventgrid.SubscriptionValidation, Time: t0,
		Data: []byte(`{"validationCode":"` + code + `"}`), DataVersion: "2",
	}
}

// echo answers a validation with the code it carries.
func echo(w http.ResponseWriter, _ *http.Request, body []byte) {
	var evs []struct {
		Data struct{ ValidationCode string } `json:"data"`
	}
	if err := json.Unmarshal(body, &evs); err != nil || len(evs) != 1 {
		http.Error(w, "bad validation", http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"validationResponse": evs[0].Data.ValidationCode}) //nolint:errcheck,errchkjson // best effort
}

func TestValidate(t *testing.T) {
	const code = "1c7a0b5e-8e1d-4c8b-9f4e-2d6b3f1a0c99"
	tests := []struct {
		name  string
		reply func(http.ResponseWriter, *http.Request, []byte)
		ok    bool
	}{
		{"echo", echo, true},
		{"echo with more fields", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			io.WriteString(w, `{"validationResponse":"`+code+`","other":1}`) //nolint:errcheck // best effort
		}, true},
		{"wrong code", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			io.WriteString(w, `{"validationResponse":"not-the-code"}`) //nolint:errcheck // best effort
		}, false},
		{"no code", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			io.WriteString(w, `{}`) //nolint:errcheck // best effort
		}, false},
		{"code in another field", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			io.WriteString(w, `{"validationCode":"`+code+`"}`) //nolint:errcheck // best effort
		}, false},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			io.WriteString(w, code) //nolint:errcheck // best effort
		}, false},
		{"empty body", status(200), false},
		{"201 with the code", func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.WriteHeader(http.StatusCreated)
			echo(w, r, body)
		}, false},
		{"500 with the code", func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.WriteHeader(http.StatusInternalServerError)
			echo(w, r, body)
		}, false},
		{"404", status(404), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHook(t, tt.reply)
			endpoint := h.srv.URL + "/hook?code=" + secret
			ev := validationEvent(code)
			err := webhook.New(nil).Validate(context.Background(), endpoint, ev, code)
			if tt.ok && err != nil {
				t.Errorf("Validate = %v, want nil", err)
			}
			if !tt.ok {
				wantInvalid(t, "Validate", err)
			}
			reqs := h.requests()
			if len(reqs) != 1 {
				t.Fatalf("hook got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.query != "code="+secret || r.header.Get("aeg-event-type") != "SubscriptionValidation" ||
				r.header.Get("aeg-metadata-version") != "1" || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("validation request %s ?%s with headers %v", r.method, r.query, r.header)
			}
			if diff := cmp.Diff(string(webhook.Encode([]eventgrid.Event{ev})), string(r.body)); diff != "" {
				t.Errorf("validation body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorsHideQuery checks that when there is no response the errors
// name the endpoint without its query, which may hold a secret.
func TestErrorsHideQuery(t *testing.T) {
	tlsHook := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {})
	endpoints := map[string]string{
		"connection refused": refusedURL(t),
		"untrusted TLS":      tlsHook.URL + "/hook?code=" + secret,
		"control character":  "https://hooks.example/h\x7f?code=" + secret,
	}
	for name, endpoint := range endpoints {
		t.Run(name, func(t *testing.T) {
			s := webhook.New(nil)
			_, err := s.Deliver(context.Background(), eventgrid.Subscription{Name: "sub", Endpoint: endpoint}, events(), 0)
			if err == nil {
				t.Fatalf("Deliver to %s = nil, want an error", name)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Deliver = %v, which shows the endpoint's query", err)
			}
			err = s.Validate(context.Background(), endpoint, validationEvent("c"), "c")
			wantInvalid(t, "Validate", err)
		})
	}
}

// newTLSServer starts an HTTPS server on loopback whose certificate no
// system trusts. It does not log the handshakes that fail for that.
func newTLSServer(tb testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}

func TestTrustedRoots(t *testing.T) {
	srv := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	endpoint := srv.URL + "/hook?code=" + secret
	got, err := webhook.New(roots).Deliver(context.Background(), eventgrid.Subscription{Name: "sub", Endpoint: endpoint}, events(), 0)
	if err != nil || got != http.StatusAccepted {
		t.Errorf("Deliver with the hook's root trusted = %d, %v, want 202", got, err)
	}
	if _, err := webhook.New(nil).Deliver(context.Background(), eventgrid.Subscription{Name: "sub", Endpoint: endpoint}, events(), 0); err == nil {
		t.Error("Deliver without the hook's root trusted = nil, want an error")
	}
}

func TestDeliverCancelled(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	h := newHook(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		close(arrived)
		<-release
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	s := webhook.New(nil)
	done := make(chan error, 1)
	go func() {
		_, err := s.Deliver(ctx, eventgrid.Subscription{Name: "sub", Endpoint: h.srv.URL + "/?code=" + secret}, events(), 0)
		done <- err
	}()
	// Cancel once the hook holds the request.
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("Deliver returned %v before the hook answered", err)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver cancelled = %v, want %v", err, context.Canceled)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("Deliver = %v, which shows the endpoint's query", err)
	}
}

// roundTrip is an http.RoundTripper answering from a function, for the
// fuzz test to run without a network.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzValidate feeds Validate arbitrary answers: it accepts only a 200
// whose body carries the code, and its errors are BadRequests that do not
// show the endpoint's query.
func FuzzValidate(f *testing.F) {
	const code = "the-code"
	f.Add(200, []byte(`{"validationResponse":"the-code"}`))
	f.Add(200, []byte(`{"validationResponse":"the-code"}garbage`))
	f.Add(200, []byte(`{"validationResponse":"other"}`))
	f.Add(200, []byte(`["the-code"]`))
	f.Add(500, []byte(`{"validationResponse":"the-code"}`))
	f.Add(200, []byte(`{"VALIDATIONRESPONSE":"the-code"}`))
	f.Add(200, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		s := &webhook.Sender{Client: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body)), Header: http.Header{}, Request: r}, nil
		})}}
		err := s.Validate(context.Background(), "https://hooks.example/h?code="+secret, validationEvent(code), code)
		if err == nil {
			if status != 200 || !bytes.Contains(body, []byte(code)) {
				t.Errorf("Validate accepted %d %q", status, body)
			}
			return
		}
		wantInvalid(t, "Validate", err)
	})
}
