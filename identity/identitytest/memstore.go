// Package identitytest holds what tests of identity and its adapters share:
// the Store conformance suite, an in-memory Store that passes it, and a
// ready-made Service.
package identitytest

import (
	"cmp"
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
)

// MemStore is an in-memory identity.Store. The zero value is empty and
// ready; it is safe for concurrent use.
type MemStore struct {
	mu      sync.Mutex
	tenants map[string]identity.Tenant
	apps    map[string]identity.Application      // by object ID
	sps     map[string]identity.ServicePrincipal // by object ID
	keys    map[string]identity.SigningKey
}

var _ identity.Store = (*MemStore)(nil)

func (m *MemStore) init() {
	if m.tenants == nil {
		m.tenants = map[string]identity.Tenant{}
		m.apps = map[string]identity.Application{}
		m.sps = map[string]identity.ServicePrincipal{}
		m.keys = map[string]identity.SigningKey{}
	}
}

// CreateTenant implements identity.Store.
func (m *MemStore) CreateTenant(ctx context.Context, t identity.Tenant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if _, ok := m.tenants[t.ID]; ok {
		return tresor.Errorf(tresor.Conflict, "tenant %s exists", t.ID)
	}
	m.tenants[t.ID] = t
	return nil
}

// Tenant implements identity.Store.
func (m *MemStore) Tenant(ctx context.Context, id string) (identity.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return identity.Tenant{}, tresor.Errorf(tresor.NotFound, "tenant %s not found", id)
	}
	return t, nil
}

// Tenants implements identity.Store.
func (m *MemStore) Tenants(ctx context.Context) ([]identity.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]identity.Tenant, 0, len(m.tenants))
	for _, t := range m.tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b identity.Tenant) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// objectIDTaken reports whether an application or a service principal has
// id. m.mu must be held.
func (m *MemStore) objectIDTaken(id string) bool {
	_, app := m.apps[id]
	_, sp := m.sps[id]
	return app || sp
}

// keyIDTaken reports whether any application has a password keyID. m.mu
// must be held.
func (m *MemStore) keyIDTaken(keyID string) bool {
	for _, a := range m.apps {
		for _, c := range a.Passwords {
			if c.KeyID == keyID {
				return true
			}
		}
	}
	return false
}

// appByAppID returns the application with appID. m.mu must be held.
func (m *MemStore) appByAppID(appID string) (identity.Application, bool) {
	for _, a := range m.apps {
		if a.AppID == appID {
			return a, true
		}
	}
	return identity.Application{}, false
}

// CreateApplication implements identity.Store.
func (m *MemStore) CreateApplication(ctx context.Context, a identity.Application) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if _, ok := m.tenants[a.TenantID]; !ok {
		return tresor.Errorf(tresor.NotFound, "tenant %s not found", a.TenantID)
	}
	if m.objectIDTaken(a.ObjectID) {
		return tresor.Errorf(tresor.Conflict, "object %s exists", a.ObjectID)
	}
	if _, ok := m.appByAppID(a.AppID); ok {
		return tresor.Errorf(tresor.Conflict, "application %s exists", a.AppID)
	}
	for _, sp := range m.sps {
		if sp.AppID == a.AppID {
			return tresor.Errorf(tresor.Conflict, "a service principal has app id %s", a.AppID)
		}
	}
	seen := map[string]bool{}
	for _, c := range a.Passwords {
		if seen[c.KeyID] || m.keyIDTaken(c.KeyID) {
			return tresor.Errorf(tresor.Conflict, "password %s exists", c.KeyID)
		}
		seen[c.KeyID] = true
	}
	stored := cloneApp(a)
	stored.FederatedCredentials = nil
	for _, c := range a.FederatedCredentials {
		if err := m.federatedConflict(stored, c); err != nil {
			return err
		}
		stored.FederatedCredentials = append(stored.FederatedCredentials, cloneFederated(c))
	}
	m.apps[a.ObjectID] = cloneApp(stored)
	return nil
}

// UpdateApplication implements identity.Store.
func (m *MemStore) UpdateApplication(ctx context.Context, a identity.Application) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.apps[a.ObjectID]
	if !ok {
		return tresor.Errorf(tresor.NotFound, "application %s not found", a.ObjectID)
	}
	old.DisplayName, old.SignInAudience = a.DisplayName, a.SignInAudience
	m.apps[a.ObjectID] = old
	return nil
}

