// Package armhttp is tresor's Azure Resource Manager front door: it
// authenticates requests, checks api-version, routes them case-insensitively
// to the resource providers, and writes errors in ARM's CloudError shape. It
// serves subscriptions and resource groups itself.
package armhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// HandlerFunc is a route's handler: it replies or returns an error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is a method pattern, in lower case ("PUT /subscriptions/{sub}/..."),
// and its handler.
type Route struct {
	Pattern string
	Handler HandlerFunc
}

// Provider is a resource provider plugged into the front door.
type Provider interface {
	// Routes returns the provider's routes, with lower-case literal
	// segments.
	Routes() []Route
	// Literals returns the literal path segments of its routes (resource
	// types, actions), which the front door matches case-insensitively.
	Literals() []string
	// DeleteResourceGroup deletes the provider's resources in a group that
	// is being deleted.
	DeleteResourceGroup(ctx context.Context, subscription, group string) error
}

// Config configures the front door.
type Config struct {
	ARM          *arm.Service
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// Authority is the token issuer URL with tenant, for the challenge.
	Authority string
	Providers []Provider
	Logger    *slog.Logger
}

// Handler is the front door.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	literals map[string]bool
}

// maxBody limits every ARM request body.
const maxBody = 1 << 20

// New returns the front door with the built-in and provider routes.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), literals: map[string]bool{}}
	for _, l := range []string{"subscriptions", "resourcegroups", "providers", "locations"} {
		h.literals[l] = true
	}
	routes := h.routes()
	for _, p := range cfg.Providers {
		routes = append(routes, p.Routes()...)
		for _, l := range p.Literals() {
			h.literals[strings.ToLower(l)] = true
		}
	}
	for _, rt := range routes {
		h.mux.Handle(rt.Pattern, h.wrap(rt.Handler))
	}
	return h
}

func (h *Handler) routes() []Route {
	return []Route{
		{"GET /subscriptions", h.listSubscriptions},
		{"GET /subscriptions/{sub}", h.getSubscription},
		{"GET /subscriptions/{sub}/resourcegroups", h.listGroups},
		{"PUT /subscriptions/{sub}/resourcegroups/{rg}", h.putGroup},
		{"GET /subscriptions/{sub}/resourcegroups/{rg}", h.getGroup},
		{"HEAD /subscriptions/{sub}/resourcegroups/{rg}", h.headGroup},
		{"DELETE /subscriptions/{sub}/resourcegroups/{rg}", h.deleteGroup},
	}
}

// ServeHTTP authenticates, canonicalises the path's literal segments and
// dispatches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", newID())
	if id := r.Header.Get("x-ms-correlation-request-id"); id != "" {
		w.Header().Set("x-ms-correlation-request-id", id)
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		h.writeError(w, r, tresor.Errorf(tresor.Unauthenticated, "Authentication failed. The 'Authorization' header is missing.").WithReason("AuthenticationFailed"))
		return
	}
	p, err := h.cfg.Authenticate(r.Context(), token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	r = r.WithContext(tresor.WithPrincipal(r.Context(), p))
	r.URL.Path = h.canonical(r.URL.Path)
	r.URL.RawPath = ""
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.writeError(w, r, tresor.Errorf(tresor.NotFound, "No route is registered for %s %s.", r.Method, r.URL.Path).WithReason("NoRegisteredProviderFound"))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// canonical cleans p and lower-cases its known literal segments, keeping
// the case of names.
func (h *Handler) canonical(p string) string {
	seg := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	for i, s := range seg {
		if l := strings.ToLower(s); h.literals[l] {
			seg[i] = l
		}
		// The provider namespace follows "providers".
		if i > 0 && seg[i-1] == "providers" {
			seg[i] = strings.ToLower(s)
		}
	}
	return "/" + strings.Join(seg, "/")
}

func (h *Handler) wrap(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		r = r.WithContext(ctx)
		if r.URL.Query().Get("api-version") == "" {
			h.writeError(w, r, tresor.Errorf(tresor.Invalid, "The api-version query parameter (?api-version=) is required for all requests.").WithReason("MissingApiVersionParameter"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := fn(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// cloudError is ARM's error shape.
type cloudError struct {
	Error cloudErrorBody `json:"error"`
}

type cloudErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// writeError writes err as a CloudError; it is the one place that maps
// Kinds to statuses for ARM.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "arm")
	}
	status, code := http.StatusInternalServerError, "InternalServerError"
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, "BadRequest"
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, "InvalidAuthenticationToken"
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer authorization_uri=%q, error=\"invalid_token\"", h.cfg.Authority))
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "AuthorizationFailed"
	case tresor.NotFound:
		status, code = http.StatusNotFound, arm.ReasonResourceNotFound
	case tresor.Conflict:
		status, code = http.StatusConflict, "Conflict"
	case tresor.PreconditionFailed:
		status, code = http.StatusPreconditionFailed, "PreconditionFailed"
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServiceUnavailable"
	case tresor.Internal:
		h.cfg.Logger.Error("arm", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if te.Reason != "" {
		code = te.Reason
	}
	msg := te.Message
	if te.Kind == tresor.Internal || msg == "" {
		msg = "The server encountered an internal error. Request id " + w.Header().Get("x-ms-request-id") + "."
	}
	w.Header().Set("x-ms-error-code", code)
	WriteJSON(w, status, cloudError{Error: cloudErrorBody{Code: code, Message: msg}})
}

// Decode reads a JSON body into v, ignoring unknown fields and naming the
// field of a type mismatch.
func Decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tresor.Errorf(tresor.TooLarge, "The request body exceeds %d bytes.", mbe.Limit)
		}
		return tresor.Errorf(tresor.Invalid, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return tresor.Errorf(tresor.Invalid, "The request content was invalid and could not be deserialized: the body is empty.").WithReason("InvalidRequestContent")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return tresor.Errorf(tresor.Invalid, "The request content was invalid and could not be deserialized: property '%s' should be %s, not JSON %s.", typ.Field, typ.Type, typ.Value).WithReason("InvalidRequestContent")
		}
		return tresor.Errorf(tresor.Invalid, "The request content was invalid and could not be deserialized: %v.", err).WithReason("InvalidRequestContent")
	}
	if _, err := dec.Token(); err != io.EOF {
		return tresor.Errorf(tresor.Invalid, "The request content was invalid: data after the JSON object.").WithReason("InvalidRequestContent")
	}
	return nil
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"response encoding failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
