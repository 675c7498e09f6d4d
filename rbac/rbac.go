// Package rbac decides who may do what: role definitions, role assignments
// and the decision itself, as Azure's role-based access control does it.
//
// Assignments live in realms. The realm "" is Azure RBAC: scopes are ARM
// resource ids (/subscriptions/{s}/resourceGroups/{g}/providers/...), and
// an assignment applies to its scope and everything below it, which for a
// Key Vault includes "{vault id}/keys/{name}". Each Managed HSM is a realm of
// its own (local RBAC), with the scopes "/", "/keys" and "/keys/{name}".
//
// A principal may perform an action at a scope if some assignment of it, at
// that scope or an ancestor, names a role with a permission whose actions
// (or data actions) match the action and whose not-actions do not. Actions
// compare case-insensitively, and "*" in a pattern matches any run of
// characters, as in Azure. There are no deny assignments and no groups.
package rbac

import (
	"context"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// Role types, as Azure spells them in properties.type.
const (
	TypeBuiltIn    = "BuiltInRole"    // Azure RBAC built-in
	TypeHSMBuiltIn = "AKVBuiltInRole" // Managed HSM built-in
	TypeCustom     = "CustomRole"
)

// Reasons for the errors this package returns, as Azure spells its codes.
const (
	ReasonRoleAssignmentNotFound = "RoleAssignmentNotFound"
	ReasonRoleDefinitionNotFound = "RoleDefinitionNotFound"
	ReasonRoleAssignmentExists   = "RoleAssignmentExists"

	ReasonRoleDefinitionExists             = "RoleDefinitionExists" // a built-in role's id
	ReasonRoleDefinitionWithSameNameExists = "RoleDefinitionWithSameNameExists"
	ReasonRoleDefinitionHasAssignments     = "RoleDefinitionHasAssignments"
	ReasonRoleDefinitionLimitExceeded      = "RoleDefinitionLimitExceeded"
	ReasonInvalidRoleDefinitionType        = "InvalidRoleDefinitionType" // not a custom role
	ReasonRoleDefinitionNameNullOrEmpty    = "RoleDefinitionNameNullOrEmpty"
	ReasonMissingAssignableScopes          = "MissingAssignableScopes"
	ReasonInvalidAssignableScope           = "LinkedInvalidPropertyId"
)

// Permission is one grant of a role.
type Permission struct {
	Actions        []string
	NotActions     []string
	DataActions    []string
	NotDataActions []string
}

// RoleDefinition is a named set of permissions. ID is a GUID; built-in
// roles have Azure's ids.
type RoleDefinition struct {
	ID               string
	RoleName         string
	Description      string
	Type             string // TypeBuiltIn, TypeHSMBuiltIn or TypeCustom
	Permissions      []Permission
	AssignableScopes []string
}

// Assignment grants a principal a role at a scope of a realm.
type Assignment struct {
	Realm         string
	Name          string // a GUID, chosen by the client
	Scope         string
	RoleID        string // the RoleDefinition's ID
	PrincipalID   string // object id
	PrincipalType string // "User", "ServicePrincipal", "Group", or ""
	Description   string
	Created       time.Time
	CreatedBy     string // object id of the principal that created it
}

// Store keeps assignments and custom role definitions.
type Store interface {
	// CreateAssignment inserts a. Conflict if an assignment of that name
	// exists in the realm.
	CreateAssignment(ctx context.Context, a Assignment) error
	// Assignment returns an assignment by name; NotFound if absent.
	Assignment(ctx context.Context, realm, name string) (Assignment, error)
	// Assignments lists a realm's assignments, all or those of one
	// principal (principalID non-empty), ordered by name.
	Assignments(ctx context.Context, realm, principalID string) ([]Assignment, error)
	// DeleteAssignment removes an assignment; NotFound if absent.
	DeleteAssignment(ctx context.Context, realm, name string) error

	// PutRoleDefinition inserts or replaces a custom role.
	PutRoleDefinition(ctx context.Context, realm string, d RoleDefinition) error
	// RoleDefinition returns a custom role; NotFound if absent.
	RoleDefinition(ctx context.Context, realm, id string) (RoleDefinition, error)
	// RoleDefinitions lists a realm's custom roles, ordered by id.
	RoleDefinitions(ctx context.Context, realm string) ([]RoleDefinition, error)
	// DeleteRoleDefinition removes a custom role; NotFound if absent.
	DeleteRoleDefinition(ctx context.Context, realm, id string) error

	// DeleteRealm removes every assignment and custom role of a realm.
	DeleteRealm(ctx context.Context, realm string) error
}

// HSMRealm is the realm of a Managed HSM's local RBAC, by the HSM's
// internal id (so an HSM purged and created again starts with none).
func HSMRealm(hsmID string) string { return "managedHSM/" + hsmID }

// Match reports whether action matches pattern, case-insensitively, where
// "*" in pattern matches any run of characters.
func Match(pattern, action string) bool {
	return matchLower(strings.ToLower(pattern), strings.ToLower(action))
}

// matchLower is Match on strings already in lower case.
func matchLower(pattern, action string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == action
	}
	if !strings.HasPrefix(action, pattern[:star]) {
		return false
	}
	rest := pattern[star+1:]
	for i := star; i <= len(action); i++ {
		if matchLower(rest, action[i:]) {
			return true
		}
	}
	return false
}

// Covers reports whether an assignment at scope applies at target: target
// is scope or below it, comparing path segments case-insensitively.
func Covers(scope, target string) bool {
	return coversLower(strings.TrimSuffix(strings.ToLower(scope), "/"), strings.TrimSuffix(strings.ToLower(target), "/"))
}

// coversLower is Covers on scopes already lower-cased and without a
// trailing slash.
func coversLower(scope, target string) bool {
	if scope == "" {
		return true // "/" covers everything in its realm
	}
	return target == scope || strings.HasPrefix(target, scope+"/")
}

// NormalizeHSMScope returns a Managed HSM scope in its canonical form ("/",
// "/keys" or "/keys/{name}"), accepting the spellings clients send ("",
// "keys", "//keys/k/"); Invalid otherwise.
func NormalizeHSMScope(scope string) (string, error) {
	parts := strings.FieldsFunc(scope, func(r rune) bool { return r == '/' })
	switch {
	case len(parts) == 0:
		return "/", nil
	case len(parts) == 1 && strings.EqualFold(parts[0], "keys"):
		return "/keys", nil
	case len(parts) == 2 && strings.EqualFold(parts[0], "keys"):
		return "/keys/" + parts[1], nil
	}
	return "", tresor.Errorf(tresor.Invalid, "The scope %q is not valid; Managed HSM scopes are \"/\", \"/keys\" and \"/keys/{keyName}\".", scope)
}
