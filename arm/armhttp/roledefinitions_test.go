package armhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/armtest"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/rbac/rbactest"
)

// Principals of the RBAC fixture, by bearer token.
var principals = map[string]string{
	"owner":    "40000000-0000-4000-8000-000000000001", // Owner of the subscription
	"reader":   "40000000-0000-4000-8000-000000000002", // Reader of the subscription
	"rg-admin": "40000000-0000-4000-8000-000000000003", // User Access Administrator of rg1
	"nobody":   "40000000-0000-4000-8000-000000000004",
}

const userAccessAdministrator = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"

type rbacFixture struct {
	h    http.Handler
	rbac *rbac.Service
	sub  string // "/subscriptions/{id}"
	foo  string // "/subscriptions/{id} of another tenant"
}

func newRBACFixture(t *testing.T) *rbacFixture {
	t.Helper()
	ctx := context.Background()
	svc := arm.NewService(armtest.NewMemStore())
	sub, err := svc.Bootstrap(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Bootstrap(ctx, otherTenant)
	if err != nil {
		t.Fatal(err)
	}
	rs := &rbac.Service{Store: rbactest.NewMemStore()}
	f := &rbacFixture{rbac: rs, sub: "/subscriptions/" + sub.ID, foo: "/subscriptions/" + other.ID}
	for i, a := range []struct{ principal, role, scope string }{
		{"owner", rbac.Owner, f.sub},
		{"reader", rbac.Reader, f.sub},
		{"rg-admin", userAccessAdministrator, f.sub + "/resourceGroups/rg1"},
	} {
		_, _, err := rs.CreateRoleAssignment(ctx, rbac.Assignment{
			Name: fmt.Sprintf("50000000-0000-4000-8000-%012d", i), Scope: a.scope, RoleID: a.role, PrincipalID: principals[a.principal],
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.h = armhttp.New(armhttp.Config{
		ARM: svc, RBAC: rs, Authority: authority,
		Providers: []armhttp.Provider{&fakeProvider{}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticate: func(ctx context.Context, tok string) (tresor.Principal, error) {
			if tok == otherToken {
				return tresor.Principal{TenantID: otherTenant, ObjectID: principals["owner"]}, nil
			}
			if oid, ok := principals[tok]; ok {
				return tresor.Principal{TenantID: tenant, ObjectID: oid}, nil
			}
			return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "bad token")
		},
	})
	return f
}

// do sends a request as the principal named by token and returns the
// status and body.
func (f *rbacFixture) do(t *testing.T, token, method, path, body string) (int, string) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	r := httptest.NewRequest(method, path+sep+"api-version=2022-04-01", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// roleBody is a role definition request body.
func roleBody(name string, scopes ...string) string {
	quoted, _ := json.Marshal(scopes)
	return fmt.Sprintf(`{"properties":{"roleName":%q,"description":"test","type":"CustomRole","permissions":[{"actions":["Test.Fake/widgets/read"],"dataActions":["Microsoft.KeyVault/vaults/keys/wrap/action"]}],"assignableScopes":%s}}`, name, quoted)
}

func definitions(t *testing.T, body string) []string {
	t.Helper()
	var list struct {
		Value []struct {
			Name       string `json:"name"`
			Properties struct {
				RoleName string `json:"roleName"`
			} `json:"properties"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("list body %s: %v", body, err)
	}
	var names []string
	for _, d := range list.Value {
		names = append(names, d.Properties.RoleName)
	}
	return names
}

func TestRoleDefinitionsAPI(t *testing.T) {
	f := newRBACFixture(t)
	const id, id2 = "60000000-0000-4000-8000-000000000001", "60000000-0000-4000-8000-000000000002"
	rg1, rg2 := f.sub+"/resourceGroups/rg1", f.sub+"/resourceGroups/rg2"
	defs := func(scope string) string { return scope + "/providers/Microsoft.Authorization/roleDefinitions" }

	status, body := f.do(t, "owner", "PUT", defs(f.sub)+"/"+strings.ToUpper(id), roleBody("Widget Reader", f.sub))
	if status != http.StatusCreated || !strings.Contains(body, `"name":"`+id+`"`) || !strings.Contains(body, `"type":"CustomRole"`) ||
		!strings.Contains(body, `"id":"`+f.sub+`/providers/Microsoft.Authorization/roleDefinitions/`+id+`"`) {
		t.Fatalf("create = %d %s; want 201 with the role", status, body)
	}
	if status, body := f.do(t, "owner", "PUT", defs(f.sub)+"/"+id, `{"name":"`+id+`",`+roleBody("Widget Reader", f.sub)[1:]); status != http.StatusCreated {
		t.Errorf("update = %d %s; want 201, as Azure answers", status, body)
	}
	if status, body := f.do(t, "rg-admin", "PUT", defs(rg1)+"/"+id2, roleBody("Group Role", rg1)); status != http.StatusCreated {
		t.Errorf("create by the group's User Access Administrator for its group = %d %s", status, body)
	}

	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"id not a GUID", "owner", "PUT", defs(f.sub) + "/widget", roleBody("X", f.sub), 400, "BadRequest"},
		{"no properties", "owner", "PUT", defs(f.sub) + "/" + id2, `{}`, 400, "InvalidRequestContent"},
		{"not JSON", "owner", "PUT", defs(f.sub) + "/" + id2, `{"properties":`, 400, "InvalidRequestContent"},
		{"permissions not a list", "owner", "PUT", defs(f.sub) + "/" + id2, `{"properties":{"permissions":{}}}`, 400, "InvalidRequestContent"},
		{"name differs from the URL", "owner", "PUT", defs(f.sub) + "/" + id2, `{"name":"` + id + `",` + roleBody("X", f.sub)[1:], 400, "InvalidRequestContent"},
		{"no role name", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("", f.sub), 400, rbac.ReasonRoleDefinitionNameNullOrEmpty},
		{"built-in type", "owner", "PUT", defs(f.sub) + "/" + id2, strings.Replace(roleBody("X", f.sub), "CustomRole", "BuiltInRole", 1), 400, rbac.ReasonInvalidRoleDefinitionType},
		{"no assignable scopes", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("X"), 400, rbac.ReasonMissingAssignableScopes},
		{"root assignable scope", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("X", "/"), 400, rbac.ReasonInvalidAssignableScope},
		{"malformed assignable scope", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("X", f.sub+"/resourceGroups"), 400, rbac.ReasonInvalidAssignableScope},
		{"scope in another subscription", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("X", f.sub, f.foo), 400, armhttp.ReasonAssignableScopeNotUnderSubscriptionScope},
		{"defined at the tenant root", "owner", "PUT", "/providers/Microsoft.Authorization/roleDefinitions/" + id2, roleBody("X", f.sub), 403, "AuthorizationFailed"},
		{"built-in id", "owner", "PUT", defs(f.sub) + "/" + rbac.Reader, roleBody("X", f.sub), 409, rbac.ReasonRoleDefinitionExists},
		{"built-in name", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("owner", f.sub), 409, rbac.ReasonRoleDefinitionWithSameNameExists},
		{"taken name", "owner", "PUT", defs(f.sub) + "/" + id2, roleBody("widget reader", f.sub), 409, rbac.ReasonRoleDefinitionWithSameNameExists},
		{"unsupported filter", "owner", "GET", defs(f.sub) + "?$filter=description+eq+'x'", "", 400, "InvalidFilter"},
		{"write as Reader", "reader", "PUT", defs(f.sub) + "/" + id2, roleBody("X", f.sub), 403, "AuthorizationFailed"},
		{"write above one's scope", "rg-admin", "PUT", defs(rg1) + "/" + id2, roleBody("X", rg1, f.sub), 403, "AuthorizationFailed"},
		{"update a role of a wider scope", "rg-admin", "PUT", defs(rg1) + "/" + id, roleBody("Widget Reader", rg1), 403, "AuthorizationFailed"},
		{"read without a role", "nobody", "GET", defs(f.sub), "", 403, "AuthorizationFailed"},
		{"delete as Reader", "reader", "DELETE", defs(f.sub) + "/" + id, "", 403, "AuthorizationFailed"},
		{"delete a role of a wider scope", "rg-admin", "DELETE", defs(rg1) + "/" + id, "", 403, "AuthorizationFailed"},
		{"delete a built-in role", "owner", "DELETE", defs(f.sub) + "/" + rbac.Reader, "", 400, rbac.ReasonInvalidRoleDefinitionType},
		{"delete with an id not a GUID", "owner", "DELETE", defs(f.sub) + "/widget", "", 400, "BadRequest"},
		{"other tenant", otherToken, "GET", defs(f.sub), "", 401, "InvalidAuthenticationTokenTenant"},
		{"get a role of another group", "owner", "GET", defs(rg2) + "/" + id2, "", 404, rbac.ReasonRoleDefinitionNotFound},
	}
	for _, tt := range tests {
		status, body := f.do(t, tt.token, tt.method, tt.path, tt.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal([]byte(body), &e) //nolint:errcheck // an empty code fails the check
		if status != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s: %s %s = %d %s; want %d %s", tt.name, tt.method, tt.path, status, body, tt.status, tt.code)
		}
	}

	// Reads: at the subscription, the roles defined in it; at a group, the
	// roles assignable there; at the tenant root, the built-in roles and
	// the custom roles one may read.
	lists := []struct {
		token, path string
		want        []string
		unwanted    []string
	}{
		{"reader", defs(f.sub) + "?$filter=type+eq+'CustomRole'", []string{"Widget Reader", "Group Role"}, []string{"Owner"}},
		{"reader", defs(rg1) + "?$filter=roleName+eq+'group+role'", []string{"Group Role"}, []string{"Widget Reader", "Owner"}},
		{"reader", defs(rg2), []string{"Widget Reader", "Owner"}, []string{"Group Role"}},
		{"reader", defs(f.sub) + "?$filter=roleName+eq+'Owner'+and+type+eq+'BuiltInRole'", []string{"Owner"}, []string{"Reader", "Widget Reader"}},
		{"reader", "/providers/Microsoft.Authorization/roleDefinitions", []string{"Owner", "Widget Reader", "Group Role"}, nil},
		{"nobody", "/providers/Microsoft.Authorization/roleDefinitions", []string{"Owner"}, []string{"Widget Reader", "Group Role"}},
	}
	for _, l := range lists {
		status, body := f.do(t, l.token, "GET", l.path, "")
		if status != http.StatusOK {
			t.Errorf("GET %s as %s = %d %s", l.path, l.token, status, body)
			continue
		}
		got := strings.Join(definitions(t, body), ",")
		for _, w := range l.want {
			if !strings.Contains(","+got+",", ","+w+",") {
				t.Errorf("GET %s as %s = [%s]; want %s in it", l.path, l.token, got, w)
			}
		}
		for _, u := range l.unwanted {
			if strings.Contains(","+got+",", ","+u+",") {
				t.Errorf("GET %s as %s = [%s]; want no %s", l.path, l.token, got, u)
			}
		}
	}
	if status, body := f.do(t, "reader", "GET", defs(rg1)+"/"+id, ""); status != http.StatusOK || !strings.Contains(body, "Widget Reader") {
		t.Errorf("get at a group where the role is assignable = %d %s", status, body)
	}
	if status, body := f.do(t, "reader", "GET", defs(f.sub)+"?$top=2", ""); status != http.StatusOK || !strings.Contains(body, `"nextLink":"http`) {
		t.Errorf("list with $top=2 = %d %s; want a nextLink", status, body)
	}

	// Assignments: only within the assignable scopes; the role's actions
	// then authorize ARM requests.
	widget := rg1 + "/providers/Test.Fake/widgets/w1"
	if status, _ := f.do(t, "nobody", "GET", widget, ""); status != http.StatusForbidden {
		t.Errorf("get widget without a role = %d, want 403", status)
	}
	assign := func(scope, role, name string) (int, string) {
		return f.do(t, "owner", "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+name,
			fmt.Sprintf(`{"properties":{"roleDefinitionId":"%s/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q}}`, f.sub, role, principals["nobody"]))
	}
	if status, body := assign(f.sub, id2, "70000000-0000-4000-8000-000000000001"); status != http.StatusBadRequest || !strings.Contains(body, "assignable") {
		t.Errorf("assign the group's role at the subscription = %d %s; want 400", status, body)
	}
	if status, body := assign(rg1, id2, "70000000-0000-4000-8000-000000000002"); status != http.StatusCreated {
		t.Fatalf("assign the group's role at the group = %d %s", status, body)
	}
	if status, body := f.do(t, "nobody", "GET", widget, ""); status != http.StatusOK {
		t.Errorf("get widget with the custom role = %d %s, want 200", status, body)
	}
	if status, _ := f.do(t, "nobody", "GET", rg1, ""); status != http.StatusForbidden {
		t.Errorf("get the group with a role that only reads widgets = %d, want 403", status)
	}
	status, body = f.do(t, "rg-admin", "PUT", defs(rg1)+"/"+id2, strings.Replace(roleBody("Group Role", rg1), "Test.Fake/widgets/read", "Test.Fake/gadgets/read", 1))
	if status != http.StatusCreated {
		t.Fatalf("update the group role = %d %s", status, body)
	}
	if status, _ := f.do(t, "nobody", "GET", widget, ""); status != http.StatusForbidden {
		t.Errorf("get widget after the role lost the action = %d, want 403", status)
	}

	// Deletes: not through a scope where the role is not, refused while
	// assigned, 200 with the role, then 204.
	if status, body := f.do(t, "owner", "DELETE", defs(rg2)+"/"+id2, ""); status != http.StatusNoContent {
		t.Errorf("delete the group's role through another group = %d %s; want 204", status, body)
	}
	if _, err := f.rbac.GetRoleDefinition(context.Background(), "", id2); err != nil {
		t.Errorf("the group's role after a delete through another group: %v; want it kept", err)
	}
	status, body = f.do(t, "owner", "DELETE", defs(f.sub)+"/"+id2, "")
	if status != http.StatusConflict || !strings.Contains(body, rbac.ReasonRoleDefinitionHasAssignments) {
		t.Errorf("delete an assigned role = %d %s; want 409 %s", status, body, rbac.ReasonRoleDefinitionHasAssignments)
	}
	f.do(t, "owner", "DELETE", rg1+"/providers/Microsoft.Authorization/roleAssignments/70000000-0000-4000-8000-000000000002", "")
	if status, body := f.do(t, "rg-admin", "DELETE", defs(rg1)+"/"+id2, ""); status != http.StatusOK || !strings.Contains(body, "Group Role") {
		t.Errorf("delete = %d %s; want 200 with the role", status, body)
	}
	if status, body := f.do(t, "owner", "DELETE", defs(f.sub)+"/"+id2, ""); status != http.StatusNoContent {
		t.Errorf("delete again = %d %s; want 204", status, body)
	}
}

func TestDefinitionFilterQuotes(t *testing.T) {
	f := newRBACFixture(t)
	path := f.sub + "/providers/Microsoft.Authorization/roleDefinitions/60000000-0000-4000-8000-000000000009"
	if status, body := f.do(t, "owner", "PUT", path, roleBody("Bob's and Alice's", f.sub)); status != http.StatusCreated {
		t.Fatalf("create = %d %s", status, body)
	}
	status, body := f.do(t, "owner", "GET", f.sub+"/providers/Microsoft.Authorization/roleDefinitions?$filter="+
		"roleName%20eq%20'Bob''s%20and%20Alice''s'%20and%20type%20eq%20'CustomRole'", "")
	if got := definitions(t, body); status != http.StatusOK || len(got) != 1 {
		t.Errorf("filter with doubled quotes and 'and' in the name = %d %v", status, got)
	}
}
