package vault

import (
	"time"
)

// Wire shapes of Microsoft.KeyVault (api-version 2024-11-01), named as in
// the spec. Pointers distinguish "absent" (keep) from a value on PATCH.

type sku struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

type permissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

type accessPolicyEntry struct {
	TenantID      string      `json:"tenantId"`
	ObjectID      string      `json:"objectId"`
	ApplicationID string      `json:"applicationId,omitempty"`
	Permissions   permissions `json:"permissions"`
}

type vaultProperties struct {
	TenantID                     *string             `json:"tenantId,omitempty"`
	SKU                          *sku                `json:"sku,omitempty"`
	AccessPolicies               []accessPolicyEntry `json:"accessPolicies"`
	VaultURI                     string              `json:"vaultUri,omitempty"`
	EnabledForDeployment         *bool               `json:"enabledForDeployment,omitempty"`
	EnabledForDiskEncryption     *bool               `json:"enabledForDiskEncryption,omitempty"`
	EnabledForTemplateDeployment *bool               `json:"enabledForTemplateDeployment,omitempty"`
	EnableSoftDelete             *bool               `json:"enableSoftDelete,omitempty"`
	SoftDeleteRetentionInDays    *int                `json:"softDeleteRetentionInDays,omitempty"`
	EnableRbacAuthorization      *bool               `json:"enableRbacAuthorization,omitempty"`
	EnablePurgeProtection        *bool               `json:"enablePurgeProtection,omitempty"`
	CreateMode                   *string             `json:"createMode,omitempty"`
	PublicNetworkAccess          *string             `json:"publicNetworkAccess,omitempty"`
	ProvisioningState            string              `json:"provisioningState,omitempty"`
}

type vaultJSON struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   *string           `json:"location,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties *vaultProperties  `json:"properties,omitempty"`
}

type hsmProperties struct {
	TenantID                  *string  `json:"tenantId,omitempty"`
	InitialAdminObjectIDs     []string `json:"initialAdminObjectIds,omitempty"`
	HsmURI                    string   `json:"hsmUri,omitempty"`
	EnableSoftDelete          *bool    `json:"enableSoftDelete,omitempty"`
	SoftDeleteRetentionInDays *int     `json:"softDeleteRetentionInDays,omitempty"`
	EnablePurgeProtection     *bool    `json:"enablePurgeProtection,omitempty"`
	CreateMode                *string  `json:"createMode,omitempty"`
	PublicNetworkAccess       *string  `json:"publicNetworkAccess,omitempty"`
	ProvisioningState         string   `json:"provisioningState,omitempty"`
	StatusMessage             string   `json:"statusMessage,omitempty"`
}

type hsmJSON struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   *string           `json:"location,omitempty"`
	SKU        *sku              `json:"sku,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties *hsmProperties    `json:"properties,omitempty"`
}

type deletedProperties struct {
	VaultID                string            `json:"vaultId,omitempty"`
	MhsmID                 string            `json:"mhsmId,omitempty"`
	Location               string            `json:"location"`
	DeletionDate           time.Time         `json:"deletionDate"`
	ScheduledPurgeDate     time.Time         `json:"scheduledPurgeDate"`
	Tags                   map[string]string `json:"tags,omitempty"`
	PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
}

type deletedJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Properties deletedProperties `json:"properties"`
}

type listJSON[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink,omitempty"`
}

type nameRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type nameResult struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason,omitempty"`
	Message       string `json:"message,omitempty"`
}
