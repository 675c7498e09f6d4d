package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// vmCommand mirrors 'az vm': create, start, stop (power off), deallocate,
// restart, show, list, delete and get-instance-view.
type vmCommand struct {
	op  string
	out io.Writer
}

// imageAliases are az's image aliases that tresor knows; any other
// --image is a URN (publisher:offer:sku:version) or an image's ARM id.
var imageAliases = map[string]string{
	"ubuntu2204":        "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
	"ubuntu2404":        "Canonical:ubuntu-24_04-lts:server:latest",
	"debian12":          "Debian:debian-12:12-gen2:latest",
	"win2022datacenter": "MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest",
	"win2025datacenter": "MicrosoftWindowsServer:WindowsServer:2025-datacenter-g2:latest",
}

func imageOf(s string) (*armcompute.ImageReference, error) {
	if strings.HasPrefix(s, "/") {
		return &armcompute.ImageReference{ID: to.Ptr(s)}, nil
	}
	if urn, ok := imageAliases[strings.ToLower(s)]; ok {
		s = urn
	}
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return nil, fmt.Errorf("--image: want an alias (Ubuntu2204, Ubuntu2404, Debian12, Win2022Datacenter, Win2025Datacenter), a URN publisher:offer:sku:version or an image id, got %q", s)
	}
	return &armcompute.ImageReference{Publisher: &parts[0], Offer: &parts[1], SKU: &parts[2], Version: &parts[3]}, nil
}

// splitList splits a flag's value on spaces and commas, as az takes
// space-separated lists.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

func (c vmCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vm "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "VM name")
	fs.StringVar(name, "n", "", "short for --name")
	group := fs.String("resource-group", "", "resource group")
	fs.StringVar(group, "g", "", "short for --resource-group")
	location := fs.String("location", "westeurope", "location (create)")
	fs.StringVar(location, "l", "westeurope", "short for --location")
	tags := tagsFlag{}
	fs.Var(tags, "tags", "space-separated tags k=v (create)")
	image := fs.String("image", "", "image alias (Ubuntu2204, ...), URN publisher:offer:sku:version or image id; recorded, the OS disk is empty")
	size := fs.String("size", "", "VM size (default Standard_DS1_v2, Standard_DC2as_v5 for a confidential VM)")
	securityType := fs.String("security-type", "", "ConfidentialVM, TrustedLaunch or Standard")
	secureBoot := fs.String("enable-secure-boot", "", "true or false")
	vtpm := fs.String("enable-vtpm", "", "true or false")
	encType := fs.String("os-disk-security-encryption-type", "", "DiskWithVMGuestState or VMGuestStateOnly (confidential VM)")
	secureDES := fs.String("os-disk-secure-vm-disk-encryption-set", "", "name or id of the confidential VM disk encryption set of the OS disk and guest state")
	osDES := fs.String("os-disk-encryption-set", "", "name or id of the disk encryption set of the OS disk")
	dataDES := fs.String("data-disk-encryption-sets", "", "names or ids of the disk encryption sets of the new data disks, one for all or one each")
	dataSizes := fs.String("data-disk-sizes-gb", "", "sizes in GiB of new empty data disks, space- or comma-separated")
	attachData := fs.String("attach-data-disks", "", "names or ids of existing disks to attach as data disks")
	attachOS := fs.String("attach-os-disk", "", "name or id of an existing disk to attach as the OS disk")
	osType := fs.String("os-type", "", "Linux or Windows (with --attach-os-disk)")
	osDiskName := fs.String("os-disk-name", "", "name of the new OS disk")
	osDiskSize := fs.Int("os-disk-size-gb", 0, "size in GiB of the new OS disk (default 30)")
	osDelete := fs.String("os-disk-delete-option", "", "Delete or Detach (the default): what deleting the VM does to the OS disk")
	dataDelete := fs.String("data-disk-delete-option", "", "Delete or Detach (the default), for the data disks")
	ephemeral := fs.String("ephemeral-os-disk", "", "true: an ephemeral OS disk, no managed disk")
	placement := fs.String("ephemeral-os-disk-placement", "", "CacheDisk (default), ResourceDisk or NvmeDisk")
	sku := fs.String("storage-sku", "", "storage account type of the new disks (Premium_LRS, StandardSSD_LRS, Standard_LRS)")
	admin := fs.String("admin-username", "azureuser", "administrator name")
	password := fs.String("admin-password", "", "administrator password; sent, never stored by tresor")
	details := fs.Bool("show-details", false, "show: include the instance view (power state)")
	fs.BoolVar(details, "d", false, "short for --show-details")
	skipShutdown := fs.Bool("skip-shutdown", false, "stop: skip the guest's shutdown")
	fs.Bool("yes", false, "delete: do not prompt (tresor never prompts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	sub := cn.env["AZURE_SUBSCRIPTION_ID"]
	vms, err := armcompute.NewVirtualMachinesClient(sub, cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	// idOf turns a name in the VM's group into the id of a resource type.
	idOf := func(typ, s string) string {
		if s == "" || strings.HasPrefix(s, "/") {
			return s
		}
		return "/subscriptions/" + sub + "/resourceGroups/" + *group + "/providers/Microsoft.Compute/" + typ + "/" + s
	}
	one := func() error { return required(fs, "name", "resource-group") }
	switch c.op {
	case "create":
		if err := one(); err != nil {
			return err
		}
		vm, err := vmBody(vmFlags{
			name: *name, location: *location, image: *image, size: *size, securityType: *securityType, secureBoot: *secureBoot, vtpm: *vtpm,
			encType: *encType, secureDES: idOf("diskEncryptionSets", *secureDES), osDES: idOf("diskEncryptionSets", *osDES),
			dataDES: *dataDES, dataSizes: *dataSizes, attachData: *attachData, attachOS: idOf("disks", *attachOS), osType: *osType,
			osDiskName: *osDiskName, osDiskSize: *osDiskSize, osDelete: *osDelete, dataDelete: *dataDelete, ephemeral: *ephemeral,
			placement: *placement, sku: *sku, admin: *admin, password: *password,
		}, idOf)
		if err != nil {
			return err
		}
		if len(tags) > 0 {
			vm.Tags = tags
		}
		poller, err := vms.BeginCreateOrUpdate(ctx, *group, *name, vm, nil)
		if err != nil {
			return err
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.VirtualMachine)
	case "start":
		if err := one(); err != nil {
			return err
		}
		p, err := vms.BeginStart(ctx, *group, *name, nil)
		return await(ctx, p, err)
	case "stop":
		if err := one(); err != nil {
			return err
		}
		p, err := vms.BeginPowerOff(ctx, *group, *name, &armcompute.VirtualMachinesClientBeginPowerOffOptions{SkipShutdown: skipShutdown})
		return await(ctx, p, err)
	case "deallocate":
		if err := one(); err != nil {
			return err
		}
		p, err := vms.BeginDeallocate(ctx, *group, *name, nil)
		return await(ctx, p, err)
	case "restart":
		if err := one(); err != nil {
			return err
		}
		p, err := vms.BeginRestart(ctx, *group, *name, nil)
		return await(ctx, p, err)
	case "show", "get-instance-view":
		if err := one(); err != nil {
			return err
		}
		var opts *armcompute.VirtualMachinesClientGetOptions
		if *details || c.op == "get-instance-view" {
			opts = &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)}
		}
		res, err := vms.Get(ctx, *group, *name, opts)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.VirtualMachine)
	case "list":
		var all []*armcompute.VirtualMachine
		if *group != "" {
			all, err = collect(ctx, vms.NewListPager(*group, nil),
				func(p armcompute.VirtualMachinesClientListResponse) []*armcompute.VirtualMachine { return p.Value })
		} else {
			all, err = collect(ctx, vms.NewListAllPager(nil),
				func(p armcompute.VirtualMachinesClientListAllResponse) []*armcompute.VirtualMachine { return p.Value })
		}
		if err != nil {
			return err
		}
		if all == nil {
			all = []*armcompute.VirtualMachine{}
		}
		return printJSON(c.out, all)
	case "delete":
		if err := one(); err != nil {
			return err
		}
		p, err := vms.BeginDelete(ctx, *group, *name, nil)
		return await(ctx, p, err)
	}
	return fmt.Errorf("vm: unknown operation %q (create, start, stop, deallocate, restart, show, list, delete, get-instance-view)", c.op)
}

