package kvtest

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/keyvault"
)

// memStore is an in-memory keyvault.Store. Values are copied in and out so
// that callers cannot alias stored state, and times are kept as the SQL
// stores keep them: in UTC, to the second.
type memStore struct {
	mu     sync.Mutex
	vaults map[string]keyvault.Vault // by ID
	keys   map[keyID]*memKey
	seq    int64 // of the last version created
	outbox []eventgrid.Raised
}

// raise appends evs to the outbox; the caller holds mu and has made the
// change they report.
func (s *memStore) raise(evs []eventgrid.Event) {
	for _, e := range evs {
		var seq int64 = 1
		if n := len(s.outbox); n > 0 {
			seq = s.outbox[n-1].Seq + 1
		}
		e.Data = slices.Clone(e.Data)
		e.Time = norm(e.Time)
		s.outbox = append(s.outbox, eventgrid.Raised{Seq: seq, Event: e})
	}
}

// Outbox returns up to max events raised, oldest first, as the event
// stores' Outbox does; the in-memory store keeps them all.
func (s *memStore) Outbox(ctx context.Context, max int) ([]eventgrid.Raised, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.outbox[:min(max, len(s.outbox))])
	for i := range out {
		out[i].Event.Data = slices.Clone(out[i].Event.Data)
	}
	return out, nil
}

// keyID identifies a key; name is lower-cased, as key names compare
// case-insensitively.
type keyID struct{ vaultID, name string }

func keyOf(vaultID, name string) keyID { return keyID{vaultID, strings.ToLower(name)} }

type memKey struct {
	versions []memVersion       // in creation order
	deletion *keyvault.Deletion // nil unless deleted, whatever the times say
	policy   *keyvault.RotationPolicy
}

// memVersion is a version with its place in the order of creation, which
// continuations of KeyVersions point at.
type memVersion struct {
	seq int64
	kv  keyvault.KeyVersion
}

func (k *memKey) deleted() bool               { return k.deletion != nil }
func (k *memKey) newest() keyvault.KeyVersion { return copyVersion(k.versions[len(k.versions)-1].kv) }
func (k *memKey) deletedKey() keyvault.DeletedKey {
	return keyvault.DeletedKey{Latest: k.newest(), Deletion: *k.deletion}
}

// NewMemStore returns an empty in-memory Store. It passes TestStore and
// serves as a fake in tests of keyvault's users.
func NewMemStore() keyvault.Store {
	return &memStore{vaults: map[string]keyvault.Vault{}, keys: map[keyID]*memKey{}}
}

func notFound(format string, args ...any) error {
	return tresor.Errorf(tresor.NotFound, format+" not found", args...)
}

// norm returns t as a Store keeps it.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

func copyVault(v keyvault.Vault) keyvault.Vault {
	v.Tags = maps.Clone(v.Tags)
	v.AccessPolicies = slices.Clone(v.AccessPolicies)
	for i, p := range v.AccessPolicies {
		p.Keys, p.Secrets = slices.Clone(p.Keys), slices.Clone(p.Secrets)
		p.Certificates, p.Storage = slices.Clone(p.Certificates), slices.Clone(p.Storage)
		v.AccessPolicies[i] = p
	}
	v.InitialAdmins = slices.Clone(v.InitialAdmins)
	v.Created, v.Updated, v.Deleted, v.PurgeAt = norm(v.Created), norm(v.Updated), norm(v.Deleted), norm(v.PurgeAt)
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
	kv.NotBefore, kv.Expires, kv.Created, kv.Updated = norm(kv.NotBefore), norm(kv.Expires), norm(kv.Created), norm(kv.Updated)
	kv.RotationDue, kv.ExpiryEventDue = norm(kv.RotationDue), norm(kv.ExpiryEventDue)
	return kv
}

func copyPolicy(p keyvault.RotationPolicy) keyvault.RotationPolicy {
	p.Actions = slices.Clone(p.Actions)
	p.Created, p.Updated = norm(p.Created), norm(p.Updated)
	return p
}

func copyDeletion(d keyvault.Deletion) keyvault.Deletion {
	return keyvault.Deletion{Deleted: norm(d.Deleted), PurgeAt: norm(d.PurgeAt)}
}

// byName finds the vault of a kind and name; names compare as in DNS.
func (s *memStore) byName(kind keyvault.VaultKind, name string) (keyvault.Vault, bool) {
	for _, v := range s.vaults {
		if v.Kind == kind && strings.EqualFold(v.Name, name) {
			return v, true
		}
	}
	return keyvault.Vault{}, false
}

