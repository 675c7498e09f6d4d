package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
	"github.com/tresorkms/tresor/rbac"
)

// TestDESAutoRotation drives a disk encryption set with
// rotationToLatestKeyVersionEnabled through the unmodified armcompute and
// azkeys clients on a virtual clock with a 30-minute check interval: the
// set follows a rotated key at its next check and not before, each move
// is audited; a newest version that is disabled shows as
// autoKeyRotationError while the set stays on its key, and once enabled
// again the set moves and the error goes.
func TestDESAutoRotation(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual, DESKeyCheckInterval: 30 * time.Minute})
	ctx := context.Background()
	f := newCMKFixture(t, e)
	sets, err := armcompute.NewDiskEncryptionSetsClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var o, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &o, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return o.String()
	}
	get := func() *armcompute.EncryptionSetProperties {
		t.Helper()
		d, err := sets.Get(ctx, "rg-e2e", "des-auto", nil)
		if err != nil {
			t.Fatal(err)
		}
		return d.Properties
	}
	rotate := func() string {
		t.Helper()
		k, err := f.kv.RotateKey(ctx, "cmk", nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(*k.Key.KID)
	}
	enable := func(kid string, on bool) {
		t.Helper()
		version := kid[strings.LastIndex(kid, "/")+1:]
		if _, err := f.kv.UpdateKey(ctx, "cmk", version, azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Created in Azure's order: the system-assigned identity is granted
	// access after the set exists.
	v1 := string(*f.key.Key.KID)
	poller, err := sets.BeginCreateOrUpdate(ctx, "rg-e2e", "des-auto", armcompute.DiskEncryptionSet{
		Location: to.Ptr("westeurope"),
		Identity: &armcompute.EncryptionSetIdentity{Type: to.Ptr(armcompute.DiskEncryptionSetIdentityTypeSystemAssigned)},
		Properties: &armcompute.EncryptionSetProperties{
			ActiveKey:                         &armcompute.KeyForDiskEncryptionSet{KeyURL: to.Ptr(v1), SourceVault: &armcompute.SourceVault{ID: to.Ptr(f.vaultID)}},
			EncryptionType:                    to.Ptr(armcompute.DiskEncryptionSetTypeEncryptionAtRestWithCustomerKey),
			RotationToLatestKeyVersionEnabled: to.Ptr(true),
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !*created.Properties.RotationToLatestKeyVersionEnabled {
		t.Fatalf("created with rotationToLatestKeyVersionEnabled off: %+v", created.Properties)
	}
	f.assign(t, f.vaultID, rbac.KeyVaultCryptoServiceEncUser, *created.Identity.PrincipalID)

	// A new version: followed at the next check, not before.
	v2 := rotate()
	run("clock", "advance", "PT29M")
	if p := get(); deref(p.ActiveKey.KeyURL) != v1 || p.LastKeyRotationTimestamp != nil {
		t.Errorf("before the check: activeKey %s, lastKeyRotationTimestamp %v; want %s, none", deref(p.ActiveKey.KeyURL), p.LastKeyRotationTimestamp, v1)
	}
	run("clock", "advance", "PT1M")
	p := get()
	if deref(p.ActiveKey.KeyURL) != v2 || p.ActiveKey.SourceVault == nil || deref(p.ActiveKey.SourceVault.ID) != f.vaultID ||
		p.LastKeyRotationTimestamp == nil || p.AutoKeyRotationError != nil {
		t.Fatalf("after the check: activeKey %+v, lastKeyRotationTimestamp %v, autoKeyRotationError %+v; want %s in the same vault, a timestamp, no error",
			p.ActiveKey, p.LastKeyRotationTimestamp, p.AutoKeyRotationError, v2)
	}
	first := *p.LastKeyRotationTimestamp
	if d, err := e.srv.DiskEncryptionSets.Get(ctx, e.env["AZURE_SUBSCRIPTION_ID"], "rg-e2e", "des-auto"); err != nil || d.Pending() || d.Key.KeyID != v2 {
		t.Errorf("intermediate key wrapped by %q (pending %v), %v; want %s", d.Key.KeyID, d.Pending(), err, v2)
	}

	// A newer version that is disabled: the set stays on v2 and says why.
	v3 := rotate()
	enable(v3, false)
	run("clock", "advance", "PT30M")
	p = get()
	if e := p.AutoKeyRotationError; e == nil || deref(e.Code) != "KeyVaultKeyNotFound" || deref(e.Message) == "" {
		t.Errorf("with the newest version disabled: autoKeyRotationError %+v; want KeyVaultKeyNotFound", e)
	}
	if deref(p.ActiveKey.KeyURL) != v2 || !p.LastKeyRotationTimestamp.Equal(first) {
		t.Errorf("with the newest version disabled: activeKey %s at %v; want %s at %v", deref(p.ActiveKey.KeyURL), p.LastKeyRotationTimestamp, v2, first)
	}

	// Enabled again: the next check moves the set and clears the error.
	enable(v3, true)
	run("clock", "advance", "PT30M")
	p = get()
	if deref(p.ActiveKey.KeyURL) != v3 || p.AutoKeyRotationError != nil || p.LastKeyRotationTimestamp == nil || !p.LastKeyRotationTimestamp.After(first) {
		t.Errorf("re-enabled: activeKey %s, autoKeyRotationError %+v, lastKeyRotationTimestamp %v; want %s, none, after %v",
			deref(p.ActiveKey.KeyURL), p.AutoKeyRotationError, p.LastKeyRotationTimestamp, v3, first)
	}

	// Each move is audited as the scheduler's.
	tail := run("audit", "tail", "-n", "200")
	for _, kid := range []string{v2, v3} {
		version := kid[strings.LastIndex(kid, "/")+1:]
		if !strings.Contains(tail, "DiskEncryptionSetKeyVersionUpdate "+*created.ID+" "+version) {
			t.Errorf("no audit record of the move to %s in:\n%s", version, tail)
		}
	}
}
