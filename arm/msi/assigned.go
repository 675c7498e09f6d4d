package msi

import (
	"context"
	"slices"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// The identity types of a resource's "identity" property.
const (
	TypeNone                       = "None"
	TypeSystemAssigned             = "SystemAssigned"
	TypeUserAssigned               = "UserAssigned"
	TypeSystemAndUserAssigned      = "SystemAssigned, UserAssigned"
	maxUserAssignedPerResource int = 20
)

// Spec is the identity a resource asks for: the normalised "identity"
// property of a PUT, or of a PATCH merged onto the resource's State.
type Spec struct {
	SystemAssigned bool
	UserAssigned   []string // resource ids of user-assigned identities
}

// ParseType reads an identity type, ignoring case and the space after the
// comma, and returns whether it includes the system-assigned and the
// user-assigned kinds.
func ParseType(t string) (system, user bool, err error) {
	switch strings.ToLower(strings.ReplaceAll(t, " ", "")) {
	case "none", "":
		return false, false, nil
	case "systemassigned":
		return true, false, nil
	case "userassigned":
		return false, true, nil
	case "systemassigned,userassigned":
		return true, true, nil
	}
	return false, false, tresor.Errorf(tresor.Invalid,
		"The identity type '%s' is not one of None, SystemAssigned, UserAssigned and 'SystemAssigned, UserAssigned'.", clip(t)).
		WithReason(ReasonInvalidIdentity)
}

// State is a resource's identity as stored with the resource and shown in
// its "identity" property.
type State struct {
	// SystemAssigned is the resource's own identity; its ObjectID is empty
	// if the resource has none.
	SystemAssigned identity.ServicePrincipal
	UserAssigned   []AssignedIdentity // ordered as the request listed them
}

// AssignedIdentity is a user-assigned identity attached to a resource, as
// it was when attached: deleting and re-creating the identity resource
// makes a new principal, which the resource does not use until attached
// again, as in Azure.
type AssignedIdentity struct {
	ResourceID  string // the identity's id, in its stored spelling
	PrincipalID string
	ClientID    string
	TenantID    string
}

// Type returns the State's identity type.
func (st State) Type() string {
	switch sys, user := st.SystemAssigned.ObjectID != "", len(st.UserAssigned) > 0; {
	case sys && user:
		return TypeSystemAndUserAssigned
	case sys:
		return TypeSystemAssigned
	case user:
		return TypeUserAssigned
	}
	return TypeNone
}

// Spec returns the Spec that keeps st: what ApplyIdentity is given to
// restore a resource's identity after a failed change.
func (st State) Spec() Spec {
	sp := Spec{SystemAssigned: st.SystemAssigned.ObjectID != ""}
	for _, u := range st.UserAssigned {
		sp.UserAssigned = append(sp.UserAssigned, u.ResourceID)
	}
	return sp
}

// Principal returns the principal a resource acts as: its system-assigned
// identity if userAssigned is empty, else the attached user-assigned
// identity with that resource id. Invalid (ReasonInvalidIdentity) if the
// resource has no such identity.
func (st State) Principal(userAssigned string) (tresor.Principal, error) {
	if userAssigned == "" {
		sp := st.SystemAssigned
		if sp.ObjectID == "" {
			return tresor.Principal{}, tresor.Errorf(tresor.Invalid, "The resource has no system-assigned identity.").WithReason(ReasonInvalidIdentity)
		}
		return tresor.Principal{TenantID: sp.TenantID, ObjectID: sp.ObjectID, AppID: sp.AppID, Name: sp.DisplayName, Type: tresor.ManagedIdentity}, nil
	}
	for _, a := range st.UserAssigned {
		if strings.EqualFold(a.ResourceID, userAssigned) {
			return tresor.Principal{TenantID: a.TenantID, ObjectID: a.PrincipalID, AppID: a.ClientID, Type: tresor.ManagedIdentity}, nil
		}
	}
	return tresor.Principal{}, tresor.Errorf(tresor.Invalid,
		"The user-assigned identity '%s' is not attached to the resource.", clip(userAssigned)).WithReason(ReasonInvalidIdentity)
}

// ApplyIdentity gives the resource resourceID the identity spec asks for,
// starting from its current State, and returns the new State for the
// resource to store. A system-assigned identity is created in tenantID
// when first asked for and deleted when no longer asked for; a resource
// that keeps it keeps its principal. Each user-assigned identity must
// exist (Invalid, ReasonInvalidIdentity).
//
// A caller stores the resource after ApplyIdentity; if that fails it
// should call ApplyIdentity again with the old State's Spec. A principal
// left behind by a crash in between is harmless: it has no secret and no
// role, and the next ApplyIdentity for the resource adopts it.
func (s *Service) ApplyIdentity(ctx context.Context, resourceID, tenantID string, cur State, spec Spec) (State, error) {
	if len(spec.UserAssigned) > maxUserAssignedPerResource {
		return State{}, tresor.Errorf(tresor.Invalid, "A resource can have at most %d user-assigned identities.", maxUserAssignedPerResource).
			WithReason(ReasonInvalidIdentity)
	}
	next := State{SystemAssigned: cur.SystemAssigned}
	for _, id := range spec.UserAssigned {
		if slices.ContainsFunc(next.UserAssigned, func(a AssignedIdentity) bool { return strings.EqualFold(a.ResourceID, id) }) {
			continue
		}
		if i := slices.IndexFunc(cur.UserAssigned, func(a AssignedIdentity) bool { return strings.EqualFold(a.ResourceID, id) }); i >= 0 {
			next.UserAssigned = append(next.UserAssigned, cur.UserAssigned[i])
			continue
		}
		u, err := s.Resolve(ctx, id)
		if err != nil {
			return State{}, err
		}
		next.UserAssigned = append(next.UserAssigned, AssignedIdentity{
			ResourceID: u.Principal.ResourceID, PrincipalID: u.Principal.ObjectID, ClientID: u.Principal.AppID, TenantID: u.Principal.TenantID,
		})
	}
	switch has := cur.SystemAssigned.ObjectID != ""; {
	case spec.SystemAssigned && !has:
		sp, err := s.systemAssigned(ctx, resourceID, tenantID)
		if err != nil {
			return State{}, err
		}
		next.SystemAssigned = sp
	case !spec.SystemAssigned && has:
		if err := s.Identity.DeleteServicePrincipal(ctx, cur.SystemAssigned.ObjectID); err != nil && !tresor.IsKind(err, tresor.NotFound) {
			return State{}, err
		}
		next.SystemAssigned = identity.ServicePrincipal{}
	}
	return next, nil
}

// RemoveIdentity deletes the system-assigned identity of a resource that
// is being deleted. User-assigned identities are resources of their own
// and stay.
func (s *Service) RemoveIdentity(ctx context.Context, st State) error {
	if st.SystemAssigned.ObjectID == "" {
		return nil
	}
	err := s.Identity.DeleteServicePrincipal(ctx, st.SystemAssigned.ObjectID)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	return err
}

// systemAssigned returns the system-assigned identity of a resource,
// creating it, or adopting one a crash left behind.
func (s *Service) systemAssigned(ctx context.Context, resourceID, tenantID string) (identity.ServicePrincipal, error) {
	sp, err := s.Identity.Store.ServicePrincipalByResourceID(ctx, resourceID)
	if err == nil {
		return sp, nil
	}
	if !tresor.IsKind(err, tresor.NotFound) {
		return identity.ServicePrincipal{}, err
	}
	name := resourceID[strings.LastIndexByte(resourceID, '/')+1:]
	if sp, err = s.Identity.NewManagedIdentity(tenantID, name, resourceID); err != nil {
		return identity.ServicePrincipal{}, err
	}
	if err := s.Identity.Store.CreateServicePrincipal(ctx, sp); err != nil {
		return identity.ServicePrincipal{}, err
	}
	return sp, nil
}
