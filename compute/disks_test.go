package compute_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/identity"
)

// content is a fake compute.Content: it records what exists and what was
// copied where.
type content struct {
	mu     sync.Mutex
	sizes  map[string]int64
	copies map[string]string // to → from
	fail   error             // the next Create fails with it
}

func (c *content) Create(_ context.Context, account string, size int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fail; err != nil {
		c.fail = nil
		return err
	}
	if c.sizes == nil {
		c.sizes, c.copies = map[string]int64{}, map[string]string{}
	}
	c.sizes[account] = size
	return nil
}

func (c *content) Copy(_ context.Context, from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sizes[from]; !ok {
		return fmt.Errorf("no content %s", from)
	}
	c.copies[to] = from
	return nil
}

func (c *content) Delete(_ context.Context, account string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sizes, account)
	return nil
}

func (c *content) AccessURL(account string, key []byte, write bool, expiry time.Time) string {
	return fmt.Sprintf("https://%s.blob.localhost/disk/abcd?write=%v&se=%s&key=%x", account, write, expiry.Format(time.RFC3339), key)
}

func (f *fixture) withContent() *content {
	c := &content{}
	f.svc.Content = c
	return c
}

func (f *fixture) desID(name string) string {
	return "/subscriptions/" + f.sub + "/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/" + name
}

// newDES creates a DES on key k/v1 through the user-assigned identity,
// which may use it.
func (f *fixture) newDES(t testing.TB, name string, typ compute.EncryptionType) compute.DiskEncryptionSet {
	t.Helper()
	f.keys.allow(f.uamiOID)
	sp := f.user("v1")
	sp.EncryptionType = typ
	d, _, err := f.svc.CreateOrUpdate(context.Background(), f.sub, f.tenant, "rg", name, sp)
	if err != nil {
		t.Fatal(err)
	}
	f.keys.take()
	return d
}

func (f *fixture) emptyDisk(name, des string) compute.DiskSpec {
	sp := compute.DiskSpec{Location: "westeurope", CreateOption: "Empty", DiskSizeGB: 4}
	if des != "" {
		sp.DESID = &des
	}
	return sp
}

// TestDiskEncryption: a disk on a DES gets its own data key wrapped under
// the DES's intermediate key, which costs one unwrap; a platform disk
// asks the key service nothing; type follows the DES.
func TestDiskEncryption(t *testing.T) {
	f := newFixture(t)
	c := f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "des1", "")
	double := f.newDES(t, "double", compute.EncryptionAtRestWithPlatformAndCustomerKeys)

	tests := []struct {
		name     string
		sp       compute.DiskSpec
		wantType compute.DiskEncryptionType
		wantDES  string
		cost     map[string]int
	}{
		{"platform", f.emptyDisk("p", ""), compute.PlatformKey, "", nil},
		{"customer", f.emptyDisk("c", des.ID()), compute.CustomerKey, des.ID(), map[string]int{"unwrap": 1}},
		{"customer, type given", func() compute.DiskSpec {
			sp := f.emptyDisk("c", strings.ToUpper(des.ID()))
			sp.EncryptionType = "encryptionatrestwithcustomerkey"
			return sp
		}(), compute.CustomerKey, des.ID(), map[string]int{"unwrap": 1}},
		{"double", f.emptyDisk("d", double.ID()), compute.PlatformAndCustomerKeys, double.ID(), map[string]int{"unwrap": 1}},
	}
	keysSeen := map[string]bool{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("disk%d", i)
			d, created, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", name, tt.sp)
			if err != nil || !created {
				t.Fatalf("create = %v, %v", created, err)
			}
			if got := f.keys.take(); fmt.Sprint(got) != fmt.Sprint(tt.cost) {
				t.Errorf("create cost %v; want %v", got, tt.cost)
			}
			if d.EncryptionType != tt.wantType || d.DESID != tt.wantDES || d.State != compute.Unattached || d.SizeBytes != 4<<30 {
				t.Errorf("disk = %s %s %s %d; want %s %s Unattached 4 GiB", d.EncryptionType, d.DESID, d.State, d.SizeBytes, tt.wantType, tt.wantDES)
			}
			if c.sizes[d.BlobAccount()] != d.SizeBytes {
				t.Errorf("content of %s = %d bytes", d.BlobAccount(), c.sizes[d.BlobAccount()])
			}
			key, err := f.svc.ContentKey(ctx, d.BlobAccount())
			if err != nil || len(key) != 32 || keysSeen[string(key)] {
				t.Fatalf("content key = %x, %v; want 32 new bytes", key, err)
			}
			keysSeen[string(key)] = true
			f.keys.take()
		})
	}
}