// federatedConflict reports whether c may not be added to a. m.mu must be
// held.
func (m *MemStore) federatedConflict(a identity.Application, c identity.FederatedCredential) error {
	for _, o := range m.apps {
		for _, f := range o.FederatedCredentials {
			if f.ID == c.ID {
				return tresor.Errorf(tresor.Conflict, "federated credential %s exists", c.ID)
			}
		}
	}
	for _, f := range a.FederatedCredentials {
		switch {
		case f.ID == c.ID:
			return tresor.Errorf(tresor.Conflict, "federated credential %s exists", c.ID)
		case strings.EqualFold(f.Name, c.Name):
			return tresor.Errorf(tresor.Conflict, "application %s has a federated credential named %s", a.ObjectID, c.Name)
		case f.Issuer == c.Issuer && f.Subject == c.Subject:
			return tresor.Errorf(tresor.Conflict, "application %s has a federated credential for %s %s", a.ObjectID, c.Issuer, c.Subject)
		}
	}
	return nil
}

// AddFederatedCredential implements identity.Store.
func (m *MemStore) AddFederatedCredential(ctx context.Context, objectID string, c identity.FederatedCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	if !ok {
		return tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
	}
	if err := m.federatedConflict(a, c); err != nil {
		return err
	}
	a.FederatedCredentials = append(slices.Clone(a.FederatedCredentials), cloneFederated(c))
	m.apps[objectID] = cloneApp(a)
	return nil
}

// RemoveFederatedCredential implements identity.Store.
func (m *MemStore) RemoveFederatedCredential(ctx context.Context, objectID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	i := slices.IndexFunc(a.FederatedCredentials, func(c identity.FederatedCredential) bool { return c.ID == id })
	if !ok || i < 0 {
		return tresor.Errorf(tresor.NotFound, "application %s has no federated credential %s", objectID, id)
	}
	a.FederatedCredentials = slices.Delete(slices.Clone(a.FederatedCredentials), i, i+1)
	m.apps[objectID] = a
	return nil
}

// Application implements identity.Store.
func (m *MemStore) Application(ctx context.Context, objectID string) (identity.Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	if !ok {
		return identity.Application{}, tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
	}
	return cloneApp(a), nil
}

// ApplicationByAppID implements identity.Store.
func (m *MemStore) ApplicationByAppID(ctx context.Context, appID string) (identity.Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.appByAppID(appID)
	if !ok {
		return identity.Application{}, tresor.Errorf(tresor.NotFound, "application %s not found", appID)
	}
	return cloneApp(a), nil
}

// Applications implements identity.Store.
func (m *MemStore) Applications(ctx context.Context, tenantID string) ([]identity.Application, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []identity.Application
	for _, a := range m.apps {
		if a.TenantID == tenantID {
			out = append(out, cloneApp(a))
		}
	}
	slices.SortFunc(out, func(a, b identity.Application) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ObjectID, b.ObjectID))
	})
	return out, nil
}

// DeleteApplication implements identity.Store.
func (m *MemStore) DeleteApplication(ctx context.Context, objectID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	if !ok {
		return tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
	}
	for id, sp := range m.sps { // in every tenant
		if sp.AppID == a.AppID {
			delete(m.sps, id)
		}
	}
	delete(m.apps, objectID)
	return nil
}

// AddPassword implements identity.Store.
func (m *MemStore) AddPassword(ctx context.Context, objectID string, c identity.PasswordCredential) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	if !ok {
		return tresor.Errorf(tresor.NotFound, "application %s not found", objectID)
	}
	if m.keyIDTaken(c.KeyID) {
		return tresor.Errorf(tresor.Conflict, "password %s exists", c.KeyID)
	}
	a.Passwords = append(slices.Clone(a.Passwords), clonePassword(c))
	sortPasswords(a.Passwords)
	m.apps[objectID] = a
	return nil
}

// RemovePassword implements identity.Store.
func (m *MemStore) RemovePassword(ctx context.Context, objectID, keyID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[objectID]
	i := slices.IndexFunc(a.Passwords, func(c identity.PasswordCredential) bool { return c.KeyID == keyID })
	if !ok || i < 0 {
		return tresor.Errorf(tresor.NotFound, "application %s has no password %s", objectID, keyID)
	}
	a.Passwords = slices.Delete(slices.Clone(a.Passwords), i, i+1)
	m.apps[objectID] = a
	return nil
}

// CreateServicePrincipal implements identity.Store.
func (m *MemStore) CreateServicePrincipal(ctx context.Context, sp identity.ServicePrincipal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if _, ok := m.tenants[sp.TenantID]; !ok {
		return tresor.Errorf(tresor.NotFound, "tenant %s not found", sp.TenantID)
	}
	_, hasApp := m.appByAppID(sp.AppID)
	switch {
	case sp.Type == tresor.ServicePrincipal && !hasApp:
		return tresor.Errorf(tresor.NotFound, "application %s not found", sp.AppID)
	case sp.Type != tresor.ServicePrincipal && hasApp:
		return tresor.Errorf(tresor.Conflict, "application %s exists", sp.AppID)
	case m.objectIDTaken(sp.ObjectID):
		return tresor.Errorf(tresor.Conflict, "object %s exists", sp.ObjectID)
	}
	for _, o := range m.sps {
		// A managed identity's client id is unique everywhere; an
		// application's service principals are one per tenant.
		if o.AppID == sp.AppID && (o.TenantID == sp.TenantID || sp.Type != tresor.ServicePrincipal) {
			return tresor.Errorf(tresor.Conflict, "service principal %s (app %s) exists", o.ObjectID, sp.AppID)
		}
		if sp.ResourceID != "" && strings.EqualFold(o.ResourceID, sp.ResourceID) {
			return tresor.Errorf(tresor.Conflict, "a managed identity of resource %s exists", sp.ResourceID)
		}
	}
	m.sps[sp.ObjectID] = sp
	return nil
}

