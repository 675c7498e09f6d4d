package armhttp

import (
	"net/http"

	"github.com/tresorkms/tresor/arm"
)

type subscriptionJSON struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	TenantID       string `json:"tenantId"`
	DisplayName    string `json:"displayName"`
	State          string `json:"state"`
}

type resourceGroupJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

type listJSON[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink,omitempty"`
}

func subscriptionFrom(s arm.Subscription) subscriptionJSON {
	return subscriptionJSON{ID: "/subscriptions/" + s.ID, SubscriptionID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName, State: s.State}
}

func groupFrom(g arm.ResourceGroup) resourceGroupJSON {
	out := resourceGroupJSON{
		ID:   arm.ResourceID{Subscription: g.SubscriptionID, ResourceGroup: g.Name}.String(),
		Name: g.Name, Type: "Microsoft.Resources/resourceGroups", Location: g.Location, Tags: g.Tags,
	}
	out.Properties.ProvisioningState = "Succeeded"
	return out
}

func (h *Handler) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.cfg.ARM.Subscriptions(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[subscriptionJSON]{Value: []subscriptionJSON{}}
	for _, s := range subs {
		out.Value = append(out.Value, subscriptionFrom(s))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := h.cfg.ARM.Subscription(r.Context(), r.PathValue("sub"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, subscriptionFrom(s))
	return nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	groups, err := h.cfg.ARM.ResourceGroups(r.Context(), r.PathValue("sub"))
	if err != nil {
		return err
	}
	out := listJSON[resourceGroupJSON]{Value: []resourceGroupJSON{}}
	for _, g := range groups {
		out.Value = append(out.Value, groupFrom(g))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) putGroup(w http.ResponseWriter, r *http.Request) error {
	var in resourceGroupJSON
	if err := Decode(r, &in); err != nil {
		return err
	}
	g, created, err := h.cfg.ARM.CreateOrUpdateResourceGroup(r.Context(), arm.ResourceGroup{
		SubscriptionID: r.PathValue("sub"), Name: r.PathValue("rg"), Location: in.Location, Tags: in.Tags,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, groupFrom(g))
	return nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.cfg.ARM.ResourceGroup(r.Context(), r.PathValue("sub"), r.PathValue("rg"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, groupFrom(g))
	return nil
}

func (h *Handler) headGroup(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.cfg.ARM.ResourceGroup(r.Context(), r.PathValue("sub"), r.PathValue("rg")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteGroup deletes the group's resources, then the group. It completes
// synchronously; the SDK's poller accepts a 200 without polling headers.
func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	sub, rg := r.PathValue("sub"), r.PathValue("rg")
	if _, err := h.cfg.ARM.ResourceGroup(r.Context(), sub, rg); err != nil {
		return err
	}
	for _, p := range h.cfg.Providers {
		if err := p.DeleteResourceGroup(r.Context(), sub, rg); err != nil {
			return err
		}
	}
	if err := h.cfg.ARM.DeleteResourceGroup(r.Context(), sub, rg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
