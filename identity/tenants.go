package identity

import (
	"context"
	"fmt"
)

// CreateTenantWithAdmin creates a tenant with a new ID and its
// administrator: an application and service principal named AdminName with
// a password that does not expire, which holds the tenant's directory role
// (see Directory). The secret is returned once, in Admin. Invalid if
// displayName is empty or too long.
//
// A failure after the tenant was created leaves an empty tenant behind,
// which nobody can sign in to and which is harmless.
func (s *Service) CreateTenantWithAdmin(ctx context.Context, displayName string) (Tenant, Admin, error) {
	t, err := s.CreateTenant(ctx, displayName)
	if err != nil {
		return Tenant{}, Admin{}, err
	}
	sp, secret, err := s.register(ctx, t.ID, AdminName)
	if err != nil {
		return Tenant{}, Admin{}, fmt.Errorf("create the administrator of tenant %s: %w", t.ID, err)
	}
	return t, Admin{TenantID: t.ID, ClientID: sp.AppID, ObjectID: sp.ObjectID, ClientSecret: secret, Created: true}, nil
}

// Tenants lists every tenant, the installation's first (home) tenant
// first.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	return s.Store.Tenants(ctx)
}
