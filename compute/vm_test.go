package compute_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/compute"
)

var ubuntu = &compute.ImageReference{Publisher: "Canonical", Offer: "ubuntu-24_04-lts", SKU: "cvm", Version: "latest"}

// cvm asks for a confidential VM whose OS disk and guest state the DES
// des protects; ephemeral gives it an ephemeral OS disk instead.
func cvm(des string, ephemeral bool) compute.VMSpec {
	sp := compute.VMSpec{
		Location: "westeurope", Size: "Standard_DC2as_v5", SecurityType: "ConfidentialVM", Image: ubuntu,
		OSDisk: &compute.VMDisk{CreateOption: "FromImage", SecurityEncryptionType: "DiskWithVMGuestState", SecureDESID: des},
	}
	if ephemeral {
		sp.OSDisk.Ephemeral = "CacheDisk"
	}
	return sp
}

// standard asks for a VM whose OS disk and one Empty data disk the DES
// des protects.
func standard(des string) compute.VMSpec {
	return compute.VMSpec{
		Location: "westeurope", Size: "Standard_D2s_v5", Image: ubuntu,
		OSDisk:    &compute.VMDisk{CreateOption: "FromImage", DESID: des},
		DataDisks: []compute.VMDisk{{Lun: 0, CreateOption: "Empty", SizeGB: 2, DESID: des}},
	}
}

func (f *fixture) vm(t *testing.T, name string, sp compute.VMSpec) compute.VirtualMachine {
	t.Helper()
	v, created, err := f.svc.CreateOrUpdateVM(context.Background(), f.sub, "rg", name, sp)
	if err != nil || !created {
		t.Fatalf("create VM %s = %v, %v", name, created, err)
	}
	return v
}

func (f *fixture) disk(t *testing.T, id string) compute.Disk {
	t.Helper()
	i := strings.LastIndex(id, "/")
	d, err := f.svc.GetDisk(context.Background(), compute.KindDisk, f.sub, "rg", id[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConfidentialVM: a CVM's OS disk is a confidential disk on the DES,
// attached to it; its guest state has its own key on the DES; the DES's
// associated resources name the VM, not its guest state; deleting the VM
// deletes the guest state key and, as deleteOption says, its OS disk.
func TestConfidentialVM(t *testing.T) {
	f := newFixture(t)
	c := f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "cvm", compute.ConfidentialVMEncryptedWithCustomerKey)
	v := f.vm(t, "vm1", cvm(des.ID(), false))
	if v.Power != compute.Running || v.ProvisioningState != "Succeeded" || v.VMID == "" || v.GuestStateDES != des.ID() {
		t.Errorf("VM = %s %s %q, guest state on %q", v.Power, v.ProvisioningState, v.VMID, v.GuestStateDES)
	}
	if !strings.HasPrefix(v.OSDisk.Name, "vm1_OsDisk_1_") || len(v.OSDisk.Name) != len("vm1_OsDisk_1_")+32 || v.OSDisk.SizeGB != 30 || v.OSDisk.OSType != "Linux" {
		t.Errorf("OS disk = %+v; want Azure's name, 30 GiB, Linux", v.OSDisk)
	}
	d := f.disk(t, v.OSDisk.ID)
	if d.SecurityType != compute.SecurityConfidentialCMK || d.SecureDESID != des.ID() || d.State != compute.Attached || d.ManagedBy != v.ID() ||
		d.HyperVGeneration != "V2" || d.CreateOption != compute.CreateFromImage || c.sizes[d.BlobAccount()] != 30<<30 {
		t.Errorf("OS disk = %+v", d)
	}
	ids, err := f.svc.ListAssociatedResources(ctx, f.sub, "rg", "cvm")
	if slices.Sort(ids); err != nil || !slices.Equal(ids, []string{d.ID(), v.ID()}) {
		t.Errorf("associated = %v, %v; want the OS disk and the VM", ids, err)
	}
	vs, _ := f.svc.KeyVersions(ctx, f.sub, "rg", "cvm")
	var names []string
	for _, kv := range vs {
		names = append(names, kv.ResourceID)
	}
	if slices.Sort(names); !slices.Equal(names, []string{d.ID(), v.ID() + compute.GuestStateSuffix}) {
		t.Errorf("key versions = %v; want the OS disk and the guest state", names)
	}
	if _, err := f.svc.Delete(ctx, f.sub, "rg", "cvm"); tresor.ReasonOf(err) != compute.ReasonInUse {
		t.Errorf("delete the DES = %v; want %s", err, compute.ReasonInUse)
	}
	if _, err := f.svc.DeleteDisk(ctx, compute.KindDisk, f.sub, "rg", d.Name); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("delete an attached disk = %v; want OperationNotAllowed", err)
	}

	// Delete with the OS disk's deleteOption Delete.
	if _, err := f.svc.UpdateVM(ctx, f.sub, "rg", "vm1", compute.VMSpec{OSDisk: &compute.VMDisk{DeleteOption: "delete"}}); err != nil {
		t.Fatal(err)
	}
	if deleted, err := f.svc.DeleteVM(ctx, f.sub, "rg", "vm1"); err != nil || !deleted {
		t.Fatalf("DeleteVM = %v, %v", deleted, err)
	}
	if deleted, err := f.svc.DeleteVM(ctx, f.sub, "rg", "vm1"); err != nil || deleted {
		t.Errorf("DeleteVM again = %v, %v; want false", deleted, err)
	}
	if _, err := f.svc.GetDisk(ctx, compute.KindDisk, f.sub, "rg", d.Name); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("OS disk after the VM's deletion: %v; want deleted", err)
	}
	if _, ok := c.sizes[d.BlobAccount()]; ok {
		t.Error("the OS disk's content outlived it")
	}
	if ids, _ := f.svc.ListAssociatedResources(ctx, f.sub, "rg", "cvm"); len(ids) != 0 {
		t.Errorf("associated after delete = %v", ids)
	}
	if _, err := f.svc.Delete(ctx, f.sub, "rg", "cvm"); err != nil {
		t.Errorf("delete the DES nothing uses: %v", err)
	}
}

