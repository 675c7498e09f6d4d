// Package arm is the kernel of tresor's Azure Resource Manager control plane:
// resource ids, subscriptions, resource groups and the envelope every
// resource shares. Resource providers (arm/vault, ...) build on it, and
// arm/armhttp is its REST front door.
//
// Like every domain package it knows nothing of HTTP or SQL. Persistence is
// behind Store, which sqlite implements; armtest holds the conformance suite
// and an in-memory Store.
package arm

import (
	"context"
)

// Subscription is an Azure subscription: the unit that owns resource groups
// and is bound to one tenant, whose tokens alone may manage it.
type Subscription struct {
	ID          string // a lower-case GUID
	TenantID    string
	DisplayName string
	State       string // SubscriptionEnabled
}

// SubscriptionEnabled is the State of a usable subscription.
const SubscriptionEnabled = "Enabled"

// ResourceGroup is a named container of resources in a subscription. Names
// are unique within a subscription case-insensitively, and a group keeps the
// spelling it was created with.
type ResourceGroup struct {
	SubscriptionID string
	Name           string
	Location       string // normalised, see NormalizeLocation
	Tags           map[string]string
}

// Resource is the envelope every ARM resource shares, as the generic
// resources list shows it. Name and type come from the id.
type Resource struct {
	ID       ResourceID
	Location string
	Tags     map[string]string
}

// Store persists subscriptions and resource groups. It keeps business rules
// out: Service validates and decides, the Store stores and finds.
//
// Methods return *tresor.Error with Kind NotFound when the object does not
// exist and Conflict where a unique id is taken; any other failure is
// Internal. Returned maps are the caller's to modify.
type Store interface {
	// CreateSubscription inserts s. Conflict if a subscription with that
	// ID exists.
	CreateSubscription(ctx context.Context, s Subscription) error
	// Subscription returns the subscription with exactly that ID.
	Subscription(ctx context.Context, id string) (Subscription, error)
	// Subscriptions lists all subscriptions, oldest first.
	Subscriptions(ctx context.Context) ([]Subscription, error)

	// PutResourceGroup inserts g, or replaces the location and tags of the
	// group of that subscription and name (compared case-insensitively),
	// keeping its stored name. NotFound if the subscription does not exist.
	PutResourceGroup(ctx context.Context, g ResourceGroup) error
	// ResourceGroup returns the group of that name, case-insensitively.
	ResourceGroup(ctx context.Context, subscriptionID, name string) (ResourceGroup, error)
	// ResourceGroups lists a subscription's groups ordered by lower-cased
	// name.
	ResourceGroups(ctx context.Context, subscriptionID string) ([]ResourceGroup, error)
	// DeleteResourceGroup removes the group of that name, case-insensitively.
	DeleteResourceGroup(ctx context.Context, subscriptionID, name string) error
}

// Reasons are ARM error codes that clients branch on or show. They travel as
// the CloudError code.
const (
	ReasonSubscriptionNotFound  = "SubscriptionNotFound"
	ReasonResourceGroupNotFound = "ResourceGroupNotFound"
	ReasonResourceNotFound      = "ResourceNotFound"
	ReasonInvalidParameter      = "InvalidParameter"
	ReasonLocationRequired      = "LocationRequired"
	ReasonInvalidLocation       = "LocationNotAvailableForResourceGroup"
	ReasonInvalidGroupLocation  = "InvalidResourceGroupLocation"
	ReasonInvalidGroupName      = "InvalidResourceGroup"
	ReasonInvalidTag            = "InvalidTag"
)
