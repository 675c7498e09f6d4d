package armhttp

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/rbac"
)

// The front door enforces Azure RBAC on every request and serves
// Microsoft.Authorization itself: role assignments and role definitions at
// any scope ({scope}/providers/Microsoft.Authorization/...). ServeMux
// patterns cannot put a wildcard before a fixed suffix, so these paths are
// matched here.

// authorizationPath matches a cleaned Microsoft.Authorization path.
var authorizationPath = regexp.MustCompile(`(?i)^(.*)/providers/Microsoft\.Authorization/(roleAssignments|roleDefinitions)(?:/([^/]+))?$`)

// requiredAction derives the Azure RBAC action and the scope it is checked
// at from a request, as ARM does from the resource type: GET is read, PUT
// and PATCH write, DELETE delete, and POST names an action in its last
// segment. A collection is checked at its parent. ok is false for requests
// that need no role (listing subscriptions, reading operation results): the
// tenant check covers them.
func requiredAction(method, p string) (action, scope string, ok bool) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) < 2 || !strings.EqualFold(seg[0], "subscriptions") {
		return "", "", false
	}
	sub := "/subscriptions/" + seg[1]
	rest := seg[2:]
	var types []string
	var ns string
	scopeSegs := 2
	switch {
	case len(rest) == 0:
		return verb("Microsoft.Resources/subscriptions", method, ""), sub, true
	case strings.EqualFold(rest[0], "operationresults"):
		return "", "", false
	case strings.EqualFold(rest[0], "resources"):
		return "Microsoft.Resources/subscriptions/resources/read", sub, true
	case strings.EqualFold(rest[0], "resourcegroups"):
		if len(rest) < 2 {
			return "Microsoft.Resources/subscriptions/resourceGroups/read", sub, true
		}
		if len(rest) == 2 {
			return verb("Microsoft.Resources/subscriptions/resourceGroups", method, ""), sub + "/resourceGroups/" + rest[1], true
		}
		if strings.EqualFold(rest[2], "resources") {
			return "Microsoft.Resources/subscriptions/resourceGroups/resources/read", sub + "/resourceGroups/" + rest[1], true
		}
		scopeSegs += 2
		rest = rest[2:]
	}
	if len(rest) < 2 || !strings.EqualFold(rest[0], "providers") {
		return "", "", false
	}
	ns, rest = rest[1], rest[2:]
	scopeSegs += 2
	// An extension resource (an event subscription on a vault) belongs to
	// the provider named after the last "providers" in a type's place.
	for i := 0; i+1 < len(rest); i += 2 {
		if strings.EqualFold(rest[i], "providers") {
			ns, rest = rest[i+1], rest[i+2:]
			scopeSegs += i + 2
			i = -2
		}
	}
	var last string
	for i := 0; i < len(rest); i += 2 {
		if i+1 == len(rest) {
			// A lone trailing segment: a collection (GET) or an action (POST).
			if method == http.MethodPost && i > 0 || method == http.MethodPost && len(rest) == 1 {
				last = rest[i]
				break
			}
			types = append(types, rest[i])
			break
		}
		types = append(types, rest[i])
	}
	// The scope is everything up to the last complete type/name pair.
	pairs := len(rest) / 2
	scope = "/" + strings.Join(seg[:scopeSegs+2*pairs], "/")
	if pairs == 0 {
		scope = "/" + strings.Join(seg[:scopeSegs-2], "/")
	}
	return verb(ns+"/"+strings.Join(types, "/"), method, last), scope, true
}

func verb(resourceType, method, action string) string {
	resourceType = strings.TrimSuffix(resourceType, "/")
	switch {
	case action != "":
		return resourceType + "/" + action + "/action"
	case method == http.MethodGet || method == http.MethodHead:
		return resourceType + "/read"
	case method == http.MethodDelete:
		return resourceType + "/delete"
	case method == http.MethodPost:
		return resourceType + "/action"
	}
	return resourceType + "/write"
}