// TestConfidentialRotation follows Azure's offline rotation of a CVM
// DES: refused, before the key service is asked anything, while one VM
// runs; done once all are stopped or deallocated, moving the guest states
// and OS disks; a VM started during a rotation in progress opens its keys
// under either generation.
func TestConfidentialRotation(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "cvm", compute.ConfidentialVMEncryptedWithCustomerKey)
	a := f.vm(t, "a", cvm(des.ID(), false))
	f.vm(t, "b", cvm(des.ID(), false))
	if _, err := f.svc.DeallocateVM(ctx, f.sub, "rg", "a"); err != nil {
		t.Fatal(err)
	}
	if d := f.disk(t, a.OSDisk.ID); d.State != compute.Reserved {
		t.Errorf("disk of a deallocated VM is %s; want Reserved", d.State)
	}
	f.keys.take()
	_, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v2")})
	if !tresor.IsKind(err, tresor.Conflict) || tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed || !strings.Contains(tresor.MessageOf(err), "Running: b.") {
		t.Fatalf("rotate with b running = %v; want Conflict OperationNotAllowed naming b", err)
	}
	if got := f.keys.take(); len(got) != 0 {
		t.Errorf("a refused rotation asked the key service %v", got)
	}
	if d, _ := f.svc.Get(ctx, f.sub, "rg", "cvm"); d.ActiveKey.KeyURL != f.vault+"/keys/k/v1" || d.Key.Gen != 1 || len(d.Previous) != 0 {
		t.Errorf("after the refusal: %s gen %d", d.ActiveKey.KeyURL, d.Key.Gen)
	}
	// Stopped (powerOff) counts as not running, as deallocated does.
	if _, err := f.svc.PowerOffVM(ctx, f.sub, "rg", "b"); err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v2")})
	if err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("rotate with every VM stopped = %v", err)
	}
	vs, _ := f.svc.KeyVersions(ctx, f.sub, "rg", "cvm")
	if len(vs) != 4 {
		t.Errorf("key versions = %d; want two OS disks and two guest states", len(vs))
	}
	for _, kv := range vs {
		if kv.KeyID != f.vault+"/keys/k/v2" {
			t.Errorf("%s on %s; want v2", kv.ResourceID, kv.KeyID)
		}
	}
	f.keys.disabled = map[string]bool{f.vault + "/keys/k/v1": true}
	for _, name := range []string{"a", "b"} {
		if v, err := f.svc.StartVM(ctx, f.sub, "rg", name); err != nil || v.Power != compute.Running {
			t.Errorf("start %s after the rotation = %v", name, err)
		}
	}

	// A rotation stopped half-way: the VMs still start, and completing it
	// needs them stopped again.
	f.svc.RotationBatch = 1
	for _, name := range []string{"a", "b"} {
		f.svc.PowerOffVM(ctx, f.sub, "rg", name)
	}
	store := f.svc.Store
	f.svc.Store = &failingStore{Store: store, ok: 1}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v3")}); err == nil {
		t.Fatal("the rotation completed")
	}
	f.svc.Store = store
	if _, err := f.svc.StartVM(ctx, f.sub, "rg", "a"); err != nil {
		t.Fatalf("start during a rotation in progress: %v", err)
	}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v3")}); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("complete the rotation with a running = %v; want OperationNotAllowed", err)
	}
	if err := f.svc.Resume(ctx); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("Resume with a running = %v; want OperationNotAllowed", err)
	}
	f.svc.PowerOffVM(ctx, f.sub, "rg", "a")
	if d, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v3")}); err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("complete the rotation = %v", err)
	}
}

