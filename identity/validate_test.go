package identity_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

func TestValidate(t *testing.T) {
	f := newFixture(t)
	kid, priv := f.signingKey(t)
	good := f.token(t, vaultAud)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	with := func(change func(c map[string]any)) string {
		c := f.claims(vaultAud)
		change(c)
		return signRS256(t, priv, kid, c)
	}
	parts := strings.Split(good, ".")

	admin := tresor.Principal{
		TenantID: f.admin.TenantID, ObjectID: f.admin.ObjectID, AppID: f.admin.ClientID,
		Name: "tresor-admin", Type: tresor.ServicePrincipal,
	}
	tests := []struct {
		name      string
		token     string
		at        time.Duration // after start
		audiences []string
		want      tresor.Principal // zero: want Unauthenticated
	}{
		{name: "good", token: good, audiences: []string{vaultAud}, want: admin},
		{name: "good, audience with trailing slash", token: good, audiences: []string{vaultAud + "/"}, want: admin},
		{name: "good, one of several audiences", token: good, audiences: []string{hsmAud, strings.ToUpper(vaultAud)}, want: admin},
		{name: "good, forged with the real key", token: with(func(map[string]any) {}), audiences: []string{vaultAud}, want: admin},
		{name: "expired, within skew", token: good, at: time.Hour + 4*time.Minute, audiences: []string{vaultAud}, want: admin},
		{name: "expired", token: good, at: time.Hour + 5*time.Minute + time.Second, audiences: []string{vaultAud}},
		{name: "no exp", token: with(func(c map[string]any) { delete(c, "exp") }), audiences: []string{vaultAud}},
		{name: "nbf future, within skew", token: with(func(c map[string]any) { c["nbf"] = start.Add(4 * time.Minute).Unix() }), audiences: []string{vaultAud}, want: admin},
		{name: "nbf future", token: with(func(c map[string]any) { c["nbf"] = start.Add(10 * time.Minute).Unix() }), audiences: []string{vaultAud}},
		{name: "wrong aud", token: good, audiences: []string{hsmAud}},
		{name: "aud prefix only", token: good, audiences: []string{vaultAud + "0"}},
		{name: "no audiences", token: good},
		{name: "wrong issuer host", token: with(func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + f.admin.TenantID + "/" }), audiences: []string{vaultAud}},
		{name: "issuer v2.0 form", token: with(func(c map[string]any) { c["iss"] = issuer + "/" + f.admin.TenantID + "/v2.0" }), audiences: []string{vaultAud}},
		{name: "issuer tenant unknown", token: with(func(c map[string]any) {
			c["iss"], c["tid"] = issuer+"/00000000-0000-4000-8000-000000000000/", "00000000-0000-4000-8000-000000000000"
		}), audiences: []string{vaultAud}},
		{name: "tid differs from issuer", token: with(func(c map[string]any) { c["tid"] = "00000000-0000-4000-8000-000000000000" }), audiences: []string{vaultAud}},
		{name: "no oid", token: with(func(c map[string]any) { delete(c, "oid") }), audiences: []string{vaultAud}},
		{name: "bad signature", token: parts[0] + "." + parts[1] + "." + flipLast(parts[2]), audiences: []string{vaultAud}},
		{name: "payload swapped", token: parts[0] + "." + strings.Split(with(func(c map[string]any) { c["oid"] = "someone-else" }), ".")[1] + "." + parts[2], audiences: []string{vaultAud}},
		{name: "signed by another key under the real kid", token: signRS256(t, otherKey, kid, f.claims(vaultAud)), audiences: []string{vaultAud}},
		{name: "unknown kid", token: signRS256(t, otherKey, "unknown-kid", f.claims(vaultAud)), audiences: []string{vaultAud}},
		{name: "alg none", token: encode(t, map[string]any{"alg": "none", "typ": "JWT"}, f.claims(vaultAud)) + ".", audiences: []string{vaultAud}},
		{name: "alg none, kid set", token: encode(t, map[string]any{"alg": "none", "kid": kid}, f.claims(vaultAud)) + ".", audiences: []string{vaultAud}},
		{name: "HS256 keyed with the public key", token: hs256(t, pubPEM, kid, f.claims(vaultAud)), audiences: []string{vaultAud}},
		{name: "HS256 keyed with the public key DER", token: hs256(t, pubDER, kid, f.claims(vaultAud)), audiences: []string{vaultAud}},
		{name: "garbage", token: "not a token", audiences: []string{vaultAud}},
		{name: "empty", token: "", audiences: []string{vaultAud}},
		{name: "four parts", token: good + ".x", audiences: []string{vaultAud}},
		{name: "padded base64", token: parts[0] + "=." + parts[1] + "." + parts[2], audiences: []string{vaultAud}},
		{name: "too large", token: good + strings.Repeat("A", 20<<10), audiences: []string{vaultAud}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.now = start.Add(tt.at)
			got, err := f.svc.Validate(context.Background(), tt.token, tt.audiences...)
			if tt.want == (tresor.Principal{}) {
				if !tresor.IsKind(err, tresor.Unauthenticated) {
					t.Fatalf("Validate() = %+v, %v; want Unauthenticated", got, err)
				}
				t.Logf("Validate() = %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateAfterRotation checks that tokens signed by an earlier key stay
// valid after a rotation, and that a second Service on the same Store (as
// on another node) learns the new key.
func TestValidateAfterRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := f.token(t, vaultAud)
	// Same Store and configuration, separate caches.
	other := &identity.Service{
		Store: f.svc.Store, Sealer: f.svc.Sealer, Issuer: issuer, Audiences: f.svc.Audiences,
		Now: func() time.Time { return f.now },
	}
	if _, err := other.Validate(ctx, old, vaultAud); err != nil {
		t.Fatalf("Validate(old) on second service = %v", err)
	}

	kid, err := f.svc.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh := f.token(t, vaultAud)
	if got := header(t, fresh)["kid"]; got != kid {
		t.Errorf("kid of a new token = %v, want the rotated key %s", got, kid)
	}
	for _, tok := range []string{old, fresh} {
		if _, err := f.svc.Validate(ctx, tok, vaultAud); err != nil {
			t.Errorf("Validate() after rotation = %v", err)
		}
	}
	// The second service loaded its keys less than a minute ago, so it
	// does not read the Store again yet.
	if _, err := other.Validate(ctx, fresh, vaultAud); !tresor.IsKind(err, tresor.Unauthenticated) {
		t.Errorf("Validate(fresh) on second service within a minute = %v, want Unauthenticated", err)
	}
	f.now = f.now.Add(2 * time.Minute)
	if _, err := other.Validate(ctx, fresh, vaultAud); err != nil {
		t.Errorf("Validate(fresh) on second service after a minute = %v", err)
	}
}

// hs256 signs claims with HMAC-SHA256 keyed with key: the algorithm
// confusion attack on verifiers that take the key from the token's header.
func hs256(tb testing.TB, key []byte, kid string, claims map[string]any) string {
	tb.Helper()
	input := encode(tb, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func flipLast(s string) string {
	c := s[len(s)-2]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return s[:len(s)-2] + string(c) + s[len(s)-1:]
}
