// Package armhttp is tresor's Azure Resource Manager front door. It
// authenticates every request, routes it case-insensitively to the resource
// providers, checks api-version and the subscription, and writes errors in
// ARM's CloudError shape. It serves subscriptions, resource groups, the
// generic resources list and operation results itself.
//
// Providers are plain values handed to New; there is no registry. Each
// declares method patterns such as
//
//	PUT /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault/vaults/{vaultName}
//
// whose literal segments match in any case, as ARM's do, while wildcards
// keep the spelling the client sent.
package armhttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/internal/httpstatus"
	"github.com/tresorkms/tresor/rbac"
)

// HandlerFunc is a route's handler: it replies, or returns an error that the
// front door writes as a CloudError.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is a method pattern and its handler. A wildcard named
// {subscriptionId} makes the front door resolve the subscription, check that
// the caller's tenant owns it, and make it available through Subscription.
type Route struct {
	Pattern string
	MaxBody int64         // 0 means DefaultMaxBody
	Timeout time.Duration // 0 means DefaultTimeout
	Handler HandlerFunc
}

// Defaults for routes that do not declare their own limits.
const (
	DefaultMaxBody = 1 << 20
	DefaultTimeout = time.Minute
)

// Provider is a resource provider plugged into the front door.
type Provider interface {
	// Routes returns the provider's routes.
	Routes() []Route
	// Resources lists the provider's resources in a subscription, for the
	// generic resources list.
	Resources(ctx context.Context, subscriptionID string) ([]arm.Resource, error)
	// DeleteResourceGroup deletes the provider's resources in a group that
	// is about to be deleted.
	DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error
}

// Config configures the front door.
type Config struct {
	ARM *arm.Service
	// Authenticate validates a bearer token and returns its principal. Its
	// errors of Kind Unauthenticated become 401 responses.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// Authority is the token issuer's URL including the tenant; 401
	// challenges name it as authorization_uri.
	Authority string
	Providers []Provider
	// RBAC decides who may do what (Azure RBAC) and holds the role
	// assignments the front door serves; nil allows every caller of the
	// subscription's tenant.
	RBAC *rbac.Service
	// Audit records a finished request; nil records nothing.
	Audit  func(ctx context.Context, r audit.Record)
	Logger *slog.Logger
}

// Handler is the front door. It is an http.Handler for the control-plane
// host.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the front door serving its own routes and the providers'. It
// panics if two routes have the same pattern, as http.ServeMux does.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	routes := h.routes()
	for _, p := range cfg.Providers {
		routes = append(routes, p.Routes()...)
	}
	for _, rt := range routes {
		pattern, wildcards := lowerLiterals(rt.Pattern)
		h.mux.Handle(pattern, h.wrap(rt, wildcards))
	}
	return h
}

func (h *Handler) routes() []Route {
	const (
		sub   = "/subscriptions/{subscriptionId}"
		group = sub + "/resourcegroups/{resourceGroupName}"
	)
	return []Route{
		{Pattern: "GET /subscriptions", Handler: h.listSubscriptions},
		{Pattern: "GET " + sub, Handler: h.getSubscription},
		{Pattern: "GET " + sub + "/resourcegroups", Handler: h.listResourceGroups},
		{Pattern: "PUT " + group, Handler: h.createOrUpdateResourceGroup},
		{Pattern: "GET " + group, Handler: h.getResourceGroup},
		{Pattern: "HEAD " + group, Handler: h.checkResourceGroupExistence},
		{Pattern: "PATCH " + group, Handler: h.updateResourceGroup},
		{Pattern: "DELETE " + group, Timeout: 10 * time.Minute, Handler: h.deleteResourceGroup},
		{Pattern: "GET " + sub + "/resources", Handler: h.listResources},
		{Pattern: "GET " + group + "/resources", Handler: h.listResources},
		{Pattern: "GET " + sub + "/operationresults/{operationId}", Handler: h.getOperationResult},
	}
}

// lowerLiterals lower-cases the literal segments of a "METHOD /path"
// pattern and returns, for each wildcard, its segment index.
func lowerLiterals(pattern string) (string, map[string]int) {
	method, p, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(p, "/") {
		panic("armhttp: pattern " + pattern + " is not METHOD /path")
	}
	seg := strings.Split(p, "/")
	wildcards := map[string]int{}
	for i, s := range seg {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			wildcards[strings.TrimSuffix(name, "}")] = i
			continue
		}
		seg[i] = strings.ToLower(s)
	}
	return method + " " + strings.Join(seg, "/"), wildcards
}

type ctxKey int

const (
	pathKey ctxKey = iota // the cleaned path as sent, before lower-casing
	subscriptionKey
	handlerKey // the front door, for AuthorizeLinked
)

// Subscription returns the subscription the request addresses, resolved and
// checked by the front door. It is the zero Subscription for routes without
// a {subscriptionId} wildcard.
func Subscription(r *http.Request) arm.Subscription {
	s, _ := r.Context().Value(subscriptionKey).(arm.Subscription)
	return s
}

