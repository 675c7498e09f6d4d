package compute

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// A VirtualMachine is a Microsoft.Compute/virtualMachines resource. tresor
// runs no guest: a VM is its disks, the guest state of a confidential VM,
// and a power state whose changes use their keys as Azure's hosts do.
type VirtualMachine struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	Location       string
	Tags           map[string]string
	VMID           string // a GUID
	Size           string // hardwareProfile.vmSize, recorded and not checked

	// SecurityType is securityProfile.securityType: ConfidentialVM,
	// TrustedLaunch, Standard or "".
	SecurityType string
	UEFI         *UEFISettings
	Image        ImageReference
	// OSProfile is osProfile as JSON, without adminPassword and
	// customData, which tresor never stores; echoed as it is.
	OSProfile []byte

	OSDisk    VMDisk
	DataDisks []VMDisk // ordered by lun
	// GuestStateDES is the id of the DES that protects a confidential VM's
	// guest state, whose ArtifactKey is the VM's id and GuestStateSuffix;
	// "" for other VMs.
	GuestStateDES string

	Power             PowerState
	PowerChanged      time.Time
	ProvisioningState string
	Created           time.Time
}

// ID returns the VM's ARM id.
func (v VirtualMachine) ID() string {
	return "/subscriptions/" + v.SubscriptionID + "/resourceGroups/" + v.ResourceGroup +
		"/providers/" + Namespace + "/virtualMachines/" + v.Name
}

// Disks returns the VM's managed disks, the OS disk first; an ephemeral
// OS disk is not one.
func (v VirtualMachine) Disks() []VMDisk {
	var out []VMDisk
	if v.OSDisk.ID != "" {
		out = append(out, v.OSDisk)
	}
	return append(out, v.DataDisks...)
}

// artifacts returns the ids of the artifacts whose keys the VM uses: its
// managed disks and its guest state.
func (v VirtualMachine) artifacts() []string {
	var out []string
	for _, d := range v.Disks() {
		out = append(out, d.ID)
	}
	if v.GuestStateDES != "" {
		out = append(out, v.ID()+GuestStateSuffix)
	}
	return out
}

// uses reports whether the DES des protects the VM's guest state or one of
// its disks.
func (v VirtualMachine) uses(des string) bool {
	if strings.EqualFold(v.GuestStateDES, des) {
		return true
	}
	for _, d := range v.Disks() {
		if strings.EqualFold(d.DESID, des) || strings.EqualFold(d.SecureDESID, des) {
			return true
		}
	}
	return false
}

// UEFISettings is securityProfile.uefiSettings; nil fields are unset.
type UEFISettings struct {
	SecureBoot *bool
	VTPM       *bool
}

// ImageReference is storageProfile.imageReference: an image's ARM id or
// its publisher, offer, sku and version. tresor has no images; it records
// the reference and makes an empty OS disk.
type ImageReference struct {
	ID        string
	Publisher string
	Offer     string
	SKU       string
	Version   string
}

func (r ImageReference) empty() bool { return r == ImageReference{} }

// osType guesses an image's OS from its names, as tresor has no image to
// ask: Windows if they say so, else Linux.
func (r ImageReference) osType() string {
	if strings.Contains(strings.ToLower(r.ID+r.Publisher+r.Offer+r.SKU), "windows") {
		return "Windows"
	}
	return "Linux"
}

