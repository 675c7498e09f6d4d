package vault

import (
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
)

// deletedResource is DeletedVault and DeletedManagedHsm.
type deletedResource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Properties deletedProperties `json:"properties"`
}

type deletedProperties struct {
	VaultID                string            `json:"vaultId,omitempty"`
	MhsmID                 string            `json:"mhsmId,omitempty"`
	Location               string            `json:"location"`
	DeletionDate           time.Time         `json:"deletionDate"`
	ScheduledPurgeDate     time.Time         `json:"scheduledPurgeDate"`
	Tags                   map[string]string `json:"tags"`
	PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
}

// deletedID is /subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}.
func deletedID(v keyvault.Vault) arm.ResourceID {
	return arm.ResourceID{
		Subscription: v.SubscriptionID,
		Provider:     namespace,
		Types:        []string{"locations", typeOf(v.Kind).deleted},
		Names:        []string{v.Location, v.Name},
	}
}

func deletedFrom(v keyvault.Vault) deletedResource {
	t := typeOf(v.Kind)
	out := deletedResource{
		ID:   deletedID(v).String(),
		Name: v.Name,
		Type: namespace + "/" + t.deleted,
		Properties: deletedProperties{
			Location:               v.Location,
			DeletionDate:           v.Deleted,
			ScheduledPurgeDate:     v.PurgeAt,
			Tags:                   tagsOf(v),
			PurgeProtectionEnabled: v.PurgeProtection,
		},
	}
	if v.Kind == keyvault.ManagedHSM {
		out.Properties.MhsmID = resourceID(v).String()
	} else {
		out.Properties.VaultID = resourceID(v).String()
	}
	return out
}

// deleted returns the soft-deleted vault of type t that the request names by
// location and name in its subscription.
func (p *Provider) deleted(r *http.Request, t resourceType) (keyvault.Vault, error) {
	name, loc := r.PathValue("name"), arm.NormalizeLocation(r.PathValue("location"))
	v, err := p.Keys.GetDeletedVault(r.Context(), t.kind, name)
	if err == nil && (v.SubscriptionID != armhttp.Subscription(r).ID || !strings.EqualFold(v.Location, loc)) {
		err = tresor.Errorf(tresor.NotFound, "elsewhere")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "The deleted resource '%s/%s/%s' was not found in location '%s'.",
			namespace, t.deleted, name, loc).WithReason(arm.ReasonResourceNotFound)
	}
	return v, err
}

func (p *Provider) listDeleted(w http.ResponseWriter, r *http.Request, t resourceType) error {
	vs, err := p.Keys.ListDeletedVaults(r.Context(), keyvault.VaultFilter{Kind: t.kind, SubscriptionID: armhttp.Subscription(r).ID})
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, vs, func(v keyvault.Vault) string { return strings.ToLower(v.Name) })
	if err != nil {
		return err
	}
	out := armhttp.List[deletedResource]{Value: make([]deletedResource, 0, len(page)), NextLink: next}
	for _, v := range page {
		out.Value = append(out.Value, deletedFrom(v))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (p *Provider) getDeleted(w http.ResponseWriter, r *http.Request, t resourceType) error {
	v, err := p.deleted(r, t)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, deletedFrom(v))
	return nil
}

// purgeDeleted purges at once and answers 202 with a Location that reports
// success, which both clients' BeginPurgeDeleted accept. Purge protection
// makes it Conflict until the scheduled purge date.
func (p *Provider) purgeDeleted(w http.ResponseWriter, r *http.Request, t resourceType) error {
	v, err := p.deleted(r, t)
	if err != nil {
		return err
	}
	if err := p.Keys.PurgeDeletedVault(r.Context(), t.kind, v.Name); err != nil {
		return err
	}
	if t.kind == keyvault.ManagedHSM && p.RBAC != nil {
		// The realm is keyed by the HSM's internal id, never reused, so
		// this only reclaims space.
		if err := p.RBAC.DeleteRealm(r.Context(), rbac.HSMRealm(v.ID)); err != nil {
			return err
		}
	}
	armhttp.Accepted(w, r)
	return nil
}

func (p *Provider) listDeletedVaults(w http.ResponseWriter, r *http.Request) error {
	return p.listDeleted(w, r, vaultType)
}

func (p *Provider) getDeletedVault(w http.ResponseWriter, r *http.Request) error {
	return p.getDeleted(w, r, vaultType)
}

func (p *Provider) purgeDeletedVault(w http.ResponseWriter, r *http.Request) error {
	return p.purgeDeleted(w, r, vaultType)
}

func (p *Provider) listDeletedHSMs(w http.ResponseWriter, r *http.Request) error {
	return p.listDeleted(w, r, hsmType)
}

func (p *Provider) getDeletedHSM(w http.ResponseWriter, r *http.Request) error {
	return p.getDeleted(w, r, hsmType)
}

func (p *Provider) purgeDeletedHSM(w http.ResponseWriter, r *http.Request) error {
	return p.purgeDeleted(w, r, hsmType)
}
