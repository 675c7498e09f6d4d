package rbac

import (
	"slices"
	"strings"
)

// hsmActions prefixes each Managed HSM data action.
func hsmActions(actions ...string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = "Microsoft.KeyVault/managedHsm/" + a
	}
	return out
}

// Built-in Managed HSM roles, with the ids and data actions of Azure's live
// role list (shared/research/azure-keys-protocol.md, section 7.2).
var hsmBuiltIns = []RoleDefinition{
	hsmRole("a290e904-7015-4bba-90c8-60543313cdb4", "Managed HSM Administrator",
		"roleAssignments/delete/action", "roleAssignments/read/action", "roleAssignments/write/action",
		"roleDefinitions/read/action", "roleDefinitions/write/action", "roleDefinitions/delete/action",
		"securitydomain/download/action", "securitydomain/download/read", "securitydomain/upload/action",
		"securitydomain/upload/read", "securitydomain/transferkey/read",
		"backup/start/action", "restore/start/action", "backup/status/action", "restore/status/action"),
	hsmRole("515eb02d-2335-4d2d-92f2-b1cbdf9c3778", "Managed HSM Crypto Officer",
		"roleAssignments/delete/action", "roleAssignments/read/action", "roleAssignments/write/action",
		"roleDefinitions/read/action", "roleDefinitions/write/action", "roleDefinitions/delete/action",
		"keys/deletedKeys/read/action", "keys/deletedKeys/delete", "keys/deletedKeys/recover/action", "keys/export/action"),
	hsmRole("21dbd100-6940-42c2-9190-5d6cb909625b", "Managed HSM Crypto User",
		"roleDefinitions/read/action", "roleAssignments/read/action",
		"keys/read/action", "keys/write/action", "keys/delete", "keys/create", "keys/rotate/action", "keys/import/action",
		"keys/release/action", "keys/backup/action", "keys/restore/action", "keys/encrypt/action", "keys/decrypt/action",
		"keys/wrap/action", "keys/unwrap/action", "keys/sign/action", "keys/verify/action", "keys/derive/action", "rng/action"),
	hsmRole("4bd23610-cdcf-4971-bdee-bdc562cc28e4", "Managed HSM Policy Administrator",
		"roleDefinitions/read/action", "roleDefinitions/write/action", "roleDefinitions/delete/action",
		"roleAssignments/read/action", "roleAssignments/write/action", "roleAssignments/delete/action"),
	hsmRole("2c18b078-7c48-4d3a-af88-5a3a1b3f82b3", "Managed HSM Crypto Auditor",
		"roleAssignments/read/action", "roleDefinitions/read/action", "keys/read/action", "keys/deletedKeys/read/action"),
	hsmRole("33413926-3206-4cdd-b39a-83574fe37a17", "Managed HSM Crypto Service Encryption User",
		"keys/read/action", "keys/wrap/action", "keys/unwrap/action"),
	hsmRole("21dbd100-6940-42c2-9190-5d6cb909625c", "Managed HSM Crypto Service Release User",
		"keys/release/action"),
	hsmRole("7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8", "Managed HSM Backup User",
		"backup/start/action", "backup/status/action", "keys/backup/action"),
	hsmRole("6efe6056-5259-49d2-8b3d-d3d73544b20b", "Managed HSM Restore User",
		"restore/start/action", "restore/status/action", "keys/restore/action"),
}

func hsmRole(id, name string, dataActions ...string) RoleDefinition {
	return RoleDefinition{
		ID: id, RoleName: name, Type: TypeHSMBuiltIn, AssignableScopes: []string{"/"},
		Permissions: []Permission{{DataActions: hsmActions(dataActions...)}},
	}
}

// Well-known ids of built-in roles that other packages assign.
const (
	HSMAdministrator               = "a290e904-7015-4bba-90c8-60543313cdb4"
	HSMCryptoUser                  = "21dbd100-6940-42c2-9190-5d6cb909625b"
	HSMCryptoServiceEncryptionUser = "33413926-3206-4cdd-b39a-83574fe37a17"
	Owner                          = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	Contributor                    = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	Reader                         = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	KeyVaultAdministrator          = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	KeyVaultCryptoOfficer          = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
	KeyVaultCryptoUser             = "12338af0-0e69-4776-bea7-57ae8d297424"
	KeyVaultCryptoServiceEncUser   = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
	KeyVaultReader                 = "21090545-7ca7-4776-b22c-e363652d74d2"
	StorageBlobDataOwner           = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
	StorageBlobDataContributor     = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	StorageBlobDataReader          = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
)

