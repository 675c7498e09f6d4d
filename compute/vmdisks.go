package compute

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// This file is how a VM makes, attaches, detaches and deletes its disks,
// and the changes of a VM that do so.

// fill sets what a VM shows of its managed disk d.
func fill(vd *VMDisk, d Disk) {
	vd.ID, vd.Name, vd.SizeGB, vd.StorageAccountType = d.ID(), d.Name, (d.SizeBytes+gib-1)/gib, d.SKU
	vd.DESID, vd.SecureDESID = d.DESID, d.SecureDESID
	if d.OSType != "" {
		vd.OSType = d.OSType
	}
}

// diskByID returns the managed disk an id names.
func (s *Service) diskByID(ctx context.Context, id string) (Disk, error) {
	rid, err := arm.Parse(id)
	if err != nil || !strings.EqualFold(rid.Provider, Namespace) || len(rid.Types) != 1 || !strings.EqualFold(rid.Types[0], string(KindDisk)) {
		return Disk{}, invalid("'%s' is not the id of a managed disk.", clip(id))
	}
	return s.GetDisk(ctx, KindDisk, rid.Subscription, rid.ResourceGroup, rid.Names[0])
}

// vmChange records what a change of a VM did to disks and keys, so that a
// later failure can undo it.
type vmChange struct {
	created []Disk // disks made for the VM
	changed []Disk // existing disks as they were before the change
	guest   string // the guest state key stored
}

// undo reverts c, best effort: what it cannot revert is a disk left
// attached to nothing, or unused.
func (s *Service) undo(ctx context.Context, c vmChange) {
	for _, d := range c.changed {
		s.Store.UpdateDisk(ctx, d, nil) //nolint:errcheck // best effort, see undo
	}
	for _, d := range c.created {
		s.Store.DeleteDisk(ctx, d.Kind, d.SubscriptionID, d.ResourceGroup, d.Name) //nolint:errcheck // as above
		s.Content.Delete(ctx, d.BlobAccount())                                     //nolint:errcheck // as above; its key is gone
	}
	if c.guest != "" {
		s.Store.DeleteArtifactKey(ctx, c.guest) //nolint:errcheck // as above
	}
}

// defaultDiskName names a disk a VM makes as Azure does: the VM's name, a
// middle part and 32 hex digits, the VM's name shortened to keep within
// the 80 characters of a disk name.
func defaultDiskName(vm, middle string) string {
	id := strings.ReplaceAll(newGUID(), "-", "")
	if n := 80 - len(middle) - len(id); len(vm) > n {
		vm = vm[:n]
	}
	return vm + middle + id
}

// diskState is the state of a disk attached to a VM in power state p.
func diskState(p PowerState) DiskState {
	if p == Deallocated {
		return Reserved
	}
	return Attached
}

// addDisk makes or attaches the disk in for v, records it in c, and
// returns it as v shows it.
func (s *Service) addDisk(ctx context.Context, v VirtualMachine, in VMDisk, isOS bool, c *vmChange) (VMDisk, error) {
	out := in
	var d Disk
	if in.CreateOption == CreateAttach {
		var err error
		if d, err = s.attachable(ctx, v, in, isOS); err != nil {
			return VMDisk{}, err
		}
		c.changed = append(c.changed, d)
	} else {
		sp := DiskSpec{
			Location: v.Location, SKU: in.StorageAccountType, CreateOption: in.CreateOption, DiskSizeGB: in.SizeGB, OSType: in.OSType,
			SecurityType: v.diskSecurityType(in, isOS), SecureDESID: in.SecureDESID,
		}
		if !isOS {
			sp.OSType = ""
		}
		if in.DESID != "" {
			sp.DESID = &in.DESID
		}
		if v.SecurityType == SecurityTypeConfidentialVM || v.SecurityType == SecurityTypeTrustedLaunch {
			sp.HyperVGeneration = "V2"
		}
		name := in.Name
		if name == "" && isOS {
			name = defaultDiskName(v.Name, "_OsDisk_1_")
		} else if name == "" {
			name = defaultDiskName(v.Name, "_disk"+strconv.Itoa(in.Lun)+"_")
		}
		var err error
		if d, err = s.createDisk(ctx, KindDisk, v.SubscriptionID, v.ResourceGroup, name, sp); err != nil {
			return VMDisk{}, err
		}
		c.created = append(c.created, d)
	}
	d.State, d.ManagedBy = diskState(v.Power), v.ID()
	if err := s.Store.UpdateDisk(ctx, d, nil); err != nil {
		return VMDisk{}, err
	}
	fill(&out, d)
	return out, nil
}

