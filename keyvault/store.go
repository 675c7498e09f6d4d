package keyvault

import (
	"context"
	"time"

	"github.com/tresorkms/tresor/eventgrid"
)

// Store persists vaults and keys. Implementations keep business rules out:
// they store, find and delete atomically, and report conflicts on unique
// names. Every method that changes several rows does so in one transaction.
//
// Methods return *tresor.Error with Kind NotFound when the object does not
// exist and Conflict where a unique name is taken; any other failure is
// Internal.
type Store interface {
	// CreateVault inserts v. It returns Conflict if a vault of the same
	// kind and name exists, deleted or not.
	CreateVault(ctx context.Context, v Vault) error
	// UpdateVault replaces the vault whose ID is v.ID. NotFound if absent.
	UpdateVault(ctx context.Context, v Vault) error
	// Vault returns the vault of that kind and name, deleted or not.
	Vault(ctx context.Context, kind VaultKind, name string) (Vault, error)
	// Vaults lists vaults matching f, ordered by name.
	Vaults(ctx context.Context, f VaultFilter) ([]Vault, error)
	// PurgeVault removes the vault with the given ID and all its keys.
	PurgeVault(ctx context.Context, id string) error

	// CreateKeyVersion inserts a new version, creating the key if it does
	// not exist, and clears the RotationDue and ExpiryEventDue of the key's
	// other versions. Conflict if the key exists and is deleted, or the
	// version exists.
	//
	// This method, UpdateKeyVersion and RestoreKey append evs to the event
	// outbox (see package eventgrid) in the same transaction: the events
	// are raised if and only if the change is made.
	CreateKeyVersion(ctx context.Context, kv KeyVersion, evs ...eventgrid.Event) error
	// UpdateKeyVersion replaces the stored version (vault, name, version)
	// of a key that is not deleted.
	UpdateKeyVersion(ctx context.Context, kv KeyVersion, evs ...eventgrid.Event) error
	// KeyVersion returns a version of a key that is not deleted; an empty
	// version selects the newest.
	KeyVersion(ctx context.Context, vaultID, name, version string) (KeyVersion, error)
	// Keys lists the newest version of every key that is not deleted,
	// ordered by name, and returns the continuation for the next page ("" at
	// the end).
	Keys(ctx context.Context, vaultID string, p Page) ([]KeyVersion, string, error)
	// KeyVersions lists the versions of a key that is not deleted, oldest
	// first. NotFound if the key does not exist.
	KeyVersions(ctx context.Context, vaultID, name string, p Page) ([]KeyVersion, string, error)
	// KeyVersionCount returns how many versions a key has (zero if it
	// does not exist).
	KeyVersionCount(ctx context.Context, vaultID, name string) (int, error)

	// RotationPolicy returns the rotation policy set on a key. NotFound if
	// none was set. A key's policy goes when the key is purged.
	RotationPolicy(ctx context.Context, vaultID, name string) (RotationPolicy, error)
	// PutRotationPolicy stores p as the policy of key p.Name and, in the
	// same transaction, the RotationDue and ExpiryEventDue of its newest
	// version cur. NotFound
	// if the key is absent or deleted; Conflict if cur is no longer its
	// newest version.
	PutRotationPolicy(ctx context.Context, p RotationPolicy, cur KeyVersion) error
	// DueRotations returns up to max keys that are not deleted, in vaults
	// that are not deleted, whose newest version has a RotationDue at or
	// before now, earliest first (ties by vault id and name).
	// Its cost grows with the keys returned, not with all keys.
	DueRotations(ctx context.Context, now time.Time, max int) ([]DueKey, error)
	// DueExpiryEvents is DueRotations for ExpiryEventDue.
	DueExpiryEvents(ctx context.Context, now time.Time, max int) ([]DueKey, error)
	// DuePurges returns up to max soft-deleted keys and vaults whose
	// scheduled purge time is at or before now, earliest first (ties: keys
	// before vaults, then by vault id and name). Its cost grows with the
	// objects returned, not with all objects.
	DuePurges(ctx context.Context, now time.Time, max int) ([]DuePurge, error)

	// DeleteKey marks a key and all its versions deleted.
	DeleteKey(ctx context.Context, vaultID, name string, d Deletion) error
	// DeletedKey returns a deleted key. NotFound if the key is absent or
	// not deleted.
	DeletedKey(ctx context.Context, vaultID, name string) (DeletedKey, error)
	// DeletedKeys lists deleted keys, ordered by name.
	DeletedKeys(ctx context.Context, vaultID string, p Page) ([]DeletedKey, string, error)
	// RecoverKey clears the deletion of a deleted key.
	RecoverKey(ctx context.Context, vaultID, name string) error
	// PurgeKey removes a key and all its versions, deleted or not.
	PurgeKey(ctx context.Context, vaultID, name string) error
	// RestoreKey inserts all versions of one key (same vault, same name)
	// at once. Conflict if a key of that name exists, deleted or not.
	RestoreKey(ctx context.Context, versions []KeyVersion, evs ...eventgrid.Event) error
}

// DueKey names a key that is due for scheduled work: rotation, or an
// expiry event.
type DueKey struct {
	VaultID   string
	VaultKind VaultKind
	VaultName string
	Name      string
	Due       time.Time
}

// DuePurge names a soft-deleted key, or vault if Key is empty, whose
// retention has passed.
type DuePurge struct {
	VaultID   string
	VaultKind VaultKind
	VaultName string
	Key       string
	PurgeAt   time.Time
}

// VaultFilter selects vaults. Empty fields match everything.
type VaultFilter struct {
	Kind           VaultKind
	SubscriptionID string
	ResourceGroup  string
	// Deleted selects soft-deleted vaults if true, live ones otherwise.
	Deleted bool
}
