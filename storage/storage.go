// Package storage is tresor's Azure Storage account: the ARM resource
// Microsoft.Storage/storageAccounts with its access keys, its identities and
// its encryption.
//
// Every account's data is encrypted. The account has one account
// encryption key (AEK), 32 random bytes, under which the blob service
// wraps its per-blob data keys. The AEK itself is stored wrapped: with
// Microsoft-managed keys it is sealed under tresor's root key; with a
// customer-managed key (CMK) it is wrapped by that Key Vault or Managed
// HSM key, through the key service's wrapKey/unwrapKey and as the account's
// managed identity, so the key service's access control decides. Changing
// the key, its version or the key source re-wraps the AEK and nothing else:
// one unwrap and one wrap, whatever the account holds.
package storage

import (
	"time"

	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
)

// Namespace is the resource provider of storage accounts.
const Namespace = "Microsoft.Storage"

// KeySource says who holds the key that protects an account's AEK.
type KeySource string

// The key sources, spelled as Azure spells them (note the lower-case v).
const (
	MicrosoftManaged KeySource = "Microsoft.Storage"
	CustomerManaged  KeySource = "Microsoft.Keyvault"
)

// Account is a storage account.
type Account struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string // unique across the installation, as in Azure
	TenantID       string // the subscription's tenant, home of its system-assigned identity
	Location       string
	Kind           string // StorageV2, BlobStorage, ...
	SKU            string // Standard_LRS, ...
	Tags           map[string]string

	Identity   msi.State
	Encryption Encryption

	// Keys are the access keys key1 and key2, sealed under the root key.
	Keys []AccessKey
	// AEK is the account encryption key, wrapped.
	AEK WrappedKey

	Created time.Time
}

// ID returns the account's ARM id.
func (a Account) ID() string {
	return "/subscriptions/" + a.SubscriptionID + "/resourceGroups/" + a.ResourceGroup +
		"/providers/" + Namespace + "/storageAccounts/" + a.Name
}

// Encryption is an account's encryption settings.
type Encryption struct {
	KeySource KeySource
	// Key is the customer-managed key, when KeySource is CustomerManaged.
	Key cmk.Ref
	// UserAssignedIdentity is the resource id of the identity that uses the
	// CMK; empty means the account's system-assigned identity.
	UserAssignedIdentity string
	// FederatedClientID is the multi-tenant application through which the
	// identity uses a key in another tenant; empty for a key in the
	// account's tenant.
	FederatedClientID string

	// CurrentKeyID is the versioned id of the CMK version that wraps the
	// AEK; LastKeyRotation is when it started to; CurrentKeyExpires is its
	// expiry (zero if none).
	CurrentKeyID      string
	LastKeyRotation   time.Time
	CurrentKeyExpires time.Time
	// NextKeyCheck is when an account whose Key.Version is empty next
	// looks for a newer version of its key; zero otherwise.
	NextKeyCheck time.Time

	// QueueKeyType and TableKeyType are "Service" or "Account", fixed at
	// creation: only an "Account" key type puts queues and tables under the
	// CMK. Blob and file always use the account key.
	QueueKeyType, TableKeyType string
	// RequireInfrastructureEncryption is fixed at creation.
	RequireInfrastructureEncryption bool
	// Enabled is when blob and file encryption was enabled (the account's
	// creation): Azure's lastEnabledTime.
	Enabled time.Time
}

// AccessKey is an account access key, sealed.
type AccessKey struct {
	Name    string // key1, key2
	Sealed  []byte
	Created time.Time
}

// WrappedKey is the account encryption key as stored.
type WrappedKey struct {
	// KeyID is the versioned id of the CMK that wrapped it, or empty if it
	// is sealed under tresor's root key (Microsoft-managed keys).
	KeyID   string
	Wrapped []byte
}
