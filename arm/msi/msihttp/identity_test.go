package msihttp

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/identity"
)

func TestSpecOf(t *testing.T) {
	const (
		a = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"
		b = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/b"
	)
	cur := msi.State{
		SystemAssigned: identity.ServicePrincipal{ObjectID: "sys"},
		UserAssigned:   []msi.AssignedIdentity{{ResourceID: a, PrincipalID: "pa"}},
	}
	tests := []struct {
		name    string
		in      *Identity
		patch   bool
		want    msi.Spec
		wantErr bool
	}{
		{"PUT without identity", nil, false, msi.Spec{}, false},
		{"PATCH without identity keeps", nil, true, msi.Spec{SystemAssigned: true, UserAssigned: []string{a}}, false},
		{"None", &Identity{Type: "None"}, false, msi.Spec{}, false},
		{"system, any case", &Identity{Type: "systemassigned"}, false, msi.Spec{SystemAssigned: true}, false},
		{"both without space", &Identity{Type: "SystemAssigned,UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{b: {}, a: {}}},
			false, msi.Spec{SystemAssigned: true, UserAssigned: []string{a, b}}, false},
		{"PATCH adds", &Identity{Type: "SystemAssigned, UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{b: {}}},
			true, msi.Spec{SystemAssigned: true, UserAssigned: []string{a, b}}, false},
		{"PATCH null detaches", &Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{a: nil, b: {}}},
			true, msi.Spec{UserAssigned: []string{b}}, false},
		{"PATCH detaching the last", &Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{a: nil}}, true, msi.Spec{}, true},
		{"PUT null", &Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{a: nil}}, false, msi.Spec{}, true},
		{"user-assigned without any", &Identity{Type: "UserAssigned"}, false, msi.Spec{}, true},
		{"system with user list", &Identity{Type: "SystemAssigned", UserAssignedIdentities: map[string]*UserAssigned{a: {}}}, false, msi.Spec{}, true},
		{"unknown type", &Identity{Type: "Both"}, false, msi.Spec{}, true},
		{"not an id", &Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]*UserAssigned{"a": {}}}, false, msi.Spec{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SpecOf(tt.in, cur, tt.patch)
			if tt.wantErr {
				if !tresor.IsKind(err, tresor.Invalid) {
					t.Errorf("error = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("spec mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIdentityOf(t *testing.T) {
	if got := IdentityOf(msi.State{}); got != nil {
		t.Errorf("IdentityOf(none) = %+v, want nil", got)
	}
	st := msi.State{
		SystemAssigned: identity.ServicePrincipal{ObjectID: "o", TenantID: "t"},
		UserAssigned:   []msi.AssignedIdentity{{ResourceID: "/x", PrincipalID: "p", ClientID: "c"}},
	}
	want := &Identity{Type: "SystemAssigned, UserAssigned", PrincipalID: "o", TenantID: "t",
		UserAssignedIdentities: map[string]*UserAssigned{"/x": {PrincipalID: "p", ClientID: "c"}}}
	if diff := cmp.Diff(want, IdentityOf(st)); diff != "" {
		t.Errorf("IdentityOf mismatch (-want +got):\n%s", diff)
	}
}