// A VMDisk is a disk as a VM names it: its OS disk or one of its data
// disks. In a request, ID, DESID and SecureDESID are managedDisk's; in a
// VM, ID is the managed disk's id and the encryption is the disk's.
type VMDisk struct {
	Lun          int    // data disks only
	Name         string // the managed disk's name
	CreateOption string // FromImage (OS disk), Empty or Attach
	SizeGB       int64
	OSType       string // OS disk only
	Caching      string
	// DeleteOption is what deleting the VM does to the disk: Delete, or
	// Detach (the default, as in Azure's API).
	DeleteOption string

	ID                 string // managedDisk.id; "" for an ephemeral OS disk
	StorageAccountType string
	DESID              string // managedDisk.diskEncryptionSet.id
	// SecurityEncryptionType (DiskWithVMGuestState or VMGuestStateOnly)
	// and SecureDESID are managedDisk.securityProfile, a confidential VM's
	// OS disk only.
	SecurityEncryptionType string
	SecureDESID            string
	// Ephemeral is the placement of an ephemeral OS disk (diffDiskSettings
	// with option Local): CacheDisk, ResourceDisk or NvmeDisk; "" for a
	// managed disk.
	Ephemeral string
}

// PowerState is a VM's power state, spelled as its instance view's
// PowerState code.
type PowerState string

// The power states. tresor's operations complete at once, so the
// transitional ones (starting, stopping, deallocating) never show.
const (
	Running     PowerState = "running"
	Stopped     PowerState = "stopped" // powered off, still allocated: disks Attached
	Deallocated PowerState = "deallocated"
)

// The VM security types and OS disk security encryption types, as Azure
// spells them.
const (
	SecurityTypeConfidentialVM = "ConfidentialVM"
	SecurityTypeTrustedLaunch  = "TrustedLaunch"
	SecurityTypeStandard       = "Standard"

	DiskWithVMGuestState = "DiskWithVMGuestState"
	VMGuestStateOnly     = "VMGuestStateOnly"
)

// The disk security types of confidential VM OS disks without a
// customer-managed key, and of a trusted launch VM's OS disk.
const (
	securityConfidentialPlatform = "ConfidentialVM_DiskEncryptedWithPlatformKey"
	securityGuestStateOnly       = "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey"
	securityTrustedLaunch        = "TrustedLaunch"
)

// The delete options of a VM's disks, and the create option of an
// existing disk.
const (
	DeleteOptionDelete = "Delete"
	DeleteOptionDetach = "Detach"
	CreateAttach       = "Attach"
)

// Sizes of disks a VM makes. Azure's OS disk is the image's size; tresor
// has no image and uses 30 GiB, the size of Azure's common Linux images.
const (
	defaultOSDiskGB = 30
	maxLun          = 63
)

// ReasonPropertyChangeNotAllowed: a PUT or PATCH changes what is set when
// a VM is created.
const ReasonPropertyChangeNotAllowed = "PropertyChangeNotAllowed"

// VMStore persists virtual machines. Names are unique in a resource group
// and compare case-insensitively. NotFound for an absent VM, Conflict for
// a taken name.
type VMStore interface {
	CreateVirtualMachine(ctx context.Context, v VirtualMachine) error
	// UpdateVirtualMachine replaces the VM v names.
	UpdateVirtualMachine(ctx context.Context, v VirtualMachine) error
	VirtualMachine(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error)
	// VirtualMachines lists a subscription's VMs, or a group's if group is
	// not empty, ordered by group and name.
	VirtualMachines(ctx context.Context, subscriptionID, group string) ([]VirtualMachine, error)
	DeleteVirtualMachine(ctx context.Context, subscriptionID, group, name string) error
}

// VMSpec is what a request asks of a VM. In an update, zero fields keep
// what the VM has.
type VMSpec struct {
	Location     string // required on create; cannot change
	Tags         map[string]string
	Size         string
	SecurityType string
	UEFI         *UEFISettings
	Image        *ImageReference
	// OSProfile is osProfile as JSON without adminPassword and customData.
	OSProfile []byte
	OSDisk    *VMDisk // required on create
	// DataDisks are the data disks the VM is to have, by lun; nil keeps
	// them.
	DataDisks []VMDisk
}

var vmNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func vmNotFound(group, name string) error {
	return tresor.Errorf(tresor.NotFound, "The Resource '%s/virtualMachines/%s' under resource group '%s' was not found.", Namespace, clip(name), clip(group)).
		WithReason(arm.ReasonResourceNotFound)
}

