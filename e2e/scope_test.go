package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestEncryptionScopes manages encryption scopes through armstorage's
// EncryptionScopesClient and the CLI: a Microsoft-managed and a
// customer-managed scope, Azure's refusals, disable and enable, and the
// daily move of a versionless CMK scope to a rotated key's new version.
// Through azblob, blobs written in a scope with a key of its own: disabling
// that key or the scope locks exactly those blobs, the account's others
// stay readable.
func TestEncryptionScopes(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := newCMKFixture(t, e)
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)
	if _, err := f.create("stscopes", f.params("cmk", "", f.vaultURI)); err != nil {
		t.Fatal(err)
	}
	scopes, err := armstorage.NewEncryptionScopesClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, p *armstorage.EncryptionScopeProperties) (armstorage.EncryptionScope, error) {
		res, err := scopes.Put(ctx, "rg-e2e", "stscopes", name, armstorage.EncryptionScope{EncryptionScopeProperties: p}, nil)
		return res.EncryptionScope, err
	}
	mm, err := put("mm-scope", nil)
	if err != nil || deref(mm.EncryptionScopeProperties.Source) != armstorage.EncryptionScopeSourceMicrosoftStorage ||
		deref(mm.EncryptionScopeProperties.State) != armstorage.EncryptionScopeStateEnabled || !strings.HasSuffix(deref(mm.ID), "/storageAccounts/stscopes/encryptionScopes/mm-scope") {
		t.Fatalf("put mm-scope = %+v, %v", mm, err)
	}
	keyURI := f.vaultURI + "/keys/cmk"
	kv, err := put("cmk-scope", &armstorage.EncryptionScopeProperties{
		Source: to.Ptr(armstorage.EncryptionScopeSourceMicrosoftKeyVault), KeyVaultProperties: &armstorage.EncryptionScopeKeyVaultProperties{KeyURI: to.Ptr(keyURI)},
	})
	if err != nil || deref(kv.EncryptionScopeProperties.KeyVaultProperties.CurrentVersionedKeyIdentifier) != string(*f.key.Key.KID) {
		t.Fatalf("put cmk-scope = %+v, %v", kv.EncryptionScopeProperties, err)
	}
	if _, err := put("Bad_Name", nil); statusOf(err) != http.StatusBadRequest {
		t.Errorf("put a bad name = %v; want 400", err)
	}
	if _, err := put("nokey", &armstorage.EncryptionScopeProperties{
		Source: to.Ptr(armstorage.EncryptionScopeSourceMicrosoftKeyVault), KeyVaultProperties: &armstorage.EncryptionScopeKeyVaultProperties{KeyURI: to.Ptr(f.vaultURI + "/keys/nope")},
	}); statusOf(err) != http.StatusBadRequest || codeOf(err) != "KeyVaultKeyNotFound" {
		t.Errorf("put with a missing key = %v; want 400 KeyVaultKeyNotFound", err)
	}
	if _, err := scopes.Get(ctx, "rg-e2e", "stscopes", "nokey", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("get a refused scope = %v; want 404", err)
	}

	// Disable through PATCH; list by state.
	dis, err := scopes.Patch(ctx, "rg-e2e", "stscopes", "mm-scope", armstorage.EncryptionScope{EncryptionScopeProperties: &armstorage.EncryptionScopeProperties{
		State: to.Ptr(armstorage.EncryptionScopeStateDisabled),
	}}, nil)
	if err != nil || deref(dis.EncryptionScopeProperties.State) != armstorage.EncryptionScopeStateDisabled {
		t.Fatalf("disable = %+v, %v", dis, err)
	}
	names := func(include armstorage.ListEncryptionScopesInclude) []string {
		t.Helper()
		var out []string
		pager := scopes.NewListPager("rg-e2e", "stscopes", &armstorage.EncryptionScopesClientListOptions{Include: to.Ptr(include)})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range page.Value {
				out = append(out, *sc.Name)
			}
		}
		return out
	}
	if got := strings.Join(names(armstorage.ListEncryptionScopesIncludeAll), ","); got != "cmk-scope,mm-scope" {
		t.Errorf("list All = %s", got)
	}
	if got := strings.Join(names(armstorage.ListEncryptionScopesIncludeEnabled), ","); got != "cmk-scope" {
		t.Errorf("list Enabled = %s", got)
	}

	// Rotation: the versionless CMK scope follows at the daily check.
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	run("clock", "advance", "P1D")
	got, err := scopes.Get(ctx, "rg-e2e", "stscopes", "cmk-scope", nil)
	if err != nil || deref(got.EncryptionScopeProperties.KeyVaultProperties.CurrentVersionedKeyIdentifier) != string(*rotated.Key.KID) {
		t.Errorf("cmk-scope after the daily check = %+v, %v; want %s", got.EncryptionScopeProperties.KeyVaultProperties, err, *rotated.Key.KID)
	}

	// The data plane: a container whose blobs default to a scope with a key
	// of its own.
	own, err := f.kv.CreateKey(ctx, "scope-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put("own-key", &armstorage.EncryptionScopeProperties{
		Source: to.Ptr(armstorage.EncryptionScopeSourceMicrosoftKeyVault), KeyVaultProperties: &armstorage.EncryptionScopeKeyVaultProperties{KeyURI: to.Ptr(string(*own.Key.KID))},
	}); err != nil {
		t.Fatal(err)
	}
	c := f.sharedKeyClient(t, "stscopes")
	if _, err := c.CreateContainer(ctx, "scoped", &azblob.CreateContainerOptions{CPKScopeInfo: &container.CPKScopeInfo{
		DefaultEncryptionScope: to.Ptr("own-key"), PreventEncryptionScopeOverride: to.Ptr(true),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer(ctx, "plain", nil); err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("scoped-content-"), 1000)
	up, err := c.UploadBuffer(ctx, "scoped", "b", secret, nil)
	if err != nil || deref(up.EncryptionScope) != "own-key" {
		t.Fatalf("upload into the scoped container = scope %q, %v", deref(up.EncryptionScope), err)
	}
	if _, err := c.UploadBuffer(ctx, "scoped", "x", secret, &azblob.UploadBufferOptions{CPKScopeInfo: &blob.CPKScopeInfo{EncryptionScope: to.Ptr("mm-scope")}}); statusOfBlob(err) != "RequestForbiddenByContainerEncryptionPolicy 403" {
		t.Errorf("override of a denied container scope = %v", err)
	}
	if _, err := c.UploadBuffer(ctx, "plain", "b", secret, nil); err != nil {
		t.Fatal(err)
	}
	readable := func(ctr string) string {
		t.Helper()
		r, err := c.DownloadStream(ctx, ctr, "b", nil)
		if err != nil {
			return statusOfBlob(err)
		}
		defer r.Body.Close()
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("%s/b: %d bytes, %v", ctr, len(got), err)
		}
		return "success"
	}
	if a, b := readable("scoped"), readable("plain"); a != "success" || b != "success" {
		t.Fatalf("reads = %s, %s", a, b)
	}
	// The scope's key disabled: its blobs locked, the account's readable.
	setKey := func(on bool) {
		t.Helper()
		if _, err := f.kv.UpdateKey(ctx, "scope-key", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	setKey(false)
	if a, b := readable("scoped"), readable("plain"); a != "KeyVaultEncryptionKeyNotFound 403" || b != "success" {
		t.Errorf("with the scope's key disabled: scoped %s, plain %s", a, b)
	}
	setKey(true)
	// The scope disabled through ARM: the same, with AuthorizationFailure.
	setScope := func(state armstorage.EncryptionScopeState) {
		t.Helper()
		if _, err := scopes.Patch(ctx, "rg-e2e", "stscopes", "own-key", armstorage.EncryptionScope{EncryptionScopeProperties: &armstorage.EncryptionScopeProperties{State: to.Ptr(state)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	setScope(armstorage.EncryptionScopeStateDisabled)
	if a, b := readable("scoped"), readable("plain"); a != "AuthorizationFailure 403" || b != "success" {
		t.Errorf("with the scope disabled: scoped %s, plain %s", a, b)
	}
	setScope(armstorage.EncryptionScopeStateEnabled)
	if a := readable("scoped"); a != "success" {
		t.Errorf("scope enabled again: %s", a)
	}

	// The CLI, as az.
	out := run("storage", "account", "encryption-scope", "create", "--account-name", "stscopes", "-g", "rg-e2e", "-n", "cli-scope",
		"--key-source", "Microsoft.KeyVault", "--key-uri", keyURI)
	if !strings.Contains(out, `"currentVersionedKeyIdentifier": "`+string(*rotated.Key.KID)+`"`) {
		t.Errorf("encryption-scope create printed %s", out)
	}
	if out := run("storage", "account", "encryption-scope", "update", "--account-name", "stscopes", "-g", "rg-e2e", "-n", "cli-scope", "--state", "Disabled"); !strings.Contains(out, `"state": "Disabled"`) {
		t.Errorf("encryption-scope update printed %s", out)
	}
	if out := run("storage", "account", "encryption-scope", "list", "--account-name", "stscopes", "-g", "rg-e2e"); strings.Count(out, `"name"`) != 4 {
		t.Errorf("encryption-scope list printed %s", out)
	}
}
