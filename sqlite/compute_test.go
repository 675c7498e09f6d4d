package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
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

// TestDiskEncryptionSetKeyChecks round-trips NextKeyCheck and lists the
// due DESs from it, earliest first, up to the limit; a DES without a next
// check is never due.
func TestDiskEncryptionSetKeyChecks(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for i, next := range []time.Time{at.Add(2 * time.Hour), {}, at.Add(time.Hour), at.Add(3 * time.Hour)} {
		d := compute.DiskEncryptionSet{SubscriptionID: "sub", ResourceGroup: "rg", Name: "des" + strconv.Itoa(i), Created: at, NextKeyCheck: next}
		if err := db.CreateDiskEncryptionSet(ctx, d); err != nil {
			t.Fatal(err)
		}
		if got, err := db.DiskEncryptionSet(ctx, "sub", "rg", d.Name); err != nil || !got.NextKeyCheck.Equal(next) {
			t.Errorf("%s: next check %v, %v; want %v", d.Name, got.NextKeyCheck, err, next)
		}
	}
	due := func(now time.Time, max int) []string {
		t.Helper()
		ds, err := db.DueDiskEncryptionSetKeyChecks(ctx, now, max)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.Name+"@"+d.Due.Format("15:04"))
		}
		return out
	}
	for _, tc := range []struct {
		now  time.Time
		max  int
		want []string
	}{
		{at.Add(time.Hour - time.Second), 10, nil},
		{at.Add(2 * time.Hour), 10, []string{"des2@04:00", "des0@05:00"}},
		{at.Add(24 * time.Hour), 2, []string{"des2@04:00", "des0@05:00"}},
		{at.Add(24 * time.Hour), 10, []string{"des2@04:00", "des0@05:00", "des3@06:00"}},
	} {
		if got := due(tc.now, tc.max); !cmp.Equal(got, tc.want) {
			t.Errorf("DueDiskEncryptionSetKeyChecks(%v, %d) = %v; want %v", tc.now.Format("15:04:05"), tc.max, got, tc.want)
		}
	}
	// An update moves the check or, zero, drops it.
	d, _ := db.DiskEncryptionSet(ctx, "sub", "rg", "des2")
	d.NextKeyCheck = time.Time{}
	if err := db.UpdateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	d, _ = db.DiskEncryptionSet(ctx, "sub", "rg", "des3")
	d.NextKeyCheck = at
	if err := db.UpdateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got, want := due(at.Add(24*time.Hour), 10), []string{"des3@03:00", "des0@05:00"}; !cmp.Equal(got, want) {
		t.Errorf("after updates: due %v; want %v", got, want)
	}
}

// TestMigrateDESKeyChecks: migration 0023 makes the DESs that followed
// their key before it due at once (from their creation time), and no
// others.
func TestMigrateDESKeyChecks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, exec := oldDatabase(t, path, "0023")
	for _, row := range []struct {
		name string
		doc  string
	}{
		{"follows", `{"rotationToLatestKeyVersionEnabled":true,"encryptionType":"EncryptionAtRestWithCustomerKey"}`},
		{"pinned", `{"encryptionType":"EncryptionAtRestWithCustomerKey"}`},
	} {
		exec(`INSERT INTO disk_encryption_sets (subscription_id, resource_group, name, created, doc) VALUES ('sub', 'rg', ?, 1000, ?)`, row.name, row.doc)
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer db.Close()
	due, err := db.DueDiskEncryptionSetKeyChecks(ctx, time.Unix(1000, 0), 10)
	if err != nil || len(due) != 1 || due[0].Name != "follows" || !due[0].Due.Equal(time.Unix(1000, 0)) {
		t.Errorf("due after migration = %+v, %v; want follows at its creation", due, err)
	}
	if d, err := db.DiskEncryptionSet(ctx, "sub", "rg", "pinned"); err != nil || !d.NextKeyCheck.IsZero() {
		t.Errorf("pinned: next check %v, %v; want none", d.NextKeyCheck, err)
	}
}
