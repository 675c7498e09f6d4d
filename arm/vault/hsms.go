package vault

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

func asReason(err error, te **tresor.Error) bool { return errors.As(err, te) }

func (p *Provider) hsmFrom(v keyvault.Vault) any {
	props := &hsmProperties{
		TenantID:              ptr(v.TenantID),
		InitialAdminObjectIDs: v.InitialAdmins,
		HsmURI:                p.URI(v.Kind, v.Name),
		EnableSoftDelete:      ptr(v.SoftDelete),
		PublicNetworkAccess:   ptr(v.PublicNetworkAccess),
		ProvisioningState:     "Succeeded",
		StatusMessage:         "The Managed HSM is provisioned and ready to use.",
	}
	if v.SoftDelete {
		props.SoftDeleteRetentionInDays = ptr(v.RetentionDays)
	}
	props.EnablePurgeProtection = ptr(v.PurgeProtection)
	return hsmJSON{ID: resourceID(v), Name: v.Name, Type: "Microsoft.KeyVault/managedHSMs", Location: ptr(v.Location),
		SKU: &sku{Family: "B", Name: v.SKU}, Tags: v.Tags, Properties: props}
}

func applyHSM(v *keyvault.Vault, in hsmJSON) error {
	if in.SKU != nil {
		if !strings.EqualFold(in.SKU.Name, "Standard_B1") && !strings.EqualFold(in.SKU.Name, "Custom_B32") && !strings.EqualFold(in.SKU.Name, "Custom_B6") {
			return tresor.Errorf(tresor.Invalid, "The SKU name '%s' is invalid for a managed HSM.", in.SKU.Name).WithReason(arm.ReasonInvalidParameter)
		}
		v.SKU = in.SKU.Name
	}
	if in.Tags != nil {
		v.Tags = in.Tags
	}
	if in.Properties == nil {
		return nil
	}
	pr := in.Properties
	if pr.TenantID != nil {
		v.TenantID = *pr.TenantID
	}
	if pr.InitialAdminObjectIDs != nil {
		v.InitialAdmins = pr.InitialAdminObjectIDs
	}
	if pr.EnableSoftDelete != nil {
		v.SoftDelete = *pr.EnableSoftDelete
	}
	if pr.SoftDeleteRetentionInDays != nil {
		v.RetentionDays = *pr.SoftDeleteRetentionInDays
	}
	if pr.EnablePurgeProtection != nil {
		v.PurgeProtection = *pr.EnablePurgeProtection
	}
	if pr.PublicNetworkAccess != nil {
		v.PublicNetworkAccess = *pr.PublicNetworkAccess
	}
	return nil
}

func (p *Provider) putHSM(w http.ResponseWriter, r *http.Request) error {
	var in hsmJSON
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Location == nil || *in.Location == "" {
		return tresor.Errorf(tresor.Invalid, "The 'location' property is required.").WithReason("LocationRequired")
	}
	// Managed HSMs always have soft delete; RBAC is their only access model.
	v := keyvault.Vault{Kind: keyvault.ManagedHSM, Location: strings.ToLower(*in.Location), SKU: "Standard_B1",
		SoftDelete: true, RBAC: true, PublicNetworkAccess: "Enabled"}
	if old, err := p.Keys.GetVault(r.Context(), keyvault.ManagedHSM, r.PathValue("name")); err == nil {
		v.PurgeProtection, v.RetentionDays = old.PurgeProtection, old.RetentionDays
	}
	if err := applyHSM(&v, in); err != nil {
		return err
	}
	if in.Properties != nil && len(v.InitialAdmins) == 0 && !isRecover(in.Properties.CreateMode) {
		return tresor.Errorf(tresor.Invalid, "At least one initial administrator (initialAdminObjectIds) is required.").WithReason(arm.ReasonInvalidParameter)
	}
	recover := in.Properties != nil && isRecover(in.Properties.CreateMode)
	got, _, err := p.create(r, v, recover)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(got))
	return nil
}

func (p *Provider) getHSM(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, keyvault.ManagedHSM)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(v))
	return nil
}

func (p *Provider) patchHSM(w http.ResponseWriter, r *http.Request) error {
	var in hsmJSON
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	v, err := p.find(r, keyvault.ManagedHSM)
	if err != nil {
		return err
	}
	if err := applyHSM(&v, in); err != nil {
		return err
	}
	got, _, err := p.Keys.CreateOrUpdateVault(r.Context(), v)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(got))
	return nil
}

func (p *Provider) deleteHSM(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, keyvault.ManagedHSM)
	if err != nil {
		return err
	}
	if err := p.Keys.DeleteVault(r.Context(), v.Kind, v.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) listHSMs(w http.ResponseWriter, r *http.Request) error {
	return p.list(w, r, keyvault.ManagedHSM, p.hsmFrom)
}

func (p *Provider) listDeletedHSMs(w http.ResponseWriter, r *http.Request) error {
	return p.listDeleted(w, r, keyvault.ManagedHSM)
}

func (p *Provider) getDeletedHSM(w http.ResponseWriter, r *http.Request) error {
	return p.getDeleted(w, r, keyvault.ManagedHSM)
}

func (p *Provider) purgeHSM(w http.ResponseWriter, r *http.Request) error {
	return p.purge(w, r, keyvault.ManagedHSM)
}

func (p *Provider) checkHSMName(w http.ResponseWriter, r *http.Request) error {
	return p.checkName(w, r, keyvault.ManagedHSM)
}