// ServicePrincipal implements identity.Store.
func (m *MemStore) ServicePrincipal(ctx context.Context, objectID string) (identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, ok := m.sps[objectID]
	if !ok {
		return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "service principal %s not found", objectID)
	}
	return sp, nil
}

// ServicePrincipalByAppID implements identity.Store.
func (m *MemStore) ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sp := range m.sps {
		if sp.AppID == appID && (sp.TenantID == tenantID || tenantID == "" && sp.Type == tresor.ManagedIdentity) {
			return sp, nil
		}
	}
	return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "service principal of app %s not found in tenant %q", appID, tenantID)
}

// ServicePrincipalByResourceID implements identity.Store.
func (m *MemStore) ServicePrincipalByResourceID(ctx context.Context, resourceID string) (identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sp := range m.sps {
		if resourceID != "" && strings.EqualFold(sp.ResourceID, resourceID) {
			return sp, nil
		}
	}
	return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "managed identity of %s not found", resourceID)
}

// DeleteServicePrincipal implements identity.Store.
func (m *MemStore) DeleteServicePrincipal(ctx context.Context, objectID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sps[objectID]; !ok {
		return tresor.Errorf(tresor.NotFound, "service principal %s not found", objectID)
	}
	delete(m.sps, objectID)
	return nil
}

// ServicePrincipals implements identity.Store.
func (m *MemStore) ServicePrincipals(ctx context.Context, tenantID string) ([]identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []identity.ServicePrincipal
	for _, sp := range m.sps {
		if sp.TenantID == tenantID {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b identity.ServicePrincipal) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ObjectID, b.ObjectID))
	})
	return out, nil
}

// PutSigningKey implements identity.Store.
func (m *MemStore) PutSigningKey(ctx context.Context, k identity.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if _, ok := m.keys[k.ID]; ok {
		return tresor.Errorf(tresor.Conflict, "signing key %s exists", k.ID)
	}
	k.Sealed = slices.Clone(k.Sealed)
	m.keys[k.ID] = k
	return nil
}

// SigningKeys implements identity.Store.
func (m *MemStore) SigningKeys(ctx context.Context) ([]identity.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]identity.SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		k.Sealed = slices.Clone(k.Sealed)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b identity.SigningKey) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// cloneApp copies a so that neither the caller nor the store sees the
// other's later changes; its passwords and federated credentials come
// sorted as Stores return them.
func cloneApp(a identity.Application) identity.Application {
	ps := make([]identity.PasswordCredential, 0, len(a.Passwords))
	for _, c := range a.Passwords {
		ps = append(ps, clonePassword(c))
	}
	sortPasswords(ps)
	a.Passwords = ps
	fs := make([]identity.FederatedCredential, 0, len(a.FederatedCredentials))
	for _, c := range a.FederatedCredentials {
		fs = append(fs, cloneFederated(c))
	}
	slices.SortFunc(fs, func(a, b identity.FederatedCredential) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	a.FederatedCredentials = fs
	return a
}

func cloneFederated(c identity.FederatedCredential) identity.FederatedCredential {
	c.Audiences = slices.Clone(c.Audiences)
	return c
}

func clonePassword(c identity.PasswordCredential) identity.PasswordCredential {
	c.Hash, c.Salt = slices.Clone(c.Hash), slices.Clone(c.Salt)
	return c
}

func sortPasswords(ps []identity.PasswordCredential) {
	slices.SortFunc(ps, func(a, b identity.PasswordCredential) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.KeyID, b.KeyID))
	})
}

// NewService returns a Service on a new MemStore with a random root key,
// already bootstrapped, and the admin that Bootstrap created.
func NewService(tb testing.TB, issuer string, audiences ...string) (*identity.Service, identity.Admin) {
	tb.Helper()
	root := make([]byte, seal.RootKeySize)
	rand.Read(root) //nolint:errcheck // crypto/rand does not fail
	sealer, err := seal.New(root, "identity")
	if err != nil {
		tb.Fatal(err)
	}
	svc := &identity.Service{Store: &MemStore{}, Sealer: sealer, Issuer: issuer, Audiences: audiences}
	admin, err := svc.Bootstrap(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return svc, admin
}
