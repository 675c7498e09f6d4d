package arm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armtest"
)

const tenant = "10000000-0000-4000-8000-000000000000"

func newService(t *testing.T) (*arm.Service, arm.Subscription) {
	t.Helper()
	s := arm.NewService(armtest.NewMemStore())
	sub, err := s.Bootstrap(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	return s, sub
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	s, first := newService(t)
	if first.TenantID != tenant || first.State != arm.SubscriptionEnabled || len(first.ID) != 36 {
		t.Errorf("Bootstrap = %+v, want an enabled subscription of %s with a GUID id", first, tenant)
	}
	again, err := s.Bootstrap(ctx, tenant)
	if err != nil || again != first {
		t.Errorf("Bootstrap again = %+v, %v; want %+v", again, err, first)
	}
	other, err := s.Bootstrap(ctx, "20000000-0000-4000-8000-000000000000")
	if err != nil || other.ID == first.ID {
		t.Errorf("Bootstrap(other tenant) = %+v, %v; want a new subscription", other, err)
	}
	subs, err := s.ListSubscriptions(ctx)
	if err != nil || len(subs) != 2 {
		t.Errorf("ListSubscriptions = %v, %v; want 2", subs, err)
	}
	got, err := s.GetSubscription(ctx, strings.ToUpper(first.ID))
	if err != nil || got != first {
		t.Errorf("GetSubscription(upper case %q) = %+v, %v", first.ID, got, err)
	}
}

func asError(err error, target **tresor.Error) bool { return errors.As(err, target) }

func hasReason(err error, reason string) bool {
	var te *tresor.Error
	return asError(err, &te) && te.Reason == reason
}

func TestResourceGroups(t *testing.T) {
	ctx := context.Background()
	s, sub := newService(t)
	const unknownSub = "99999999-0000-4000-8000-000000000000"

	g, created, err := s.CreateOrUpdateResourceGroup(ctx, arm.ResourceGroup{SubscriptionID: sub.ID, Name: "My-RG", Location: "West Europe", Tags: map[string]string{"env": "test"}})
	if err != nil || !created {
		t.Fatalf("CreateOrUpdateResourceGroup = %v, %v; want created", created, err)
	}
	want := arm.ResourceGroup{SubscriptionID: sub.ID, Name: "My-RG", Location: "westeurope", Tags: map[string]string{"env": "test"}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("CreateOrUpdateResourceGroup mismatch (-want +got):\n%s", diff)
	}

	// Another spelling updates the same group, which keeps its name.
	g, created, err = s.CreateOrUpdateResourceGroup(ctx, arm.ResourceGroup{SubscriptionID: sub.ID, Name: "my-rg", Location: "westeurope"})
	if err != nil || created || g.Name != "My-RG" || len(g.Tags) != 0 {
		t.Errorf("CreateOrUpdateResourceGroup(my-rg) = %+v, %v, %v; want an update of My-RG without tags", g, created, err)
	}
	if got, err := s.GetResourceGroup(ctx, sub.ID, "MY-RG"); err != nil || got.Name != "My-RG" {
		t.Errorf("GetResourceGroup(MY-RG) = %+v, %v", got, err)
	}
	if got, err := s.UpdateResourceGroup(ctx, sub.ID, "my-rg", map[string]string{"a": "b"}); err != nil || got.Tags["a"] != "b" {
		t.Errorf("UpdateResourceGroup = %+v, %v", got, err)
	}

	tests := []struct {
		name   string
		g      arm.ResourceGroup
		kind   tresor.Kind
		reason string
	}{
		{"unknown subscription", arm.ResourceGroup{SubscriptionID: unknownSub, Name: "rg", Location: "x"}, tresor.NotFound, arm.ReasonSubscriptionNotFound},
		{"location changed", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "My-RG", Location: "northeurope"}, tresor.Invalid, arm.ReasonInvalidGroupLocation},
		{"no location", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "rg2"}, tresor.Invalid, arm.ReasonLocationRequired},
		{"bad location", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "rg2", Location: "west/europe"}, tresor.Invalid, arm.ReasonInvalidLocation},
		{"name ends in period", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "rg.", Location: "x"}, tresor.Invalid, arm.ReasonInvalidGroupName},
		{"name with slash", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "r/g", Location: "x"}, tresor.Invalid, arm.ReasonInvalidGroupName},
		{"empty name", arm.ResourceGroup{SubscriptionID: sub.ID, Location: "x"}, tresor.Invalid, arm.ReasonInvalidGroupName},
		{"bad tag", arm.ResourceGroup{SubscriptionID: sub.ID, Name: "rg2", Location: "x", Tags: map[string]string{"a/b": ""}}, tresor.Invalid, arm.ReasonInvalidTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateOrUpdateResourceGroup(ctx, tt.g)
			if !tresor.IsKind(err, tt.kind) || !hasReason(err, tt.reason) {
				t.Errorf("CreateOrUpdateResourceGroup(%+v) = %v, want kind %v reason %q", tt.g, err, tt.kind, tt.reason)
			}
		})
	}

	if _, err := s.GetResourceGroup(ctx, sub.ID, "absent"); !hasReason(err, arm.ReasonResourceGroupNotFound) {
		t.Errorf("GetResourceGroup(absent) = %v, want %s", err, arm.ReasonResourceGroupNotFound)
	}
	if _, err := s.GetResourceGroup(ctx, unknownSub, "rg"); !hasReason(err, arm.ReasonSubscriptionNotFound) {
		t.Errorf("GetResourceGroup(unknown subscription) = %v, want %s", err, arm.ReasonSubscriptionNotFound)
	}
	if err := s.DeleteResourceGroup(ctx, sub.ID, "MY-rg"); err != nil {
		t.Fatalf("DeleteResourceGroup: %v", err)
	}
	if groups, err := s.ListResourceGroups(ctx, sub.ID); err != nil || len(groups) != 0 {
		t.Errorf("ListResourceGroups after delete = %v, %v; want none", groups, err)
	}
	if err := s.DeleteResourceGroup(ctx, sub.ID, "My-RG"); !hasReason(err, arm.ReasonResourceGroupNotFound) {
		t.Errorf("DeleteResourceGroup(again) = %v, want %s", err, arm.ReasonResourceGroupNotFound)
	}
}
