package compute_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/compute"
)

// versions gives the fake key service versions: a versionless reference
// resolves to newest[name]; the versions in disabled ("name/version") fail
// their check as cmk.Keys.Check does; Unwrap fails for the key ids in
// locked. Calls are counted by the keys underneath.
type versions struct {
	*keys
	newest   map[string]string
	disabled map[string]bool
	locked   map[string]bool
}

func (v *versions) Check(ctx context.Context, id cmk.Identity, ref cmk.Ref) (cmk.Version, error) {
	if ref.Version == "" {
		ref.Version = v.newest[ref.Name]
	}
	got, err := v.keys.Check(ctx, id, ref)
	if err == nil && v.disabled[ref.Name+"/"+ref.Version] {
		return cmk.Version{}, tresor.Errorf(tresor.Invalid, "The key %s/%s is disabled, expired or not yet valid.", ref.Name, ref.Version).
			WithReason(cmk.ReasonKeyNotFound)
	}
	return got, err
}

func (v *versions) Unwrap(ctx context.Context, id cmk.Identity, keyID string, wrapped []byte) ([]byte, error) {
	plain, err := v.keys.Unwrap(ctx, id, keyID, wrapped)
	if err == nil && v.locked[keyID] {
		return nil, tresor.Errorf(tresor.Forbidden, "The key %s is disabled.", keyID)
	}
	return plain, err
}

// autoFixture is a fixture whose key k has versions, and a DES des1 on
// k/v1 that follows the newest version, created at f.now through a
// user-assigned identity with access.
func autoFixture(t *testing.T) (*fixture, *versions, compute.DiskEncryptionSet) {
	t.Helper()
	f := newFixture(t)
	v := &versions{keys: f.keys, newest: map[string]string{"k": "v1"}, disabled: map[string]bool{}, locked: map[string]bool{}}
	f.svc.Keys = v
	f.keys.allow(f.uamiOID)
	sp := f.user("v1")
	sp.RotationToLatestKeyVersionEnabled = ptr(true)
	d, _, err := f.svc.CreateOrUpdate(context.Background(), f.sub, f.tenant, "rg", "des1", sp)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.now.Add(compute.DefaultKeyCheckInterval); !d.NextKeyCheck.Equal(want) {
		t.Fatalf("created with auto-rotation: next check %v; want %v", d.NextKeyCheck, want)
	}
	f.keys.take()
	return f, v, d
}

func ptr[T any](v T) *T { return &v }

