// Package kvtest supports testing keyvault: TestStore, the conformance
// suite every keyvault.Store implementation passes, and NewMemStore, an
// in-memory Store that passes it and serves as a fake.
package kvtest

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/keyvault"
)

// memStore is an in-memory keyvault.Store. Values are copied in and out so
// that callers cannot alias stored state.
type memStore struct {
	mu     sync.Mutex
	vaults map[string]keyvault.Vault // by ID
	keys   map[string]*memKey        // by vaultID + "/" + name
	seq    int
}

type memKey struct {
	versions []keyvault.KeyVersion // oldest first
	deletion keyvault.Deletion
}

func (k *memKey) deleted() bool { return !k.deletion.Deleted.IsZero() }

// NewMemStore returns an empty in-memory Store.
func NewMemStore() keyvault.Store {
	return &memStore{vaults: map[string]keyvault.Vault{}, keys: map[string]*memKey{}}
}

func notFound(what string) error { return tresor.Errorf(tresor.NotFound, "%s not found", what) }

func copyVault(v keyvault.Vault) keyvault.Vault {
	v.Tags = maps.Clone(v.Tags)
	v.AccessPolicies = slices.Clone(v.AccessPolicies)
	for i, p := range v.AccessPolicies {
		p.Keys, p.Secrets, p.Certificates, p.Storage = slices.Clone(p.Keys), slices.Clone(p.Secrets), slices.Clone(p.Certificates), slices.Clone(p.Storage)
		v.AccessPolicies[i] = p
	}
	v.InitialAdmins = slices.Clone(v.InitialAdmins)
	return v
}

func copyVersion(kv keyvault.KeyVersion) keyvault.KeyVersion {
	kv.Ops = slices.Clone(kv.Ops)
	kv.Tags = maps.Clone(kv.Tags)
	kv.Handle = slices.Clone(kv.Handle)
	kv.Public.N, kv.Public.E = slices.Clone(kv.Public.N), slices.Clone(kv.Public.E)
	kv.Public.X, kv.Public.Y = slices.Clone(kv.Public.X), slices.Clone(kv.Public.Y)
	if kv.ReleasePolicy != nil {
		rp := *kv.ReleasePolicy
		rp.Data = slices.Clone(rp.Data)
		kv.ReleasePolicy = &rp
	}
	return kv
}

func (s *memStore) CreateVault(ctx context.Context, v keyvault.Vault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.vaults {
		if o.Kind == v.Kind && strings.EqualFold(o.Name, v.Name) {
			return tresor.Errorf(tresor.Conflict, "vault %s exists", v.Name)
		}
	}
	s.vaults[v.ID] = copyVault(v)
	return nil
}

func (s *memStore) UpdateVault(ctx context.Context, v keyvault.Vault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vaults[v.ID]; !ok {
		return notFound("vault " + v.Name)
	}
	s.vaults[v.ID] = copyVault(v)
	return nil
}

func (s *memStore) Vault(ctx context.Context, kind keyvault.VaultKind, name string) (keyvault.Vault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vaults {
		if v.Kind == kind && strings.EqualFold(v.Name, name) {
			return copyVault(v), nil
		}
	}
	return keyvault.Vault{}, notFound("vault " + name)
}

