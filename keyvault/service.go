package keyvault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/seal"
)

// Reasons clients branch on, in Azure's spelling. They travel as the inner
// error code.
const (
	ReasonDeletedButRecoverable = "ObjectIsDeletedButRecoverable"
	ReasonBeingDeleted          = "ObjectIsBeingDeleted"
	// ReasonVaultAlreadyExists and ReasonVaultDeleted are the ARM codes for
	// a vault name taken by a live or a soft-deleted vault.
	ReasonVaultAlreadyExists = "VaultAlreadyExists"
	ReasonVaultDeleted       = "ConflictError"
)

// Service carries out the Key Vault and Managed HSM operations. Its methods
// are named after Azure's REST operationIds. It is safe for concurrent use.
type Service struct {
	Store Store
	HSM   hsm.Module
	// Backup seals backup blobs; only a tresor with the same root key can
	// open them.
	Backup *seal.Sealer
	// Now returns the current time. Tests replace it to move time.
	Now func() time.Time
	// Rand is the source of randomness for version ids and signatures.
	Rand io.Reader
	// Access decides who may do what (see authorize). Nil allows every
	// caller: only tests of the domain rules leave it unset.
	Access Decider
	// VaultURL returns a vault's data-plane URL, without a trailing
	// slash, by which events name keys. Nil names them by path alone.
	VaultURL func(kind VaultKind, name string) string

	locks keyLocks // see lockKey
}

// NewService returns a Service with the real clock and crypto/rand.
func NewService(store Store, module hsm.Module, backup *seal.Sealer) *Service {
	return &Service{Store: store, HSM: module, Backup: backup, Now: time.Now, Rand: rand.Reader}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Second) }

