package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// TestRotationPolicyWithGoSDK sets the seed's three example policies on a
// Managed HSM key with the unmodified azkeys client, rotates on demand,
// and checks Azure's refusals; then Key Vault's differences (a Notify
// added by default, rotation without a policy).
func TestRotationPolicyWithGoSDK(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	hsm := e.vault(t, "hsm-rot", true, nil)
	if _, err := hsm.CreateKey(ctx, "cmk", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil); err != nil {
		t.Fatal(err)
	}
	// Before any policy: the default (empty) policy; rotation refused.
	if res, err := hsm.GetKeyRotationPolicy(ctx, "cmk", nil); err != nil || len(res.LifetimeActions) != 0 || res.ID != nil {
		t.Errorf("default HSM policy = %+v, %v; want no actions and no id", res.KeyRotationPolicy, err)
	}
	if _, err := hsm.RotateKey(ctx, "cmk", nil); statusOf(err) != http.StatusBadRequest || codeOf(err) != "BadParameter" {
		t.Errorf("rotate an HSM key without a policy = %v; want 400 BadParameter", err)
	}

	action := func(after, before *string) *azkeys.LifetimeAction {
		return &azkeys.LifetimeAction{
			Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: after, TimeBeforeExpiry: before},
			Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
		}
	}
	seed := []struct {
		name   string
		policy azkeys.KeyRotationPolicy
	}{
		{"P18M after create, expiry P2Y", azkeys.KeyRotationPolicy{
			LifetimeActions: []*azkeys.LifetimeAction{action(to.Ptr("P18M"), nil)},
			Attributes:      &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P2Y")},
		}},
		{"P28D before expiry, expiry P1Y", azkeys.KeyRotationPolicy{
			LifetimeActions: []*azkeys.LifetimeAction{action(nil, to.Ptr("P28D"))},
			Attributes:      &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P1Y")},
		}},
		{"empty policy", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{}, Attributes: &azkeys.KeyRotationPolicyAttributes{}}},
	}
	for _, tt := range seed {
		res, err := hsm.UpdateKeyRotationPolicy(ctx, "cmk", tt.policy, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := hsm.GetKeyRotationPolicy(ctx, "cmk", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.LifetimeActions) != len(tt.policy.LifetimeActions) || deref(got.ID) == "" || got.Attributes == nil || got.Attributes.Created == nil ||
			deref(got.Attributes.ExpiryTime) != deref(tt.policy.Attributes.ExpiryTime) || deref(res.ID) != deref(got.ID) {
			t.Errorf("%s: stored %+v, returned %+v", tt.name, got.KeyRotationPolicy, res.KeyRotationPolicy)
		}
	}
	// With a policy set (even the empty one), rotation on demand works.
	before, _ := hsm.GetKey(ctx, "cmk", "", nil)
	rotated, err := hsm.RotateKey(ctx, "cmk", nil)
	if err != nil {
		t.Fatalf("rotate with a policy: %v", err)
	}
	if rotated.Key.KID.Version() == before.Key.KID.Version() || *rotated.Key.Kty != azkeys.KeyTypeRSAHSM {
		t.Errorf("rotated key = %s (%s), before %s", *rotated.Key.KID, *rotated.Key.Kty, *before.Key.KID)
	}
	// Refusals, as Azure states them.
	invalid := []struct {
		name   string
		policy azkeys.KeyRotationPolicy
	}{
		{"more often than every 28 days", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{action(to.Ptr("P27D"), nil)}}},
		{"expiry under 28 days", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{}, Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P20D")}}},
		{"before expiry over expiry minus 28 days", azkeys.KeyRotationPolicy{
			LifetimeActions: []*azkeys.LifetimeAction{action(nil, to.Ptr("P29D"))},
			Attributes:      &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P56D")},
		}},
		{"not an ISO 8601 duration", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{action(to.Ptr("18 months"), nil)}}},
		{"Notify on an HSM", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{{
			Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr("P30D")},
			Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionNotify)},
		}}, Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P1Y")}}},
	}
	for _, tt := range invalid {
		if _, err := hsm.UpdateKeyRotationPolicy(ctx, "cmk", tt.policy, nil); statusOf(err) != http.StatusBadRequest || codeOf(err) != "BadParameter" {
			t.Errorf("%s: %v; want 400 BadParameter", tt.name, err)
		}
	}
	if _, err := hsm.GetKeyRotationPolicy(ctx, "nope", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("policy of a missing key = %v; want 404", err)
	}

	// A Managed HSM key has at most 100 versions, however they were made:
	// one created, 49 more created under the name, 50 rotated; the 101st
	// is refused whichever way it is asked for, and nothing is stored.
	ec := azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM), Curve: to.Ptr(azkeys.CurveNameP256)}
	for range 50 {
		if _, err := hsm.CreateKey(ctx, "full", ec, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hsm.UpdateKeyRotationPolicy(ctx, "full", azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{}}, nil); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := hsm.RotateKey(ctx, "full", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hsm.RotateKey(ctx, "full", nil); statusOf(err) != http.StatusBadRequest || codeOf(err) != "BadParameter" {
		t.Errorf("rotating to the 101st version = %v; want 400 BadParameter", err)
	}
	if _, err := hsm.CreateKey(ctx, "full", ec, nil); statusOf(err) != http.StatusBadRequest || codeOf(err) != "BadParameter" {
		t.Errorf("creating the 101st version = %v; want 400 BadParameter", err)
	}
	n := 0
	for pager := hsm.NewListKeyPropertiesVersionsPager("full", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 100 {
		t.Errorf("the key has %d versions, want 100", n)
	}

	// Key Vault: rotation without a policy, and a Notify added by default.
	kv := e.vault(t, "kv-rot", false, nil)
	if _, err := kv.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.RotateKey(ctx, "k", nil); err != nil {
		t.Errorf("rotate a Key Vault key without a policy: %v", err)
	}
	res, err := kv.UpdateKeyRotationPolicy(ctx, "k", azkeys.KeyRotationPolicy{
		LifetimeActions: []*azkeys.LifetimeAction{{
			Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P30D")},
			Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyAction("rotate"))},
		}},
		Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P90D")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.LifetimeActions) != 2 || *res.LifetimeActions[0].Action.Type != azkeys.KeyRotationPolicyActionRotate ||
		*res.LifetimeActions[1].Action.Type != azkeys.KeyRotationPolicyActionNotify || deref(res.LifetimeActions[1].Trigger.TimeBeforeExpiry) != "P30D" {
		t.Errorf("Key Vault policy = %+v; want Rotate and the added Notify P30D", res.LifetimeActions)
	}
	rk, err := kv.RotateKey(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rk.Attributes.Expires == nil || rk.Attributes.Created == nil || rk.Attributes.Expires.Sub(*rk.Attributes.Created) != 90*24*time.Hour {
		t.Errorf("rotated version: created %v expires %v; want created + P90D", rk.Attributes.Created, rk.Attributes.Expires)
	}
}
