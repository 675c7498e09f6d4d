// Package blobhttp serves the Azure Blob REST API on top of blob.Service, so
// that the unmodified azblob (Go) and @azure/storage-blob (JS) clients work
// against tresor.
//
// A request names its account either by its host,
// {account}.blob.{domain} (host style), or by the first segment of its path
// on any other host, such as 127.0.0.1 (path style, as Azurite and the SDKs
// do for IP addresses). Requests are authenticated with Shared Key or a
// shared access signature (package blobauth), or with an OAuth bearer token
// that Authenticate validates and Authorize checks against the Storage Blob
// Data roles' data actions.
//
// The operation is chosen from the method, the level of the path (account,
// container or blob) and the restype and comp parameters; each declares its
// SAS permissions, data action, body limit and timeout. Errors are written
// by one writeError in Storage's XML shape with x-ms-error-code.
package blobhttp

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobauth"
)

// Accounts resolves a storage account for authentication: its name and
// access keys. It returns a *tresor.Error with Kind NotFound if there is no
// such account.
type Accounts interface {
	Account(ctx context.Context, name string) (blobauth.Account, error)
}

// Handler serves the Blob API of every storage account.
type Handler struct {
	Service  *blob.Service
	Accounts Accounts
	// Suffix is the host suffix after the account name in host-style
	// URLs, such as ".blob.localhost"; the port is ignored. Requests to
	// other hosts are path style. "" serves path style only.
	Suffix string
	// Authenticate validates a bearer token and returns its principal;
	// nil refuses bearer tokens.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// Authorize decides whether p may perform a data action (such as
	// DataActionRead) on a container of an account ("" for the account
	// itself). It returns a *tresor.Error with Kind Forbidden if not; nil
	// denies every bearer request.
	Authorize func(ctx context.Context, p tresor.Principal, account, container, action string) error
	// Authority is the token issuer, with the tenant, that the 401
	// challenge names (authorization_uri).
	Authority string
	// Allow, if set, reports whether an account may be used for an
	// operation (its operationId, such as "PutPage"); refused operations
	// are 403 AuthorizationPermissionMismatch before authentication. The
	// accounts of managed disks allow only their pages to be read and
	// written.
	Allow func(account, operation string) bool
	// Now returns the current time, for request dates and SAS windows.
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns h ready to serve, with defaults filled in.
func New(h Handler) *Handler {
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Logger == nil {
		h.Logger = slog.Default()
	}
	return &h
}

// The data actions of the Storage Blob Data roles, and the container
// actions that Storage checks for container operations with OAuth.
const (
	dataActionPrefix = "Microsoft.Storage/storageAccounts/blobServices/containers/"
	DataActionRead   = dataActionPrefix + "blobs/read"
	DataActionWrite  = dataActionPrefix + "blobs/write"
	DataActionDelete = dataActionPrefix + "blobs/delete"
	ActionRead       = dataActionPrefix + "read"
	ActionWrite      = dataActionPrefix + "write"
	ActionDelete     = dataActionPrefix + "delete"
)

// IsDataAction reports whether action is a data action (on blobs) rather
// than an action (on containers), for Authorize to check it as one.
func IsDataAction(action string) bool {
	return strings.HasPrefix(action, dataActionPrefix+"blobs/")
}

// DefaultVersion is the x-ms-version answered when a request gives none.
// Any version a client sends is accepted and echoed.
const DefaultVersion = "2026-02-06"

// A request is what ServeHTTP learned about a request before its
// operation runs.
type request struct {
	*http.Request
	account   string
	container string
	blob      string
	endpoint  string // the account's URL as the client addressed it, with a trailing slash
	auth      auth
}

// path returns the blob.Path the request addresses.
func (r *request) path() blob.Path {
	return blob.Path{Account: r.account, Container: r.container, Blob: r.blob}
}

// How a request was authenticated.
type auth struct {
	acct      blobauth.Account
	sharedKey bool
	sas       *blobauth.SAS
	principal *tresor.Principal
}

// ServeHTTP answers one Blob request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	id := newUUID()
	hdr := w.Header()
	hdr.Set("x-ms-request-id", id)
	version := hr.Header.Get("x-ms-version")
	if version == "" {
		version = DefaultVersion
	}
	hdr.Set("x-ms-version", version)
	if v := hr.Header.Get("x-ms-client-request-id"); v != "" {
		hdr.Set("x-ms-client-request-id", v)
	}
	hdr.Set("Date", h.Now().UTC().Format(http.TimeFormat))
	hdr.Set("Server", "tresor")

	r, err := h.parse(hr)
	var rt route
	if err == nil {
		rt, err = routeFor(r)
	}
	if err == nil && h.Allow != nil && !h.Allow(r.account, rt.name) {
		err = tresor.Errorf(tresor.Forbidden, "This account does not allow %s.", rt.name).WithReason(blobauth.ReasonAuthorizationPermissionMismatch)
	}
	if err == nil {
		err = h.authenticate(r, rt)
	}
	if err != nil {
		h.writeError(w, hr, err)
		return
	}
	ctx := hr.Context()
	if rt.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	if r.auth.principal != nil {
		ctx = tresor.WithPrincipal(ctx, *r.auth.principal)
	}
	r.Request = hr.WithContext(ctx)
	if err := limitBody(w, r, rt.maxBody); err != nil {
		h.writeError(w, hr, err)
		return
	}
	if err := rt.h(h, w, r); err != nil {
		h.writeError(w, r.Request, err)
	}
}

