package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestSeedConfidentialVMRotation is the seed's portal steps (key rotation
// of confidential VMs with customer-managed keys) as API calls, on a
// Managed HSM key: a confidential-VM DES; two confidential VMs, one of
// them on an OS disk uploaded with data; the key rotated in the HSM;
// updating the DES refused while one VM runs, done once both are
// stopped, every artifact on the new version and the uploaded data
// intact; automatic rotation refused for that DES and observed for an
// encryption-at-rest DES on the same HSM after the virtual clock
// advances; the key disabled, a VM does not start, enabled, it does.
func TestSeedConfidentialVMRotation(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := &vmFixture{diskFixture: newDiskFixture(t, e)}
	var err error
	if f.vms, err = armcompute.NewVirtualMachinesClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http)); err != nil {
		t.Fatal(err)
	}
	hsm := e.vault(t, "hsm-cvm", true, nil)
	// A customer-managed key's HSM needs purge protection.
	hsms, err := armkeyvault.NewManagedHsmsClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := hsms.BeginUpdate(ctx, "rg-e2e", "hsm-cvm", armkeyvault.ManagedHsm{Properties: &armkeyvault.ManagedHsmProperties{EnablePurgeProtection: to.Ptr(true)}}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	key, err := hsm.CreateKey(ctx, "cvm-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](3072)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.assignHSMRole(t, e.env.HSMURL("hsm-cvm"), rbac.HSMCryptoServiceEncryptionUser, f.miPrincipal, "/keys")
	v1 := string(*key.Key.KID)
	des := f.des(t, "des-seed", v1, armcompute.DiskEncryptionSetTypeConfidentialVMEncryptedWithCustomerKey)

	// A confidential OS disk uploaded with data, and two confidential VMs.
	const size = 20<<20 + 512
	if _, err := f.createDisk("seed-os", armcompute.Disk{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr[int64](size)},
			OSType:       to.Ptr(armcompute.OperatingSystemTypesLinux),
			SecurityProfile: &armcompute.DiskSecurityProfile{
				SecurityType:                to.Ptr(armcompute.DiskSecurityTypesConfidentialVMDiskEncryptedWithCustomerKey),
				SecureVMDiskEncryptionSetID: des.ID,
			},
		},
	}); err != nil {
		t.Fatal(err)
	}
	sas, err := f.grant("seed-os", armcompute.AccessLevelWrite)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("confidential"), 4096/12+1)[:4096]
	if _, err := f.pages(t, sas).UploadPages(ctx, streaming.NopCloser(bytes.NewReader(data)), blob.HTTPRange{Count: 4096}, nil); err != nil {
		t.Fatal(err)
	}
	f.revoke(t, "seed-os")
	osDisk, err := f.disks.Get(ctx, "rg-e2e", "seed-os", nil)
	if err != nil {
		t.Fatal(err)
	}
	attached := confidentialVM(*des.ID, false)
	attached.Properties.StorageProfile.ImageReference, attached.Properties.OSProfile = nil, nil
	attached.Properties.StorageProfile.OSDisk = &armcompute.OSDisk{
		CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach), OSType: to.Ptr(armcompute.OperatingSystemTypesLinux),
		ManagedDisk: &armcompute.ManagedDiskParameters{ID: osDisk.ID, SecurityProfile: &armcompute.VMDiskSecurityProfile{
			SecurityEncryptionType: to.Ptr(armcompute.SecurityEncryptionTypesDiskWithVMGuestState),
			DiskEncryptionSet:      &armcompute.DiskEncryptionSetParameters{ID: des.ID},
		}},
	}
	if _, err := f.create("cvm1", attached); err != nil {
		t.Fatalf("create cvm1 on the uploaded OS disk: %v", err)
	}
	if _, err := f.create("cvm2", confidentialVM(*des.ID, false)); err != nil {
		t.Fatal(err)
	}

	// The seed: rotate the key in the HSM, then update the DES. Refused
	// while cvm2 runs; no VM gets the new key.
	// A new version: a Managed HSM rotates on demand only under a
	// rotation policy, and creating the key again is the seed's "new
	// version" too.
	newVersion := func() azkeys.CreateKeyResponse {
		t.Helper()
		k, err := hsm.CreateKey(ctx, "cvm-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](3072)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rotated := newVersion()
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(*rotated.Key.KID)
	if err := f.power("deallocate", "cvm1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.setKey("des-seed", v2); statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" {
		t.Fatalf("update with cvm2 running = %v; want 409 OperationNotAllowed", err)
	}
	versions := func(want string) {
		t.Helper()
		kv := f.keyVersions(t, "des-seed")
		if len(kv) != 4 { // two OS disks, two guest states
			t.Errorf("keyVersions = %v; want four artifacts", kv)
		}
		for id, k := range kv {
			if k != want {
				t.Errorf("%s is on %s; want %s", id, k, want)
			}
		}
	}
	versions(v1)

	// Both stopped: the update goes through and every artifact moves.
	if err := f.power("deallocate", "cvm2"); err != nil {
		t.Fatal(err)
	}
	after, err := f.setKey("des-seed", v2)
	if err != nil || deref(after.Properties.ProvisioningState) != "Succeeded" || len(after.Properties.PreviousKeys) != 0 {
		t.Fatalf("update with both stopped = %+v, %v", after.Properties, err)
	}
	versions(v2)
	if _, err := hsm.UpdateKey(ctx, "cvm-key", key.Key.KID.Version(), azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := f.readDisk(t, "seed-os", 0, 4096); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the uploaded OS disk after the rotation, old version disabled: %v", err)
	}
	for _, vm := range []string{"cvm1", "cvm2"} {
		if err := f.power("start", vm); err != nil {
			t.Errorf("start %s on the new key: %v", vm, err)
		}
	}

	// Automatic rotation: refused for the confidential-VM DES; an
	// encryption-at-rest DES on the same HSM follows the next version once
	// the clock has moved an hour.
	auto := true
	poller, err := f.sets.BeginUpdate(ctx, "rg-e2e", "des-seed", armcompute.DiskEncryptionSetUpdate{Properties: &armcompute.DiskEncryptionSetUpdateProperties{
		RotationToLatestKeyVersionEnabled: &auto,
	}}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "ConfidentialVmEncryptedWithCustomerKey") {
		t.Errorf("auto-rotation on the confidential-VM DES = %v; want 400", err)
	}
	sse := f.des(t, "des-seed-sse", v2, armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey)
	if poller, err := f.sets.BeginUpdate(ctx, "rg-e2e", "des-seed-sse", armcompute.DiskEncryptionSetUpdate{Properties: &armcompute.DiskEncryptionSetUpdateProperties{
		RotationToLatestKeyVersionEnabled: &auto,
	}}, nil); err != nil {
		t.Fatal(err)
	} else if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.createDisk("seed-data", armcompute.Disk{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1),
			Encryption: &armcompute.Encryption{DiskEncryptionSetID: sse.ID},
		},
	}); err != nil {
		t.Fatal(err)
	}
	third := newVersion()
	v3 := string(*third.Key.KID)
	var out, errb bytes.Buffer
	if code := cli.Run(ctx, []string{"clock", "advance", "PT1H", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("clock advance: %s", errb.String())
	}
	if got, err := f.sets.Get(ctx, "rg-e2e", "des-seed-sse", nil); err != nil || deref(got.Properties.ActiveKey.KeyURL) != v3 {
		t.Errorf("the encryption-at-rest DES after an hour is on %s, %v; want %s", deref(got.Properties.ActiveKey.KeyURL), err, v3)
	}
	kv := f.keyVersions(t, "des-seed-sse")
	if len(kv) != 1 {
		t.Errorf("keyVersions of the encryption-at-rest DES = %v; want its one disk", kv)
	}
	for id, k := range kv {
		if k != v3 {
			t.Errorf("%s on the automatically rotated DES is on %s; want %s", id, k, v3)
		}
	}
	if got, _ := f.sets.Get(ctx, "rg-e2e", "des-seed", nil); deref(got.Properties.ActiveKey.KeyURL) != v2 {
		t.Errorf("the confidential-VM DES moved to %s by itself", deref(got.Properties.ActiveKey.KeyURL))
	}

	// The key disabled: a stopped confidential VM does not start (403);
	// enabled again, it does.
	if err := f.power("deallocate", "cvm2"); err != nil {
		t.Fatal(err)
	}
	enable := func(on bool) {
		t.Helper()
		if _, err := hsm.UpdateKey(ctx, "cvm-key", rotated.Key.KID.Version(), azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	enable(false)
	if err := f.power("start", "cvm2"); statusOf(err) != http.StatusForbidden {
		t.Errorf("start with the key disabled = %v; want 403", err)
	}
	if got := f.powerState(t, "cvm2"); got != "PowerState/deallocated" {
		t.Errorf("cvm2 after the failed start: %s", got)
	}
	enable(true)
	if err := f.power("start", "cvm2"); err != nil {
		t.Errorf("start with the key enabled again: %v", err)
	}
	if got := f.powerState(t, "cvm2"); got != "PowerState/running" {
		t.Errorf("cvm2 after the start: %s", got)
	}
}
