package kvtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

var equate = cmpopts.EquateEmpty()

func wantKind(tb testing.TB, op string, err error, k tresor.Kind) {
	tb.Helper()
	if err == nil || tresor.KindOf(err) != k {
		tb.Fatalf("%s = %v, want kind %v", op, err, k)
	}
}

func must(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", op, err)
	}
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testVault(id, name string, kind keyvault.VaultKind) keyvault.Vault {
	return keyvault.Vault{
		Kind: kind, Name: name, ID: id, TenantID: "tenant", SubscriptionID: "sub", ResourceGroup: "rg",
		Location: "westeurope", Tags: map[string]string{"env": "test"}, SKU: "premium",
		SoftDelete: true, RetentionDays: 7, PurgeProtection: true, RBAC: true,
		EnabledForDiskEncryption: true, PublicNetworkAccess: "Enabled",
		AccessPolicies: []keyvault.AccessPolicy{{TenantID: "tenant", ObjectID: "oid", Keys: []string{"get", "wrapKey"}}},
		InitialAdmins:  []string{"admin"},
		Created:        t0, Updated: t0,
	}
}

func testVersion(vaultID, name string, i int) keyvault.KeyVersion {
	return keyvault.KeyVersion{
		VaultID: vaultID, Name: name, Version: fmt.Sprintf("%032x", i+1),
		Type: keyvault.RSAHSM, Size: 2048, Public: hsm.PublicKey{Type: hsm.RSA, N: []byte{1, 2, 3}, E: []byte{1, 0, 1}},
		Ops: []keyvault.KeyOp{keyvault.OpWrapKey}, Enabled: true, NotBefore: t0, Expires: t0.Add(time.Hour),
		Created: t0, Updated: t0, Tags: map[string]string{"i": fmt.Sprint(i)},
		ReleasePolicy: &keyvault.ReleasePolicy{ContentType: "application/json", Data: []byte("{}")}, Exportable: true,
		Handle: hsm.Handle{9, 9, byte(i)},
	}
}

