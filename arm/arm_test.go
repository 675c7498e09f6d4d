package arm

import "testing"

func TestParseResourceID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", true},
		{"/SUBSCRIPTIONS/s1/resourcegroups/RG/PROVIDERS/Microsoft.KeyVault/vaults/KV", "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV", true},
		{"/subscriptions/s1", "/subscriptions/s1", true},
		{"/subscriptions/s1/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv", "/subscriptions/s1/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv", true},
		{"", "", false},
		{"/subscriptions/", "", false},
		{"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults", "", false},
		{"/tenants/t", "", false},
	}
	for _, tt := range tests {
		id, err := ParseResourceID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && id.String() != tt.want) {
			t.Errorf("ParseResourceID(%q) = %q, %v; want %q ok=%v", tt.in, id.String(), err, tt.want, tt.ok)
		}
	}
}

func FuzzParseResourceID(f *testing.F) {
	f.Add("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseResourceID(s)
		if err != nil {
			return
		}
		again, err := ParseResourceID(id.String())
		if err != nil || again.String() != id.String() {
			t.Fatalf("round trip of %q: %q, %v", s, again.String(), err)
		}
	})
}
