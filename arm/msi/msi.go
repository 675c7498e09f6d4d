// Package msi is the resource provider for managed identities:
// Microsoft.ManagedIdentity/userAssignedIdentities, which the unmodified
// armmsi client drives, and the system-assigned identities of other
// resources, which resource providers create, show and delete through
// Service.ApplyIdentity as their resources' "identity" property changes.
//
// A managed identity's principal is an identity.ServicePrincipal of type
// ManagedIdentity without a secret; its tokens come from the identity
// endpoint (see identity.IssueManagedIdentityToken). A user-assigned
// identity's ARM envelope (location, tags) and its principal are stored
// together, in one transaction, by Store; a system-assigned identity is
// only a principal whose ResourceID is its resource's id.
package msi

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/identity"
)

// UserAssignedIdentity is a Microsoft.ManagedIdentity/userAssignedIdentities
// resource and its principal.
type UserAssignedIdentity struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	Location       string
	Tags           map[string]string
	Principal      identity.ServicePrincipal // ResourceID is the resource's id
	Created        time.Time
}

// ID returns the identity's ARM resource id.
func (u UserAssignedIdentity) ID() arm.ResourceID {
	return arm.ResourceID{
		Subscription: u.SubscriptionID, ResourceGroup: u.ResourceGroup,
		Provider: Namespace, Types: []string{"userAssignedIdentities"}, Names: []string{u.Name},
	}
}

// Namespace is the provider's namespace.
const Namespace = "Microsoft.ManagedIdentity"

// Store keeps user-assigned identities. An implementation also implements
// identity.Store, as it writes each identity's principal with it.
//
// Names compare ignoring case; resource groups are named as stored in arm.
// Methods return *tresor.Error with Kind NotFound for a missing identity
// and Conflict for a taken name or id.
type Store interface {
	// CreateUserAssignedIdentity inserts u and u.Principal in one
	// transaction. Conflict if the name is taken in the group or the
	// principal's ids are; NotFound if the principal's tenant is unknown.
	CreateUserAssignedIdentity(ctx context.Context, u UserAssignedIdentity) error
	// UpdateUserAssignedIdentityTags replaces the tags of an identity.
	UpdateUserAssignedIdentityTags(ctx context.Context, subscriptionID, group, name string, tags map[string]string) error
	// UserAssignedIdentity returns an identity with its principal.
	UserAssignedIdentity(ctx context.Context, subscriptionID, group, name string) (UserAssignedIdentity, error)
	// UserAssignedIdentities lists a subscription's identities, or a
	// group's if group is not empty, ordered by group and name (lower-cased).
	UserAssignedIdentities(ctx context.Context, subscriptionID, group string) ([]UserAssignedIdentity, error)
	// DeleteUserAssignedIdentity removes an identity and its principal in
	// one transaction.
	DeleteUserAssignedIdentity(ctx context.Context, subscriptionID, group, name string) error
}

// Service manages managed identities. Its exported fields are set before
// first use; it is then safe for concurrent use.
type Service struct {
	Store    Store
	ARM      *arm.Service
	Identity *identity.Service
}

// nameRE is Azure's rule for user-assigned identity names: 3 to 128
// characters, letters, digits, hyphens and underscores, starting with a
// letter or digit.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`)

// ReasonInvalidIdentity is the code of a malformed "identity" property on
// a resource.
const ReasonInvalidIdentity = "InvalidIdentity"

// CreateOrUpdate creates the user-assigned identity u names, or replaces
// the tags of the existing one, and reports whether it was created. The
// principal is made by the Service; u's Principal is ignored. The location
// of an existing identity cannot change.
func (s *Service) CreateOrUpdate(ctx context.Context, u UserAssignedIdentity) (UserAssignedIdentity, bool, error) {
	g, err := s.ARM.GetResourceGroup(ctx, u.SubscriptionID, u.ResourceGroup)
	if err != nil {
		return UserAssignedIdentity{}, false, err
	}
	if !nameRE.MatchString(u.Name) {
		return UserAssignedIdentity{}, false, tresor.Errorf(tresor.Invalid,
			"Resource name '%s' is invalid. The name can contain only letters, numbers, underscores and hyphens, must start with a letter or number, and be 3 to 128 characters long.",
			clip(u.Name)).WithReason(arm.ReasonInvalidParameter)
	}
	if u.Location, err = arm.ValidateLocation(u.Location); err != nil {
		return UserAssignedIdentity{}, false, err
	}
	if err := arm.ValidateTags(u.Tags); err != nil {
		return UserAssignedIdentity{}, false, err
	}
	old, err := s.Store.UserAssignedIdentity(ctx, g.SubscriptionID, g.Name, u.Name)
	switch {
	case err == nil:
		if old.Location != u.Location {
			return UserAssignedIdentity{}, false, locationChange(old, u.Location)
		}
		if err := s.Store.UpdateUserAssignedIdentityTags(ctx, g.SubscriptionID, g.Name, old.Name, u.Tags); err != nil {
			return UserAssignedIdentity{}, false, err
		}
		old.Tags = u.Tags
		return old, false, nil
	case !tresor.IsKind(err, tresor.NotFound):
		return UserAssignedIdentity{}, false, err
	}
	sub, err := s.ARM.GetSubscription(ctx, g.SubscriptionID)
	if err != nil {
		return UserAssignedIdentity{}, false, err
	}
	u.SubscriptionID, u.ResourceGroup = g.SubscriptionID, g.Name
	if u.Principal, err = s.Identity.NewManagedIdentity(sub.TenantID, u.Name, u.ID().String()); err != nil {
		return UserAssignedIdentity{}, false, err
	}
	u.Created = u.Principal.Created
	if err := s.Store.CreateUserAssignedIdentity(ctx, u); err != nil {
		return UserAssignedIdentity{}, false, err
	}
	return u, true, nil
}