// TestRefreshKeyVersions checks one due key-version check of a DES in
// each situation: what it asks of the key service, where the DES ends up,
// the error it reports, and that its next check always moves a whole
// interval on.
func TestRefreshKeyVersions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *fixture, v *versions)
		early   bool // check a second before the DES is due
		calls   map[string]int
		key     string // the active key afterwards
		code    string // AutoKeyRotationError.Code afterwards
		rotated bool
	}{
		{name: "no newer version", calls: map[string]int{"check": 1}, key: "k/v1"},
		{
			name:  "a newer version",
			setup: func(_ *testing.T, _ *fixture, v *versions) { v.newest["k"] = "v2" },
			// The newest version is found, then the ordinary key change:
			// unwrap with v1, check v2, wrap with v2.
			calls: map[string]int{"check": 2, "unwrap": 1, "wrap": 1}, key: "k/v2", rotated: true,
		},
		{
			name:  "not due yet",
			setup: func(_ *testing.T, _ *fixture, v *versions) { v.newest["k"] = "v2" },
			early: true, key: "k/v1",
		},
		{
			name:  "the newest version disabled",
			setup: func(_ *testing.T, _ *fixture, v *versions) { v.newest["k"], v.disabled["k/v2"] = "v2", true },
			calls: map[string]int{"check": 1}, key: "k/v1", code: cmk.ReasonKeyNotFound,
		},
		{
			name:  "the identity lost access",
			setup: func(_ *testing.T, f *fixture, v *versions) { v.newest["k"], f.keys.allowed = "v2", nil },
			calls: map[string]int{"check": 1}, key: "k/v1", code: cmk.ReasonAccessDenied,
		},
		{
			name: "the current version no longer unwraps",
			setup: func(_ *testing.T, f *fixture, v *versions) {
				v.newest["k"], v.locked[f.vault+"/keys/k/v1"] = "v2", true
			},
			calls: map[string]int{"check": 1, "unwrap": 1}, key: "k/v1", code: compute.ReasonKeyNotUnwrapped,
		},
		{
			name: "no identity",
			setup: func(t *testing.T, f *fixture, v *versions) {
				v.newest["k"] = "v2"
				if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{Identity: &msi.Spec{}}); err != nil {
					t.Fatal(err)
				}
			},
			key: "k/v1", code: compute.ReasonIdentityNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, v, created := autoFixture(t)
			first, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1")
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, f, v)
			}
			f.keys.take()
			f.now = created.NextKeyCheck
			if tt.early {
				f.now = f.now.Add(-time.Second)
			}
			res, err := f.svc.RefreshKeyVersions(ctx)
			if err != nil {
				t.Fatalf("RefreshKeyVersions = %v", err)
			}
			if got := f.keys.take(); !cmp.Equal(got, tt.calls) {
				t.Errorf("key service calls %v; want %v", got, tt.calls)
			}
			d, err := f.svc.Get(ctx, f.sub, "rg", "des1")
			if err != nil {
				t.Fatal(err)
			}
			if want := f.vault + "/keys/" + tt.key; d.ActiveKey.KeyURL != want || d.ActiveKey.SourceVaultID != f.vaultID {
				t.Errorf("activeKey = %+v; want %s in %s", d.ActiveKey, want, f.vaultID)
			}
			if d.AutoKeyRotationError.Code != tt.code || (tt.code != "") != (d.AutoKeyRotationError.Message != "") {
				t.Errorf("autoKeyRotationError = %+v; want code %q", d.AutoKeyRotationError, tt.code)
			}
			wantNext := f.now.Add(compute.DefaultKeyCheckInterval)
			if tt.early {
				wantNext = created.NextKeyCheck
			}
			if !d.NextKeyCheck.Equal(wantNext) {
				t.Errorf("next check %v; want %v", d.NextKeyCheck, wantNext)
			}
			var want []compute.KeyChange
			if tt.rotated {
				want = []compute.KeyChange{{ID: d.ID(), KeyURL: d.ActiveKey.KeyURL}}
				if !d.LastKeyRotation.Equal(f.now) {
					t.Errorf("lastKeyRotation = %v; want %v", d.LastKeyRotation, f.now)
				}
			} else if !d.LastKeyRotation.Equal(created.LastKeyRotation) {
				t.Errorf("lastKeyRotation = %v without a rotation", d.LastKeyRotation)
			}
			if !cmp.Equal(res.Rotated, want) || (len(res.Failed) == 1) != (tt.code != "") {
				t.Errorf("result = %+v; want rotated %v, a failure %v", res, want, tt.code != "")
			}
			if tt.code != "" && res.Failed[d.ID()] == nil {
				t.Errorf("failures %v do not name %s", res.Failed, d.ID())
			}
			if tt.rotated {
				// A move is a rotation: the next generation of the
				// intermediate key, wrapped by the new version.
				if k, err := f.svc.IntermediateKey(ctx, f.sub, "rg", "des1"); err != nil || bytes.Equal(k, first) || d.Key.KeyID != d.ActiveKey.KeyURL || d.Key.Gen != created.Key.Gen+1 {
					t.Errorf("after the move: intermediate key %x (gen %d), %v, wrapped by %s; want the next generation, wrapped by the new version", k, d.Key.Gen, err, d.Key.KeyID)
				}
			}
			// The same time again does nothing: the check moved on.
			f.keys.take()
			if res, err := f.svc.RefreshKeyVersions(ctx); err != nil || len(res.Rotated)+len(res.Failed) != 0 || f.keys.take() != nil {
				t.Errorf("a second pass at the same time = %+v, %v; want nothing", res, err)
			}
		})
	}
}

