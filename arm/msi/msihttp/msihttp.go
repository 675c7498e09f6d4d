// Package msihttp is the ARM face of package msi: the
// Microsoft.ManagedIdentity/userAssignedIdentities routes as armmsi
// (api-version 2024-11-30) calls them, and the wire form of the "identity"
// property that other resources carry.
package msihttp

import (
	"context"
	"net/http"
	"time"

	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/msi"
)

// Provider serves user-assigned identities.
type Provider struct {
	MSI *msi.Service
}

var _ armhttp.Provider = (*Provider)(nil)

// Routes returns the provider's routes.
func (p *Provider) Routes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.ManagedIdentity"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity"
	)
	return []armhttp.Route{
		{Pattern: "PUT " + group + "/userAssignedIdentities/{name}", Handler: p.createOrUpdate},
		{Pattern: "PATCH " + group + "/userAssignedIdentities/{name}", Handler: p.update},
		{Pattern: "GET " + group + "/userAssignedIdentities/{name}", Handler: p.get},
		{Pattern: "DELETE " + group + "/userAssignedIdentities/{name}", Handler: p.delete},
		{Pattern: "GET " + group + "/userAssignedIdentities", Handler: p.list},
		{Pattern: "GET " + sub + "/userAssignedIdentities", Handler: p.list},
	}
}

// Resources lists a subscription's user-assigned identities.
func (p *Provider) Resources(ctx context.Context, subscriptionID string) ([]arm.Resource, error) {
	us, err := p.MSI.List(ctx, subscriptionID, "")
	if err != nil {
		return nil, err
	}
	out := make([]arm.Resource, 0, len(us))
	for _, u := range us {
		out = append(out, arm.Resource{ID: u.ID(), Location: u.Location, Tags: u.Tags})
	}
	return out, nil
}

// DeleteResourceGroup deletes a group's identities.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	return p.MSI.DeleteResourceGroup(ctx, subscriptionID, group)
}

// identityResource is armmsi's Identity.
type identityResource struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Location   string             `json:"location"`
	Tags       map[string]string  `json:"tags"`
	Properties identityProperties `json:"properties"`
	SystemData *systemData        `json:"systemData,omitempty"`
}

type identityProperties struct {
	TenantID       string `json:"tenantId"`
	PrincipalID    string `json:"principalId"`
	ClientID       string `json:"clientId"`
	IsolationScope string `json:"isolationScope,omitempty"`
}

type systemData struct {
	CreatedAt string `json:"createdAt"`
}

// identityParameters is the body of a PUT or PATCH. Properties are all
// read-only but isolationScope, which tresor, running in one region,
// accepts and ignores.
type identityParameters struct {
	Location *string           `json:"location"`
	Tags     map[string]string `json:"tags"`
}

func wire(u msi.UserAssignedIdentity) identityResource {
	tags := u.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return identityResource{
		ID: u.ID().String(), Name: u.Name, Type: msi.Namespace + "/userAssignedIdentities",
		Location: u.Location, Tags: tags,
		Properties: identityProperties{TenantID: u.Principal.TenantID, PrincipalID: u.Principal.ObjectID, ClientID: u.Principal.AppID},
		SystemData: &systemData{CreatedAt: u.Created.UTC().Format(time.RFC3339)},
	}
}

func (p *Provider) createOrUpdate(w http.ResponseWriter, r *http.Request) error {
	var in identityParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Location == nil {
		return armhttp.WithTarget(msiLocationRequired(), "location")
	}
	u, created, err := p.MSI.CreateOrUpdate(r.Context(), msi.UserAssignedIdentity{
		SubscriptionID: armhttp.Subscription(r).ID, ResourceGroup: r.PathValue("resourceGroupName"),
		Name: r.PathValue("name"), Location: *in.Location, Tags: in.Tags,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, wire(u))
	return nil
}

func (p *Provider) update(w http.ResponseWriter, r *http.Request) error {
	var in identityParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	u, err := p.MSI.Update(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"), in.Location, in.Tags)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(u))
	return nil
}

func (p *Provider) get(w http.ResponseWriter, r *http.Request) error {
	u, err := p.MSI.Get(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(u))
	return nil
}

func (p *Provider) delete(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.MSI.Delete(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("name"))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

// list serves ListByResourceGroup and ListBySubscription.
func (p *Provider) list(w http.ResponseWriter, r *http.Request) error {
	us, err := p.MSI.List(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, us, func(u msi.UserAssignedIdentity) string { return u.ID().String() })
	if err != nil {
		return err
	}
	out := armhttp.List[identityResource]{Value: make([]identityResource, 0, len(page)), NextLink: next}
	for _, u := range page {
		out.Value = append(out.Value, wire(u))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
