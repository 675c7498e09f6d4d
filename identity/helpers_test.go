package identity_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
	"github.com/tresorkms/tresor/seal"
)

const (
	issuer   = "https://localhost:8443"
	vaultAud = "https://vault.localhost:8443"
	hsmAud   = "https://managedhsm.localhost:8443"
)

// start is the fixture's initial time, with the second precision that
// tokens carry.
var start = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// fixture is a bootstrapped Service on a MemStore whose clock the test
// sets.
type fixture struct {
	svc    *identity.Service
	store  *identitytest.MemStore
	sealer *seal.Sealer
	admin  identity.Admin
	now    time.Time
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	root := make([]byte, seal.RootKeySize)
	rand.Read(root) //nolint:errcheck // crypto/rand does not fail
	sealer, err := seal.New(root, "identity")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: &identitytest.MemStore{}, sealer: sealer, now: start}
	f.svc = &identity.Service{
		Store:     f.store,
		Sealer:    sealer,
		Issuer:    issuer,
		Audiences: []string{vaultAud, hsmAud, "https://management.localhost/"},
		Now:       func() time.Time { return f.now },
	}
	if f.admin, err = f.svc.Bootstrap(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return f
}

// token issues a token for the admin and the given audience.
func (f *fixture) token(tb testing.TB, aud string) string {
	tb.Helper()
	tok, err := f.svc.IssueToken(context.Background(), identity.TokenRequest{
		TenantID: f.admin.TenantID, ClientID: f.admin.ClientID, ClientSecret: f.admin.ClientSecret,
		Scope: aud + "/.default",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tok.AccessToken
}

// signingKey unseals the newest signing key, so that tests can forge
// tokens the Service would accept.
func (f *fixture) signingKey(tb testing.TB) (string, *rsa.PrivateKey) {
	tb.Helper()
	keys, err := f.store.SigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		tb.Fatalf("SigningKeys() = %v, %v", keys, err)
	}
	k := keys[len(keys)-1]
	der, err := f.sealer.Open(k.Sealed, []byte("identity/signing/"+k.ID))
	if err != nil {
		tb.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		tb.Fatal(err)
	}
	return k.ID, priv.(*rsa.PrivateKey)
}

// claims returns the claims of a valid admin token at f.now.
func (f *fixture) claims(aud string) map[string]any {
	iss := issuer + "/" + f.admin.TenantID + "/"
	return map[string]any{
		"aud": aud, "iss": iss, "idp": iss, "tid": f.admin.TenantID,
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(time.Hour).Unix(),
		"oid": f.admin.ObjectID, "sub": f.admin.ObjectID, "appid": f.admin.ClientID, "azp": f.admin.ClientID,
		"app_displayname": identity.AdminName, "idtyp": "app", "ver": "1.0",
	}
}

// encode returns the signing input "header.payload" for a token.
func encode(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(h) + "." + b64(c)
}

// signRS256 returns a complete token signed with priv.
func signRS256(tb testing.TB, priv *rsa.PrivateKey, kid string, claims map[string]any) string {
	tb.Helper()
	input := encode(tb, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
