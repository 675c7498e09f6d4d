package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/blob/blobtest/azblobtest"
	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestBlobCMK is the seed's whole story through the real server and
// unmodified clients: armkeyvault, azkeys, armmsi and armauthorization
// set up a vault with purge protection, a key and an identity with access
// to it; armstorage creates an account encrypted with that key; azblob
// writes to it with Entra tokens (host style) and with Shared Key and SAS
// (path style, as on Azurite). The key rotates and the daily check on the
// virtual clock moves the account to the new version, data still readable;
// disabling the key refuses exactly the operations Azure lists; enabling
// it brings everything back; Microsoft-managed keys and back lose nothing;
// and no file the server wrote holds the content or a key in the clear.
func TestBlobCMK(t *testing.T) {
	dir := t.TempDir()
	// No key cache: revocation takes effect at once (the bound is tested
	// in storage's own tests).
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, StorageKeyCacheTTL: -1})
	ctx := context.Background()
	f := newCMKFixture(t, e)
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, f.miPrincipal)
	acct, err := f.create("stblob", f.params("cmk", "", f.vaultURI))
	if err != nil {
		t.Fatal(err)
	}
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}}

	// Entra tokens, host style at the account's primary endpoint: refused
	// until the admin holds a Storage Blob Data role (Owner of the
	// subscription is not enough for blob data, as in Azure).
	endpoint := *acct.Properties.PrimaryEndpoints.Blob
	oauth, err := azblob.NewClient(endpoint, e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.CreateContainer(ctx, "data", nil); err != nil {
		t.Fatalf("create container as subscription Owner: %v", err)
	}
	if _, err := oauth.UploadBuffer(ctx, "data", "x", []byte("x"), nil); statusOfBlob(err) != "AuthorizationPermissionMismatch 403" {
		t.Fatalf("upload without a data role = %v; want 403 AuthorizationPermissionMismatch", err)
	}
	f.assign(t, *acct.ID, rbac.StorageBlobDataContributor, e.env["TRESOR_ADMIN_OBJECT_ID"])

	marker := []byte("TRESOR-E2E-PLAINTEXT-MARKER-0123456789")
	small := bytes.Repeat(marker, 10)
	large := bytes.Repeat(marker, (9<<20)/len(marker)) // three blocks of 4 MiB or less
	if _, err := oauth.UploadBuffer(ctx, "data", "small.txt", small, &azblob.UploadBufferOptions{
		Metadata: map[string]*string{"owner": to.Ptr("metadata-secret-5d1e")},
	}); err != nil {
		t.Fatal(err)
	}
	up, err := oauth.UploadBuffer(ctx, "data", "large.bin", large, &azblob.UploadBufferOptions{BlockSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if up.IsServerEncrypted == nil || !*up.IsServerEncrypted {
		t.Errorf("Put Block List: x-ms-request-server-encrypted = %v; want true", up.IsServerEncrypted)
	}

	// Shared Key, path style on the Blob listener, with the keys ARM lists.
	keys, err := f.accounts.ListKeys(ctx, "rg-e2e", "stblob", nil)
	if err != nil {
		t.Fatal(err)
	}
	pathStyle := e.env["TRESOR_BLOB_ENDPOINT"] + "/stblob/"
	if !strings.HasPrefix(pathStyle, "https://127.0.0.1:") {
		t.Fatalf("TRESOR_BLOB_ENDPOINT = %q", e.env["TRESOR_BLOB_ENDPOINT"])
	}
	shared := f.sharedKeyClient(t, "stblob")
	read := func(c *azblob.Client, name string, want []byte) {
		t.Helper()
		if got := azblobtest.Download(t, c, "data", name); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the %d uploaded", name, len(got), len(want))
		}
	}
	read(shared, "small.txt", small)
	read(shared, "large.bin", large)
	props, err := shared.ServiceClient().NewContainerClient("data").NewBlobClient("small.txt").GetProperties(ctx, nil)
	if err != nil || props.IsServerEncrypted == nil || !*props.IsServerEncrypted || deref(props.Metadata["Owner"]) != "metadata-secret-5d1e" {
		t.Errorf("Get Blob Properties = %+v, %v", props, err)
	}

	// A service SAS for the container, signed with key2.
	cred2, err := azblob.NewSharedKeyCredential("stblob", *keys.Keys[1].Value)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sas.BlobSignatureValues{
		Protocol: sas.ProtocolHTTPS, ExpiryTime: time.Now().Add(time.Hour), ContainerName: "data",
		Permissions: (&sas.ContainerPermissions{Read: true, List: true}).String(),
	}.SignWithSharedKey(cred2)
	if err != nil {
		t.Fatal(err)
	}
	withSAS, err := azblob.NewClientWithNoCredential(pathStyle+"?"+q.Encode(), opts)
	if err != nil {
		t.Fatal(err)
	}
	read(withSAS, "large.bin", large)
	if _, err := withSAS.UploadBuffer(ctx, "data", "nope", []byte("x"), nil); statusOfBlob(err) != "AuthorizationPermissionMismatch 403" {
		t.Errorf("write with a read-only SAS = %v; want 403 AuthorizationPermissionMismatch", err)
	}

	// Rotation: the account moves to the new version at its daily check;
	// the data stays readable and writable throughout.
	rotated, err := f.kv.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatal(err)
	}
	current := func() string {
		t.Helper()
		a, err := f.accounts.GetProperties(ctx, "rg-e2e", "stblob", nil)
		if err != nil {
			t.Fatal(err)
		}
		return deref(a.Properties.Encryption.KeyVaultProperties.CurrentVersionedKeyIdentifier)
	}
	var o, errb bytes.Buffer
	if code := cli.Run(ctx, []string{"clock", "advance", "P1D", "--data", dir}, &o, &errb); code != 0 {
		t.Fatalf("tresor clock advance = %d: %s", code, errb.String())
	}
	if got := current(); got != string(*rotated.Key.KID) {
		t.Errorf("after the daily check the account uses %s; want %s", got, *rotated.Key.KID)
	}
	read(oauth, "large.bin", large)
	if _, err := oauth.UploadBuffer(ctx, "data", "after-rotation", small, nil); err != nil {
		t.Errorf("upload after rotation: %v", err)
	}

	// Revocation: disabling the key refuses exactly Azure's list of
	// operations; enabling it restores everything.
	setEnabled := func(on bool) {
		t.Helper()
		if _, err := f.kv.UpdateKey(ctx, "cmk", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	azblobtest.Revocation(t, shared, "revocation", large[:3<<20], func(revoked bool) { setEnabled(!revoked) })
	// A HEAD carries the code in its headers only; azblob reads it there.
	setEnabled(false)
	if _, err := oauth.ServiceClient().NewContainerClient("data").NewBlobClient("small.txt").GetProperties(ctx, nil); statusOfBlob(err) != "KeyVaultEncryptionKeyNotFound 403" {
		t.Errorf("HEAD with the key disabled = %v", err)
	}
	setEnabled(true)
	read(oauth, "small.txt", small)
	read(oauth, "large.bin", large)

	// Microsoft-managed keys and back: the data is never re-encrypted, only
	// the account key re-wrapped.
	update := func(enc *armstorage.Encryption) {
		t.Helper()
		if _, err := f.accounts.Update(ctx, "rg-e2e", "stblob", armstorage.AccountUpdateParameters{
			Properties: &armstorage.AccountPropertiesUpdateParameters{Encryption: enc},
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	update(&armstorage.Encryption{KeySource: to.Ptr(armstorage.KeySourceMicrosoftStorage)})
	setEnabled(false) // no longer in use
	read(shared, "large.bin", large)
	setEnabled(true)
	update(&armstorage.Encryption{
		KeySource:          to.Ptr(armstorage.KeySourceMicrosoftKeyvault),
		KeyVaultProperties: &armstorage.KeyVaultProperties{KeyVaultURI: to.Ptr(f.vaultURI), KeyName: to.Ptr("cmk")},
		EncryptionIdentity: &armstorage.EncryptionIdentity{EncryptionUserAssignedIdentity: to.Ptr(f.miID)},
	})
	read(shared, "small.txt", small)
	read(oauth, "large.bin", large)

	// The CLI, as az: a container, an upload with the key fetched through
	// ARM, a listing, a download with an Entra token.
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	src, dst := filepath.Join(t.TempDir(), "in"), filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(src, large[:5<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	run("storage", "container", "create", "--account-name", "stblob", "-n", "cli")
	if out := run("storage", "blob", "upload", "--account-name", "stblob", "-c", "cli", "-n", "dir/file", "-f", src); !strings.Contains(out, `"request_server_encrypted": true`) {
		t.Errorf("storage blob upload printed %s", out)
	}
	errb.Reset()
	if code := cli.Run(ctx, []string{"storage", "blob", "upload", "--account-name", "stblob", "-c", "cli", "-n", "dir/file", "-f", src, "--data", dir}, io.Discard, &errb); code == 0 || !strings.Contains(errb.String(), "BlobAlreadyExists") {
		t.Errorf("upload over an existing blob without --overwrite = exit %d: %s", code, errb.String())
	}
	if out := run("storage", "blob", "list", "--account-name", "stblob", "-c", "cli", "--prefix", "dir/", "--auth-mode", "login"); !strings.Contains(out, `"name": "dir/file"`) || !strings.Contains(out, `"contentLength": 5242880`) {
		t.Errorf("storage blob list printed %s", out)
	}
	run("storage", "blob", "download", "--account-name", "stblob", "-c", "cli", "-n", "dir/file", "-f", dst, "--auth-mode", "login")
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, large[:5<<20]) {
		t.Errorf("downloaded file: %d bytes, %v; want the uploaded %d", len(got), err, 5<<20)
	}

	// At rest: neither the content, its metadata, the account key nor an
	// access key is in any file the server wrote.
	aek, err := e.srv.Storage.AccountKey(ctx, "stblob")
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"content": marker, "metadata": []byte("metadata-secret-5d1e"), "account encryption key": aek}
	for _, k := range keys.Keys {
		raw, err := base64.StdEncoding.DecodeString(*k.Value)
		if err != nil {
			t.Fatal(err)
		}
		needles["access key "+*k.KeyName] = raw
		needles["access key "+*k.KeyName+" (base64)"] = []byte(*k.Value)
	}
	e.stop()
	blobtest.NoPlaintext(t, dir, 4, needles)
}

// statusOfBlob is a Blob error's code and status, "code status", or
// "success".
func statusOfBlob(err error) string {
	if err == nil {
		return "success"
	}
	code, status := azblobtest.ErrorCode(err)
	return fmt.Sprintf("%s %d", code, status)
}
