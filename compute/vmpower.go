package compute

import (
	"context"
	"fmt"
	"strings"

	"github.com/tresorkms/tresor"
)

// StartVM starts a VM. Every key it uses, its managed disks' and its guest
// state's, is unwrapped through the key service, bypassing caches, as a
// host opens them to boot: a disabled key, or one the DES's identity may
// no longer use, fails the start with Forbidden (KeyVaultEncryptionKeyNotFound
// or the key service's reason) naming the disk and the key, and the VM
// stays as it was. A running VM is left alone. Conflict
// (OperationNotAllowed) while one of its disks has an access URL.
func (s *Service) StartVM(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.GetVM(ctx, subscriptionID, group, name)
	if err != nil || v.Power == Running {
		return v, err
	}
	if err := s.checkGrants(ctx, v); err != nil {
		return VirtualMachine{}, err
	}
	if err := s.boot(ctx, v, v.artifacts()); err != nil {
		return VirtualMachine{}, err
	}
	return v, s.setPower(ctx, &v, Running)
}

// PowerOffVM stops a running VM (powerOff): its disks stay attached and
// its keys are not asked for. A VM that is not running is left alone.
func (s *Service) PowerOffVM(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.GetVM(ctx, subscriptionID, group, name)
	if err != nil || v.Power != Running {
		return v, err
	}
	return v, s.setPower(ctx, &v, Stopped)
}

// DeallocateVM deallocates a VM: its disks become Reserved, and so may be
// exported or have their encryption changed. Conflict
// (OperationNotAllowed) for a VM with an ephemeral OS disk, which Azure
// cannot deallocate either.
func (s *Service) DeallocateVM(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.GetVM(ctx, subscriptionID, group, name)
	if err != nil || v.Power == Deallocated {
		return v, err
	}
	if v.OSDisk.Ephemeral != "" {
		return VirtualMachine{}, notAllowed("VM %s has an ephemeral OS disk and cannot be deallocated; power it off (powerOff) or delete it.", v.Name)
	}
	return v, s.setPower(ctx, &v, Deallocated)
}

// RestartVM restarts a running VM, unwrapping its keys as StartVM does. If
// one does not open, the VM is left stopped, as a host that cannot boot it
// leaves it, and the error is StartVM's. Conflict (OperationNotAllowed)
// for a VM that is not running.
func (s *Service) RestartVM(ctx context.Context, subscriptionID, group, name string) (VirtualMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.GetVM(ctx, subscriptionID, group, name)
	if err != nil {
		return VirtualMachine{}, err
	}
	if v.Power != Running {
		return VirtualMachine{}, notAllowed("Operation 'restart' is not allowed on VM '%s' since the VM is %s; start it instead.", v.Name, v.Power)
	}
	if err := s.boot(ctx, v, v.artifacts()); err != nil {
		if perr := s.setPower(ctx, &v, Stopped); perr != nil {
			return VirtualMachine{}, perr
		}
		return VirtualMachine{}, err
	}
	v.PowerChanged = s.now()
	return v, s.Store.UpdateVirtualMachine(ctx, v)
}

// setPower moves v to power state p and its disks to the matching state.
// A disk with an access URL keeps its state until endGetAccess.
func (s *Service) setPower(ctx context.Context, v *VirtualMachine, p PowerState) error {
	for _, vd := range v.Disks() {
		d, err := s.diskByID(ctx, vd.ID)
		if tresor.IsKind(err, tresor.NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !strings.EqualFold(d.ManagedBy, v.ID()) || d.Grant != nil || d.State == diskState(p) {
			continue
		}
		d.State = diskState(p)
		if err := s.Store.UpdateDisk(ctx, d, nil); err != nil {
			return err
		}
	}
	v.Power, v.PowerChanged = p, s.now()
	return s.Store.UpdateVirtualMachine(ctx, *v)
}

// checkGrants refuses to start v while one of its disks has an access URL.
func (s *Service) checkGrants(ctx context.Context, v VirtualMachine) error {
	for _, vd := range v.Disks() {
		d, err := s.diskByID(ctx, vd.ID)
		if tresor.IsKind(err, tresor.NotFound) {
			return notAllowed("Disk %s of VM %s does not exist; detach it before starting the VM.", vd.Name, v.Name)
		}
		if err != nil {
			return err
		}
		if d.Grant != nil {
			return notAllowed("Disk %s of VM %s has an access URL; end it (endGetAccess) before starting the VM.", d.Name, v.Name)
		}
	}
	return nil
}

// boot unwraps the keys of the artifacts ids of v as a host does to run
// it, bypassing the cache.
func (s *Service) boot(ctx context.Context, v VirtualMachine, ids []string) error {
	for _, id := range ids {
		if _, err := s.artifactContentKey(ctx, id, false); err != nil {
			return s.bootError(ctx, v, id, err)
		}
	}
	return nil
}

// bootError names the artifact of v whose key did not open, and the key.
func (s *Service) bootError(ctx context.Context, v VirtualMachine, id string, err error) error {
	if !tresor.IsKind(err, tresor.Forbidden) {
		return err
	}
	what := "the guest state"
	for _, d := range v.Disks() {
		if strings.EqualFold(d.ID, id) {
			what = "disk " + d.Name
		}
	}
	key, set := "(unknown)", "(unknown)"
	if a, aerr := s.Store.ArtifactKey(ctx, id); aerr == nil && a.DES != "" {
		if d, derr := s.desByID(ctx, a.DES); derr == nil {
			set = d.Name
			if w, ok := d.generation(a.Gen); ok {
				key = w.KeyID
			}
		}
	}
	reason := tresor.ReasonOf(err)
	if reason == "" {
		reason = ReasonKeyNotUnwrapped
	}
	return &tresor.Error{Kind: tresor.Forbidden, Reason: reason, Err: err,
		Message: fmt.Sprintf("VM %s cannot start: the key %s of disk encryption set %s does not unwrap the key of %s. Enable the key and keep it accessible to the set's identity, then start the VM again.",
			v.Name, key, set, what)}
}

// checkConfidentialVMs applies Azure's rules for changing the key of a
// confidential VM DES: if one VM on it is not stopped, none may receive
// the new key, so every VM whose guest state or disk it protects must be
// stopped or deallocated; and key rotation is not supported for ephemeral
// OS disks, so no confidential VM with one may use it. Conflict
// (OperationNotAllowed) otherwise. It asks the key service nothing.
func (s *Service) checkConfidentialVMs(ctx context.Context, d DiskEncryptionSet) error {
	vs, err := s.Store.VirtualMachines(ctx, d.SubscriptionID, "")
	if err != nil {
		return err
	}
	var ephemeral, running []string
	for _, v := range vs {
		switch {
		case !v.uses(d.ID()):
		case v.OSDisk.Ephemeral != "":
			ephemeral = append(ephemeral, v.Name)
		case v.Power == Running:
			running = append(running, v.Name)
		}
	}
	if len(ephemeral) > 0 {
		return notAllowed("Key rotation is not supported for confidential VMs with ephemeral OS disks, and %s on disk encryption set %s have one. Delete those VMs, or recreate them on a separate disk encryption set, before changing the key.",
			strings.Join(ephemeral, ", "), d.Name)
	}
	if len(running) > 0 {
		return notAllowed("All confidential VMs associated with disk encryption set %s must be stopped before the key can be changed. Running: %s.",
			d.Name, strings.Join(running, ", "))
	}
	return nil
}
