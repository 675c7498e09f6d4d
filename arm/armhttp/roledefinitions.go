package armhttp

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/rbac"
)

// Role definitions of Azure RBAC: the built-in roles and custom roles,
// which rbac.Service keeps in the realm "". A custom role is defined at a
// subscription scope (or a group or resource in it) and every one of its
// assignable scopes lies in that subscription, so a role never spans
// tenants. Reading needs Microsoft.Authorization/roleDefinitions/read at the
// request's scope, except at the tenant root "/" (see visible); writing
// needs .../write, and deleting .../delete, at the request's scope and at
// every assignable scope the change touches (those of the role before and
// after it), as Azure requires.

// Azure RBAC actions of the role definitions API.
const (
	actReadRoleDefinitions   = "Microsoft.Authorization/roleDefinitions/read"
	actWriteRoleDefinitions  = "Microsoft.Authorization/roleDefinitions/write"
	actDeleteRoleDefinitions = "Microsoft.Authorization/roleDefinitions/delete"
)

// ReasonAssignableScopeNotUnderSubscriptionScope is Azure's code for an
// assignable scope outside the subscription of the request's scope.
const ReasonAssignableScopeNotUnderSubscriptionScope = "AssignableScopeNotUnderSubscriptionScope"

type armRoleDefinition struct {
	ID         string                      `json:"id"`
	Name       string                      `json:"name"`
	Type       string                      `json:"type"`
	Properties armRoleDefinitionProperties `json:"properties"`
}

type armRoleDefinitionProperties struct {
	RoleName         string          `json:"roleName"`
	Description      string          `json:"description"`
	Type             string          `json:"type"`
	Permissions      []armPermission `json:"permissions"`
	AssignableScopes []string        `json:"assignableScopes"`
}

type armPermission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toARMDefinition(scope string, d rbac.RoleDefinition) armRoleDefinition {
	perms := make([]armPermission, len(d.Permissions))
	for i, p := range d.Permissions {
		perms[i] = armPermission{orEmpty(p.Actions), orEmpty(p.NotActions), orEmpty(p.DataActions), orEmpty(p.NotDataActions)}
	}
	return armRoleDefinition{
		ID: definitionID(scope, d.ID), Name: d.ID, Type: "Microsoft.Authorization/roleDefinitions",
		Properties: armRoleDefinitionProperties{RoleName: d.RoleName, Description: d.Description, Type: d.Type, Permissions: perms, AssignableScopes: orEmpty(d.AssignableScopes)},
	}
}

// roleDefinitions serves RoleDefinitions_List, _Get, _CreateOrUpdate and
// _Delete at scope.
func (h *Handler) roleDefinitions(w http.ResponseWriter, r *http.Request, scope, id string) error {
	switch {
	case r.Method == http.MethodGet && id == "":
		return h.listRoleDefinitions(w, r, scope)
	case r.Method == http.MethodGet:
		return h.getRoleDefinition(w, r, scope, id)
	case r.Method == http.MethodPut && id != "":
		return h.createOrUpdateRoleDefinition(w, r, scope, id)
	case r.Method == http.MethodDelete && id != "":
		return h.deleteRoleDefinition(w, r, scope, id)
	}
	return tresor.Errorf(tresor.NotFound, "The request %s %s does not match any operation.", r.Method, r.URL.Path).WithReason("InvalidResourceType")
}

// authorizeRead checks the caller's right to read role definitions at
// scope. At the tenant root "/" no role is needed: built-in roles are
// public, and visible filters the custom ones.
func (h *Handler) authorizeRead(r *http.Request, scope string) error {
	if scope == "/" {
		return nil
	}
	return h.authorize(r, actReadRoleDefinitions, scope)
}

