package compute

import (
	"context"
	"strings"
	"time"
)

// Kind tells a managed disk from a snapshot: both are stored alike, and
// Azure gives them the same encryption surface.
type Kind string

// The kinds, spelled as the resource types.
const (
	KindDisk     Kind = "disks"
	KindSnapshot Kind = "snapshots"
)

// DiskEncryptionType is a disk's encryption.type, spelled as Azure spells it.
type DiskEncryptionType string

// The disk encryption types.
const (
	PlatformKey             DiskEncryptionType = "EncryptionAtRestWithPlatformKey"
	CustomerKey             DiskEncryptionType = "EncryptionAtRestWithCustomerKey"
	PlatformAndCustomerKeys DiskEncryptionType = "EncryptionAtRestWithPlatformAndCustomerKeys"
)

// ParseDiskEncryptionType reads a disk encryption type in any case.
func ParseDiskEncryptionType(s string) (DiskEncryptionType, bool) {
	for _, t := range []DiskEncryptionType{PlatformKey, CustomerKey, PlatformAndCustomerKeys} {
		if strings.EqualFold(s, string(t)) {
			return t, true
		}
	}
	return "", false
}

// The disk security types that matter here (securityProfile.securityType).
const (
	// SecurityConfidentialCMK is a confidential VM's disk whose content and
	// guest state its secure DES protects.
	SecurityConfidentialCMK = "ConfidentialVM_DiskEncryptedWithCustomerKey"
)

// DiskState is a disk's diskState.
type DiskState string

// The disk states tresor uses.
const (
	Unattached    DiskState = "Unattached"
	Attached      DiskState = "Attached"
	Reserved      DiskState = "Reserved" // attached to a deallocated VM
	ActiveSAS     DiskState = "ActiveSAS"
	ReadyToUpload DiskState = "ReadyToUpload"
	ActiveUpload  DiskState = "ActiveUpload"
)

// The create options of disks and snapshots that tresor supports.
const (
	CreateEmpty     = "Empty"
	CreateUpload    = "Upload"
	CreateCopy      = "Copy"
	CreateFromImage = "FromImage" // a VM's OS disk
)

// A Disk is a Microsoft.Compute/disks or snapshots resource. Its content
// is a page blob of the Blob data plane, in an account of its own
// (BlobAccount), encrypted under the key its ArtifactKey protects.
type Disk struct {
	Kind           Kind
	SubscriptionID string
	ResourceGroup  string
	Name           string
	Location       string
	Tags           map[string]string
	UniqueID       string // a GUID, also the name of its blob account
	SKU            string

	CreateOption     string
	SourceResourceID string // a Copy's source disk or snapshot
	SizeBytes        int64
	OSType           string
	HyperVGeneration string

	EncryptionType DiskEncryptionType
	// DESID is encryption.diskEncryptionSetId; SecureDESID is
	// securityProfile.secureVMDiskEncryptionSetId. At most one is set:
	// that DES protects the disk's data key.
	DESID        string
	SecurityType string
	SecureDESID  string

	State     DiskState
	ManagedBy string // the VM's id while attached
	// Grant is the access that beginGetAccess granted, nil if none.
	Grant *Grant

	ProvisioningState string
	Created           time.Time
}

// ID returns the disk's ARM id.
func (d Disk) ID() string {
	return "/subscriptions/" + d.SubscriptionID + "/resourceGroups/" + d.ResourceGroup +
		"/providers/" + Namespace + "/" + string(d.Kind) + "/" + d.Name
}

// ProtectedBy returns the id of the DES that protects the disk, "" if
// its key is platform-managed.
func (d Disk) ProtectedBy() string {
	if d.SecureDESID != "" {
		return d.SecureDESID
	}
	return d.DESID
}

// BlobAccount is the name of the Blob account that holds the disk's
// content: "md-" and its unique id in hex. Storage account names have no
// hyphen, so it never meets one.
func (d Disk) BlobAccount() string {
	return BlobAccountPrefix + strings.ReplaceAll(strings.ToLower(d.UniqueID), "-", "")
}

// BlobAccountPrefix starts the Blob account of every disk and snapshot.
const BlobAccountPrefix = "md-"

// The container and blob that hold a disk's content, as Azure names them
// in its access URLs.
const (
	BlobContainer = "disk"
	BlobName      = "abcd"
)

// A Grant is a disk's access through a SAS URL, from beginGetAccess until
// endGetAccess or its expiry.
type Grant struct {
	Access  string // Read or Write
	Expires time.Time
	// SigningKey is the key the SAS is signed with, sealed under the root
	// key; endGetAccess forgets it, so the URL stops working.
	SigningKey []byte
}

// DiskStore persists disks, snapshots and the keys of every artifact.
// Names are unique per kind in a resource group and compare
// case-insensitively.
type DiskStore interface {
	// CreateDisk stores a new disk and its artifact key together.
	// Conflict if the name is taken.
	CreateDisk(ctx context.Context, d Disk, k ArtifactKey) error
	// UpdateDisk replaces the disk d names, and its artifact key if k is
	// not nil. NotFound if it does not exist.
	UpdateDisk(ctx context.Context, d Disk, k *ArtifactKey) error
	Disk(ctx context.Context, kind Kind, subscriptionID, group, name string) (Disk, error)
	// DiskByAccount finds a disk or snapshot by its blob account.
	DiskByAccount(ctx context.Context, account string) (Disk, error)
	// Disks lists a subscription's disks of a kind, or a group's if group
	// is not empty, ordered by group and name.
	Disks(ctx context.Context, kind Kind, subscriptionID, group string) ([]Disk, error)
	// DeleteDisk deletes a disk and its artifact key.
	DeleteDisk(ctx context.Context, kind Kind, subscriptionID, group, name string) error

	// ArtifactKey returns the key of an artifact (its id in any case).
	ArtifactKey(ctx context.Context, resourceID string) (ArtifactKey, error)
	// PutArtifactKey stores the key of an artifact that is not a disk
	// (a VM's guest state); DeleteArtifactKey removes it.
	PutArtifactKey(ctx context.Context, k ArtifactKey) error
	DeleteArtifactKey(ctx context.Context, resourceID string) error
	// StaleArtifactKeys returns, in Seq order, at most limit keys of
	// artifacts on the DES des with a Seq above after whose generation is
	// not gen.
	StaleArtifactKeys(ctx context.Context, des string, gen int, after int64, limit int) ([]ArtifactKey, error)
	// RewrapArtifactKeys stores the moved keys in one transaction and
	// reports how many it stored: a key whose generation is no longer its
	// From is left alone.
	RewrapArtifactKeys(ctx context.Context, moves []Rewrap) (int, error)
	// ArtifactVersions lists the artifacts on the DES des with their
	// generations, ordered by id; KeyID is left for the caller.
	ArtifactVersions(ctx context.Context, des string) ([]ArtifactVersion, error)
}
