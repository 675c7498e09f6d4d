package keyvault_test

import (
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/keyvault"
)

func policy(expiry string, actions ...keyvault.LifetimeAction) keyvault.RotationPolicy {
	p := keyvault.RotationPolicy{Actions: actions}
	if expiry != "" {
		p.ExpiryTime = period.MustParse(expiry)
	}
	return p
}

func after(typ keyvault.ActionType, d string) keyvault.LifetimeAction {
	return keyvault.LifetimeAction{Type: typ, TimeAfterCreate: period.MustParse(d)}
}

func before(typ keyvault.ActionType, d string) keyvault.LifetimeAction {
	return keyvault.LifetimeAction{Type: typ, TimeBeforeExpiry: period.MustParse(d)}
}

// TestRotationPolicyValidation applies the seed's and Azure's rules.
func TestRotationPolicyValidation(t *testing.T) {
	f := newFixture(t)
	kv := f.vault(t, keyvault.Vault{Name: "kv-rot"})
	hsmV := f.vault(t, keyvault.Vault{Name: "hsm-rot", Kind: keyvault.ManagedHSM, SKU: "Standard_B1"})
	for _, v := range []keyvault.Vault{kv, hsmV} {
		if _, err := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.RSA}); err != nil {
			t.Fatal(err)
		}
	}
	const rot, notify = keyvault.LifetimeRotate, keyvault.LifetimeNotify
	tests := []struct {
		name string
		v    keyvault.Vault
		p    keyvault.RotationPolicy
		ok   bool
	}{
		{"seed 1: P18M, expiry P2Y", hsmV, policy("P2Y", after(rot, "P18M")), true},
		{"seed 2: P28D before expiry, P1Y", hsmV, policy("P1Y", before(rot, "P28D")), true},
		{"seed 3: empty policy", hsmV, policy(""), true},
		{"rotate every 27 days", hsmV, policy("", after(rot, "P27D")), false},
		{"rotate every 28 days", hsmV, policy("", after(rot, "P28D")), true},
		{"expiry 27 days", hsmV, policy("P27D"), false},
		{"before expiry too close to creation", hsmV, policy("P56D", before(rot, "P29D")), false},
		{"before expiry exactly expiry minus 28 days", hsmV, policy("P56D", before(rot, "P28D")), true},
		{"before expiry without any expiry", hsmV, policy("", before(rot, "P30D")), false},
		{"notify on an HSM", hsmV, policy("P1Y", before(notify, "P30D")), false},
		{"notify in a vault", kv, policy("P1Y", before(notify, "P30D")), true},
		{"notify after create", kv, policy("P1Y", after(notify, "P30D")), false},
		{"two triggers", kv, policy("P1Y", keyvault.LifetimeAction{Type: rot, TimeAfterCreate: period.MustParse("P90D"), TimeBeforeExpiry: period.MustParse("P30D")}), false},
		{"no trigger", kv, policy("P1Y", keyvault.LifetimeAction{Type: rot}), false},
		{"two rotates", kv, policy("P1Y", after(rot, "P90D"), after(rot, "P100D")), false},
		{"unknown action", kv, policy("P1Y", after("Explode", "P90D")), false},
		{"lower-case action", kv, policy("P1Y", after("rotate", "P90D")), true},
		{"before expiry under 7 days", kv, policy("P1Y", before(notify, "P6D")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.UpdateKeyRotationPolicy(f.ctx, tt.v, "k", tt.p)
			if !tt.ok {
				var te *tresor.Error
				if !asError(err, &te) || te.Kind != tresor.Invalid || te.Reason != keyvault.ReasonBadParameter {
					t.Fatalf("UpdateKeyRotationPolicy = %+v, %v; want Invalid BadParameter", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Set() || got.Name != "k" {
				t.Errorf("stored policy = %+v", got)
			}
		})
	}
}

// TestRotationPolicyShape covers normalisation, defaults and replacement.
func TestRotationPolicyShape(t *testing.T) {
	f := newFixture(t)
	kv := f.vault(t, keyvault.Vault{Name: "kv-rot"})
	hsmV := f.vault(t, keyvault.Vault{Name: "hsm-rot", Kind: keyvault.ManagedHSM, SKU: "Standard_B1"})
	for _, v := range []keyvault.Vault{kv, hsmV} {
		if _, err := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.RSA}); err != nil {
			t.Fatal(err)
		}
	}
	// Defaults: Key Vault notifies 30 days before expiry; an HSM does nothing.
	p, err := f.svc.GetKeyRotationPolicy(f.ctx, kv, "K")
	if err != nil || p.Set() || len(p.Actions) != 1 || p.Actions[0].Type != keyvault.LifetimeNotify || p.Actions[0].TimeBeforeExpiry.String() != "P30D" {
		t.Errorf("default Key Vault policy = %+v, %v", p, err)
	}
	if p, err := f.svc.GetKeyRotationPolicy(f.ctx, hsmV, "k"); err != nil || p.Set() || len(p.Actions) != 0 {
		t.Errorf("default HSM policy = %+v, %v", p, err)
	}
	if _, err := f.svc.GetKeyRotationPolicy(f.ctx, kv, "missing"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("policy of a missing key = %v, want NotFound", err)
	}
	// Key Vault adds a Notify to a policy without one and capitalises types.
	in := policy("P90D", after("rotate", "P30D"))
	p, err = f.svc.UpdateKeyRotationPolicy(f.ctx, kv, "k", in)
	if err != nil {
		t.Fatal(err)
	}
	if in.Actions[0].Type != "rotate" {
		t.Errorf("the caller's policy was changed: %+v", in.Actions)
	}
	if len(p.Actions) != 2 || p.Actions[0].Type != keyvault.LifetimeRotate || p.Actions[1].Type != keyvault.LifetimeNotify || p.Actions[1].TimeBeforeExpiry.String() != "P30D" {
		t.Errorf("normalised policy = %+v", p.Actions)
	}
	created := p.Created
	f.clock.Advance(time.Hour)
	p, err = f.svc.UpdateKeyRotationPolicy(f.ctx, kv, "k", policy("", before(keyvault.LifetimeNotify, "P10D")))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Actions) != 1 || !p.Created.Equal(created) || !p.Updated.Equal(created.Add(time.Hour)) || !p.ExpiryTime.IsZero() {
		t.Errorf("replaced policy = %+v; want one Notify, the first creation time, a new update time, no expiry", p)
	}
	got, err := f.svc.GetKeyRotationPolicy(f.ctx, kv, "k")
	if err != nil || len(got.Actions) != 1 || got.Actions[0].TimeBeforeExpiry.String() != "P10D" {
		t.Errorf("GetKeyRotationPolicy after replace = %+v, %v", got, err)
	}
}

