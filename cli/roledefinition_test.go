package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseRoleDefinition(t *testing.T) {
	const id = "60000000-0000-4000-8000-000000000001"
	want := roleInput{
		roleName: "Key Wrapper", description: "Wraps keys.",
		permissions:      []permissionInput{{Actions: []string{"Microsoft.KeyVault/vaults/read"}, DataActions: []string{"Microsoft.KeyVault/vaults/keys/wrap/action"}}},
		assignableScopes: []string{"/subscriptions/s"},
	}
	withID := want
	withID.id = id
	tests := []struct {
		name, json string
		want       roleInput
	}{
		{"az's form", `{"Name":"Key Wrapper","IsCustom":true,"Description":"Wraps keys.","Actions":["Microsoft.KeyVault/vaults/read"],"NotActions":[],
			"DataActions":["Microsoft.KeyVault/vaults/keys/wrap/action"],"NotDataActions":[],"AssignableScopes":["/subscriptions/s"]}`, want},
		{"lower case, with an id", `{"name":"Key Wrapper","id":"` + id + `","description":"Wraps keys.","actions":["Microsoft.KeyVault/vaults/read"],
			"dataActions":["Microsoft.KeyVault/vaults/keys/wrap/action"],"assignableScopes":["/subscriptions/s"]}`, withID},
		{"ARM's form", `{"id":"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/` + id + `","name":"` + id + `","type":"Microsoft.Authorization/roleDefinitions",
			"properties":{"roleName":"Key Wrapper","description":"Wraps keys.","type":"CustomRole","assignableScopes":["/subscriptions/s"],
			"permissions":[{"actions":["Microsoft.KeyVault/vaults/read"],"notActions":null,"dataActions":["Microsoft.KeyVault/vaults/keys/wrap/action"]}]}}`, withID},
	}
	for _, tt := range tests {
		got, err := parseRoleDefinition([]byte(tt.json))
		if err != nil || !cmp.Equal(got, tt.want, cmp.AllowUnexported(roleInput{}), cmpopts.EquateEmpty()) {
			t.Errorf("%s: parseRoleDefinition = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{"Description":"no name"}`, `[]`, `{"Name":"x","Actions":"Microsoft.KeyVault/vaults/read"}`, `{"Name":"x","Permissions":[1]}`} {
		if got, err := parseRoleDefinition([]byte(bad)); err == nil {
			t.Errorf("parseRoleDefinition(%s) = %+v, want an error", bad, got)
		}
	}
}
