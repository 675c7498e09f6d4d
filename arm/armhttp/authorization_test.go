package armhttp

import "testing"

func TestRequiredAction(t *testing.T) {
	const sub = "/subscriptions/s1"
	const vault = sub + "/resourceGroups/g1/providers/Microsoft.KeyVault/vaults/kv1"
	tests := []struct {
		method, path  string
		action, scope string
		ok            bool
	}{
		{"GET", "/subscriptions", "", "", false},
		{"GET", sub, "Microsoft.Resources/subscriptions/read", sub, true},
		{"GET", sub + "/operationresults/x", "", "", false},
		{"GET", sub + "/resources", "Microsoft.Resources/subscriptions/resources/read", sub, true},
		{"GET", sub + "/resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read", sub, true},
		{"PUT", sub + "/resourceGroups/g1", "Microsoft.Resources/subscriptions/resourceGroups/write", sub + "/resourceGroups/g1", true},
		{"DELETE", sub + "/resourceGroups/g1", "Microsoft.Resources/subscriptions/resourceGroups/delete", sub + "/resourceGroups/g1", true},
		{"GET", sub + "/resourceGroups/g1/resources", "Microsoft.Resources/subscriptions/resourceGroups/resources/read", sub + "/resourceGroups/g1", true},
		{"PUT", vault, "Microsoft.KeyVault/vaults/write", vault, true},
		{"PATCH", vault, "Microsoft.KeyVault/vaults/write", vault, true},
		{"GET", vault, "Microsoft.KeyVault/vaults/read", vault, true},
		{"DELETE", vault, "Microsoft.KeyVault/vaults/delete", vault, true},
		{"GET", sub + "/resourceGroups/g1/providers/Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/read", sub + "/resourceGroups/g1", true},
		{"GET", sub + "/providers/Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/read", sub, true},
		{"POST", sub + "/providers/Microsoft.KeyVault/checkNameAvailability", "Microsoft.KeyVault/checkNameAvailability/action", sub, true},
		{"POST", sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1/purge",
			"Microsoft.KeyVault/locations/deletedVaults/purge/action", sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1", true},
		{"GET", sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1",
			"Microsoft.KeyVault/locations/deletedVaults/read", sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1", true},
		{"PUT", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1",
			"Microsoft.Compute/diskEncryptionSets/write", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1", true},
		{"DELETE", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1",
			"Microsoft.Compute/diskEncryptionSets/delete", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1", true},
		{"GET", sub + "/providers/Microsoft.Compute/diskEncryptionSets", "Microsoft.Compute/diskEncryptionSets/read", sub, true},
		{"GET", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1/associatedResources",
			"Microsoft.Compute/diskEncryptionSets/associatedResources/read", sub + "/resourceGroups/g1/providers/Microsoft.Compute/diskEncryptionSets/des1", true},
		{"POST", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1/start",
			"Microsoft.Compute/virtualMachines/start/action", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1", true},
		{"POST", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1/deallocate",
			"Microsoft.Compute/virtualMachines/deallocate/action", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1", true},
		{"GET", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1/instanceView",
			"Microsoft.Compute/virtualMachines/instanceView/read", sub + "/resourceGroups/g1/providers/Microsoft.Compute/virtualMachines/vm1", true},
		// Extension resources belong to the last provider named.
		{"PUT", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1",
			"Microsoft.EventGrid/eventSubscriptions/write", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1", true},
		{"DELETE", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1",
			"Microsoft.EventGrid/eventSubscriptions/delete", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1", true},
		{"GET", vault + "/providers/Microsoft.EventGrid/eventSubscriptions", "Microsoft.EventGrid/eventSubscriptions/read", vault, true},
		{"POST", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1/getFullUrl",
			"Microsoft.EventGrid/eventSubscriptions/getFullUrl/action", vault + "/providers/Microsoft.EventGrid/eventSubscriptions/es1", true},
	}
	for _, tt := range tests {
		action, scope, ok := requiredAction(tt.method, tt.path)
		if action != tt.action || scope != tt.scope || ok != tt.ok {
			t.Errorf("requiredAction(%s %s) = %q, %q, %v; want %q, %q, %v", tt.method, tt.path, action, scope, ok, tt.action, tt.scope, tt.ok)
		}
	}
}