// diskSecurityType is the securityProfile.securityType of a disk v makes.
func (v VirtualMachine) diskSecurityType(in VMDisk, isOS bool) string {
	switch {
	case !isOS:
		return ""
	case v.SecurityType == SecurityTypeTrustedLaunch:
		return securityTrustedLaunch
	case v.SecurityType != SecurityTypeConfidentialVM:
		return ""
	case in.SecurityEncryptionType == VMGuestStateOnly:
		return securityGuestStateOnly
	case in.SecureDESID != "":
		return SecurityConfidentialCMK
	}
	return securityConfidentialPlatform
}

// attachable returns the existing disk that in attaches to v: a managed
// disk of v's subscription and location, attached to nothing and not
// being uploaded or exported, whose encryption is what in names, if it
// names any.
func (s *Service) attachable(ctx context.Context, v VirtualMachine, in VMDisk, isOS bool) (Disk, error) {
	what := "storageProfile.osDisk"
	if !isOS {
		what = fmt.Sprintf("the data disk at lun %d", in.Lun)
	}
	if in.ID == "" {
		return Disk{}, invalid("managedDisk.id is required for %s with createOption Attach.", what)
	}
	d, err := s.diskByID(ctx, in.ID)
	if tresor.IsKind(err, tresor.NotFound) {
		return Disk{}, invalid("The disk %s that %s attaches does not exist.", clip(in.ID), what)
	}
	if err != nil {
		return Disk{}, err
	}
	confidential := strings.EqualFold(d.SecurityType, SecurityConfidentialCMK)
	switch {
	case !strings.EqualFold(d.SubscriptionID, v.SubscriptionID) || d.Location != v.Location:
		return Disk{}, invalid("The disk %s is in another subscription or location than VM %s.", d.Name, v.Name)
	case d.ManagedBy != "":
		return Disk{}, notAllowed("Disk %s is attached to VM %s.", d.Name, d.ManagedBy)
	case d.State != Unattached:
		return Disk{}, notAllowed("Disk %s is %s; a disk is attached once its upload or export has ended (endGetAccess).", d.Name, d.State)
	case in.DESID != "" && !strings.EqualFold(in.DESID, d.DESID), in.SecureDESID != "" && !strings.EqualFold(in.SecureDESID, d.SecureDESID):
		return Disk{}, invalid("Disk %s is protected by %s, not by the disk encryption set %s names; update the disk to move it.", d.Name, orPlatform(d.ProtectedBy()), what)
	case confidential && (!isOS || v.SecurityType != SecurityTypeConfidentialVM || in.SecurityEncryptionType != DiskWithVMGuestState):
		return Disk{}, invalid("Disk %s is a confidential VM disk; it can only be the OS disk of a confidential VM with securityEncryptionType DiskWithVMGuestState.", d.Name)
	}
	return d, nil
}

func orPlatform(des string) string {
	if des == "" {
		return "a platform-managed key"
	}
	return des
}