// authorize checks the caller's roles for the request. Without an RBAC
// service configured, everything is allowed.
func (h *Handler) authorize(r *http.Request, action, scope string) error {
	if h.cfg.RBAC == nil {
		return nil
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	ok, err := h.cfg.RBAC.Decide(r.Context(), "", p.ObjectID, scope, action, false)
	if err != nil || ok {
		return err
	}
	return tresor.Errorf(tresor.Forbidden, "The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		p.AppID, p.ObjectID, action, scope).WithReason("AuthorizationFailed")
}

// AuthorizeLinked checks that the caller of r, which the front door has
// authorized for r itself, may also perform action on a resource the
// request links to by id (a copy's source, a disk encryption set), as
// ARM's linked access checks do: 403 LinkedAuthorizationFailed if not.
func AuthorizeLinked(r *http.Request, id, action string) error {
	h, _ := r.Context().Value(handlerKey).(*Handler)
	if h == nil || h.cfg.RBAC == nil {
		return nil
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	ok, err := h.cfg.RBAC.Decide(r.Context(), "", p.ObjectID, id, action, false)
	if err != nil || ok {
		return err
	}
	return tresor.Errorf(tresor.Forbidden, "The client '%s' with object id '%s' has permission to perform this request, but it does not have permission to perform action '%s' on the linked scope '%s', or the scope is invalid.",
		p.AppID, p.ObjectID, action, clip(id)).WithReason("LinkedAuthorizationFailed")
}

// serveAuthorization serves role assignments and definitions.
func (h *Handler) serveAuthorization(w http.ResponseWriter, r *http.Request, clean string) {
	if err := h.authorization(w, r, clean); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) authorization(w http.ResponseWriter, r *http.Request, clean string) error {
	if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
		return err
	}
	m := authorizationPath.FindStringSubmatch(clean)
	if m == nil || h.cfg.RBAC == nil {
		return tresor.Errorf(tresor.NotFound, "The request %s %s does not match any resource type or operation of this server.", r.Method, clean).WithReason("InvalidResourceType")
	}
	scope, collection, name := m[1], m[2], m[3]
	if scope == "" {
		scope = "/"
	}
	if err := h.checkScope(r, scope); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, DefaultMaxBody)
	if strings.EqualFold(collection, "roleDefinitions") {
		return h.roleDefinitions(w, r, scope, name)
	}
	return h.roleAssignments(w, r, scope, name)
}

// checkScope requires a scope's subscription to exist and belong to the
// caller's tenant.
func (h *Handler) checkScope(r *http.Request, scope string) error {
	seg := strings.Split(strings.Trim(scope, "/"), "/")
	if len(seg) < 2 || !strings.EqualFold(seg[0], "subscriptions") {
		if scope == "/" {
			return nil
		}
		return tresor.Errorf(tresor.Invalid, "The scope '%s' is not valid.", clip(scope)).WithReason("InvalidRoleAssignmentScope")
	}
	sub, err := h.cfg.ARM.GetSubscription(r.Context(), seg[1])
	if err != nil {
		return err
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	if !strings.EqualFold(p.TenantID, sub.TenantID) {
		return tresor.Errorf(tresor.Unauthenticated,
			"The access token is from the wrong issuer. It must match the tenant '%s' associated with this subscription.", sub.TenantID).WithReason("InvalidAuthenticationTokenTenant")
	}
	return nil
}

type armRoleAssignment struct {
	ID         string                      `json:"id"`
	Name       string                      `json:"name"`
	Type       string                      `json:"type"`
	Properties armRoleAssignmentProperties `json:"properties"`
}

type armRoleAssignmentProperties struct {
	Scope            string     `json:"scope"`
	RoleDefinitionID string     `json:"roleDefinitionId"`
	PrincipalID      string     `json:"principalId"`
	PrincipalType    string     `json:"principalType,omitempty"`
	Description      string     `json:"description,omitempty"`
	CreatedOn        *time.Time `json:"createdOn,omitempty"`
	UpdatedOn        *time.Time `json:"updatedOn,omitempty"`
	CreatedBy        string     `json:"createdBy,omitempty"`
	UpdatedBy        string     `json:"updatedBy,omitempty"`
}

// sameScope compares scopes as ARM does: ignoring case and a trailing slash.
func sameScope(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}

// definitionID returns a role definition's id as ARM spells it at scope:
// under the scope's subscription.
func definitionID(scope, roleID string) string {
	seg := strings.Split(strings.Trim(scope, "/"), "/")
	prefix := ""
	if len(seg) >= 2 && strings.EqualFold(seg[0], "subscriptions") {
		prefix = "/subscriptions/" + seg[1]
	}
	return prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
}

func toARMAssignment(a rbac.Assignment) armRoleAssignment {
	created := a.Created
	return armRoleAssignment{
		ID:   strings.TrimSuffix(a.Scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name,
		Name: a.Name, Type: "Microsoft.Authorization/roleAssignments",
		Properties: armRoleAssignmentProperties{
			Scope: a.Scope, RoleDefinitionID: definitionID(a.Scope, a.RoleID), PrincipalID: a.PrincipalID,
			PrincipalType: a.PrincipalType, Description: a.Description, CreatedOn: &created, UpdatedOn: &created,
			CreatedBy: a.CreatedBy, UpdatedBy: a.CreatedBy,
		},
	}
}

func (h *Handler) roleAssignments(w http.ResponseWriter, r *http.Request, scope, name string) error {
	ctx := r.Context()
	rs := h.cfg.RBAC
	switch {
	case r.Method == http.MethodGet && name == "":
		if err := h.authorize(r, "Microsoft.Authorization/roleAssignments/read", scope); err != nil {
			return err
		}
		principal, atScope, err := assignmentFilter(r.URL.Query().Get("$filter"))
		if err != nil {
			return err
		}
		as, err := rs.ListRoleAssignments(ctx, "", scope, principal, atScope)
		if err != nil {
			return err
		}
		out := make([]armRoleAssignment, len(as))
		for i, a := range as {
			out[i] = toARMAssignment(a)
		}
		WriteJSON(w, http.StatusOK, map[string]any{"value": out})
		return nil
	case r.Method == http.MethodGet:
		if err := h.authorize(r, "Microsoft.Authorization/roleAssignments/read", scope); err != nil {
			return err
		}
		a, err := rs.GetRoleAssignment(ctx, "", name)
		if err == nil && !sameScope(a.Scope, scope) {
			err = tresor.Errorf(tresor.NotFound, "The role assignment '%s' is not found.", name).WithReason(rbac.ReasonRoleAssignmentNotFound)
		}
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, toARMAssignment(a))
		return nil
	case r.Method == http.MethodPut && name != "":
		if err := h.authorize(r, "Microsoft.Authorization/roleAssignments/write", scope); err != nil {
			return err
		}
		var body struct {
			Properties *struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
				PrincipalType    string `json:"principalType"`
				Description      string `json:"description"`
			} `json:"properties"`
		}
		if err := Decode(r, &body); err != nil {
			return err
		}
		if body.Properties == nil || body.Properties.RoleDefinitionID == "" || body.Properties.PrincipalID == "" {
			return tresor.Errorf(tresor.Invalid, "properties.roleDefinitionId and properties.principalId are required.").WithReason("InvalidRequestContent")
		}
		p, _ := tresor.PrincipalFrom(ctx)
		roleID := body.Properties.RoleDefinitionID
		roleID = roleID[strings.LastIndex(roleID, "/")+1:]
		a, _, err := rs.CreateRoleAssignment(ctx, rbac.Assignment{
			Name: name, Scope: scope, RoleID: roleID, PrincipalID: body.Properties.PrincipalID,
			PrincipalType: body.Properties.PrincipalType, Description: body.Properties.Description, CreatedBy: p.ObjectID,
		})
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, toARMAssignment(a))
		return nil
	case r.Method == http.MethodDelete && name != "":
		if err := h.authorize(r, "Microsoft.Authorization/roleAssignments/delete", scope); err != nil {
			return err
		}
		// Only an assignment at the request's scope: the caller's right to
		// delete was checked there, not at the assignment's own scope.
		a, err := rs.GetRoleAssignment(ctx, "", name)
		if err == nil && !sameScope(a.Scope, scope) {
			err = tresor.Errorf(tresor.NotFound, "no such assignment at this scope")
		}
		if err == nil {
			a, err = rs.DeleteRoleAssignment(ctx, "", name)
		}
		if tresor.IsKind(err, tresor.NotFound) {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, toARMAssignment(a))
		return nil
	}
	return tresor.Errorf(tresor.NotFound, "The request %s %s does not match any operation.", r.Method, r.URL.Path).WithReason("InvalidResourceType")
}

// The $filter forms of role assignments.
var (
	filterAnd       = regexp.MustCompile(`(?i)\s+and\s+`)
	principalFilter = regexp.MustCompile(`(?i)^(?:principalId|assignedTo\()\s*(?:eq\s*)?'([0-9a-fA-F-]{36})'\)?$`)
)

// assignmentFilter reads the $filter values ARM accepts for role
// assignments that matter here: atScope() and principalId eq '{id}'.
func assignmentFilter(f string) (principal string, atScope bool, err error) {
	for _, part := range filterAnd.Split(strings.TrimSpace(f), -1) {
		switch part = strings.TrimSpace(part); {
		case part == "":
		case strings.EqualFold(part, "atScope()"):
			atScope = true
		default:
			m := principalFilter.FindStringSubmatch(part)
			if m == nil {
				return "", false, tresor.Errorf(tresor.Invalid, "The $filter %q is not supported.", clip(f)).WithReason("InvalidFilter")
			}
			principal = m[1]
		}
	}
	return principal, atScope, nil
}
