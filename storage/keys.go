package storage

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// keyCache keeps unwrapped account keys for a short time, so that the data
// plane does not ask the key service for every request. An entry belongs to
// one incarnation of an account (its name and creation time): an account
// deleted and created again under the name has a new key.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	aek     []byte
	expires time.Time
}

func (c *keyCache) get(id string, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e.aek, true
}

func (c *keyCache) put(id string, aek []byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedKey{}
	}
	c.m[id] = cachedKey{aek: aek, expires: expires}
}

// drop forgets every incarnation of the account name.
func (c *keyCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.m {
		if len(id) > len(name) && id[:len(name)] == name && id[len(name)] == '/' {
			delete(c.m, id)
		}
	}
}

// AccountKey returns the account encryption key of the account name, for
// the data plane: from memory if it was unwrapped less than KeyCacheTTL
// ago (real time), else unwrapped now. Forbidden (ReasonKeyNotFound) if
// its customer-managed key does not unwrap it; NotFound if there is no
// such account. Callers must not modify the key.
func (s *Service) AccountKey(ctx context.Context, name string) ([]byte, error) {
	a, err := s.Store.Account(ctx, name)
	if err != nil {
		return nil, err
	}
	id := a.Name + "/" + strconv.FormatInt(a.Created.Unix(), 10)
	now := time.Now()
	if aek, ok := s.cache.get(id, now); ok {
		return aek, nil
	}
	aek, err := s.openAEK(ctx, a)
	if err != nil {
		return nil, err
	}
	if ttl := s.cacheTTL(); ttl > 0 {
		s.cache.put(id, aek, now.Add(ttl))
	}
	return aek, nil
}

// cacheTTL is how long an unwrapped key may be kept; 0 or less keeps none.
func (s *Service) cacheTTL() time.Duration {
	if s.KeyCacheTTL == 0 {
		return DefaultKeyCacheTTL
	}
	return s.KeyCacheTTL
}

// KeyCheckResult reports what RefreshKeyVersions did.
type KeyCheckResult struct {
	// Rotated lists the accounts that moved to a new key version.
	Rotated []string
	// Failed lists the accounts whose key could not be checked or used,
	// with why; they keep their current version and try again a whole
	// interval later.
	Failed map[string]error
}

// RefreshKeyVersions is the scheduler's work: every account that follows
// its key's newest version and is due to look for one does so, and moves
// to a new version by re-wrapping its account key, one unwrap and one
// wrap. Its cost grows with the due accounts.
func (s *Service) RefreshKeyVersions(ctx context.Context) (KeyCheckResult, error) {
	res := KeyCheckResult{Failed: map[string]error{}}
	now := s.now()
	seen := map[string]bool{} // an account that could not be moved on is not met twice
	for {
		due, err := s.Store.DueKeyChecks(ctx, now, 100)
		if err != nil {
			return res, err
		}
		fresh := 0
		for _, d := range due {
			if seen[d.Name] {
				continue
			}
			seen[d.Name] = true
			fresh++
			rotated, err := s.refresh(ctx, d.Name, now)
			if err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				res.Failed[d.Name] = err
			}
			if rotated {
				res.Rotated = append(res.Rotated, d.Name)
			}
		}
		if fresh == 0 {
			return res, s.refreshScopes(ctx, now, &res)
		}
	}
}

// refresh checks one account at now and always moves its next check on,
// so that a failing account does not hold up the others.
func (s *Service) refresh(ctx context.Context, name string, now time.Time) (rotated bool, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.Store.Account(ctx, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if a.Encryption.NextKeyCheck.IsZero() || a.Encryption.NextKeyCheck.After(now) {
		return false, nil // changed meanwhile
	}
	next := a
	next.Encryption.NextKeyCheck = now.Add(s.checkInterval())
	if a.Encryption.KeySource != CustomerManaged || a.Encryption.Key.Version != "" {
		next.Encryption.NextKeyCheck = time.Time{}
	}
	var checkErr error
	if next.Encryption.NextKeyCheck.After(now) {
		rotated, checkErr = s.rewrapToNewest(ctx, &next, now)
	}
	if err := s.Store.UpdateAccount(ctx, next); err != nil {
		return false, err
	}
	return rotated, checkErr
}

// rewrapToNewest moves a to its key's newest version if there is a newer
// one than the version in use.
func (s *Service) rewrapToNewest(ctx context.Context, a *Account, now time.Time) (bool, error) {
	id, err := a.keyIdentity()
	if err != nil {
		return false, err
	}
	v, err := s.Keys.Check(ctx, id, a.Encryption.Key)
	if err != nil {
		return false, err
	}
	if v.ID == a.Encryption.CurrentKeyID {
		a.Encryption.CurrentKeyExpires = v.Expires
		return false, nil
	}
	aek, err := s.openAEK(ctx, *a)
	if err != nil {
		return false, err
	}
	wrapped, err := s.Keys.Wrap(ctx, id, v.ID, aek)
	if err != nil {
		return false, err
	}
	a.AEK = WrappedKey{KeyID: v.ID, Wrapped: wrapped}
	a.Encryption.CurrentKeyID, a.Encryption.CurrentKeyExpires, a.Encryption.LastKeyRotation = v.ID, v.Expires, now
	return true, nil
}

// NextKeyCheck returns when the earliest key-version check is due, or
// zero: the scheduler's Next.
func (s *Service) NextKeyCheck(ctx context.Context) (time.Time, error) {
	far := time.Unix(1<<40, 0)
	due, err := s.Store.DueKeyChecks(ctx, far, 1)
	if err != nil {
		return time.Time{}, err
	}
	scopes, err := s.Store.DueScopeKeyChecks(ctx, far, 1)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	if len(due) > 0 {
		next = due[0].Due
	}
	if len(scopes) > 0 && (next.IsZero() || scopes[0].Due.Before(next)) {
		next = scopes[0].Due
	}
	return next, nil
}
