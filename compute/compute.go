// Package compute is tresor's Microsoft.Compute resource provider: disk
// encryption sets (DES), managed disks and snapshots, whose data keys a
// DES protects, and virtual machines, which attach disks and, if
// confidential, keep a guest state that their DES protects too (issue 6).
//
// A DES has its own intermediate key, 32 random bytes made when the DES is
// created. Disks on the DES will wrap their data keys under it, so that
// changing the DES's customer-managed key (a new version or another key)
// re-wraps that one key, through the key service as the DES's managed
// identity, and never a per-disk key: a constant number of key-service
// calls however many disks share the DES.
//
// A DES with a system-assigned identity can only be granted access to its
// key once it exists, so a DES whose identity cannot use its key yet is
// still created, as in Azure. Its intermediate key is then pending: sealed
// under tresor's root key until the next update of the DES, or the first
// use of the key (IntermediateKey), finds the identity allowed and wraps
// it with the customer-managed key.
//
// A DES with RotationToLatestKeyVersionEnabled follows its key's newest
// version: RefreshKeyVersions, the scheduler's work, looks for one every
// KeyCheckInterval and moves the DES by the ordinary key change.
package compute

import (
	"context"
	"strings"
	"time"

	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
)

// Namespace is the resource provider of compute resources.
const Namespace = "Microsoft.Compute"

// EncryptionType is what a DES's key protects, spelled as Azure spells it.
type EncryptionType string

// The encryption types.
const (
	// EncryptionAtRestWithCustomerKey: disk data under the customer's key.
	EncryptionAtRestWithCustomerKey EncryptionType = "EncryptionAtRestWithCustomerKey"
	// EncryptionAtRestWithPlatformAndCustomerKeys: double encryption,
	// under a platform key and the customer's key.
	EncryptionAtRestWithPlatformAndCustomerKeys EncryptionType = "EncryptionAtRestWithPlatformAndCustomerKeys"
	// ConfidentialVMEncryptedWithCustomerKey: confidential VM disks and
	// guest state. Automatic key rotation is not supported.
	ConfidentialVMEncryptedWithCustomerKey EncryptionType = "ConfidentialVmEncryptedWithCustomerKey"
)

// ParseEncryptionType reads an encryption type in any case; ok is false
// for an unknown one.
func ParseEncryptionType(s string) (EncryptionType, bool) {
	for _, t := range []EncryptionType{EncryptionAtRestWithCustomerKey, EncryptionAtRestWithPlatformAndCustomerKeys, ConfidentialVMEncryptedWithCustomerKey} {
		if strings.EqualFold(s, string(t)) {
			return t, true
		}
	}
	return "", false
}

// DiskEncryptionSet is a Microsoft.Compute/diskEncryptionSets resource.
type DiskEncryptionSet struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	TenantID       string // the subscription's tenant, home of its system-assigned identity
	Location       string
	Tags           map[string]string

	Identity       msi.State
	EncryptionType EncryptionType
	// ActiveKey is the customer-managed key in use; PreviousKeys the keys
	// still protecting associated resources while a rotation is in
	// progress (empty otherwise).
	ActiveKey    KeyRef
	PreviousKeys []KeyRef
	// RotationToLatestKeyVersionEnabled makes the DES follow its key's
	// newest version.
	RotationToLatestKeyVersionEnabled bool
	// LastKeyRotation is when ActiveKey last changed; zero if it never
	// did since creation.
	LastKeyRotation time.Time
	// AutoKeyRotationError is why the last automatic move to the key's
	// newest version failed; zero if it did not (see RefreshKeyVersions).
	AutoKeyRotationError APIError
	// NextKeyCheck is when a DES with RotationToLatestKeyVersionEnabled
	// next looks for a newer version of its key; zero for the others.
	NextKeyCheck time.Time
	// FederatedClientID is the multi-tenant application through which the
	// identity uses a key in another tenant; empty for a key in the DES's
	// tenant.
	FederatedClientID string
	ProvisioningState string // Succeeded, Updating

	// Key is the DES's intermediate key, wrapped: the generation that
	// protects new artifacts and that a rotation moves every artifact to.
	Key WrappedKey
	// Previous are the generations, one per entry of PreviousKeys, that
	// still protect artifacts while a rotation is in progress.
	Previous []WrappedKey

	Created time.Time
}

// ID returns the DES's ARM id.
func (d DiskEncryptionSet) ID() string {
	return "/subscriptions/" + d.SubscriptionID + "/resourceGroups/" + d.ResourceGroup +
		"/providers/" + Namespace + "/diskEncryptionSets/" + d.Name
}

// Pending reports whether the intermediate key still waits for the
// identity to be allowed to use the customer-managed key.
func (d DiskEncryptionSet) Pending() bool { return d.Key.KeyID == "" }

// KeyRef is Azure's KeyForDiskEncryptionSet.
type KeyRef struct {
	// SourceVaultID is the ARM id of the vault holding the key; optional.
	SourceVaultID string
	// KeyURL is the versioned key id, as the request spelled it.
	KeyURL string
}

// APIError is an error as a resource reports it (Azure's ApiError).
type APIError struct {
	Code    string
	Message string
}

// WrappedKey is an intermediate key as stored. Each change of a DES's
// customer-managed key makes a new intermediate key, the next generation,
// and a rotation moves every artifact's data key to it.
type WrappedKey struct {
	Gen int
	// KeyID is the versioned id of the customer-managed key version that
	// wrapped it, or empty if it is sealed under tresor's root key
	// (pending).
	KeyID   string
	Wrapped []byte
}

// KeyService is the key service as a DES uses it, always as the DES's
// identity, whose access the key service checks. *cmk.Keys implements it.
type KeyService interface {
	// Check resolves ref and checks that it may protect a resource (see
	// cmk.Keys.Check).
	Check(ctx context.Context, id cmk.Identity, ref cmk.Ref) (cmk.Version, error)
	// Wrap wraps plain with the key version keyID.
	Wrap(ctx context.Context, id cmk.Identity, keyID string, plain []byte) ([]byte, error)
	// Unwrap unwraps with the key version keyID.
	Unwrap(ctx context.Context, id cmk.Identity, keyID string, wrapped []byte) ([]byte, error)
}

// Store persists disk encryption sets. Names are unique in a resource
// group and compare case-insensitively. NotFound for an absent DES,
// Conflict for a taken name.
type Store interface {
	CreateDiskEncryptionSet(ctx context.Context, d DiskEncryptionSet) error
	// UpdateDiskEncryptionSet replaces the DES d names.
	UpdateDiskEncryptionSet(ctx context.Context, d DiskEncryptionSet) error
	DiskEncryptionSet(ctx context.Context, subscriptionID, group, name string) (DiskEncryptionSet, error)
	// DiskEncryptionSets lists a subscription's DESs, or a group's if
	// group is not empty, ordered by group and name.
	DiskEncryptionSets(ctx context.Context, subscriptionID, group string) ([]DiskEncryptionSet, error)
	DeleteDiskEncryptionSet(ctx context.Context, subscriptionID, group, name string) error
	// DueDiskEncryptionSetKeyChecks returns up to max DESs whose
	// NextKeyCheck is at or before now, earliest first; its cost grows
	// with those returned.
	DueDiskEncryptionSetKeyChecks(ctx context.Context, now time.Time, max int) ([]DueKeyCheck, error)

	DiskStore
	VMStore
}
