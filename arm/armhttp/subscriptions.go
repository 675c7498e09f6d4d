package armhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// subscription is the Subscriptions API's shape.
type subscription struct {
	ID                   string               `json:"id"`
	SubscriptionID       string               `json:"subscriptionId"`
	TenantID             string               `json:"tenantId"`
	DisplayName          string               `json:"displayName"`
	State                string               `json:"state"`
	AuthorizationSource  string               `json:"authorizationSource"`
	SubscriptionPolicies subscriptionPolicies `json:"subscriptionPolicies"`
}

type subscriptionPolicies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

func subscriptionFrom(s arm.Subscription) subscription {
	return subscription{
		ID:                  arm.ResourceID{Subscription: s.ID}.String(),
		SubscriptionID:      s.ID,
		TenantID:            s.TenantID,
		DisplayName:         s.DisplayName,
		State:               s.State,
		AuthorizationSource: "RoleBased",
		SubscriptionPolicies: subscriptionPolicies{
			LocationPlacementID: "Public_2014-09-01",
			QuotaID:             "PayAsYouGo_2014-09-01",
			SpendingLimit:       "Off",
		},
	}
}

// listSubscriptions lists the subscriptions of the caller's tenant.
func (h *Handler) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.cfg.ARM.ListSubscriptions(r.Context())
	if err != nil {
		return err
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	var mine []arm.Subscription
	for _, s := range subs {
		if strings.EqualFold(s.TenantID, p.TenantID) {
			mine = append(mine, s)
		}
	}
	page, next, err := Page(r, mine, func(s arm.Subscription) string { return s.ID })
	if err != nil {
		return err
	}
	out := List[subscription]{Value: []subscription{}, NextLink: next}
	for _, s := range page {
		out.Value = append(out.Value, subscriptionFrom(s))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getSubscription(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, subscriptionFrom(Subscription(r)))
	return nil
}
