// Package e2e runs the whole tresor server in-process and drives it with the
// unmodified Azure SDKs for Go (azidentity, armresources, armkeyvault,
// azkeys) and, through node, for JavaScript. Only endpoints, TLS trust,
// credentials and a DNS pin are configured.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/client"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// env is a running server and clients configured for it.
type env struct {
	srv  *cli.Server
	env  client.Env
	http *http.Client
	cred azcore.TokenCredential
	dir  string
	stop func() // shuts the server down; idempotent
}

// start runs a server on a free loopback port for the duration of the test.
func start(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	return startIn(tb, dir)
}

func startIn(tb testing.TB, dir string) *env {
	tb.Helper()
	return startWith(tb, cli.Config{DataDir: dir})
}

// startWith runs a server with cfg, on a free loopback port.
func startWith(tb testing.TB, cfg cli.Config) *env {
	tb.Helper()
	if cfg.DataDir == "" {
		// Never the working directory: a server's files there would be
		// left behind, and could be committed.
		cfg.DataDir = tb.TempDir()
	}
	dir := cfg.DataDir
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.Addr, cfg.Domain, cfg.Logger = "127.0.0.1:0", "localhost", logger
	if cfg.BlobAddr == "" {
		cfg.BlobAddr = "127.0.0.1:0"
	}
	srv, err := cli.Open(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatalf("cli.Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Serve: %v", err)
			}
			srv.Close()
		})
	}
	tb.Cleanup(stop)
	e, err := client.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	hc, err := e.HTTPClient()
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := e.Credential(hc)
	if err != nil {
		tb.Fatal(err)
	}
	waitHealthy(tb, hc, e["TRESOR_ARM_ENDPOINT"]+"/healthz")
	return &env{srv: srv, env: e, http: hc, cred: cred, dir: dir, stop: stop}
}

