// Package kvhttp serves the Azure Key Vault and Managed HSM keys REST API on
// top of keyvault.Service, so that the unmodified Azure SDKs (Go azkeys, JS
// @azure/keyvault-keys) work against tresor.
//
// A Handler serves one kind of vault; the vault is named by the request's
// Host ({vault}.vault.{domain} or {hsm}.managedhsm.{domain}). Every request
// is authenticated before its body is read: the SDKs send their first
// request without a body to elicit the 401 challenge.
package kvhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/internal/httpstatus"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
)

// Handler serves the keys API for one vault kind.
type Handler struct {
	Service *keyvault.Service
	Kind    keyvault.VaultKind
	// Suffix is the host suffix after the vault name, such as
	// ".vault.localhost"; the port is ignored.
	Suffix string
	// Resource is the audience of this API, such as
	// "https://vault.localhost:8443". It goes into the 401 challenge.
	Resource string
	// Authority is the token issuer's URL including the tenant, for the
	// challenge's authorization parameter.
	Authority string
	// Issuer is the token issuer's URL without a tenant. If set, the
	// challenge of a vault that belongs to a tenant names Issuer/{tenant},
	// as Key Vault names the vault's tenant, so that a client of another
	// tenant than Authority's is sent to its own; otherwise Authority.
	Issuer string
	// Authenticate validates a bearer token and returns its principal.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// RBAC serves a Managed HSM's local role definitions and assignments;
	// nil turns that API off.
	RBAC *rbac.Service
	// Audit records a finished request; nil records nothing.
	Audit  func(ctx context.Context, r audit.Record)
	Logger *slog.Logger

	mux *http.ServeMux
}

// handlerFunc is the signature of every route: it replies or returns an
// error, which ServeHTTP writes in Azure's shape.
type handlerFunc func(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error

// route declares a pattern with its body limit and timeout.
type route struct {
	pattern string
	maxBody int64
	timeout time.Duration
	h       handlerFunc
}

// Body limits. Key material imports and backup blobs are the largest
// requests: an RSA-4096 JWK is about 4 KiB, a backup of 100 versions is
// about 1 MiB.
const (
	smallBody  = 64 << 10
	backupBody = 4 << 20
)

// New returns a Handler whose routes are ready.
func New(h Handler) *Handler {
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	h.mux = http.NewServeMux()
	for _, rt := range h.routes() {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	return &h
}

func (h *Handler) routes() []route {
	const std, slow = 30 * time.Second, 2 * time.Minute
	return []route{
		{"POST /keys/{name}/create", smallBody, slow, h.createKey},
		{"PUT /keys/{name}", smallBody, std, h.importKey},
		{"GET /keys", 0, std, h.getKeys},
		{"GET /keys/{name}", 0, std, h.getKey},
		{"GET /keys/{name}/{version}", 0, std, h.getKey},
		{"GET /keys/{name}/versions", 0, std, h.getKeyVersions},
		{"PATCH /keys/{name}", smallBody, std, h.updateKey},
		{"PATCH /keys/{name}/{version}", smallBody, std, h.updateKey},
		{"DELETE /keys/{name}", 0, std, h.deleteKey},
		{"POST /keys/{name}/backup", 0, std, h.backupKey},
		{"POST /keys/restore", backupBody, std, h.restoreKey},
		{"GET /deletedkeys", 0, std, h.getDeletedKeys},
		{"GET /deletedkeys/{name}", 0, std, h.getDeletedKey},
		{"DELETE /deletedkeys/{name}", 0, std, h.purgeDeletedKey},
		{"POST /deletedkeys/{name}/recover", 0, std, h.recoverDeletedKey},
		{"POST /keys/{name}/encrypt", smallBody, std, h.encrypt},
		{"POST /keys/{name}/{version}/encrypt", smallBody, std, h.encrypt},
		{"POST /keys/{name}/decrypt", smallBody, std, h.decrypt},
		{"POST /keys/{name}/{version}/decrypt", smallBody, std, h.decrypt},
		{"POST /keys/{name}/wrapkey", smallBody, std, h.wrapKey},
		{"POST /keys/{name}/{version}/wrapkey", smallBody, std, h.wrapKey},
		{"POST /keys/{name}/unwrapkey", smallBody, std, h.unwrapKey},
		{"POST /keys/{name}/{version}/unwrapkey", smallBody, std, h.unwrapKey},
		{"POST /keys/{name}/sign", smallBody, std, h.sign},
		{"POST /keys/{name}/{version}/sign", smallBody, std, h.sign},
		{"POST /keys/{name}/verify", smallBody, std, h.verify},
		{"POST /keys/{name}/{version}/verify", smallBody, std, h.verify},
		{"POST /rng", smallBody, std, h.getRandomBytes},
		{"GET /keys/{name}/rotationpolicy", 0, std, h.getKeyRotationPolicy},
		{"PUT /keys/{name}/rotationpolicy", smallBody, std, h.updateKeyRotationPolicy},
		{"POST /keys/{name}/rotate", 0, slow, h.rotateKey},
	}
}

// ServeHTTP normalises the path, authenticates, checks the api-version,
// resolves the vault and dispatches.
//
// Every request but the token-less one that asks for the challenge is
// recorded in the audit log (if Audit is set) before ServeHTTP returns.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &httpstatus.Writer{ResponseWriter: rw}
	w.Header().Set("x-ms-request-id", newRequestID())
	r.URL.Path = normalizePath(r.URL.Path)
	r.URL.RawPath = ""
	r, err := h.authenticate(r)
	if err != nil {
		h.writeError(w, r, err)
		if r.Header.Get("Authorization") != "" {
			h.record(r, w, "Authenticate")
		}
		return
	}
	if isRBACPath(r.URL.Path) {
		h.serveRBAC(w, r)
		h.record(r, w, r.Method+" "+rbacOperation(r.URL.Path))
		return
	}
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		h.writeError(w, r, tresor.Errorf(tresor.NotFound, "The operation %s %s is not supported.", r.Method, r.URL.Path).WithReason(codeNotFound))
		h.record(r, w, "Unknown")
		return
	}
	h.mux.ServeHTTP(w, r) // sets the path values that Handler does not
	h.record(r, w, operations[pattern])
}