func propertyChange(property string) error {
	return tresor.Errorf(tresor.Conflict, "Changing property '%s' is not allowed.", property).WithReason(ReasonPropertyChangeNotAllowed)
}

// oneOf returns the value of values that s spells in any case; ok is false
// if none does.
func oneOf(s string, values ...string) (string, bool) {
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return "", false
}

// GetVM returns a VM, its disks' sizes and encryption as the disks now
// have them. NotFound (ResourceNotFound) if there is none.
func (s *Service) GetVM(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error) {
	v, err := s.Store.VirtualMachine(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return VirtualMachine{}, vmNotFound(group, name)
	}
	if err != nil {
		return VirtualMachine{}, err
	}
	return v, s.refreshVMDisks(ctx, &v)
}

// ListVMs lists a subscription's VMs, or a group's (NotFound if that
// group does not exist), as GetVM returns them.
func (s *Service) ListVMs(ctx context.Context, subscriptionID, group string) ([]VirtualMachine, error) {
	if group != "" {
		if _, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group); err != nil {
			return nil, err
		}
	}
	vs, err := s.Store.VirtualMachines(ctx, subscriptionID, group)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if err := s.refreshVMDisks(ctx, &vs[i]); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// refreshVMDisks sets the size, SKU and encryption of v's managed disks from the
// disks, which may have changed since the VM recorded them (a disk moved
// to another DES while its VM was deallocated).
func (s *Service) refreshVMDisks(ctx context.Context, v *VirtualMachine) error {
	set := func(vd *VMDisk) error {
		if vd.ID == "" {
			return nil
		}
		d, err := s.diskByID(ctx, vd.ID)
		if tresor.IsKind(err, tresor.NotFound) || tresor.IsKind(err, tresor.Invalid) {
			return nil // deleted behind the VM's back: show what the VM recorded
		}
		if err != nil {
			return err
		}
		fill(vd, d)
		return nil
	}
	if err := set(&v.OSDisk); err != nil {
		return err
	}
	for i := range v.DataDisks {
		if err := set(&v.DataDisks[i]); err != nil {
			return err
		}
	}
	return nil
}

// CreateOrUpdateVM creates the VM name in the group, or updates it as
// UpdateVM does, and reports whether it created it.
//
// A new VM's OS disk (FromImage or Empty) and Empty data disks are made as
// managed disks on the DESs the request names, and existing Unattached
// disks are attached (Attach; Conflict, OperationNotAllowed, if attached
// elsewhere). A confidential VM whose OS disk names a DES for its
// DiskWithVMGuestState gets a guest state whose data key that DES wraps,
// as it does the OS disk's, so a rotation of the DES moves both. An
// ephemeral OS disk (diffDiskSettings Local) is no managed disk; a
// confidential VM with one still keeps its guest state on the DES.
//
// The VM is created running, so every key it uses is unwrapped, bypassing
// caches, as starting it does: a key that does not open fails the create
// (Forbidden) and leaves nothing behind.
func (s *Service) CreateOrUpdateVM(ctx context.Context, subscriptionID, group, name string, sp VMSpec) (VirtualMachine, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.GetVM(ctx, subscriptionID, group, name)
	switch {
	case err == nil:
		v, err := s.updateVM(ctx, cur, sp)
		return v, false, err
	case !tresor.IsKind(err, tresor.NotFound):
		return VirtualMachine{}, false, err
	}
	v, err := s.createVM(ctx, subscriptionID, group, name, sp)
	return v, err == nil, err
}