// Update applies a PATCH to an identity: tags, if not nil, replace its
// tags; a location, if given, must be the identity's own (Invalid
// otherwise, as the location cannot change).
func (s *Service) Update(ctx context.Context, subscriptionID, group, name string, location *string, tags map[string]string) (UserAssignedIdentity, error) {
	u, err := s.Get(ctx, subscriptionID, group, name)
	if err != nil {
		return UserAssignedIdentity{}, err
	}
	if location != nil && arm.NormalizeLocation(*location) != u.Location {
		return UserAssignedIdentity{}, locationChange(u, *location)
	}
	if tags == nil {
		return u, nil
	}
	if err := arm.ValidateTags(tags); err != nil {
		return UserAssignedIdentity{}, err
	}
	if err := s.Store.UpdateUserAssignedIdentityTags(ctx, u.SubscriptionID, u.ResourceGroup, u.Name, tags); err != nil {
		return UserAssignedIdentity{}, err
	}
	u.Tags = tags
	return u, nil
}

// Get returns an identity. NotFound (ResourceGroupNotFound or
// ResourceNotFound) if the group or the identity does not exist.
func (s *Service) Get(ctx context.Context, subscriptionID, group, name string) (UserAssignedIdentity, error) {
	g, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group)
	if err != nil {
		return UserAssignedIdentity{}, err
	}
	u, err := s.Store.UserAssignedIdentity(ctx, g.SubscriptionID, g.Name, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return UserAssignedIdentity{}, tresor.Errorf(tresor.NotFound,
			"The Resource '%s/userAssignedIdentities/%s' under resource group '%s' was not found.", Namespace, clip(name), g.Name).
			WithReason(arm.ReasonResourceNotFound)
	}
	return u, err
}

// List lists a subscription's identities, or a group's if group is not
// empty (NotFound if that group does not exist).
func (s *Service) List(ctx context.Context, subscriptionID, group string) ([]UserAssignedIdentity, error) {
	if group != "" {
		g, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group)
		if err != nil {
			return nil, err
		}
		group = g.Name
	}
	return s.Store.UserAssignedIdentities(ctx, subscriptionID, group)
}

// Delete deletes an identity and its principal, and reports whether it
// existed. Role assignments naming the principal stay, as in Azure, and
// grant nothing; tokens already issued stay valid until they expire.
func (s *Service) Delete(ctx context.Context, subscriptionID, group, name string) (bool, error) {
	u, err := s.Get(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) && tresor.ReasonOf(err) == arm.ReasonResourceNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = s.Store.DeleteUserAssignedIdentity(ctx, u.SubscriptionID, u.ResourceGroup, u.Name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil // deleted meanwhile
	}
	return err == nil, err
}

// Resolve returns the user-assigned identity with that ARM resource id.
// Invalid (ReasonInvalidIdentity) if it is not such an id or there is no
// such identity: a resource naming it cannot be saved.
func (s *Service) Resolve(ctx context.Context, resourceID string) (UserAssignedIdentity, error) {
	id, err := arm.Parse(resourceID)
	if err != nil || !strings.EqualFold(id.Provider, Namespace) || len(id.Types) != 1 ||
		!strings.EqualFold(id.Types[0], "userAssignedIdentities") {
		return UserAssignedIdentity{}, tresor.Errorf(tresor.Invalid,
			"'%s' is not the resource id of a user-assigned identity (/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}).",
			clip(resourceID)).WithReason(ReasonInvalidIdentity)
	}
	u, err := s.Store.UserAssignedIdentity(ctx, strings.ToLower(id.Subscription), id.ResourceGroup, id.Names[0])
	if tresor.IsKind(err, tresor.NotFound) {
		return UserAssignedIdentity{}, tresor.Errorf(tresor.Invalid,
			"The user-assigned identity '%s' was not found.", clip(resourceID)).WithReason(ReasonInvalidIdentity)
	}
	return u, err
}

// DeleteResourceGroup deletes the identities of a group.
func (s *Service) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	us, err := s.Store.UserAssignedIdentities(ctx, subscriptionID, group)
	if err != nil {
		return err
	}
	for _, u := range us {
		if err := s.Store.DeleteUserAssignedIdentity(ctx, u.SubscriptionID, u.ResourceGroup, u.Name); err != nil && !tresor.IsKind(err, tresor.NotFound) {
			return err
		}
	}
	return nil
}

func locationChange(u UserAssignedIdentity, to string) error {
	return tresor.Errorf(tresor.Invalid, "The location of identity '%s' cannot be changed from '%s' to '%s'.", u.Name, u.Location, clip(to)).
		WithReason(arm.ReasonInvalidParameter)
}

// clip shortens caller-supplied text that is echoed in a message.
func clip(s string) string {
	const n = 128
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
