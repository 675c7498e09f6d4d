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
	sps     map[string]identity.ServicePrincipal // by object ID
	keys    map[string]identity.SigningKey
}

var _ identity.Store = (*MemStore)(nil)

func (m *MemStore) init() {
	if m.tenants == nil {
		m.tenants = map[string]identity.Tenant{}
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

// CreateServicePrincipal implements identity.Store.
func (m *MemStore) CreateServicePrincipal(ctx context.Context, sp identity.ServicePrincipal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if _, ok := m.tenants[sp.TenantID]; !ok {
		return tresor.Errorf(tresor.NotFound, "tenant %s not found", sp.TenantID)
	}
	for _, o := range m.sps {
		if o.ObjectID == sp.ObjectID || o.AppID == sp.AppID {
			return tresor.Errorf(tresor.Conflict, "service principal %s (app %s) exists", sp.ObjectID, sp.AppID)
		}
		if sp.ResourceID != "" && strings.EqualFold(o.ResourceID, sp.ResourceID) {
			return tresor.Errorf(tresor.Conflict, "a managed identity of resource %s exists", sp.ResourceID)
		}
	}
	m.sps[sp.ObjectID] = cloneSP(sp)
	return nil
}

// UpdateServicePrincipal implements identity.Store.
func (m *MemStore) UpdateServicePrincipal(ctx context.Context, sp identity.ServicePrincipal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.sps[sp.ObjectID]
	if !ok {
		return tresor.Errorf(tresor.NotFound, "service principal %s not found", sp.ObjectID)
	}
	o.DisplayName = sp.DisplayName
	o.SecretHash = slices.Clone(sp.SecretHash)
	o.SecretSalt = slices.Clone(sp.SecretSalt)
	m.sps[sp.ObjectID] = o
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
	return cloneSP(sp), nil
}

// ServicePrincipalByAppID implements identity.Store.
func (m *MemStore) ServicePrincipalByAppID(ctx context.Context, appID string) (identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sp := range m.sps {
		if sp.AppID == appID {
			return cloneSP(sp), nil
		}
	}
	return identity.ServicePrincipal{}, tresor.Errorf(tresor.NotFound, "application %s not found", appID)
}

// ServicePrincipalByResourceID implements identity.Store.
func (m *MemStore) ServicePrincipalByResourceID(ctx context.Context, resourceID string) (identity.ServicePrincipal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sp := range m.sps {
		if resourceID != "" && strings.EqualFold(sp.ResourceID, resourceID) {
			return cloneSP(sp), nil
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
			out = append(out, cloneSP(sp))
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

func cloneSP(sp identity.ServicePrincipal) identity.ServicePrincipal {
	sp.SecretHash = slices.Clone(sp.SecretHash)
	sp.SecretSalt = slices.Clone(sp.SecretSalt)
	return sp
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