func (s *memStore) CreateVault(ctx context.Context, v keyvault.Vault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName(v.Kind, v.Name); ok {
		return tresor.Errorf(tresor.Conflict, "vault %s exists", v.Name)
	}
	if _, ok := s.vaults[v.ID]; ok {
		return tresor.Errorf(tresor.Conflict, "vault id %s exists", v.ID)
	}
	s.vaults[v.ID] = copyVault(v)
	return nil
}

func (s *memStore) UpdateVault(ctx context.Context, v keyvault.Vault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vaults[v.ID]; !ok {
		return notFound("vault %s", v.Name)
	}
	if o, ok := s.byName(v.Kind, v.Name); ok && o.ID != v.ID {
		return tresor.Errorf(tresor.Conflict, "vault %s exists", v.Name)
	}
	s.vaults[v.ID] = copyVault(v)
	return nil
}

func (s *memStore) Vault(ctx context.Context, kind keyvault.VaultKind, name string) (keyvault.Vault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.byName(kind, name); ok {
		return copyVault(v), nil
	}
	return keyvault.Vault{}, notFound("vault %s", name)
}

func (s *memStore) Vaults(ctx context.Context, f keyvault.VaultFilter) ([]keyvault.Vault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keyvault.Vault
	for _, v := range s.vaults {
		if (f.Kind == "" || v.Kind == f.Kind) &&
			(f.SubscriptionID == "" || strings.EqualFold(v.SubscriptionID, f.SubscriptionID)) &&
			(f.ResourceGroup == "" || strings.EqualFold(v.ResourceGroup, f.ResourceGroup)) &&
			v.IsDeleted() == f.Deleted {
			out = append(out, copyVault(v))
		}
	}
	slices.SortFunc(out, func(a, b keyvault.Vault) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Kind, b.Kind))
	})
	return out, nil
}

func (s *memStore) PurgeVault(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vaults[id]; !ok {
		return notFound("vault %s", id)
	}
	delete(s.vaults, id)
	for k := range s.keys {
		if k.vaultID == id {
			delete(s.keys, k)
		}
	}
	return nil
}

func (s *memStore) CreateKeyVersion(ctx context.Context, kv keyvault.KeyVersion, evs ...eventgrid.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vaults[kv.VaultID]; !ok {
		return notFound("vault %s", kv.VaultID)
	}
	id := keyOf(kv.VaultID, kv.Name)
	k := s.keys[id]
	if k == nil {
		k = &memKey{}
	}
	if k.deleted() {
		return tresor.Errorf(tresor.Conflict, "key %s is deleted", kv.Name)
	}
	if k.version(kv.Version) >= 0 {
		return tresor.Errorf(tresor.Conflict, "key %s version %s exists", kv.Name, kv.Version)
	}
	s.seq++
	for i := range k.versions {
		k.versions[i].kv.RotationDue, k.versions[i].kv.ExpiryEventDue = time.Time{}, time.Time{}
	}
	k.versions = append(k.versions, memVersion{s.seq, copyVersion(kv)})
	s.keys[id] = k
	s.raise(evs)
	return nil
}

func (s *memStore) KeyVersionCount(ctx context.Context, vaultID, name string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[keyOf(vaultID, name)]; k != nil {
		return len(k.versions), nil
	}
	return 0, nil
}

func (s *memStore) RotationPolicy(ctx context.Context, vaultID, name string) (keyvault.RotationPolicy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[keyOf(vaultID, name)]
	if k == nil || k.policy == nil {
		return keyvault.RotationPolicy{}, notFound("rotation policy of %s", name)
	}
	p := copyPolicy(*k.policy)
	p.Name = k.versions[0].kv.Name
	return p, nil
}

func (s *memStore) PutRotationPolicy(ctx context.Context, p keyvault.RotationPolicy, cur keyvault.KeyVersion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(p.VaultID, p.Name)
	if err != nil {
		return err
	}
	if newest := &k.versions[len(k.versions)-1].kv; newest.Version != cur.Version {
		return tresor.Errorf(tresor.Conflict, "version %s of key %s is not its newest", cur.Version, p.Name)
	} else {
		newest.RotationDue, newest.ExpiryEventDue = norm(cur.RotationDue), norm(cur.ExpiryEventDue)
	}
	cp := copyPolicy(p)
	k.policy = &cp
	return nil
}

