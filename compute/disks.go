package compute

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// Content is the Blob data plane as disks use it: each disk's content is
// a page blob (BlobContainer/BlobName) in the disk's own account, which
// the data plane encrypts under the key that ContentKey gives.
type Content interface {
	// Create makes the empty content of size bytes of account.
	Create(ctx context.Context, account string, size int64) error
	// Copy copies the written pages of account from into account to,
	// which Create made at least as large.
	Copy(ctx context.Context, from, to string) error
	// Delete removes the content of account.
	Delete(ctx context.Context, account string) error
	// AccessURL returns the URL of account's blob with a SAS signed with
	// key that allows reading, and writing if write, until expiry.
	AccessURL(account string, key []byte, write bool, expiry time.Time) string
}

// DiskSpec is what a request asks of a disk or snapshot. In an update,
// zero fields keep what the disk has.
type DiskSpec struct {
	Location         string
	Tags             map[string]string
	SKU              string
	CreateOption     string
	SourceResourceID string
	DiskSizeGB       int64
	UploadSizeBytes  int64
	OSType           string
	HyperVGeneration string
	EncryptionType   DiskEncryptionType // "" takes the DES's, or PlatformKey without one
	// DESID is encryption.diskEncryptionSetId; in an update nil keeps it
	// and "" moves the disk to a platform-managed key.
	DESID        *string
	SecurityType string
	SecureDESID  string
}

// Limits of disk sizes. A disk's content is a page blob, so tresor's
// largest disk is the largest page blob, 8 TiB (Azure's reach 32 TiB).
const (
	minUploadBytes = 20<<20 + 512
	maxDiskBytes   = 8 << 40
	gib            = 1 << 30
)

// The Azure error codes of disks that clients may branch on.
const (
	ReasonOperationNotAllowed = "OperationNotAllowed"
	ReasonInvalidDESID        = "InvalidParameter"
)

var diskNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$`)

func diskNotFound(kind Kind, group, name string) error {
	return tresor.Errorf(tresor.NotFound, "The Resource '%s/%s/%s' under resource group '%s' was not found.", Namespace, kind, clip(name), clip(group)).
		WithReason(arm.ReasonResourceNotFound)
}

func notAllowed(format string, args ...any) error {
	return tresor.Errorf(tresor.Conflict, format, args...).WithReason(ReasonOperationNotAllowed)
}

// GetDisk returns a disk or snapshot.
func (s *Service) GetDisk(ctx context.Context, kind Kind, subscriptionID, group, name string) (Disk, error) {
	d, err := s.Store.Disk(ctx, kind, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return Disk{}, diskNotFound(kind, group, name)
	}
	return d, err
}

// ListDisks lists a subscription's disks or snapshots, or a group's.
func (s *Service) ListDisks(ctx context.Context, kind Kind, subscriptionID, group string) ([]Disk, error) {
	if group != "" {
		if _, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group); err != nil {
			return nil, err
		}
	}
	return s.Store.Disks(ctx, kind, subscriptionID, group)
}

// CreateOrUpdateDisk creates the disk or snapshot name in the group, or
// updates it as UpdateDisk does, and reports whether it created it.
//
// A new disk gets a random data key. On a DES it is wrapped under the
// DES's intermediate key (which asks the key service only if the DES's
// key is still pending); without one it is sealed under the root key.
// Its content is created empty (Empty, Upload) or copied from its source
// (Copy), re-encrypted under the new key.
func (s *Service) CreateOrUpdateDisk(ctx context.Context, kind Kind, subscriptionID, group, name string, sp DiskSpec) (Disk, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Store.Disk(ctx, kind, subscriptionID, group, name)
	switch {
	case err == nil:
		d, err := s.updateDisk(ctx, cur, sp)
		return d, false, err
	case !tresor.IsKind(err, tresor.NotFound):
		return Disk{}, false, err
	}
	d, err := s.createDisk(ctx, kind, subscriptionID, group, name, sp)
	return d, err == nil, err
}

func (s *Service) createDisk(ctx context.Context, kind Kind, subscriptionID, group, name string, sp DiskSpec) (Disk, error) {
	g, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group)
	if err != nil {
		return Disk{}, err
	}
	if !diskNamePattern.MatchString(name) || strings.HasSuffix(name, ".") {
		return Disk{}, invalid("The name '%s' is invalid: it must be 1 to 80 letters, digits, underscores, periods and hyphens, starting with a letter, digit or underscore and not ending with a period.", clip(name))
	}
	loc, err := arm.ValidateLocation(sp.Location)
	if err != nil {
		return Disk{}, err
	}
	if sp.Tags != nil {
		if err := arm.ValidateTags(sp.Tags); err != nil {
			return Disk{}, err
		}
	}
	d := Disk{
		Kind: kind, SubscriptionID: g.SubscriptionID, ResourceGroup: g.Name, Name: name, Location: loc,
		Tags: maps.Clone(sp.Tags), UniqueID: newGUID(), SKU: sp.SKU, OSType: sp.OSType, HyperVGeneration: sp.HyperVGeneration,
		State: Unattached, ProvisioningState: "Succeeded", Created: s.now(),
	}
	if d.SKU == "" {
		d.SKU = "Standard_LRS"
	}
	var src *Disk
	switch opt := strings.ToLower(sp.CreateOption); opt {
	case "empty", "fromimage":
		d.CreateOption = CreateEmpty
		if opt == "fromimage" {
			d.CreateOption = CreateFromImage
		}
		if kind == KindSnapshot {
			return Disk{}, invalid("A snapshot is created from a disk or snapshot (createOption Copy) or uploaded (Upload).")
		}
		if sp.DiskSizeGB <= 0 || sp.DiskSizeGB > maxDiskBytes/gib {
			return Disk{}, invalid("diskSizeGB must be between 1 and %d for createOption %s.", maxDiskBytes/gib, d.CreateOption)
		}
		d.SizeBytes = sp.DiskSizeGB * gib
	case "upload":
		d.CreateOption, d.State = CreateUpload, ReadyToUpload
		n := sp.UploadSizeBytes
		if n < minUploadBytes || n > maxDiskBytes || n%512 != 0 {
			return Disk{}, invalid("uploadSizeBytes must be a multiple of 512 between %d (20 MiB and the 512-byte VHD footer) and %d.", int64(minUploadBytes), int64(maxDiskBytes))
		}
		d.SizeBytes = n
	case "copy":
		d.CreateOption = CreateCopy
		sd, err := s.source(ctx, subscriptionID, sp.SourceResourceID)
		if err != nil {
			return Disk{}, err
		}
		if sd.State == ReadyToUpload || sd.State == ActiveUpload {
			return Disk{}, notAllowed("The %s %s is being uploaded; it cannot be copied until its upload ends (endGetAccess).", strings.TrimSuffix(string(sd.Kind), "s"), sd.Name)
		}
		src = &sd
		d.SourceResourceID, d.SizeBytes = sd.ID(), sd.SizeBytes
		if d.OSType == "" {
			d.OSType = sd.OSType
		}
		if d.HyperVGeneration == "" {
			d.HyperVGeneration = sd.HyperVGeneration
		}
		if sp.DiskSizeGB < 0 || sp.DiskSizeGB > maxDiskBytes/gib {
			return Disk{}, invalid("diskSizeGB must be between 1 and %d.", maxDiskBytes/gib)
		}
		if sp.DiskSizeGB*gib > d.SizeBytes {
			d.SizeBytes = sp.DiskSizeGB * gib
		}
		if sp.DESID == nil && sp.EncryptionType == "" && sp.SecureDESID == "" {
			// A copy keeps its source's protection unless told otherwise.
			sp.DESID, sp.EncryptionType = &sd.DESID, sd.EncryptionType
			sp.SecurityType, sp.SecureDESID = sd.SecurityType, sd.SecureDESID
		}
	case "":
		return Disk{}, invalid("properties.creationData.createOption is required.")
	default:
		return Disk{}, invalid("The createOption '%s' is not supported; tresor creates disks and snapshots with Empty, Upload or Copy.", clip(sp.CreateOption))
	}
	des, err := s.applyEncryption(ctx, &d, sp)
	if err != nil {
		return Disk{}, err
	}
	var intermediate []byte
	if des != nil {
		if intermediate, err = s.intermediate(ctx, des); err != nil {
			return Disk{}, err
		}
	}
	key, err := s.newArtifactKey(d.ID(), des, intermediate, d.EncryptionType == PlatformAndCustomerKeys)
	if err != nil {
		return Disk{}, err
	}
	if err := s.Store.CreateDisk(ctx, d, key); err != nil {
		if tresor.IsKind(err, tresor.Conflict) {
			return Disk{}, tresor.Errorf(tresor.Conflict, "The %s %s exists.", strings.TrimSuffix(string(kind), "s"), name)
		}
		return Disk{}, err
	}
	err = s.Content.Create(ctx, d.BlobAccount(), d.SizeBytes)
	if err == nil && src != nil {
		err = s.Content.Copy(ctx, src.BlobAccount(), d.BlobAccount())
	}
	if err != nil {
		s.Content.Delete(ctx, d.BlobAccount())                                     //nolint:errcheck // best effort; the key is gone below, so what is left opens for no one
		s.Store.DeleteDisk(ctx, d.Kind, d.SubscriptionID, d.ResourceGroup, d.Name) //nolint:errcheck // as above
		return Disk{}, err
	}
	return d, nil
}

// source resolves a Copy's sourceResourceId: a disk or snapshot of the
// subscription.
func (s *Service) source(ctx context.Context, subscriptionID, id string) (Disk, error) {
	if id == "" {
		return Disk{}, invalid("properties.creationData.sourceResourceId is required for createOption Copy.")
	}
	rid, err := arm.Parse(id)
	if err != nil || !strings.EqualFold(rid.Provider, Namespace) || len(rid.Types) != 1 {
		return Disk{}, invalid("The sourceResourceId '%s' is not the id of a disk or snapshot.", clip(id))
	}
	kind := Kind(strings.ToLower(rid.Types[0]))
	if kind != KindDisk && kind != KindSnapshot {
		return Disk{}, invalid("The sourceResourceId '%s' is not the id of a disk or snapshot.", clip(id))
	}
	if !strings.EqualFold(rid.Subscription, subscriptionID) {
		return Disk{}, invalid("The source %s is in another subscription; tresor copies disks within a subscription.", clip(id))
	}
	return s.GetDisk(ctx, kind, rid.Subscription, rid.ResourceGroup, rid.Names[0])
}

// applyEncryption sets d's encryption from sp and returns the DES that
// protects it, nil for a platform-managed key.
func (s *Service) applyEncryption(ctx context.Context, d *Disk, sp DiskSpec) (*DiskEncryptionSet, error) {
	if sp.DESID != nil {
		d.DESID = *sp.DESID
	}
	if sp.SecurityType != "" {
		d.SecurityType = sp.SecurityType
	}
	if sp.SecureDESID != "" {
		d.SecureDESID = sp.SecureDESID
	}
	t := d.EncryptionType
	if sp.EncryptionType != "" {
		var ok bool
		if t, ok = ParseDiskEncryptionType(string(sp.EncryptionType)); !ok {
			return nil, invalid("The encryption type '%s' is not EncryptionAtRestWithPlatformKey, EncryptionAtRestWithCustomerKey or EncryptionAtRestWithPlatformAndCustomerKeys.", clip(string(sp.EncryptionType)))
		}
	}
	confidential := strings.EqualFold(d.SecurityType, SecurityConfidentialCMK)
	switch {
	case confidential && d.SecureDESID == "":
		return nil, invalid("A disk of securityType %s needs securityProfile.secureVMDiskEncryptionSetId.", SecurityConfidentialCMK)
	case !confidential && d.SecureDESID != "":
		return nil, invalid("securityProfile.secureVMDiskEncryptionSetId is for disks of securityType %s.", SecurityConfidentialCMK)
	case confidential && d.DESID != "":
		return nil, invalid("A confidential VM disk is protected by its secureVMDiskEncryptionSetId; tresor does not also take encryption.diskEncryptionSetId.")
	}
	id := d.ProtectedBy()
	if id == "" {
		if t != "" && t != PlatformKey {
			return nil, invalid("Encryption type %s needs encryption.diskEncryptionSetId.", t)
		}
		d.EncryptionType = PlatformKey
		return nil, nil
	}
	des, err := s.desByID(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil, invalid("The disk encryption set %s does not exist.", clip(id))
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(des.SubscriptionID, d.SubscriptionID) {
		return nil, invalid("The disk encryption set %s is in another subscription; a disk and its set must share one.", clip(id))
	}
	if des.Location != d.Location {
		return nil, invalid("The disk encryption set %s is in %s; a disk in %s cannot use it.", des.Name, des.Location, d.Location)
	}
	cvmDES := des.EncryptionType == ConfidentialVMEncryptedWithCustomerKey
	switch {
	case confidential && !cvmDES:
		return nil, invalid("The disk encryption set %s is of type %s; a confidential VM disk needs one of type %s.", des.Name, des.EncryptionType, ConfidentialVMEncryptedWithCustomerKey)
	case !confidential && cvmDES:
		return nil, invalid("The disk encryption set %s is for confidential VM disks (securityProfile.secureVMDiskEncryptionSetId).", des.Name)
	}
	if confidential {
		d.EncryptionType = PlatformKey // Azure reports the SSE type apart from the confidential one
		d.SecureDESID = des.ID()
		return &des, nil
	}
	want := DiskEncryptionType(des.EncryptionType)
	if t != "" && t != PlatformKey && t != want {
		return nil, invalid("The disk encryption set %s is of type %s; the disk asks for %s.", des.Name, des.EncryptionType, t)
	}
	d.EncryptionType, d.DESID = want, des.ID()
	return &des, nil
}

// desByID returns the DES an id names.
func (s *Service) desByID(ctx context.Context, id string) (DiskEncryptionSet, error) {
	rid, err := arm.Parse(id)
	if err != nil || !strings.EqualFold(rid.Provider, Namespace) || len(rid.Types) != 1 || !strings.EqualFold(rid.Types[0], "diskEncryptionSets") {
		return DiskEncryptionSet{}, invalid("'%s' is not the id of a disk encryption set.", clip(id))
	}
	return s.Get(ctx, rid.Subscription, rid.ResourceGroup, rid.Names[0])
}

// UpdateDisk applies sp to a disk or snapshot: tags, a larger size, and
// its encryption. A change of DES re-wraps the data key, under the new
// DES's intermediate key or the root key, and touches nothing else: the
// content stays encrypted under the same data key.
func (s *Service) UpdateDisk(ctx context.Context, kind Kind, subscriptionID, group, name string, sp DiskSpec) (Disk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.GetDisk(ctx, kind, subscriptionID, group, name)
	if err != nil {
		return Disk{}, err
	}
	return s.updateDisk(ctx, cur, sp)
}

func (s *Service) updateDisk(ctx context.Context, cur Disk, sp DiskSpec) (Disk, error) {
	if sp.Location != "" && arm.NormalizeLocation(sp.Location) != cur.Location {
		return Disk{}, tresor.Errorf(tresor.Invalid, "The location of %s is %s; it cannot be moved to %s.", cur.Name, cur.Location, clip(sp.Location)).
			WithReason("LocationNotChangeable")
	}
	d := cur
	if sp.Tags != nil {
		if err := arm.ValidateTags(sp.Tags); err != nil {
			return Disk{}, err
		}
		d.Tags = maps.Clone(sp.Tags)
	}
	if sp.SKU != "" {
		d.SKU = sp.SKU
	}
	// diskSizeGB as GET reports it (rounded up) is no change.
	if sp.DiskSizeGB < 0 || sp.DiskSizeGB > (d.SizeBytes+gib-1)/gib {
		return Disk{}, notAllowed("Resizing a disk is not supported by tresor.")
	}
	if sp.SecurityType != "" && !strings.EqualFold(sp.SecurityType, cur.SecurityType) || sp.SecureDESID != "" && !strings.EqualFold(sp.SecureDESID, cur.SecureDESID) {
		return Disk{}, notAllowed("The security profile of %s is set when it is created.", cur.Name)
	}
	encChange := sp.DESID != nil && !strings.EqualFold(*sp.DESID, cur.DESID) ||
		sp.EncryptionType != "" && !strings.EqualFold(string(sp.EncryptionType), string(cur.EncryptionType))
	if !encChange {
		return d, s.Store.UpdateDisk(ctx, d, nil)
	}
	if cur.State == Attached {
		return Disk{}, notAllowed("The encryption of disk %s can change only while its VM is deallocated or it is detached.", cur.Name)
	}
	if cur.Grant != nil {
		return Disk{}, notAllowed("The encryption of %s cannot change while it has an access URL (endGetAccess first).", cur.Name)
	}
	if sp.DESID == nil {
		sp.DESID = &cur.DESID
	}
	if *sp.DESID == "" && sp.EncryptionType == "" {
		sp.EncryptionType = PlatformKey
	}
	d.EncryptionType = ""
	des, err := s.applyEncryption(ctx, &d, sp)
	if err != nil {
		return Disk{}, err
	}
	if (d.EncryptionType == PlatformAndCustomerKeys) != (cur.EncryptionType == PlatformAndCustomerKeys) {
		return Disk{}, notAllowed("Double encryption (EncryptionAtRestWithPlatformAndCustomerKeys) is chosen when %s is created.", cur.Name)
	}
	old, err := s.Store.ArtifactKey(ctx, cur.ID())
	if err != nil {
		return Disk{}, err
	}
	dataKey, err := s.openDataKey(ctx, old)
	if err != nil {
		return Disk{}, err
	}
	next := ArtifactKey{ResourceID: old.ResourceID, Platform: old.Platform}
	if des == nil {
		next.Wrapped = s.Seal.Seal(dataKey, platformBinding(next.ResourceID))
	} else {
		intermediate, err := s.intermediate(ctx, des)
		if err != nil {
			return Disk{}, err
		}
		next.DES, next.Gen = strings.ToLower(des.ID()), des.Key.Gen
		if next.Wrapped, err = s.wrapDataKey(intermediate, dataKey, next.ResourceID, next.Gen); err != nil {
			return Disk{}, err
		}
	}
	return d, s.Store.UpdateDisk(ctx, d, &next)
}

// openDataKey returns an artifact's data key (not its content key),
// asking the key service for its DES's intermediate key.
func (s *Service) openDataKey(ctx context.Context, a ArtifactKey) ([]byte, error) {
	if a.DES == "" {
		key, err := s.Seal.Open(a.Wrapped, platformBinding(a.ResourceID))
		if err != nil {
			return nil, tresor.Wrap(err, "compute: open a platform key")
		}
		return key, nil
	}
	des, err := s.desByID(ctx, a.DES)
	if err != nil {
		return nil, err
	}
	intermediate, err := s.openGeneration(ctx, des, a.Gen, false)
	if err != nil {
		return nil, err
	}
	key, err := unwrapDataKey(intermediate, a.Wrapped, a.ResourceID, a.Gen)
	if err != nil {
		return nil, tresor.Wrap(err, "compute: unwrap the data key of "+a.ResourceID)
	}
	return key, nil
}

// DeleteDisk deletes a disk or snapshot and reports whether it existed.
// Its key goes first, so that whatever of its content a failure leaves
// behind opens for no one. Conflict (OperationNotAllowed) while it is
// attached to a VM.
func (s *Service) DeleteDisk(ctx context.Context, kind Kind, subscriptionID, group, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.GetDisk(ctx, kind, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.ManagedBy != "" {
		return false, notAllowed("Disk %s is attached to VM %s.", d.Name, d.ManagedBy)
	}
	if err := s.Store.DeleteDisk(ctx, d.Kind, d.SubscriptionID, d.ResourceGroup, d.Name); err != nil {
		return false, err
	}
	// The disk is gone with its key; content a failure leaves behind opens
	// for no one, and failing now would report a delete that happened.
	s.Content.Delete(ctx, d.BlobAccount()) //nolint:errcheck // see above
	return true, nil
}

// DeleteResourceGroupDisks deletes a group's snapshots, then its disks.
func (s *Service) deleteGroupDisks(ctx context.Context, subscriptionID, group string) error {
	for _, kind := range []Kind{KindSnapshot, KindDisk} {
		ds, err := s.Store.Disks(ctx, kind, subscriptionID, group)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := s.DeleteDisk(ctx, kind, subscriptionID, group, d.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// The accesses beginGetAccess grants.
const (
	AccessRead  = "Read"
	AccessWrite = "Write"
)

// maxGrant bounds durationInSeconds.
const maxGrant = 30 * 24 * time.Hour

// GrantAccess is beginGetAccess: it returns a SAS URL of the disk's
// content, for reading (Read) or, for a disk created to be uploaded,
// writing (Write). The URL is signed with a new key, so an earlier URL of
// the disk stops working.
func (s *Service) GrantAccess(ctx context.Context, kind Kind, subscriptionID, group, name, access string, duration time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.GetDisk(ctx, kind, subscriptionID, group, name)
	if err != nil {
		return "", err
	}
	if duration <= 0 || duration > maxGrant {
		return "", invalid("durationInSeconds must be between 1 and %d.", int(maxGrant/time.Second))
	}
	write := false
	switch {
	case strings.EqualFold(access, AccessWrite):
		if d.State != ReadyToUpload && d.State != ActiveUpload {
			return "", notAllowed("Write access is granted to a %s created for upload (createOption Upload) before its upload ends; %s is %s.",
				strings.TrimSuffix(string(d.Kind), "s"), d.Name, d.State)
		}
		write, d.State = true, ActiveUpload
	case strings.EqualFold(access, AccessRead):
		switch d.State {
		case Unattached, Reserved, ActiveSAS:
			d.State = ActiveSAS
		case Attached:
			return "", notAllowed("Disk %s is attached to running VM %s; stop and deallocate the VM to export it.", d.Name, d.ManagedBy)
		default:
			return "", notAllowed("Read access to %s is granted after its upload ends (endGetAccess); it is %s.", d.Name, d.State)
		}
	default:
		return "", invalid("access must be Read or Write.")
	}
	key := s.random(32)
	expiry := time.Now().Add(duration).UTC().Truncate(time.Second) // SAS windows are on real time, as the data plane checks them
	d.Grant = &Grant{Access: map[bool]string{true: AccessWrite, false: AccessRead}[write], Expires: expiry, SigningKey: s.Seal.Seal(key, grantBinding(d))}
	if err := s.Store.UpdateDisk(ctx, d, nil); err != nil {
		return "", err
	}
	return s.Content.AccessURL(d.BlobAccount(), key, write, expiry), nil
}

// RevokeAccess is endGetAccess: the disk's SAS URL stops working and an
// upload ends.
func (s *Service) RevokeAccess(ctx context.Context, kind Kind, subscriptionID, group, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.GetDisk(ctx, kind, subscriptionID, group, name)
	if err != nil {
		return err
	}
	switch d.State {
	case ActiveUpload, ActiveSAS:
		d.State = Unattached
		if d.ManagedBy != "" {
			d.State = Reserved
		}
	case ReadyToUpload:
		if d.Grant == nil {
			return nil
		}
	default:
		if d.Grant == nil {
			return nil
		}
	}
	d.Grant = nil
	return s.Store.UpdateDisk(ctx, d, nil)
}

func grantBinding(d Disk) []byte {
	return []byte("compute/grants/" + d.BlobAccount())
}

// BlobAccountKeys gives the Blob data plane the keys a disk's SAS URL may
// be signed with: the key of its current grant, none without one.
// NotFound if no disk or snapshot has the account.
func (s *Service) BlobAccountKeys(ctx context.Context, account string) ([][]byte, error) {
	d, err := s.Store.DiskByAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	if d.Grant == nil || !time.Now().Before(d.Grant.Expires) {
		return nil, nil
	}
	key, err := s.Seal.Open(d.Grant.SigningKey, grantBinding(d))
	if err != nil {
		return nil, tresor.Wrap(err, "compute: open a grant's key")
	}
	return [][]byte{key}, nil
}

// ContentKey gives the Blob data plane the key of a disk's content. It
// asks the key service for the DES's intermediate key unless it holds it
// from less than KeyCacheTTL ago; Forbidden (KeyVaultEncryptionKeyNotFound)
// if the DES's key no longer unwraps it.
func (s *Service) ContentKey(ctx context.Context, account string) ([]byte, error) {
	d, err := s.Store.DiskByAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	return s.artifactContentKey(ctx, d.ID(), true)
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("compute: random source failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