func (s *memStore) Vaults(ctx context.Context, f keyvault.VaultFilter) ([]keyvault.Vault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keyvault.Vault
	for _, v := range s.vaults {
		if (f.Kind == "" || v.Kind == f.Kind) && (f.SubscriptionID == "" || v.SubscriptionID == f.SubscriptionID) &&
			(f.ResourceGroup == "" || strings.EqualFold(v.ResourceGroup, f.ResourceGroup)) && v.IsDeleted() == f.Deleted {
			out = append(out, copyVault(v))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *memStore) PurgeVault(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vaults[id]; !ok {
		return notFound("vault")
	}
	delete(s.vaults, id)
	for k := range s.keys {
		if strings.HasPrefix(k, id+"/") {
			delete(s.keys, k)
		}
	}
	return nil
}

func (s *memStore) CreateKeyVersion(ctx context.Context, kv keyvault.KeyVersion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := kv.VaultID + "/" + kv.Name
	k := s.keys[id]
	if k == nil {
		k = &memKey{}
		s.keys[id] = k
	}
	if k.deleted() {
		return tresor.Errorf(tresor.Conflict, "key %s is deleted", kv.Name)
	}
	for _, v := range k.versions {
		if v.Version == kv.Version {
			return tresor.Errorf(tresor.Conflict, "version %s exists", kv.Version)
		}
	}
	k.versions = append(k.versions, copyVersion(kv))
	return nil
}

func (s *memStore) live(vaultID, name string) (*memKey, error) {
	k := s.keys[vaultID+"/"+name]
	if k == nil || k.deleted() || len(k.versions) == 0 {
		return nil, notFound("key " + name)
	}
	return k, nil
}

func (s *memStore) UpdateKeyVersion(ctx context.Context, kv keyvault.KeyVersion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(kv.VaultID, kv.Name)
	if err != nil {
		return err
	}
	for i, v := range k.versions {
		if v.Version == kv.Version {
			k.versions[i] = copyVersion(kv)
			return nil
		}
	}
	return notFound("key version " + kv.Version)
}

func (s *memStore) KeyVersion(ctx context.Context, vaultID, name, version string) (keyvault.KeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return keyvault.KeyVersion{}, err
	}
	if version == "" {
		return copyVersion(k.versions[len(k.versions)-1]), nil
	}
	for _, v := range k.versions {
		if v.Version == version {
			return copyVersion(v), nil
		}
	}
	return keyvault.KeyVersion{}, notFound("key version " + version)
}

// pageOf returns up to p.Max items after the continuation, and the next
// continuation. Continuations encode the sort key of the last item.
func pageOf[T any](items []T, sortKey func(T) string, p keyvault.Page) ([]T, string) {
	max := p.Max
	if max <= 0 || max > 25 {
		max = 25
	}
	after := ""
	if p.After != "" {
		b, _ := base64.RawURLEncoding.DecodeString(p.After)
		after = string(b)
	}
	var out []T
	for _, it := range items {
		if after != "" && sortKey(it) <= after {
			continue
		}
		if len(out) == max {
			return out, base64.RawURLEncoding.EncodeToString([]byte(sortKey(out[len(out)-1])))
		}
		out = append(out, it)
	}
	return out, ""
}

func (s *memStore) Keys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []keyvault.KeyVersion
	for id, k := range s.keys {
		if strings.HasPrefix(id, vaultID+"/") && !k.deleted() && len(k.versions) > 0 {
			all = append(all, copyVersion(k.versions[len(k.versions)-1]))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	out, next := pageOf(all, func(kv keyvault.KeyVersion) string { return kv.Name }, p)
	return out, next, nil
}

func (s *memStore) KeyVersions(ctx context.Context, vaultID, name string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return nil, "", err
	}
	all := make([]keyvault.KeyVersion, len(k.versions))
	idx := map[string]string{}
	for i, v := range k.versions {
		all[i] = copyVersion(v)
		idx[v.Version] = seqKey(i)
	}
	out, next := pageOf(all, func(kv keyvault.KeyVersion) string { return idx[kv.Version] }, p)
	return out, next, nil
}

func seqKey(i int) string { return fmt.Sprintf("%010d", i) }

func (s *memStore) DeleteKey(ctx context.Context, vaultID, name string, d keyvault.Deletion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return err
	}
	k.deletion = d
	return nil
}

func (s *memStore) deletedKey(id string, k *memKey) keyvault.DeletedKey {
	return keyvault.DeletedKey{Latest: copyVersion(k.versions[len(k.versions)-1]), Deletion: k.deletion}
}

func (s *memStore) DeletedKey(ctx context.Context, vaultID, name string) (keyvault.DeletedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[vaultID+"/"+name]
	if k == nil || !k.deleted() {
		return keyvault.DeletedKey{}, notFound("deleted key " + name)
	}
	return s.deletedKey(name, k), nil
}

func (s *memStore) DeletedKeys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []keyvault.DeletedKey
	for id, k := range s.keys {
		if strings.HasPrefix(id, vaultID+"/") && k.deleted() {
			all = append(all, s.deletedKey(id, k))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Latest.Name < all[j].Latest.Name })
	out, next := pageOf(all, func(d keyvault.DeletedKey) string { return d.Latest.Name }, p)
	return out, next, nil
}

func (s *memStore) RecoverKey(ctx context.Context, vaultID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[vaultID+"/"+name]
	if k == nil || !k.deleted() {
		return notFound("deleted key " + name)
	}
	k.deletion = keyvault.Deletion{}
	return nil
}

func (s *memStore) PurgeKey(ctx context.Context, vaultID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[vaultID+"/"+name] == nil {
		return notFound("key " + name)
	}
	delete(s.keys, vaultID+"/"+name)
	return nil
}

func (s *memStore) RestoreKey(ctx context.Context, versions []keyvault.KeyVersion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(versions) == 0 {
		return tresor.Errorf(tresor.Invalid, "nothing to restore")
	}
	id := versions[0].VaultID + "/" + versions[0].Name
	if s.keys[id] != nil {
		return tresor.Errorf(tresor.Conflict, "key %s exists", versions[0].Name)
	}
	k := &memKey{}
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v.Version] || v.VaultID+"/"+v.Name != id {
			return tresor.Errorf(tresor.Conflict, "duplicate or foreign version %s", v.Version)
		}
		seen[v.Version] = true
		k.versions = append(k.versions, copyVersion(v))
	}
	s.keys[id] = k
	return nil
}