func waitHealthy(tb testing.TB, hc *http.Client, url string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server not healthy at %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vault creates a resource group and a vault (or HSM) through ARM and returns
// an azkeys client for it.
func (e *env) vault(tb testing.TB, name string, hsm bool, props func(*armkeyvault.VaultProperties)) *azkeys.Client {
	tb.Helper()
	ctx := context.Background()
	sub := e.env["AZURE_SUBSCRIPTION_ID"]
	opts := e.env.ARMOptions(e.http)
	groups, err := armresources.NewResourceGroupsClient(sub, e.cred, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "rg-e2e", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		tb.Fatalf("create resource group: %v", err)
	}
	url := e.env.VaultURL(name)
	if hsm {
		hsms, err := armkeyvault.NewManagedHsmsClient(sub, e.cred, opts)
		if err != nil {
			tb.Fatal(err)
		}
		poller, err := hsms.BeginCreateOrUpdate(ctx, "rg-e2e", name, armkeyvault.ManagedHsm{
			Location: to.Ptr("westeurope"),
			SKU:      &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUNameStandardB1)},
			Properties: &armkeyvault.ManagedHsmProperties{
				TenantID:                  to.Ptr(e.env["AZURE_TENANT_ID"]),
				InitialAdminObjectIDs:     []*string{to.Ptr(e.env["TRESOR_ADMIN_OBJECT_ID"])},
				SoftDeleteRetentionInDays: to.Ptr[int32](7),
			},
		}, nil)
		if err != nil {
			tb.Fatalf("create managed HSM: %v", err)
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			tb.Fatalf("create managed HSM: %v", err)
		}
		if res.Properties == nil || res.Properties.HsmURI == nil {
			tb.Fatalf("managed HSM has no hsmUri: %+v", res)
		}
		url = e.env.HSMURL(name)
		// The initial administrator may manage roles but not use keys:
		// grant it Managed HSM Crypto User, as one must in Azure.
		e.assignHSMRole(tb, url, rbac.HSMCryptoUser, e.env["TRESOR_ADMIN_OBJECT_ID"], "/")
	} else {
		vaults, err := armkeyvault.NewVaultsClient(sub, e.cred, opts)
		if err != nil {
			tb.Fatal(err)
		}
		p := &armkeyvault.VaultProperties{
			TenantID:         to.Ptr(e.env["AZURE_TENANT_ID"]),
			SKU:              &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNamePremium)},
			EnableSoftDelete: to.Ptr(true),
			// The admin may do everything with keys, as the creator of a
			// vault usually may.
			AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
				TenantID: to.Ptr(e.env["AZURE_TENANT_ID"]), ObjectID: to.Ptr(e.env["TRESOR_ADMIN_OBJECT_ID"]),
				Permissions: &armkeyvault.Permissions{Keys: to.SliceOfPtrs(armkeyvault.KeyPermissionsAll)},
			}},
		}
		if props != nil {
			props(p)
		}
		poller, err := vaults.BeginCreateOrUpdate(ctx, "rg-e2e", name, armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("westeurope"), Properties: p}, nil)
		if err != nil {
			tb.Fatalf("create vault: %v", err)
		}
		res, err := poller.PollUntilDone(ctx, nil)
		if err != nil {
			tb.Fatalf("create vault: %v", err)
		}
		if got := *res.Properties.VaultURI; got != url+"/" && got != url {
			tb.Errorf("vaultUri = %q, want %q", got, url+"/")
		}
	}
	// Challenge resource verification stays on: the server's challenge
	// names https://vault.localhost:PORT, of which the vault host is a
	// subdomain.
	c, err := azkeys.NewClient(url, e.cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// assignHSMRole assigns a Managed HSM local role through the HSM's RBAC
// API, with the request the azadmin rbac client sends (that module is not
// served by the Go proxy this project builds with).
func (e *env) assignHSMRole(tb testing.TB, hsmURL, roleID, principalID, scope string) {
	tb.Helper()
	ctx := context.Background()
	tok, err := e.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resourceOf(hsmURL) + "/.default"}})
	if err != nil {
		tb.Fatal(err)
	}
	body := fmt.Sprintf(`{"properties":{"roleDefinitionId":"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":"%s"}}`, roleID, principalID)
	u := fmt.Sprintf("%s/%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=7.5", hsmURL, strings.Trim(scope, "/"), identity.NewGUID())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		tb.Fatalf("assign role %s at %s: %d %s", roleID, scope, resp.StatusCode, msg)
	}
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func codeOf(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestKeysWithGoSDK(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	kv := e.vault(t, "kv-go", false, func(p *armkeyvault.VaultProperties) { p.SoftDeleteRetentionInDays = to.Ptr[int32](7) })

	t.Run("rsa wrap unwrap encrypt decrypt", func(t *testing.T) {
		created, err := kv.CreateKey(ctx, "rsa", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr[int32](2048)}, nil)
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if created.Key.KID.Name() != "rsa" || len(created.Key.N) != 256 {
			t.Fatalf("CreateKey = kid %s, |n| %d", *created.Key.KID, len(created.Key.N))
		}
		cek := make([]byte, 32)
		rand.Read(cek)
		for _, alg := range []azkeys.EncryptionAlgorithm{azkeys.EncryptionAlgorithmRSAOAEP, azkeys.EncryptionAlgorithmRSAOAEP256, azkeys.EncryptionAlgorithmRSA15} {
			w, err := kv.WrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: cek}, nil)
			if err != nil {
				t.Fatalf("WrapKey(%s): %v", alg, err)
			}
			u, err := kv.UnwrapKey(ctx, "rsa", created.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: w.Result}, nil)
			if err != nil || !bytes.Equal(u.Result, cek) {
				t.Fatalf("UnwrapKey(%s) = %x, %v; want %x", alg, u.Result, err, cek)
			}
		}
		// A ciphertext made locally with the public key decrypts remotely.
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(created.Key.N), E: int(new(big.Int).SetBytes(created.Key.E).Int64())}
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("local"), nil)
		d, err := kv.Decrypt(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: ct}, nil)
		if err != nil || string(d.Result) != "local" {
			t.Fatalf("Decrypt(local ciphertext) = %q, %v", d.Result, err)
		}
	})

	t.Run("ec sign verify", func(t *testing.T) {
		for _, tc := range []struct {
			crv azkeys.CurveName
			alg azkeys.SignatureAlgorithm
			n   int
		}{{azkeys.CurveNameP256, azkeys.SignatureAlgorithmES256, 32}, {azkeys.CurveNameP384, azkeys.SignatureAlgorithmES384, 48}, {azkeys.CurveNameP521, azkeys.SignatureAlgorithmES512, 64}, {azkeys.CurveNameP256K, azkeys.SignatureAlgorithmES256K, 32}} {
			name := "ec-" + string(tc.crv[2:])
			k, err := kv.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(tc.crv)}, nil)
			if err != nil {
				t.Fatalf("CreateKey(%s): %v", tc.crv, err)
			}
			digest := make([]byte, tc.n)
			rand.Read(digest)
			s, err := kv.Sign(ctx, name, "", azkeys.SignParameters{Algorithm: to.Ptr(tc.alg), Value: digest}, nil)
			if err != nil {
				t.Fatalf("Sign(%s): %v", tc.alg, err)
			}
			v, err := kv.Verify(ctx, name, "", azkeys.VerifyParameters{Algorithm: to.Ptr(tc.alg), Digest: digest, Signature: s.Result}, nil)
			if err != nil || !*v.Value {
				t.Fatalf("Verify(%s) = %v, %v", tc.alg, v.Value, err)
			}
			s.Result[3] ^= 1
			v, err = kv.Verify(ctx, name, "", azkeys.VerifyParameters{Algorithm: to.Ptr(tc.alg), Digest: digest, Signature: s.Result}, nil)
			if err != nil || *v.Value {
				t.Fatalf("Verify(tampered %s) = %v, %v; want false", tc.alg, v.Value, err)
			}
			if tc.crv == azkeys.CurveNameP256 {
				s.Result[3] ^= 1
				pub := ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(k.Key.X), Y: new(big.Int).SetBytes(k.Key.Y)}
				r, ss := new(big.Int).SetBytes(s.Result[:32]), new(big.Int).SetBytes(s.Result[32:])
				if !ecdsa.Verify(&pub, digest, r, ss) {
					t.Errorf("P-256 signature (raw r||s) does not verify with crypto/ecdsa")
				}
			}
		}
	})

	t.Run("import", func(t *testing.T) {
		priv, _ := rsa.GenerateKey(rand.Reader, 2048)
		jwk := &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeRSA), N: priv.N.Bytes(), E: big.NewInt(int64(priv.E)).Bytes(), D: priv.D.Bytes(),
			P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes(), DP: priv.Precomputed.Dp.Bytes(), DQ: priv.Precomputed.Dq.Bytes(), QI: priv.Precomputed.Qinv.Bytes(),
		}
		imp, err := kv.ImportKey(ctx, "imported", azkeys.ImportKeyParameters{Key: jwk, HSM: to.Ptr(true)}, nil)
		if err != nil {
			t.Fatalf("ImportKey: %v", err)
		}
		if *imp.Key.Kty != azkeys.KeyTypeRSAHSM || !bytes.Equal(imp.Key.N, priv.N.Bytes()) || imp.Key.D != nil {
			t.Fatalf("ImportKey = kty %s, n matches %v, d returned %v", *imp.Key.Kty, bytes.Equal(imp.Key.N, priv.N.Bytes()), imp.Key.D != nil)
		}
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, []byte("imported"), nil)
		d, err := kv.Decrypt(ctx, "imported", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: ct}, nil)
		if err != nil || string(d.Result) != "imported" {
			t.Fatalf("Decrypt with imported key = %q, %v", d.Result, err)
		}
		bad := *jwk
		bad.D = []byte{1, 2, 3}
		_, err = kv.ImportKey(ctx, "imported-bad", azkeys.ImportKeyParameters{Key: &bad}, nil)
		if statusOf(err) != 400 {
			t.Fatalf("ImportKey(inconsistent) = %v, want 400", err)
		}
	})

	t.Run("versions update list paging", func(t *testing.T) {
		var versions []string
		for i := 0; i < 3; i++ {
			k, err := kv.CreateKey(ctx, "multi", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, k.Key.KID.Version())
		}
		latest, err := kv.GetKey(ctx, "multi", "", nil)
		if err != nil || latest.Key.KID.Version() != versions[2] {
			t.Fatalf("GetKey(latest) = %v, %v; want %s", latest.Key.KID, err, versions[2])
		}
		old, err := kv.GetKey(ctx, "multi", versions[0], nil)
		if err != nil || old.Key.KID.Version() != versions[0] {
			t.Fatalf("GetKey(%s) = %v", versions[0], err)
		}
		// Object names are case-insensitive; the kid keeps the spelling
		// the key was created with.
		upper, err := kv.GetKey(ctx, "MULTI", "", nil)
		if err != nil || upper.Key.KID.Name() != "multi" || upper.Key.KID.Version() != versions[2] {
			t.Fatalf("GetKey(MULTI) = %v, %v; want .../keys/multi/%s", upper.Key.KID, err, versions[2])
		}
		exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
		up, err := kv.UpdateKey(ctx, "multi", versions[0], azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false), Expires: &exp},
			Tags:          map[string]*string{"env": to.Ptr("test")},
		}, nil)
		if err != nil || *up.Attributes.Enabled || !up.Attributes.Expires.Equal(exp) || *up.Tags["env"] != "test" {
			t.Fatalf("UpdateKey = %+v, %v", up.Attributes, err)
		}
		var listed []string
		for p := kv.NewListKeyPropertiesVersionsPager("multi", nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Value {
				listed = append(listed, k.KID.Version())
			}
		}
		if len(listed) != 3 {
			t.Fatalf("versions listed %v, want 3", listed)
		}
		// More than one page of keys: the Go SDK follows nextLink verbatim.
		for i := 0; i < 26; i++ {
			if _, err := kv.CreateKey(ctx, "page-"+string(rune('a'+i)), azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		seen, pages := map[string]bool{}, 0
		for p := kv.NewListKeyPropertiesPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, k := range page.Value {
				if seen[k.KID.Name()] {
					t.Fatalf("key %s listed twice", k.KID.Name())
				}
				seen[k.KID.Name()] = true
			}
		}
		if pages < 2 || !seen["page-z"] || !seen["multi"] {
			t.Fatalf("listed %d keys over %d pages; want all, over >= 2 pages", len(seen), pages)
		}
	})

	t.Run("delete recover purge backup restore", func(t *testing.T) {
		if _, err := kv.CreateKey(ctx, "life", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
			t.Fatal(err)
		}
		second, err := kv.CreateKey(ctx, "life", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		backup, err := kv.BackupKey(ctx, "life", nil)
		if err != nil || len(backup.Value) < 100 {
			t.Fatalf("BackupKey: %d bytes, %v", len(backup.Value), err)
		}
		del, err := kv.DeleteKey(ctx, "life", nil)
		if err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if del.RecoveryID == nil || del.ScheduledPurgeDate.Sub(*del.DeletedDate) != 7*24*time.Hour {
			t.Fatalf("DeleteKey = recoveryId %v, purge %v deleted %v", del.RecoveryID, del.ScheduledPurgeDate, del.DeletedDate)
		}
		_, err = kv.CreateKey(ctx, "life", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
		if statusOf(err) != 409 {
			t.Fatalf("CreateKey(deleted name) = %v, want 409", err)
		}
		found := false
		for p := kv.NewListDeletedKeyPropertiesPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Value {
				found = found || d.KID.Name() == "life"
			}
		}
		if !found {
			t.Fatal("deleted key not listed")
		}
		if _, err := kv.RecoverDeletedKey(ctx, "life", nil); err != nil {
			t.Fatalf("RecoverDeletedKey: %v", err)
		}
		if got, err := kv.GetKey(ctx, "life", "", nil); err != nil || got.Key.KID.Version() != second.Key.KID.Version() {
			t.Fatalf("GetKey after recover: %v", err)
		}
		if _, err := kv.DeleteKey(ctx, "life", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.PurgeDeletedKey(ctx, "life", nil); err != nil {
			t.Fatalf("PurgeDeletedKey: %v", err)
		}
		_, err = kv.GetDeletedKey(ctx, "life", nil)
		if statusOf(err) != 404 || codeOf(err) != "KeyNotFound" {
			t.Fatalf("GetDeletedKey(purged) = %v, want 404 KeyNotFound", err)
		}
		restored, err := kv.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
		if err != nil || restored.Key.KID.Version() != second.Key.KID.Version() {
			t.Fatalf("RestoreKey = %v, %v; want version %s", restored.Key, err, second.Key.KID.Version())
		}
	})

	t.Run("disabled and expired keys", func(t *testing.T) {
		past := time.Now().Add(-time.Hour)
		if _, err := kv.CreateKey(ctx, "expired", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeyAttributes: &azkeys.KeyAttributes{Expires: &past}}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := kv.WrapKey(ctx, "expired", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
		if statusOf(err) != 403 {
			t.Fatalf("WrapKey(expired) = %v, want 403", err)
		}
		if _, err := kv.UpdateKey(ctx, "rsa", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
			t.Fatal(err)
		}
		_, err = kv.UnwrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 256)}, nil)
		if statusOf(err) != 403 || codeOf(err) != "Forbidden" {
			t.Fatalf("UnwrapKey(disabled) = %v, want 403 Forbidden", err)
		}
	})
}

