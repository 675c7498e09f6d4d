package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// TestSigningKeyRollover rolls the issuer's signing key under running
// clients: a client keeps using its cached token (signed by the old key),
// new tokens are signed by the new key, and the JWKS that the OpenID
// configuration names publishes both. (Retirement of the old key an hour
// later is covered by identity's TestSigningKeyRollover, on a test clock.)
func TestSigningKeyRollover(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	keys := e.vault(t, "kv-jwks", false, nil)
	if _, err := keys.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}
	scope := e.srv.Resource(e.env.VaultURL("kv-jwks")) + "/.default"
	before, err := e.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	newKid, err := e.srv.Identity().RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, before.Token) == newKid {
		t.Fatal("the token before the rollover names the new key")
	}
	// The client's cached token, signed by the old key, still works.
	if _, err := keys.GetKey(ctx, "k", "", nil); err != nil {
		t.Errorf("request with the pre-rollover token = %v", err)
	}
	// A new principal's first token is signed by the new key.
	p := e.newPrincipal(t, "after-rollover")
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, tok.Token); got != newKid {
		t.Errorf("token after the rollover has kid %q, want %q", got, newKid)
	}

	// The JWKS named by the OpenID configuration publishes both keys.
	var conf struct {
		JWKSURI string `json:"jwks_uri"`
		Issuer  string `json:"issuer"`
	}
	getJSON(t, e, strings.TrimSuffix(e.env["AZURE_AUTHORITY_HOST"], "/")+"/"+e.env["AZURE_TENANT_ID"]+"/v2.0/.well-known/openid-configuration", &conf)
	var jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	getJSON(t, e, conf.JWKSURI, &jwks)
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.Kid)
	}
	if len(kids) != 2 || kids[1] != newKid || kids[0] != kidOf(t, before.Token) {
		t.Errorf("JWKS kids = %v; want [old %s, new %s]", kids, kidOf(t, before.Token), newKid)
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct{ Kid string }
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	return header.Kid
}

func getJSON(t *testing.T, e *env, url string, v any) {
	t.Helper()
	resp, err := e.http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
