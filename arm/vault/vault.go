// Package vault is the resource provider for Microsoft.KeyVault/vaults and
// Microsoft.KeyVault/managedHSMs: the ARM side of keyvault.Service, which
// owns the vaults. The unmodified armkeyvault client works against it.
// Long-running operations complete synchronously.
package vault

import (
	"context"
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/keyvault"
)

// Provider serves the Microsoft.KeyVault resource types.
type Provider struct {
	Keys *keyvault.Service
	ARM  *arm.Service
	// URI returns a vault's or HSM's data-plane URL, with a trailing slash.
	URI func(kind keyvault.VaultKind, name string) string
}

var _ armhttp.Provider = (*Provider)(nil)

const (
	sub     = "/subscriptions/{sub}"
	inGroup = sub + "/resourcegroups/{rg}/providers/microsoft.keyvault"
	inSub   = sub + "/providers/microsoft.keyvault"
)

// Routes lists the provider's routes.
func (p *Provider) Routes() []armhttp.Route {
	return []armhttp.Route{
		{Pattern: "PUT " + inGroup + "/vaults/{name}", Handler: p.putVault},
		{Pattern: "GET " + inGroup + "/vaults/{name}", Handler: p.getVault},
		{Pattern: "PATCH " + inGroup + "/vaults/{name}", Handler: p.patchVault},
		{Pattern: "DELETE " + inGroup + "/vaults/{name}", Handler: p.deleteVault},
		{Pattern: "GET " + inGroup + "/vaults", Handler: p.listVaults},
		{Pattern: "GET " + inSub + "/vaults", Handler: p.listVaults},
		{Pattern: "GET " + inSub + "/deletedvaults", Handler: p.listDeletedVaults},
		{Pattern: "GET " + inSub + "/locations/{loc}/deletedvaults/{name}", Handler: p.getDeletedVault},
		{Pattern: "POST " + inSub + "/locations/{loc}/deletedvaults/{name}/purge", Handler: p.purgeVault},
		{Pattern: "POST " + inSub + "/checknameavailability", Handler: p.checkVaultName},

		{Pattern: "PUT " + inGroup + "/managedhsms/{name}", Handler: p.putHSM},
		{Pattern: "GET " + inGroup + "/managedhsms/{name}", Handler: p.getHSM},
		{Pattern: "PATCH " + inGroup + "/managedhsms/{name}", Handler: p.patchHSM},
		{Pattern: "DELETE " + inGroup + "/managedhsms/{name}", Handler: p.deleteHSM},
		{Pattern: "GET " + inGroup + "/managedhsms", Handler: p.listHSMs},
		{Pattern: "GET " + inSub + "/managedhsms", Handler: p.listHSMs},
		{Pattern: "GET " + inSub + "/deletedmanagedhsms", Handler: p.listDeletedHSMs},
		{Pattern: "GET " + inSub + "/locations/{loc}/deletedmanagedhsms/{name}", Handler: p.getDeletedHSM},
		{Pattern: "POST " + inSub + "/locations/{loc}/deletedmanagedhsms/{name}/purge", Handler: p.purgeHSM},
		{Pattern: "POST " + inSub + "/checkmhsmnameavailability", Handler: p.checkHSMName},
	}
}

// Literals are the path words matched case-insensitively.
func (p *Provider) Literals() []string {
	return []string{"vaults", "deletedvaults", "managedhsms", "deletedmanagedhsms", "purge",
		"checknameavailability", "checkmhsmnameavailability"}
}

// DeleteResourceGroup deletes the vaults and HSMs in a group.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscription, group string) error {
	vs, err := p.Keys.ListVaults(ctx, keyvault.VaultFilter{SubscriptionID: subscription, ResourceGroup: group})
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := p.Keys.DeleteVault(ctx, v.Kind, v.Name); err != nil {
			return err
		}
	}
	return nil
}

// group checks the subscription and resource group of the request.
func (p *Provider) group(r *http.Request) (arm.ResourceGroup, error) {
	return p.ARM.ResourceGroup(r.Context(), r.PathValue("sub"), r.PathValue("rg"))
}

// find returns the live vault of the request's group, or ResourceNotFound.
func (p *Provider) find(r *http.Request, kind keyvault.VaultKind) (keyvault.Vault, error) {
	if _, err := p.group(r); err != nil {
		return keyvault.Vault{}, err
	}
	v, err := p.Keys.GetVault(r.Context(), kind, r.PathValue("name"))
	if err == nil && (v.SubscriptionID != r.PathValue("sub") || !strings.EqualFold(v.ResourceGroup, r.PathValue("rg"))) {
		err = tresor.Errorf(tresor.NotFound, "")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "The Resource 'Microsoft.KeyVault/%s/%s' under resource group '%s' was not found.",
			typeName(kind), r.PathValue("name"), r.PathValue("rg")).WithReason(arm.ReasonResourceNotFound)
	}
	return v, err
}

func typeName(kind keyvault.VaultKind) string {
	if kind == keyvault.ManagedHSM {
		return "managedHSMs"
	}
	return "vaults"
}

func resourceID(v keyvault.Vault) string {
	return arm.ResourceID{Subscription: v.SubscriptionID, ResourceGroup: v.ResourceGroup, Provider: "Microsoft.KeyVault",
		Types: []string{typeName(v.Kind)}, Names: []string{v.Name}}.String()
}

