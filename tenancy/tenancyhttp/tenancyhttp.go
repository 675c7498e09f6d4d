// Package tenancyhttp is the tenant admin API of an installation:
//
//	GET  /tresor/tenants   {"value": [{"tenantId", "displayName", "createdDateTime", "subscriptionIds"}]}
//	POST /tresor/tenants   {"displayName": "contoso"}
//	                       → 201 {"tenantId", "displayName", "subscriptionId", "clientId", "clientSecret", "objectId"}
//
// Only the installation's administrator (the home tenant's) may call it,
// with a token for the ARM audience. The new tenant's administrator secret
// is in the 201 response only.
package tenancyhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/internal/adminhttp"
	"github.com/tresorkms/tresor/internal/httpstatus"
	"github.com/tresorkms/tresor/tenancy"
)

// Prefix is the path under which the API is served.
const Prefix = "/tresor/tenants"

// maxBody bounds a request body.
const maxBody = 4096

// Handler serves the tenant API.
type Handler struct {
	Tenants *tenancy.Service
	// Authenticate validates a bearer token and returns its principal.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// Admin is the object id of the only principal allowed.
	Admin string
	// Audit records each request; nil records nothing.
	Audit func(ctx context.Context, r audit.Record)
}

// Created is the response to a create.
type Created struct {
	TenantID       string `json:"tenantId"`
	DisplayName    string `json:"displayName"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	ObjectID       string `json:"objectId"`
}

// Tenant is one tenant of a list.
type Tenant struct {
	TenantID        string   `json:"tenantId"`
	DisplayName     string   `json:"displayName"`
	Created         string   `json:"createdDateTime"`
	SubscriptionIDs []string `json:"subscriptionIds"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &httpstatus.Writer{ResponseWriter: w}
	p, res, err := h.serve(rec, r)
	if err != nil {
		adminhttp.WriteError(rec, err, "The tenant could not be created: ")
	}
	if h.Audit != nil {
		op := "ListTenants"
		if r.Method == http.MethodPost {
			op = "CreateTenant"
		}
		h.Audit(r.Context(), audit.Record{
			RequestID: r.Header.Get("x-ms-client-request-id"), Principal: p, Operation: op,
			ResourceID: Prefix + res, Result: audit.ResultOf(rec.Status), Status: rec.Status,
		})
	}
}

// serve answers r and returns the caller and, for a create, "/" and the
// new tenant's id.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (tresor.Principal, string, error) {
	p, err := adminhttp.Admin(r, h.Authenticate, h.Admin, "Only the installation's administrator may list or create tenants.")
	if err != nil {
		return p, "", err
	}
	if path := strings.TrimSuffix(strings.ToLower(r.URL.Path), "/"); path != Prefix {
		return p, "", tresor.Errorf(tresor.NotFound, "No such tenant operation: %s.", r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
		ts, err := h.Tenants.List(r.Context())
		if err != nil {
			return p, "", err
		}
		out := struct {
			Value []Tenant `json:"value"`
		}{Value: make([]Tenant, 0, len(ts))}
		for _, t := range ts {
			out.Value = append(out.Value, Tenant{TenantID: t.ID, DisplayName: t.DisplayName, Created: t.Created.UTC().Format(time.RFC3339), SubscriptionIDs: t.SubscriptionIDs})
		}
		adminhttp.WriteJSON(w, http.StatusOK, out)
		return p, "", nil
	case http.MethodPost:
		var req struct {
			DisplayName string `json:"displayName"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody)).Decode(&req); err != nil {
			return p, "", tresor.Errorf(tresor.Invalid, "The body must be {\"displayName\": \"...\"}: %v", err)
		}
		c, err := h.Tenants.Create(r.Context(), req.DisplayName)
		if err != nil {
			return p, "", err
		}
		adminhttp.WriteJSON(w, http.StatusCreated, Created{
			TenantID: c.Tenant.ID, DisplayName: c.Tenant.DisplayName, SubscriptionID: c.SubscriptionID,
			ClientID: c.Admin.ClientID, ClientSecret: c.Admin.ClientSecret, ObjectID: c.Admin.ObjectID,
		})
		return p, "/" + c.Tenant.ID, nil
	}
	return p, "", tresor.Errorf(tresor.Invalid, "Method %s is not allowed on %s.", r.Method, Prefix).WithReason(adminhttp.ReasonMethodNotAllowed)
}