// TestEphemeralConfidentialVM: a CVM with an ephemeral OS disk has no
// managed disk, keeps its guest state on the DES, cannot be deallocated,
// and blocks the DES's key change however it is powered.
func TestEphemeralConfidentialVM(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "cvm", compute.ConfidentialVMEncryptedWithCustomerKey)
	v := f.vm(t, "eph", cvm(des.ID(), true))
	if v.OSDisk.ID != "" || v.OSDisk.Ephemeral != "CacheDisk" || v.OSDisk.DeleteOption != compute.DeleteOptionDelete || v.GuestStateDES != des.ID() {
		t.Errorf("ephemeral OS disk = %+v, guest state on %q", v.OSDisk, v.GuestStateDES)
	}
	if ds, _ := f.svc.ListDisks(ctx, compute.KindDisk, f.sub, ""); len(ds) != 0 {
		t.Errorf("an ephemeral OS disk made %d managed disks", len(ds))
	}
	if ids, _ := f.svc.ListAssociatedResources(ctx, f.sub, "rg", "cvm"); !slices.Equal(ids, []string{v.ID()}) {
		t.Errorf("associated = %v; want the VM", ids)
	}
	if _, err := f.svc.DeallocateVM(ctx, f.sub, "rg", "eph"); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("deallocate = %v; want OperationNotAllowed", err)
	}
	if _, err := f.svc.PowerOffVM(ctx, f.sub, "rg", "eph"); err != nil {
		t.Fatal(err)
	}
	f.keys.take()
	_, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v2")})
	if tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed || !strings.Contains(tresor.MessageOf(err), "separate disk encryption set") {
		t.Errorf("rotate with an ephemeral CVM = %v; want OperationNotAllowed naming a separate set", err)
	}
	if got := f.keys.take(); len(got) != 0 {
		t.Errorf("a refused rotation asked the key service %v", got)
	}
	if _, err := f.svc.DeleteVM(ctx, f.sub, "rg", "eph"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Update(ctx, f.sub, "rg", "cvm", compute.Spec{ActiveKey: f.key("k", "v2")}); err != nil {
		t.Errorf("rotate once the ephemeral CVM is gone = %v", err)
	}
}