// TestRotateKey covers rotation on demand.
func TestRotateKey(t *testing.T) {
	f := newFixture(t)
	kv := f.vault(t, keyvault.Vault{Name: "kv-rot"})
	hsmV := f.vault(t, keyvault.Vault{Name: "hsm-rot", Kind: keyvault.ManagedHSM, SKU: "Standard_B1"})
	first, err := f.svc.CreateKey(f.ctx, kv, "k", keyvault.CreateKeyParams{Type: keyvault.RSA, Size: 3072,
		Ops: []keyvault.KeyOp{keyvault.OpWrapKey, keyvault.OpUnwrapKey}, Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	// A Key Vault key rotates without a policy, and without expiry.
	f.clock.Advance(time.Minute)
	second, err := f.svc.RotateKey(f.ctx, kv, "K")
	if err != nil {
		t.Fatal(err)
	}
	if second.Version == first.Version || second.Size != 3072 || second.Type != keyvault.RSA || len(second.Ops) != 2 ||
		second.Tags["team"] != "a" || !second.Expires.IsZero() || second.Name != "k" {
		t.Errorf("rotated version = %+v", second)
	}
	cur, err := f.svc.GetKey(f.ctx, kv, "k", "")
	if err != nil || cur.Version != second.Version {
		t.Errorf("current version = %v, %v; want the rotated one", cur.Version, err)
	}
	// The older version still unwraps what it wrapped.
	wrapped, err := f.svc.WrapKey(f.ctx, kv, "k", first.Version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.UnwrapKey(f.ctx, kv, "k", first.Version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: wrapped.Value}); err != nil || string(got.Value) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("unwrap with the old version = %q, %v", got.Value, err)
	}
	// With a policy's expiryTime the new version expires that long after.
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, kv, "k", policy("P90D", after(keyvault.LifetimeRotate, "P30D"))); err != nil {
		t.Fatal(err)
	}
	third, err := f.svc.RotateKey(f.ctx, kv, "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := third.Created.AddDate(0, 0, 90); !third.Expires.Equal(want) {
		t.Errorf("exp = %v, want created + P90D = %v", third.Expires, want)
	}
	if _, err := f.svc.RotateKey(f.ctx, kv, "missing"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("rotate a missing key = %v, want NotFound", err)
	}

	// An HSM key needs a policy first, and has at most 100 versions.
	// oct-HSM keys: a hundred RSA keys take seconds to generate.
	if _, err := f.svc.CreateKey(f.ctx, hsmV, "h", keyvault.CreateKeyParams{Type: keyvault.OctHSM}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateKey(f.ctx, hsmV, "h"); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("rotate an HSM key without a policy = %v, want Invalid", err)
	}
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, hsmV, "h", policy("")); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= keyvault.MaxHSMKeyVersions; i++ {
		if i%2 == 0 {
			_, err = f.svc.RotateKey(f.ctx, hsmV, "h")
		} else {
			_, err = f.svc.CreateKey(f.ctx, hsmV, "h", keyvault.CreateKeyParams{Type: keyvault.OctHSM})
		}
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
	}
	if _, err := f.svc.RotateKey(f.ctx, hsmV, "h"); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("the 101st version by rotation = %v, want Invalid", err)
	}
	if _, err := f.svc.CreateKey(f.ctx, hsmV, "h", keyvault.CreateKeyParams{Type: keyvault.OctHSM}); !tresor.IsKind(err, tresor.Invalid) {
		t.Errorf("the 101st version by creation = %v, want Invalid", err)
	}
}

