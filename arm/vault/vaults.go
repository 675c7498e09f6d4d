package vault

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

func ptr[T any](v T) *T { return &v }

func (p *Provider) vaultFrom(v keyvault.Vault) any {
	props := &vaultProperties{
		TenantID:                     ptr(v.TenantID),
		SKU:                          &sku{Family: "A", Name: v.SKU},
		AccessPolicies:               []accessPolicyEntry{},
		VaultURI:                     p.URI(v.Kind, v.Name),
		EnabledForDeployment:         ptr(v.EnabledForDeployment),
		EnabledForDiskEncryption:     ptr(v.EnabledForDiskEncryption),
		EnabledForTemplateDeployment: ptr(v.EnabledForTemplateDeployment),
		EnableSoftDelete:             ptr(v.SoftDelete),
		EnableRbacAuthorization:      ptr(v.RBAC),
		PublicNetworkAccess:          ptr(v.PublicNetworkAccess),
		ProvisioningState:            "Succeeded",
	}
	if v.SoftDelete {
		props.SoftDeleteRetentionInDays = ptr(v.RetentionDays)
	}
	if v.PurgeProtection {
		props.EnablePurgeProtection = ptr(true)
	}
	for _, a := range v.AccessPolicies {
		props.AccessPolicies = append(props.AccessPolicies, accessPolicyEntry{TenantID: a.TenantID, ObjectID: a.ObjectID,
			ApplicationID: a.ApplicationID, Permissions: permissions{Keys: a.Keys, Secrets: a.Secrets, Certificates: a.Certificates, Storage: a.Storage}})
	}
	return vaultJSON{ID: resourceID(v), Name: v.Name, Type: "Microsoft.KeyVault/vaults", Location: ptr(v.Location), Tags: v.Tags, Properties: props}
}

// applyVault merges the properties given in a request onto v.
func applyVault(v *keyvault.Vault, in vaultProperties) error {
	if in.TenantID != nil {
		v.TenantID = *in.TenantID
	}
	if in.SKU != nil {
		name := strings.ToLower(in.SKU.Name)
		if name != "standard" && name != "premium" {
			return tresor.Errorf(tresor.Invalid, "The SKU name '%s' is invalid; use standard or premium.", in.SKU.Name).WithReason(arm.ReasonInvalidParameter)
		}
		v.SKU = name
	}
	if in.AccessPolicies != nil {
		v.AccessPolicies = nil
		for _, a := range in.AccessPolicies {
			v.AccessPolicies = append(v.AccessPolicies, keyvault.AccessPolicy{TenantID: a.TenantID, ObjectID: a.ObjectID,
				ApplicationID: a.ApplicationID, Keys: a.Permissions.Keys, Secrets: a.Permissions.Secrets,
				Certificates: a.Permissions.Certificates, Storage: a.Permissions.Storage})
		}
	}
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&v.EnabledForDeployment, in.EnabledForDeployment)
	set(&v.EnabledForDiskEncryption, in.EnabledForDiskEncryption)
	set(&v.EnabledForTemplateDeployment, in.EnabledForTemplateDeployment)
	set(&v.SoftDelete, in.EnableSoftDelete)
	set(&v.RBAC, in.EnableRbacAuthorization)
	set(&v.PurgeProtection, in.EnablePurgeProtection)
	if in.SoftDeleteRetentionInDays != nil {
		v.RetentionDays = *in.SoftDeleteRetentionInDays
	}
	if in.PublicNetworkAccess != nil {
		v.PublicNetworkAccess = *in.PublicNetworkAccess
	}
	return nil
}

func isRecover(mode *string) bool { return mode != nil && strings.EqualFold(*mode, "recover") }

func (p *Provider) putVault(w http.ResponseWriter, r *http.Request) error {
	var in vaultJSON
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Location == nil || *in.Location == "" {
		return tresor.Errorf(tresor.Invalid, "The 'location' property is required.").WithReason("LocationRequired")
	}
	if in.Properties == nil {
		return tresor.Errorf(tresor.Invalid, "The 'properties' property is required.").WithReason(arm.ReasonInvalidParameter)
	}
	v := keyvault.Vault{Kind: keyvault.KeyVault, Location: strings.ToLower(*in.Location), Tags: in.Tags,
		SKU: "standard", SoftDelete: true, PublicNetworkAccess: "Enabled"}
	if old, err := p.Keys.GetVault(r.Context(), keyvault.KeyVault, r.PathValue("name")); err == nil {
		// A PUT on an existing vault keeps what it does not mention that
		// Azure treats as sticky (purge protection, soft delete).
		v.PurgeProtection, v.SoftDelete, v.RetentionDays = old.PurgeProtection, old.SoftDelete, old.RetentionDays
	}
	if err := applyVault(&v, *in.Properties); err != nil {
		return err
	}
	got, created, err := p.create(r, v, isRecover(in.Properties.CreateMode))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, p.vaultFrom(got))
	return nil
}

func (p *Provider) getVault(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, keyvault.KeyVault)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.vaultFrom(v))
	return nil
}

func (p *Provider) patchVault(w http.ResponseWriter, r *http.Request) error {
	var in vaultJSON
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	v, err := p.find(r, keyvault.KeyVault)
	if err != nil {
		return err
	}
	if in.Tags != nil {
		v.Tags = in.Tags
	}
	if in.Properties != nil {
		if err := applyVault(&v, *in.Properties); err != nil {
			return err
		}
	}
	got, _, err := p.Keys.CreateOrUpdateVault(r.Context(), v)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.vaultFrom(got))
	return nil
}

func (p *Provider) deleteVault(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, keyvault.KeyVault)
	if tresor.IsKind(err, tresor.NotFound) {
		var te *tresor.Error
		if asReason(err, &te) && te.Reason == arm.ReasonResourceNotFound {
			w.WriteHeader(http.StatusNoContent) // deleting what is not there succeeds, as in ARM
			return nil
		}
	}
	if err != nil {
		return err
	}
	if err := p.Keys.DeleteVault(r.Context(), v.Kind, v.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) listVaults(w http.ResponseWriter, r *http.Request) error {
	return p.list(w, r, keyvault.KeyVault, p.vaultFrom)
}

func (p *Provider) listDeletedVaults(w http.ResponseWriter, r *http.Request) error {
	return p.listDeleted(w, r, keyvault.KeyVault)
}

func (p *Provider) getDeletedVault(w http.ResponseWriter, r *http.Request) error {
	return p.getDeleted(w, r, keyvault.KeyVault)
}

func (p *Provider) purgeVault(w http.ResponseWriter, r *http.Request) error {
	return p.purge(w, r, keyvault.KeyVault)
}

func (p *Provider) checkVaultName(w http.ResponseWriter, r *http.Request) error {
	return p.checkName(w, r, keyvault.KeyVault)
}
