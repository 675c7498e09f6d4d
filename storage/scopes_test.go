package storage_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/storage"
)

// TestScopes checks encryption scopes: a Microsoft-managed and a
// customer-managed one, each with its own key; the data plane's answers
// for an unknown, a disabled and a revoked scope; a switch of source that
// keeps the key; the daily move of a versionless CMK scope to the newest
// version, one unwrap and one wrap; and that deleting the account deletes
// its scopes.
func TestScopes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "acct1", f.cmkSpec("")); err != nil {
		t.Fatal(err)
	}
	put := func(name string, sp storage.ScopeSpec) (storage.Scope, bool, error) {
		return f.svc.PutScope(ctx, f.sub, "rg", "acct1", name, sp)
	}
	mm, created, err := put("mm-scope", storage.ScopeSpec{})
	if err != nil || !created || mm.Source != storage.MicrosoftManaged || !mm.Enabled {
		t.Fatalf("put mm-scope = %+v, %v, %v", mm, created, err)
	}
	f.keys.take()
	kv, _, err := put("cmk-scope", storage.ScopeSpec{Source: storage.ScopeCustomerManaged, KeyURI: "https://kv.vault.localhost/keys/k"})
	if err != nil || kv.CurrentKeyID != "https://kv.vault.localhost/keys/k/v1" || kv.NextKeyCheck.IsZero() {
		t.Fatalf("put cmk-scope = %+v, %v", kv, err)
	}
	if got := f.keys.take(); got["check"] != 1 || got["wrap"] != 1 {
		t.Errorf("creating a CMK scope called the key service %v; want one check and one wrap", got)
	}

	for _, tc := range []struct {
		name   string
		sp     storage.ScopeSpec
		reason string
	}{
		{"Bad_Name", storage.ScopeSpec{}, "InvalidEncryptionScopeName"},
		{"no-key", storage.ScopeSpec{Source: storage.ScopeCustomerManaged}, storage.ReasonInvalidEncryption},
		{"bad-uri", storage.ScopeSpec{Source: storage.ScopeCustomerManaged, KeyURI: "https://kv.vault.localhost/secrets/k"}, "KeyVaultKeyNotFound"},
		{"mm-with-key", storage.ScopeSpec{KeyURI: "https://kv.vault.localhost/keys/k"}, storage.ReasonInvalidEncryption},
		{"bad-state", storage.ScopeSpec{State: "Off"}, "InvalidEncryptionScopeState"},
	} {
		if _, _, err := put(tc.name, tc.sp); !tresor.IsKind(err, tresor.Invalid) || tresor.ReasonOf(err) != tc.reason {
			t.Errorf("put %s = %v; want Invalid %s", tc.name, err, tc.reason)
		}
	}
	if _, err := f.svc.GetScope(ctx, f.sub, "rg", "acct1", "bad-state"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("a refused scope was stored: %v", err)
	}

	account, err := f.svc.Key(ctx, "acct1", "")
	if err != nil {
		t.Fatal(err)
	}
	mmKey, err := f.svc.Key(ctx, "acct1", "mm-scope")
	if err != nil {
		t.Fatal(err)
	}
	kvKey, err := f.svc.Key(ctx, "acct1", "cmk-scope")
	if err != nil {
		t.Fatal(err)
	}
	if len(mmKey) != 32 || len(kvKey) != 32 || bytes.Equal(mmKey, account) || bytes.Equal(kvKey, account) || bytes.Equal(mmKey, kvKey) {
		t.Fatalf("scope keys are not 32 bytes of their own")
	}
	if err := f.svc.CheckScope(ctx, "acct1", "nope"); !tresor.IsKind(err, tresor.Invalid) || tresor.ReasonOf(err) != storage.ReasonScopeNotFound {
		t.Errorf("CheckScope(unknown) = %v", err)
	}
	if _, err := f.svc.Key(ctx, "acct1", "nope"); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("Key(unknown) = %v", err)
	}

	// Disabled: refused by CheckScope and Key, the other scopes unaffected;
	// enabled again, the same key.
	if _, err := f.svc.PatchScope(ctx, f.sub, "rg", "acct1", "mm-scope", storage.ScopeSpec{State: storage.ScopeDisabled}); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{f.svc.CheckScope(ctx, "acct1", "mm-scope"), func() error { _, err := f.svc.Key(ctx, "acct1", "mm-scope"); return err }()} {
		if !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != storage.ReasonScopeDisabled {
			t.Errorf("a disabled scope = %v; want Forbidden %s", err, storage.ReasonScopeDisabled)
		}
	}
	if _, err := f.svc.Key(ctx, "acct1", "cmk-scope"); err != nil {
		t.Errorf("another scope while one is disabled: %v", err)
	}
	if _, _, err := put("mm-scope", storage.ScopeSpec{State: storage.ScopeEnabled}); err != nil {
		t.Fatal(err)
	}
	if k, err := f.svc.Key(ctx, "acct1", "mm-scope"); err != nil || !bytes.Equal(k, mmKey) {
		t.Errorf("re-enabled scope key = %x, %v", k, err)
	}

	// Revoked CMK: the CMK scope fails (but CheckScope passes: it does not
	// unwrap), the Microsoft-managed one works.
	f.keys.revoked = true
	if _, err := f.svc.Key(ctx, "acct1", "cmk-scope"); !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != storage.ReasonKeyNotFound {
		t.Errorf("revoked CMK scope = %v", err)
	}
	if err := f.svc.CheckScope(ctx, "acct1", "cmk-scope"); err != nil {
		t.Errorf("CheckScope with the CMK revoked = %v", err)
	}
	if _, err := f.svc.Key(ctx, "acct1", "mm-scope"); err != nil {
		t.Errorf("MM scope with the CMK revoked: %v", err)
	}
	f.keys.revoked = false

	// Switching sources re-wraps the same key.
	if _, err := f.svc.PatchScope(ctx, f.sub, "rg", "acct1", "mm-scope", storage.ScopeSpec{Source: storage.ScopeCustomerManaged, KeyURI: "https://kv.vault.localhost/keys/k/v1"}); err != nil {
		t.Fatal(err)
	}
	if k, err := f.svc.Key(ctx, "acct1", "mm-scope"); err != nil || !bytes.Equal(k, mmKey) {
		t.Errorf("scope key after switching to a CMK = %x, %v", k, err)
	}

	// The daily check moves the versionless CMK scope, not the pinned one.
	f.keys.newest = "v2"
	f.now = f.now.Add(24 * time.Hour)
	f.keys.take()
	res, err := f.svc.RefreshKeyVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rotated) != 2 || res.Rotated[0] != "acct1" || res.Rotated[1] != "acct1/cmk-scope" {
		t.Errorf("rotated = %v; want the account and cmk-scope", res.Rotated)
	}
	if got := f.keys.take(); got["unwrap"] != 2 || got["wrap"] != 2 {
		t.Errorf("the daily check called %v; want one unwrap and one wrap each", got)
	}
	sc, err := f.svc.GetScope(ctx, f.sub, "rg", "acct1", "cmk-scope")
	if err != nil || sc.CurrentKeyID != "https://kv.vault.localhost/keys/k/v2" || !sc.LastKeyRotation.Equal(f.now) {
		t.Errorf("cmk-scope after the check = %+v, %v", sc, err)
	}
	if k, err := f.svc.Key(ctx, "acct1", "cmk-scope"); err != nil || !bytes.Equal(k, kvKey) {
		t.Errorf("cmk-scope key after rotation = %x, %v", k, err)
	}
	pinned, _ := f.svc.GetScope(ctx, f.sub, "rg", "acct1", "mm-scope")
	if pinned.CurrentKeyID != "https://kv.vault.localhost/keys/k/v1" {
		t.Errorf("a pinned scope moved to %s", pinned.CurrentKeyID)
	}
	if next, err := f.svc.NextKeyCheck(ctx); err != nil || !next.Equal(f.now.Add(24*time.Hour)) {
		t.Errorf("NextKeyCheck = %v, %v", next, err)
	}

	if _, err := f.svc.Delete(ctx, f.sub, "rg", "acct1"); err != nil {
		t.Fatal(err)
	}
	if left, err := f.db.Scopes(ctx, "acct1"); err != nil || len(left) != 0 {
		t.Errorf("scopes after deleting the account = %v, %v", left, err)
	}
}