// TestAutoRotationRecovers: a DES whose move failed reports it, keeps its
// key and tries again an interval later; a success clears the error, and
// so does a change of activeKey by hand.
func TestAutoRotationRecovers(t *testing.T) {
	ctx := context.Background()
	f, v, _ := autoFixture(t)
	f.svc.KeyCheckInterval = 10 * time.Minute
	v.newest["k"], v.disabled["k/v2"] = "v2", true
	step := func() compute.DiskEncryptionSet {
		t.Helper()
		f.now = f.now.Add(time.Hour)
		if _, err := f.svc.RefreshKeyVersions(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Get(ctx, f.sub, "rg", "des1")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := step()
	if d.AutoKeyRotationError.Code != cmk.ReasonKeyNotFound || d.ActiveKey.KeyURL != f.vault+"/keys/k/v1" {
		t.Fatalf("with v2 disabled: %s, error %+v", d.ActiveKey.KeyURL, d.AutoKeyRotationError)
	}
	if want := f.now.Add(10 * time.Minute); !d.NextKeyCheck.Equal(want) {
		t.Errorf("next check %v; want %v (KeyCheckInterval)", d.NextKeyCheck, want)
	}
	if next, err := f.svc.NextKeyCheck(ctx); err != nil || !next.Equal(d.NextKeyCheck) {
		t.Errorf("NextKeyCheck = %v, %v; want %v", next, err, d.NextKeyCheck)
	}
	if d = step(); d.AutoKeyRotationError.Code != cmk.ReasonKeyNotFound {
		t.Errorf("still disabled: error %+v", d.AutoKeyRotationError)
	}
	delete(v.disabled, "k/v2")
	if d = step(); d.AutoKeyRotationError != (compute.APIError{}) || d.ActiveKey.KeyURL != f.vault+"/keys/k/v2" || !d.LastKeyRotation.Equal(f.now) {
		t.Errorf("re-enabled: %s, error %+v, last rotation %v; want v2, no error, now", d.ActiveKey.KeyURL, d.AutoKeyRotationError, d.LastKeyRotation)
	}

	// A failure, then a change of key by hand clears it.
	f.keys.allowed = nil
	if d = step(); d.AutoKeyRotationError.Code != cmk.ReasonAccessDenied {
		t.Fatalf("without access: error %+v", d.AutoKeyRotationError)
	}
	f.keys.allow(f.uamiOID)
	if d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{Tags: map[string]string{"a": "b"}}); err != nil || d.AutoKeyRotationError.Code == "" {
		t.Errorf("an update that keeps the key: error %+v, %v; want it kept", d.AutoKeyRotationError, err)
	}
	if d, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v3")}); err != nil || d.AutoKeyRotationError != (compute.APIError{}) {
		t.Errorf("a new activeKey by hand: error %+v, %v; want none", d.AutoKeyRotationError, err)
	}
}

// TestKeyCheckSchedule: only a DES that follows its key's newest version
// is ever checked; turning that on schedules the first check an interval
// later, turning it off drops the check and its error; a confidential-VM
// DES is never moved, even if the store says it follows its key.
func TestKeyCheckSchedule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v := &versions{keys: f.keys, newest: map[string]string{"k": "v2"}}
	f.svc.Keys = v
	f.keys.allow(f.uamiOID)
	far := func() (compute.KeyCheckResult, map[string]int) {
		t.Helper()
		f.keys.take()
		f.now = f.now.Add(24 * time.Hour)
		res, err := f.svc.RefreshKeyVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res, f.keys.take()
	}

	d, _, err := f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des1", f.user("v1"))
	if err != nil || !d.NextKeyCheck.IsZero() {
		t.Fatalf("created without auto-rotation: next check %v, %v; want none", d.NextKeyCheck, err)
	}
	if res, calls := far(); len(res.Rotated) != 0 || calls != nil {
		t.Errorf("a DES without auto-rotation was checked: %+v, %v", res, calls)
	}
	if next, err := f.svc.NextKeyCheck(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextKeyCheck = %v, %v; want none", next, err)
	}

	f.svc.KeyCheckInterval = 5 * time.Minute
	if d, err = f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{RotationToLatestKeyVersionEnabled: ptr(true)}); err != nil || !d.NextKeyCheck.Equal(f.now.Add(5*time.Minute)) {
		t.Fatalf("auto-rotation turned on: next check %v, %v; want %v", d.NextKeyCheck, err, f.now.Add(5*time.Minute))
	}
	if d, err = f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{Tags: map[string]string{"x": "y"}}); err != nil || !d.NextKeyCheck.Equal(f.now.Add(5*time.Minute)) {
		t.Errorf("another update moved the next check to %v, %v", d.NextKeyCheck, err)
	}
	d.AutoKeyRotationError = compute.APIError{Code: cmk.ReasonAccessDenied, Message: "no"}
	if err := f.svc.Store.UpdateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	if d, err = f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{RotationToLatestKeyVersionEnabled: ptr(false)}); err != nil ||
		!d.NextKeyCheck.IsZero() || d.AutoKeyRotationError != (compute.APIError{}) {
		t.Errorf("auto-rotation turned off: next check %v, error %+v, %v; want neither", d.NextKeyCheck, d.AutoKeyRotationError, err)
	}
	if res, calls := far(); len(res.Rotated) != 0 || calls != nil {
		t.Errorf("a DES whose auto-rotation was turned off was checked: %+v, %v", res, calls)
	}

	// A confidential-VM DES cannot follow its key (apply refuses it); one
	// that the store says does is never checked, and stops being due.
	cvm := f.user("v1")
	cvm.EncryptionType = compute.ConfidentialVMEncryptedWithCustomerKey
	d, _, err = f.svc.CreateOrUpdate(ctx, f.sub, f.tenant, "rg", "des-cvm", cvm)
	if err != nil {
		t.Fatal(err)
	}
	d.RotationToLatestKeyVersionEnabled, d.NextKeyCheck = true, f.now
	if err := f.svc.Store.UpdateDiskEncryptionSet(ctx, d); err != nil {
		t.Fatal(err)
	}
	if res, calls := far(); len(res.Rotated)+len(res.Failed) != 0 || calls != nil {
		t.Errorf("a confidential-VM DES was checked: %+v, %v", res, calls)
	}
	if d, _ := f.svc.Get(ctx, f.sub, "rg", "des-cvm"); d.ActiveKey.KeyURL != f.vault+"/keys/k/v1" || !d.NextKeyCheck.IsZero() {
		t.Errorf("confidential-VM DES: key %s, next check %v; want v1, none", d.ActiveKey.KeyURL, d.NextKeyCheck)
	}
}

