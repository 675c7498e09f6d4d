package identity_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// FuzzValidate feeds arbitrary strings, seeded with a real token and
// pieces of one, to Validate and to the token endpoint's client assertion:
// both are where untrusted tokens enter. Neither may panic or fail as
// anything but a refusal of the caller's input, and only the real token
// may pass.
func FuzzValidate(f *testing.F) {
	fx := newFixture(f)
	ctx := context.Background()
	tok, err := fx.svc.IssueToken(ctx, identity.TokenRequest{TenantID: fx.admin.TenantID, ClientID: fx.admin.ClientID, ClientSecret: fx.admin.ClientSecret, Scope: vaultAud + "/.default"})
	if err != nil {
		f.Fatal(err)
	}
	real := tok.AccessToken
	parts := strings.Split(real, ".")
	for _, s := range []string{real, "", ".", "..", "a.b.c", parts[0] + ".." + parts[2], parts[0] + "." + parts[1] + ".",
		parts[1] + "." + parts[0] + "." + parts[2], real + "x", strings.Repeat("A", 20000), `eyJhbGciOiJub25lIn0.e30.`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := fx.svc.Validate(ctx, raw, vaultAud)
		switch {
		case err == nil && raw != real:
			t.Fatalf("Validate accepted a token that was not issued: %q as %+v", raw, p)
		case err != nil && !tresor.IsKind(err, tresor.Unauthenticated):
			t.Fatalf("Validate(%q) = %v; want Unauthenticated", raw, err)
		}
		_, err = fx.svc.IssueToken(ctx, identity.TokenRequest{
			TenantID: fx.admin.TenantID, ClientID: fx.admin.ClientID, Scope: vaultAud + "/.default",
			ClientAssertion: raw, ClientAssertionType: identity.ClientAssertionType,
		})
		if err == nil {
			t.Fatalf("a client assertion %q obtained a token for an application without federated credentials", raw)
		}
		if !tresor.IsKind(err, tresor.Unauthenticated) && !tresor.IsKind(err, tresor.Invalid) {
			t.Fatalf("IssueToken with assertion %q = %v; want a refusal", raw, err)
		}
	})
}
