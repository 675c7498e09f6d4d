package kvtest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

func testVaultRoundTrip(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	deleted := fullVault("v4", "deleted", keyvault.KeyVault)
	deleted.Deleted, deleted.PurgeAt = t0.Add(time.Hour), t0.AddDate(0, 0, 7)
	hsmPool := fullVault("v2", "pool", keyvault.ManagedHSM)
	hsmPool.AccessPolicies, hsmPool.SKU = nil, "Standard_B1"
	empty := fullVault("v6", "empty", keyvault.KeyVault)
	empty.Tags, empty.AccessPolicies, empty.InitialAdmins = map[string]string{}, []keyvault.AccessPolicy{{}}, []string{}
	zoned := fullVault("v5", "zoned", keyvault.KeyVault)
	zoned.Created = t0.In(cet).Add(999 * time.Millisecond)
	zoned.Updated, zoned.Deleted, zoned.PurgeAt = zoned.Created, zoned.Created, zoned.Created
	zonedWant := zoned
	zonedWant.Created, zonedWant.Updated, zonedWant.Deleted, zonedWant.PurgeAt = t0, t0, t0, t0

	tests := []struct {
		name string
		v    keyvault.Vault
		want keyvault.Vault
	}{
		{"every field", fullVault("v1", "full", keyvault.KeyVault), fullVault("v1", "full", keyvault.KeyVault)},
		{"managed HSM", hsmPool, hsmPool},
		{"minimal", keyvault.Vault{Kind: keyvault.KeyVault, Name: "minimal", ID: "v3", Created: t0, Updated: t0},
			keyvault.Vault{Kind: keyvault.KeyVault, Name: "minimal", ID: "v3", Created: t0, Updated: t0}},
		{"soft-deleted", deleted, deleted},
		{"other zone, sub-second", zoned, zonedWant},
		{"empty collections", empty, empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, "CreateVault", s.CreateVault(ctx, tt.v))
			got, err := s.Vault(ctx, tt.v.Kind, tt.v.Name)
			must(t, "Vault", err)
			if diff := cmp.Diff(tt.want, got, equate); diff != "" {
				t.Errorf("Vault(%s, %q) round trip (-want +got):\n%s", tt.v.Kind, tt.v.Name, diff)
			}
			wantUTC(t, "Vault", vaultTimes(got)...)
			list, err := s.Vaults(ctx, keyvault.VaultFilter{Kind: tt.v.Kind, Deleted: tt.want.IsDeleted()})
			must(t, "Vaults", err)
			found := false
			for _, v := range list {
				if v.ID == tt.v.ID {
					found = true
					if diff := cmp.Diff(tt.want, v, equate); diff != "" {
						t.Errorf("Vaults() round trip of %q (-want +got):\n%s", tt.v.Name, diff)
					}
					wantUTC(t, "Vaults", vaultTimes(v)...)
				}
			}
			if !found {
				t.Errorf("Vaults() does not list %q", tt.v.Name)
			}
		})
	}
}

func testCreateVault(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	live := fullVault("v1", "kv1", keyvault.KeyVault)
	must(t, "CreateVault", s.CreateVault(ctx, live))
	gone := fullVault("v2", "gone", keyvault.KeyVault)
	gone.Deleted, gone.PurgeAt = t0, t0.AddDate(0, 0, 7)
	must(t, "CreateVault", s.CreateVault(ctx, gone))

	tests := []struct {
		name string
		v    keyvault.Vault
		want tresor.Kind
	}{
		{"same kind and name", fullVault("v10", "kv1", keyvault.KeyVault), tresor.Conflict},
		{"name in other case", fullVault("v11", "KV1", keyvault.KeyVault), tresor.Conflict},
		{"name of a deleted vault", fullVault("v12", "gone", keyvault.KeyVault), tresor.Conflict},
		{"same id", fullVault("v1", "other", keyvault.KeyVault), tresor.Conflict},
		{"other kind", fullVault("v13", "kv1", keyvault.ManagedHSM), noError},
		{"other kind, deleted name", fullVault("v14", "gone", keyvault.ManagedHSM), noError},
		{"new name", fullVault("v15", "kv2", keyvault.KeyVault), noError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateVault(ctx, tt.v)
			wantResult(t, "CreateVault", err, tt.want)
			if tt.want != noError {
				return
			}
			got, err := s.Vault(ctx, tt.v.Kind, tt.v.Name)
			must(t, "Vault", err)
			if diff := cmp.Diff(tt.v, got, equate); diff != "" {
				t.Errorf("Vault(%s, %q) after CreateVault (-want +got):\n%s", tt.v.Kind, tt.v.Name, diff)
			}
		})
	}
	// The conflicts left the vaults they ran into as they were.
	for _, want := range []keyvault.Vault{live, gone} {
		got, err := s.Vault(ctx, want.Kind, want.Name)
		must(t, "Vault", err)
		if diff := cmp.Diff(want, got, equate); diff != "" {
			t.Errorf("Vault(%s, %q) after conflicts (-want +got):\n%s", want.Kind, want.Name, diff)
		}
	}
	if _, err := s.Vault(ctx, keyvault.KeyVault, "other"); tresor.KindOf(err) != tresor.NotFound {
		t.Errorf("Vault(vault, other) after a conflict on its id = %v, want NotFound", err)
	}
}

