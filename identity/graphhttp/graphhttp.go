// Package graphhttp serves identity.Directory as a minimal Microsoft Graph
// v1.0: applications with their passwords, and service principals, so
// that Graph clients and 'tresor ad sp create-for-rbac' register
// applications as they would in Entra.
//
// It serves, under /v1.0 on the control host (paths compare ignoring case,
// as Graph's do):
//
//	POST   /applications                  create an application (201)
//	GET    /applications[?$filter=]       list, filtered by appId, displayName, id
//	GET    /applications/{id}             get by object id
//	PATCH  /applications/{id}             change displayName, signInAudience (204)
//	DELETE /applications/{id}             delete, with its service principals (204)
//	POST   /applications/{id}/addPassword    add a password; the only reply with its secret
//	POST   /applications/{id}/removePassword remove a password by keyId (204)
//	POST   /applications/{id}/federatedIdentityCredentials         add one (201)
//	GET    /applications/{id}/federatedIdentityCredentials         list
//	GET    /applications/{id}/federatedIdentityCredentials/{fic}   get by id or name
//	DELETE /applications/{id}/federatedIdentityCredentials/{fic}   delete by id or name (204)
//	POST   /servicePrincipals             create an application's service principal (201)
//	GET    /servicePrincipals[?$filter=]  list, managed identities included
//	GET    /servicePrincipals/{id}        get by object id
//	DELETE /servicePrincipals/{id}        delete (204); not managed identities
//
// Requests carry a bearer token for the Graph audience. Errors have Graph's
// shape, {"error":{"code","message","innerError":{...}}}. Unknown JSON
// members are ignored, as Graph ignores read-only ones. Every request with
// a token is recorded in the audit log under Entra's permission names
// (microsoft.directory/applications/create, ...).
package graphhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/internal/httpstatus"
)

// Config is what a Handler needs.
type Config struct {
	Identity *identity.Service
	// Authenticate validates a bearer token for the Graph audience.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// BaseURL is the Graph endpoint as clients reach it, without /v1.0
	// ("https://localhost:8443"); replies' @odata.context and Location
	// are built from it.
	BaseURL string
	// Authority is the token issuer's tenant URL, named in the
	// WWW-Authenticate header of a 401.
	Authority string
	// Audit records a finished request; nil records nothing.
	Audit func(ctx context.Context, r audit.Record)
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the Graph subset.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	ops map[string]string // route pattern → audited operation
}

// handlerFunc is the signature of every route: it replies or returns an
// error, which the Handler writes in Graph's error shape.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route declares a pattern (lower case) with the Entra permission it
// amounts to, its body limit, its timeout and its handler.
type route struct {
	pattern string
	op      string
	maxBody int64
	timeout time.Duration
	h       handlerFunc
}

// maxBody limits request bodies: a display name, a password's description,
// a key id.
const maxBody = 64 << 10

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), ops: map[string]string{}}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.pattern, h.wrap(rt))
		h.ops[rt.pattern] = rt.op
	}
	return h
}

func (h *Handler) routes() []route {
	const (
		apps = "microsoft.directory/applications/"
		sps  = "microsoft.directory/servicePrincipals/"
		std  = 10 * time.Second
	)
	return []route{
		{"POST /v1.0/applications", apps + "create", maxBody, std, h.createApplication},
		{"GET /v1.0/applications", apps + "standard/read", 0, std, h.listApplications},
		{"GET /v1.0/applications/{id}", apps + "standard/read", 0, std, h.getApplication},
		{"PATCH /v1.0/applications/{id}", apps + "basic/update", maxBody, std, h.updateApplication},
		{"DELETE /v1.0/applications/{id}", apps + "delete", 0, std, h.deleteApplication},
		{"POST /v1.0/applications/{id}/addpassword", apps + "credentials/update", maxBody, std, h.addPassword},
		{"POST /v1.0/applications/{id}/removepassword", apps + "credentials/update", maxBody, std, h.removePassword},
		{"POST /v1.0/applications/{id}/federatedidentitycredentials", apps + "credentials/update", maxBody, std, h.createFederatedCredential},
		{"GET /v1.0/applications/{id}/federatedidentitycredentials", apps + "standard/read", 0, std, h.listFederatedCredentials},
		{"GET /v1.0/applications/{id}/federatedidentitycredentials/{fic}", apps + "standard/read", 0, std, h.getFederatedCredential},
		{"DELETE /v1.0/applications/{id}/federatedidentitycredentials/{fic}", apps + "credentials/update", 0, std, h.deleteFederatedCredential},
		{"POST /v1.0/serviceprincipals", sps + "create", maxBody, std, h.createServicePrincipal},
		{"GET /v1.0/serviceprincipals", sps + "standard/read", 0, std, h.listServicePrincipals},
		{"GET /v1.0/serviceprincipals/{id}", sps + "standard/read", 0, std, h.getServicePrincipal},
		{"DELETE /v1.0/serviceprincipals/{id}", sps + "delete", 0, std, h.deleteServicePrincipal},
	}
}

