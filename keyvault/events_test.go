package keyvault_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/keyvault"
)

// raised returns the events in the fixture's outbox, oldest first.
func (f *fixture) raised(tb testing.TB) []eventgrid.Raised {
	tb.Helper()
	o, ok := f.svc.Store.(interface {
		Outbox(context.Context, int) ([]eventgrid.Raised, error)
	})
	if !ok {
		tb.Fatalf("%T has no Outbox", f.svc.Store)
	}
	r, err := o.Outbox(f.ctx, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestKeyEvents follows a Key Vault's events through a key's life: its
// creation, Notify 30 days before expiry by default, expiry, an expiry
// moved (re-arming the events), a policy's own Notify time, a policy
// without Notify, rotation, and a Managed HSM that raises nothing.
func TestKeyEvents(t *testing.T) {
	f := newFixture(t)
	f.svc.VaultURL = func(kind keyvault.VaultKind, name string) string { return "https://" + name + ".vault.example" }
	v := f.vault(t, keyvault.Vault{Name: "kv-events"})
	hsmV := f.vault(t, keyvault.Vault{Name: "hsm-events", Kind: keyvault.ManagedHSM, SKU: "Standard_B1"})
	start := f.clock.t
	exp := start.AddDate(0, 3, 0)
	k, err := f.svc.CreateKey(f.ctx, v, "k", keyvault.CreateKeyParams{Type: keyvault.EC, Attributes: keyvault.Attributes{Expires: &exp}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateKey(f.ctx, hsmV, "h", keyvault.CreateKeyParams{Type: keyvault.ECHSM, Attributes: keyvault.Attributes{Expires: &exp}}); err != nil {
		t.Fatal(err)
	}
	raised := f.raised(t)
	if len(raised) != 1 {
		t.Fatalf("after two creations, outbox = %+v; want the Key Vault's event only", raised)
	}
	var data struct{ ID, VaultName, ObjectType, ObjectName, Version string }
	if err := json.Unmarshal(raised[0].Event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev := raised[0].Event; ev.Type != eventgrid.KeyNewVersionCreated || ev.Topic != v.ARMID() || ev.Subject != "k" || !ev.Time.Equal(start) ||
		data.ID != "https://kv-events.vault.example/keys/k/"+k.Version || data.VaultName != "kv-events" || data.ObjectType != "Key" || data.Version != k.Version {
		t.Errorf("KeyNewVersionCreated = %+v, data %+v", ev, data)
	}

	tick := func(at time.Time) []eventgrid.Event {
		t.Helper()
		f.clock.t = at
		evs, err := f.svc.RaiseExpiryEvents(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	types := func(evs []eventgrid.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Type+" "+e.Subject+" "+e.Time.Format(time.RFC3339))
		}
		return out
	}
	near := exp.AddDate(0, 0, -30)
	if next, err := f.svc.NextExpiryEvent(f.ctx); err != nil || !next.Equal(near) {
		t.Errorf("NextExpiryEvent = %v, %v; want %v (30 days before expiry)", next, err, near)
	}
	if got := tick(near.Add(-time.Second)); len(got) != 0 {
		t.Errorf("a second early: %v", types(got))
	}
	if got := types(tick(near)); len(got) != 1 || got[0] != eventgrid.KeyNearExpiry+" k "+near.Format(time.RFC3339) {
		t.Errorf("at exp-30d: %v", got)
	}
	if got := tick(near.AddDate(0, 0, 1)); len(got) != 0 {
		t.Errorf("KeyNearExpiry raised twice: %v", types(got))
	}
	// Updating tags leaves the schedule; moving the expiry re-arms it.
	if _, err := f.svc.UpdateKey(f.ctx, v, "k", "", keyvault.UpdateKeyParams{Tags: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if got := tick(near.AddDate(0, 0, 2)); len(got) != 0 {
		t.Errorf("a tag update re-raised: %v", types(got))
	}
	if got := types(tick(exp)); len(got) != 1 || got[0] != eventgrid.KeyExpired+" k "+exp.Format(time.RFC3339) {
		t.Errorf("at exp: %v", got)
	}
	exp2 := exp.AddDate(0, 6, 0)
	if _, err := f.svc.UpdateKey(f.ctx, v, "k", "", keyvault.UpdateKeyParams{Attributes: keyvault.Attributes{Expires: &exp2}}); err != nil {
		t.Fatal(err)
	}
	// A policy with its own Notify time, and no rotation.
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, v, "k", policy("", before(keyvault.LifetimeNotify, "P10D"))); err != nil {
		t.Fatal(err)
	}
	near2 := exp2.AddDate(0, 0, -10)
	if got := types(tick(exp2)); len(got) != 2 || got[0] != eventgrid.KeyNearExpiry+" k "+exp2.Format(time.RFC3339) || got[1] != eventgrid.KeyExpired+" k "+exp2.Format(time.RFC3339) {
		// One tick after both were due raises both, in order (downtime).
		t.Errorf("one tick at the new expiry: %v (near expiry was due %v)", got, near2)
	}
	if got := tick(exp2.AddDate(1, 0, 0)); len(got) != 0 {
		t.Errorf("events after both: %v", types(got))
	}

	// A policy without Notify: KeyExpired only. A rotated key's old
	// version raises nothing; the new version (exp from the policy) does.
	now := exp2.AddDate(1, 0, 0)
	exp3 := now.AddDate(0, 2, 0)
	if _, err := f.svc.CreateKey(f.ctx, v, "quiet", keyvault.CreateKeyParams{Type: keyvault.EC, Attributes: keyvault.Attributes{Expires: &exp3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, v, "quiet", policy("")); err != nil {
		t.Fatal(err)
	}
	if got := types(tick(exp3)); len(got) != 1 || got[0] != eventgrid.KeyExpired+" quiet "+exp3.Format(time.RFC3339) {
		t.Errorf("a policy without Notify: %v", got)
	}
	if _, err := f.svc.UpdateKeyRotationPolicy(f.ctx, v, "k", policy("P90D", before(keyvault.LifetimeNotify, "P30D"))); err != nil {
		t.Fatal(err)
	}
	rotated, err := f.svc.RotateKey(f.ctx, v, "k")
	if err != nil {
		t.Fatal(err)
	}
	exp4 := rotated.Expires
	if !exp4.Equal(exp3.AddDate(0, 0, 90)) {
		t.Fatalf("rotated version expires %v, want created + P90D", exp4)
	}
	if got := types(tick(exp4)); len(got) != 2 || got[0] != eventgrid.KeyNearExpiry+" k "+exp4.Format(time.RFC3339) {
		t.Errorf("the rotated version's events: %v", got)
	}
	if got := tick(start.AddDate(10, 0, 0)); len(got) != 0 {
		t.Errorf("ten years on: %v", types(got))
	}
	var n, rotations int
	for _, r := range f.raised(t) {
		n++
		if r.Event.Type == eventgrid.KeyNewVersionCreated {
			rotations++
		}
		if r.Event.Topic != v.ARMID() {
			t.Errorf("an event from %s: %+v", r.Event.Topic, r.Event)
		}
	}
	// k: created, near, expired, near+expired, rotated, near+expired;
	// quiet: created, expired.
	if n != 10 || rotations != 3 {
		t.Errorf("outbox holds %d events, %d new versions; want 10 and 3", n, rotations)
	}
}
