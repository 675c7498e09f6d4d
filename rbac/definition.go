package rbac

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tresorkms/tresor"
)

// Limits of custom Azure roles, as Azure documents them. Azure counts
// custom roles per tenant; here they are counted per installation.
const (
	maxRoleNameLength    = 512
	maxDescriptionLength = 2048
	maxAssignableScopes  = 2000
	maxActionLength      = 1024
	maxCustomRoles       = 5000
)

// A Guard approves a change to a custom role before it is written. old is
// the role as stored, or the zero RoleDefinition if it does not exist yet;
// new is the role as it will be, or the zero RoleDefinition when it is
// being deleted. An error from a Guard cancels the change and is returned
// as it is.
type Guard func(old, new RoleDefinition) error

// AssignableAt reports whether d may be assigned at scope: one of its
// assignable scopes is scope or above it.
func (d RoleDefinition) AssignableAt(scope string) bool {
	for _, a := range d.AssignableScopes {
		if Covers(a, scope) {
			return true
		}
	}
	return false
}

// GetRoleDefinition returns a built-in or custom role by id; NotFound
// (ReasonRoleDefinitionNotFound) if there is none.
func (s *Service) GetRoleDefinition(ctx context.Context, realm, id string) (RoleDefinition, error) {
	d, err := s.roleDefinition(ctx, realm, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return RoleDefinition{}, tresor.Errorf(tresor.NotFound, "The role definition %s was not found.", id).WithReason(ReasonRoleDefinitionNotFound)
	}
	return d, err
}

func (s *Service) roleDefinition(ctx context.Context, realm, id string) (RoleDefinition, error) {
	if d, ok := builtIn(realm, id); ok {
		return d, nil
	}
	if !isGUID(id) {
		return RoleDefinition{}, tresor.Errorf(tresor.NotFound, "role %s not found", id)
	}
	return s.Store.RoleDefinition(ctx, realm, strings.ToLower(id))
}

// ListRoleDefinitions lists the built-in roles of a realm, then its
// custom roles.
func (s *Service) ListRoleDefinitions(ctx context.Context, realm string) ([]RoleDefinition, error) {
	custom, err := s.Store.RoleDefinitions(ctx, realm)
	if err != nil {
		return nil, err
	}
	return append(BuiltIns(realm), custom...), nil
}

// PutRoleDefinition creates or replaces the custom role d.ID. It returns
// the role as stored and whether it was created. guard, if not nil,
// approves the change before it is written; until then no other change to
// roles or assignments goes through s.
//
// It returns Invalid if d.ID is not a GUID or d is malformed. A custom
// Azure role (realm "") must follow Azure's rules (see checkAzureRole),
// and PutRoleDefinition returns Conflict with ReasonRoleDefinitionExists
// for a built-in role's id, with ReasonRoleDefinitionWithSameNameExists if
// another role has d's name, with ReasonRoleDefinitionHasAssignments if an
// update would leave an assignment outside d's assignable scopes, and with
// ReasonRoleDefinitionLimitExceeded if there are too many custom roles
// already. A Managed HSM custom role may not reuse a built-in role's id or
// name (Invalid).
func (s *Service) PutRoleDefinition(ctx context.Context, realm string, d RoleDefinition, guard Guard) (RoleDefinition, bool, error) {
	if !isGUID(d.ID) {
		return RoleDefinition{}, false, tresor.Errorf(tresor.Invalid, "The role definition name %q is not a valid GUID.", d.ID)
	}
	d.ID = strings.ToLower(d.ID)
	var err error
	if realm == "" {
		d, err = checkAzureRole(d)
	} else {
		d, err = checkHSMRole(realm, d)
	}
	if err != nil {
		return RoleDefinition{}, false, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	old, err := s.Store.RoleDefinition(ctx, realm, d.ID)
	exists := err == nil
	if err != nil && !tresor.IsKind(err, tresor.NotFound) {
		return RoleDefinition{}, false, err
	}
	if guard != nil {
		if err := guard(old, d); err != nil {
			return RoleDefinition{}, false, err
		}
	}
	if realm == "" {
		if err := s.checkAzureConflicts(ctx, d, exists); err != nil {
			return RoleDefinition{}, false, err
		}
	}
	if err := s.Store.PutRoleDefinition(ctx, realm, d); err != nil {
		return RoleDefinition{}, false, err
	}
	s.changed()
	return d, !exists, nil
}

// DeleteRoleDefinition deletes a custom role and returns it. guard, if not
// nil, approves the deletion first (with new the zero RoleDefinition).
// Invalid if id is not a GUID; NotFound (ReasonRoleDefinitionNotFound) if
// there is no such custom role; Invalid (ReasonInvalidRoleDefinitionType)
// for a built-in role; Conflict
// (ReasonRoleDefinitionHasAssignments) while it is assigned.
func (s *Service) DeleteRoleDefinition(ctx context.Context, realm, id string, guard Guard) (RoleDefinition, error) {
	if b, ok := builtIn(realm, id); ok {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "The role definition %s (%s) is a built-in role; built-in roles cannot be deleted.", b.ID, b.RoleName).WithReason(ReasonInvalidRoleDefinitionType)
	}
	if !isGUID(id) {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "The role definition id %q is not a valid GUID.", clip(id))
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	d, err := s.Store.RoleDefinition(ctx, realm, strings.ToLower(id))
	if tresor.IsKind(err, tresor.NotFound) {
		return RoleDefinition{}, tresor.Errorf(tresor.NotFound, "The role definition %s was not found.", id).WithReason(ReasonRoleDefinitionNotFound)
	}
	if err != nil {
		return RoleDefinition{}, err
	}
	if guard != nil {
		if err := guard(d, RoleDefinition{}); err != nil {
			return RoleDefinition{}, err
		}
	}
	as, err := s.Store.Assignments(ctx, realm, "")
	if err != nil {
		return RoleDefinition{}, err
	}
	for _, a := range as {
		if a.RoleID == d.ID {
			return RoleDefinition{}, tresor.Errorf(tresor.Conflict,
				"There are existing role assignments referencing role %s (role assignment %s at scope '%s'); delete them first.", d.ID, a.Name, a.Scope).WithReason(ReasonRoleDefinitionHasAssignments)
		}
	}
	if err := s.Store.DeleteRoleDefinition(ctx, realm, d.ID); err != nil {
		return RoleDefinition{}, err
	}
	s.changed()
	return d, nil
}