// UpdateVM applies sp to a VM: tags, size, UEFI settings, the delete
// option of its OS disk, and its data disks (a lun not in sp.DataDisks is
// detached, a new one created or attached). What is set at creation (the
// security type, the OS disk) cannot change: Conflict
// (PropertyChangeNotAllowed). The image and OS profile of a request are
// ignored, as Azure takes them at creation only.
func (s *Service) UpdateVM(ctx context.Context, subscriptionID, group, name string, sp VMSpec) (VirtualMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.GetVM(ctx, subscriptionID, group, name)
	if err != nil {
		return VirtualMachine{}, err
	}
	return s.updateVM(ctx, cur, sp)
}

func (s *Service) createVM(ctx context.Context, subscriptionID, group, name string, sp VMSpec) (VirtualMachine, error) {
	g, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group)
	if err != nil {
		return VirtualMachine{}, err
	}
	if !vmNamePattern.MatchString(name) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, "-") {
		return VirtualMachine{}, invalid("The VM name '%s' is invalid: it must be 1 to 64 letters, digits, underscores, periods and hyphens, starting with a letter or digit and not ending with a period or hyphen.", clip(name))
	}
	loc, err := arm.ValidateLocation(sp.Location)
	if err != nil {
		return VirtualMachine{}, err
	}
	if sp.Tags != nil {
		if err := arm.ValidateTags(sp.Tags); err != nil {
			return VirtualMachine{}, err
		}
	}
	now := s.now()
	v := VirtualMachine{
		SubscriptionID: g.SubscriptionID, ResourceGroup: g.Name, Name: name, Location: loc, Tags: maps.Clone(sp.Tags),
		VMID: newGUID(), Size: sp.Size, UEFI: sp.UEFI, OSProfile: sp.OSProfile,
		Power: Running, PowerChanged: now, ProvisioningState: "Succeeded", Created: now,
	}
	if sp.Image != nil {
		v.Image = *sp.Image
	}
	if sp.SecurityType != "" {
		var ok bool
		if v.SecurityType, ok = oneOf(sp.SecurityType, SecurityTypeConfidentialVM, SecurityTypeTrustedLaunch, SecurityTypeStandard); !ok {
			return VirtualMachine{}, invalid("The securityType '%s' is not ConfidentialVM, TrustedLaunch or Standard.", clip(sp.SecurityType))
		}
	}
	if sp.OSDisk == nil {
		return VirtualMachine{}, invalid("properties.storageProfile.osDisk is required.")
	}
	osd, err := v.checkOSDisk(*sp.OSDisk)
	if err != nil {
		return VirtualMachine{}, err
	}
	data, err := checkDataDisks(sp.DataDisks, nil)
	if err != nil {
		return VirtualMachine{}, err
	}
	// The guest state's DES is checked before anything is made.
	var guest *DiskEncryptionSet
	if v.SecurityType == SecurityTypeConfidentialVM && osd.SecureDESID != "" {
		des, err := s.guestStateDES(ctx, v, osd.SecureDESID)
		if err != nil {
			return VirtualMachine{}, err
		}
		guest = &des
	}

	var c vmChange
	fail := func(err error) (VirtualMachine, error) {
		s.undo(ctx, c)
		return VirtualMachine{}, err
	}
	if osd.Ephemeral == "" {
		if osd, err = s.addDisk(ctx, v, osd, true, &c); err != nil {
			return fail(err)
		}
		if guest == nil && osd.SecureDESID != "" {
			// An attached confidential disk brings its DES.
			des, err := s.guestStateDES(ctx, v, osd.SecureDESID)
			if err != nil {
				return fail(err)
			}
			guest = &des
		}
	}
	v.OSDisk = osd
	for _, d := range data {
		added, err := s.addDisk(ctx, v, d, false, &c)
		if err != nil {
			return fail(err)
		}
		v.DataDisks = append(v.DataDisks, added)
	}
	if guest != nil {
		key, err := s.intermediate(ctx, guest)
		if err != nil {
			return fail(err)
		}
		k, err := s.newArtifactKey(v.ID()+GuestStateSuffix, guest, key, false)
		if err != nil {
			return fail(err)
		}
		if err := s.Store.PutArtifactKey(ctx, k); err != nil {
			return fail(err)
		}
		c.guest, v.GuestStateDES = k.ResourceID, guest.ID()
	}
	if err := s.boot(ctx, v, v.artifacts()); err != nil {
		return fail(err)
	}
	if err := s.Store.CreateVirtualMachine(ctx, v); err != nil {
		if tresor.IsKind(err, tresor.Conflict) {
			err = tresor.Errorf(tresor.Conflict, "The VM %s exists.", name)
		}
		return fail(err)
	}
	return v, nil
}