// vmFlags are the flags of 'vm create'.
type vmFlags struct {
	name, location, image, size, securityType, secureBoot, vtpm string
	encType, secureDES, osDES, dataDES, dataSizes, attachData   string
	attachOS, osType, osDiskName                                string
	osDiskSize                                                  int
	osDelete, dataDelete, ephemeral, placement, sku             string
	admin, password                                             string
}

// build makes the VirtualMachine that 'az vm create' would send for f.
func vmBody(f vmFlags, idOf func(typ, s string) string) (armcompute.VirtualMachine, error) {
	boolOf := func(flag, s string) (*bool, error) {
		if s == "" {
			return nil, nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("--%s: want true or false, got %q", flag, s)
		}
		return &b, nil
	}
	var sku *armcompute.StorageAccountTypes
	if f.sku != "" {
		sku = to.Ptr(armcompute.StorageAccountTypes(f.sku))
	}
	props := &armcompute.VirtualMachineProperties{StorageProfile: &armcompute.StorageProfile{}}
	size := f.size
	if size == "" {
		size = "Standard_DS1_v2"
		if strings.EqualFold(f.securityType, "ConfidentialVM") {
			size = "Standard_DC2as_v5"
		}
	}
	props.HardwareProfile = &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(size))}
	if f.securityType != "" || f.secureBoot != "" || f.vtpm != "" {
		sb, err := boolOf("enable-secure-boot", f.secureBoot)
		if err != nil {
			return armcompute.VirtualMachine{}, err
		}
		vt, err := boolOf("enable-vtpm", f.vtpm)
		if err != nil {
			return armcompute.VirtualMachine{}, err
		}
		props.SecurityProfile = &armcompute.SecurityProfile{}
		if f.securityType != "" {
			props.SecurityProfile.SecurityType = to.Ptr(armcompute.SecurityTypes(f.securityType))
		}
		if sb != nil || vt != nil {
			props.SecurityProfile.UefiSettings = &armcompute.UefiSettings{SecureBootEnabled: sb, VTpmEnabled: vt}
		}
	}
	osd := &armcompute.OSDisk{ManagedDisk: &armcompute.ManagedDiskParameters{StorageAccountType: sku}}
	if f.osDelete != "" {
		osd.DeleteOption = to.Ptr(armcompute.DiskDeleteOptionTypes(f.osDelete))
	}
	if f.attachOS != "" {
		osd.CreateOption, osd.ManagedDisk.ID = to.Ptr(armcompute.DiskCreateOptionTypesAttach), to.Ptr(f.attachOS)
		osd.OSType = to.Ptr(armcompute.OperatingSystemTypes(f.osType))
		if f.osType == "" {
			osd.OSType = to.Ptr(armcompute.OperatingSystemTypesLinux)
		}
	} else {
		if f.image == "" {
			return armcompute.VirtualMachine{}, fmt.Errorf("vm create: --image or --attach-os-disk is required")
		}
		img, err := imageOf(f.image)
		if err != nil {
			return armcompute.VirtualMachine{}, err
		}
		props.StorageProfile.ImageReference = img
		osd.CreateOption = to.Ptr(armcompute.DiskCreateOptionTypesFromImage)
		props.OSProfile = &armcompute.OSProfile{ComputerName: to.Ptr(f.name), AdminUsername: to.Ptr(f.admin)}
		if f.password != "" {
			props.OSProfile.AdminPassword = to.Ptr(f.password)
		}
	}
	if f.osDiskName != "" {
		osd.Name = to.Ptr(f.osDiskName)
	}
	if f.osDiskSize > 0 {
		osd.DiskSizeGB = to.Ptr(int32(f.osDiskSize))
	}
	if f.osDES != "" {
		osd.ManagedDisk.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(f.osDES)}
	}
	if f.encType != "" || f.secureDES != "" {
		osd.ManagedDisk.SecurityProfile = &armcompute.VMDiskSecurityProfile{}
		if f.encType != "" {
			osd.ManagedDisk.SecurityProfile.SecurityEncryptionType = to.Ptr(armcompute.SecurityEncryptionTypes(f.encType))
		}
		if f.secureDES != "" {
			osd.ManagedDisk.SecurityProfile.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(f.secureDES)}
		}
	}
	if eph, err := boolOf("ephemeral-os-disk", f.ephemeral); err != nil {
		return armcompute.VirtualMachine{}, err
	} else if eph != nil && *eph {
		placement := armcompute.DiffDiskPlacementCacheDisk
		if f.placement != "" {
			placement = armcompute.DiffDiskPlacement(f.placement)
		}
		osd.DiffDiskSettings = &armcompute.DiffDiskSettings{Option: to.Ptr(armcompute.DiffDiskOptionsLocal), Placement: to.Ptr(placement)}
		osd.Caching, osd.DeleteOption = to.Ptr(armcompute.CachingTypesReadOnly), to.Ptr(armcompute.DiskDeleteOptionTypesDelete)
		osd.ManagedDisk.StorageAccountType = nil
	}
	props.StorageProfile.OSDisk = osd

	sets := splitList(f.dataDES)
	sizes := splitList(f.dataSizes)
	if len(sets) > 1 && len(sets) != len(sizes) {
		return armcompute.VirtualMachine{}, fmt.Errorf("--data-disk-encryption-sets: give one set for all data disks or one for each of the %d sizes", len(sizes))
	}
	var deleteOption *armcompute.DiskDeleteOptionTypes
	if f.dataDelete != "" {
		deleteOption = to.Ptr(armcompute.DiskDeleteOptionTypes(f.dataDelete))
	}
	lun := int32(0)
	for i, s := range sizes {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return armcompute.VirtualMachine{}, fmt.Errorf("--data-disk-sizes-gb: %q is not a size in GiB", s)
		}
		d := &armcompute.DataDisk{
			Lun: to.Ptr(lun), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesEmpty), DiskSizeGB: to.Ptr(int32(n)),
			DeleteOption: deleteOption, ManagedDisk: &armcompute.ManagedDiskParameters{StorageAccountType: sku},
		}
		if len(sets) > 0 {
			des := sets[0]
			if len(sets) > 1 {
				des = sets[i]
			}
			d.ManagedDisk.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(idOf("diskEncryptionSets", des))}
		}
		props.StorageProfile.DataDisks = append(props.StorageProfile.DataDisks, d)
		lun++
	}
	for _, disk := range splitList(f.attachData) {
		props.StorageProfile.DataDisks = append(props.StorageProfile.DataDisks, &armcompute.DataDisk{
			Lun: to.Ptr(lun), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach), DeleteOption: deleteOption,
			ManagedDisk: &armcompute.ManagedDiskParameters{ID: to.Ptr(idOf("disks", disk))},
		})
		lun++
	}
	return armcompute.VirtualMachine{Location: to.Ptr(f.location), Properties: props}, nil
}
