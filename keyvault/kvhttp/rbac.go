package kvhttp

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/rbac"
)

// A Managed HSM's local RBAC API: role definitions and assignments under
// {scope}/providers/Microsoft.Authorization/..., where scope is "/", "/keys"
// or "/keys/{name}". ServeMux patterns cannot put a wildcard before a fixed
// suffix, so these paths are matched here.

const authzSegment = "/providers/microsoft.authorization/"

// rbacPath matches a normalized local RBAC path: the scope, the collection
// and an optional name.
var rbacPath = regexp.MustCompile(`(?i)^(.*)/providers/Microsoft\.Authorization/(roleAssignments|roleDefinitions)(?:/([^/]+))?$`)

// roleDefinitionPrefix is how a Managed HSM spells a role definition id.
const roleDefinitionPrefix = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"

// The data actions that guard the RBAC API itself.
const (
	actReadAssignments   = "Microsoft.KeyVault/managedHsm/roleAssignments/read/action"
	actWriteAssignments  = "Microsoft.KeyVault/managedHsm/roleAssignments/write/action"
	actDeleteAssignments = "Microsoft.KeyVault/managedHsm/roleAssignments/delete/action"
	actReadRoles         = "Microsoft.KeyVault/managedHsm/roleDefinitions/read/action"
	actWriteRoles        = "Microsoft.KeyVault/managedHsm/roleDefinitions/write/action"
	actDeleteRoles       = "Microsoft.KeyVault/managedHsm/roleDefinitions/delete/action"
)

type roleAssignmentWire struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleAssignmentProperties `json:"properties"`
}

