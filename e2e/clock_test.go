package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
)

// TestVirtualClockRotation runs the seed's policies on a server with a
// virtual clock: advancing the clock rotates each key exactly when its
// policy says, before the advance returns; old versions keep unwrapping;
// clients' cached tokens keep working across years; every scheduled
// rotation is in the audit log; a restart keeps the clock's time.
func TestVirtualClockRotation(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual})
	ctx := context.Background()
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", dir), &out, &errb); code != 0 {
			t.Fatalf("tresor %s = exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes()
	}
	now := func() time.Time {
		t.Helper()
		var st struct{ Now time.Time }
		if err := json.Unmarshal(run("clock", "show"), &st); err != nil {
			t.Fatal(err)
		}
		return st.Now
	}
	start := now()
	hsm := e.vault(t, "hsm-clock", true, nil)
	created, err := hsm.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !created.Attributes.Created.Equal(start) {
		t.Errorf("key created at %v; the virtual clock shows %v", created.Attributes.Created, start)
	}
	// Seed policy 1, word for word from the seed, through the CLI: rotate 18
	// months after creation, new versions expire after two years.
	policyFile := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policyFile, []byte(`{
  "lifetimeActions": [
    {
      "trigger": {
        "timeAfterCreate": "P18M",
        "timeBeforeExpiry": null
      },
      "action": {
        "type": "Rotate"
      }
    }
  ],
  "attributes": {
    "expiryTime": "P2Y"
  }
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run("keyvault", "key", "rotation-policy", "update", "--hsm-name", "hsm-clock", "--name", "cmk", "--value", policyFile)
	if out := run("keyvault", "key", "rotation-policy", "show", "--hsm-name", "hsm-clock", "--name", "cmk"); !bytes.Contains(out, []byte(`"P18M"`)) {
		t.Fatalf("rotation-policy show = %s", out)
	}
	// Seed policy 2 (inline JSON) on a key that expires in a year: it
	// rotates 28 days before that, and its new version expires a year later.
	run("keyvault", "key", "create", "--hsm-name", "hsm-clock", "--name", "exp", "--kty", "oct-HSM",
		"--expires", start.AddDate(1, 0, 0).Format(time.RFC3339))
	run("keyvault", "key", "rotation-policy", "update", "--hsm-name", "hsm-clock", "--name", "exp", "--value",
		`{"lifetimeActions":[{"trigger":{"timeAfterCreate":null,"timeBeforeExpiry":"P28D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}}`)
	// On demand, too (a policy is set).
	run("keyvault", "key", "rotate", "--hsm-name", "hsm-clock", "--name", "exp")
	cek := bytes.Repeat([]byte{7}, 32)
	wrapped, err := hsm.WrapKey(ctx, "cmk", created.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: cek}, nil)
	if err != nil {
		t.Fatal(err)
	}
	versions := func() []time.Time {
		t.Helper()
		var out []time.Time
		pager := hsm.NewListKeyPropertiesVersionsPager("cmk", nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Value {
				out = append(out, *v.Attributes.Created)
			}
		}
		return out
	}

	run("clock", "advance", "P18M")
	at18 := start.AddDate(0, 18, 0)
	if got := now(); !got.Equal(at18) {
		t.Errorf("clock after advance P18M = %v, want %v", got, at18)
	}
	if got := versions(); len(got) != 2 || !got[1].Equal(at18) {
		t.Fatalf("versions after P18M = %v; want the original and one created at %v", got, at18)
	}
	cur, err := hsm.GetKey(ctx, "cmk", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Attributes.Expires.Equal(at18.AddDate(2, 0, 0)) {
		t.Errorf("the rotated version expires %v, want created + P2Y = %v", cur.Attributes.Expires, at18.AddDate(2, 0, 0))
	}
	// Seventeen months more: nothing is due yet; one more month: the next rotation.
	run("clock", "advance", "P17M")
	if got := versions(); len(got) != 2 {
		t.Errorf("versions 35 months after creation = %d, want 2", len(got))
	}
	run("clock", "set", start.AddDate(0, 40, 0).Format(time.RFC3339))
	// 18 months after the second version, which at a month's end is not
	// always start + 36 months (31 August + 18 months is 2 or 3 March).
	if got := versions(); len(got) != 3 || !got[2].Equal(at18.AddDate(0, 18, 0)) {
		t.Errorf("versions after 40 months = %v; want a third created 18 months after the second", got)
	}
	// The "exp" key: rotated on demand at the start (that version expires a
	// year later, per the policy), then 28 days before each expiry.
	var expVersions []struct {
		Attributes struct { // azkeys writes Unix times
			Created int64 `json:"created"`
			Expires int64 `json:"exp"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(run("keyvault", "key", "list-versions", "--hsm-name", "hsm-clock", "--name", "exp"), &expVersions); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{start, start}
	for c := start; ; {
		next := c.AddDate(1, 0, 0).AddDate(0, 0, -28)
		if next.After(start.AddDate(0, 40, 0)) {
			break
		}
		want, c = append(want, next), next
	}
	if len(expVersions) != len(want) {
		t.Errorf("the before-expiry key has %d versions, want %d (created %v)", len(expVersions), len(want), want)
	} else {
		for i, v := range expVersions[1:] {
			created, expires := time.Unix(v.Attributes.Created, 0).UTC(), time.Unix(v.Attributes.Expires, 0).UTC()
			if !created.Equal(want[i+1]) || !expires.Equal(want[i+1].AddDate(1, 0, 0)) {
				t.Errorf("version %d: created %v expires %v; want %v and a year later", i+1, created, expires, want[i+1])
			}
		}
	}
	// The first version still unwraps what it wrapped; the token the client
	// cached 40 virtual months ago still works (tokens are on real time).
	un, err := hsm.UnwrapKey(ctx, "cmk", created.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wrapped.Result}, nil)
	if err != nil || !bytes.Equal(un.Result, cek) {
		t.Errorf("unwrap with the first version after rotations = %v", err)
	}
	if out := run("audit", "tail", "-n", "200"); bytes.Count(out, []byte(" RotateKey https://hsm-clock.managedhsm.localhost:"+strings.Split(e.env["TRESOR_ADDR"], ":")[1]+"/keys/cmk ")) != 2 || !bytes.Contains(out, []byte(" scheduler\n")) {
		t.Errorf("the audit log does not show the scheduled rotations:\n%s", out)
	}

	// Only the administrator may move the clock.
	p := e.newPrincipal(t, "not-admin")
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.env["TRESOR_ARM_AUDIENCE"] + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.env["TRESOR_ARM_ENDPOINT"]+"/tresor/clock/advance", strings.NewReader(`{"by":"P1Y"}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("advance by a non-admin: %d, want 403", resp.StatusCode)
	}
	for _, bad := range [][]string{{"clock", "advance", "18 months"}, {"clock", "set", "2020-01-01T00:00:00Z"}} {
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(bad, "--data", dir), &out, &errb); code == 0 || !strings.Contains(errb.String(), "400") {
			t.Errorf("tresor %s = exit %d: %s; want a 400", strings.Join(bad, " "), code, errb.String())
		}
	}

	// A restart resumes at the clock's time.
	before := now()
	e.stop()
	startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual})
	if got := now(); !got.Equal(before) {
		t.Errorf("clock after restart = %v, want %v", got, before)
	}
}

// TestClockAPIAbsentOnRealTime: a server on real time has no clock API.
func TestClockAPIAbsentOnRealTime(t *testing.T) {
	e := start(t)
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), []string{"clock", "advance", "P1D", "--data", e.dir}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "real time") {
		t.Errorf("clock advance on a real-time server = exit %d: %s", code, errb.String())
	}
}

