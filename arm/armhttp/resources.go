package armhttp

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// genericResource is the envelope of a resource in the generic resources
// list.
type genericResource struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Location string            `json:"location,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// filterPattern is the one $filter the resources list supports, the one
// armkeyvault's VaultsClient.NewListPager sends.
var filterPattern = regexp.MustCompile(`(?i)^\s*resourceType\s+eq\s+'([^']+)'\s*$`)

// listResources lists the resources of all providers in the subscription,
// or in one group.
func (h *Handler) listResources(w http.ResponseWriter, r *http.Request) error {
	sub := Subscription(r)
	group := r.PathValue("resourceGroupName")
	if group != "" {
		g, err := h.cfg.ARM.GetResourceGroup(r.Context(), sub.ID, group)
		if err != nil {
			return err
		}
		group = g.Name
	}
	var typ string
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := filterPattern.FindStringSubmatch(f)
		if m == nil {
			return WithTarget(tresor.Errorf(tresor.Invalid, "The $filter '%s' is not supported; use resourceType eq '{type}'.", clip(f)).WithReason("InvalidFilter"), "$filter")
		}
		typ = m[1]
	}
	var all []arm.Resource
	for _, p := range h.cfg.Providers {
		rs, err := p.Resources(r.Context(), sub.ID)
		if err != nil {
			return err
		}
		for _, x := range rs {
			if (group == "" || strings.EqualFold(x.ID.ResourceGroup, group)) && (typ == "" || strings.EqualFold(x.ID.Type(), typ)) {
				all = append(all, x)
			}
		}
	}
	page, next, err := Page(r, all, func(x arm.Resource) string { return strings.ToLower(x.ID.String()) })
	if err != nil {
		return err
	}
	out := List[genericResource]{Value: []genericResource{}, NextLink: next}
	for _, x := range page {
		out.Value = append(out.Value, genericResource{ID: x.ID.String(), Name: x.ID.Name(), Type: x.ID.Type(), Location: x.Location, Tags: x.Tags})
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// getOperationResult answers the Location of an accepted operation. The
// front door accepts only operations it has completed, so every operation
// it issued has succeeded; the id is not recorded.
func (h *Handler) getOperationResult(w http.ResponseWriter, r *http.Request) error {
	if !uuidPattern.MatchString(r.PathValue("operationId")) {
		return tresor.Errorf(tresor.NotFound, "The operation '%s' could not be found.", clip(r.PathValue("operationId"))).WithReason("OperationNotFound")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