// checkHSMRole completes a Managed HSM custom role: its name defaults to
// its id and its assignable scope to "/".
func checkHSMRole(realm string, d RoleDefinition) (RoleDefinition, error) {
	if d.RoleName == "" {
		d.RoleName = d.ID
	}
	if _, ok := builtIn(realm, d.ID); ok {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "Cannot re-use the name/GUID matching that of a built-in role.")
	}
	if _, ok := builtIn(realm, d.RoleName); ok {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "Cannot re-use the role name of a built-in role: %s.", d.RoleName)
	}
	d.Type = TypeCustom
	if len(d.AssignableScopes) == 0 {
		d.AssignableScopes = []string{"/"}
	}
	return d, nil
}

// checkAzureRole applies Azure's rules for the content of a custom role
// and returns it in canonical form: type CustomRole; a role name of 1 to
// 512 characters; a description of at most 2048; at least one permission,
// each action a provider operation or pattern with at most one wildcard;
// and 1 to 2000 assignable scopes, each a subscription or a resource group
// or resource in one, never the root scope "/", a management group, or a
// pattern. Duplicate scopes and trailing slashes are dropped.
func checkAzureRole(d RoleDefinition) (RoleDefinition, error) {
	invalid := func(format string, args ...any) (RoleDefinition, error) {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, format, args...)
	}
	if d.Type != "" && !strings.EqualFold(d.Type, TypeCustom) {
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "The role definition type '%s' is not valid: only roles of type '%s' can be created or updated.", clip(d.Type), TypeCustom).WithReason(ReasonInvalidRoleDefinitionType)
	}
	d.Type = TypeCustom
	d.RoleName = strings.TrimSpace(d.RoleName)
	switch n := utf8.RuneCountInString(d.RoleName); {
	case n == 0:
		return RoleDefinition{}, tresor.Errorf(tresor.Invalid, "The role name (properties.roleName) cannot be null or empty.").WithReason(ReasonRoleDefinitionNameNullOrEmpty)
	case n > maxRoleNameLength:
		return invalid("The role name has %d characters; the limit is %d.", n, maxRoleNameLength)
	case strings.ContainsFunc(d.RoleName, unicode.IsControl):
		return invalid("The role name %q contains control characters.", clip(d.RoleName))
	}
	if n := utf8.RuneCountInString(d.Description); n > maxDescriptionLength {
		return invalid("The description has %d characters; the limit is %d.", n, maxDescriptionLength)
	}
	if len(d.Permissions) == 0 {
		return invalid("A custom role needs at least one permission (properties.permissions).")
	}
	for _, p := range d.Permissions {
		for _, list := range []struct {
			name    string
			actions []string
		}{{"actions", p.Actions}, {"notActions", p.NotActions}, {"dataActions", p.DataActions}, {"notDataActions", p.NotDataActions}} {
			for _, a := range list.actions {
				if err := checkAction(a); err != nil {
					return invalid("The %s entry %q is not valid: %s.", list.name, clip(a), err)
				}
			}
		}
	}
	scopes, err := checkAssignableScopes(d.AssignableScopes)
	if err != nil {
		return RoleDefinition{}, err
	}
	d.AssignableScopes = scopes
	return d, nil
}

