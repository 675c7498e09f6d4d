package rbac

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// Service manages role definitions and assignments and answers access
// decisions. Decisions are cached per realm and principal; every change
// made through the Service empties the cache, so a new or deleted
// assignment takes effect on the next request. The cache is only correct if
// all changes go through one Service (one process per database).
type Service struct {
	Store Store
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu    sync.RWMutex
	gen   uint64
	cache map[string][]grant // realm "\x00" principal → grants

	// writeMu serializes the changes whose rules read other roles and
	// assignments: putting and deleting custom roles, creating assignments.
	writeMu sync.Mutex
}

// grant is one assignment with its role resolved and compiled: scope and
// patterns lower-cased once, so that a decision allocates nothing.
type grant struct {
	scope              string
	actions, notActs   [][]string // per permission
	dataActs, notDatas [][]string
}

func compile(scope string, d RoleDefinition) grant {
	g := grant{scope: strings.TrimSuffix(strings.ToLower(scope), "/")}
	lower := func(ps []string) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = strings.ToLower(p)
		}
		return out
	}
	for _, p := range d.Permissions {
		g.actions, g.notActs = append(g.actions, lower(p.Actions)), append(g.notActs, lower(p.NotActions))
		g.dataActs, g.notDatas = append(g.dataActs, lower(p.DataActions)), append(g.notDatas, lower(p.NotDataActions))
	}
	return g
}

// allows reports whether g grants action (lower case).
func (g grant) allows(action string, data bool) bool {
	allow, deny := g.actions, g.notActs
	if data {
		allow, deny = g.dataActs, g.notDatas
	}
	for i := range allow {
		if matchAnyLower(allow[i], action) && !matchAnyLower(deny[i], action) {
			return true
		}
	}
	return false
}

func matchAnyLower(patterns []string, action string) bool {
	for _, p := range patterns {
		if matchLower(p, action) {
			return true
		}
	}
	return false
}

const maxCachedPrincipals = 10000

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Decide reports whether principalID may perform action at scope in realm;
// data selects data actions (the data plane) rather than actions (the
// control plane).
func (s *Service) Decide(ctx context.Context, realm, principalID, scope, action string, data bool) (bool, error) {
	grants, err := s.grants(ctx, realm, principalID)
	if err != nil {
		return false, err
	}
	scope = strings.TrimSuffix(strings.ToLower(scope), "/")
	action = strings.ToLower(action)
	for _, g := range grants {
		if coversLower(g.scope, scope) && g.allows(action, data) {
			return true, nil
		}
	}
	return false, nil
}

// grants returns the resolved assignments of a principal in a realm.
func (s *Service) grants(ctx context.Context, realm, principalID string) ([]grant, error) {
	key := realm + "\x00" + strings.ToLower(principalID)
	s.mu.RLock()
	gs, ok := s.cache[key]
	gen := s.gen
	s.mu.RUnlock()
	if ok {
		return gs, nil
	}
	as, err := s.Store.Assignments(ctx, realm, strings.ToLower(principalID))
	if err != nil {
		return nil, err
	}
	gs = make([]grant, 0, len(as))
	for _, a := range as {
		d, err := s.roleDefinition(ctx, realm, a.RoleID)
		if tresor.IsKind(err, tresor.NotFound) {
			continue // a custom role deleted under its assignment grants nothing
		}
		if err != nil {
			return nil, err
		}
		gs = append(gs, compile(a.Scope, d))
	}
	s.mu.Lock()
	if s.gen == gen {
		if s.cache == nil || len(s.cache) >= maxCachedPrincipals {
			s.cache = make(map[string][]grant)
		}
		s.cache[key] = gs
	}
	s.mu.Unlock()
	return gs, nil
}

// changed empties the decision cache after a write.
func (s *Service) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.cache = nil
}