type roleAssignmentProperties struct {
	Scope            string `json:"scope"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	PrincipalID      string `json:"principalId"`
}

type roleDefinitionWire struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleDefinitionProperties `json:"properties"`
}

type roleDefinitionProperties struct {
	RoleName         string           `json:"roleName"`
	Description      string           `json:"description"`
	Type             string           `json:"type"`
	Permissions      []permissionWire `json:"permissions"`
	AssignableScopes []string         `json:"assignableScopes"`
}

type permissionWire struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func assignmentWire(a rbac.Assignment) roleAssignmentWire {
	prefix := strings.TrimSuffix(a.Scope, "/")
	return roleAssignmentWire{
		ID: prefix + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name, Name: a.Name,
		Type:       "Microsoft.Authorization/roleAssignments",
		Properties: roleAssignmentProperties{Scope: a.Scope, RoleDefinitionID: roleDefinitionPrefix + a.RoleID, PrincipalID: a.PrincipalID},
	}
}

func definitionWire(d rbac.RoleDefinition) roleDefinitionWire {
	perms := make([]permissionWire, len(d.Permissions))
	for i, p := range d.Permissions {
		perms[i] = permissionWire{nonNil(p.Actions), nonNil(p.NotActions), nonNil(p.DataActions), nonNil(p.NotDataActions)}
	}
	return roleDefinitionWire{
		ID: roleDefinitionPrefix + d.ID, Name: d.ID, Type: "Microsoft.Authorization/roleDefinitions",
		Properties: roleDefinitionProperties{
			RoleName: d.RoleName, Description: d.Description, Type: d.Type, Permissions: perms, AssignableScopes: nonNil(d.AssignableScopes),
		},
	}
}

// isRBACPath reports whether a normalized path belongs to the local RBAC
// API.
func isRBACPath(p string) bool { return strings.Contains(strings.ToLower(p), authzSegment) }

// serveRBAC serves the local RBAC API of the HSM the request names.
func (h *Handler) serveRBAC(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	r = r.WithContext(ctx)
	if err := h.rbac(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) rbac(w http.ResponseWriter, r *http.Request) error {
	if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
		return err
	}
	m := rbacPath.FindStringSubmatch(r.URL.Path)
	if m == nil || h.Kind != keyvault.ManagedHSM || h.RBAC == nil {
		return tresor.Errorf(tresor.NotFound, "The operation %s %s is not supported.", r.Method, r.URL.Path).WithReason(codeNotFound)
	}
	v, err := h.vault(r)
	if err == nil {
		err = checkTenant(r, v)
	}
	if err != nil {
		return err
	}
	scope, err := rbac.NormalizeHSMScope(m[1])
	if err != nil {
		return err
	}
	realm, name := rbac.HSMRealm(v.ID), m[3]
	r.Body = http.MaxBytesReader(w, r.Body, smallBody)
	if strings.EqualFold(m[2], "roleAssignments") {
		return h.roleAssignments(w, r, realm, scope, name)
	}
	return h.roleDefinitions(w, r, realm, scope, name)
}

// check answers AccessDenied unless the caller may perform action at scope.
func (h *Handler) check(ctx context.Context, realm, scope, action string) error {
	p, _ := tresor.PrincipalFrom(ctx)
	ok, err := h.RBAC.Decide(ctx, realm, p.ObjectID, scope, action, true)
	if err != nil || ok {
		return err
	}
	return tresor.Errorf(tresor.Forbidden, "Not authorized to access %s on %s (Activity ID: %s)", action, scope, newRequestID()).WithReason(keyvault.ReasonAccessDenied)
}

func (h *Handler) roleAssignments(w http.ResponseWriter, r *http.Request, realm, scope, name string) error {
	ctx := r.Context()
	switch {
	case r.Method == http.MethodGet && name == "":
		if err := h.check(ctx, realm, scope, actReadAssignments); err != nil {
			return err
		}
		principal, atScope, err := parseAssignmentFilter(r.URL.Query().Get("$filter"))
		if err != nil {
			return err
		}
		as, err := h.RBAC.ListRoleAssignments(ctx, realm, scope, principal, atScope)
		if err != nil {
			return err
		}
		out := make([]roleAssignmentWire, len(as))
		for i, a := range as {
			out[i] = assignmentWire(a)
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out, "nextLink": nil})
		return nil
	case r.Method == http.MethodGet:
		a, err := h.RBAC.GetRoleAssignment(ctx, realm, name)
		if err == nil {
			err = h.check(ctx, realm, a.Scope, actReadAssignments)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, assignmentWire(a))
		return nil
	case r.Method == http.MethodPut && name != "":
		if err := h.check(ctx, realm, scope, actWriteAssignments); err != nil {
			return err
		}
		var body struct {
			Properties *struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
			} `json:"properties"`
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		if body.Properties == nil || body.Properties.RoleDefinitionID == "" || body.Properties.PrincipalID == "" {
			return tresor.Errorf(tresor.Invalid, "properties.roleDefinitionId and properties.principalId are required.")
		}
		p, _ := tresor.PrincipalFrom(ctx)
		a, _, err := h.RBAC.CreateRoleAssignment(ctx, rbac.Assignment{
			Realm: realm, Name: name, Scope: scope, RoleID: lastSegment(body.Properties.RoleDefinitionID),
			PrincipalID: body.Properties.PrincipalID, CreatedBy: p.ObjectID,
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, assignmentWire(a))
		return nil
	case r.Method == http.MethodDelete && name != "":
		a, err := h.RBAC.GetRoleAssignment(ctx, realm, name)
		if err == nil {
			err = h.check(ctx, realm, a.Scope, actDeleteAssignments)
		}
		if err == nil {
			a, err = h.RBAC.DeleteRoleAssignment(ctx, realm, name)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, assignmentWire(a))
		return nil
	}
	return tresor.Errorf(tresor.NotFound, "The operation %s %s is not supported.", r.Method, r.URL.Path).WithReason(codeNotFound)
}

func (h *Handler) roleDefinitions(w http.ResponseWriter, r *http.Request, realm, scope, id string) error {
	ctx := r.Context()
	switch {
	case r.Method == http.MethodGet && id == "":
		if err := h.check(ctx, realm, scope, actReadRoles); err != nil {
			return err
		}
		ds, err := h.RBAC.ListRoleDefinitions(ctx, realm)
		if err != nil {
			return err
		}
		out := make([]roleDefinitionWire, len(ds))
		for i, d := range ds {
			out[i] = definitionWire(d)
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out, "nextLink": nil})
		return nil
	case r.Method == http.MethodGet:
		if err := h.check(ctx, realm, scope, actReadRoles); err != nil {
			return err
		}
		d, err := h.RBAC.GetRoleDefinition(ctx, realm, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, definitionWire(d))
		return nil
	case r.Method == http.MethodPut && id != "":
		if scope != "/" {
			return tresor.Errorf(tresor.Invalid, "Managed HSM only supports role definitions at scope '/'.")
		}
		if err := h.check(ctx, realm, scope, actWriteRoles); err != nil {
			return err
		}
		var body struct {
			Properties *roleDefinitionProperties `json:"properties"`
		}
		if err := decode(r, &body); err != nil {
			return err
		}
		if body.Properties == nil {
			return tresor.Errorf(tresor.Invalid, "properties is required.")
		}
		d := rbac.RoleDefinition{ID: id, RoleName: body.Properties.RoleName, Description: body.Properties.Description, AssignableScopes: body.Properties.AssignableScopes}
		for _, p := range body.Properties.Permissions {
			d.Permissions = append(d.Permissions, rbac.Permission{Actions: p.Actions, NotActions: p.NotActions, DataActions: p.DataActions, NotDataActions: p.NotDataActions})
		}
		d, _, err := h.RBAC.PutRoleDefinition(ctx, realm, d, nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, definitionWire(d))
		return nil
	case r.Method == http.MethodDelete && id != "":
		if err := h.check(ctx, realm, scope, actDeleteRoles); err != nil {
			return err
		}
		d, err := h.RBAC.DeleteRoleDefinition(ctx, realm, id, nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, definitionWire(d))
		return nil
	}
	return tresor.Errorf(tresor.NotFound, "The operation %s %s is not supported.", r.Method, r.URL.Path).WithReason(codeNotFound)
}

var principalFilter = regexp.MustCompile(`(?i)^principalId\s+eq\s+'([0-9a-f-]{36})'$`)

// parseAssignmentFilter reads the $filter values Azure accepts for role
// assignments: "atScope()" and "principalId eq '{id}'".
func parseAssignmentFilter(f string) (principal string, atScope bool, err error) {
	f = strings.TrimSpace(f)
	switch {
	case f == "":
		return "", false, nil
	case strings.EqualFold(f, "atScope()"):
		return "", true, nil
	}
	if m := principalFilter.FindStringSubmatch(f); m != nil {
		return m[1], false, nil
	}
	return "", false, tresor.Errorf(tresor.Invalid, "The $filter %q is not supported; use atScope() or principalId eq '{id}'.", f)
}

func lastSegment(id string) string {
	id = strings.TrimSuffix(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}
