package e2e

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/cli"
)

// vmFixture adds the armcompute VM client to the disk fixture.
type vmFixture struct {
	*diskFixture
	vms *armcompute.VirtualMachinesClient
}

func (f *vmFixture) create(name string, vm armcompute.VirtualMachine) (armcompute.VirtualMachine, error) {
	poller, err := f.vms.BeginCreateOrUpdate(context.Background(), "rg-e2e", name, vm, nil)
	if err != nil {
		return armcompute.VirtualMachine{}, err
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	return res.VirtualMachine, err
}

// power runs start, powerOff, deallocate or restart through armcompute.
func (f *vmFixture) power(op, name string) error {
	ctx := context.Background()
	var err error
	switch op {
	case "start":
		p, e := f.vms.BeginStart(ctx, "rg-e2e", name, nil)
		if err = e; err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
	case "powerOff":
		p, e := f.vms.BeginPowerOff(ctx, "rg-e2e", name, nil)
		if err = e; err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
	case "deallocate":
		p, e := f.vms.BeginDeallocate(ctx, "rg-e2e", name, nil)
		if err = e; err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
	case "restart":
		p, e := f.vms.BeginRestart(ctx, "rg-e2e", name, nil)
		if err = e; err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
	}
	return err
}

// powerState reads the PowerState/ code of a VM's instance view.
func (f *vmFixture) powerState(t *testing.T, name string) string {
	t.Helper()
	iv, err := f.vms.InstanceView(context.Background(), "rg-e2e", name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range iv.Statuses {
		if code := deref(s.Code); strings.HasPrefix(code, "PowerState/") {
			return code
		}
	}
	t.Fatalf("instance view of %s has no power state: %+v", name, iv.Statuses)
	return ""
}

func (f *vmFixture) disk(t *testing.T, id string) armcompute.Disk {
	t.Helper()
	d, err := f.disks.Get(context.Background(), "rg-e2e", id[strings.LastIndex(id, "/")+1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	return d.Disk
}

const vmPassword = "Tresor-e2e-Passw0rd-never-stored"

// confidentialVM is a confidential VM whose OS disk and guest state the
// DES des protects (DiskWithVMGuestState), as Azure's example creates it;
// with an ephemeral OS disk if ephemeral.
func confidentialVM(des string, ephemeral bool) armcompute.VirtualMachine {
	vm := armcompute.VirtualMachine{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_DC2as_v5"))},
			SecurityProfile: &armcompute.SecurityProfile{
				SecurityType: to.Ptr(armcompute.SecurityTypesConfidentialVM),
				UefiSettings: &armcompute.UefiSettings{SecureBootEnabled: to.Ptr(true), VTpmEnabled: to.Ptr(true)},
			},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &armcompute.ImageReference{
					Publisher: to.Ptr("Canonical"), Offer: to.Ptr("0001-com-ubuntu-confidential-vm-jammy"), SKU: to.Ptr("22_04-lts-cvm"), Version: to.Ptr("latest"),
				},
				OSDisk: &armcompute.OSDisk{
					CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage), Caching: to.Ptr(armcompute.CachingTypesReadOnly),
					ManagedDisk: &armcompute.ManagedDiskParameters{
						StorageAccountType: to.Ptr(armcompute.StorageAccountTypesStandardSSDLRS),
						SecurityProfile: &armcompute.VMDiskSecurityProfile{
							SecurityEncryptionType: to.Ptr(armcompute.SecurityEncryptionTypesDiskWithVMGuestState),
							DiskEncryptionSet:      &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(des)},
						},
					},
				},
			},
			OSProfile: &armcompute.OSProfile{ComputerName: to.Ptr("cvm"), AdminUsername: to.Ptr("azureuser"), AdminPassword: to.Ptr(vmPassword)},
		},
	}
	if ephemeral {
		osd := vm.Properties.StorageProfile.OSDisk
		osd.DiffDiskSettings = &armcompute.DiffDiskSettings{Option: to.Ptr(armcompute.DiffDiskOptionsLocal), Placement: to.Ptr(armcompute.DiffDiskPlacementCacheDisk)}
		osd.ManagedDisk.StorageAccountType = nil
	}
	return vm
}