// Owns reports whether r is addressed to Graph: its path starts with
// /v1.0/. A front door that shares the host with other APIs dispatches on
// it.
func Owns(r *http.Request) bool {
	p := strings.ToLower(r.URL.Path)
	return p == "/v1.0" || strings.HasPrefix(p, "/v1.0/")
}

// ServeHTTP authenticates the request and dispatches it on its path
// lower-cased. Every request with a token, valid or not, is recorded in
// the audit log before ServeHTTP returns.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &httpstatus.Writer{ResponseWriter: rw}
	requestID := identity.NewGUID()
	clientRequestID := r.Header.Get("client-request-id")
	if !clientIDPattern.MatchString(clientRequestID) {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)

	clean := path.Clean("/" + r.URL.Path)
	lower := r.Clone(r.Context())
	lower.URL.Path, lower.URL.RawPath = strings.ToLower(clean), ""
	_, pattern := h.mux.Handler(lower)

	p, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		if r.Header.Get("Authorization") != "" {
			h.record(r, w, h.ops[pattern], clean)
		}
		return
	}
	ctx := tresor.WithPrincipal(r.Context(), p)
	defer func() { h.record(r.WithContext(ctx), w, h.ops[pattern], clean) }()
	if pattern == "" {
		h.writeError(w, r, h.unmatched(lower, clean))
		return
	}
	h.mux.ServeHTTP(w, lower.WithContext(ctx))
}

// unmatched explains why no route matches: another method would (405), or
// the path names no resource (400, as Graph answers an unknown segment).
func (h *Handler) unmatched(r *http.Request, clean string) error {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := h.mux.Handler(other); pattern != "" {
			return &statusError{http.StatusMethodNotAllowed, codeBadRequestDirectory,
				"Specified HTTP method is not allowed for the request target."}
		}
	}
	segment := path.Base(clean)
	if strings.EqualFold(clean, "/v1.0") {
		segment = "v1.0"
	}
	return &statusError{http.StatusBadRequest, codeBadRequest,
		"Resource not found for the segment '" + clip(segment) + "'."}
}

// clientIDPattern bounds the ids a client may have echoed back.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// authenticate validates the bearer token, with Graph's messages.
func (h *Handler) authenticate(r *http.Request) (tresor.Principal, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "Access token is empty.")
	}
	scheme, token, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "Access token is empty or not a bearer token.")
	}
	p, err := h.cfg.Authenticate(r.Context(), strings.TrimSpace(token))
	var te *tresor.Error
	if errors.As(err, &te) && te.Kind == tresor.Unauthenticated {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "Access token validation failure. %s", te.Message)
	}
	return p, err
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

// directory returns the caller's directory.
func (h *Handler) directory(r *http.Request) *identity.Directory {
	p, _ := tresor.PrincipalFrom(r.Context())
	return h.cfg.Identity.Directory(p)
}

