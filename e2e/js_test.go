package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"

	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestJSSDK runs the node test suite in e2e/js against a live server. The
// README's test command installs its packages with 'npm ci' first.
func TestJSSDK(t *testing.T) {
	node := needNode(t)
	e := start(t)
	e.vault(t, "kv-js", false, func(p *armkeyvault.VaultProperties) { p.SoftDeleteRetentionInDays = to.Ptr[int32](7) })
	e.vault(t, "hsm-js", true, nil)
	// A user-assigned identity that may use the HSM's keys, for
	// @azure/identity's ManagedIdentityCredential.
	ids, err := armmsi.NewUserAssignedIdentitiesClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := ids.CreateOrUpdate(context.Background(), "rg-e2e", "js-identity", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.assignHSMRole(t, e.env.HSMURL("hsm-js"), rbac.HSMCryptoUser, *mi.Properties.PrincipalID, "/")

	runNode(t, node, e, "events.test.js",
		"TRESOR_TEST_VAULT_URL="+e.env.VaultURL("kv-js"),
		"TRESOR_TEST_VAULT_ID=/subscriptions/"+e.env["AZURE_SUBSCRIPTION_ID"]+"/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-js",
		"AZURE_SUBSCRIPTION_ID="+e.env["AZURE_SUBSCRIPTION_ID"],
		"TRESOR_ARM_ENDPOINT="+e.env["TRESOR_ARM_ENDPOINT"],
		"TRESOR_ARM_AUDIENCE="+e.env["TRESOR_ARM_AUDIENCE"],
	)
	runNode(t, node, e, "keys.test.js",
		"TRESOR_TEST_VAULT_URL="+e.env.VaultURL("kv-js"),
		"TRESOR_TEST_HSM_URL="+e.env.HSMURL("hsm-js"),
		"TRESOR_TEST_MI_CLIENT_ID="+*mi.Properties.ClientID,
		"IDENTITY_ENDPOINT="+e.env["TRESOR_IDENTITY_ENDPOINT"],
		"IDENTITY_HEADER="+e.env["TRESOR_IDENTITY_HEADER"],
	)
}

// TestJSSDKRotation runs e2e/js/rotation.test.js, rotation policies and
// rotation with the JS SDK, against a server on a virtual clock, which the
// suite moves through the clock API.
func TestJSSDKRotation(t *testing.T) {
	node := needNode(t)
	e := startWith(t, cli.Config{DataDir: t.TempDir(), Clock: cli.ClockVirtual})
	e.vault(t, "kv-js-rot", false, nil)
	e.vault(t, "hsm-js-rot", true, nil)
	runNode(t, node, e, "rotation.test.js",
		"TRESOR_TEST_VAULT_URL="+e.env.VaultURL("kv-js-rot"),
		"TRESOR_TEST_VAULT_ID=/subscriptions/"+e.env["AZURE_SUBSCRIPTION_ID"]+"/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-js-rot",
		"AZURE_SUBSCRIPTION_ID="+e.env["AZURE_SUBSCRIPTION_ID"],
		"TRESOR_TEST_HSM_URL="+e.env.HSMURL("hsm-js-rot"),
		"TRESOR_ARM_ENDPOINT="+e.env["TRESOR_ARM_ENDPOINT"],
		"TRESOR_ARM_AUDIENCE="+e.env["TRESOR_ARM_AUDIENCE"],
	)
}

// TestJSSDKBlob runs e2e/js/blob.test.js, the storage account and blob
// story of TestBlobCMK told with the JS SDKs (@azure/arm-storage,
// @azure/storage-blob and the ARM clients that set up the key), against a
// server on a virtual clock, which the suite moves through the clock API.
// Without a key cache, disabling the key takes effect at once. Then no
// file the server wrote holds the content or the metadata in the clear.
func TestJSSDKBlob(t *testing.T) {
	node := needNode(t)
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	const marker, metadata = "TRESOR-JS-PLAINTEXT-MARKER-0123456789", "metadata-secret-js-8c2f"
	runNode(t, node, e, "blob.test.js",
		"AZURE_SUBSCRIPTION_ID="+e.env["AZURE_SUBSCRIPTION_ID"],
		"TRESOR_ADMIN_OBJECT_ID="+e.env["TRESOR_ADMIN_OBJECT_ID"],
		"TRESOR_ARM_ENDPOINT="+e.env["TRESOR_ARM_ENDPOINT"],
		"TRESOR_ARM_AUDIENCE="+e.env["TRESOR_ARM_AUDIENCE"],
		"TRESOR_BLOB_ENDPOINT="+e.env["TRESOR_BLOB_ENDPOINT"],
		"TRESOR_TEST_MARKER="+marker,
		"TRESOR_TEST_METADATA="+metadata,
	)
	e.stop()
	blobtest.NoPlaintext(t, dir, 4, map[string][]byte{"content": []byte(marker), "metadata": []byte(metadata)})
}

// needNode returns the path of node, failing the test if node or the JS
// SDKs are missing: the JS suite is part of the tests, not optional.
func needNode(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(filepath.Join("js", "node_modules", "@azure", "keyvault-keys")); err != nil {
		tb.Fatalf("the JS SDKs are not installed: run 'npm ci --prefix e2e/js' (make test does): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		tb.Fatalf("node is required for the JS end-to-end suite: %v", err)
	}
	return node
}

// runNode runs 'node --test file' in e2e/js with the administrator's
// credentials, the server's CA and extra ("NAME=value") in its
// environment.
func runNode(tb testing.TB, node string, e *env, file string, extra ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", file)
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(),
		"AZURE_TENANT_ID="+e.env["AZURE_TENANT_ID"],
		"AZURE_CLIENT_ID="+e.env["AZURE_CLIENT_ID"],
		"AZURE_CLIENT_SECRET="+e.env["AZURE_CLIENT_SECRET"],
		"AZURE_AUTHORITY_HOST="+e.env["AZURE_AUTHORITY_HOST"],
		"NODE_EXTRA_CA_CERTS="+e.env["TRESOR_CA_FILE"],
	)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("node --test %s failed: %v\n%s", file, err, out)
	}
	tb.Logf("node --test %s:\n%s", file, out)
}
