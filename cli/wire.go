package cli

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/arm/msi/msihttp"
	"github.com/tresorkms/tresor/arm/vault"
	"github.com/tresorkms/tresor/client"
	"github.com/tresorkms/tresor/eventgrid/eghttp"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/graphhttp"
	"github.com/tresorkms/tresor/identity/idhttp"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/pki"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/tenancy"
	"github.com/tresorkms/tresor/tenancy/tenancyhttp"
)

// system holds the parts of the server around the key service: TLS, the
// token issuer and the control plane.
type system struct {
	pki      *pki.Bundle
	identity *identity.Service
	tokens   http.Handler // the issuer's OAuth and OpenID endpoints
	arm      http.Handler // the ARM front door
	graph    http.Handler // the Microsoft Graph subset (applications, service principals)
	tenants  http.Handler // the tenant admin API (/tresor/tenants)

	adminObjectID string // the bootstrap admin principal
	root          []byte // the root key, from which each service's sealer derives
}

func (sys *system) open(ctx context.Context, s *Server, root []byte, u urls) error {
	var err error
	sys.root = root
	if sys.pki, err = pki.LoadOrCreate(s.DataDir, s.Domain); err != nil {
		return err
	}
	idSealer, err := seal.New(root, "identity")
	if err != nil {
		return err
	}
	d := s.Domain
	sys.identity = &identity.Service{
		Store:  s.DB,
		Sealer: idSealer,
		Issuer: strings.TrimSuffix(u.authority, "/"),
		// Each data plane accepts its audience with and without the port:
		// the SDKs ask for the challenge's resource (with the port), people
		// configuring scopes by hand often leave it out.
		Audiences: []string{u.vaultResource, "https://vault." + d, u.hsmResource, "https://managedhsm." + d, u.armAudience,
			u.graphAudience, u.graphAudience + u.suffix, storageAudience, u.storageAudience},
		HostSecret: hostSecret(root),
	}
	admin, err := sys.identity.Bootstrap(ctx)
	if err != nil {
		return err
	}
	sys.tokens = idhttp.New(sys.identity)

	prev := client.Env{}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "tresor.env")); err == nil {
		prev = client.Parse(b)
	}
	secret := admin.ClientSecret
	if !admin.Created {
		secret = prev["AZURE_CLIENT_SECRET"]
		if secret == "" || prev["AZURE_CLIENT_ID"] != admin.ClientID {
			// The only copy of the secret was lost: issue a new one.
			if secret, err = sys.identity.ResetCredential(ctx, admin.ClientID); err != nil {
				return err
			}
		}
	}
	sys.adminObjectID = admin.ObjectID
	subscription, err := sys.openARM(ctx, s, admin.TenantID, u)
	if err != nil {
		return err
	}
	sys.tenants = &tenancyhttp.Handler{
		Tenants:      &tenancy.Service{Identity: sys.identity, ARM: &arm.Service{Store: s.DB}, RBAC: s.RBAC},
		Authenticate: sys.authenticator(u.armAudience),
		Admin:        admin.ObjectID,
		Audit:        s.record,
	}
	sys.graph = graphhttp.New(graphhttp.Config{
		Identity:     sys.identity,
		Authenticate: sys.authenticator(u.graphAudience, u.graphAudience+u.suffix),
		BaseURL:      u.arm,
		Authority:    strings.TrimSuffix(u.authority, "/") + "/" + admin.TenantID,
		Audit:        s.record,
		Logger:       s.Logger,
	})
	s.Env = client.Env{
		"AZURE_TENANT_ID":        admin.TenantID,
		"AZURE_CLIENT_ID":        admin.ClientID,
		"AZURE_CLIENT_SECRET":    secret,
		"TRESOR_ADMIN_OBJECT_ID": admin.ObjectID,
		"AZURE_AUTHORITY_HOST":   u.authority,
		"AZURE_SUBSCRIPTION_ID":  subscription,
		"TRESOR_ARM_ENDPOINT":    u.arm,
		"TRESOR_ARM_AUDIENCE":    u.armAudience,
		"TRESOR_CA_FILE":         sys.pki.CAFile,
		"TRESOR_DOMAIN":          s.Domain,
		"TRESOR_ADDR":            s.ln.Addr().String(),
		"NODE_EXTRA_CA_CERTS":    sys.pki.CAFile,
		// The managed identity endpoint, under names that do not make
		// DefaultAzureCredential prefer it: a program that should act as a
		// managed identity sets IDENTITY_ENDPOINT and IDENTITY_HEADER to
		// these (README, "Managed identities").
		"TRESOR_IDENTITY_ENDPOINT": strings.TrimSuffix(u.authority, "/") + "/msi/token",
		"TRESOR_IDENTITY_HEADER":   sys.identity.HostSecret,
		// Microsoft Graph (applications, service principals) is served on
		// the control host under /v1.0, for tokens of this audience.
		"TRESOR_GRAPH_ENDPOINT": u.arm,
		"TRESOR_GRAPH_AUDIENCE": u.graphAudience,
	}
	return s.writeEnv()
}