func (s *Service) updateVM(ctx context.Context, cur VirtualMachine, sp VMSpec) (VirtualMachine, error) {
	if sp.Location != "" && arm.NormalizeLocation(sp.Location) != cur.Location {
		return VirtualMachine{}, tresor.Errorf(tresor.Invalid, "The location of VM %s is %s; it cannot be moved to %s.", cur.Name, cur.Location, clip(sp.Location)).
			WithReason("LocationNotChangeable")
	}
	v := cur
	v.DataDisks = slices.Clone(cur.DataDisks)
	if sp.Tags != nil {
		if err := arm.ValidateTags(sp.Tags); err != nil {
			return VirtualMachine{}, err
		}
		v.Tags = maps.Clone(sp.Tags)
	}
	if sp.Size != "" {
		v.Size = sp.Size
	}
	if sp.UEFI != nil {
		v.UEFI = sp.UEFI
	}
	if sp.SecurityType != "" && !strings.EqualFold(sp.SecurityType, cur.SecurityType) &&
		!(cur.SecurityType == "" && strings.EqualFold(sp.SecurityType, SecurityTypeStandard)) {
		return VirtualMachine{}, propertyChange("securityProfile.securityType")
	}
	if o := sp.OSDisk; o != nil {
		switch {
		case o.ID != "" && !strings.EqualFold(o.ID, cur.OSDisk.ID):
			return VirtualMachine{}, propertyChange("storageProfile.osDisk.managedDisk.id")
		case o.Name != "" && !strings.EqualFold(o.Name, cur.OSDisk.Name):
			return VirtualMachine{}, propertyChange("storageProfile.osDisk.name")
		case o.DeleteOption != "" && cur.OSDisk.Ephemeral == "":
			opt, ok := oneOf(o.DeleteOption, DeleteOptionDetach, DeleteOptionDelete)
			if !ok {
				return VirtualMachine{}, invalid("The OS disk's deleteOption '%s' is not Delete or Detach.", clip(o.DeleteOption))
			}
			v.OSDisk.DeleteOption = opt
		}
	}
	if sp.DataDisks == nil {
		return v, s.Store.UpdateVirtualMachine(ctx, v)
	}
	kept := map[int]bool{}
	for _, d := range cur.DataDisks {
		kept[d.Lun] = true
	}
	want, err := checkDataDisks(sp.DataDisks, kept)
	if err != nil {
		return VirtualMachine{}, err
	}
	byLun := map[int]VMDisk{}
	for _, d := range want {
		byLun[d.Lun] = d
	}
	var c vmChange
	fail := func(err error) (VirtualMachine, error) {
		s.undo(ctx, c)
		return VirtualMachine{}, err
	}
	v.DataDisks = v.DataDisks[:0]
	for _, d := range cur.DataDisks {
		w, ok := byLun[d.Lun]
		delete(byLun, d.Lun)
		if ok && (w.ID != "" && !strings.EqualFold(w.ID, d.ID) || w.Name != "" && !strings.EqualFold(w.Name, d.Name)) {
			return fail(notAllowed("Lun %d of VM %s holds disk %s; detach it before putting another disk there.", d.Lun, cur.Name, d.Name))
		}
		if ok {
			if w.DeleteOption != "" {
				d.DeleteOption = w.DeleteOption
			}
			if w.Caching != "" {
				d.Caching = w.Caching
			}
			v.DataDisks = append(v.DataDisks, d)
			continue
		}
		if err := s.detach(ctx, v, d, &c); err != nil {
			return fail(err)
		}
	}
	var added []string
	for _, d := range want {
		if _, ok := byLun[d.Lun]; !ok {
			continue
		}
		a, err := s.addDisk(ctx, v, d, false, &c)
		if err != nil {
			return fail(err)
		}
		v.DataDisks, added = append(v.DataDisks, a), append(added, a.ID)
	}
	slices.SortFunc(v.DataDisks, func(a, b VMDisk) int { return a.Lun - b.Lun })
	if v.Power != Deallocated {
		// A disk attached to an allocated VM is in use at once.
		if err := s.boot(ctx, v, added); err != nil {
			return fail(err)
		}
	}
	if err := s.Store.UpdateVirtualMachine(ctx, v); err != nil {
		return fail(err)
	}
	return v, nil
}

// detach detaches the managed disk vd from v, recording its state in c.
// A disk that is gone, or attached elsewhere, is left alone.
func (s *Service) detach(ctx context.Context, v VirtualMachine, vd VMDisk, c *vmChange) error {
	d, err := s.diskByID(ctx, vd.ID)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	if err != nil || !strings.EqualFold(d.ManagedBy, v.ID()) {
		return err
	}
	if c != nil {
		c.changed = append(c.changed, d)
	}
	d.ManagedBy = ""
	if d.State == Attached || d.State == Reserved {
		d.State = Unattached
	}
	return s.Store.UpdateDisk(ctx, d, nil)
}

// DeleteVM deletes a VM and reports whether it existed. Its guest state
// key goes first. Each managed disk is then deleted if its deleteOption
// is Delete, else detached (Unattached, managed by nothing). A failure
// half-way leaves the VM, which deleting again finishes.
func (s *Service) DeleteVM(ctx context.Context, subscriptionID, group, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.Store.VirtualMachine(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if v.GuestStateDES != "" {
		if err := s.Store.DeleteArtifactKey(ctx, v.ID()+GuestStateSuffix); err != nil {
			return false, err
		}
	}
	for _, vd := range v.Disks() {
		if vd.DeleteOption != DeleteOptionDelete {
			if err := s.detach(ctx, v, vd, nil); err != nil {
				return false, err
			}
			continue
		}
		d, err := s.diskByID(ctx, vd.ID)
		if tresor.IsKind(err, tresor.NotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if d.ManagedBy != "" && !strings.EqualFold(d.ManagedBy, v.ID()) {
			continue // not the VM's disk any more
		}
		if err := s.Store.DeleteDisk(ctx, d.Kind, d.SubscriptionID, d.ResourceGroup, d.Name); err != nil {
			return false, err
		}
		if err := s.Content.Delete(ctx, d.BlobAccount()); err != nil {
			return false, err
		}
	}
	return true, s.Store.DeleteVirtualMachine(ctx, v.SubscriptionID, v.ResourceGroup, v.Name)
}

// deleteGroupVMs deletes a group's VMs.
func (s *Service) deleteGroupVMs(ctx context.Context, subscriptionID, group string) error {
	vs, err := s.Store.VirtualMachines(ctx, subscriptionID, group)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if _, err := s.DeleteVM(ctx, subscriptionID, group, v.Name); err != nil {
			return err
		}
	}
	return nil
}
