// Package vault is the resource provider for Microsoft.KeyVault/vaults and
// Microsoft.KeyVault/managedHSMs: the ARM face of keyvault.Service, which
// owns the vaults and their rules. The unmodified armkeyvault client works
// against it.
//
// Long-running operations complete before the response is written; the
// status codes and bodies are chosen so that the SDKs' pollers finish at
// once (provisioningState "Succeeded", or 202 with a Location that reports
// success).
package vault

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
)

// Provider serves the Microsoft.KeyVault vault and managed HSM resource
// types.
type Provider struct {
	Keys *keyvault.Service
	ARM  *arm.Service
	// RBAC holds the local role assignments of managed HSMs; nil skips
	// granting the initial administrators their role.
	RBAC *rbac.Service
	// URI returns the data-plane URL of a vault or HSM, with a trailing
	// slash: https://{name}.vault.{domain}:{port}/.
	URI func(kind keyvault.VaultKind, name string) string
	// Deleted, if set, is told the ARM id of each vault or HSM deleted
	// through a request, so that extension resources on it (event
	// subscriptions) go with it, as in Azure.
	Deleted func(ctx context.Context, id string) error
}

// New returns a Provider.
func New(keys *keyvault.Service, armSvc *arm.Service, uri func(kind keyvault.VaultKind, name string) string) *Provider {
	return &Provider{Keys: keys, ARM: armSvc, URI: uri}
}

var _ armhttp.Provider = (*Provider)(nil)

const namespace = "Microsoft.KeyVault"

// resourceType describes one of the two resource types.
type resourceType struct {
	kind    keyvault.VaultKind
	name    string // "vaults"
	deleted string // "deletedVaults"
}

var (
	vaultType = resourceType{kind: keyvault.KeyVault, name: "vaults", deleted: "deletedVaults"}
	hsmType   = resourceType{kind: keyvault.ManagedHSM, name: "managedHSMs", deleted: "deletedManagedHSMs"}
)

func typeOf(kind keyvault.VaultKind) resourceType {
	if kind == keyvault.ManagedHSM {
		return hsmType
	}
	return vaultType
}

// Routes returns the provider's routes, as armkeyvault 2024-11-01 calls them.
func (p *Provider) Routes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.KeyVault"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.KeyVault"
	)
	return []armhttp.Route{
		{Pattern: "PUT " + group + "/vaults/{name}", Handler: p.createOrUpdateVault},
		{Pattern: "GET " + group + "/vaults/{name}", Handler: p.getVault},
		{Pattern: "PATCH " + group + "/vaults/{name}", Handler: p.updateVault},
		{Pattern: "DELETE " + group + "/vaults/{name}", Handler: p.deleteVault},
		{Pattern: "GET " + group + "/vaults", Handler: p.listVaults},
		{Pattern: "GET " + sub + "/vaults", Handler: p.listVaults},
		{Pattern: "GET " + sub + "/deletedVaults", Handler: p.listDeletedVaults},
		{Pattern: "GET " + sub + "/locations/{location}/deletedVaults/{name}", Handler: p.getDeletedVault},
		{Pattern: "POST " + sub + "/locations/{location}/deletedVaults/{name}/purge", Handler: p.purgeDeletedVault},
		{Pattern: "POST " + sub + "/checkNameAvailability", Handler: p.checkNameAvailability},

		{Pattern: "PUT " + group + "/managedHSMs/{name}", Handler: p.createOrUpdateHSM},
		{Pattern: "GET " + group + "/managedHSMs/{name}", Handler: p.getHSM},
		{Pattern: "PATCH " + group + "/managedHSMs/{name}", Handler: p.updateHSM},
		{Pattern: "DELETE " + group + "/managedHSMs/{name}", Handler: p.deleteHSM},
		{Pattern: "GET " + group + "/managedHSMs", Handler: p.listHSMs},
		{Pattern: "GET " + sub + "/managedHSMs", Handler: p.listHSMs},
		{Pattern: "GET " + sub + "/deletedManagedHSMs", Handler: p.listDeletedHSMs},
		{Pattern: "GET " + sub + "/locations/{location}/deletedManagedHSMs/{name}", Handler: p.getDeletedHSM},
		{Pattern: "POST " + sub + "/locations/{location}/deletedManagedHSMs/{name}/purge", Handler: p.purgeDeletedHSM},
		{Pattern: "POST " + sub + "/checkMhsmNameAvailability", Handler: p.checkMhsmNameAvailability},
	}
}