// TestRefreshAndStalledRotations: a move that fails half-way leaves the
// DES as the failure left it, Updating with its new generation, its error
// recorded, every disk readable; the next check completes the rotation,
// as it does one a manual update left half-done.
func TestRefreshAndStalledRotations(t *testing.T) {
	for _, how := range []string{"automatic", "manual"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			f, v, _ := autoFixture(t)
			f.withContent()
			des, _ := f.svc.Get(ctx, f.sub, "rg", "des1")
			disk, _, err := f.svc.CreateOrUpdateDisk(ctx, compute.KindDisk, f.sub, "rg", "d1", f.emptyDisk("", des.ID()))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := f.svc.ContentKey(ctx, disk.BlobAccount())
			v.newest["k"] = "v2"
			store := f.svc.Store
			f.svc.Store = &failingStore{Store: store}
			f.now = des.NextKeyCheck
			if how == "automatic" {
				res, _ := f.svc.RefreshKeyVersions(ctx)
				if len(res.Failed) != 1 {
					t.Fatalf("refresh = %+v; want the move to fail", res)
				}
			} else if _, err := f.svc.Update(ctx, f.sub, "rg", "des1", compute.Spec{ActiveKey: f.key("k", "v2")}); err == nil {
				t.Fatal("the rotation completed")
			}
			f.svc.Store = store
			d, _ := f.svc.Get(ctx, f.sub, "rg", "des1")
			if d.ProvisioningState != "Updating" || len(d.Previous) != 1 || d.ActiveKey.KeyURL != f.vault+"/keys/k/v2" {
				t.Fatalf("after the failure: %s, %d previous, active %s; want Updating on v2", d.ProvisioningState, len(d.Previous), d.ActiveKey.KeyURL)
			}
			if got, err := f.svc.ContentKey(ctx, disk.BlobAccount()); err != nil || !bytes.Equal(got, before) {
				t.Fatalf("content key half-way = %v", err)
			}
			f.keys.take()
			f.now = d.NextKeyCheck
			if _, err := f.svc.RefreshKeyVersions(ctx); err != nil {
				t.Fatal(err)
			}
			d, _ = f.svc.Get(ctx, f.sub, "rg", "des1")
			if d.ProvisioningState != "Succeeded" || len(d.Previous) != 0 {
				t.Errorf("after the next check: %s, %d previous", d.ProvisioningState, len(d.Previous))
			}
			if got := f.keys.take(); got["unwrap"] != 2 || got["wrap"] != 0 {
				t.Errorf("completing cost %v; want one unwrap per generation", got)
			}
			if got, err := f.svc.ContentKey(ctx, disk.BlobAccount()); err != nil || !bytes.Equal(got, before) {
				t.Errorf("content key after = %v", err)
			}
		})
	}
}
