package storage

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// maxCached bounds the cache; when it is full it starts over.
const maxCached = 10000

// Cached returns a Store that keeps the results of Account, the lookup
// behind every request of the data plane (its Shared Key or SAS check and
// its account key), in memory, and otherwise passes every call to s. Any
// write through the returned Store empties the cache, so a change (a key
// regenerated, an account deleted, its encryption changed) takes effect on
// the next request. Unwrapped account keys are not kept here but by
// Service, for at most KeyCacheTTL.
//
// The cache is only correct if every write to the underlying data goes
// through the returned Store: one process per database, as with SQLite.
func Cached(s Store) Store {
	return &cachedStore{Store: s, accounts: map[string]Account{}}
}

type cachedStore struct {
	Store

	mu sync.RWMutex
	// gen counts writes; a lookup caches its result only if no write
	// happened meanwhile.
	gen      uint64
	accounts map[string]Account // by lower-case name
}

// invalidate empties the cache after a write, whether or not it
// succeeded: a failed write may still have changed something.
func (c *cachedStore) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.accounts)
}

func (c *cachedStore) Account(ctx context.Context, name string) (Account, error) {
	k := strings.ToLower(name)
	c.mu.RLock()
	a, ok := c.accounts[k]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return a.clone(), nil
	}
	a, err := c.Store.Account(ctx, name)
	if err != nil {
		return a, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.accounts) >= maxCached {
			clear(c.accounts)
		}
		c.accounts[k] = a.clone()
	}
	c.mu.Unlock()
	return a, nil
}

func (c *cachedStore) CreateAccount(ctx context.Context, a Account) error {
	defer c.invalidate()
	return c.Store.CreateAccount(ctx, a)
}

func (c *cachedStore) UpdateAccount(ctx context.Context, a Account) error {
	defer c.invalidate()
	return c.Store.UpdateAccount(ctx, a)
}

func (c *cachedStore) DeleteAccount(ctx context.Context, name string) error {
	defer c.invalidate()
	return c.Store.DeleteAccount(ctx, name)
}

// clone returns a copy of a that shares no memory with it.
func (a Account) clone() Account {
	a.Tags = maps.Clone(a.Tags)
	a.Identity.UserAssigned = slices.Clone(a.Identity.UserAssigned)
	if a.Keys != nil {
		keys := make([]AccessKey, len(a.Keys))
		for i, k := range a.Keys {
			k.Sealed = bytes.Clone(k.Sealed)
			keys[i] = k
		}
		a.Keys = keys
	}
	a.AEK.Wrapped = bytes.Clone(a.AEK.Wrapped)
	return a
}