// TestRotateDue runs the scheduler's work across simulated time: a P18M
// policy rotates once per 18 months, a P28D-before-expiry policy with a
// P1Y expiry once per 337 days, and keys without policies never.
func TestRotateDue(t *testing.T) {
	f := newFixture(t)
	hsmV := f.vault(t, keyvault.Vault{Name: "hsm-rot", Kind: keyvault.ManagedHSM, SKU: "Standard_B1"})
	start := f.clock.t
	for _, name := range []string{"monthly18", "beforeexp", "none"} {
		if _, err := f.svc.CreateKey(f.ctx, hsmV, name, keyvault.CreateKeyParams{Type: keyvault.RSAHSM}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, hsmV, "monthly18", policy("P2Y", after(keyvault.LifetimeRotate, "P18M"))); err != nil {
		t.Fatal(err)
	}
	// The key has no expiry yet: the before-expiry trigger needs the
	// policy's expiryTime, which rotation applies to new versions; until
	// then the key has nothing to count back from.
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, hsmV, "beforeexp", policy("P1Y", before(keyvault.LifetimeRotate, "P28D"))); err != nil {
		t.Fatal(err)
	}
	exp := start.AddDate(1, 0, 0)
	if _, err := f.svc.UpdateKey(f.ctx, hsmV, "beforeexp", "", keyvault.UpdateKeyParams{Attributes: keyvault.Attributes{Expires: &exp}}); err != nil {
		t.Fatal(err)
	}
	rotations := map[string][]time.Time{}
	run := func(at time.Time) {
		t.Helper()
		f.clock.t = at
		res, err := f.svc.RotateDue(f.ctx)
		if err != nil || len(res.Failed) > 0 {
			t.Fatalf("RotateDue at %v = %+v, %v", at, res.Failed, err)
		}
		for _, r := range res.Rotated {
			rotations[r.New.Name] = append(rotations[r.New.Name], r.New.Created)
		}
	}
	// Tick daily for three years.
	for d := 0; d <= 3*366; d++ { // three years and a leap day
		run(start.AddDate(0, 0, d))
	}
	want18 := []time.Time{start.AddDate(0, 18, 0), start.AddDate(0, 36, 0)}
	if got := rotations["monthly18"]; len(got) != 2 || !got[0].Equal(want18[0]) || !got[1].Equal(want18[1]) {
		t.Errorf("P18M rotations = %v, want %v", got, want18)
	}
	first := exp.AddDate(0, 0, -28)
	second := first.AddDate(1, 0, 0).AddDate(0, 0, -28)
	third := second.AddDate(1, 0, 0).AddDate(0, 0, -28)
	if got := rotations["beforeexp"]; len(got) != 3 || !got[0].Equal(first) || !got[1].Equal(second) || !got[2].Equal(third) {
		t.Errorf("before-expiry rotations = %v, want %v %v %v", got, first, second, third)
	}
	if got := rotations["none"]; len(got) != 0 {
		t.Errorf("a key without a policy rotated at %v", got)
	}
	cur, err := f.svc.GetKey(f.ctx, hsmV, "monthly18", "")
	if err != nil || !cur.Expires.Equal(want18[1].AddDate(2, 0, 0)) {
		t.Errorf("current P18M version expires %v, %v; want created + P2Y", cur.Expires, err)
	}

	// Downtime: one tick long after due rotates once, not once per missed period.
	res, err := func() (keyvault.RotationResult, error) {
		f.clock.t = start.AddDate(10, 0, 0)
		return f.svc.RotateDue(f.ctx)
	}()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range res.Rotated {
		count[r.Key.Name]++
	}
	if count["monthly18"] != 1 || count["beforeexp"] != 1 || len(res.Rotated) != 2 {
		t.Errorf("after ten years down, rotated %v; want each policy key once", count)
	}
}

