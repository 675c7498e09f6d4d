// Package idhttp serves identity.Service as Microsoft Entra ID's token
// endpoints speak it, so that MSAL (and through it azidentity's and
// @azure/identity's ClientSecretCredential) obtains tokens from tresor
// when pointed at it as its authority host.
//
// It serves, at the root of the authority host:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   tenant discovery (MSAL)
//	GET  /{tenant}/.well-known/openid-configuration        the v1.0 form
//	GET  /common/discovery/instance                        instance discovery
//	GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys   JWKS
//	POST /{tenant}/oauth2/v2.0/token                       client credentials grant (secret or client assertion)
//	POST /{tenant}/oauth2/token                            the v1.0 form, with resource=
//	GET  /msi/token                                        managed identity tokens (App Service form)
//
// MSAL sends instance discovery to login.microsoftonline.com, never to a
// custom authority host, so clients must disable instance discovery
// (azidentity: DisableInstanceDiscovery; @azure/identity:
// disableInstanceDiscovery). The endpoint here serves clients whose
// transport sends that request to tresor instead.
//
// Every URL in a reply is built from the Service's Issuer, never from the
// request, so MSAL's check that the issuer's host is the authority's host
// holds only when clients use that same base URL as their authority host.
package idhttp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// Handler serves the token issuer's endpoints.
type Handler struct {
	// Logger receives internal errors; nil means slog.Default(). Set it
	// before serving.
	Logger *slog.Logger

	svc *identity.Service
	mux *http.ServeMux
}

// handlerFunc is the signature of every route: it replies or returns an
// error, which ServeHTTP writes in Entra's OAuth error shape.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route declares a pattern with its body limit and timeout.
type route struct {
	pattern string
	maxBody int64
	timeout time.Duration
	h       handlerFunc
}

// tokenBody limits the token request: a few short form fields.
const tokenBody = 64 << 10

// New returns a Handler for svc.
func New(svc *identity.Service) *Handler {
	h := &Handler{svc: svc, mux: http.NewServeMux()}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	return h
}

func (h *Handler) routes() []route {
	const std = 10 * time.Second
	return []route{
		{"GET /{tenant}/v2.0/.well-known/openid-configuration", 0, std, h.openIDConfiguration(v2)},
		{"GET /{tenant}/.well-known/openid-configuration", 0, std, h.openIDConfiguration(v1)},
		{"GET /common/discovery/instance", 0, std, h.instanceDiscovery},
		{"GET /{tenant}/discovery/instance", 0, std, h.instanceDiscovery},
		{"GET /{tenant}/discovery/v2.0/keys", 0, std, h.keys},
		{"GET /{tenant}/discovery/keys", 0, std, h.keys},
		{"POST /{tenant}/oauth2/v2.0/token", tokenBody, std, h.token(v2)},
		{"POST /{tenant}/oauth2/token", tokenBody, std, h.token(v1)},
		{"GET /msi/token", 0, std, h.managedIdentityToken},
	}
}

// Owns reports whether r is addressed to the token issuer: its path is one
// of the routes above and its first segment looks like a tenant (a GUID,
// or "common" or "organizations"). A front door that shares the host with
// other APIs dispatches on it.
func (h *Handler) Owns(r *http.Request) bool {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch strings.ToLower(first) {
	case "common", "organizations", "msi":
		return true
	}
	return identity.IsGUID(first)
}

// ServeHTTP dispatches to the routes; anything else is answered 404 in the
// OAuth error shape.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.writeError(w, r, tresor.Errorf(tresor.NotFound, "The endpoint %s %s does not exist.", r.Method, r.URL.Path).WithReason(identity.ReasonInvalidRequest))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// wrap applies a route's body limit and timeout around its handler.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, max(rt.maxBody, 1))
		if err := rt.h(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// oauthError is Entra's error reply (RFC 6749 section 5.2 plus Entra's
// diagnostics).
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes,omitempty"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// writeError replies with err in Entra's shape. The Reason is the OAuth
// "error" code; without one, the Kind chooses it. Entra answers 401 only
// for failed client authentication and 400 for any other fault of the
// client, so clients do not retry.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "idhttp")
	}
	var status int
	var code string
	switch te.Kind {
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, identity.ReasonInvalidClient
	case tresor.Invalid, tresor.NotFound, tresor.Conflict, tresor.PreconditionFailed:
		// NotFound too: Entra answers an unknown tenant with 400.
		status, code = http.StatusBadRequest, identity.ReasonInvalidRequest
	case tresor.Forbidden:
		status, code = http.StatusBadRequest, "unauthorized_client"
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, identity.ReasonInvalidRequest
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "temporarily_unavailable"
	case tresor.Internal:
		status, code = http.StatusInternalServerError, "server_error"
	default:
		status, code = http.StatusInternalServerError, "server_error"
	}
	msg := te.Message
	if te.Kind == tresor.Internal {
		h.logger().ErrorContext(r.Context(), "identity request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "AADSTS50000: There was an error issuing a token or an issue with our sign-in service."
	} else if te.Reason != "" {
		code = te.Reason
	}
	traceID := identity.NewGUID()
	correlationID := r.Header.Get("client-request-id")
	if !identity.IsGUID(correlationID) {
		correlationID = identity.NewGUID()
	}
	w.Header().Set("x-ms-request-id", traceID)
	w.Header().Set("client-request-id", correlationID)
	ts := timestamp()
	writeJSON(w, status, oauthError{
		Error:            code,
		ErrorDescription: msg + "\r\nTrace ID: " + traceID + "\r\nCorrelation ID: " + correlationID + "\r\nTimestamp: " + ts,
		ErrorCodes:       errorCodes(msg),
		Timestamp:        ts,
		TraceID:          traceID,
		CorrelationID:    correlationID,
	})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// errorCodes returns the number of the leading "AADSTSnnnn:" that the
// identity package puts on the messages clients see, as Entra does; Entra
// repeats it in error_codes.
func errorCodes(msg string) []int {
	rest, ok := strings.CutPrefix(msg, "AADSTS")
	if !ok {
		return nil
	}
	digits, _, ok := strings.Cut(rest, ":")
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return nil
	}
	return []int{n}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}

// timestamp is the time of a reply, as Entra writes it in errors.
func timestamp() string { return time.Now().UTC().Format("2006-01-02 15:04:05Z") }