// TestDiskRefusals: what a disk may not be.
func TestDiskRefusals(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "des1", "")
	cvm := f.newDES(t, "cvm", compute.ConfidentialVMEncryptedWithCustomerKey)
	bad := func(mod func(*compute.DiskSpec)) compute.DiskSpec {
		sp := f.emptyDisk("", "")
		mod(&sp)
		return sp
	}
	tests := []struct {
		name string
		kind compute.Kind
		sp   compute.DiskSpec
		want tresor.Kind
	}{
		{"no create option", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.CreateOption = "" }), tresor.Invalid},
		{"unknown create option", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.CreateOption = "Import" }), tresor.Invalid},
		{"no size", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DiskSizeGB = 0 }), tresor.Invalid},
		{"too large", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DiskSizeGB = 9000 }), tresor.Invalid},
		{"so large it overflows", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DiskSizeGB = 1 << 34 }), tresor.Invalid},
		{"upload over 8 TiB", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.CreateOption, sp.UploadSizeBytes = "Upload", 8<<40+512 }), tresor.Invalid},
		{"upload too small", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.CreateOption, sp.UploadSizeBytes = "Upload", 1<<20 }), tresor.Invalid},
		{"upload not whole sectors", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.CreateOption, sp.UploadSizeBytes = "Upload", 20<<20+513 }), tresor.Invalid},
		{"empty snapshot", compute.KindSnapshot, bad(func(*compute.DiskSpec) {}), tresor.Invalid},
		{"copy of nothing", compute.KindSnapshot, bad(func(sp *compute.DiskSpec) { sp.CreateOption = "Copy" }), tresor.Invalid},
		{"copy of a missing disk", compute.KindSnapshot, bad(func(sp *compute.DiskSpec) {
			sp.CreateOption, sp.SourceResourceID = "Copy", "/subscriptions/"+f.sub+"/resourceGroups/rg/providers/Microsoft.Compute/disks/none"
		}), tresor.NotFound},
		{"missing DES", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DESID = ptr(f.desID("none")) }), tresor.Invalid},
		{"not a DES id", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DESID = ptr("/subscriptions/x") }), tresor.Invalid},
		{"customer key without DES", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.EncryptionType = compute.CustomerKey }), tresor.Invalid},
		{"type other than the DES's", compute.KindDisk, bad(func(sp *compute.DiskSpec) {
			sp.DESID, sp.EncryptionType = ptr(des.ID()), compute.PlatformAndCustomerKeys
		}), tresor.Invalid},
		{"CVM DES for SSE", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.DESID = ptr(cvm.ID()) }), tresor.Invalid},
		{"SSE DES for CVM", compute.KindDisk, bad(func(sp *compute.DiskSpec) {
			sp.SecurityType, sp.SecureDESID = compute.SecurityConfidentialCMK, des.ID()
		}), tresor.Invalid},
		{"CVM without DES", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.SecurityType = compute.SecurityConfidentialCMK }), tresor.Invalid},
		{"bad name", compute.KindDisk, bad(func(*compute.DiskSpec) {}), tresor.Invalid},
		{"DES in another location", compute.KindDisk, bad(func(sp *compute.DiskSpec) { sp.Location, sp.DESID = "northeurope", ptr(des.ID()) }), tresor.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "d1"
			if tt.name == "bad name" {
				name = "-x."
			}
			_, _, err := f.svc.CreateOrUpdateDisk(ctx, tt.kind, f.sub, "rg", name, tt.sp)
			if !tresor.IsKind(err, tt.want) {
				t.Fatalf("create = %v; want %v", err, tt.want)
			}
			if ds, _ := f.svc.ListDisks(ctx, tt.kind, f.sub, ""); len(ds) != 0 {
				t.Errorf("a refused create left %d %s", len(ds), tt.kind)
			}
		})
	}
	if _, err := f.svc.Delete(ctx, f.sub, "rg", "des1"); err != nil {
		t.Errorf("a DES no disk uses is deleted: %v", err)
	}
}