func (s *memStore) DueRotations(ctx context.Context, now time.Time, max int) ([]keyvault.DueKey, error) {
	return s.due(now, max, func(kv keyvault.KeyVersion) time.Time { return kv.RotationDue }), nil
}

func (s *memStore) DueExpiryEvents(ctx context.Context, now time.Time, max int) ([]keyvault.DueKey, error) {
	return s.due(now, max, func(kv keyvault.KeyVersion) time.Time { return kv.ExpiryEventDue }), nil
}

// due lists the live keys whose newest version's time when is due at now.
func (s *memStore) due(now time.Time, max int, when func(keyvault.KeyVersion) time.Time) []keyvault.DueKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keyvault.DueKey
	for _, k := range s.keys {
		newest := k.versions[len(k.versions)-1].kv
		v, ok := s.vaults[newest.VaultID]
		if due := when(newest); ok && v.Deleted.IsZero() && !k.deleted() && !due.IsZero() && !due.After(now) {
			out = append(out, keyvault.DueKey{VaultID: newest.VaultID, VaultKind: v.Kind, VaultName: v.Name, Name: newest.Name, Due: due})
		}
	}
	slices.SortFunc(out, func(a, b keyvault.DueKey) int {
		return cmp.Or(a.Due.Compare(b.Due), strings.Compare(a.VaultID, b.VaultID), strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)))
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// version returns the index of a version, or -1.
func (k *memKey) version(version string) int {
	return slices.IndexFunc(k.versions, func(v memVersion) bool { return v.kv.Version == version })
}

// live returns a key that is not deleted.
func (s *memStore) live(vaultID, name string) (*memKey, error) {
	k := s.keys[keyOf(vaultID, name)]
	if k == nil || k.deleted() {
		return nil, notFound("key %s", name)
	}
	return k, nil
}

// deleted returns a deleted key.
func (s *memStore) deleted(vaultID, name string) (*memKey, error) {
	k := s.keys[keyOf(vaultID, name)]
	if k == nil || !k.deleted() {
		return nil, notFound("deleted key %s", name)
	}
	return k, nil
}

func (s *memStore) UpdateKeyVersion(ctx context.Context, kv keyvault.KeyVersion, evs ...eventgrid.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(kv.VaultID, kv.Name)
	if err != nil {
		return err
	}
	i := k.version(kv.Version)
	if i < 0 {
		return notFound("key %s version %s", kv.Name, kv.Version)
	}
	k.versions[i].kv = copyVersion(kv)
	s.raise(evs)
	return nil
}

func (s *memStore) KeyVersion(ctx context.Context, vaultID, name, version string) (keyvault.KeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return keyvault.KeyVersion{}, err
	}
	if version == "" {
		return k.newest(), nil
	}
	i := k.version(version)
	if i < 0 {
		return keyvault.KeyVersion{}, notFound("key %s version %s", name, version)
	}
	return copyVersion(k.versions[i].kv), nil
}

// pageOf returns up to p.Max of items, which are sorted by key, after the
// continuation p.After, and the continuation for the next page. A
// continuation is the key of the last item returned.
func pageOf[T any](items []T, key func(T) string, p keyvault.Page) ([]T, string, error) {
	size := p.Max
	if size <= 0 || size > 25 {
		size = 25
	}
	start := 0
	if p.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.After)
		if err != nil {
			return nil, "", tresor.Errorf(tresor.Invalid, "invalid continuation %q", p.After)
		}
		start, _ = slices.BinarySearchFunc(items, string(b), func(it T, after string) int {
			if key(it) <= after {
				return -1
			}
			return 1
		})
	}
	items = items[start:]
	if len(items) <= size {
		return items, "", nil
	}
	return items[:size], base64.RawURLEncoding.EncodeToString([]byte(key(items[size-1]))), nil
}

// keysOf returns the keys of a vault that are deleted or not, ordered by
// name.
func (s *memStore) keysOf(vaultID string, deleted bool) []*memKey {
	var names []string
	for id, k := range s.keys {
		if id.vaultID == vaultID && k.deleted() == deleted {
			names = append(names, id.name)
		}
	}
	slices.Sort(names)
	out := make([]*memKey, len(names))
	for i, name := range names {
		out[i] = s.keys[keyOf(vaultID, name)]
	}
	return out
}

func (s *memStore) Keys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []keyvault.KeyVersion
	for _, k := range s.keysOf(vaultID, false) {
		all = append(all, k.newest())
	}
	return pageOf(all, func(kv keyvault.KeyVersion) string { return strings.ToLower(kv.Name) }, p)
}

