package vault

import (
	"net/http"

	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

// vaultResource is Vault, the response shape.
type vaultResource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *systemData       `json:"systemData,omitempty"`
	Properties vaultProperties   `json:"properties"`
}

type vaultProperties struct {
	TenantID                     string              `json:"tenantId"`
	SKU                          sku                 `json:"sku"`
	AccessPolicies               []accessPolicyEntry `json:"accessPolicies"`
	VaultURI                     string              `json:"vaultUri,omitempty"`
	EnabledForDeployment         bool                `json:"enabledForDeployment"`
	EnabledForDiskEncryption     bool                `json:"enabledForDiskEncryption"`
	EnabledForTemplateDeployment bool                `json:"enabledForTemplateDeployment"`
	EnableSoftDelete             bool                `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays    int                 `json:"softDeleteRetentionInDays,omitempty"`
	EnableRbacAuthorization      bool                `json:"enableRbacAuthorization"`
	// Azure leaves enablePurgeProtection out unless it is on.
	EnablePurgeProtection *bool  `json:"enablePurgeProtection,omitempty"`
	PublicNetworkAccess   string `json:"publicNetworkAccess"`
	ProvisioningState     string `json:"provisioningState"`
}

// vaultParameters is VaultCreateOrUpdateParameters and VaultPatchParameters:
// pointers tell absent properties from zero ones.
type vaultParameters struct {
	Location   *string            `json:"location"`
	Tags       *map[string]string `json:"tags"`
	Properties *struct {
		TenantID                     *string              `json:"tenantId"`
		SKU                          *sku                 `json:"sku"`
		AccessPolicies               *[]accessPolicyEntry `json:"accessPolicies"`
		CreateMode                   *string              `json:"createMode"`
		EnabledForDeployment         *bool                `json:"enabledForDeployment"`
		EnabledForDiskEncryption     *bool                `json:"enabledForDiskEncryption"`
		EnabledForTemplateDeployment *bool                `json:"enabledForTemplateDeployment"`
		EnableSoftDelete             *bool                `json:"enableSoftDelete"`
		SoftDeleteRetentionInDays    *int                 `json:"softDeleteRetentionInDays"`
		EnableRbacAuthorization      *bool                `json:"enableRbacAuthorization"`
		EnablePurgeProtection        *bool                `json:"enablePurgeProtection"`
		PublicNetworkAccess          *string              `json:"publicNetworkAccess"`
	} `json:"properties"`
}

func (in vaultParameters) settings() (settings, error) {
	s := settings{kind: keyvault.KeyVault, location: in.Location, tags: in.Tags}
	if p := in.Properties; p != nil {
		s.tenantID, s.sku, s.accessPolicies = p.TenantID, p.SKU, p.AccessPolicies
		s.deployment, s.diskEncryption, s.templateDeployment = p.EnabledForDeployment, p.EnabledForDiskEncryption, p.EnabledForTemplateDeployment
		s.softDelete, s.retentionDays, s.rbac = p.EnableSoftDelete, p.SoftDeleteRetentionInDays, p.EnableRbacAuthorization
		s.purgeProtection, s.publicNetworkAccess = p.EnablePurgeProtection, p.PublicNetworkAccess
		var err error
		if s.recover, err = createMode(p.CreateMode); err != nil {
			return settings{}, err
		}
	}
	return s, nil
}

func (p *Provider) vaultFrom(v keyvault.Vault) vaultResource {
	out := vaultResource{
		ID:         resourceID(v).String(),
		Name:       v.Name,
		Type:       namespace + "/" + vaultType.name,
		Location:   v.Location,
		Tags:       tagsOf(v),
		SystemData: systemDataOf(v),
		Properties: vaultProperties{
			TenantID:                     v.TenantID,
			SKU:                          skuOf(v.Kind, v.SKU),
			AccessPolicies:               accessPolicyEntries(v.AccessPolicies),
			EnabledForDeployment:         v.EnabledForDeployment,
			EnabledForDiskEncryption:     v.EnabledForDiskEncryption,
			EnabledForTemplateDeployment: v.EnabledForTemplateDeployment,
			EnableSoftDelete:             v.SoftDelete,
			EnableRbacAuthorization:      v.RBAC,
			PublicNetworkAccess:          v.PublicNetworkAccess,
			ProvisioningState:            "Succeeded",
		},
	}
	if p.URI != nil {
		out.Properties.VaultURI = p.URI(v.Kind, v.Name)
	}
	if v.SoftDelete {
		out.Properties.SoftDeleteRetentionInDays = v.RetentionDays
	}
	if v.PurgeProtection {
		t := true
		out.Properties.EnablePurgeProtection = &t
	}
	return out
}

// createOrUpdateVault answers 201 on create and 200 on update or recovery,
// with provisioningState Succeeded, so BeginCreateOrUpdate's poller is done
// without polling.
func (p *Provider) createOrUpdateVault(w http.ResponseWriter, r *http.Request) error {
	var in vaultParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	v, created, err := p.createOrUpdate(r, vaultType, s)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, p.vaultFrom(v))
	return nil
}

func (p *Provider) getVault(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, vaultType)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.vaultFrom(v))
	return nil
}

func (p *Provider) updateVault(w http.ResponseWriter, r *http.Request) error {
	var in vaultParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	s.recover = false
	v, err := p.update(r, vaultType, s)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.vaultFrom(v))
	return nil
}

// deleteVault answers 200 when it deletes the vault and 204 when there was
// none.
func (p *Provider) deleteVault(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.delete(r, vaultType)
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

// listVaults serves ListByResourceGroup and ListBySubscription.
func (p *Provider) listVaults(w http.ResponseWriter, r *http.Request) error {
	vs, next, err := p.list(r, vaultType)
	if err != nil {
		return err
	}
	out := armhttp.List[vaultResource]{Value: make([]vaultResource, 0, len(vs)), NextLink: next}
	for _, v := range vs {
		out.Value = append(out.Value, p.vaultFrom(v))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (p *Provider) checkNameAvailability(w http.ResponseWriter, r *http.Request) error {
	return p.checkName(w, r, vaultType)
}
