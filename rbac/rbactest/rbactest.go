// Package rbactest supports testing rbac: TestStore, the conformance suite
// every rbac.Store passes, and NewMemStore, an in-memory Store.
package rbactest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/rbac"
)

// TestStore checks the contracts of rbac.Store on Stores returned by open,
// which must be empty. Beyond the doc comments: realms are isolated from
// each other, names and ids are stored as given (the Service lower-cases
// them), times come back in UTC truncated to the second, and nil and empty
// slices are interchangeable.
func TestStore(t *testing.T, open func(t *testing.T) rbac.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	assignment := func(realm string, i int, principal string) rbac.Assignment {
		return rbac.Assignment{
			Realm: realm, Name: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Scope: "/keys/k" + fmt.Sprint(i),
			RoleID: rbac.HSMCryptoUser, PrincipalID: principal, PrincipalType: "ServicePrincipal",
			Description: "d" + fmt.Sprint(i), Created: t0.Add(time.Duration(i) * time.Second), CreatedBy: "creator",
		}
	}
	const p1, p2 = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
	equate := cmpopts.EquateEmpty()

	t.Run("Assignments", func(t *testing.T) {
		s := open(t)
		a2, a1, a3 := assignment("r1", 2, p1), assignment("r1", 1, p2), assignment("r1", 3, p1)
		other := assignment("r2", 4, p1)
		for _, a := range []rbac.Assignment{a2, a1, a3, other} {
			if err := s.CreateAssignment(ctx, a); err != nil {
				t.Fatalf("CreateAssignment(%s) = %v", a.Name, err)
			}
		}
		if err := s.CreateAssignment(ctx, a1); !tresor.IsKind(err, tresor.Conflict) {
			t.Errorf("CreateAssignment(duplicate) = %v, want Conflict", err)
		}
		got, err := s.Assignment(ctx, "r1", a1.Name)
		if err != nil || !gocmp.Equal(a1, got, equate) {
			t.Errorf("Assignment() = %+v, %v; want %+v", got, err, a1)
		}
		if got.Created.Location() != time.UTC {
			t.Errorf("Created location = %v, want UTC", got.Created.Location())
		}
		if _, err := s.Assignment(ctx, "r2", a1.Name); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("Assignment(other realm) = %v, want NotFound", err)
		}
		all, err := s.Assignments(ctx, "r1", "")
		if err != nil || !gocmp.Equal([]rbac.Assignment{a1, a2, a3}, all, equate) {
			t.Errorf("Assignments(r1) = %+v, %v; want a1 a2 a3", all, err)
		}
		mine, err := s.Assignments(ctx, "r1", p1)
		if err != nil || !gocmp.Equal([]rbac.Assignment{a2, a3}, mine, equate) {
			t.Errorf("Assignments(r1, p1) = %+v, %v; want a2 a3", mine, err)
		}
		mine[0].Scope = "changed"
		if again, _ := s.Assignments(ctx, "r1", p1); again[0].Scope != a2.Scope {
			t.Error("changing a listed assignment changed the Store")
		}
		if err := s.DeleteAssignment(ctx, "r1", a2.Name); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAssignment(ctx, "r1", a2.Name); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("DeleteAssignment(again) = %v, want NotFound", err)
		}
		if rest, _ := s.Assignments(ctx, "r1", ""); len(rest) != 2 {
			t.Errorf("after delete: %d assignments, want 2", len(rest))
		}
	})

	t.Run("RoleDefinitions", func(t *testing.T) {
		s := open(t)
		d := func(id string, n int) rbac.RoleDefinition {
			return rbac.RoleDefinition{
				ID: id, RoleName: "role " + id, Description: "desc", Type: rbac.TypeCustom, AssignableScopes: []string{"/"},
				Permissions: []rbac.Permission{{Actions: []string{"a"}, NotActions: []string{"b"}, DataActions: []string{fmt.Sprint("d", n)}, NotDataActions: []string{"e"}}},
			}
		}
		const id1, id2 = "20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002"
		for _, def := range []rbac.RoleDefinition{d(id2, 1), d(id1, 1), d(id1, 2)} {
			if err := s.PutRoleDefinition(ctx, "r1", def); err != nil {
				t.Fatalf("PutRoleDefinition = %v", err)
			}
		}
		got, err := s.RoleDefinition(ctx, "r1", id1)
		if err != nil || !gocmp.Equal(d(id1, 2), got, equate) {
			t.Errorf("RoleDefinition() = %+v, %v; want the replaced one", got, err)
		}
		if _, err := s.RoleDefinition(ctx, "r2", id1); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("RoleDefinition(other realm) = %v, want NotFound", err)
		}
		all, err := s.RoleDefinitions(ctx, "r1")
		if err != nil || len(all) != 2 || all[0].ID != id1 || all[1].ID != id2 {
			t.Errorf("RoleDefinitions() = %+v, %v; want id1, id2", all, err)
		}
		if err := s.DeleteRoleDefinition(ctx, "r1", id1); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRoleDefinition(ctx, "r1", id1); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("DeleteRoleDefinition(again) = %v, want NotFound", err)
		}
	})

	t.Run("DeleteRealm", func(t *testing.T) {
		s := open(t)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.CreateAssignment(ctx, assignment("r1", 1, p1)))
		must(s.CreateAssignment(ctx, assignment("r2", 2, p1)))
		must(s.PutRoleDefinition(ctx, "r1", rbac.RoleDefinition{ID: "20000000-0000-4000-8000-000000000001", Type: rbac.TypeCustom}))
		must(s.DeleteRealm(ctx, "r1"))
		if as, _ := s.Assignments(ctx, "r1", ""); len(as) != 0 {
			t.Errorf("r1 keeps %d assignments", len(as))
		}
		if ds, _ := s.RoleDefinitions(ctx, "r1"); len(ds) != 0 {
			t.Errorf("r1 keeps %d roles", len(ds))
		}
		if as, _ := s.Assignments(ctx, "r2", ""); len(as) != 1 {
			t.Errorf("r2 has %d assignments, want 1", len(as))
		}
	})
}