// rbacOperation names a local RBAC request by its collection.
func rbacOperation(p string) string {
	if m := rbacPath.FindStringSubmatch(p); m != nil {
		return m[2]
	}
	return "Unknown"
}

// normalizePath collapses repeated slashes and removes a trailing slash.
// The SDKs send an empty key version as "/keys/k/" (Go) or "/keys/k//encrypt"
// (JS); both mean the newest version.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}

// authenticate answers with a challenge unless the request carries a bearer
// token that validates, and returns the request with the principal in its
// context.
func (h *Handler) authenticate(r *http.Request) (*http.Request, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return r, tresor.Errorf(tresor.Unauthenticated, "AKV10000: Request is missing a Bearer or PoP token.")
	}
	p, err := h.Authenticate(r.Context(), token)
	if err != nil {
		return r, err
	}
	return r.WithContext(tresor.WithPrincipal(r.Context(), p)), nil
}

// wrap applies a route's api-version check, vault lookup, body limit and
// timeout around its handler.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
			h.writeError(w, r, err)
			return
		}
		v, err := h.vault(r)
		if err == nil {
			err = checkTenant(r, v)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max(rt.maxBody, 1))
		if err := rt.h(w, r, v); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// vault resolves the vault named by the request's host.
func (h *Handler) vault(r *http.Request) (keyvault.Vault, error) {
	host := r.Host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
	}
	name, ok := strings.CutSuffix(strings.ToLower(host), strings.ToLower(h.Suffix))
	if !ok || name == "" || strings.Contains(name, ".") {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "No vault is served at host %q.", r.Host).WithReason(codeVaultNotFound)
	}
	v, err := h.Service.GetVault(r.Context(), h.Kind, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "Vault %s does not exist.", name).WithReason(codeVaultNotFound)
	}
	return v, err
}

// authority is the challenge's authorization parameter for r: the
// issuer with the tenant of the vault r addresses (see Issuer).
func (h *Handler) authority(r *http.Request) string {
	if h.Issuer != "" {
		if v, err := h.vault(r); err == nil && v.TenantID != "" {
			return strings.TrimSuffix(h.Issuer, "/") + "/" + v.TenantID
		}
	}
	return h.Authority
}

// checkTenant refuses a token of another tenant than the vault's, as Key
// Vault does (401, AKV10032), before any authorization.
func checkTenant(r *http.Request, v keyvault.Vault) error {
	p, _ := tresor.PrincipalFrom(r.Context())
	if v.TenantID == "" || strings.EqualFold(p.TenantID, v.TenantID) {
		return nil
	}
	return tresor.Errorf(tresor.Unauthenticated, "AKV10032: Invalid issuer. Expected one of tenant %s, found tenant %s.", v.TenantID, p.TenantID)
}

// baseURL is the vault's URL as the client addressed it; kids and nextLinks
// are built from it so that they lead back to the same origin.
func baseURL(r *http.Request) string { return "https://" + r.Host }

// Codes that kvhttp produces itself for conditions the domain does not name.
const (
	codeNotFound      = "NotFound"
	codeVaultNotFound = "VaultNotFound"
)

// keyVaultError is Azure's error shape.
type keyVaultError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError *innerCode `json:"innererror,omitempty"`
}

type innerCode struct {
	Code string `json:"code"`
}

// writeError writes err in Azure's error shape. It is the only place that
// maps Kinds to status codes for this API.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "keys api")
	}
	status, code := http.StatusInternalServerError, "InternalServerError"
	inner := te.Reason
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, "BadParameter"
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, "Unauthorized"
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer authorization=%q, resource=%q", h.authority(r), h.Resource))
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "Forbidden"
		if te.Reason == keyvault.ReasonAccessDenied { // Managed HSM local RBAC
			code, inner = te.Reason, ""
		}
	case tresor.NotFound:
		status, code = http.StatusNotFound, "KeyNotFound"
		if te.Reason == codeVaultNotFound || te.Reason == codeNotFound ||
			te.Reason == rbac.ReasonRoleAssignmentNotFound || te.Reason == rbac.ReasonRoleDefinitionNotFound {
			code, inner = te.Reason, ""
		}
	case tresor.Conflict:
		status, code = http.StatusConflict, "Conflict"
	case tresor.PreconditionFailed:
		status, code = http.StatusPreconditionFailed, "PreconditionFailed"
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServiceUnavailable"
	case tresor.Internal:
		h.Logger.Error("keys api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	msg := te.Message
	if te.Kind == tresor.Internal || msg == "" {
		msg = "The service encountered an internal error. Request id " + w.Header().Get("x-ms-request-id") + "."
	}
	body := keyVaultError{Error: errorBody{Code: code, Message: msg}}
	if inner != "" {
		body.Error.InnerError = &innerCode{Code: inner}
	}
	w.Header().Set("x-ms-error-code", code)
	writeJSON(w, status, body)
}