// TestStore checks that the Store returned by open keeps every contract of
// keyvault.Store. open is called once per subtest and must return an empty
// store.
func TestStore(t *testing.T, open func(t *testing.T) keyvault.Store) {
	ctx := context.Background()
	t.Run("Vaults", func(t *testing.T) {
		s := open(t)
		v := testVault("v1", "kv1", keyvault.KeyVault)
		must(t, "CreateVault", s.CreateVault(ctx, v))
		got, err := s.Vault(ctx, keyvault.KeyVault, "kv1")
		must(t, "Vault", err)
		if diff := cmp.Diff(v, got, equate); diff != "" {
			t.Errorf("Vault round trip (-want +got):\n%s", diff)
		}
		wantKind(t, "CreateVault(same name)", s.CreateVault(ctx, testVault("v2", "kv1", keyvault.KeyVault)), tresor.Conflict)
		must(t, "CreateVault(other kind)", s.CreateVault(ctx, testVault("v3", "kv1", keyvault.ManagedHSM)))
		_, err = s.Vault(ctx, keyvault.KeyVault, "nope")
		wantKind(t, "Vault(missing)", err, tresor.NotFound)

		v.Deleted, v.PurgeAt, v.Tags = t0, t0.AddDate(0, 0, 7), nil
		must(t, "UpdateVault", s.UpdateVault(ctx, v))
		wantKind(t, "CreateVault(deleted name)", s.CreateVault(ctx, testVault("v4", "kv1", keyvault.KeyVault)), tresor.Conflict)
		wantKind(t, "UpdateVault(missing)", s.UpdateVault(ctx, testVault("zz", "zz", keyvault.KeyVault)), tresor.NotFound)
		live, err := s.Vaults(ctx, keyvault.VaultFilter{})
		must(t, "Vaults", err)
		deleted, err := s.Vaults(ctx, keyvault.VaultFilter{Deleted: true, Kind: keyvault.KeyVault, SubscriptionID: "sub"})
		must(t, "Vaults(deleted)", err)
		if len(live) != 1 || live[0].ID != "v3" || len(deleted) != 1 || deleted[0].ID != "v1" || !deleted[0].PurgeAt.Equal(v.PurgeAt) {
			t.Errorf("Vaults = %d live, %d deleted; want v3 live and v1 deleted", len(live), len(deleted))
		}
		none, _ := s.Vaults(ctx, keyvault.VaultFilter{ResourceGroup: "other"})
		if len(none) != 0 {
			t.Errorf("Vaults(rg other) = %d, want 0", len(none))
		}
	})

	t.Run("KeyVersions", func(t *testing.T) {
		s := open(t)
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		var want []keyvault.KeyVersion
		for i := range 3 {
			kv := testVersion("v1", "k", i) // all in the same second: order is insertion order
			must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, kv))
			want = append(want, kv)
		}
		wantKind(t, "CreateKeyVersion(dup)", s.CreateKeyVersion(ctx, want[0]), tresor.Conflict)
		latest, err := s.KeyVersion(ctx, "v1", "k", "")
		must(t, "KeyVersion(latest)", err)
		if diff := cmp.Diff(want[2], latest, equate); diff != "" {
			t.Errorf("KeyVersion(latest) (-want +got):\n%s", diff)
		}
		first, err := s.KeyVersion(ctx, "v1", "k", want[0].Version)
		must(t, "KeyVersion(first)", err)
		if diff := cmp.Diff(want[0], first, equate); diff != "" {
			t.Errorf("KeyVersion(first) (-want +got):\n%s", diff)
		}
		_, err = s.KeyVersion(ctx, "v1", "k", "ffff")
		wantKind(t, "KeyVersion(missing version)", err, tresor.NotFound)
		_, err = s.KeyVersion(ctx, "v1", "nope", "")
		wantKind(t, "KeyVersion(missing key)", err, tresor.NotFound)

		upd := want[1]
		upd.Enabled, upd.Tags, upd.Ops, upd.ReleasePolicy, upd.Exportable = false, nil, []keyvault.KeyOp{keyvault.OpSign}, nil, false
		upd.Expires = time.Time{}
		must(t, "UpdateKeyVersion", s.UpdateKeyVersion(ctx, upd))
		got, _ := s.KeyVersion(ctx, "v1", "k", upd.Version)
		if diff := cmp.Diff(upd, got, equate); diff != "" {
			t.Errorf("UpdateKeyVersion round trip (-want +got):\n%s", diff)
		}

		var versions []string
		for p := (keyvault.Page{Max: 2}); ; {
			page, next, err := s.KeyVersions(ctx, "v1", "k", p)
			must(t, "KeyVersions", err)
			for _, kv := range page {
				versions = append(versions, kv.Version)
			}
			if next == "" {
				break
			}
			p.After = next
		}
		if diff := cmp.Diff([]string{want[0].Version, want[1].Version, want[2].Version}, versions); diff != "" {
			t.Errorf("KeyVersions paging (-want +got):\n%s", diff)
		}
		_, _, err = s.KeyVersions(ctx, "v1", "nope", keyvault.Page{})
		wantKind(t, "KeyVersions(missing)", err, tresor.NotFound)
	})

	t.Run("KeysPaging", func(t *testing.T) {
		s := open(t)
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v2", "kv2", keyvault.KeyVault)))
		var names []string
		for i := range 30 {
			name := fmt.Sprintf("key-%02d", i)
			names = append(names, name)
			must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, testVersion("v1", name, i)))
		}
		must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, testVersion("v2", "elsewhere", 0)))
		must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "key-05", keyvault.Deletion{Deleted: t0, PurgeAt: t0.Add(time.Hour)}))
		for _, max := range []int{0, 1, 7, 25} {
			var got []string
			pages := 0
			for p := (keyvault.Page{Max: max}); ; {
				page, next, err := s.Keys(ctx, "v1", p)
				must(t, "Keys", err)
				pages++
				for _, kv := range page {
					got = append(got, kv.Name)
				}
				if next == "" {
					break
				}
				p.After = next
			}
			want := append(append([]string{}, names[:5]...), names[6:]...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Keys(max %d) (-want +got):\n%s", max, diff)
			}
			if max == 0 && pages != 2 {
				t.Errorf("Keys(default page size) took %d pages for 29 keys, want 2", pages)
			}
		}
	})

	t.Run("DeleteRecoverPurge", func(t *testing.T) {
		s := open(t)
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, testVersion("v1", "k", 0)))
		must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, testVersion("v1", "k", 1)))
		d := keyvault.Deletion{Deleted: t0, PurgeAt: t0.AddDate(0, 0, 7)}
		must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", d))
		_, err := s.KeyVersion(ctx, "v1", "k", "")
		wantKind(t, "KeyVersion(deleted)", err, tresor.NotFound)
		keys, _, _ := s.Keys(ctx, "v1", keyvault.Page{})
		if len(keys) != 0 {
			t.Errorf("Keys lists a deleted key")
		}
		wantKind(t, "CreateKeyVersion(deleted)", s.CreateKeyVersion(ctx, testVersion("v1", "k", 5)), tresor.Conflict)
		dk, err := s.DeletedKey(ctx, "v1", "k")
		must(t, "DeletedKey", err)
		if dk.Latest.Version != testVersion("v1", "k", 1).Version || !dk.Deleted.Equal(d.Deleted) || !dk.PurgeAt.Equal(d.PurgeAt) {
			t.Errorf("DeletedKey = %+v", dk)
		}
		list, next, err := s.DeletedKeys(ctx, "v1", keyvault.Page{})
		if err != nil || len(list) != 1 || next != "" {
			t.Errorf("DeletedKeys = %d, %q, %v", len(list), next, err)
		}
		must(t, "RecoverKey", s.RecoverKey(ctx, "v1", "k"))
		_, err = s.DeletedKey(ctx, "v1", "k")
		wantKind(t, "DeletedKey(recovered)", err, tresor.NotFound)
		wantKind(t, "RecoverKey(live)", s.RecoverKey(ctx, "v1", "k"), tresor.NotFound)
		must(t, "DeleteKey", s.DeleteKey(ctx, "v1", "k", d))
		must(t, "PurgeKey", s.PurgeKey(ctx, "v1", "k"))
		_, err = s.DeletedKey(ctx, "v1", "k")
		wantKind(t, "DeletedKey(purged)", err, tresor.NotFound)
		must(t, "CreateKeyVersion(after purge)", s.CreateKeyVersion(ctx, testVersion("v1", "k", 7)))
	})

	t.Run("Restore", func(t *testing.T) {
		s := open(t)
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		vs := []keyvault.KeyVersion{testVersion("v1", "r", 0), testVersion("v1", "r", 1)}
		must(t, "RestoreKey", s.RestoreKey(ctx, vs))
		latest, _ := s.KeyVersion(ctx, "v1", "r", "")
		if latest.Version != vs[1].Version {
			t.Errorf("RestoreKey: latest = %s, want %s", latest.Version, vs[1].Version)
		}
		wantKind(t, "RestoreKey(exists)", s.RestoreKey(ctx, vs), tresor.Conflict)
		bad := []keyvault.KeyVersion{testVersion("v1", "s", 0), testVersion("v1", "s", 0)}
		if err := s.RestoreKey(ctx, bad); err == nil {
			t.Fatal("RestoreKey(duplicate versions) succeeded")
		}
		_, err := s.KeyVersion(ctx, "v1", "s", "")
		wantKind(t, "KeyVersion after failed restore", err, tresor.NotFound)
	})

	t.Run("PurgeVault", func(t *testing.T) {
		s := open(t)
		must(t, "CreateVault", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		must(t, "CreateKeyVersion", s.CreateKeyVersion(ctx, testVersion("v1", "k", 0)))
		must(t, "PurgeVault", s.PurgeVault(ctx, "v1"))
		_, err := s.Vault(ctx, keyvault.KeyVault, "kv1")
		wantKind(t, "Vault(purged)", err, tresor.NotFound)
		must(t, "CreateVault(again)", s.CreateVault(ctx, testVault("v1", "kv1", keyvault.KeyVault)))
		_, err = s.KeyVersion(ctx, "v1", "k", "")
		wantKind(t, "KeyVersion(of purged vault)", err, tresor.NotFound)
	})
}