// visible reports whether the caller sees d at scope, where it may already
// read role definitions. Built-in roles are visible everywhere. A custom
// role is visible where it may be assigned and above the scopes where it
// may be, so that listing a subscription's roles finds those made for its
// groups; at the tenant root, only to callers who may read role
// definitions at one of its assignable scopes.
func (h *Handler) visible(r *http.Request, scope string, d rbac.RoleDefinition) (bool, error) {
	if d.Type != rbac.TypeCustom {
		return true, nil
	}
	for _, a := range d.AssignableScopes {
		if scope != "/" {
			if rbac.Covers(a, scope) || rbac.Covers(scope, a) {
				return true, nil
			}
			continue
		}
		err := h.authorize(r, actReadRoleDefinitions, a)
		if err == nil {
			return true, nil
		}
		if !tresor.IsKind(err, tresor.Forbidden) {
			return false, err
		}
	}
	return false, nil
}

func roleDefinitionNotFound(id string) error {
	return tresor.Errorf(tresor.NotFound, "The role definition '%s' could not be found.", clip(id)).WithReason(rbac.ReasonRoleDefinitionNotFound)
}

func (h *Handler) getRoleDefinition(w http.ResponseWriter, r *http.Request, scope, id string) error {
	if err := h.authorizeRead(r, scope); err != nil {
		return err
	}
	d, err := h.cfg.RBAC.GetRoleDefinition(r.Context(), "", id)
	if err != nil {
		return err
	}
	if ok, err := h.visible(r, scope, d); err != nil || !ok {
		return cmpError(err, roleDefinitionNotFound(id))
	}
	WriteJSON(w, http.StatusOK, toARMDefinition(scope, d))
	return nil
}

func (h *Handler) listRoleDefinitions(w http.ResponseWriter, r *http.Request, scope string) error {
	if err := h.authorizeRead(r, scope); err != nil {
		return err
	}
	name, typ, err := definitionFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	ds, err := h.cfg.RBAC.ListRoleDefinitions(r.Context(), "")
	if err != nil {
		return err
	}
	out := []armRoleDefinition{}
	for _, d := range ds {
		if name != nil && !strings.EqualFold(d.RoleName, *name) || typ != nil && !strings.EqualFold(d.Type, *typ) {
			continue
		}
		ok, err := h.visible(r, scope, d)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, toARMDefinition(scope, d))
		}
	}
	page, next, err := Page(r, out, func(d armRoleDefinition) string { return d.Name })
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, List[armRoleDefinition]{Value: page, NextLink: next})
	return nil
}

func (h *Handler) createOrUpdateRoleDefinition(w http.ResponseWriter, r *http.Request, scope, id string) error {
	if err := h.authorize(r, actWriteRoleDefinitions, scope); err != nil {
		return err
	}
	sub := subscriptionOf(scope)
	if sub == "" {
		return tresor.Errorf(tresor.Invalid, "Custom roles are defined at a subscription, or a resource group or resource in one, not at '%s'.", clip(scope)).WithReason(ReasonAssignableScopeNotUnderSubscriptionScope)
	}
	var body struct {
		Name       string `json:"name"`
		Properties *struct {
			RoleName         string          `json:"roleName"`
			Description      string          `json:"description"`
			Type             string          `json:"type"`
			Permissions      []armPermission `json:"permissions"`
			AssignableScopes []string        `json:"assignableScopes"`
		} `json:"properties"`
	}
	if err := Decode(r, &body); err != nil {
		return err
	}
	if body.Name != "" && !strings.EqualFold(body.Name, id) {
		return WithTarget(tresor.Errorf(tresor.Invalid, "The name '%s' in the body differs from the role definition id '%s' in the URL.", clip(body.Name), clip(id)).WithReason(ReasonInvalidRequestContent), "name")
	}
	p := body.Properties
	if p == nil {
		return WithTarget(tresor.Errorf(tresor.Invalid, "The role definition has no properties.").WithReason(ReasonInvalidRequestContent), "properties")
	}
	d := rbac.RoleDefinition{ID: id, RoleName: p.RoleName, Description: p.Description, Type: p.Type, AssignableScopes: p.AssignableScopes}
	for _, perm := range p.Permissions {
		d.Permissions = append(d.Permissions, rbac.Permission{Actions: perm.Actions, NotActions: perm.NotActions, DataActions: perm.DataActions, NotDataActions: perm.NotDataActions})
	}
	d, _, err := h.cfg.RBAC.PutRoleDefinition(r.Context(), "", d, func(old, new rbac.RoleDefinition) error {
		for _, a := range new.AssignableScopes {
			rid, err := arm.Parse(a)
			var te *tresor.Error
			if errors.As(err, &te) {
				return tresor.Errorf(tresor.Invalid, "The assignable scope %s", te.Message).WithReason(rbac.ReasonInvalidAssignableScope)
			}
			if err != nil {
				return err
			}
			if !strings.EqualFold(rid.Subscription, sub) {
				return tresor.Errorf(tresor.Invalid, "The assignable scope '%s' is not in the subscription '%s' of the request's scope; a custom role's assignable scopes lie in the subscription it is defined at.",
					clip(a), sub).WithReason(ReasonAssignableScopeNotUnderSubscriptionScope)
			}
		}
		return h.authorizeAll(r, actWriteRoleDefinitions, old.AssignableScopes, new.AssignableScopes)
	})
	if err != nil {
		return err
	}
	// Azure answers 201 to both creates and updates; the SDK accepts only
	// 201.
	WriteJSON(w, http.StatusCreated, toARMDefinition(scope, d))
	return nil
}