// Resources lists the live vaults and HSMs of a subscription.
func (p *Provider) Resources(ctx context.Context, subscriptionID string) ([]arm.Resource, error) {
	vs, err := p.Keys.ListVaults(ctx, keyvault.VaultFilter{SubscriptionID: subscriptionID})
	if err != nil {
		return nil, err
	}
	out := make([]arm.Resource, 0, len(vs))
	for _, v := range vs {
		out = append(out, arm.Resource{ID: resourceID(v), Location: v.Location, Tags: v.Tags})
	}
	return out, nil
}

// DeleteResourceGroup deletes the live vaults and HSMs in a group. Those
// with soft delete stay recoverable, as in Azure, where deleted vaults
// outlive their group.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	vs, err := p.Keys.ListVaults(ctx, keyvault.VaultFilter{SubscriptionID: subscriptionID, ResourceGroup: group})
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := p.Keys.DeleteVault(ctx, v.Kind, v.Name); err != nil && !tresor.IsKind(err, tresor.NotFound) {
			return err
		}
	}
	return nil
}

// resourceID is the ARM id of a live vault or HSM.
func resourceID(v keyvault.Vault) arm.ResourceID {
	return arm.ResourceID{
		Subscription:  v.SubscriptionID,
		ResourceGroup: v.ResourceGroup,
		Provider:      namespace,
		Types:         []string{typeOf(v.Kind).name},
		Names:         []string{v.Name},
	}
}