func testVault(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	live := fullVault("v1", "kv1", keyvault.KeyVault)
	must(t, "CreateVault", s.CreateVault(ctx, live))
	gone := fullVault("v2", "gone", keyvault.KeyVault)
	gone.Deleted, gone.PurgeAt = t0, t0.AddDate(0, 0, 7)
	must(t, "CreateVault", s.CreateVault(ctx, gone))
	pool := fullVault("v3", "pool", keyvault.ManagedHSM)
	must(t, "CreateVault", s.CreateVault(ctx, pool))

	tests := []struct {
		kind keyvault.VaultKind
		name string
		want keyvault.Vault
		err  tresor.Kind
	}{
		{keyvault.KeyVault, "kv1", live, noError},
		{keyvault.KeyVault, "KV1", live, noError},
		{keyvault.KeyVault, "gone", gone, noError},
		{keyvault.ManagedHSM, "pool", pool, noError},
		{keyvault.ManagedHSM, "kv1", keyvault.Vault{}, tresor.NotFound},
		{keyvault.KeyVault, "pool", keyvault.Vault{}, tresor.NotFound},
		{keyvault.KeyVault, "nope", keyvault.Vault{}, tresor.NotFound},
		{keyvault.KeyVault, "", keyvault.Vault{}, tresor.NotFound},
	}
	for _, tt := range tests {
		got, err := s.Vault(ctx, tt.kind, tt.name)
		wantResult(t, "Vault("+string(tt.kind)+", "+tt.name+")", err, tt.err)
		if diff := cmp.Diff(tt.want, got, equate); err == nil && diff != "" {
			t.Errorf("Vault(%s, %q) (-want +got):\n%s", tt.kind, tt.name, diff)
		}
	}
}

func testUpdateVault(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	must(t, "CreateVault", s.CreateVault(ctx, fullVault("v1", "kv1", keyvault.KeyVault)))
	other := fullVault("v2", "kv2", keyvault.KeyVault)
	must(t, "CreateVault", s.CreateVault(ctx, other))

	changed := keyvault.Vault{
		Kind: keyvault.KeyVault, Name: "kv1", ID: "v1",
		TenantID: "tenant-2", SubscriptionID: "sub-2", ResourceGroup: "rg-2", Location: "northeurope",
		Tags: map[string]string{"new": "tag"}, SKU: "standard",
		SoftDelete: true, RetentionDays: 90,
		PublicNetworkAccess: "Disabled",
		AccessPolicies:      []keyvault.AccessPolicy{{TenantID: "t", ObjectID: "o", Keys: []string{"sign"}}},
		Created:             t0, Updated: t0.Add(time.Hour), Deleted: t0.Add(time.Hour), PurgeAt: t0.AddDate(0, 0, 90),
	}
	recovered := changed
	recovered.Tags, recovered.AccessPolicies, recovered.Deleted, recovered.PurgeAt = nil, nil, time.Time{}, time.Time{}
	renamed := recovered
	renamed.Name = "kv1-renamed"
	recased := renamed
	recased.Name = "KV1-Renamed"
	taken := recovered
	taken.Name = "KV2"
	missing := fullVault("v9", "kv9", keyvault.KeyVault)

	tests := []struct {
		name string
		v    keyvault.Vault
		want tresor.Kind
		gone string // a name no longer found after the update
	}{
		{"every field", changed, noError, ""},
		{"cleared", recovered, noError, ""},
		{"renamed", renamed, noError, "kv1"},
		{"case of own name", recased, noError, ""},
		{"name taken", taken, tresor.Conflict, ""},
		{"missing", missing, tresor.NotFound, "kv9"},
	}
	last := fullVault("v1", "kv1", keyvault.KeyVault)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, "UpdateVault", s.UpdateVault(ctx, tt.v), tt.want)
			if tt.want == noError {
				last = tt.v
			}
			got, err := s.Vault(ctx, last.Kind, last.Name)
			must(t, "Vault", err)
			if diff := cmp.Diff(last, got, equate); diff != "" {
				t.Errorf("Vault(%q) after UpdateVault (-want +got):\n%s", last.Name, diff)
			}
			if tt.gone != "" {
				_, err := s.Vault(ctx, keyvault.KeyVault, tt.gone)
				wantKind(t, "Vault("+tt.gone+")", err, tresor.NotFound)
			}
			got, err = s.Vault(ctx, keyvault.KeyVault, "kv2")
			must(t, "Vault(kv2)", err)
			if diff := cmp.Diff(other, got, equate); diff != "" {
				t.Errorf("Vault(kv2) after UpdateVault of another vault (-want +got):\n%s", diff)
			}
		})
	}
}

