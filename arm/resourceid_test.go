package arm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ResourceID
		str  string // String(); "" means in
		typ  string
	}{
		{
			name: "vault",
			in:   "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
			want: ResourceID{Subscription: "s1", ResourceGroup: "rg", Provider: "Microsoft.KeyVault", Types: []string{"vaults"}, Names: []string{"kv"}},
			typ:  "Microsoft.KeyVault/vaults",
		},
		{
			name: "literals in any case, names kept",
			in:   "/SUBSCRIPTIONS/s1/resourcegroups/My.RG/PROVIDERS/microsoft.keyvault/Vaults/KV",
			want: ResourceID{Subscription: "s1", ResourceGroup: "My.RG", Provider: "microsoft.keyvault", Types: []string{"Vaults"}, Names: []string{"KV"}},
			str:  "/subscriptions/s1/resourceGroups/My.RG/providers/microsoft.keyvault/Vaults/KV",
			typ:  "microsoft.keyvault/Vaults",
		},
		{name: "subscription", in: "/subscriptions/s1", want: ResourceID{Subscription: "s1"}},
		{name: "group", in: "/subscriptions/s1/resourceGroups/rg", want: ResourceID{Subscription: "s1", ResourceGroup: "rg"}},
		{
			name: "subscription-level provider resource",
			in:   "/subscriptions/s1/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv",
			want: ResourceID{Subscription: "s1", Provider: "Microsoft.KeyVault", Types: []string{"locations", "deletedVaults"}, Names: []string{"westeurope", "kv"}},
			typ:  "Microsoft.KeyVault/locations/deletedVaults",
		},
		{
			name: "child resource",
			in:   "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k1",
			want: ResourceID{Subscription: "s1", ResourceGroup: "rg", Provider: "Microsoft.KeyVault", Types: []string{"vaults", "keys"}, Names: []string{"kv", "k1"}},
			typ:  "Microsoft.KeyVault/vaults/keys",
		},
		{
			name: "tenant level",
			in:   "/providers/Microsoft.Management/managementGroups/mg",
			want: ResourceID{Provider: "Microsoft.Management", Types: []string{"managementGroups"}, Names: []string{"mg"}},
			typ:  "Microsoft.Management/managementGroups",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, want)
			}
			if typ := got.Type(); typ != tt.typ {
				t.Errorf("Parse(%q).Type() = %q, want %q", tt.in, typ, tt.typ)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"/",
		"subscriptions/s1",
		"/subscriptions",
		"/subscriptions/",
		"/subscriptions//resourceGroups/rg",
		"/subscriptions/s1/",
		"/subscriptions/s1/resourceGroups",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys",
		"/subscriptions/s1/resourceGroups/rg/vaults/kv",
		"/tenants/t",
		"/subscriptions/s1/resourceGroups/r\x00g",
		"/subscriptions/s1/resourceGroups/r\xffg",
	} {
		if id, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, id)
		}
	}
}

func TestResourceIDEqual(t *testing.T) {
	a, _ := Parse("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV")
	b, _ := Parse("/SUBSCRIPTIONS/s1/RESOURCEGROUPS/rg/providers/microsoft.keyvault/VAULTS/kv")
	c, _ := Parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2")
	if !a.Equal(b) {
		t.Errorf("%v.Equal(%v) = false, want true", a, b)
	}
	if a.Equal(c) {
		t.Errorf("%v.Equal(%v) = true, want false", a, c)
	}
	if a.Name() != "KV" {
		t.Errorf("Name() = %q, want %q", a.Name(), "KV")
	}
}

// FuzzParse checks that whatever Parse accepts formats to an id that parses
// back to the same value, and that formatting is stable.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d",
		"/subscriptions/s/providers/Microsoft.KeyVault/locations/l/deletedVaults/v",
		"/SUBSCRIPTIONS/s/RESOURCEGROUPS/g",
		"/providers/A/b/c",
		"/subscriptions/providers/resourceGroups/resourceGroups/providers/p/t/n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		if len(id.Types) != len(id.Names) {
			t.Fatalf("Parse(%q): %d types, %d names", s, len(id.Types), len(id.Names))
		}
		again, err := Parse(id.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %v after Parse(%q) succeeded", id.String(), err, s)
		}
		if diff := cmp.Diff(id, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", s, diff)
		}
		if !id.Equal(again) || again.String() != id.String() {
			t.Fatalf("String() not stable for %q: %q, %q", s, id.String(), again.String())
		}
	})
}