// group returns the request's resource group. NotFound
// (ReasonResourceGroupNotFound) if it does not exist.
func (p *Provider) group(r *http.Request) (arm.ResourceGroup, error) {
	return p.ARM.GetResourceGroup(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
}

func inGroup(v keyvault.Vault, g arm.ResourceGroup) bool {
	return v.SubscriptionID == g.SubscriptionID && strings.EqualFold(v.ResourceGroup, g.Name)
}

// find returns the live vault of type t that the request names in its group.
// Vault names are global, so a vault of that name in another group is
// not found here.
func (p *Provider) find(r *http.Request, t resourceType) (keyvault.Vault, error) {
	g, err := p.group(r)
	if err != nil {
		return keyvault.Vault{}, err
	}
	name := r.PathValue("name")
	v, err := p.Keys.GetVault(r.Context(), t.kind, name)
	if err == nil && !inGroup(v, g) {
		err = tresor.Errorf(tresor.NotFound, "not in this group")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, tresor.Errorf(tresor.NotFound, "The Resource '%s/%s/%s' under resource group '%s' was not found.",
			namespace, t.name, name, g.Name).WithReason(arm.ReasonResourceNotFound)
	}
	return v, err
}

// createOrUpdate stores a vault from a PUT: s replaces the vault's settings,
// except those Azure keeps when a PUT omits them (soft delete, retention,
// purge protection). With createMode recover it recovers the soft-deleted
// vault instead. It reports whether the vault was created.
func (p *Provider) createOrUpdate(r *http.Request, t resourceType, s settings) (keyvault.Vault, bool, error) {
	ctx := r.Context()
	g, err := p.group(r)
	if err != nil {
		return keyvault.Vault{}, false, err
	}
	name := r.PathValue("name")
	live, err := p.Keys.GetVault(ctx, t.kind, name)
	switch {
	case err == nil && inGroup(live, g):
	case err == nil || tresor.IsKind(err, tresor.NotFound):
		live = keyvault.Vault{}
	default:
		return keyvault.Vault{}, false, err
	}
	if s.recover {
		return p.recover(r, t, g, live)
	}

	v := keyvault.Vault{Kind: t.kind, Name: name, SoftDelete: true, RetentionDays: 90, PublicNetworkAccess: "Enabled"}
	if live.ID != "" {
		v.Name, v.SoftDelete, v.RetentionDays, v.PurgeProtection = live.Name, live.SoftDelete, live.RetentionDays, live.PurgeProtection
		v.Location = live.Location
		if t.kind == keyvault.ManagedHSM && s.initialAdmins == nil {
			v.InitialAdmins = live.InitialAdmins
		}
	}
	v.SubscriptionID, v.ResourceGroup = g.SubscriptionID, g.Name
	if s.location == nil {
		return keyvault.Vault{}, false, armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "The location property is required for this definition.").WithReason(arm.ReasonLocationRequired), "location")
	}
	if live.ID != "" && arm.NormalizeLocation(*s.location) != live.Location {
		return keyvault.Vault{}, false, armhttp.WithTarget(tresor.Errorf(tresor.Invalid,
			"The location of '%s' cannot be changed from '%s'.", live.Name, live.Location).WithReason(arm.ReasonInvalidParameter), "location")
	}
	if s.sku == nil {
		return keyvault.Vault{}, false, armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "The sku property is required.").WithReason(arm.ReasonInvalidParameter), skuTarget(t))
	}
	if t.kind == keyvault.ManagedHSM && live.ID == "" && (s.initialAdmins == nil || len(*s.initialAdmins) == 0) {
		return keyvault.Vault{}, false, armhttp.WithTarget(tresor.Errorf(tresor.Invalid,
			"At least one initial administrator object id is required to create a managed HSM.").WithReason(arm.ReasonInvalidParameter), "properties.initialAdminObjectIds")
	}
	if err := s.apply(&v); err != nil {
		return keyvault.Vault{}, false, err
	}
	if v.TenantID == "" {
		v.TenantID = armhttp.Subscription(r).TenantID
	}
	if err := checkPolicyTenants(v); err != nil {
		return keyvault.Vault{}, false, err
	}
	if t.kind == keyvault.ManagedHSM && live.ID == "" {
		for _, id := range v.InitialAdmins {
			if !identity.IsGUID(id) {
				return keyvault.Vault{}, false, armhttp.WithTarget(tresor.Errorf(tresor.Invalid,
					"The initial administrator %q is not an object id (a GUID).", id).WithReason(arm.ReasonInvalidParameter), "properties.initialAdminObjectIds")
			}
		}
	}
	v, created, err := p.Keys.CreateOrUpdateVault(ctx, v)
	if err != nil || !created || t.kind != keyvault.ManagedHSM || p.RBAC == nil {
		return v, created, err
	}
	// As in Azure, the initial administrators of a new HSM hold the Managed
	// HSM Administrator role at "/": they may manage roles, not use keys.
	for _, id := range v.InitialAdmins {
		_, _, err := p.RBAC.CreateRoleAssignment(ctx, rbac.Assignment{
			Realm: rbac.HSMRealm(v.ID), Name: identity.NewGUID(), Scope: "/", RoleID: rbac.HSMAdministrator,
			PrincipalID: id, Description: "initial administrator",
		})
		if err != nil {
			return keyvault.Vault{}, false, err
		}
	}
	return v, created, nil
}

// recover handles createMode recover. A PUT is retried by clients, so a
// vault that is already live in the group is returned as it is.
func (p *Provider) recover(r *http.Request, t resourceType, g arm.ResourceGroup, live keyvault.Vault) (keyvault.Vault, bool, error) {
	if live.ID != "" {
		return live, false, nil
	}
	name := r.PathValue("name")
	d, err := p.Keys.GetDeletedVault(r.Context(), t.kind, name)
	if err == nil && d.SubscriptionID != g.SubscriptionID {
		err = tresor.Errorf(tresor.NotFound, "other subscription")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return keyvault.Vault{}, false, tresor.Errorf(tresor.NotFound,
			"No deleted resource '%s/%s/%s' exists in this subscription to recover.", namespace, t.deleted, name).WithReason(arm.ReasonResourceNotFound)
	}
	if err != nil {
		return keyvault.Vault{}, false, err
	}
	if !strings.EqualFold(d.ResourceGroup, g.Name) {
		return keyvault.Vault{}, false, tresor.Errorf(tresor.Invalid,
			"The deleted resource '%s' belongs to resource group '%s'; recover it there.", d.Name, d.ResourceGroup).WithReason(arm.ReasonInvalidParameter)
	}
	v, err := p.Keys.RecoverDeletedVault(r.Context(), t.kind, name)
	return v, false, err
}

