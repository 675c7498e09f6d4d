package identity_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// FuzzValidate feeds arbitrary strings, seeded with real tokens and
// pieces of them, to Validate and, as a client assertion, to the token
// endpoint for an application whose federated credential trusts a managed
// identity: both are where untrusted tokens enter. Neither may panic or
// fail as anything but a refusal of the caller's input, and only the real
// token and the real assertion may pass.
func FuzzValidate(f *testing.F) {
	fx := newExchangeFixture(f)
	ctx := context.Background()
	tok, err := fx.svc.IssueToken(ctx, identity.TokenRequest{TenantID: fx.admin.TenantID, ClientID: fx.admin.ClientID, ClientSecret: fx.admin.ClientSecret, Scope: vaultAud + "/.default"})
	if err != nil {
		f.Fatal(err)
	}
	real := tok.AccessToken
	good := fx.assertion(f, fx.mi, identity.TokenExchangeAudience)
	if _, err := fx.svc.IssueToken(ctx, identity.TokenRequest{TenantID: fx.other, ClientID: fx.multi.AppID, Scope: vaultAud + "/.default",
		ClientAssertion: good, ClientAssertionType: identity.ClientAssertionType}); err != nil {
		f.Fatalf("the seed assertion is refused: %v", err)
	}
	for _, tk := range []string{real, good} {
		parts := strings.Split(tk, ".")
		for _, s := range []string{tk, parts[0] + ".." + parts[2], parts[0] + "." + parts[1] + ".",
			parts[1] + "." + parts[0] + "." + parts[2], tk + "x"} {
			f.Add(s)
		}
	}
	for _, s := range []string{"", ".", "..", "a.b.c", strings.Repeat("A", 20000), `eyJhbGciOiJub25lIn0.e30.`} {
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
			TenantID: fx.other, ClientID: fx.multi.AppID, Scope: vaultAud + "/.default",
			ClientAssertion: raw, ClientAssertionType: identity.ClientAssertionType,
		})
		switch {
		case err == nil && raw != good:
			t.Fatalf("a client assertion %q that was not issued obtained a token", raw)
		case err != nil && !tresor.IsKind(err, tresor.Unauthenticated) && !tresor.IsKind(err, tresor.Invalid):
			t.Fatalf("IssueToken with assertion %q = %v; want a refusal", raw, err)
		}
	})
}