// record writes one audit record for a finished request.
func (h *Handler) record(r *http.Request, w *httpstatus.Writer, op, clean string) {
	if h.cfg.Audit == nil {
		return
	}
	if op == "" {
		op = r.Method + " " + clean
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	h.cfg.Audit(r.Context(), audit.Record{
		RequestID: w.Header().Get("request-id"), Principal: p,
		Operation: audit.Clip(op), ResourceID: audit.Clip(clean),
		Result: audit.ResultOf(w.Status), Status: w.Status,
	})
}

// Graph's error codes, where the Kind does not choose them.
const (
	codeBadRequest          = "BadRequest"         // a malformed request or URL
	codeBadRequestDirectory = "Request_BadRequest" // a request the directory refuses
	codeUnsupportedQuery    = "Request_UnsupportedQuery"
)

// statusError is an error whose status and code no Kind describes, such as
// 405.
type statusError struct {
	status  int
	code    string
	message string
}

func (e *statusError) Error() string { return e.message }

// graphError is Graph's error reply.
type graphError struct {
	Error graphErrorBody `json:"error"`
}

type graphErrorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeError replies with err in Graph's shape. The Kind chooses the
// status and the code; a Reason, where set, is the code.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	if errors.As(err, &se) {
		h.writeGraphError(w, se.status, se.code, se.message)
		return
	}
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "graphhttp")
	}
	var status int
	var code string
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, codeBadRequestDirectory
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, "InvalidAuthenticationToken"
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+h.cfg.Authority+`/oauth2/authorize"`)
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "Authorization_RequestDenied"
	case tresor.NotFound:
		status, code = http.StatusNotFound, "Request_ResourceNotFound"
	case tresor.Conflict:
		status, code = http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue"
	case tresor.PreconditionFailed:
		status, code = http.StatusPreconditionFailed, "Request_PreconditionFailed"
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, "Request_EntityTooLarge"
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServiceUnavailable"
	case tresor.Internal:
		status, code = http.StatusInternalServerError, "Service_InternalServerError"
	default:
		status, code = http.StatusInternalServerError, "Service_InternalServerError"
	}
	msg := te.Message
	if status == http.StatusInternalServerError {
		h.logger().ErrorContext(r.Context(), "graph request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Encountered an internal server error."
	} else if te.Reason != "" {
		code = te.Reason
	}
	h.writeGraphError(w, status, code, msg)
}

func (h *Handler) writeGraphError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, graphError{Error: graphErrorBody{
		Code: code, Message: msg,
		InnerError: innerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       w.Header().Get("request-id"),
			ClientRequestID: w.Header().Get("client-request-id"),
		},
	}})
}

func (h *Handler) logger() *slog.Logger {
	if h.cfg.Logger != nil {
		return h.cfg.Logger
	}
	return slog.Default()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}

// decode reads a JSON object from the body into v. An empty body leaves v
// as it is when optional is set.
func decode(r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tresor.Errorf(tresor.TooLarge, "The request body exceeds %d bytes.", tooLarge.Limit)
		}
		return tresor.Errorf(tresor.Invalid, "The request body could not be read.").WithReason(codeBadRequest)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if optional {
			return nil
		}
		return tresor.Errorf(tresor.Invalid, "The request body is empty; it must be a JSON object.").WithReason(codeBadRequest)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return tresor.Errorf(tresor.Invalid,
			"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.").WithReason(codeBadRequest)
	}
	return nil
}

// parseTime reads a DateTimeOffset member; empty is the zero time.
func parseTime(member, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, tresor.Errorf(tresor.Invalid,
			"Invalid value '%s' for %s: a DateTimeOffset in ISO 8601 form such as 2030-01-01T00:00:00Z is expected.", clip(s), member)
	}
	return t, nil
}

// dateTime writes a time as Graph does.
func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// collection is a Graph collection reply.
type collection[T any] struct {
	Context string `json:"@odata.context"`
	Value   []T    `json:"value"`
}

func (h *Handler) context(fragment string) string {
	return strings.TrimSuffix(h.cfg.BaseURL, "/") + "/v1.0/$metadata#" + fragment
}

// clip shortens caller-supplied text that is echoed in a message.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
