// Package tenancy creates the tenants of an installation beyond its first.
//
// Azure keeps customers apart by Microsoft Entra tenant: a tenant has its
// own directory (applications, service principals, managed identities) and
// its own subscriptions, and a token of one tenant is refused by another's
// subscriptions and vaults. A tresor installation starts with one tenant,
// its administrator and one subscription (identity.Service.Bootstrap,
// arm.Service.Bootstrap). Service creates more of them, each with the same
// three things, so that what crosses tenants in Azure can be set up and
// tested: a storage account that uses a key in another tenant's vault
// through a multi-tenant application (cross-tenant customer-managed keys),
// a vault that refuses another tenant's tokens.
//
// Azure has no API that creates a tenant; tresor's is served under
// /tresor/tenants (tenancyhttp), for the installation's administrator only.
package tenancy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// Service creates and lists tenants.
type Service struct {
	Identity *identity.Service
	ARM      *arm.Service
	RBAC     *rbac.Service
}

// Created is a new tenant with its administrator and subscription. The
// administrator's secret is shown only here.
type Created struct {
	Tenant         identity.Tenant
	Admin          identity.Admin
	SubscriptionID string
}

// Tenant is a tenant with the ids of its subscriptions.
type Tenant struct {
	ID              string
	DisplayName     string
	Created         time.Time
	SubscriptionIDs []string
}

// Create creates a tenant named displayName with its administrator and
// one subscription, which the administrator owns (the Owner role at the
// subscription), as a new installation's first tenant has. Invalid if
// displayName is empty or too long.
func (s *Service) Create(ctx context.Context, displayName string) (Created, error) {
	t, admin, err := s.Identity.CreateTenantWithAdmin(ctx, displayName)
	if err != nil {
		return Created{}, err
	}
	sub, err := s.ARM.Bootstrap(ctx, t.ID)
	if err != nil {
		return Created{}, fmt.Errorf("create the subscription of tenant %s: %w", t.ID, err)
	}
	_, _, err = s.RBAC.CreateRoleAssignment(ctx, rbac.Assignment{
		Name: identity.NewGUID(), Scope: "/subscriptions/" + sub.ID, RoleID: rbac.Owner, PrincipalID: admin.ObjectID,
		PrincipalType: "ServicePrincipal", Description: "tenant administrator",
	})
	if err != nil {
		return Created{}, fmt.Errorf("make the administrator of tenant %s owner of its subscription: %w", t.ID, err)
	}
	return Created{Tenant: t, Admin: admin, SubscriptionID: sub.ID}, nil
}

// List lists every tenant, the home tenant first, with its subscriptions.
func (s *Service) List(ctx context.Context) ([]Tenant, error) {
	ts, err := s.Identity.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := s.ARM.ListSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, 0, len(ts))
	for _, t := range ts {
		x := Tenant{ID: t.ID, DisplayName: t.DisplayName, Created: t.Created, SubscriptionIDs: []string{}}
		for _, sub := range subs {
			if strings.EqualFold(sub.TenantID, t.ID) {
				x.SubscriptionIDs = append(x.SubscriptionIDs, sub.ID)
			}
		}
		out = append(out, x)
	}
	return out, nil
}
