package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestCrossTenantDES: a disk encryption set in the provider's tenant uses
// a key in the customer's vault through federatedClientId, as Azure's
// cross-tenant customer-managed keys for managed disks describe. Without
// it the set is created, as Azure creates one whose identity cannot use
// its key yet, but no disk can be made on it; with it a disk uploads and
// reads back; the customer revoking the role stops reads with 403, and
// giving it back restores them.
func TestCrossTenantDES(t *testing.T) {
	e := startWith(t, cli.Config{StorageKeyCacheTTL: -1})
	ctx := context.Background()
	x := newCrossTenant(t, e)
	revoke := x.cust.roleAssignment(t, x.vaultID, rbac.KeyVaultCryptoServiceEncUser, x.spID)
	f := &diskFixture{cmkFixture: &cmkFixture{e: e, vaultURI: x.vaultURI}}
	f.rebind(t, e)

	create := func(federated *string) (armcompute.DiskEncryptionSet, error) {
		poller, err := f.sets.BeginCreateOrUpdate(ctx, "rg-e2e", "des-xtenant", armcompute.DiskEncryptionSet{
			Location: to.Ptr("westeurope"),
			Identity: &armcompute.EncryptionSetIdentity{
				Type:                   to.Ptr(armcompute.DiskEncryptionSetIdentityTypeUserAssigned),
				UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{x.miID: {}},
			},
			Properties: &armcompute.EncryptionSetProperties{
				ActiveKey:         &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(string(*x.key.Key.KID))},
				FederatedClientID: federated,
			},
		}, nil)
		if err != nil {
			return armcompute.DiskEncryptionSet{}, err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		return res.DiskEncryptionSet, err
	}
	des, err := create(nil)
	if err != nil {
		t.Fatalf("a DES whose identity cannot reach the key yet is created, as in Azure: %v", err)
	}
	const size = 20<<20 + 512
	upload := armcompute.Disk{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr[int64](size)},
			Encryption:   &armcompute.Encryption{DiskEncryptionSetID: des.ID},
		},
	}
	if _, err := f.createDisk("xdisk", upload); statusOf(err) != http.StatusBadRequest || codeOf(err) != "KeyVaultAccessTokenCannotBeAcquired" {
		t.Fatalf("a disk on a DES without federatedClientId = %v; want 400 KeyVaultAccessTokenCannotBeAcquired", err)
	}

	des, err = create(to.Ptr(x.appID))
	if err != nil || deref(des.Properties.FederatedClientID) != x.appID {
		t.Fatalf("with federatedClientId: %+v, %v", des.Properties, err)
	}
	if _, err := f.createDisk("xdisk", upload); err != nil {
		t.Fatal(err)
	}
	sas, err := f.grant("xdisk", armcompute.AccessLevelWrite)
	if err != nil {
		t.Fatal(err)
	}
	page := bytes.Repeat([]byte("fabrikam"), 512)
	if _, err := f.pages(t, sas).UploadPages(ctx, streaming.NopCloser(bytes.NewReader(page)), blob.HTTPRange{Count: int64(len(page))}, nil); err != nil {
		t.Fatal(err)
	}
	f.revoke(t, "xdisk")
	if got, err := f.readDisk(t, "xdisk", 0, int64(len(page))); err != nil || !bytes.Equal(got, page) {
		t.Fatalf("read back: %v", err)
	}

	revoke()
	if _, err := f.readDisk(t, "xdisk", 0, 512); statusOfBlob(err) != "KeyVaultEncryptionKeyNotFound 403" {
		t.Errorf("read after the customer revoked the role = %v; want 403 KeyVaultEncryptionKeyNotFound", err)
	}
	x.cust.roleAssignment(t, x.vaultID, rbac.KeyVaultCryptoServiceEncUser, x.spID)
	if got, err := f.readDisk(t, "xdisk", 0, int64(len(page))); err != nil || !bytes.Equal(got, page) {
		t.Errorf("read after the role came back: %v", err)
	}
}