// ServeHTTP authenticates the request and dispatches it on its path
// lower-cased, so that literal segments match in any case.
//
// Every authenticated request, and every one with a token that fails, is
// recorded in the audit log (if Audit is set) before ServeHTTP returns.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &httpstatus.Writer{ResponseWriter: rw}
	requestID := newUUID()
	w.Header().Set("x-ms-request-id", requestID)
	correlation := r.Header.Get("x-ms-correlation-request-id")
	if !clientIDPattern.MatchString(correlation) {
		correlation = requestID
	}
	w.Header().Set("x-ms-correlation-request-id", correlation)
	if id := r.Header.Get("x-ms-client-request-id"); clientIDPattern.MatchString(id) {
		w.Header().Set("x-ms-client-request-id", id)
	}

	clean := path.Clean("/" + r.URL.Path)
	p, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		if r.Header.Get("Authorization") != "" {
			h.record(r, w, clean)
		}
		return
	}
	ctx := context.WithValue(tresor.WithPrincipal(r.Context(), p), pathKey, clean)
	ctx = context.WithValue(ctx, handlerKey, h)
	defer func() { h.record(r.WithContext(ctx), w, clean) }()
	lower := r.WithContext(ctx)
	u := *r.URL
	u.Path, u.RawPath = strings.ToLower(clean), ""
	lower.URL = &u
	if strings.Contains(u.Path, "/providers/microsoft.authorization/") {
		h.serveAuthorization(w, r.WithContext(ctx), clean)
		return
	}
	if _, pattern := h.mux.Handler(lower); pattern == "" {
		code := "NotFound"
		if strings.Contains(u.Path, "/providers/") {
			code = "InvalidResourceType"
		}
		h.writeError(w, r, tresor.Errorf(tresor.NotFound, "The request %s %s does not match any resource type or operation of this server.", r.Method, clean).WithReason(code))
		return
	}
	h.mux.ServeHTTP(w, lower)
}

// clientIDPattern bounds the ids a client may have echoed back.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// authenticate validates the bearer token.
func (h *Handler) authenticate(r *http.Request) (tresor.Principal, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "Authentication failed. The 'Authorization' header is missing.").WithReason("AuthenticationFailed")
	}
	scheme, token, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "Authentication failed. The 'Authorization' header is provided in an invalid format.").WithReason("AuthenticationFailed")
	}
	return h.cfg.Authenticate(r.Context(), strings.TrimSpace(token))
}

// wrap restores the wildcards' spelling, then applies the route's timeout,
// api-version check, subscription check and body limit around its handler.
func (h *Handler) wrap(rt Route, wildcards map[string]int) http.Handler {
	maxBody, timeout := rt.MaxBody, rt.Timeout
	if maxBody == 0 {
		maxBody = DefaultMaxBody
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clean, _ := r.Context().Value(pathKey).(string)
		// Lower-casing keeps the number of segments, so the original
		// spelling of each wildcard is at the same index.
		seg := strings.Split(clean, "/")
		for name, i := range wildcards {
			if i < len(seg) {
				r.SetPathValue(name, seg[i])
			}
		}
		r.URL.Path = clean

		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
			h.writeError(w, r, err)
			return
		}
		if _, ok := wildcards["subscriptionId"]; ok {
			sub, err := h.subscription(r)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), subscriptionKey, sub))
		}
		if action, scope, ok := requiredAction(r.Method, clean); ok {
			if err := h.authorize(r, action, scope); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := rt.Handler(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// subscription resolves the request's subscription and checks that the
// caller belongs to its tenant.
func (h *Handler) subscription(r *http.Request) (arm.Subscription, error) {
	sub, err := h.cfg.ARM.GetSubscription(r.Context(), r.PathValue("subscriptionId"))
	if err != nil {
		return arm.Subscription{}, err
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	if !strings.EqualFold(p.TenantID, sub.TenantID) {
		return arm.Subscription{}, tresor.Errorf(tresor.Unauthenticated,
			"The access token is from the wrong issuer. It must match the tenant '%s' associated with this subscription.", sub.TenantID).WithReason("InvalidAuthenticationTokenTenant")
	}
	return sub, nil
}

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[A-Za-z0-9.]{1,32})?$`)

// checkAPIVersion accepts any plausible version: different SDK majors send
// different versions of the same unchanged schema.
func checkAPIVersion(v string) error {
	if v == "" {
		return tresor.Errorf(tresor.Invalid, "The api-version query parameter (?api-version=) is required for all requests.").WithReason("MissingApiVersionParameter")
	}
	if !apiVersionPattern.MatchString(v) {
		return tresor.Errorf(tresor.Invalid, "The api-version '%s' is invalid. The supported versions are dates such as '2024-11-01', optionally with a suffix such as '-preview'.", clip(v)).WithReason("InvalidApiVersionParameter")
	}
	return nil
}

// clip shortens client input quoted in messages.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	x := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", x[0:8], x[8:12], x[12:16], x[16:20], x[20:])
}