// TestContentFailureLeavesNothing: a disk whose content cannot be created
// is not stored.
func TestContentFailureLeavesNothing(t *testing.T) {
	f := newFixture(t)
	c := f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "des1", "")
	c.fail = errors.New("disk full")
	if _, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "d1", f.emptyDisk("", des.ID())); err == nil {
		t.Fatal("create succeeded")
	}
	if ds, _ := f.svc.ListDisks(ctx, compute.KindDisk, f.sub, ""); len(ds) != 0 {
		t.Errorf("%d disks left", len(ds))
	}
	if ids, _ := f.svc.ListAssociatedResources(ctx, f.sub, "rg", "des1"); len(ids) != 0 {
		t.Errorf("keys left for %v", ids)
	}
}

// TestRotation: a key change moves every artifact to a new intermediate
// key with one unwrap, one check and one wrap however many there are,
// and their content keys do not change.
func TestRotation(t *testing.T) {
	for _, n := range []int{1, 30} {
		t.Run(fmt.Sprint(n, " disks"), func(t *testing.T) {
			f := newFixture(t)
			f.withContent()
			ctx := context.Background()
			des := f.newDES(t, "des1", "")
			before := map[string][]byte{}
			for i := range n {
				d, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", fmt.Sprint("d", i), f.emptyDisk("", des.ID()))
				if err != nil {
					t.Fatal(err)
				}
				snap := compute.DiskSpec{Location: "westeurope", CreateOption: "Copy", SourceResourceID: d.ID()}
				s, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindSnapshot, f.sub, "rg", fmt.Sprint("s", i), snap)
				if err != nil || s.DESID != des.ID() {
					t.Fatalf("snapshot = %s, %v; want on the disk's DES", s.DESID, err)
				}
				for _, a := range []string{d.BlobAccount(), s.BlobAccount()} {
					if before[a], err = f.svc.ContentKey(ctx, a); err != nil {
						t.Fatal(err)
					}
				}
			}
			f.keys.take()
			d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v2")})
			if err != nil || d.ProvisioningState != "Succeeded" || len(d.PreviousKeys) != 0 || len(d.Previous) != 0 {
				t.Fatalf("rotate = %s %v, %v", d.ProvisioningState, d.PreviousKeys, err)
			}
			if got := f.keys.take(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"check": 1, "unwrap": 1, "wrap": 1}) {
				t.Errorf("rotating %d disks and snapshots cost %v; want one unwrap, check and wrap", 2*n, got)
			}
			vs, err := f.svc.KeyVersions(ctx, f.sub, "rg", "des1")
			if err != nil || len(vs) != 2*n {
				t.Fatalf("key versions = %d, %v", len(vs), err)
			}
			for _, v := range vs {
				if v.KeyID != f.vault+"/keys/k/v2" || v.Gen != d.Key.Gen {
					t.Errorf("%s on %s (gen %d); want v2", v.ResourceID, v.KeyID, v.Gen)
				}
			}
			f.keys.disabled = map[string]bool{f.vault + "/keys/k/v1": true} // the old version may go now
			for a, want := range before {
				if got, err := f.svc.ContentKey(ctx, a); err != nil || !bytes.Equal(got, want) {
					t.Errorf("content key of %s after rotation = %x, %v; want unchanged", a, got, err)
				}
			}
		})
	}
}

// failingStore fails RewrapArtifactKeys after ok calls, as a process
// that dies half-way through a rotation.
type failingStore struct {
	compute.Store
	ok int
}

func (s *failingStore) RewrapArtifactKeys(ctx context.Context, moves []compute.Rewrap) (int, error) {
	if s.ok == 0 {
		return 0, errors.New("the lights went out")
	}
	s.ok--
	return s.Store.RewrapArtifactKeys(ctx, moves)
}