func deletedID(v keyvault.Vault) string {
	t := "deletedVaults"
	if v.Kind == keyvault.ManagedHSM {
		t = "deletedManagedHSMs"
	}
	return arm.ResourceID{Subscription: v.SubscriptionID, Provider: "Microsoft.KeyVault",
		Types: []string{"locations", t}, Names: []string{v.Location, v.Name}}.String()
}

func deletedFrom(v keyvault.Vault) deletedJSON {
	d := deletedJSON{ID: deletedID(v), Name: v.Name, Type: "Microsoft.KeyVault/deletedVaults",
		Properties: deletedProperties{Location: v.Location, DeletionDate: v.Deleted, ScheduledPurgeDate: v.PurgeAt,
			Tags: v.Tags, PurgeProtectionEnabled: v.PurgeProtection}}
	if v.Kind == keyvault.ManagedHSM {
		d.Type, d.Properties.MhsmID = "Microsoft.KeyVault/deletedManagedHSMs", resourceID(v)
	} else {
		d.Properties.VaultID = resourceID(v)
	}
	return d
}

func (p *Provider) list(w http.ResponseWriter, r *http.Request, kind keyvault.VaultKind, conv func(keyvault.Vault) any) error {
	f := keyvault.VaultFilter{Kind: kind, SubscriptionID: r.PathValue("sub"), ResourceGroup: r.PathValue("rg")}
	if f.ResourceGroup != "" {
		if _, err := p.group(r); err != nil {
			return err
		}
	} else if _, err := p.ARM.Subscription(r.Context(), f.SubscriptionID); err != nil {
		return err
	}
	vs, err := p.Keys.ListVaults(r.Context(), f)
	if err != nil {
		return err
	}
	out := listJSON[any]{Value: []any{}}
	for _, v := range vs {
		out.Value = append(out.Value, conv(v))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (p *Provider) listDeleted(w http.ResponseWriter, r *http.Request, kind keyvault.VaultKind) error {
	if _, err := p.ARM.Subscription(r.Context(), r.PathValue("sub")); err != nil {
		return err
	}
	vs, err := p.Keys.ListDeletedVaults(r.Context(), keyvault.VaultFilter{Kind: kind, SubscriptionID: r.PathValue("sub")})
	if err != nil {
		return err
	}
	out := listJSON[deletedJSON]{Value: []deletedJSON{}}
	for _, v := range vs {
		out.Value = append(out.Value, deletedFrom(v))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (p *Provider) deleted(r *http.Request, kind keyvault.VaultKind) (keyvault.Vault, error) {
	v, err := p.Keys.GetDeletedVault(r.Context(), kind, r.PathValue("name"))
	if err == nil && (v.SubscriptionID != r.PathValue("sub") || !strings.EqualFold(v.Location, r.PathValue("loc"))) {
		err = tresor.Errorf(tresor.NotFound, "")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "The Resource 'Microsoft.KeyVault/%s/%s' was not found in deleted state.",
			typeName(kind), r.PathValue("name")).WithReason(arm.ReasonResourceNotFound)
	}
	return v, err
}

func (p *Provider) getDeleted(w http.ResponseWriter, r *http.Request, kind keyvault.VaultKind) error {
	v, err := p.deleted(r, kind)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, deletedFrom(v))
	return nil
}

func (p *Provider) purge(w http.ResponseWriter, r *http.Request, kind keyvault.VaultKind) error {
	v, err := p.deleted(r, kind)
	if err != nil {
		return err
	}
	if err := p.Keys.PurgeDeletedVault(r.Context(), kind, v.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) checkName(w http.ResponseWriter, r *http.Request, kind keyvault.VaultKind) error {
	var in nameRequest
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	res := nameResult{NameAvailable: true}
	if _, err := p.Keys.GetVault(r.Context(), kind, in.Name); err == nil {
		res = nameResult{Reason: "AlreadyExists", Message: "The vault name '" + in.Name + "' is already in use."}
	} else if _, err := p.Keys.GetDeletedVault(r.Context(), kind, in.Name); err == nil {
		res = nameResult{Reason: "AlreadyExists", Message: "The vault name '" + in.Name + "' is in use by a deleted vault; recover or purge it."}
	}
	armhttp.WriteJSON(w, http.StatusOK, res)
	return nil
}

// create stores v (from a PUT) and answers 200 on update, created on
// create.
func (p *Provider) create(r *http.Request, v keyvault.Vault, recover bool) (keyvault.Vault, bool, error) {
	g, err := p.group(r)
	if err != nil {
		return keyvault.Vault{}, false, err
	}
	v.SubscriptionID, v.ResourceGroup, v.Name = r.PathValue("sub"), g.Name, r.PathValue("name")
	if recover {
		got, err := p.Keys.RecoverDeletedVault(r.Context(), v.Kind, v.Name)
		return got, false, err
	}
	if v.TenantID == "" {
		s, err := p.ARM.Subscription(r.Context(), v.SubscriptionID)
		if err != nil {
			return keyvault.Vault{}, false, err
		}
		v.TenantID = s.TenantID
	}
	return p.Keys.CreateOrUpdateVault(r.Context(), v)
}