// TestVirtualMachines drives Microsoft.Compute/virtualMachines with the
// unmodified armcompute and azkeys clients, following Azure's offline key
// rotation of confidential VMs: two confidential VMs on a DES; a key
// change refused while one runs, nothing moved; done once both are
// stopped, every OS disk and guest state on the new version; a
// confidential VM with an ephemeral OS disk blocks its DES's rotation.
// Then a VM with OS and data disks on an encryption-at-rest DES: its key
// disabled, the VM does not start (403); enabled again, it runs. The CLI,
// and deletes.
func TestVirtualMachines(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := &vmFixture{diskFixture: newDiskFixture(t, e)}
	var err error
	if f.vms, err = armcompute.NewVirtualMachinesClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http)); err != nil {
		t.Fatal(err)
	}
	v1 := string(*f.key.Key.KID)
	cvmDES := f.des(t, "des-cvm", v1, armcompute.DiskEncryptionSetTypeConfidentialVMEncryptedWithCustomerKey)

	// Two confidential VMs, created running.
	cvms := map[string]armcompute.VirtualMachine{}
	for _, name := range []string{"cvm-a", "cvm-b"} {
		vm, err := f.create(name, confidentialVM(*cvmDES.ID, false))
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		p := vm.Properties
		osd := p.StorageProfile.OSDisk
		if deref(p.ProvisioningState) != "Succeeded" || deref(p.VMID) == "" || *vm.Type != "Microsoft.Compute/virtualMachines" ||
			osd.ManagedDisk == nil || deref(osd.ManagedDisk.ID) == "" || !strings.HasPrefix(deref(osd.Name), name+"_OsDisk_1_") ||
			deref(osd.ManagedDisk.SecurityProfile.DiskEncryptionSet.ID) != *cvmDES.ID || *p.SecurityProfile.SecurityType != armcompute.SecurityTypesConfidentialVM {
			t.Errorf("created %s = %+v, OS disk %+v", name, p, osd)
		}
		if op := p.OSProfile; op == nil || op.AdminPassword != nil || deref(op.AdminUsername) != "azureuser" {
			t.Errorf("osProfile = %+v; want the user without the password", op)
		}
		d := f.disk(t, *osd.ManagedDisk.ID)
		if sp := d.Properties.SecurityProfile; sp == nil || *sp.SecurityType != armcompute.DiskSecurityTypesConfidentialVMDiskEncryptedWithCustomerKey ||
			deref(sp.SecureVMDiskEncryptionSetID) != *cvmDES.ID || *d.Properties.DiskState != armcompute.DiskStateAttached || deref(d.ManagedBy) != *vm.ID {
			t.Errorf("OS disk of %s = %+v, managed by %s", name, d.Properties, deref(d.ManagedBy))
		}
		if got := f.powerState(t, name); got != "PowerState/running" {
			t.Errorf("%s after create: %s", name, got)
		}
		cvms[name] = vm
	}
	var assoc []string
	for pager := f.sets.NewListAssociatedResourcesPager("rg-e2e", "des-cvm", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range page.Value {
			assoc = append(assoc, *id)
		}
	}
	for _, vm := range cvms {
		if !slices.Contains(assoc, *vm.ID) || !slices.Contains(assoc, *vm.Properties.StorageProfile.OSDisk.ManagedDisk.ID) {
			t.Errorf("associatedResources = %v; want %s and its OS disk", assoc, *vm.Name)
		}
	}
	allOn := func(des, version string, want int) {
		t.Helper()
		kv := f.keyVersions(t, des)
		if len(kv) != want {
			t.Errorf("%s protects %d artifacts; want %d: %v", des, len(kv), want, kv)
		}
		for id, k := range kv {
			if k != version {
				t.Errorf("%s on %s; want %s", id, k, version)
			}
		}
	}
	allOn("des-cvm", v1, 4) // two OS disks, two guest states
	if kv := f.keyVersions(t, "des-cvm"); kv[*cvms["cvm-a"].ID+"/gueststate"] != v1 {
		t.Errorf("key versions = %v; want cvm-a's guest state", kv)
	}

	// Rotation refused while cvm-b runs: 409, nothing changes.
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(*rotated.Key.KID)
	if err := f.power("deallocate", "cvm-a"); err != nil {
		t.Fatal(err)
	}
	_, err = f.setKey("des-cvm", v2)
	if statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" || !strings.Contains(err.Error(), "Running: cvm-b.") ||
		!strings.Contains(err.Error(), "properties.activeKey") {
		t.Fatalf("rotate with cvm-b running = %v; want 409 OperationNotAllowed naming cvm-b, target properties.activeKey", err)
	}
	allOn("des-cvm", v1, 4)
	if got, err := f.sets.Get(ctx, "rg-e2e", "des-cvm", nil); err != nil || deref(got.Properties.ActiveKey.KeyURL) != v1 || len(got.Properties.PreviousKeys) != 0 {
		t.Errorf("DES after the refusal = %+v, %v", got.Properties, err)
	}

	// Both stopped (one deallocated, one powered off): every artifact moves.
	if err := f.power("powerOff", "cvm-b"); err != nil {
		t.Fatal(err)
	}
	if got := f.powerState(t, "cvm-b"); got != "PowerState/stopped" {
		t.Errorf("cvm-b after powerOff: %s", got)
	}
	after, err := f.setKey("des-cvm", v2)
	if err != nil || deref(after.Properties.ProvisioningState) != "Succeeded" || deref(after.Properties.ActiveKey.KeyURL) != v2 {
		t.Fatalf("rotate with every confidential VM stopped = %+v, %v", after.Properties, err)
	}
	allOn("des-cvm", v2, 4)
	if err := f.power("start", "cvm-a"); err != nil {
		t.Fatalf("start cvm-a on the new key: %v", err)
	}
	if got := f.powerState(t, "cvm-a"); got != "PowerState/running" {
		t.Errorf("cvm-a after start: %s", got)
	}

	// An ephemeral OS disk: no managed disk, the guest state on the DES;
	// not deallocatable; blocks the DES's rotation even when stopped.
	ephDES := f.des(t, "des-cvm-eph", v2, armcompute.DiskEncryptionSetTypeConfidentialVMEncryptedWithCustomerKey)
	eph, err := f.create("cvm-eph", confidentialVM(*ephDES.ID, true))
	if err != nil {
		t.Fatal(err)
	}
	if osd := eph.Properties.StorageProfile.OSDisk; osd.DiffDiskSettings == nil || *osd.DiffDiskSettings.Option != armcompute.DiffDiskOptionsLocal ||
		deref(osd.ManagedDisk.ID) != "" || deref(osd.ManagedDisk.SecurityProfile.DiskEncryptionSet.ID) != *ephDES.ID {
		t.Errorf("ephemeral OS disk = %+v", osd)
	}
	allOn("des-cvm-eph", v2, 1)
	if err := f.power("deallocate", "cvm-eph"); statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" {
		t.Errorf("deallocate a VM with an ephemeral OS disk = %v; want 409 OperationNotAllowed", err)
	}
	if err := f.power("powerOff", "cvm-eph"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.setKey("des-cvm-eph", v1); statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" ||
		!strings.Contains(err.Error(), "separate disk encryption set") || !strings.Contains(err.Error(), "cvm-eph") {
		t.Errorf("rotate a DES with an ephemeral confidential VM = %v; want 409 OperationNotAllowed", err)
	}
	allOn("des-cvm-eph", v2, 1)

	// A VM with OS and data disks on an encryption-at-rest DES, one data
	// disk made with it, one attached.
	sse := f.des(t, "des-sse", v2, armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey)
	spare, err := f.createDisk("spare", armcompute.Disk{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)}, DiskSizeGB: to.Ptr[int32](1),
			Encryption: &armcompute.Encryption{DiskEncryptionSetID: sse.ID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	onSSE := &armcompute.DiskEncryptionSetParameters{ID: sse.ID}
	std, err := f.create("vm-std", armcompute.VirtualMachine{
		Location: to.Ptr("westeurope"),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypesStandardD2SV3)},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &armcompute.ImageReference{Publisher: to.Ptr("Canonical"), Offer: to.Ptr("ubuntu-24_04-lts"), SKU: to.Ptr("server"), Version: to.Ptr("latest")},
				OSDisk: &armcompute.OSDisk{
					Name: to.Ptr("vm-std-os"), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
					ManagedDisk: &armcompute.ManagedDiskParameters{StorageAccountType: to.Ptr(armcompute.StorageAccountTypesPremiumLRS), DiskEncryptionSet: onSSE},
				},
				DataDisks: []*armcompute.DataDisk{
					{Lun: to.Ptr[int32](0), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesEmpty), DiskSizeGB: to.Ptr[int32](2),
						ManagedDisk: &armcompute.ManagedDiskParameters{DiskEncryptionSet: onSSE}},
					{Lun: to.Ptr[int32](1), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach), ManagedDisk: &armcompute.ManagedDiskParameters{ID: spare.ID}},
				},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdDisks []string
	for _, d := range append([]*armcompute.DataDisk{{ManagedDisk: std.Properties.StorageProfile.OSDisk.ManagedDisk}}, std.Properties.StorageProfile.DataDisks...) {
		stdDisks = append(stdDisks, *d.ManagedDisk.ID)
		if deref(d.ManagedDisk.DiskEncryptionSet.ID) != *sse.ID {
			t.Errorf("disk %s of vm-std is on %+v; want des-sse", *d.ManagedDisk.ID, d.ManagedDisk.DiskEncryptionSet)
		}
		if got := f.disk(t, *d.ManagedDisk.ID); *got.Properties.Encryption.Type != armcompute.EncryptionTypeEncryptionAtRestWithCustomerKey ||
			*got.Properties.DiskState != armcompute.DiskStateAttached || deref(got.ManagedBy) != *std.ID {
			t.Errorf("disk %s = %s %s, managed by %s", *got.Name, *got.Properties.Encryption.Type, *got.Properties.DiskState, deref(got.ManagedBy))
		}
	}
	other := confidentialVM(*cvmDES.ID, false)
	other.Properties.StorageProfile.DataDisks = []*armcompute.DataDisk{
		{Lun: to.Ptr[int32](0), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach), ManagedDisk: &armcompute.ManagedDiskParameters{ID: spare.ID}},
	}
	if _, err := f.create("vm-other", other); statusOf(err) != http.StatusConflict || codeOf(err) != "OperationNotAllowed" {
		t.Errorf("attach a disk attached to vm-std = %v; want 409 OperationNotAllowed", err)
	}
	if _, err := f.vms.Get(ctx, "rg-e2e", "vm-other", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("the refused VM exists: %v", err)
	}

	// The key disabled: a deallocated VM does not start.
	if err := f.power("deallocate", "vm-std"); err != nil {
		t.Fatal(err)
	}
	if d := f.disk(t, stdDisks[0]); *d.Properties.DiskState != armcompute.DiskStateReserved {
		t.Errorf("disk of a deallocated VM = %s; want Reserved", *d.Properties.DiskState)
	}
	enable := func(on bool) {
		t.Helper()
		if _, err := f.kv.UpdateKey(ctx, "cmk", rotated.Key.KID.Version(), azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	enable(false)
	err = f.power("start", "vm-std")
	if statusOf(err) != http.StatusForbidden || codeOf(err) != "KeyVaultEncryptionKeyNotFound" || !strings.Contains(err.Error(), "vm-std-os") || !strings.Contains(err.Error(), v2) {
		t.Errorf("start with the key disabled = %v; want 403 KeyVaultEncryptionKeyNotFound naming the disk and key", err)
	}
	if got := f.powerState(t, "vm-std"); got != "PowerState/deallocated" {
		t.Errorf("after the failed start: %s", got)
	}
	enable(true)
	if err := f.power("start", "vm-std"); err != nil {
		t.Fatalf("start with the key enabled: %v", err)
	}
	iv, err := f.vms.InstanceView(ctx, "rg-e2e", "vm-std", nil)
	if err != nil || len(iv.Statuses) != 2 || deref(iv.Statuses[0].Code) != "ProvisioningState/succeeded" ||
		deref(iv.Statuses[1].Code) != "PowerState/running" || deref(iv.Statuses[1].DisplayStatus) != "VM running" || len(iv.Disks) != 3 {
		t.Errorf("instance view = %+v, %v", iv.VirtualMachineInstanceView, err)
	}
	if err := f.power("restart", "vm-std"); err != nil {
		t.Errorf("restart: %v", err)
	}
	got, err := f.vms.Get(ctx, "rg-e2e", "vm-std", &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil || got.Properties.InstanceView == nil || deref(got.Properties.InstanceView.Statuses[1].Code) != "PowerState/running" {
		t.Errorf("GET $expand=instanceView = %+v, %v", got.Properties, err)
	}
	if plain, _ := f.vms.Get(ctx, "rg-e2e", "vm-std", nil); plain.Properties.InstanceView != nil {
		t.Error("GET without $expand has an instance view")
	}

	// Lists.
	var names []string
	for pager := f.vms.NewListPager("rg-e2e", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, vm := range page.Value {
			names = append(names, *vm.Name)
		}
	}
	all, err := collectVMs(ctx, f.vms)
	if want := []string{"cvm-a", "cvm-b", "cvm-eph", "vm-std"}; err != nil || !slices.Equal(names, want) || !slices.Equal(all, want) {
		t.Errorf("lists = %v and %v, %v; want %v", names, all, err, want)
	}

	// The CLI, as az.
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	out := run("vm", "create", "-n", "vm-cli", "-g", "rg-e2e", "--image", "Ubuntu2204", "--os-disk-encryption-set", "des-sse",
		"--data-disk-sizes-gb", "1 2", "--data-disk-encryption-sets", "des-sse", "--admin-password", vmPassword, "--os-disk-delete-option", "Delete")
	if !strings.Contains(out, *sse.ID) || !strings.Contains(out, `"provisioningState": "Succeeded"`) || !strings.Contains(out, "0001-com-ubuntu-server-jammy") {
		t.Errorf("vm create printed %s", out)
	}
	run("vm", "deallocate", "-n", "vm-cli", "-g", "rg-e2e")
	if out := run("vm", "get-instance-view", "-n", "vm-cli", "-g", "rg-e2e"); !strings.Contains(out, "PowerState/deallocated") {
		t.Errorf("vm get-instance-view printed %s", out)
	}
	if out := run("vm", "list", "-g", "rg-e2e"); !strings.Contains(out, "vm-cli") {
		t.Errorf("vm list printed %s", out)
	}
	run("vm", "delete", "-n", "vm-cli", "-g", "rg-e2e", "--yes")
	// The password went nowhere.
	blobtest.NoPlaintext(t, dir, 2, map[string][]byte{"admin password": []byte(vmPassword)})

	// PATCH: cvm-a's OS disk is deleted with it.
	up, err := f.vms.BeginUpdate(ctx, "rg-e2e", "cvm-a", armcompute.VirtualMachineUpdate{
		Tags: map[string]*string{"env": to.Ptr("e2e")},
		Properties: &armcompute.VirtualMachineProperties{StorageProfile: &armcompute.StorageProfile{
			OSDisk: &armcompute.OSDisk{DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete)},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := up.PollUntilDone(ctx, nil); err != nil || deref(res.Tags["env"]) != "e2e" || *res.Properties.StorageProfile.OSDisk.DeleteOption != armcompute.DiskDeleteOptionTypesDelete {
		t.Fatalf("PATCH = %+v, %v", res.Properties, err)
	}

	// Delete: vm-std's disks detached, cvm-a's OS disk and guest state
	// gone; a second delete is 204.
	for _, name := range []string{"vm-std", "cvm-a", "cvm-eph", "cvm-a"} {
		poller, err := f.vms.BeginDelete(ctx, "rg-e2e", name, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	for _, id := range stdDisks {
		if d := f.disk(t, id); *d.Properties.DiskState != armcompute.DiskStateUnattached || d.ManagedBy != nil {
			t.Errorf("disk %s after its VM's deletion = %s, managed by %v", *d.Name, *d.Properties.DiskState, deref(d.ManagedBy))
		}
	}
	if _, err := f.disks.Get(ctx, "rg-e2e", *cvms["cvm-a"].Properties.StorageProfile.OSDisk.Name, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("cvm-a's OS disk (deleteOption Delete) = %v; want 404", err)
	}
	allOn("des-cvm", v2, 2) // cvm-b's
	allOn("des-cvm-eph", "", 0)
	if _, err := f.vms.Get(ctx, "rg-e2e", "cvm-a", nil); statusOf(err) != http.StatusNotFound || codeOf(err) != "ResourceNotFound" {
		t.Errorf("get a deleted VM = %v; want 404 ResourceNotFound", err)
	}
	if _, err := f.setKey("des-cvm-eph", v1); err != nil {
		t.Errorf("rotate the ephemeral VM's DES once it is deleted: %v", err)
	}
}

func collectVMs(ctx context.Context, vms *armcompute.VirtualMachinesClient) ([]string, error) {
	var names []string
	for pager := vms.NewListAllPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, vm := range page.Value {
			names = append(names, *vm.Name)
		}
	}
	return names, nil
}