// newID returns 32 lower-case hex digits, the shape of Azure's version ids.
func (s *Service) newID() string {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		panic("keyvault: random source failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

var vaultNamePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

// validateVault checks the settings Azure validates on create and update.
func validateVault(v Vault) error {
	if !vaultNamePattern.MatchString(v.Name) || strings.Contains(v.Name, "--") {
		return tresor.Errorf(tresor.Invalid,
			"The vault name '%s' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.", v.Name)
	}
	if v.SoftDelete && (v.RetentionDays < 7 || v.RetentionDays > 90) {
		return tresor.Errorf(tresor.Invalid, "softDeleteRetentionInDays must be between 7 and 90, got %d", v.RetentionDays)
	}
	if v.PurgeProtection && !v.SoftDelete {
		return tresor.Errorf(tresor.Invalid, "purge protection requires soft delete to be enabled")
	}
	if v.Kind != KeyVault && v.Kind != ManagedHSM {
		return tresor.Errorf(tresor.Invalid, "unknown vault kind %q", v.Kind)
	}
	return nil
}

// CreateOrUpdateVault creates v, or updates the live vault of that kind and
// name if it belongs to the same subscription and resource group. It
// returns the stored vault and whether it was created.
//
// It returns Conflict (ReasonVaultAlreadyExists) if the name belongs to a
// vault elsewhere, Conflict (ReasonVaultDeleted) if a vault of that name is
// soft-deleted, and Invalid if purge protection or soft delete would be
// turned off once on.
func (s *Service) CreateOrUpdateVault(ctx context.Context, v Vault) (Vault, bool, error) {
	if v.SoftDelete && v.RetentionDays == 0 {
		v.RetentionDays = 90
	}
	if err := validateVault(v); err != nil {
		return Vault{}, false, err
	}
	now := s.now()
	old, err := s.Store.Vault(ctx, v.Kind, v.Name)
	switch {
	case tresor.IsKind(err, tresor.NotFound):
		v.ID = s.newID()
		v.Created, v.Updated = now, now
		v.Deleted, v.PurgeAt = time.Time{}, time.Time{}
		if err := s.Store.CreateVault(ctx, v); err != nil {
			if tresor.IsKind(err, tresor.Conflict) {
				return Vault{}, false, vaultExists(v.Name)
			}
			return Vault{}, false, err
		}
		return v, true, nil
	case err != nil:
		return Vault{}, false, err
	}
	if old.IsDeleted() {
		return Vault{}, false, tresor.Errorf(tresor.Conflict,
			"A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault.").WithReason(ReasonVaultDeleted)
	}
	if old.SubscriptionID != v.SubscriptionID || old.ResourceGroup != v.ResourceGroup {
		return Vault{}, false, vaultExists(v.Name)
	}
	if old.PurgeProtection && !v.PurgeProtection {
		return Vault{}, false, tresor.Errorf(tresor.Invalid,
			"The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.")
	}
	if old.SoftDelete && !v.SoftDelete {
		return Vault{}, false, tresor.Errorf(tresor.Invalid,
			"The property \"enableSoftDelete\" cannot be set to false. Enabling soft delete for a vault is an irreversible action.")
	}
	if old.SoftDelete && old.RetentionDays != v.RetentionDays && v.Kind == ManagedHSM {
		return Vault{}, false, tresor.Errorf(tresor.Invalid, "softDeleteRetentionInDays cannot be changed after creation")
	}
	v.ID, v.Created, v.Updated = old.ID, old.Created, now
	if err := s.Store.UpdateVault(ctx, v); err != nil {
		return Vault{}, false, err
	}
	return v, false, nil
}

func vaultExists(name string) error {
	return tresor.Errorf(tresor.Conflict, "The vault name '%s' is already in use. Vault names are globally unique so it is possible that the name is already taken.", name).WithReason(ReasonVaultAlreadyExists)
}

// GetVault returns the live vault of that kind and name. NotFound if it
// does not exist or is soft-deleted.
func (s *Service) GetVault(ctx context.Context, kind VaultKind, name string) (Vault, error) {
	v, err := s.Store.Vault(ctx, kind, name)
	if err != nil {
		return Vault{}, err
	}
	if v.IsDeleted() {
		return Vault{}, tresor.Errorf(tresor.NotFound, "vault %q not found", name)
	}
	return v, nil
}

// ListVaults lists live vaults matching f.
func (s *Service) ListVaults(ctx context.Context, f VaultFilter) ([]Vault, error) {
	f.Deleted = false
	return s.Store.Vaults(ctx, f)
}

// DeleteVault deletes the live vault. With soft delete it stays recoverable
// for its retention period; without, it and its keys are purged at once.
func (s *Service) DeleteVault(ctx context.Context, kind VaultKind, name string) error {
	v, err := s.GetVault(ctx, kind, name)
	if err != nil {
		return err
	}
	if !v.SoftDelete {
		return s.Store.PurgeVault(ctx, v.ID)
	}
	now := s.now()
	v.Deleted = now
	v.PurgeAt = now.AddDate(0, 0, v.RetentionDays)
	return s.Store.UpdateVault(ctx, v)
}

// GetDeletedVault returns a soft-deleted vault. NotFound if there is none.
func (s *Service) GetDeletedVault(ctx context.Context, kind VaultKind, name string) (Vault, error) {
	v, err := s.Store.Vault(ctx, kind, name)
	if err != nil {
		return Vault{}, err
	}
	if !v.IsDeleted() {
		return Vault{}, tresor.Errorf(tresor.NotFound, "deleted vault %q not found", name)
	}
	return v, nil
}

// ListDeletedVaults lists soft-deleted vaults matching f.
func (s *Service) ListDeletedVaults(ctx context.Context, f VaultFilter) ([]Vault, error) {
	f.Deleted = true
	return s.Store.Vaults(ctx, f)
}

// RecoverDeletedVault brings a soft-deleted vault back with all its keys.
func (s *Service) RecoverDeletedVault(ctx context.Context, kind VaultKind, name string) (Vault, error) {
	v, err := s.GetDeletedVault(ctx, kind, name)
	if err != nil {
		return Vault{}, err
	}
	v.Deleted, v.PurgeAt, v.Updated = time.Time{}, time.Time{}, s.now()
	if err := s.Store.UpdateVault(ctx, v); err != nil {
		return Vault{}, err
	}
	return v, nil
}

// PurgeDeletedVault removes a soft-deleted vault and its keys for good. It
// returns Conflict while purge protection holds the vault, that is until its
// scheduled purge date.
func (s *Service) PurgeDeletedVault(ctx context.Context, kind VaultKind, name string) error {
	v, err := s.GetDeletedVault(ctx, kind, name)
	if err != nil {
		return err
	}
	if v.PurgeProtection && s.now().Before(v.PurgeAt) {
		return tresor.Errorf(tresor.Conflict,
			"Vault '%s' has purge protection enabled and cannot be purged before its scheduled purge date (%s).", name, v.PurgeAt.Format(time.RFC3339))
	}
	return s.Store.PurgeVault(ctx, v.ID)
}