// CreateRoleAssignment creates a. It returns the assignment and whether it
// was created: creating the same assignment again under the same name
// returns it unchanged. Invalid for a malformed name, scope or principal,
// an unknown role, or a scope outside the role's assignable scopes
// (ReasonRoleDefinitionNotFound for both); Conflict
// (ReasonRoleAssignmentExists) if the name is taken by a different
// assignment or the principal already has the role at the scope under
// another name.
func (s *Service) CreateRoleAssignment(ctx context.Context, a Assignment) (Assignment, bool, error) {
	if !isGUID(a.Name) {
		return Assignment{}, false, tresor.Errorf(tresor.Invalid, "The role assignment name %q is not a valid GUID.", a.Name)
	}
	if !isGUID(a.PrincipalID) {
		return Assignment{}, false, tresor.Errorf(tresor.Invalid, "The principal id %q is not a valid GUID.", a.PrincipalID)
	}
	a.Name, a.PrincipalID = strings.ToLower(a.Name), strings.ToLower(a.PrincipalID)
	if strings.HasPrefix(a.Realm, "managedHSM/") {
		scope, err := NormalizeHSMScope(a.Scope)
		if err != nil {
			return Assignment{}, false, err
		}
		a.Scope = scope
	} else if !strings.HasPrefix(a.Scope, "/") {
		return Assignment{}, false, tresor.Errorf(tresor.Invalid, "The scope %q is not a valid resource id.", a.Scope)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d, err := s.roleDefinition(ctx, a.Realm, a.RoleID)
	if tresor.IsKind(err, tresor.NotFound) {
		return Assignment{}, false, tresor.Errorf(tresor.Invalid, "The role definition %s does not exist.", a.RoleID).WithReason(ReasonRoleDefinitionNotFound)
	}
	if err != nil {
		return Assignment{}, false, err
	}
	if !d.AssignableAt(a.Scope) {
		return Assignment{}, false, tresor.Errorf(tresor.Invalid, "The role definition %s ('%s') is not available for assignment at scope '%s': its assignable scopes are %s.",
			d.ID, d.RoleName, a.Scope, strings.Join(d.AssignableScopes, ", ")).WithReason(ReasonRoleDefinitionNotFound)
	}
	a.RoleID = d.ID
	if old, err := s.Store.Assignment(ctx, a.Realm, a.Name); err == nil {
		if old.RoleID == a.RoleID && strings.EqualFold(old.Scope, a.Scope) && old.PrincipalID == a.PrincipalID {
			return old, false, nil
		}
		return Assignment{}, false, tresor.Errorf(tresor.Conflict, "The role assignment %s already exists with other properties; role assignments cannot be updated.", a.Name).WithReason(ReasonRoleAssignmentExists)
	} else if !tresor.IsKind(err, tresor.NotFound) {
		return Assignment{}, false, err
	}
	existing, err := s.Store.Assignments(ctx, a.Realm, a.PrincipalID)
	if err != nil {
		return Assignment{}, false, err
	}
	for _, o := range existing {
		if o.RoleID == a.RoleID && strings.EqualFold(o.Scope, a.Scope) {
			return Assignment{}, false, tresor.Errorf(tresor.Conflict, "The role assignment already exists (as %s).", o.Name).WithReason(ReasonRoleAssignmentExists)
		}
	}
	a.Created = s.now().Truncate(time.Second)
	if err := s.Store.CreateAssignment(ctx, a); err != nil {
		return Assignment{}, false, err
	}
	s.changed()
	return a, true, nil
}

// GetRoleAssignment returns an assignment; NotFound
// (ReasonRoleAssignmentNotFound) if absent.
func (s *Service) GetRoleAssignment(ctx context.Context, realm, name string) (Assignment, error) {
	a, err := s.Store.Assignment(ctx, realm, strings.ToLower(name))
	if tresor.IsKind(err, tresor.NotFound) {
		return Assignment{}, tresor.Errorf(tresor.NotFound, "Requested role assignment not found.").WithReason(ReasonRoleAssignmentNotFound)
	}
	return a, err
}

// ListRoleAssignments lists a realm's assignments that apply at scope
// (assigned there or above), or, with atScope set, only those assigned
// exactly there; principalID, if set, selects one principal's.
func (s *Service) ListRoleAssignments(ctx context.Context, realm, scope, principalID string, atScope bool) ([]Assignment, error) {
	as, err := s.Store.Assignments(ctx, realm, strings.ToLower(principalID))
	if err != nil {
		return nil, err
	}
	out := as[:0]
	for _, a := range as {
		switch {
		case atScope && !strings.EqualFold(strings.TrimSuffix(a.Scope, "/"), strings.TrimSuffix(scope, "/")):
		case !atScope && !Covers(a.Scope, scope) && !Covers(scope, a.Scope):
		default:
			out = append(out, a)
		}
	}
	return out, nil
}

// DeleteRoleAssignment deletes an assignment and returns it; NotFound
// (ReasonRoleAssignmentNotFound) if absent.
func (s *Service) DeleteRoleAssignment(ctx context.Context, realm, name string) (Assignment, error) {
	a, err := s.GetRoleAssignment(ctx, realm, name)
	if err != nil {
		return Assignment{}, err
	}
	if err := s.Store.DeleteAssignment(ctx, realm, a.Name); err != nil {
		return Assignment{}, err
	}
	s.changed()
	return a, nil
}

// DeleteRealm removes a realm's assignments and custom roles, as when a
// Managed HSM is purged.
func (s *Service) DeleteRealm(ctx context.Context, realm string) error {
	defer s.changed()
	return s.Store.DeleteRealm(ctx, realm)
}

// isGUID reports whether s has the 8-4-4-4-12 hex form of a GUID.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