// checkAction checks the form of an action or data action:
// "{Namespace}/{type}/.../{operation}" where any part may be "*", or "*".
func checkAction(a string) error {
	switch {
	case a == "":
		return fmt.Errorf("it is empty")
	case len(a) > maxActionLength:
		return fmt.Errorf("it is longer than %d characters", maxActionLength)
	case strings.ContainsFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Errorf("it contains white space or control characters")
	case strings.Count(a, "*") > 1:
		return fmt.Errorf("an action may contain only one wildcard (*)")
	case a == "*":
		return nil
	case !strings.Contains(a, "/") || strings.Contains("/"+a+"/", "//"):
		return fmt.Errorf("the form is {Namespace}/{resourceType}/{operation}, such as Microsoft.KeyVault/vaults/keys/read")
	}
	return nil
}

// checkAssignableScopes checks the assignable scopes of a custom Azure role
// and returns them without trailing slashes or duplicates.
func checkAssignableScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, tresor.Errorf(tresor.Invalid, "A custom role needs at least one assignable scope (properties.assignableScopes).").WithReason(ReasonMissingAssignableScopes)
	}
	if len(scopes) > maxAssignableScopes {
		return nil, tresor.Errorf(tresor.Invalid, "A custom role has at most %d assignable scopes, not %d.", maxAssignableScopes, len(scopes))
	}
	out := make([]string, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		c := strings.TrimRight(sc, "/")
		seg := strings.Split(strings.TrimPrefix(c, "/"), "/")
		switch {
		case c == "" && strings.HasPrefix(sc, "/"):
			return nil, tresor.Errorf(tresor.Invalid, "The root scope '/' cannot be an assignable scope of a custom role; use subscriptions, resource groups or resources.").WithReason(ReasonInvalidAssignableScope)
		case strings.Contains(c, "*"):
			return nil, tresor.Errorf(tresor.Invalid, "The assignable scope '%s' contains a wildcard (*); assignable scopes cannot be patterns.", clip(sc)).WithReason(ReasonInvalidAssignableScope)
		case len(seg) >= 3 && strings.EqualFold(seg[0], "providers") && strings.EqualFold(seg[1], "Microsoft.Management"):
			return nil, tresor.Errorf(tresor.Invalid, "The assignable scope '%s' is a management group; this server has no management groups.", clip(sc)).WithReason(ReasonInvalidAssignableScope)
		case !strings.HasPrefix(c, "/") || len(seg) < 2 || !strings.EqualFold(seg[0], "subscriptions") || seg[1] == "":
			return nil, tresor.Errorf(tresor.Invalid, "The assignable scope '%s' is not valid: it must be a subscription (/subscriptions/{id}) or a resource group or resource in one.", clip(sc)).WithReason(ReasonInvalidAssignableScope)
		}
		if key := strings.ToLower(c); !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// checkAzureConflicts enforces the rules of a custom Azure role that
// involve other roles and assignments. exists tells whether d replaces a
// stored role. It runs with s.writeMu held.
func (s *Service) checkAzureConflicts(ctx context.Context, d RoleDefinition, exists bool) error {
	if b, ok := builtIn("", d.ID); ok {
		return tresor.Errorf(tresor.Conflict, "The role definition %s is the built-in role '%s'; built-in roles cannot be changed.", d.ID, b.RoleName).WithReason(ReasonRoleDefinitionExists)
	}
	if b, ok := builtIn("", d.RoleName); ok {
		return tresor.Errorf(tresor.Conflict, "A role with the name '%s' already exists: the built-in role %s. Use a different name.", clip(d.RoleName), b.ID).WithReason(ReasonRoleDefinitionWithSameNameExists)
	}
	custom, err := s.Store.RoleDefinitions(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range custom {
		if o.ID != d.ID && strings.EqualFold(o.RoleName, d.RoleName) {
			return tresor.Errorf(tresor.Conflict, "A custom role with the same name already exists in this directory (%s). Use a different name.", o.ID).WithReason(ReasonRoleDefinitionWithSameNameExists)
		}
	}
	if !exists {
		if len(custom) >= maxCustomRoles {
			return tresor.Errorf(tresor.Conflict, "Role definition limit exceeded. No more role definitions can be created: the limit is %d custom roles.", maxCustomRoles).WithReason(ReasonRoleDefinitionLimitExceeded)
		}
		return nil
	}
	as, err := s.Store.Assignments(ctx, "", "")
	if err != nil {
		return err
	}
	for _, a := range as {
		if a.RoleID == d.ID && !d.AssignableAt(a.Scope) {
			return tresor.Errorf(tresor.Conflict,
				"The role assignment %s at scope '%s' uses this role, and no assignable scope would cover it; keep a scope that does, or delete the assignment first.", a.Name, a.Scope).WithReason(ReasonRoleDefinitionHasAssignments)
		}
	}
	return nil
}

// clip shortens client input quoted in messages.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) > 64 {
		return string([]rune(s)[:64]) + "..."
	}
	return s
}