// TestInterruptedRotation: a rotation that stops half-way leaves the DES
// Updating with its previous key listed and each artifact on the key it
// is on, all still readable; repeating the update, or Resume, completes
// it with one unwrap per generation; an old key disabled meanwhile stops
// it with 403 and nothing lost.
func TestInterruptedRotation(t *testing.T) {
	for _, finish := range []string{"repeat", "resume", "disabled"} {
		t.Run(finish, func(t *testing.T) {
			f := newFixture(t)
			f.withContent()
			f.svc.RotationBatch = 3
			ctx := context.Background()
			des := f.newDES(t, "des1", "")
			before := map[string][]byte{}
			for i := range 10 {
				d, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", fmt.Sprint("d", i), f.emptyDisk("", des.ID()))
				if err != nil {
					t.Fatal(err)
				}
				before[d.BlobAccount()], _ = f.svc.ContentKey(ctx, d.BlobAccount())
			}
			store := f.svc.Store
			f.svc.Store = &failingStore{Store: store, ok: 2}
			if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v2")}); err == nil {
				t.Fatal("the rotation completed")
			}
			f.svc.Store = store
			d, _ := f.svc.Get(ctx, f.sub, "rg", "des1")
			if d.ProvisioningState != "Updating" || len(d.PreviousKeys) != 1 || d.PreviousKeys[0].KeyURL != f.vault+"/keys/k/v1" || d.ActiveKey.KeyURL != f.vault+"/keys/k/v2" {
				t.Fatalf("half-way DES = %s, previous %v, active %s", d.ProvisioningState, d.PreviousKeys, d.ActiveKey.KeyURL)
			}
			on := map[string]int{}
			vs, _ := f.svc.KeyVersions(ctx, f.sub, "rg", "des1")
			for _, v := range vs {
				on[strings.TrimPrefix(v.KeyID, f.vault+"/keys/")]++
			}
			if on["k/v2"] != 6 || on["k/v1"] != 4 {
				t.Errorf("half-way: %v; want 6 on v2 (two batches of 3), 4 on v1", on)
			}
			for a, want := range before {
				if got, err := f.svc.ContentKey(ctx, a); err != nil || !bytes.Equal(got, want) {
					t.Errorf("half-way content key of %s = %x, %v", a, got, err)
				}
			}
			f.keys.take()
			switch finish {
			case "repeat":
				d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v2")})
				if err != nil || d.ProvisioningState != "Succeeded" || len(d.PreviousKeys) != 0 {
					t.Fatalf("repeat = %s %v, %v", d.ProvisioningState, d.PreviousKeys, err)
				}
			case "resume":
				if err := f.svc.Resume(ctx); err != nil {
					t.Fatal(err)
				}
			case "disabled":
				f.keys.disabled = map[string]bool{f.vault + "/keys/k/v1": true}
				err := f.svc.Resume(ctx)
				if !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != compute.ReasonKeyNotUnwrapped {
					t.Fatalf("resume with v1 disabled = %v; want 403 %s", err, compute.ReasonKeyNotUnwrapped)
				}
				if d, _ := f.svc.Get(ctx, f.sub, "rg", "des1"); d.ProvisioningState != "Updating" {
					t.Errorf("state = %s; want still Updating", d.ProvisioningState)
				}
				f.keys.disabled = nil
				f.keys.take()
				if err := f.svc.Resume(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.keys.take(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"unwrap": 2}) {
				t.Errorf("completing cost %v; want one unwrap per generation", got)
			}
			vs, _ = f.svc.KeyVersions(ctx, f.sub, "rg", "des1")
			for _, v := range vs {
				if v.KeyID != f.vault+"/keys/k/v2" {
					t.Errorf("%s on %s; want v2", v.ResourceID, v.KeyID)
				}
			}
			for a, want := range before {
				if got, err := f.svc.ContentKey(ctx, a); err != nil || !bytes.Equal(got, want) {
					t.Errorf("content key of %s = %x, %v", a, got, err)
				}
			}
		})
	}
}