// NewMemStore returns an empty in-memory Store.
func NewMemStore() rbac.Store {
	return &memStore{assignments: map[[2]string]rbac.Assignment{}, roles: map[[2]string]rbac.RoleDefinition{}}
}

type memStore struct {
	mu          sync.Mutex
	assignments map[[2]string]rbac.Assignment     // realm, name
	roles       map[[2]string]rbac.RoleDefinition // realm, id
}

func notFound(what string) error { return tresor.Errorf(tresor.NotFound, "%s not found", what) }

func (m *memStore) CreateAssignment(_ context.Context, a rbac.Assignment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{a.Realm, a.Name}
	if _, ok := m.assignments[k]; ok {
		return tresor.Errorf(tresor.Conflict, "assignment %s exists", a.Name)
	}
	a.Created = a.Created.UTC().Truncate(time.Second)
	m.assignments[k] = a
	return nil
}

func (m *memStore) Assignment(_ context.Context, realm, name string) (rbac.Assignment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.assignments[[2]string{realm, name}]
	if !ok {
		return rbac.Assignment{}, notFound("assignment " + name)
	}
	return a, nil
}

func (m *memStore) Assignments(_ context.Context, realm, principalID string) ([]rbac.Assignment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []rbac.Assignment
	for k, a := range m.assignments {
		if k[0] == realm && (principalID == "" || a.PrincipalID == principalID) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b rbac.Assignment) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memStore) DeleteAssignment(_ context.Context, realm, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{realm, name}
	if _, ok := m.assignments[k]; !ok {
		return notFound("assignment " + name)
	}
	delete(m.assignments, k)
	return nil
}

func cloneRole(d rbac.RoleDefinition) rbac.RoleDefinition {
	d.AssignableScopes = slices.Clone(d.AssignableScopes)
	ps := make([]rbac.Permission, len(d.Permissions))
	for i, p := range d.Permissions {
		ps[i] = rbac.Permission{
			Actions: slices.Clone(p.Actions), NotActions: slices.Clone(p.NotActions),
			DataActions: slices.Clone(p.DataActions), NotDataActions: slices.Clone(p.NotDataActions),
		}
	}
	d.Permissions = ps
	return d
}

func (m *memStore) PutRoleDefinition(_ context.Context, realm string, d rbac.RoleDefinition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roles[[2]string{realm, d.ID}] = cloneRole(d)
	return nil
}

func (m *memStore) RoleDefinition(_ context.Context, realm, id string) (rbac.RoleDefinition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.roles[[2]string{realm, id}]
	if !ok {
		return rbac.RoleDefinition{}, notFound("role " + id)
	}
	return cloneRole(d), nil
}

func (m *memStore) RoleDefinitions(_ context.Context, realm string) ([]rbac.RoleDefinition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []rbac.RoleDefinition
	for k, d := range m.roles {
		if k[0] == realm {
			out = append(out, cloneRole(d))
		}
	}
	slices.SortFunc(out, func(a, b rbac.RoleDefinition) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *memStore) DeleteRoleDefinition(_ context.Context, realm, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{realm, id}
	if _, ok := m.roles[k]; !ok {
		return notFound("role " + id)
	}
	delete(m.roles, k)
	return nil
}

func (m *memStore) DeleteRealm(_ context.Context, realm string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.assignments {
		if k[0] == realm {
			delete(m.assignments, k)
		}
	}
	for k := range m.roles {
		if k[0] == realm {
			delete(m.roles, k)
		}
	}
	return nil
}
