package vault

import (
	"net/http"

	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

// managedHSM is ManagedHsm, the request and response shape.
type managedHSM struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SKU        sku               `json:"sku"`
	SystemData *systemData       `json:"systemData,omitempty"`
	Properties hsmProperties     `json:"properties"`
}

type hsmProperties struct {
	TenantID                  string                   `json:"tenantId"`
	InitialAdminObjectIDs     []string                 `json:"initialAdminObjectIds"`
	HsmURI                    string                   `json:"hsmUri,omitempty"`
	EnableSoftDelete          bool                     `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays int                      `json:"softDeleteRetentionInDays"`
	EnablePurgeProtection     bool                     `json:"enablePurgeProtection"`
	PublicNetworkAccess       string                   `json:"publicNetworkAccess"`
	ProvisioningState         string                   `json:"provisioningState"`
	StatusMessage             string                   `json:"statusMessage"`
	SecurityDomainProperties  securityDomainProperties `json:"securityDomainProperties"`
}

// securityDomainProperties says the HSM is active: tresor's HSMs need no
// security domain download before use.
type securityDomainProperties struct {
	ActivationStatus        string `json:"activationStatus"`
	ActivationStatusMessage string `json:"activationStatusMessage"`
}

// hsmParameters is ManagedHsm as a request: pointers tell absent
// properties from zero ones.
type hsmParameters struct {
	Location   *string            `json:"location"`
	Tags       *map[string]string `json:"tags"`
	SKU        *sku               `json:"sku"`
	Properties *struct {
		TenantID                  *string   `json:"tenantId"`
		InitialAdminObjectIDs     *[]string `json:"initialAdminObjectIds"`
		CreateMode                *string   `json:"createMode"`
		EnableSoftDelete          *bool     `json:"enableSoftDelete"`
		SoftDeleteRetentionInDays *int      `json:"softDeleteRetentionInDays"`
		EnablePurgeProtection     *bool     `json:"enablePurgeProtection"`
		PublicNetworkAccess       *string   `json:"publicNetworkAccess"`
	} `json:"properties"`
}

func (in hsmParameters) settings() (settings, error) {
	s := settings{kind: keyvault.ManagedHSM, location: in.Location, tags: in.Tags, sku: in.SKU}
	if p := in.Properties; p != nil {
		s.tenantID, s.initialAdmins = p.TenantID, p.InitialAdminObjectIDs
		s.softDelete, s.retentionDays, s.purgeProtection = p.EnableSoftDelete, p.SoftDeleteRetentionInDays, p.EnablePurgeProtection
		s.publicNetworkAccess = p.PublicNetworkAccess
		var err error
		if s.recover, err = createMode(p.CreateMode); err != nil {
			return settings{}, err
		}
	}
	return s, nil
}

func (p *Provider) hsmFrom(v keyvault.Vault) managedHSM {
	out := managedHSM{
		ID:         resourceID(v).String(),
		Name:       v.Name,
		Type:       namespace + "/" + hsmType.name,
		Location:   v.Location,
		Tags:       tagsOf(v),
		SKU:        skuOf(v.Kind, v.SKU),
		SystemData: systemDataOf(v),
		Properties: hsmProperties{
			TenantID:                  v.TenantID,
			InitialAdminObjectIDs:     append([]string{}, v.InitialAdmins...),
			EnableSoftDelete:          v.SoftDelete,
			SoftDeleteRetentionInDays: v.RetentionDays,
			EnablePurgeProtection:     v.PurgeProtection,
			PublicNetworkAccess:       v.PublicNetworkAccess,
			ProvisioningState:         "Succeeded",
			StatusMessage:             "The Managed HSM is provisioned and ready to use.",
			SecurityDomainProperties: securityDomainProperties{
				ActivationStatus:        "Active",
				ActivationStatusMessage: "The Managed HSM is active.",
			},
		},
	}
	if p.URI != nil {
		out.Properties.HsmURI = p.URI(v.Kind, v.Name)
	}
	return out
}

// createOrUpdateHSM answers 200 with provisioningState Succeeded on create
// and update alike: the client accepts 200 or 202 here, not 201.
func (p *Provider) createOrUpdateHSM(w http.ResponseWriter, r *http.Request) error {
	var in hsmParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	v, _, err := p.createOrUpdate(r, hsmType, s)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(v))
	return nil
}

func (p *Provider) getHSM(w http.ResponseWriter, r *http.Request) error {
	v, err := p.find(r, hsmType)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(v))
	return nil
}

// updateHSM answers BeginUpdate with 200 and provisioningState Succeeded.
func (p *Provider) updateHSM(w http.ResponseWriter, r *http.Request) error {
	var in hsmParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	s.recover = false
	v, err := p.update(r, hsmType, s)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.hsmFrom(v))
	return nil
}

// deleteHSM answers BeginDelete with 202 and a Location that reports
// success, or 204 if there was no HSM.
func (p *Provider) deleteHSM(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.delete(r, hsmType)
	if err != nil {
		return err
	}
	if !deleted {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	armhttp.Accepted(w, r)
	return nil
}

// listHSMs serves ListByResourceGroup and ListBySubscription.
func (p *Provider) listHSMs(w http.ResponseWriter, r *http.Request) error {
	vs, next, err := p.list(r, hsmType)
	if err != nil {
		return err
	}
	out := armhttp.List[managedHSM]{Value: make([]managedHSM, 0, len(vs)), NextLink: next}
	for _, v := range vs {
		out.Value = append(out.Value, p.hsmFrom(v))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (p *Provider) checkMhsmNameAvailability(w http.ResponseWriter, r *http.Request) error {
	return p.checkName(w, r, hsmType)
}