// TestGrantAccess follows an upload and an export: states, the SAS key and
// its end.
func TestGrantAccess(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	up := compute.DiskSpec{Location: "westeurope", CreateOption: "Upload", UploadSizeBytes: 20<<20 + 512}
	d, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "up", up)
	if err != nil || d.State != compute.ReadyToUpload || d.SizeBytes != 20<<20+512 {
		t.Fatalf("create = %s %d, %v", d.State, d.SizeBytes, err)
	}
	if keys, err := f.svc.BlobAccountKeys(ctx, d.BlobAccount()); err != nil || len(keys) != 0 {
		t.Errorf("keys before a grant = %d, %v; want none", len(keys), err)
	}
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "up", "Read", time.Hour); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("read before upload = %v; want OperationNotAllowed", err)
	}
	sas, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "up", "write", time.Hour)
	if err != nil || !strings.Contains(sas, "write=true") {
		t.Fatalf("grant write = %s, %v", sas, err)
	}
	u, _ := url.Parse(sas)
	keys, err := f.svc.BlobAccountKeys(ctx, d.BlobAccount())
	if err != nil || len(keys) != 1 || fmt.Sprintf("%x", keys[0]) != u.Query().Get("key") {
		t.Fatalf("keys during the grant = %x, %v; want the SAS's", keys, err)
	}
	if d, _ = f.svc.GetDisk(ctx, compute.KindDisk, f.sub, "rg", "up"); d.State != compute.ActiveUpload {
		t.Errorf("state = %s; want ActiveUpload", d.State)
	}
	if err := f.svc.RevokeAccess(ctx, compute.KindDisk, f.sub, "rg", "up"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := f.svc.BlobAccountKeys(ctx, d.BlobAccount()); len(keys) != 0 {
		t.Error("the SAS key outlived endGetAccess")
	}
	if d, _ = f.svc.GetDisk(ctx, compute.KindDisk, f.sub, "rg", "up"); d.State != compute.Unattached {
		t.Errorf("state after upload = %s; want Unattached", d.State)
	}
	// The size as GET reports it, rounded up to whole GiB, is no resize.
	if _, err := f.svc.UpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "up", compute.DiskSpec{DiskSizeGB: 1, Tags: map[string]string{"a": "b"}}); err != nil {
		t.Errorf("update with the reported size = %v", err)
	}
	if _, err := f.svc.UpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "up", compute.DiskSpec{DiskSizeGB: 2}); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("a resize = %v; want OperationNotAllowed", err)
	}
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "up", "Write", time.Hour); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("write after upload = %v; want OperationNotAllowed", err)
	}
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "up", "Read", 0); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("no duration = %v; want Invalid", err)
	}
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "up", "Read", time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, _ = f.svc.GetDisk(ctx, compute.KindDisk, f.sub, "rg", "up"); d.State != compute.ActiveSAS {
		t.Errorf("state = %s; want ActiveSAS", d.State)
	}
}

// TestDiskMovesDES: changing a disk's DES re-wraps its data key and
// nothing else; the DES it left can be deleted, the one it uses cannot.
func TestDiskMovesDES(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	a, b := f.newDES(t, "a", ""), f.newDES(t, "b", "")
	d, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "d1", f.emptyDisk("", a.ID()))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := f.svc.ContentKey(ctx, d.BlobAccount())
	if _, err := f.svc.Delete(ctx, f.sub, "rg", "a"); tresor.ReasonOf(err) != compute.ReasonInUse {
		t.Errorf("delete a DES in use = %v; want %s", err, compute.ReasonInUse)
	}
	for _, to := range []string{b.ID(), ""} {
		d, err = f.svc.UpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "d1", compute.DiskSpec{DESID: ptr(to)})
		if err != nil || d.DESID != to {
			t.Fatalf("move to %q = %s, %v", to, d.DESID, err)
		}
		if got, err := f.svc.ContentKey(ctx, d.BlobAccount()); err != nil || !bytes.Equal(got, key) {
			t.Errorf("content key after the move = %x, %v", got, err)
		}
	}
	if d.EncryptionType != compute.PlatformKey {
		t.Errorf("type without DES = %s", d.EncryptionType)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := f.svc.Delete(ctx, f.sub, "rg", name); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	}
}

// TestKeyAndIdentityApart: every generation is opened as the DES's
// identity, so changing the identity (or federatedClientId) with the key,
// or while a key change is in progress, is refused and changes nothing.
func TestKeyAndIdentityApart(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "des1", "")
	if _, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "d1", f.emptyDisk("", des.ID())); err != nil {
		t.Fatal(err)
	}
	both := compute.Spec{ActiveKey: f.key("k", "v2"), Identity: &msi.Spec{SystemAssigned: true}}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", both); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Fatalf("key and identity at once = %v; want 409 OperationNotAllowed", err)
	}
	if d, _ := f.svc.Get(ctx, f.sub, "rg", "des1"); d.ActiveKey.KeyURL != f.vault+"/keys/k/v1" || d.Identity.SystemAssigned.ObjectID != "" || d.ProvisioningState != "Succeeded" {
		t.Errorf("after the refusal: key %s, system identity %q, %s; want unchanged", d.ActiveKey.KeyURL, d.Identity.SystemAssigned.ObjectID, d.ProvisioningState)
	}
	store := f.svc.Store
	f.svc.Store = &failingStore{Store: store}
	f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v2")}) //nolint:errcheck // it fails half-way, as meant
	f.svc.Store = store
	if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{FederatedClientID: ptr(identity.NewGUID())}); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("federatedClientId during a key change = %v; want 409 OperationNotAllowed", err)
	}
	if d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{}); err != nil || d.ProvisioningState != "Succeeded" {
		t.Errorf("completing = %s, %v", d.ProvisioningState, err)
	}
}
