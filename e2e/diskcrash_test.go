package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/tresorkms/tresor/sqlite"
)

// TestCrashDuringDiskRotation kills the real server (SIGKILL at the fault
// point compute/rotation-batch) after the first batch of a DES rotation
// over six disks and their six snapshots, five keys per batch. The store
// it leaves shows the DES Updating with its previous key, five artifacts
// on the new version and seven on the old. After a restart, repeating
// the update completes it: every artifact on the new version, the old
// version disabled, and every disk and snapshot reads back what was
// written.
func TestCrashDuringDiskRotation(t *testing.T) {
	bin := buildFaultBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx := context.Background()
	const batch = "5"

	s := startBinary(t, bin, dir, addr, "", "--des-rotation-batch", batch)
	f := newDiskFixture(t, s.env)
	v1 := string(*f.key.Key.KID)
	des := f.des(t, "des-crash", v1, armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey)
	written := map[string][]byte{} // disk or snapshot id → its first 4 KiB
	const size = 20<<20 + 512
	for i := range 6 {
		name := fmt.Sprint("disk", i)
		d, err := f.createDisk(name, armcompute.Disk{
			Location: to.Ptr("westeurope"),
			Properties: &armcompute.DiskProperties{
				CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionUpload), UploadSizeBytes: to.Ptr[int64](size)},
				Encryption:   &armcompute.Encryption{DiskEncryptionSetID: des.ID},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		sas, err := f.grant(name, armcompute.AccessLevelWrite)
		if err != nil {
			t.Fatal(err)
		}
		page := make([]byte, 4096)
		rand.Read(page)
		if _, err := f.pages(t, sas).UploadPages(ctx, streaming.NopCloser(bytes.NewReader(page)), blob.HTTPRange{Count: 4096}, nil); err != nil {
			t.Fatal(err)
		}
		f.revoke(t, name)
		poller, err := f.snapshots.BeginCreateOrUpdate(ctx, "rg-e2e", "snap"+fmt.Sprint(i), armcompute.Snapshot{
			Location:   to.Ptr("westeurope"),
			Properties: &armcompute.SnapshotProperties{CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: d.ID}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		written[*d.ID], written[*snap.ID] = page, page
	}
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(*rotated.Key.KID)
	s.stop(t)

	// Killed after the first batch of the rotation.
	const point = "compute/rotation-batch"
	s = startBinary(t, bin, dir, addr, point, "--des-rotation-batch", batch)
	if _, err := f.setKey("des-crash", v2); err == nil {
		t.Fatal("the rotation completed; the server was to die in it")
	}
	s.killedAt(t, point)

	// What the dead server left: Updating, half the artifacts moved.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "tresor.db"))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.env.env["AZURE_SUBSCRIPTION_ID"]
	stored, err := db.DiskEncryptionSet(ctx, sub, "rg-e2e", "des-crash")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := db.ArtifactVersions(ctx, strings.ToLower(*des.ID))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	moved := 0
	for _, v := range vs {
		if v.Gen == stored.Key.Gen {
			moved++
		}
	}
	if stored.ProvisioningState != "Updating" || len(stored.PreviousKeys) != 1 || stored.PreviousKeys[0].KeyURL != v1 || stored.ActiveKey.KeyURL != v2 ||
		len(vs) != 12 || moved != 5 {
		t.Fatalf("after the crash: %s, previous %v, active %s, %d of %d artifacts moved; want Updating, [v1], v2, 5 of 12",
			stored.ProvisioningState, stored.PreviousKeys, stored.ActiveKey.KeyURL, moved, len(vs))
	}

	// Restarted (which resumes rotations by itself), the update repeated:
	// complete, and nothing lost.
	s = startBinary(t, bin, dir, addr, "", "--des-rotation-batch", batch)
	f.rebind(t, s.env)
	after, err := f.setKey("des-crash", v2)
	if err != nil {
		t.Fatal(err)
	}
	if p := after.Properties; deref(p.ProvisioningState) != "Succeeded" || len(p.PreviousKeys) != 0 {
		t.Errorf("after the repeat: %s, previous %v", deref(p.ProvisioningState), p.PreviousKeys)
	}
	kv := f.keyVersions(t, "des-crash")
	if len(kv) != 12 {
		t.Errorf("keyVersions lists %d artifacts; want 12", len(kv))
	}
	for id, key := range kv {
		if key != v2 {
			t.Errorf("%s is on %s; want %s", id, key, v2)
		}
	}
	if _, err := f.kv.UpdateKey(ctx, "cmk", f.key.Key.KID.Version(), azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		for _, kind := range []string{"disk", "snap"} {
			name := fmt.Sprint(kind, i)
			got, id := f.readFirstPage(t, kind, name)
			if !bytes.Equal(got, written[id]) {
				t.Errorf("%s reads back %d different bytes", name, len(got))
			}
		}
	}
	s.stop(t)
}

// rebind points the fixture's clients at a restarted server.
func (f *diskFixture) rebind(t *testing.T, e *env) {
	t.Helper()
	sub, opts := e.env["AZURE_SUBSCRIPTION_ID"], e.env.ARMOptions(e.http)
	var err error
	f.e = e
	if f.sets, err = armcompute.NewDiskEncryptionSetsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	if f.disks, err = armcompute.NewDisksClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	if f.snapshots, err = armcompute.NewSnapshotsClient(sub, e.cred, opts); err != nil {
		t.Fatal(err)
	}
	if f.kv, err = azkeys.NewClient(f.vaultURI, e.cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}}); err != nil {
		t.Fatal(err)
	}
}

// readFirstPage reads the first 4 KiB of a disk or snapshot ("disk" or
// "snap") through a Read grant, and returns them with its id.
func (f *diskFixture) readFirstPage(t *testing.T, kind, name string) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	grant := armcompute.GrantAccessData{Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr[int32](600)}
	var sas, id string
	if kind == "disk" {
		poller, err := f.disks.BeginGrantAccess(ctx, "rg-e2e", name, grant, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.disks.Get(ctx, "rg-e2e", name, nil)
		sas, id = deref(res.AccessSAS), deref(d.ID)
	} else {
		poller, err := f.snapshots.BeginGrantAccess(ctx, "rg-e2e", name, grant, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := f.snapshots.Get(ctx, "rg-e2e", name, nil)
		sas, id = deref(res.AccessSAS), deref(s.ID)
	}
	res, err := f.pages(t, sas).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Count: 4096}})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return got, id
}