func testVaults(t *testing.T, s keyvault.Store) {
	ctx := t.Context()
	vault := func(id, name string, kind keyvault.VaultKind, sub, rg string, deleted bool) keyvault.Vault {
		v := fullVault(id, name, kind)
		v.SubscriptionID, v.ResourceGroup = sub, rg
		if deleted {
			v.Deleted, v.PurgeAt = t0, t0.AddDate(0, 0, 7)
		}
		return v
	}
	// Created out of name order, so that the order of the listing is the
	// Store's doing.
	all := map[string]keyvault.Vault{}
	for _, v := range []keyvault.Vault{
		vault("f", "foxtrot", keyvault.ManagedHSM, "sub2", "rg1", false),
		vault("d", "delta", keyvault.KeyVault, "sub2", "rg1", true),
		vault("b", "bravo", keyvault.KeyVault, "sub1", "rg2", false),
		vault("e", "echo", keyvault.ManagedHSM, "sub2", "RG1", true),
		vault("a", "alpha", keyvault.KeyVault, "sub1", "rg1", false),
		vault("c", "charlie", keyvault.ManagedHSM, "sub1", "rg1", false),
	} {
		must(t, "CreateVault", s.CreateVault(ctx, v))
		all[v.ID] = v
	}

	tests := []struct {
		name string
		f    keyvault.VaultFilter
		want []string // IDs
	}{
		{"live", keyvault.VaultFilter{}, []string{"a", "b", "c", "f"}},
		{"deleted", keyvault.VaultFilter{Deleted: true}, []string{"d", "e"}},
		{"vaults", keyvault.VaultFilter{Kind: keyvault.KeyVault}, []string{"a", "b"}},
		{"managed HSMs", keyvault.VaultFilter{Kind: keyvault.ManagedHSM}, []string{"c", "f"}},
		{"subscription", keyvault.VaultFilter{SubscriptionID: "sub1"}, []string{"a", "b", "c"}},
		{"subscription in other case", keyvault.VaultFilter{SubscriptionID: "SUB1"}, []string{"a", "b", "c"}},
		{"resource group", keyvault.VaultFilter{ResourceGroup: "rg1"}, []string{"a", "c", "f"}},
		{"resource group in other case", keyvault.VaultFilter{ResourceGroup: "Rg1"}, []string{"a", "c", "f"}},
		{"every filter", keyvault.VaultFilter{Kind: keyvault.KeyVault, SubscriptionID: "sub1", ResourceGroup: "rg1"}, []string{"a"}},
		{"deleted in resource group", keyvault.VaultFilter{Deleted: true, ResourceGroup: "rg1"}, []string{"d", "e"}},
		{"deleted managed HSMs", keyvault.VaultFilter{Deleted: true, Kind: keyvault.ManagedHSM}, []string{"e"}},
		{"deleted in subscription", keyvault.VaultFilter{Deleted: true, SubscriptionID: "sub1"}, nil},
		{"no match", keyvault.VaultFilter{SubscriptionID: "other"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Vaults(ctx, tt.f)
			must(t, "Vaults", err)
			var want []keyvault.Vault
			for _, id := range tt.want {
				want = append(want, all[id])
			}
			if diff := cmp.Diff(want, got, equate); diff != "" {
				t.Errorf("Vaults(%+v) (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}