// checkOSDisk checks a requested OS disk against the VM's security type
// and fills in its defaults.
func (v VirtualMachine) checkOSDisk(in VMDisk) (VMDisk, error) {
	d := in
	opt, ok := oneOf(in.CreateOption, CreateFromImage, CreateEmpty, CreateAttach)
	if !ok {
		return VMDisk{}, invalid("The OS disk's createOption '%s' is not supported; tresor takes FromImage, Empty or Attach.", clip(in.CreateOption))
	}
	d.CreateOption = opt
	if d.DeleteOption, ok = oneOf(in.DeleteOption, DeleteOptionDetach, DeleteOptionDelete); !ok && in.DeleteOption != "" {
		return VMDisk{}, invalid("The OS disk's deleteOption '%s' is not Delete or Detach.", clip(in.DeleteOption))
	}
	if d.DeleteOption == "" {
		d.DeleteOption = DeleteOptionDetach
	}
	if in.SecurityEncryptionType != "" {
		if d.SecurityEncryptionType, ok = oneOf(in.SecurityEncryptionType, DiskWithVMGuestState, VMGuestStateOnly); !ok {
			return VMDisk{}, invalid("The securityEncryptionType '%s' is not supported; tresor takes DiskWithVMGuestState or VMGuestStateOnly.", clip(in.SecurityEncryptionType))
		}
	}
	confidential := v.SecurityType == SecurityTypeConfidentialVM
	switch {
	case confidential && d.SecurityEncryptionType == "":
		return VMDisk{}, invalid("A confidential VM needs storageProfile.osDisk.managedDisk.securityProfile.securityEncryptionType (DiskWithVMGuestState or VMGuestStateOnly).")
	case !confidential && d.SecurityEncryptionType != "":
		return VMDisk{}, invalid("securityEncryptionType is for confidential VMs (securityProfile.securityType ConfidentialVM).")
	case d.SecureDESID != "" && d.SecurityEncryptionType != DiskWithVMGuestState:
		return VMDisk{}, invalid("A customer-managed key for a confidential VM (managedDisk.securityProfile.diskEncryptionSet) needs securityEncryptionType DiskWithVMGuestState.")
	}
	if opt == CreateFromImage && v.Image.empty() {
		return VMDisk{}, invalid("properties.storageProfile.imageReference is required for an OS disk created FromImage.")
	}
	if d.OSType == "" && opt != CreateAttach {
		d.OSType = v.Image.osType()
	}
	if d.SizeGB == 0 && opt != CreateAttach {
		d.SizeGB = defaultOSDiskGB
	}
	if d.Ephemeral == "" {
		return d, nil
	}
	if d.Ephemeral, ok = oneOf(in.Ephemeral, "CacheDisk", "ResourceDisk", "NvmeDisk"); !ok {
		return VMDisk{}, invalid("The diffDiskSettings placement '%s' is not CacheDisk, ResourceDisk or NvmeDisk.", clip(in.Ephemeral))
	}
	switch {
	case opt != CreateFromImage:
		return VMDisk{}, invalid("An ephemeral OS disk (diffDiskSettings) is created FromImage.")
	case d.ID != "" || d.DESID != "":
		return VMDisk{}, invalid("An ephemeral OS disk is no managed disk: it takes neither managedDisk.id nor managedDisk.diskEncryptionSet.")
	case in.DeleteOption != "" && d.DeleteOption != DeleteOptionDelete:
		return VMDisk{}, invalid("An ephemeral OS disk is deleted with its VM (deleteOption Delete).")
	}
	d.DeleteOption = DeleteOptionDelete
	if d.Name == "" {
		d.Name = defaultDiskName(v.Name, "_OsDisk_1_")
	}
	if d.Caching == "" {
		d.Caching = "ReadOnly"
	}
	return d, nil
}