// parse finds the account, container and blob in the host and path.
func (h *Handler) parse(hr *http.Request) (*request, error) {
	r := &request{Request: hr}
	host := hr.Host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
	}
	scheme := "http"
	if hr.TLS != nil {
		scheme = "https"
	}
	p := strings.TrimPrefix(hr.URL.Path, "/")
	if name, ok := strings.CutSuffix(strings.ToLower(host), strings.ToLower(h.Suffix)); ok && h.Suffix != "" && name != "" && !strings.Contains(name, ".") {
		r.account = name
		r.endpoint = scheme + "://" + hr.Host + "/"
	} else {
		r.account, p, _ = strings.Cut(p, "/")
		r.endpoint = scheme + "://" + hr.Host + "/" + r.account + "/"
	}
	if r.account == "" {
		return nil, tresor.Errorf(tresor.Invalid, "The requested URI does not represent any resource on the server.").WithReason("InvalidUri")
	}
	r.container, r.blob, _ = strings.Cut(p, "/")
	if r.container == "" && r.blob != "" {
		return nil, tresor.Errorf(tresor.Invalid, "The requested URI does not represent any resource on the server.").WithReason("InvalidUri")
	}
	return r, nil
}

// authenticate establishes who sent r and checks that they may run rt.
func (h *Handler) authenticate(r *request, rt route) error {
	ctx := r.Context()
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(authz, "Bearer "):
		if h.Authenticate == nil {
			return tresor.Errorf(tresor.Unauthenticated, "Bearer tokens are not accepted by this server.").WithReason(codeInvalidAuthenticationInfo)
		}
		p, err := h.Authenticate(ctx, strings.TrimPrefix(authz, "Bearer "))
		if err != nil {
			return &tresor.Error{Kind: tresor.Unauthenticated, Reason: codeInvalidAuthenticationInfo,
				Message: "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", Err: err}
		}
		if _, err := h.Accounts.Account(ctx, r.account); err != nil {
			return accountError(err)
		}
		if h.Authorize == nil {
			return permissionMismatch()
		}
		if err := h.Authorize(ctx, p, r.account, r.container, rt.action); err != nil {
			if tresor.IsKind(err, tresor.Forbidden) {
				return permissionMismatch()
			}
			return err
		}
		r.auth.principal = &p
		return nil
	case authz != "":
		acct, err := h.Accounts.Account(ctx, r.account)
		if err != nil {
			return accountError(err)
		}
		if err := blobauth.VerifySharedKey(r.Request, acct, h.Now()); err != nil {
			return err
		}
		r.auth = auth{acct: acct, sharedKey: true}
		return nil
	case q.Has("sig"):
		acct, err := h.Accounts.Account(ctx, r.account)
		if err != nil {
			return accountError(err)
		}
		sas, err := blobauth.VerifySAS(q, acct, h.target(r, r.container, r.blob), h.Now())
		if err != nil {
			return err
		}
		if !sas.Account && !rt.serviceSAS {
			return tresor.Errorf(tresor.Forbidden, "This request is not authorized to perform this operation using this resource type.").
				WithReason(blobauth.ReasonAuthorizationResourceTypeMismatch)
		}
		if err := sas.Allow(rt.perms); err != nil {
			return err
		}
		r.auth = auth{acct: acct, sas: sas}
		return nil
	}
	return tresor.Errorf(tresor.Unauthenticated, "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.").
		WithReason(codeNoAuthenticationInformation)
}

// target describes a container or blob of r's account for blobauth.
func (h *Handler) target(r *request, container, name string) blobauth.Target {
	t := blobauth.Target{Container: container, Blob: name, Secure: r.TLS != nil}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		t.ClientIP = ap.Addr()
	}
	return t
}

// accountError turns Accounts' NotFound into Storage's answer for an
// account that does not exist.
func accountError(err error) error {
	if tresor.IsKind(err, tresor.NotFound) {
		return tresor.Errorf(tresor.NotFound, "The specified account does not exist.").WithReason("AccountNotFound")
	}
	return err
}

func permissionMismatch() error {
	return tresor.Errorf(tresor.Forbidden, "This request is not authorized to perform this operation using this permission.").
		WithReason(blobauth.ReasonAuthorizationPermissionMismatch)
}

// createOnly reports whether r's SAS may create blobs but not write them.
func (r *request) createOnly() bool {
	s := r.auth.sas
	return s != nil && s.Permissions&blobauth.Write == 0
}

// newUUID returns a random (version 4) UUID, for request and copy IDs.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