// hostSecret is the managed identity endpoint's secret (X-IDENTITY-HEADER):
// derived from the root key, so that it survives restarts and is never
// stored, and changes with the root key.
func hostSecret(root []byte) string {
	k, err := hkdf.Key(sha256.New, root, nil, "tresor/identity-endpoint/v1", 32)
	if err != nil {
		panic(err) // only for lengths that 32 is not
	}
	return base64.RawURLEncoding.EncodeToString(k)
}

// authenticator validates bearer tokens for a data plane's audiences.
func (sys *system) authenticator(audiences ...string) func(context.Context, string) (tresor.Principal, error) {
	return func(ctx context.Context, token string) (tresor.Principal, error) {
		return sys.identity.Validate(ctx, token, audiences...)
	}
}

func (sys *system) tlsConfig() *tls.Config { return sys.pki.TLSConfig() }

// control serves the domain itself: the health check, ARM, Microsoft
// Graph, the tenant API and the token issuer. ARM paths start with
// /subscriptions or /providers, Graph's with /v1.0, the tenant API's with
// /tresor/tenants; everything else belongs to the issuer, whose paths
// start with a tenant. Paths are compared cleaned: the ARM
// SDKs join an endpoint and a scope that starts with "/" into "//".
func (sys *system) control() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(path.Clean("/" + r.URL.Path))
		switch {
		case p == "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n")) //nolint:errcheck // the client went away
		case strings.HasPrefix(p, "/subscriptions") || strings.HasPrefix(p, "/providers"):
			sys.arm.ServeHTTP(w, r)
		case graphhttp.Owns(r):
			sys.graph.ServeHTTP(w, r)
		case p == tenancyhttp.Prefix || strings.HasPrefix(p, tenancyhttp.Prefix+"/"):
			sys.tenants.ServeHTTP(w, r)
		default:
			sys.tokens.ServeHTTP(w, r)
		}
	})
}

// openARM prepares the control plane and returns the subscription.
func (sys *system) openARM(ctx context.Context, s *Server, tenantID string, u urls) (string, error) {
	armSvc := &arm.Service{Store: s.DB}
	sub, err := armSvc.Bootstrap(ctx, tenantID)
	if err != nil {
		return "", err
	}
	// The admin owns the subscription, as its creator does in Azure.
	if err := sys.ensureOwner(ctx, s.RBAC, "/subscriptions/"+sub.ID); err != nil {
		return "", err
	}
	ids := &msi.Service{Store: s.DB, ARM: armSvc, Identity: sys.identity}
	identities := &msihttp.Provider{MSI: ids}
	accounts, err := s.openStorage(sys.root, ids, u)
	if err != nil {
		return "", err
	}
	sets, err := s.openCompute(sys.root, ids)
	if err != nil {
		return "", err
	}
	vaults := &vault.Provider{Keys: s.Keys, ARM: armSvc, RBAC: s.RBAC, Deleted: s.Events.DeleteScope, URI: func(kind keyvault.VaultKind, name string) string {
		if kind == keyvault.ManagedHSM {
			return "https://" + name + ".managedhsm." + s.Domain + u.suffix + "/"
		}
		return "https://" + name + ".vault." + s.Domain + u.suffix + "/"
	}}
	sys.arm = armhttp.New(armhttp.Config{
		ARM:          armSvc,
		Authenticate: sys.authenticator(u.armAudience),
		Authority:    strings.TrimSuffix(u.authority, "/") + "/" + tenantID,
		Providers:    []armhttp.Provider{vaults, identities, &eghttp.Provider{Events: s.Events}, accounts, sets},
		RBAC:         s.RBAC,
		Audit:        s.record,
		Logger:       s.Logger,
	})
	return sub.ID, nil
}

// ensureOwner gives the admin principal the Owner role at scope unless it
// has it: on first start, and again if it was deleted, since nobody else
// could restore it.
func (sys *system) ensureOwner(ctx context.Context, rs *rbac.Service, scope string) error {
	as, err := rs.ListRoleAssignments(ctx, "", scope, sys.adminObjectID, true)
	if err != nil {
		return err
	}
	for _, a := range as {
		if a.RoleID == rbac.Owner {
			return nil
		}
	}
	_, _, err = rs.CreateRoleAssignment(ctx, rbac.Assignment{
		Name: identity.NewGUID(), Scope: scope, RoleID: rbac.Owner, PrincipalID: sys.adminObjectID,
		PrincipalType: "ServicePrincipal", Description: "tresor administrator",
	})
	return err
}