// TestStartNeedsKeys: starting a VM unwraps its disks' keys without the
// cache; a disabled key fails it with Forbidden naming the disk and the
// key, and the VM stays deallocated; restart of a VM whose key went away
// leaves it stopped.
func TestStartNeedsKeys(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	f.svc.KeyCacheTTL = 1 << 40 // a cache that would hide the disabled key
	ctx := context.Background()
	des := f.newDES(t, "sse", "")
	v := f.vm(t, "vm1", standard(des.ID()))
	if len(v.DataDisks) != 1 || !strings.HasPrefix(v.DataDisks[0].Name, "vm1_disk0_") || v.DataDisks[0].DESID != des.ID() || v.OSDisk.DESID != des.ID() {
		t.Fatalf("disks = %+v, %+v", v.OSDisk, v.DataDisks)
	}
	for _, id := range []string{v.OSDisk.ID, v.DataDisks[0].ID} {
		if d := f.disk(t, id); d.EncryptionType != compute.CustomerKey || d.State != compute.Attached {
			t.Errorf("disk %s = %s %s", d.Name, d.EncryptionType, d.State)
		}
		// The data plane caches the intermediate key.
		if _, err := f.svc.ContentKey(ctx, f.disk(t, id).BlobAccount()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.DeallocateVM(ctx, f.sub, "rg", "vm1"); err != nil {
		t.Fatal(err)
	}
	f.keys.disabled = map[string]bool{f.vault + "/keys/k/v1": true}
	_, err := f.svc.StartVM(ctx, f.sub, "rg", "vm1")
	if !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != compute.ReasonKeyNotUnwrapped ||
		!strings.Contains(tresor.MessageOf(err), v.OSDisk.Name) || !strings.Contains(tresor.MessageOf(err), f.vault+"/keys/k/v1") {
		t.Errorf("start with the key disabled = %v; want Forbidden %s naming the disk and key", err, compute.ReasonKeyNotUnwrapped)
	}
	if got, _ := f.svc.GetVM(ctx, f.sub, "rg", "vm1"); got.Power != compute.Deallocated {
		t.Errorf("after a failed start: %s; want deallocated", got.Power)
	}
	if d := f.disk(t, v.OSDisk.ID); d.State != compute.Reserved {
		t.Errorf("disk after a failed start: %s", d.State)
	}
	f.keys.disabled = nil
	if got, err := f.svc.StartVM(ctx, f.sub, "rg", "vm1"); err != nil || got.Power != compute.Running {
		t.Fatalf("start with the key enabled = %v", err)
	}
	if d := f.disk(t, v.DataDisks[0].ID); d.State != compute.Attached {
		t.Errorf("disk of a running VM: %s", d.State)
	}
	f.keys.disabled = map[string]bool{f.vault + "/keys/k/v1": true}
	if _, err := f.svc.RestartVM(ctx, f.sub, "rg", "vm1"); !tresor.IsKind(err, tresor.Forbidden) {
		t.Errorf("restart with the key disabled = %v; want Forbidden", err)
	}
	if got, _ := f.svc.GetVM(ctx, f.sub, "rg", "vm1"); got.Power != compute.Stopped {
		t.Errorf("after a failed restart: %s; want stopped", got.Power)
	}
	if _, err := f.svc.RestartVM(ctx, f.sub, "rg", "vm1"); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("restart a stopped VM = %v; want OperationNotAllowed", err)
	}
	// Creating a VM on a key that does not open leaves nothing.
	if _, _, err := f.svc.CreateOrUpdateVM(ctx, f.sub, "rg", "vm2", standard(des.ID())); !tresor.IsKind(err, tresor.Forbidden) {
		t.Errorf("create with the key disabled = %v; want Forbidden", err)
	}
	if ds, _ := f.svc.ListDisks(ctx, compute.KindDisk, f.sub, ""); len(ds) != 2 {
		t.Errorf("%d disks; a failed create left some", len(ds))
	}
	if _, err := f.svc.GetVM(ctx, f.sub, "rg", "vm2"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("a failed create left the VM: %v", err)
	}
}

// TestVMDisks: attach, a disk attached elsewhere, export only once
// deallocated, data disks added and removed by an update, delete detaching
// them, the group's deletion.
func TestVMDisks(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	des := f.newDES(t, "sse", "")
	other := f.newDES(t, "other", "")
	spare, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "spare", f.emptyDisk("", other.ID()))
	if err != nil {
		t.Fatal(err)
	}
	sp := standard(des.ID())
	sp.OSDisk = &compute.VMDisk{CreateOption: "Empty", Name: "boot", SizeGB: 8}
	sp.DataDisks = append(sp.DataDisks, compute.VMDisk{Lun: 5, CreateOption: "Attach", ID: spare.ID()})
	v := f.vm(t, "vm1", sp)
	if v.OSDisk.Name != "boot" || v.OSDisk.SizeGB != 8 || v.OSDisk.DESID != "" || len(v.DataDisks) != 2 || v.DataDisks[1].DESID != other.ID() || v.DataDisks[1].Name != "spare" {
		t.Fatalf("VM disks = %+v %+v", v.OSDisk, v.DataDisks)
	}
	if d := f.disk(t, spare.ID()); d.ManagedBy != v.ID() || d.State != compute.Attached {
		t.Errorf("attached disk = %s by %s", d.State, d.ManagedBy)
	}
	// Attached elsewhere: 409.
	sp2 := standard("")
	sp2.DataDisks = []compute.VMDisk{{Lun: 0, CreateOption: "Attach", ID: spare.ID()}}
	if _, _, err := f.svc.CreateOrUpdateVM(ctx, f.sub, "rg", "vm2", sp2); !tresor.IsKind(err, tresor.Conflict) || tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("attach a disk attached elsewhere = %v; want Conflict OperationNotAllowed", err)
	}
	if ds, _ := f.svc.ListDisks(ctx, compute.KindDisk, f.sub, ""); len(ds) != 3 {
		t.Errorf("%d disks; the refused VM's OS disk was left", len(ds))
	}
	// Export is refused while the VM runs or is stopped, allowed once
	// deallocated; a start waits for endGetAccess.
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "spare", "Read", 3600e9); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("export an attached disk = %v", err)
	}
	f.svc.DeallocateVM(ctx, f.sub, "rg", "vm1")
	if _, err := f.svc.GrantAccess(ctx, compute.KindDisk, f.sub, "rg", "spare", "Read", 3600e9); err != nil {
		t.Fatalf("export a reserved disk: %v", err)
	}
	if _, err := f.svc.StartVM(ctx, f.sub, "rg", "vm1"); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("start during an export = %v; want OperationNotAllowed", err)
	}
	f.svc.RevokeAccess(ctx, compute.KindDisk, f.sub, "rg", "spare")
	if d := f.disk(t, spare.ID()); d.State != compute.Reserved {
		t.Errorf("after endGetAccess: %s; want Reserved", d.State)
	}
	if _, err := f.svc.StartVM(ctx, f.sub, "rg", "vm1"); err != nil {
		t.Fatal(err)
	}

	// An update replaces the data disks: lun 5 detached, lun 1 added.
	v, err = f.svc.UpdateVM(ctx, f.sub, "rg", "vm1", compute.VMSpec{Tags: map[string]string{"k": "v"}, DataDisks: []compute.VMDisk{
		{Lun: 0}, {Lun: 1, CreateOption: "Empty", SizeGB: 1},
	}})
	if err != nil || len(v.DataDisks) != 2 || v.DataDisks[1].Lun != 1 || v.Tags["k"] != "v" {
		t.Fatalf("update = %+v, %v", v.DataDisks, err)
	}
	if d := f.disk(t, spare.ID()); d.ManagedBy != "" || d.State != compute.Unattached {
		t.Errorf("detached disk = %s by %q", d.State, d.ManagedBy)
	}
	if _, err := f.svc.UpdateVM(ctx, f.sub, "rg", "vm1", compute.VMSpec{DataDisks: []compute.VMDisk{{Lun: 0, ID: spare.ID()}}}); tresor.ReasonOf(err) != compute.ReasonOperationNotAllowed {
		t.Errorf("another disk at a taken lun = %v; want OperationNotAllowed", err)
	}
	for _, tt := range []struct {
		name string
		sp   compute.VMSpec
	}{
		{"security type", compute.VMSpec{SecurityType: "ConfidentialVM"}},
		{"OS disk", compute.VMSpec{OSDisk: &compute.VMDisk{ID: spare.ID()}}},
	} {
		if _, err := f.svc.UpdateVM(ctx, f.sub, "rg", "vm1", tt.sp); tresor.ReasonOf(err) != compute.ReasonPropertyChangeNotAllowed {
			t.Errorf("change the %s = %v; want %s", tt.name, err, compute.ReasonPropertyChangeNotAllowed)
		}
	}

	// Delete detaches by default; the group's deletion removes the VMs
	// before the disks.
	f.vm(t, "vm3", standard(des.ID()))
	if _, err := f.svc.DeleteVM(ctx, f.sub, "rg", "vm1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{v.OSDisk.ID, v.DataDisks[0].ID, v.DataDisks[1].ID} {
		if d := f.disk(t, id); d.ManagedBy != "" || d.State != compute.Unattached {
			t.Errorf("disk %s after the VM's deletion = %s by %q", d.Name, d.State, d.ManagedBy)
		}
	}
	if err := f.svc.DeleteResourceGroup(ctx, f.sub, "rg"); err != nil {
		t.Fatal(err)
	}
	if vs, _ := f.svc.ListVMs(ctx, f.sub, ""); len(vs) != 0 {
		t.Errorf("%d VMs after the group's deletion", len(vs))
	}
}

