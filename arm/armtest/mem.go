package armtest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
)

// memStore is an arm.Store in memory, for tests of code above the Store.
type memStore struct {
	mu     sync.Mutex
	subs   []arm.Subscription
	groups map[string]arm.ResourceGroup // by subscription + "/" + lower-cased name
}

var _ arm.Store = (*memStore)(nil)

// NewMemStore returns an empty in-memory arm.Store. It passes TestStore.
func NewMemStore() arm.Store {
	return &memStore{groups: map[string]arm.ResourceGroup{}}
}

func groupKey(sub, name string) string { return sub + "/" + strings.ToLower(name) }

func copyGroup(g arm.ResourceGroup) arm.ResourceGroup {
	g.Tags = maps.Clone(g.Tags)
	if g.Tags == nil {
		g.Tags = map[string]string{}
	}
	return g
}

func (s *memStore) CreateSubscription(ctx context.Context, sub arm.Subscription) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.subs {
		if x.ID == sub.ID {
			return tresor.Errorf(tresor.Conflict, "subscription %s exists", sub.ID)
		}
	}
	s.subs = append(s.subs, sub)
	return nil
}

func (s *memStore) Subscription(ctx context.Context, id string) (arm.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.subs {
		if x.ID == id {
			return x, nil
		}
	}
	return arm.Subscription{}, tresor.Errorf(tresor.NotFound, "subscription %s not found", id)
}

func (s *memStore) Subscriptions(ctx context.Context) ([]arm.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs), nil
}

func (s *memStore) PutResourceGroup(ctx context.Context, g arm.ResourceGroup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.subs, func(x arm.Subscription) bool { return x.ID == g.SubscriptionID }) {
		return tresor.Errorf(tresor.NotFound, "subscription %s not found", g.SubscriptionID)
	}
	k := groupKey(g.SubscriptionID, g.Name)
	if old, ok := s.groups[k]; ok {
		g.Name = old.Name
	}
	s.groups[k] = copyGroup(g)
	return nil
}

func (s *memStore) ResourceGroup(ctx context.Context, sub, name string) (arm.ResourceGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupKey(sub, name)]
	if !ok {
		return arm.ResourceGroup{}, tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
	}
	return copyGroup(g), nil
}

func (s *memStore) ResourceGroups(ctx context.Context, sub string) ([]arm.ResourceGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []arm.ResourceGroup
	for _, k := range slices.Sorted(maps.Keys(s.groups)) {
		if g := s.groups[k]; g.SubscriptionID == sub {
			out = append(out, copyGroup(g))
		}
	}
	return out, nil
}

func (s *memStore) DeleteResourceGroup(ctx context.Context, sub, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := groupKey(sub, name)
	if _, ok := s.groups[k]; !ok {
		return tresor.Errorf(tresor.NotFound, "resource group %s not found", name)
	}
	delete(s.groups, k)
	return nil
}