// TestPurgeDue purges soft-deleted keys and vaults once their retention
// has passed, purge protection or not, and nothing earlier.
func TestPurgeDue(t *testing.T) {
	f := newFixture(t)
	kv := f.vault(t, keyvault.Vault{Name: "kv-purge", SoftDelete: true, RetentionDays: 7, PurgeProtection: true})
	other := f.vault(t, keyvault.Vault{Name: "kv-gone", SoftDelete: true, RetentionDays: 30})
	for _, name := range []string{"a", "b"} {
		if _, err := f.svc.CreateKey(f.ctx, kv, name, keyvault.CreateKeyParams{Type: keyvault.RSA}); err != nil {
			t.Fatal(err)
		}
	}
	start := f.clock.t
	if _, err := f.svc.DeleteKey(f.ctx, kv, "a"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteVault(f.ctx, keyvault.KeyVault, other.Name); err != nil {
		t.Fatal(err)
	}
	if next, err := f.svc.NextPurge(f.ctx); err != nil || !next.Equal(start.AddDate(0, 0, 7)) {
		t.Errorf("NextPurge = %v, %v; want the key's purge in 7 days", next, err)
	}
	f.clock.t = start.AddDate(0, 0, 7).Add(-time.Second)
	if purged, err := f.svc.PurgeDue(f.ctx); err != nil || len(purged) != 0 {
		t.Errorf("PurgeDue a second early = %+v, %v", purged, err)
	}
	f.clock.t = start.AddDate(0, 0, 7)
	purged, err := f.svc.PurgeDue(f.ctx)
	if err != nil || len(purged) != 1 || purged[0].Key != "a" {
		t.Fatalf("PurgeDue after 7 days = %+v, %v; want key a", purged, err)
	}
	if _, err := f.svc.GetDeletedKey(f.ctx, kv, "a"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("purged key still deleted-but-present: %v", err)
	}
	if _, err := f.svc.GetKey(f.ctx, kv, "b", ""); err != nil {
		t.Errorf("a live key was touched: %v", err)
	}
	f.clock.t = start.AddDate(0, 0, 30)
	purged, err = f.svc.PurgeDue(f.ctx)
	if err != nil || len(purged) != 1 || purged[0].Key != "" || purged[0].VaultName != "kv-gone" {
		t.Fatalf("PurgeDue after 30 days = %+v, %v; want the vault", purged, err)
	}
	if _, err := f.svc.GetDeletedVault(f.ctx, keyvault.KeyVault, "kv-gone"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("purged vault still there: %v", err)
	}
	if next, err := f.svc.NextPurge(f.ctx); err != nil || !next.IsZero() {
		t.Errorf("NextPurge with nothing deleted = %v, %v", next, err)
	}
}
