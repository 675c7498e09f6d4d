package keyvault

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/tresorkms/tresor/eventgrid"
)

// maxCached bounds each of the cache's maps; when one is full it starts over.
const maxCached = 10000

// Cached returns a Store that keeps the results of Vault and KeyVersion,
// the two lookups behind every cryptographic operation, in memory, and
// otherwise passes every call to s. Any write through the returned Store
// empties the cache, so a change (a key disabled, a vault deleted) takes
// effect on the next request.
//
// The cache is only correct if every write to the underlying data goes
// through the returned Store: one process per database, as with SQLite.
func Cached(s Store) Store {
	return &cachedStore{Store: s, vaults: map[vaultKey]Vault{}, versions: map[versionKey]KeyVersion{}}
}

type vaultKey struct {
	kind VaultKind
	name string
}

type versionKey struct{ vaultID, name, version string }

type cachedStore struct {
	Store

	mu sync.RWMutex
	// vaultGen and keyGen count the writes that can change vaults and
	// keys; a lookup caches its result only if no such write happened
	// meanwhile. A key write leaves the vaults cached.
	vaultGen, keyGen uint64
	vaults           map[vaultKey]Vault
	versions         map[versionKey]KeyVersion
}

// invalidate empties the cache after a write to vaults (which may change
// their keys too), whether or not it succeeded: a failed write may still
// have changed something.
func (c *cachedStore) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vaultGen++
	c.keyGen++
	clear(c.vaults)
	clear(c.versions)
}

// invalidateKeys empties the key versions after a write to keys.
func (c *cachedStore) invalidateKeys() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keyGen++
	clear(c.versions)
}

func (c *cachedStore) Vault(ctx context.Context, kind VaultKind, name string) (Vault, error) {
	k := vaultKey{kind, name}
	c.mu.RLock()
	v, ok := c.vaults[k]
	gen := c.vaultGen
	c.mu.RUnlock()
	if ok {
		return v.clone(), nil
	}
	v, err := c.Store.Vault(ctx, kind, name)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.vaultGen == gen {
		if len(c.vaults) >= maxCached {
			clear(c.vaults)
		}
		c.vaults[k] = v.clone()
	}
	c.mu.Unlock()
	return v, nil
}

func (c *cachedStore) KeyVersion(ctx context.Context, vaultID, name, version string) (KeyVersion, error) {
	k := versionKey{vaultID, name, version}
	c.mu.RLock()
	kv, ok := c.versions[k]
	gen := c.keyGen
	c.mu.RUnlock()
	if ok {
		return kv.clone(), nil
	}
	kv, err := c.Store.KeyVersion(ctx, vaultID, name, version)
	if err != nil {
		return kv, err
	}
	c.mu.Lock()
	if c.keyGen == gen {
		if len(c.versions) >= maxCached {
			clear(c.versions)
		}
		c.versions[k] = kv.clone()
	}
	c.mu.Unlock()
	return kv, nil
}

// Unwrap returns the Store underneath, for what the cache does not pass
// on (such as an event store's Outbox).
func (c *cachedStore) Unwrap() Store { return c.Store }

func (c *cachedStore) CreateVault(ctx context.Context, v Vault) error {
	defer c.invalidate()
	return c.Store.CreateVault(ctx, v)
}

func (c *cachedStore) UpdateVault(ctx context.Context, v Vault) error {
	defer c.invalidate()
	return c.Store.UpdateVault(ctx, v)
}

func (c *cachedStore) PurgeVault(ctx context.Context, id string) error {
	defer c.invalidate()
	return c.Store.PurgeVault(ctx, id)
}

func (c *cachedStore) CreateKeyVersion(ctx context.Context, kv KeyVersion, evs ...eventgrid.Event) error {
	defer c.invalidateKeys()
	return c.Store.CreateKeyVersion(ctx, kv, evs...)
}

func (c *cachedStore) UpdateKeyVersion(ctx context.Context, kv KeyVersion, evs ...eventgrid.Event) error {
	defer c.invalidateKeys()
	return c.Store.UpdateKeyVersion(ctx, kv, evs...)
}

func (c *cachedStore) DeleteKey(ctx context.Context, vaultID, name string, d Deletion) error {
	defer c.invalidateKeys()
	return c.Store.DeleteKey(ctx, vaultID, name, d)
}

func (c *cachedStore) RecoverKey(ctx context.Context, vaultID, name string) error {
	defer c.invalidateKeys()
	return c.Store.RecoverKey(ctx, vaultID, name)
}

func (c *cachedStore) PurgeKey(ctx context.Context, vaultID, name string) error {
	defer c.invalidateKeys()
	return c.Store.PurgeKey(ctx, vaultID, name)
}

func (c *cachedStore) PutRotationPolicy(ctx context.Context, p RotationPolicy, cur KeyVersion) error {
	defer c.invalidateKeys()
	return c.Store.PutRotationPolicy(ctx, p, cur)
}

func (c *cachedStore) RestoreKey(ctx context.Context, versions []KeyVersion, evs ...eventgrid.Event) error {
	defer c.invalidateKeys()
	return c.Store.RestoreKey(ctx, versions, evs...)
}

// clone returns a copy of v that shares no memory with it.
func (v Vault) clone() Vault {
	v.Tags = maps.Clone(v.Tags)
	v.InitialAdmins = slices.Clone(v.InitialAdmins)
	if v.AccessPolicies != nil {
		ps := make([]AccessPolicy, len(v.AccessPolicies))
		for i, p := range v.AccessPolicies {
			p.Keys = slices.Clone(p.Keys)
			p.Secrets = slices.Clone(p.Secrets)
			p.Certificates = slices.Clone(p.Certificates)
			p.Storage = slices.Clone(p.Storage)
			ps[i] = p
		}
		v.AccessPolicies = ps
	}
	return v
}

// clone returns a copy of kv that shares no memory with it.
func (kv KeyVersion) clone() KeyVersion {
	kv.Public.N = slices.Clone(kv.Public.N)
	kv.Public.E = slices.Clone(kv.Public.E)
	kv.Public.X = slices.Clone(kv.Public.X)
	kv.Public.Y = slices.Clone(kv.Public.Y)
	kv.Ops = slices.Clone(kv.Ops)
	if kv.ReleasePolicy != nil {
		rp := *kv.ReleasePolicy
		rp.Data = slices.Clone(rp.Data)
		kv.ReleasePolicy = &rp
	}
	kv.Tags = maps.Clone(kv.Tags)
	kv.Handle = slices.Clone(kv.Handle)
	return kv
}
