package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/compute"
)

// TestVirtualMachines round-trips every field of a VM and checks that
// names ignore case within a group only.
func TestVirtualMachines(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	yes := true
	v := compute.VirtualMachine{
		SubscriptionID: "sub", ResourceGroup: "rg", Name: "Vm1", Location: "westeurope", Tags: map[string]string{"a": "b"},
		VMID: "0f0e", Size: "Standard_DC2as_v5", SecurityType: compute.SecurityTypeConfidentialVM,
		UEFI:      &compute.UEFISettings{SecureBoot: &yes, VTPM: &yes},
		Image:     compute.ImageReference{Publisher: "Canonical", Offer: "ubuntu", SKU: "cvm", Version: "latest"},
		OSProfile: []byte(`{"adminUsername":"azureuser","computerName":"vm1"}`),
		OSDisk: compute.VMDisk{Name: "os", CreateOption: "FromImage", SizeGB: 30, OSType: "Linux", Caching: "ReadWrite", DeleteOption: "Delete",
			ID: "/d/os", StorageAccountType: "Premium_LRS", SecurityEncryptionType: compute.DiskWithVMGuestState, SecureDESID: "/des/cvm"},
		DataDisks: []compute.VMDisk{
			{Lun: 0, Name: "d0", CreateOption: "Empty", SizeGB: 4, DeleteOption: "Detach", ID: "/d/d0", DESID: "/des/sse"},
			{Lun: 3, Name: "d3", CreateOption: "Attach", SizeGB: 1, DeleteOption: "Detach", ID: "/d/d3"},
		},
		GuestStateDES: "/des/cvm", Power: compute.Deallocated, PowerChanged: at, ProvisioningState: "Succeeded", Created: at,
	}
	if err := db.CreateVirtualMachine(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateVirtualMachine(ctx, v); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("create twice = %v; want Conflict", err)
	}
	got, err := db.VirtualMachine(ctx, "SUB", "RG", "vm1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, got); diff != "" {
		t.Errorf("VirtualMachine round trip (-want +got):\n%s", diff)
	}
	eph := v
	eph.ResourceGroup, eph.Tags, eph.UEFI, eph.OSProfile, eph.DataDisks = "rg2", nil, nil, nil, nil
	eph.OSDisk = compute.VMDisk{Name: "eph", CreateOption: "FromImage", SizeGB: 30, DeleteOption: "Delete", Ephemeral: "CacheDisk"}
	if err := db.CreateVirtualMachine(ctx, eph); err != nil {
		t.Errorf("the same name in another group: %v", err)
	}
	if got, _ := db.VirtualMachine(ctx, "sub", "rg2", "VM1"); !cmp.Equal(got, eph) {
		t.Errorf("ephemeral VM round trip = %+v", got)
	}
	v.Power = compute.Running
	if err := db.UpdateVirtualMachine(ctx, v); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.VirtualMachine(ctx, "sub", "rg", "vm1"); got.Power != compute.Running {
		t.Errorf("after update: %s", got.Power)
	}
	if err := db.CreateVirtualMachine(ctx, compute.VirtualMachine{SubscriptionID: "sub", ResourceGroup: "rg", Name: "bad", OSProfile: []byte("{")}); err == nil {
		t.Error("a VM whose osProfile is no JSON was stored")
	}
	for _, tc := range []struct {
		group string
		want  []string
	}{{"", []string{"rg", "rg2"}}, {"RG2", []string{"rg2"}}, {"none", nil}} {
		vs, err := db.VirtualMachines(ctx, "sub", tc.group)
		var groups []string
		for _, x := range vs {
			groups = append(groups, x.ResourceGroup)
		}
		if err != nil || !cmp.Equal(groups, tc.want) {
			t.Errorf("VirtualMachines(%q) = %v, %v; want %v", tc.group, groups, err, tc.want)
		}
	}
	if err := db.DeleteVirtualMachine(ctx, "sub", "rg", "VM1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteVirtualMachine(ctx, "sub", "rg", "vm1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("delete twice = %v; want NotFound", err)
	}
	if err := db.UpdateVirtualMachine(ctx, v); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("update a deleted VM = %v; want NotFound", err)
	}
	if _, err := db.VirtualMachine(ctx, "sub", "rg", "vm1"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("get a deleted VM = %v; want NotFound", err)
	}
}