// Built-in Azure RBAC roles: the general ones and those of Key Vault and
// Blob Storage, with Azure's ids and data actions.
var armBuiltIns = []RoleDefinition{
	armRole(Owner, "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
		Permission{Actions: []string{"*"}}),
	armRole(Contributor, "Contributor", "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
		Permission{Actions: []string{"*"}, NotActions: []string{
			"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
		}}),
	armRole(Reader, "Reader", "View all resources, but does not allow you to make any changes.",
		Permission{Actions: []string{"*/read"}}),
	armRole("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator", "Lets you manage user access to Azure resources.",
		Permission{Actions: []string{"*/read", "Microsoft.Authorization/*"}}),
	armRole(KeyVaultAdministrator, "Key Vault Administrator", "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets.",
		Permission{
			Actions:     []string{"Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"},
			DataActions: []string{"Microsoft.KeyVault/vaults/*"},
		}),
	armRole(KeyVaultCryptoOfficer, "Key Vault Crypto Officer", "Perform any action on the keys of a key vault, except manage permissions.",
		Permission{
			Actions:     []string{"Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"},
			DataActions: []string{"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"},
		}),
	armRole(KeyVaultCryptoUser, "Key Vault Crypto User", "Perform cryptographic operations using keys.",
		Permission{DataActions: []string{
			"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/update/action", "Microsoft.KeyVault/vaults/keys/backup/action",
			"Microsoft.KeyVault/vaults/keys/encrypt/action", "Microsoft.KeyVault/vaults/keys/decrypt/action", "Microsoft.KeyVault/vaults/keys/wrap/action",
			"Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/keys/sign/action", "Microsoft.KeyVault/vaults/keys/verify/action",
		}}),
	armRole(KeyVaultCryptoServiceEncUser, "Key Vault Crypto Service Encryption User", "Read metadata of keys and perform wrap/unwrap operations.",
		Permission{
			Actions:     []string{"Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read", "Microsoft.EventGrid/eventSubscriptions/delete"},
			DataActions: []string{"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action", "Microsoft.KeyVault/vaults/keys/unwrap/action"},
		}),
	armRole("08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Key Vault Crypto Service Release User", "Release keys.",
		Permission{DataActions: []string{"Microsoft.KeyVault/vaults/keys/release/action"}}),
	armRole(KeyVaultReader, "Key Vault Reader", "Read metadata of key vaults and its certificates, keys, and secrets.",
		Permission{
			Actions:     []string{"Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"},
			DataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"},
		}),
	armRole(StorageBlobDataOwner, "Storage Blob Data Owner", "Provides full access to Azure Storage blob containers and data, including assigning POSIX access control.",
		Permission{
			Actions:     []string{"Microsoft.Storage/storageAccounts/blobServices/containers/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"},
			DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"},
		}),
	armRole(StorageBlobDataContributor, "Storage Blob Data Contributor", "Read, write, and delete Azure Storage containers and blobs.",
		Permission{
			Actions: []string{
				"Microsoft.Storage/storageAccounts/blobServices/containers/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/read",
				"Microsoft.Storage/storageAccounts/blobServices/containers/write", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
			},
			DataActions: []string{
				"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
				"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
				"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
			},
		}),
	armRole(StorageBlobDataReader, "Storage Blob Data Reader", "Read and list Azure Storage containers and blobs.",
		Permission{
			Actions:     []string{"Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"},
			DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"},
		}),
}

func armRole(id, name, description string, p Permission) RoleDefinition {
	return RoleDefinition{ID: id, RoleName: name, Description: description, Type: TypeBuiltIn, AssignableScopes: []string{"/"}, Permissions: []Permission{p}}
}

// BuiltIns returns the built-in roles of a realm.
func BuiltIns(realm string) []RoleDefinition {
	if strings.HasPrefix(realm, "managedHSM/") {
		return slices.Clone(hsmBuiltIns)
	}
	return slices.Clone(armBuiltIns)
}

// builtIn returns the built-in role of a realm with that id or role name.
func builtIn(realm, idOrName string) (RoleDefinition, bool) {
	roles := armBuiltIns
	if strings.HasPrefix(realm, "managedHSM/") {
		roles = hsmBuiltIns
	}
	for _, d := range roles {
		if strings.EqualFold(d.ID, idOrName) || strings.EqualFold(d.RoleName, idOrName) {
			return d, true
		}
	}
	return RoleDefinition{}, false
}