func (s *memStore) KeyVersions(ctx context.Context, vaultID, name string, p keyvault.Page) ([]keyvault.KeyVersion, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return nil, "", err
	}
	// Sequence numbers are zero-padded so that they sort as strings.
	page, next, err := pageOf(k.versions, func(v memVersion) string { return fmt.Sprintf("%019d", v.seq) }, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]keyvault.KeyVersion, len(page))
	for i, v := range page {
		out[i] = copyVersion(v.kv)
	}
	return out, next, nil
}

func (s *memStore) DeleteKey(ctx context.Context, vaultID, name string, d keyvault.Deletion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.live(vaultID, name)
	if err != nil {
		return err
	}
	d = copyDeletion(d)
	k.deletion = &d
	return nil
}

func (s *memStore) DeletedKey(ctx context.Context, vaultID, name string) (keyvault.DeletedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.deleted(vaultID, name)
	if err != nil {
		return keyvault.DeletedKey{}, err
	}
	return k.deletedKey(), nil
}

func (s *memStore) DeletedKeys(ctx context.Context, vaultID string, p keyvault.Page) ([]keyvault.DeletedKey, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []keyvault.DeletedKey
	for _, k := range s.keysOf(vaultID, true) {
		all = append(all, k.deletedKey())
	}
	return pageOf(all, func(d keyvault.DeletedKey) string { return strings.ToLower(d.Latest.Name) }, p)
}

func (s *memStore) RecoverKey(ctx context.Context, vaultID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.deleted(vaultID, name)
	if err != nil {
		return err
	}
	k.deletion = nil
	return nil
}

func (s *memStore) PurgeKey(ctx context.Context, vaultID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := keyOf(vaultID, name)
	if s.keys[id] == nil {
		return notFound("key %s", name)
	}
	delete(s.keys, id)
	return nil
}

func (s *memStore) RestoreKey(ctx context.Context, versions []keyvault.KeyVersion, evs ...eventgrid.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(versions) == 0 {
		return tresor.Errorf(tresor.Invalid, "restore key: no versions")
	}
	id := keyOf(versions[0].VaultID, versions[0].Name)
	if _, ok := s.vaults[id.vaultID]; !ok {
		return notFound("vault %s", id.vaultID)
	}
	if s.keys[id] != nil {
		return tresor.Errorf(tresor.Conflict, "key %s exists", id.name)
	}
	// Build the key aside and add it only once every version checks out.
	k := &memKey{}
	seq := s.seq
	for _, kv := range versions {
		if keyOf(kv.VaultID, kv.Name) != id {
			return tresor.Errorf(tresor.Invalid, "restore key: versions of %s and %s", id.name, kv.Name)
		}
		if k.version(kv.Version) >= 0 {
			return tresor.Errorf(tresor.Conflict, "restore key: version %s twice", kv.Version)
		}
		seq++
		k.versions = append(k.versions, memVersion{seq, copyVersion(kv)})
	}
	s.keys[id], s.seq = k, seq
	s.raise(evs)
	return nil
}

func (s *memStore) DuePurges(ctx context.Context, now time.Time, max int) ([]keyvault.DuePurge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []keyvault.DuePurge
	for _, k := range s.keys {
		if k.deleted() && !k.deletion.PurgeAt.After(now) {
			newest := k.versions[len(k.versions)-1].kv
			v := s.vaults[newest.VaultID]
			out = append(out, keyvault.DuePurge{VaultID: v.ID, VaultKind: v.Kind, VaultName: v.Name, Key: newest.Name, PurgeAt: k.deletion.PurgeAt})
		}
	}
	for _, v := range s.vaults {
		if v.IsDeleted() && !v.PurgeAt.After(now) {
			out = append(out, keyvault.DuePurge{VaultID: v.ID, VaultKind: v.Kind, VaultName: v.Name, PurgeAt: v.PurgeAt})
		}
	}
	slices.SortFunc(out, func(a, b keyvault.DuePurge) int {
		isVault := func(d keyvault.DuePurge) int {
			if d.Key == "" {
				return 1
			}
			return 0
		}
		return cmp.Or(a.PurgeAt.Compare(b.PurgeAt), isVault(a)-isVault(b), strings.Compare(a.VaultID, b.VaultID), strings.Compare(a.Key, b.Key))
	})
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}
