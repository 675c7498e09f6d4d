package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"

	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// diskFixture is a DES on the CMK fixture's key, through its user-assigned
// identity, with the armcompute clients of disks and snapshots.
type diskFixture struct {
	*cmkFixture
	sets      *armcompute.DiskEncryptionSetsClient
	disks     *armcompute.DisksClient
	snapshots *armcompute.SnapshotsClient
}

func newDiskFixture(t *testing.T, e *env) *diskFixture {
	t.Helper()
	f := &diskFixture{cmkFixture: newCMKFixture(t, e)}
	sub, opts := e.env["AZURE_SUBSCRIPTION_ID"], e.env.ARMOptions(e.http)
	var err error
	if f.sets, err = armcompute.NewDiskEncryptionSetsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	if f.disks, err = armcompute.NewDisksClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	if f.snapshots, err = armcompute.NewSnapshotsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)
	return f
}

// des creates a DES of a type on a versioned key through the fixture's
// identity.
func (f *diskFixture) des(t *testing.T, name, keyURL string, typ armcompute.DiskEncryptionSetType) armcompute.DiskEncryptionSet {
	t.Helper()
	poller, err := f.sets.BeginCreateOrUpdate(context.Background(), "rg-e2e", name, armcompute.DiskEncryptionSet{
		Location: to.Ptr("westeurope"),
		Identity: &armcompute.EncryptionSetIdentity{
			Type:                   to.Ptr(armcompute.DiskEncryptionSetIdentityTypeUserAssigned),
			UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{f.miID: {}},
		},
		Properties: &armcompute.EncryptionSetProperties{
			ActiveKey:      &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(keyURL)},
			EncryptionType: to.Ptr(typ),
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.DiskEncryptionSet
}

// setKey moves a DES to another key through armcompute.
func (f *diskFixture) setKey(name, keyURL string) (armcompute.DiskEncryptionSet, error) {
	poller, err := f.sets.BeginUpdate(context.Background(), "rg-e2e", name, armcompute.DiskEncryptionSetUpdate{Properties: &armcompute.DiskEncryptionSetUpdateProperties{
		ActiveKey: &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(keyURL)},
	}}, nil)
	if err != nil {
		return armcompute.DiskEncryptionSet{}, err
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	return res.DiskEncryptionSet, err
}

func (f *diskFixture) createDisk(name string, d armcompute.Disk) (armcompute.Disk, error) {
	poller, err := f.disks.BeginCreateOrUpdate(context.Background(), "rg-e2e", name, d, nil)
	if err != nil {
		return armcompute.Disk{}, err
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	return res.Disk, err
}

// grant is beginGetAccess through armcompute.
func (f *diskFixture) grant(name string, access armcompute.AccessLevel) (string, error) {
	poller, err := f.disks.BeginGrantAccess(context.Background(), "rg-e2e", name, armcompute.GrantAccessData{
		Access: to.Ptr(access), DurationInSeconds: to.Ptr[int32](3600),
	}, nil)
	if err != nil {
		return "", err
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	if err != nil {
		return "", err
	}
	return deref(res.AccessSAS), nil
}

func (f *diskFixture) revoke(t *testing.T, name string) {
	t.Helper()
	poller, err := f.disks.BeginRevokeAccess(context.Background(), "rg-e2e", name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// pages is the azblob page blob client of a disk's access URL.
func (f *diskFixture) pages(t *testing.T, sas string) *pageblob.Client {
	t.Helper()
	c, err := pageblob.NewClientWithNoCredential(sas, &pageblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: f.e.http}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readDisk reads [off, off+n) of a disk through a Read grant.
func (f *diskFixture) readDisk(t *testing.T, name string, off, n int64) ([]byte, error) {
	t.Helper()
	sas, err := f.grant(name, armcompute.AccessLevelRead)
	if err != nil {
		return nil, err
	}
	defer f.revoke(t, name)
	res, err := f.pages(t, sas).DownloadStream(context.Background(), &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: n}})
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

// keyVersions reads a DES's keyVersions (a tresor extension) through ARM.
func (f *diskFixture) keyVersions(t *testing.T, des string) map[string]string {
	t.Helper()
	sub := f.e.env["AZURE_SUBSCRIPTION_ID"]
	status, body := f.e.armCall(t, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/rg-e2e/providers/Microsoft.Compute/diskEncryptionSets/"+des+"/keyVersions", nil)
	if status != http.StatusOK {
		t.Fatalf("keyVersions = %d %s", status, body)
	}
	var out struct {
		Value []struct{ ResourceID, KeyURL string }
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range out.Value {
		m[v.ResourceID] = v.KeyURL
	}
	return m
}

// TestDisks drives managed disks and snapshots with the unmodified
// armcompute and azblob clients: an upload disk on a DES filled through its
// SAS URL with the page blob client, a snapshot of it, a platform-key
// disk; the DES's key rotated to a new version, after which the old one
// may be disabled and both still read back; the new one disabled, which
// stops reads with 403; the refusals; delete.
func TestDisks(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := newDiskFixture(t, e)
	v1 := string(*f.key.Key.KID)
	des := f.des(t, "des-disks", v1, armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey)

	// An upload disk on the DES.
	const size = 20<<20 + 512
	d, err := f.createDisk("up", armcompute.Disk{
		Location: to.Ptr("westeurope"),
		SKU:      &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypesPremiumLRS)},
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr[int64](size)},
			Encryption:   &armcompute.Encryption{DiskEncryptionSetID: des.ID},
			OSType:       to.Ptr(armcompute.OperatingSystemTypesLinux),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Properties; *p.DiskState != armcompute.DiskStateReadyToUpload || *p.Encryption.Type != armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey ||
		deref(p.Encryption.DiskEncryptionSetID) != *des.ID || deref(p.UniqueID) == "" || *p.DiskSizeBytes != size || *d.Type != "Microsoft.Compute/disks" {
		t.Errorf("upload disk = %+v, encryption %+v", p, p.Encryption)
	}

	// Upload through the SAS URL with azblob's page blob client.
	sas, err := f.grant("up", armcompute.AccessLevelWrite)
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 1<<20)
	rand.Read(content)
	pages := f.pages(t, sas)
	if _, err := pages.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(content)), blob.HTTPRange{Offset: 0, Count: int64(len(content))}, nil); err != nil {
		t.Fatalf("upload pages: %v", err)
	}
	footer := bytes.Repeat([]byte{0xcf}, 512)
	if _, err := pages.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(footer)), blob.HTTPRange{Offset: size - 512, Count: 512}, nil); err != nil {
		t.Fatalf("upload the footer: %v", err)
	}
	// The URL writes pages, and cannot replace the blob with another.
	if _, err := pages.Create(ctx, 8<<40, nil); statusOfBlob(err) != "AuthorizationPermissionMismatch 403" {
		t.Errorf("create page blob through the access URL = %v; want 403 AuthorizationPermissionMismatch", err)
	}
	if got, _ := f.disks.Get(ctx, "rg-e2e", "up", nil); *got.Properties.DiskState != armcompute.DiskStateActiveUpload {
		t.Errorf("state during the upload = %s", *got.Properties.DiskState)
	}
	f.revoke(t, "up")
	if _, err := pages.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(footer)), blob.HTTPRange{Offset: 0, Count: 512}, nil); statusOfBlob(err) != "AuthenticationFailed 403" {
		t.Errorf("a write after endGetAccess = %v; want 403 AuthenticationFailed", err)
	}
	if got, _ := f.disks.Get(ctx, "rg-e2e", "up", nil); *got.Properties.DiskState != armcompute.DiskStateUnattached {
		t.Errorf("state after the upload = %s", *got.Properties.DiskState)
	}
	// What is stored is not what was written.
	blobtest.NoPlaintext(t, dir, 2, map[string][]byte{"first page": content[:512], "last page": content[len(content)-512:]})
	// A snapshot, on the disk's DES by default; a disk with a platform key.
	sp, err := f.snapshots.BeginCreateOrUpdate(ctx, "rg-e2e", "snap", armcompute.Snapshot{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.SnapshotProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: d.ID},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := sp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if deref(snap.Properties.Encryption.DiskEncryptionSetID) != *des.ID || *snap.Type != "Microsoft.Compute/snapshots" {
		t.Errorf("snapshot encryption = %+v", snap.Properties.Encryption)
	}
	plain, err := f.createDisk("plain", armcompute.Disk{
		Location:   to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1)},
	})
	if err != nil || *plain.Properties.Encryption.Type != armcompute.EncryptionTypeEncryptionAtRestWithPlatformKey {
		t.Fatalf("platform disk = %+v, %v", plain.Properties, err)
	}

	// Linked access: Bob, Contributor on his own group only, may neither
	// copy a disk he cannot read nor use a DES he cannot read.
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	groups, err := armresources.NewResourceGroupsClient(sub, e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "rg-bob", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	bob := e.newPrincipal(t, "bob")
	e.assignRole(t, "/subscriptions/"+sub+"/resourceGroups/rg-bob", rbac.Contributor, bob.objectID)
	bobDisks, err := armcompute.NewDisksClient(sub, bob.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	bobCreate := func(name string, p *armcompute.DiskProperties) error {
		poller, err := bobDisks.BeginCreateOrUpdate(ctx, "rg-bob", name, armcompute.Disk{Location: to.Ptr("westeurope"), Properties: p}, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		return err
	}
	if err := bobCreate("stolen", &armcompute.DiskProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: d.ID},
		Encryption:   &armcompute.Encryption{Type: to.Ptr(armcompute.EncryptionTypeEncryptionAtRestWithPlatformKey)},
	}); statusOf(err) != http.StatusForbidden || codeOf(err) != "LinkedAuthorizationFailed" {
		t.Errorf("Bob copies a disk he cannot read = %v; want 403 LinkedAuthorizationFailed", err)
	}
	if err := bobCreate("borrowed", &armcompute.DiskProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1),
		Encryption: &armcompute.Encryption{DiskEncryptionSetID: des.ID},
	}); statusOf(err) != http.StatusForbidden || codeOf(err) != "LinkedAuthorizationFailed" {
		t.Errorf("Bob uses a DES he cannot read = %v; want 403 LinkedAuthorizationFailed", err)
	}
	if err := bobCreate("own", &armcompute.DiskProperties{
		CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1),
	}); err != nil {
		t.Errorf("Bob creates a disk in his group: %v", err)
	}

	// associatedResources lists the disk and the snapshot.
	var assoc []string
	for pager := f.sets.NewListAssociatedResourcesPager("rg-e2e", "des-disks", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range page.Value {
			assoc = append(assoc, *id)
		}
	}
	if slices.Sort(assoc); !slices.Equal(assoc, []string{*d.ID, *snap.ID}) {
		t.Errorf("associatedResources = %v; want the disk and the snapshot", assoc)
	}
	if _, err := f.sets.BeginDelete(ctx, "rg-e2e", "des-disks", nil); statusOf(err) != http.StatusConflict || codeOf(err) != "DiskEncryptionSetInUse" {
		t.Errorf("delete a DES in use = %v; want 409 DiskEncryptionSetInUse", err)
	}

	// Rotate: a new version; every artifact on it; the old version may be
	// disabled and the data is intact.
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(*rotated.Key.KID)
	if kv := f.keyVersions(t, "des-disks"); kv[*d.ID] != v1 || kv[*snap.ID] != v1 {
		t.Errorf("key versions before = %v; want v1", kv)
	}
	after, err := f.setKey("des-disks", v2)
	if err != nil {
		t.Fatal(err)
	}
	if p := after.Properties; deref(p.ProvisioningState) != "Succeeded" || len(p.PreviousKeys) != 0 || deref(p.ActiveKey.KeyURL) != v2 {
		t.Errorf("after the rotation: %s, previous %v, active %s", deref(p.ProvisioningState), p.PreviousKeys, deref(p.ActiveKey.KeyURL))
	}
	if kv := f.keyVersions(t, "des-disks"); kv[*d.ID] != v2 || kv[*snap.ID] != v2 {
		t.Errorf("key versions after = %v; want v2", kv)
	}
	disable := func(version string, enabled bool) {
		t.Helper()
		if _, err := f.kv.UpdateKey(ctx, "cmk", version, azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(enabled)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	disable(f.key.Key.KID.Version(), false)
	for _, name := range []string{"up"} {
		got, err := f.readDisk(t, name, 0, int64(len(content)))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read %s after the rotation with v1 disabled: %d bytes, %v", name, len(got), err)
		}
		got, err = f.readDisk(t, name, size-512, 512)
		if err != nil || !bytes.Equal(got, footer) {
			t.Fatalf("read %s's footer: %v", name, err)
		}
	}
	// The snapshot's copy reads back through a disk made from it.
	if _, err := f.createDisk("restored", armcompute.Disk{
		Location:   to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: snap.ID}},
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.readDisk(t, "restored", 0, int64(len(content))); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read the disk restored from the snapshot: %d bytes, %v", len(got), err)
	}

	// The active version disabled: the content does not open (403); the
	// DES cannot move on, since its key does not unwrap.
	disable(rotated.Key.KID.Version(), false)
	if _, err := f.readDisk(t, "up", 0, 512); statusOfBlob(err) != "KeyVaultEncryptionKeyNotFound 403" {
		t.Errorf("read with the key disabled = %v; want 403 KeyVaultEncryptionKeyNotFound", err)
	}
	if _, err := f.setKey("des-disks", v1); statusOf(err) != http.StatusForbidden {
		t.Errorf("rotate away from a disabled key = %v; want 403", err)
	}
	disable(rotated.Key.KID.Version(), true)
	if got, err := f.readDisk(t, "up", 0, 512); err != nil || !bytes.Equal(got, content[:512]) {
		t.Errorf("read after re-enabling = %v", err)
	}

	// Refusals: armcompute sees Azure's codes.
	for _, tt := range []struct {
		name string
		disk armcompute.Disk
		code string
	}{
		{"no creationData", armcompute.Disk{Location: to.Ptr("westeurope"), Properties: &armcompute.DiskProperties{}}, "InvalidParameter"},
		{"missing DES", armcompute.Disk{Location: to.Ptr("westeurope"), Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1),
			Encryption: &armcompute.Encryption{DiskEncryptionSetID: to.Ptr(*des.ID + "x")},
		}}, "InvalidParameter"},
		{"upload too small", armcompute.Disk{Location: to.Ptr("westeurope"), Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr[int64](512)},
		}}, "InvalidParameter"},
	} {
		if _, err := f.createDisk("bad", tt.disk); statusOf(err) != http.StatusBadRequest || codeOf(err) != tt.code {
			t.Errorf("%s: %v; want 400 %s", tt.name, err, tt.code)
		}
	}
	if _, err := f.grant("plain", armcompute.AccessLevelWrite); statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" {
		t.Errorf("write access to a disk not made for upload = %v; want 409 OperationNotAllowed", err)
	}

	// The CLI mirrors az disk and az snapshot.
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	if out := run("disk", "create", "-g", "rg-e2e", "-n", "cli-disk", "--for-upload", "--upload-size-bytes", fmt.Sprint(size),
		"--disk-encryption-set", *des.ID); !strings.Contains(out, `"diskState": "ReadyToUpload"`) {
		t.Errorf("disk create printed %s", out)
	}
	if out := run("disk", "grant-access", "-g", "rg-e2e", "-n", "cli-disk", "--access-level", "Write", "--duration-in-seconds", "600"); !strings.Contains(out, `"accessSas": "https://md-`) {
		t.Errorf("disk grant-access printed %s", out)
	}
	run("disk", "revoke-access", "-g", "rg-e2e", "-n", "cli-disk")
	if out := run("snapshot", "create", "-g", "rg-e2e", "-n", "cli-snap", "--source", *d.ID); !strings.Contains(out, *des.ID) {
		t.Errorf("snapshot create printed %s", out)
	}
	if out := run("disk-encryption-set", "list-key-versions", "-g", "rg-e2e", "-n", "des-disks"); strings.Count(out, v2) != 5 {
		t.Errorf("list-key-versions printed %s; want five artifacts on %s", out, v2)
	}
	run("snapshot", "delete", "-g", "rg-e2e", "-n", "cli-snap")
	run("disk", "delete", "-g", "rg-e2e", "-n", "cli-disk")
	if out := run("disk", "list", "-g", "rg-e2e"); strings.Contains(out, "cli-disk") {
		t.Errorf("disk list after delete printed %s", out)
	}

	// Delete: the disks and the snapshot, then the DES.
	for _, name := range []string{"up", "plain", "restored"} {
		poller, err := f.disks.BeginDelete(ctx, "rg-e2e", name, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if poller, err := f.snapshots.BeginDelete(ctx, "rg-e2e", "snap", nil); err != nil {
		t.Fatal(err)
	} else if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.disks.Get(ctx, "rg-e2e", "up", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("get a deleted disk = %v; want 404", err)
	}
	if poller, err := f.sets.BeginDelete(ctx, "rg-e2e", "des-disks", nil); err != nil {
		t.Fatalf("delete the DES no disk uses: %v", err)
	} else if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