// checkDataDisks checks requested data disks and orders them by lun. The
// disks at the luns in kept are those a VM has, which an update keeps
// whatever the request says of them but their delete option and caching.
func checkDataDisks(in []VMDisk, kept map[int]bool) ([]VMDisk, error) {
	out := slices.Clone(in)
	seen := map[int]bool{}
	for i, d := range out {
		if d.Lun < 0 || d.Lun > maxLun || seen[d.Lun] {
			return nil, invalid("Each data disk needs its own lun between 0 and %d; lun %d is repeated or out of range.", maxLun, d.Lun)
		}
		seen[d.Lun] = true
		if kept[d.Lun] {
			if out[i].DeleteOption != "" {
				var ok bool
				if out[i].DeleteOption, ok = oneOf(d.DeleteOption, DeleteOptionDetach, DeleteOptionDelete); !ok {
					return nil, invalid("The deleteOption '%s' of the data disk at lun %d is not Delete or Detach.", clip(d.DeleteOption), d.Lun)
				}
			}
			continue
		}
		opt, ok := oneOf(d.CreateOption, CreateEmpty, CreateAttach)
		if !ok {
			return nil, invalid("The createOption '%s' of the data disk at lun %d is not supported; tresor creates data disks Empty or attaches them (Attach).", clip(d.CreateOption), d.Lun)
		}
		if d.SecurityEncryptionType != "" || d.SecureDESID != "" || d.Ephemeral != "" {
			return nil, invalid("The data disk at lun %d has a security profile or diffDiskSettings; those are for the OS disk.", d.Lun)
		}
		out[i].CreateOption = opt
		if out[i].DeleteOption, ok = oneOf(d.DeleteOption, DeleteOptionDetach, DeleteOptionDelete); !ok && d.DeleteOption != "" {
			return nil, invalid("The deleteOption '%s' of the data disk at lun %d is not Delete or Detach.", clip(d.DeleteOption), d.Lun)
		}
		if out[i].DeleteOption == "" {
			out[i].DeleteOption = DeleteOptionDetach
		}
	}
	slices.SortFunc(out, func(a, b VMDisk) int { return a.Lun - b.Lun })
	return out, nil
}

// guestStateDES returns the DES that is to protect a confidential VM's
// guest state: a confidential VM DES of the VM's subscription and
// location.
func (s *Service) guestStateDES(ctx context.Context, v VirtualMachine, id string) (DiskEncryptionSet, error) {
	des, err := s.desByID(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return DiskEncryptionSet{}, invalid("The disk encryption set %s does not exist.", clip(id))
	}
	if err != nil {
		return DiskEncryptionSet{}, err
	}
	switch {
	case !strings.EqualFold(des.SubscriptionID, v.SubscriptionID):
		return DiskEncryptionSet{}, invalid("The disk encryption set %s is in another subscription; a VM and its set must share one.", clip(id))
	case des.Location != v.Location:
		return DiskEncryptionSet{}, invalid("The disk encryption set %s is in %s; a VM in %s cannot use it.", des.Name, des.Location, v.Location)
	case des.EncryptionType != ConfidentialVMEncryptedWithCustomerKey:
		return DiskEncryptionSet{}, invalid("The disk encryption set %s is of type %s; a confidential VM's guest state needs one of type %s.", des.Name, des.EncryptionType, ConfidentialVMEncryptedWithCustomerKey)
	}
	return des, nil
}
