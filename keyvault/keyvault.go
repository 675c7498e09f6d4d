// Package keyvault is the domain of tresor's key service: vaults and managed
// HSMs, the keys they hold, and the rules Azure Key Vault applies to them
// (soft delete, purge protection, validity windows, permitted operations).
//
// It knows nothing of HTTP or SQL. Transports (kvhttp, the ARM provider) call
// Service; persistence is behind Store, which sqlite implements; key material
// lives behind hsm.Module and never appears here in plaintext.
package keyvault

import (
	"time"
)

// VaultKind distinguishes Key Vault vaults from Managed HSM pools. The two
// live in separate DNS namespaces, so a vault and an HSM may share a name.
type VaultKind string

// The vault kinds.
const (
	KeyVault   VaultKind = "vault"
	ManagedHSM VaultKind = "managedHSM"
)

// Vault is a Key Vault vault or a Managed HSM pool: a named container of keys
// with the settings that govern deletion and access.
type Vault struct {
	Kind VaultKind
	Name string
	// ID is an internal identifier, fixed at creation. Key material is bound
	// to it, so a vault purged and created again under the same name cannot
	// open its predecessor's keys.
	ID string

	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	Location       string
	Tags           map[string]string
	SKU            string // "standard" or "premium" for vaults, "Standard_B1" for HSMs

	SoftDelete      bool
	RetentionDays   int // 7 to 90
	PurgeProtection bool
	RBAC            bool // enableRbacAuthorization

	EnabledForDeployment         bool
	EnabledForDiskEncryption     bool
	EnabledForTemplateDeployment bool
	PublicNetworkAccess          string // "Enabled" or "Disabled"
	AccessPolicies               []AccessPolicy
	InitialAdmins                []string // Managed HSM initialAdminObjectIds

	Created time.Time
	Updated time.Time
	// Deleted is set while the vault is soft-deleted; PurgeAt is when it
	// will be purged.
	Deleted time.Time
	PurgeAt time.Time
}

// IsDeleted reports whether v is soft-deleted.
func (v Vault) IsDeleted() bool { return !v.Deleted.IsZero() }

// AccessPolicy grants a principal permissions on a vault that does not use
// RBAC. Permissions are kept as Azure spells them ("get", "wrapKey", ...).
type AccessPolicy struct {
	TenantID      string
	ObjectID      string
	ApplicationID string
	Keys          []string
	Secrets       []string
	Certificates  []string
	Storage       []string
}

// RecoveryLevel returns Azure's recoveryLevel for keys in v.
func (v Vault) RecoveryLevel() string {
	if !v.SoftDelete {
		return "Purgeable"
	}
	level := "Recoverable"
	if v.RetentionDays < 90 {
		level = "CustomizedRecoverable"
	}
	if !v.PurgeProtection {
		level += "+Purgeable"
	}
	return level
}

// RecoverableDays returns the number of days a deleted key stays
// recoverable, or zero without soft delete.
func (v Vault) RecoverableDays() int {
	if !v.SoftDelete {
		return 0
	}
	return v.RetentionDays
}