func (h *Handler) deleteRoleDefinition(w http.ResponseWriter, r *http.Request, scope, id string) error {
	if err := h.authorize(r, actDeleteRoleDefinitions, scope); err != nil {
		return err
	}
	d, err := h.cfg.RBAC.DeleteRoleDefinition(r.Context(), "", id, func(old, _ rbac.RoleDefinition) error {
		if ok, err := h.visible(r, scope, old); err != nil || !ok {
			return cmpError(err, roleDefinitionNotFound(id))
		}
		return h.authorizeAll(r, actDeleteRoleDefinitions, old.AssignableScopes)
	})
	if tresor.IsKind(err, tresor.NotFound) {
		w.WriteHeader(http.StatusNoContent) // as Azure answers for a role that is not there
		return nil
	}
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, toARMDefinition(scope, d))
	return nil
}

// authorizeAll checks the caller's right to action at every scope.
func (h *Handler) authorizeAll(r *http.Request, action string, scopes ...[]string) error {
	for _, list := range scopes {
		for _, s := range list {
			if err := h.authorize(r, action, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// subscriptionOf returns the subscription id of an ARM scope, or "".
func subscriptionOf(scope string) string {
	seg := strings.Split(strings.Trim(scope, "/"), "/")
	if len(seg) >= 2 && strings.EqualFold(seg[0], "subscriptions") {
		return seg[1]
	}
	return ""
}

// cmpError returns err if it is not nil, and otherwise fallback.
func cmpError(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// definitionClause matches one clause of a role definitions $filter;
// quotes in a value are doubled, as in OData.
var definitionClause = regexp.MustCompile(`(?i)^(roleName|type)\s+eq\s+'((?:[^']|'')*)'`)

// definitionFilter reads the $filter values Azure accepts for role
// definitions that matter here: roleName eq '{name}', type eq '{type}'
// ('BuiltInRole' or 'CustomRole'), and both joined by "and". A nil result
// does not filter.
func definitionFilter(f string) (name, typ *string, err error) {
	bad := func() (*string, *string, error) {
		return nil, nil, WithTarget(tresor.Errorf(tresor.Invalid, "The $filter '%s' is not supported; use roleName eq '{name}', type eq 'CustomRole' or both, joined by 'and'.", clip(f)).WithReason("InvalidFilter"), "$filter")
	}
	rest := strings.TrimSpace(f)
	for rest != "" {
		m := definitionClause.FindStringSubmatch(rest)
		if m == nil {
			return bad()
		}
		v := strings.ReplaceAll(m[2], "''", "'")
		if strings.EqualFold(m[1], "roleName") {
			name = &v
		} else {
			typ = &v
		}
		rest = strings.TrimLeft(rest[len(m[0]):], " \t")
		if rest == "" {
			break
		}
		and, ok := cutPrefixFold(rest, "and ")
		if !ok {
			return bad()
		}
		rest = strings.TrimLeft(and, " \t")
	}
	return name, typ, nil
}

// cutPrefixFold is strings.CutPrefix ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
