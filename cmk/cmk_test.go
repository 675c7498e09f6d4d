package cmk

import (
	"context"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

// TestPrincipal checks as whom a resource's identity acts on a vault's
// key: itself in its own tenant, the federated application's service
// principal in another, and nobody across tenants without federation.
func TestPrincipal(t *testing.T) {
	const home, away, app = "home-tenant", "away-tenant", "0b6c3a2e-58a1-4f43-9a6b-1d0c9e0a7f11"
	mi := tresor.Principal{TenantID: home, ObjectID: "mi", Type: tresor.ManagedIdentity}
	sp := tresor.Principal{TenantID: away, ObjectID: "sp", AppID: app, Type: tresor.ServicePrincipal}
	federate := func(err error) Federate {
		return func(_ context.Context, got tresor.Principal, clientID, tenantID string) (tresor.Principal, error) {
			if got != mi || clientID != app || tenantID != away {
				t.Errorf("Federate(%+v, %s, %s); want the identity, the application and the vault's tenant", got, clientID, tenantID)
			}
			if err != nil {
				return tresor.Principal{}, err
			}
			return sp, nil
		}
	}
	for _, tt := range []struct {
		name     string
		vault    string // its tenant
		fed      string
		federate Federate
		want     tresor.Principal
		fails    bool
		kind     tresor.Kind
		reason   string
	}{
		{name: "same tenant", vault: home, want: mi},
		{name: "same tenant, spelt otherwise", vault: "HOME-TENANT", want: mi},
		{name: "vault without a tenant", vault: "", want: mi},
		{name: "another tenant without federation", vault: away, fails: true, kind: tresor.Invalid, reason: ReasonTokenNotAcquired},
		{name: "federated", vault: away, fed: app, federate: federate(nil), want: sp},
		{name: "federation not available", vault: away, fed: app, fails: true, kind: tresor.Invalid, reason: ReasonTokenNotAcquired},
		{name: "federation refused", vault: away, fed: app, federate: federate(tresor.Errorf(tresor.Unauthenticated, "AADSTS70021: no match")),
			fails: true, kind: tresor.Invalid, reason: ReasonTokenNotAcquired},
		{name: "tresor's own failure passes through", vault: away, fed: app, federate: federate(tresor.Errorf(tresor.Internal, "store down")),
			fails: true, kind: tresor.Internal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := &Keys{Federate: tt.federate}
			got, err := k.principal(context.Background(), Identity{Principal: mi, FederatedClientID: tt.fed}, keyvault.Vault{Name: "kv", TenantID: tt.vault})
			if tt.fails {
				if !tresor.IsKind(err, tt.kind) || tresor.ReasonOf(err) != tt.reason {
					t.Fatalf("principal() = %+v, %v; want %v %q", got, err, tt.kind, tt.reason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("principal() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