func TestManagedHSMWithGoSDK(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	hsm := e.vault(t, "hsm-go", true, nil)
	k, err := hsm.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM), KeySize: to.Ptr[int32](256)}, nil)
	if err != nil {
		t.Fatalf("CreateKey(oct-HSM): %v", err)
	}
	if *k.Key.Kty != azkeys.KeyTypeOctHSM || k.Key.K != nil {
		t.Fatalf("CreateKey = kty %s, k returned %v", *k.Key.Kty, k.Key.K != nil)
	}
	cek := make([]byte, 32)
	rand.Read(cek)
	w, err := hsm.WrapKey(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256KW), Value: cek}, nil)
	if err != nil || len(w.Result) != 40 {
		t.Fatalf("WrapKey(A256KW) = %d bytes, %v", len(w.Result), err)
	}
	u, err := hsm.UnwrapKey(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256KW), Value: w.Result}, nil)
	if err != nil || !bytes.Equal(u.Result, cek) {
		t.Fatalf("UnwrapKey(A256KW) = %x, %v", u.Result, err)
	}
	enc, err := hsm.Encrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256GCM), Value: []byte("disk key"), AdditionalAuthenticatedData: []byte("ctx")}, nil)
	if err != nil || len(enc.IV) != 12 || len(enc.AuthenticationTag) != 16 {
		t.Fatalf("Encrypt(A256GCM) = iv %d tag %d, %v", len(enc.IV), len(enc.AuthenticationTag), err)
	}
	dec, err := hsm.Decrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256GCM), Value: enc.Result, IV: enc.IV, AuthenticationTag: enc.AuthenticationTag, AdditionalAuthenticatedData: []byte("ctx")}, nil)
	if err != nil || string(dec.Result) != "disk key" {
		t.Fatalf("Decrypt(A256GCM) = %q, %v", dec.Result, err)
	}
	_, err = hsm.Decrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256GCM), Value: enc.Result, IV: enc.IV, AuthenticationTag: enc.AuthenticationTag, AdditionalAuthenticatedData: []byte("other")}, nil)
	if statusOf(err) != 400 {
		t.Fatalf("Decrypt(wrong aad) = %v, want 400", err)
	}
	rnd, err := hsm.GetRandomBytes(ctx, azkeys.GetRandomBytesParameters{Count: to.Ptr[int32](64)}, nil)
	if err != nil || len(rnd.Value) != 64 {
		t.Fatalf("GetRandomBytes(64) = %d, %v", len(rnd.Value), err)
	}
	r, err := hsm.CreateKey(ctx, "rsa", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	if err != nil || *r.Key.Kty != azkeys.KeyTypeRSAHSM {
		t.Fatalf("CreateKey(RSA) in HSM = %v, %v; want RSA-HSM", r.Key, err)
	}
}

