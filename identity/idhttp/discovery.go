package idhttp

import (
	"encoding/base64"
	"math/big"
	"net/http"
	"net/url"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// version selects the v1.0 or v2.0 form of Entra's endpoints.
type version int

const (
	v1 version = iota
	v2
)

// path returns the v1.0 or v2.0 form of an endpoint path below a tenant:
// "oauth2/token" or "oauth2/v2.0/token".
func (v version) path(dir, name string) string {
	if v == v2 {
		return dir + "/v2.0/" + name
	}
	return dir + "/" + name
}

// openIDConfiguration is the part of Entra's OpenID provider metadata that
// MSAL Go and msal-node read (authorization_endpoint, token_endpoint,
// issuer, jwks_uri, end_session_endpoint), with the members RFC 8414 and
// OpenID Discovery require, and Entra's tenant_region_scope and
// cloud_instance_name.
type openIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TenantRegionScope                 string   `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
}

// openIDConfiguration serves a tenant's metadata. Both versions name the
// same issuer, the one in the tokens: tresor issues one kind of token.
func (h *Handler) openIDConfiguration(v version) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := h.svc.Tenant(r.Context(), r.PathValue("tenant"))
		if err != nil {
			return err
		}
		tenantURL := h.svc.BaseURL() + "/" + t.ID + "/"
		w.Header().Set("Cache-Control", "max-age=86400, private")
		writeJSON(w, http.StatusOK, openIDConfiguration{
			Issuer:                            h.svc.TenantIssuer(t.ID),
			AuthorizationEndpoint:             tenantURL + v.path("oauth2", "authorize"),
			TokenEndpoint:                     tenantURL + v.path("oauth2", "token"),
			JWKSURI:                           tenantURL + v.path("discovery", "keys"),
			EndSessionEndpoint:                tenantURL + v.path("oauth2", "logout"),
			TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"},
			GrantTypesSupported:               []string{"client_credentials"},
			ResponseTypesSupported:            []string{"token"},
			SubjectTypesSupported:             []string{"pairwise"},
			IDTokenSigningAlgValuesSupported:  []string{"RS256"},
			ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
			TenantRegionScope:                 "WW",
			CloudInstanceName:                 h.host().Hostname(),
		})
		return nil
	}
}

// instanceDiscoveryResponse is Entra's instance discovery reply.
type instanceDiscoveryResponse struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// instanceDiscovery tells MSAL that this host is an authority and where a
// tenant's metadata is. The tenant is the one in the authorization_endpoint
// parameter, as Entra does, else the one in the path. An
// authorization_endpoint on another host is answered as Entra answers an
// unknown cloud: invalid_instance.
func (h *Handler) instanceDiscovery(w http.ResponseWriter, r *http.Request) error {
	host := h.host().Host
	tenant := r.PathValue("tenant")
	if tenant == "" {
		tenant = "common"
	}
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		if err != nil || !strings.EqualFold(u.Host, host) {
			return tresor.Errorf(tresor.Invalid, "AADSTS50049: Unknown or invalid instance.").WithReason("invalid_instance")
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if first != "" {
			tenant = first
		}
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, instanceDiscoveryResponse{
		TenantDiscoveryEndpoint: h.svc.BaseURL() + "/" + url.PathEscape(tenant) + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}},
	})
	return nil
}

// jwks is a JSON Web Key Set (RFC 7517).
type jwks struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// jwkFrom converts a signing key to its JWK, base64url without padding.
func jwkFrom(k identity.PublicKey) jwk {
	enc := base64.RawURLEncoding
	return jwk{
		Kty: "RSA", Use: "sig", Alg: "RS256", Kid: k.ID,
		N: enc.EncodeToString(k.Key.N.Bytes()),
		E: enc.EncodeToString(big.NewInt(int64(k.Key.E)).Bytes()),
	}
}

// keys serves the signing keys of a tenant (all tenants share them).
func (h *Handler) keys(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.Tenant(r.Context(), r.PathValue("tenant")); err != nil {
		return err
	}
	keys, err := h.svc.PublicKeys(r.Context())
	if err != nil {
		return err
	}
	out := jwks{Keys: make([]jwk, len(keys))}
	for i, k := range keys {
		out.Keys[i] = jwkFrom(k)
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// host returns the issuer's URL, whose Host (with port) is the authority
// host clients are configured with.
func (h *Handler) host() *url.URL {
	u, err := url.Parse(h.svc.BaseURL())
	if err != nil {
		return &url.URL{}
	}
	return u
}