// update applies a PATCH: only the settings given change.
func (p *Provider) update(r *http.Request, t resourceType, s settings) (keyvault.Vault, error) {
	v, err := p.find(r, t)
	if err != nil {
		return keyvault.Vault{}, err
	}
	if s.location != nil && arm.NormalizeLocation(*s.location) != v.Location {
		return keyvault.Vault{}, armhttp.WithTarget(tresor.Errorf(tresor.Invalid,
			"The location of '%s' cannot be changed from '%s'.", v.Name, v.Location).WithReason(arm.ReasonInvalidParameter), "location")
	}
	if err := s.apply(&v); err != nil {
		return keyvault.Vault{}, err
	}
	if err := checkPolicyTenants(v); err != nil {
		return keyvault.Vault{}, err
	}
	v, _, err = p.Keys.CreateOrUpdateVault(r.Context(), v)
	return v, err
}

// delete deletes the vault the request names. It reports false if there was
// none, which ARM answers with 204.
func (p *Provider) delete(r *http.Request, t resourceType) (bool, error) {
	v, err := p.find(r, t)
	if tresor.IsKind(err, tresor.NotFound) && tresor.ReasonOf(err) != arm.ReasonResourceGroupNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := p.Keys.DeleteVault(r.Context(), t.kind, v.Name); err != nil {
		return false, err
	}
	if p.Deleted != nil {
		if err := p.Deleted(r.Context(), v.ARMID()); err != nil {
			return true, err
		}
	}
	return true, nil
}

// list lists the live vaults of type t in the request's group, or its
// subscription if the route has no group, one page at a time.
func (p *Provider) list(r *http.Request, t resourceType) ([]keyvault.Vault, string, error) {
	f := keyvault.VaultFilter{Kind: t.kind, SubscriptionID: armhttp.Subscription(r).ID}
	if r.PathValue("resourceGroupName") != "" {
		g, err := p.group(r)
		if err != nil {
			return nil, "", err
		}
		f.ResourceGroup = g.Name
	}
	vs, err := p.Keys.ListVaults(r.Context(), f)
	if err != nil {
		return nil, "", err
	}
	return armhttp.Page(r, vs, func(v keyvault.Vault) string { return strings.ToLower(v.Name) })
}

// vaultNamePattern repeats keyvault's name rule for CheckNameAvailability,
// which must answer without creating anything.
var vaultNamePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

// nameAvailability is CheckNameAvailabilityResult.
type nameAvailability struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason,omitempty"`
	Message       string `json:"message,omitempty"`
}

type nameRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// checkName answers whether a name is free for type t. Names are global and
// a soft-deleted vault keeps its name.
func (p *Provider) checkName(w http.ResponseWriter, r *http.Request, t resourceType) error {
	var in nameRequest
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "The name property is required.").WithReason(arm.ReasonInvalidParameter), "name")
	}
	out := nameAvailability{NameAvailable: true}
	if !vaultNamePattern.MatchString(in.Name) || strings.Contains(in.Name, "--") {
		out = nameAvailability{Reason: "AccountNameInvalid", Message: "The name '" + in.Name +
			"' is invalid. It must be 3-24 alphanumeric characters or hyphens, begin with a letter, end with a letter or digit, and not contain consecutive hyphens."}
	} else if _, err := p.Keys.GetVault(r.Context(), t.kind, in.Name); err == nil {
		out = nameAvailability{Reason: "AlreadyExists", Message: "The name '" + in.Name + "' is already in use."}
	} else if !tresor.IsKind(err, tresor.NotFound) {
		return err
	} else if _, err := p.Keys.GetDeletedVault(r.Context(), t.kind, in.Name); err == nil {
		out = nameAvailability{Reason: "AlreadyExists", Message: "The name '" + in.Name + "' is in use by a soft-deleted resource; recover or purge it first."}
	} else if !tresor.IsKind(err, tresor.NotFound) {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