// TestKeyMaterialSealedAtRest creates keys and scans the database files for
// their raw private bytes.
func TestKeyMaterialSealedAtRest(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	kv := e.vault(t, "kv-sealed", false, nil)
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	secrets := [][]byte{priv.D.Bytes(), priv.Primes[0].Bytes(), ec.D.Bytes()}
	if _, err := kv.ImportKey(ctx, "rsa", azkeys.ImportKeyParameters{Key: &azkeys.JSONWebKey{
		Kty: to.Ptr(azkeys.KeyTypeRSA), N: priv.N.Bytes(), E: big.NewInt(int64(priv.E)).Bytes(), D: priv.D.Bytes(), P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes(),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.ImportKey(ctx, "ec", azkeys.ImportKeyParameters{Key: &azkeys.JSONWebKey{
		Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256), X: ec.X.FillBytes(make([]byte, 32)), Y: ec.Y.FillBytes(make([]byte, 32)), D: ec.D.FillBytes(make([]byte, 32)),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	hsm := e.vault(t, "hsm-sealed", true, nil)
	aes := make([]byte, 32)
	rand.Read(aes)
	secrets = append(secrets, aes)
	if _, err := hsm.ImportKey(ctx, "aes", azkeys.ImportKeyParameters{Key: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOctHSM), K: aes}}, nil); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "tresor.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s contains raw key material #%d", filepath.Base(f), i)
			}
		}
	}
}

// TestRestartKeepsEverything restarts the server on the same directory.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var wrapped []byte
	var version string
	func() {
		e := startIn(t, dir)
		kv := e.vault(t, "kv-restart", false, nil)
		k, err := kv.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		version = k.Key.KID.Version()
		w, err := kv.WrapKey(ctx, "k", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("0123456789abcdef")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		wrapped = w.Result
		e.stop()
	}()
	// A second server on the same directory must see the same tenant,
	// vault and key.
	e := startIn(t, dir)
	kv, err := azkeys.NewClient(e.env.VaultURL("kv-restart"), e.cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.http}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := kv.UnwrapKey(ctx, "k", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wrapped}, nil)
	// The restarted server listens on another free port, so compare the
	// version rather than the whole kid.
	if err != nil || string(u.Result) != "0123456789abcdef" || u.KID.Version() != version {
		t.Fatalf("UnwrapKey after restart = %q %v, %v", u.Result, u.KID, err)
	}
}
