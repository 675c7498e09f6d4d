package armhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// resourceGroup is the ResourceGroups API's shape.
type resourceGroup struct {
	ID         string                  `json:"id,omitempty"`
	Name       string                  `json:"name,omitempty"`
	Type       string                  `json:"type,omitempty"`
	Location   string                  `json:"location"`
	ManagedBy  string                  `json:"managedBy,omitempty"`
	Tags       map[string]string       `json:"tags"`
	Properties resourceGroupProperties `json:"properties"`
}

type resourceGroupProperties struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// resourceGroupPatch is ResourceGroupPatchable: absent tags stay as they are.
type resourceGroupPatch struct {
	Tags *map[string]string `json:"tags"`
}

func resourceGroupFrom(g arm.ResourceGroup) resourceGroup {
	tags := g.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return resourceGroup{
		ID:         arm.ResourceID{Subscription: g.SubscriptionID, ResourceGroup: g.Name}.String(),
		Name:       g.Name,
		Type:       "Microsoft.Resources/resourceGroups",
		Location:   g.Location,
		Tags:       tags,
		Properties: resourceGroupProperties{ProvisioningState: "Succeeded"},
	}
}

func (h *Handler) listResourceGroups(w http.ResponseWriter, r *http.Request) error {
	if f := r.URL.Query().Get("$filter"); f != "" {
		return WithTarget(tresor.Errorf(tresor.Invalid, "The $filter '%s' is not supported for resource groups.", clip(f)).WithReason("InvalidFilter"), "$filter")
	}
	groups, err := h.cfg.ARM.ListResourceGroups(r.Context(), Subscription(r).ID)
	if err != nil {
		return err
	}
	page, next, err := Page(r, groups, func(g arm.ResourceGroup) string { return strings.ToLower(g.Name) })
	if err != nil {
		return err
	}
	out := List[resourceGroup]{Value: []resourceGroup{}, NextLink: next}
	for _, g := range page {
		out.Value = append(out.Value, resourceGroupFrom(g))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

// createOrUpdateResourceGroup answers 201 when it creates the group and 200
// when it updates it.
func (h *Handler) createOrUpdateResourceGroup(w http.ResponseWriter, r *http.Request) error {
	var in resourceGroup
	if err := Decode(r, &in); err != nil {
		return err
	}
	g, created, err := h.cfg.ARM.CreateOrUpdateResourceGroup(r.Context(), arm.ResourceGroup{
		SubscriptionID: Subscription(r).ID,
		Name:           r.PathValue("resourceGroupName"),
		Location:       in.Location,
		Tags:           in.Tags,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, resourceGroupFrom(g))
	return nil
}

func (h *Handler) getResourceGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.cfg.ARM.GetResourceGroup(r.Context(), Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, resourceGroupFrom(g))
	return nil
}

// checkResourceGroupExistence answers HEAD with 204 or 404.
func (h *Handler) checkResourceGroupExistence(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.cfg.ARM.GetResourceGroup(r.Context(), Subscription(r).ID, r.PathValue("resourceGroupName")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) updateResourceGroup(w http.ResponseWriter, r *http.Request) error {
	var in resourceGroupPatch
	if err := Decode(r, &in); err != nil {
		return err
	}
	sub, name := Subscription(r).ID, r.PathValue("resourceGroupName")
	g, err := h.cfg.ARM.GetResourceGroup(r.Context(), sub, name)
	if err != nil {
		return err
	}
	if in.Tags != nil {
		if g, err = h.cfg.ARM.UpdateResourceGroup(r.Context(), sub, name, *in.Tags); err != nil {
			return err
		}
	}
	WriteJSON(w, http.StatusOK, resourceGroupFrom(g))
	return nil
}

// deleteResourceGroup deletes the group's resources through their providers,
// then the group. It completes before answering; the 202 lets clients'
// pollers finish with one request.
func (h *Handler) deleteResourceGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.cfg.ARM.GetResourceGroup(r.Context(), Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	for _, p := range h.cfg.Providers {
		if err := p.DeleteResourceGroup(r.Context(), g.SubscriptionID, g.Name); err != nil {
			return err
		}
	}
	if err := h.cfg.ARM.DeleteResourceGroup(r.Context(), g.SubscriptionID, g.Name); err != nil {
		return err
	}
	Accepted(w, r)
	return nil
}
