package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/identity"
)

// TestDiskEncryptionSets round-trips every field of a DES, including those
// only later issue-6 work sets (previous keys, an auto-rotation error), and
// checks names ignore case within a group only.
func TestDiskEncryptionSets(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := compute.DiskEncryptionSet{
		SubscriptionID: "sub", ResourceGroup: "rg", Name: "Des1", TenantID: "tenant", Location: "westeurope",
		Tags: map[string]string{"a": "b"},
		Identity: msi.State{
			SystemAssigned: identity.ServicePrincipal{ObjectID: "oid", AppID: "app", DisplayName: "Des1", TenantID: "tenant", Type: tresor.ManagedIdentity, ResourceID: "/x", Created: at},
			UserAssigned:   []msi.AssignedIdentity{{ResourceID: "/u", PrincipalID: "p", ClientID: "c", TenantID: "tenant"}},
		},
		EncryptionType:                    compute.ConfidentialVMEncryptedWithCustomerKey,
		ActiveKey:                         compute.KeyRef{SourceVaultID: "/v", KeyURL: "https://kv/keys/k/2"},
		PreviousKeys:                      []compute.KeyRef{{KeyURL: "https://kv/keys/k/1"}},
		RotationToLatestKeyVersionEnabled: true, LastKeyRotation: at,
		AutoKeyRotationError: compute.APIError{Code: "ManagedServiceIdentityNotFound", Message: "gone"},
		FederatedClientID:    "fed", ProvisioningState: "Updating",
		Key:     compute.WrappedKey{KeyID: "https://kv/keys/k/2", Wrapped: []byte{1, 2, 3}},
		Created: at,
	}
	if err := db.CreateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDiskEncryptionSet(ctx, d); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("create twice = %v; want Conflict", err)
	}
	got, err := db.DiskEncryptionSet(ctx, "SUB", "RG", "des1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("DiskEncryptionSet round trip (-want +got):\n%s", diff)
	}
	other := d
	other.ResourceGroup, other.Tags, other.PreviousKeys, other.AutoKeyRotationError = "rg2", nil, nil, compute.APIError{}
	if err := db.CreateDiskEncryptionSet(ctx, other); err != nil {
		t.Errorf("the same name in another group: %v", err)
	}
	d.ProvisioningState, d.PreviousKeys = "Succeeded", nil
	if err := db.UpdateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.DiskEncryptionSet(ctx, "sub", "rg", "Des1"); got.ProvisioningState != "Succeeded" || got.PreviousKeys != nil {
		t.Errorf("after update: %s %v", got.ProvisioningState, got.PreviousKeys)
	}
	for _, tc := range []struct {
		group string
		want  []string
	}{{"", []string{"rg", "rg2"}}, {"RG2", []string{"rg2"}}, {"none", nil}} {
		ds, err := db.DiskEncryptionSets(ctx, "sub", tc.group)
		var groups []string
		for _, x := range ds {
			groups = append(groups, x.ResourceGroup)
		}
		if err != nil || !cmp.Equal(groups, tc.want) {
			t.Errorf("DiskEncryptionSets(%q) = %v, %v; want %v", tc.group, groups, err, tc.want)
		}
	}
	if err := db.DeleteDiskEncryptionSet(ctx, "sub", "rg", "DES1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDiskEncryptionSet(ctx, "sub", "rg", "des1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("delete twice = %v; want NotFound", err)
	}
	if err := db.UpdateDiskEncryptionSet(ctx, d); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("update after delete = %v; want NotFound", err)
	}
}
