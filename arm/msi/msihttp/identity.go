package msihttp

import (
	"maps"
	"slices"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/msi"
)

// Identity is the "identity" property that resources with managed
// identities carry (ARM's ManagedServiceIdentity). Resource providers
// decode it from requests with SpecOf and write it with IdentityOf.
type Identity struct {
	Type                   string                   `json:"type"`
	PrincipalID            string                   `json:"principalId,omitempty"`
	TenantID               string                   `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]*UserAssigned `json:"userAssignedIdentities,omitempty"`
}

// UserAssigned is one entry of userAssignedIdentities. Requests send {}
// (attach) or, in a PATCH, null (detach).
type UserAssigned struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// IdentityOf returns the property showing st; nil for a resource without
// identities, which Azure omits.
func IdentityOf(st msi.State) *Identity {
	t := st.Type()
	if t == msi.TypeNone {
		return nil
	}
	out := &Identity{Type: t}
	if sp := st.SystemAssigned; sp.ObjectID != "" {
		out.PrincipalID, out.TenantID = sp.ObjectID, sp.TenantID
	}
	if len(st.UserAssigned) > 0 {
		out.UserAssignedIdentities = make(map[string]*UserAssigned, len(st.UserAssigned))
		for _, a := range st.UserAssigned {
			out.UserAssignedIdentities[a.ResourceID] = &UserAssigned{PrincipalID: a.PrincipalID, ClientID: a.ClientID}
		}
	}
	return out
}

// SpecOf returns the identity a request asks for. For a PUT (patch false)
// the property replaces the resource's identity and nil means none. For a
// PATCH, nil keeps cur; otherwise the type replaces cur's and
// userAssignedIdentities is merged onto cur's: null entries detach.
// Errors are Invalid and name the property.
func SpecOf(in *Identity, cur msi.State, patch bool) (msi.Spec, error) {
	curSpec := msi.Spec{SystemAssigned: cur.SystemAssigned.ObjectID != ""}
	for _, a := range cur.UserAssigned {
		curSpec.UserAssigned = append(curSpec.UserAssigned, a.ResourceID)
	}
	if in == nil {
		if patch {
			return curSpec, nil
		}
		return msi.Spec{}, nil
	}
	system, user, err := msi.ParseType(in.Type)
	if err != nil {
		return msi.Spec{}, armhttp.WithTarget(err, "identity.type")
	}
	spec := msi.Spec{SystemAssigned: system}
	if !user {
		if len(in.UserAssignedIdentities) > 0 {
			return msi.Spec{}, invalidIdentity("identity.userAssignedIdentities",
				"The identity type '%s' has no user-assigned identities, but userAssignedIdentities names %d.", in.Type, len(in.UserAssignedIdentities))
		}
		return spec, nil
	}
	if patch {
		for _, id := range curSpec.UserAssigned {
			if v, named := lookup(in.UserAssignedIdentities, id); !named || v != nil {
				spec.UserAssigned = append(spec.UserAssigned, id)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(in.UserAssignedIdentities)) {
		if v := in.UserAssignedIdentities[id]; v == nil {
			if !patch {
				return msi.Spec{}, invalidIdentity("identity.userAssignedIdentities",
					"The user-assigned identity '%s' has a null value; a PUT lists only the identities to attach.", id)
			}
			continue
		}
		if _, err := arm.Parse(id); err != nil {
			return msi.Spec{}, invalidIdentity("identity.userAssignedIdentities", "'%s' is not a resource id.", id)
		}
		if !containsFold(spec.UserAssigned, id) {
			spec.UserAssigned = append(spec.UserAssigned, id)
		}
	}
	if len(spec.UserAssigned) == 0 {
		return msi.Spec{}, invalidIdentity("identity.userAssignedIdentities",
			"The identity type '%s' requires at least one user-assigned identity.", in.Type)
	}
	return spec, nil
}

func lookup(m map[string]*UserAssigned, id string) (*UserAssigned, bool) {
	for k, v := range m {
		if strings.EqualFold(k, id) {
			return v, true
		}
	}
	return nil, false
}

func containsFold(ids []string, id string) bool {
	for _, x := range ids {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

func invalidIdentity(target, format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > 300 {
			args[i] = s[:300] + "..."
		}
	}
	return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, format, args...).WithReason(msi.ReasonInvalidIdentity), target)
}

func msiLocationRequired() error {
	return tresor.Errorf(tresor.Invalid, "The location property is required for this definition.").WithReason(arm.ReasonLocationRequired)
}