// TestVMRefusals: what a VM may not be.
func TestVMRefusals(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	ctx := context.Background()
	cvmDES := f.newDES(t, "cvm", compute.ConfidentialVMEncryptedWithCustomerKey)
	sse := f.newDES(t, "sse", "")
	with := func(sp compute.VMSpec, fn func(*compute.VMSpec)) compute.VMSpec { fn(&sp); return sp }
	tests := []struct {
		name string
		sp   compute.VMSpec
		want tresor.Kind
	}{
		{"no OS disk", with(standard(""), func(sp *compute.VMSpec) { sp.OSDisk = nil }), tresor.Invalid},
		{"no image", with(standard(""), func(sp *compute.VMSpec) { sp.Image = nil }), tresor.Invalid},
		{"no location", with(standard(""), func(sp *compute.VMSpec) { sp.Location = "" }), tresor.Invalid},
		{"unknown security type", with(standard(""), func(sp *compute.VMSpec) { sp.SecurityType = "Secret" }), tresor.Invalid},
		{"CVM without encryption type", with(cvm(cvmDES.ID(), false), func(sp *compute.VMSpec) { sp.OSDisk.SecurityEncryptionType = "" }), tresor.Invalid},
		{"encryption type without CVM", with(cvm(cvmDES.ID(), false), func(sp *compute.VMSpec) { sp.SecurityType = "" }), tresor.Invalid},
		{"CMK with guest state only", with(cvm(cvmDES.ID(), false), func(sp *compute.VMSpec) { sp.OSDisk.SecurityEncryptionType = "VMGuestStateOnly" }), tresor.Invalid},
		{"CVM on an SSE DES", cvm(sse.ID(), false), tresor.Invalid},
		{"ephemeral CVM on an SSE DES", cvm(sse.ID(), true), tresor.Invalid},
		{"SSE on a CVM DES", standard(cvmDES.ID()), tresor.Invalid},
		{"missing DES", standard(f.desID("none")), tresor.Invalid},
		{"ephemeral on a DES", with(standard(sse.ID()), func(sp *compute.VMSpec) { sp.OSDisk.Ephemeral = "CacheDisk" }), tresor.Invalid},
		{"ephemeral attached", with(standard(""), func(sp *compute.VMSpec) { sp.OSDisk.Ephemeral, sp.OSDisk.CreateOption = "CacheDisk", "Attach" }), tresor.Invalid},
		{"unknown placement", with(standard(""), func(sp *compute.VMSpec) { sp.OSDisk.Ephemeral = "Floppy" }), tresor.Invalid},
		{"repeated lun", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks = append(sp.DataDisks, sp.DataDisks[0]) }), tresor.Invalid},
		{"lun 64", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks[0].Lun = 64 }), tresor.Invalid},
		{"data disk from an image", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks[0].CreateOption = "FromImage" }), tresor.Invalid},
		{"data disk without size", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks[0].SizeGB = 0 }), tresor.Invalid},
		{"confidential data disk", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks[0].SecureDESID = cvmDES.ID() }), tresor.Invalid},
		{"attach without id", with(standard(""), func(sp *compute.VMSpec) { sp.DataDisks[0].CreateOption = "Attach" }), tresor.Invalid},
		{"attach a missing disk", with(standard(""), func(sp *compute.VMSpec) {
			sp.DataDisks[0].CreateOption, sp.DataDisks[0].ID = "Attach", "/subscriptions/"+f.sub+"/resourceGroups/rg/providers/Microsoft.Compute/disks/none"
		}), tresor.Invalid},
		{"bad delete option", with(standard(""), func(sp *compute.VMSpec) { sp.OSDisk.DeleteOption = "Keep" }), tresor.Invalid},
		{"bad name", standard(""), tresor.Invalid},
		{"no group", standard(""), tresor.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, group := "vm", "rg"
			switch tt.name {
			case "bad name":
				name = "vm-"
			case "no group":
				group = "none"
			}
			_, _, err := f.svc.CreateOrUpdateVM(ctx, f.sub, group, name, tt.sp)
			if !tresor.IsKind(err, tt.want) {
				t.Fatalf("create = %v; want %v", err, tt.want)
			}
			if vs, _ := f.svc.ListVMs(ctx, f.sub, ""); len(vs) != 0 {
				t.Errorf("a refused create left %d VMs", len(vs))
			}
			if ds, _ := f.svc.ListDisks(ctx, compute.KindDisk, f.sub, ""); len(ds) != 0 {
				t.Errorf("a refused create left %d disks", len(ds))
			}
			for _, des := range []string{"cvm", "sse"} {
				if ids, _ := f.svc.ListAssociatedResources(ctx, f.sub, "rg", des); len(ids) != 0 {
					t.Errorf("a refused create left keys on %s: %v", des, ids)
				}
			}
		})
	}
	if _, err := f.svc.GetVM(ctx, f.sub, "rg", "none"); tresor.ReasonOf(err) != arm.ReasonResourceNotFound {
		t.Errorf("GetVM(none) = %v", err)
	}
	if _, err := f.svc.StartVM(ctx, f.sub, "rg", "none"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("StartVM(none) = %v", err)
	}
}

// TestVMNames: the OS and data disk names a long VM name gives fit a
// disk's 80 characters.
func TestVMNames(t *testing.T) {
	f := newFixture(t)
	f.withContent()
	name := strings.Repeat("v", 64)
	v := f.vm(t, name, standard(""))
	for _, d := range v.Disks() {
		if len(d.Name) > 80 || !strings.HasPrefix(d.Name, "vvv") {
			t.Errorf("disk name %q (%d)", d.Name, len(d.Name))
		}
	}
	if !bytes.Equal(nil, v.OSProfile) || fmt.Sprint(v.Image) != fmt.Sprint(*ubuntu) {
		t.Errorf("profile %s, image %+v", v.OSProfile, v.Image)
	}
}