// TestVirtualClockPurge: soft-deleted keys and vaults are purged by the
// scheduler when their retention has passed, not before, purge protection
// or not.
func TestVirtualClockPurge(t *testing.T) {
	dir := t.TempDir()
	e := startWith(t, cli.Config{DataDir: dir, Clock: cli.ClockVirtual})
	ctx := context.Background()
	keys := e.vault(t, "kv-purge", false, func(p *armkeyvault.VaultProperties) {
		p.SoftDeleteRetentionInDays, p.EnablePurgeProtection = to.Ptr[int32](7), to.Ptr(true)
	})
	if _, err := keys.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.DeleteKey(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	advance := func(by string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, []string{"clock", "advance", by, "--data", dir}, &out, &errb); code != 0 {
			t.Fatalf("clock advance %s: %s", by, errb.String())
		}
	}
	advance("P6D")
	if _, err := keys.GetDeletedKey(ctx, "k", nil); err != nil {
		t.Fatalf("the deleted key is gone before its retention passed: %v", err)
	}
	if _, err := keys.PurgeDeletedKey(ctx, "k", nil); statusOf(err) != http.StatusForbidden {
		t.Errorf("purge under purge protection = %v; want 403", err)
	}
	advance("P1D")
	if _, err := keys.GetDeletedKey(ctx, "k", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("the deleted key after its retention = %v; want 404, purged", err)
	}

	vaults, err := armkeyvault.NewVaultsClient(e.env["AZURE_SUBSCRIPTION_ID"], e.cred, e.env.ARMOptions(e.http))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vaults.Delete(ctx, "rg-e2e", "kv-purge", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vaults.GetDeleted(ctx, "kv-purge", "westeurope", nil); err != nil {
		t.Fatalf("the deleted vault: %v", err)
	}
	advance("P7D")
	if _, err := vaults.GetDeleted(ctx, "kv-purge", "westeurope", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("the deleted vault after its retention = %v; want 404, purged", err)
	}
	var out, errb bytes.Buffer
	cli.Run(ctx, []string{"audit", "tail", "-n", "50", "--data", dir}, &out, &errb)
	if !bytes.Contains(out.Bytes(), []byte(" PurgeDeletedKey ")) || !bytes.Contains(out.Bytes(), []byte(" PurgeDeletedVault kv-purge")) {
		t.Errorf("the audit log lacks the scheduled purges:\n%s", out.String())
	}
}
