package storage

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/cmk"
)

// ScopeCustomerManaged is an encryption scope's source when its key is
// protected by a customer-managed key. Azure spells it with a capital V
// here, unlike an account's keySource (CustomerManaged).
const ScopeCustomerManaged KeySource = "Microsoft.KeyVault"

// Encryption scope states.
const (
	ScopeEnabled  = "Enabled"
	ScopeDisabled = "Disabled"
)

// The data plane's answers about scopes, as Kind and Reason of its
// errors (the Blob API's codes; Azure documents no dedicated ones).
const (
	// ReasonScopeNotFound is a request naming a scope the account does not
	// have (400).
	ReasonScopeNotFound = "InvalidHeaderValue"
	// ReasonScopeDisabled is a request using a disabled scope (403).
	ReasonScopeDisabled = "AuthorizationFailure"
)

// A Scope is an encryption scope of an account: a key of its own, the
// scope encryption key (SEK), under which the Blob API encrypts the blobs
// written in the scope. Scopes cannot be deleted, only disabled; a
// disabled scope's blobs can be neither read nor written.
type Scope struct {
	Account string
	Name    string
	// Source is MicrosoftManaged (the SEK sealed under tresor's root key)
	// or ScopeCustomerManaged (wrapped by Key through the account's
	// encryption identity).
	Source  KeySource
	Enabled bool
	// Key is the customer-managed key; an empty Key.Version follows the
	// newest version, checked daily as accounts do.
	Key                             cmk.Ref
	CurrentKeyID                    string
	LastKeyRotation                 time.Time
	NextKeyCheck                    time.Time
	RequireInfrastructureEncryption bool
	Created, Modified               time.Time
	SEK                             WrappedKey
}

// State returns Azure's spelling of s's state.
func (s Scope) State() string {
	if s.Enabled {
		return ScopeEnabled
	}
	return ScopeDisabled
}

// ScopeSpec is what a request asks of a scope. In an update, zero fields
// keep what the scope has.
type ScopeSpec struct {
	Source KeySource
	// KeyURI is the customer-managed key, versioned or not.
	KeyURI                          string
	State                           string
	RequireInfrastructureEncryption *bool
}

var scopeNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,62}$`)

// MaxScopes is how many encryption scopes an account may have, as in
// Azure.
const MaxScopes = 10000

// PutScope creates the scope name of an account, or updates it if it
// exists, and reports whether it created it.
func (s *Service) PutScope(ctx context.Context, subscriptionID, group, account, name string, sp ScopeSpec) (Scope, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.get(ctx, subscriptionID, group, account)
	if err != nil {
		return Scope{}, false, err
	}
	cur, err := s.Store.Scope(ctx, a.Name, name)
	switch {
	case err == nil:
		sc, err := s.updateScope(ctx, a, cur, sp)
		return sc, false, err
	case !tresor.IsKind(err, tresor.NotFound):
		return Scope{}, false, err
	}
	if !scopeNamePattern.MatchString(name) {
		return Scope{}, false, tresor.Errorf(tresor.Invalid,
			"The encryption scope name %q is invalid: 3 to 63 lower-case letters, digits and single hyphens between them.", clip(name)).
			WithReason("InvalidEncryptionScopeName")
	}
	all, err := s.Store.Scopes(ctx, a.Name)
	if err != nil {
		return Scope{}, false, err
	}
	if len(all) >= MaxScopes {
		return Scope{}, false, tresor.Errorf(tresor.Invalid, "Storage account %s has %d encryption scopes, the most it may have.", a.Name, MaxScopes).
			WithReason("EncryptionScopeLimitExceeded")
	}
	now := s.now()
	sc := Scope{Account: a.Name, Name: name, Enabled: true, Created: now, Modified: now,
		RequireInfrastructureEncryption: a.Encryption.RequireInfrastructureEncryption}
	if sp.RequireInfrastructureEncryption != nil && *sp.RequireInfrastructureEncryption {
		sc.RequireInfrastructureEncryption = true
	}
	if sp.State != "" {
		if sc.Enabled, err = scopeState(sp.State); err != nil {
			return Scope{}, false, err
		}
	}
	if err := s.protectScope(ctx, a, &sc, sp, s.random(32)); err != nil {
		return Scope{}, false, err
	}
	if err := s.Store.PutScope(ctx, sc); err != nil {
		return Scope{}, false, err
	}
	return sc, true, nil
}

// PatchScope updates the scope name of an account. NotFound if it has
// none of that name.
func (s *Service) PatchScope(ctx context.Context, subscriptionID, group, account, name string, sp ScopeSpec) (Scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.get(ctx, subscriptionID, group, account)
	if err != nil {
		return Scope{}, err
	}
	cur, err := s.scope(ctx, a.Name, name)
	if err != nil {
		return Scope{}, err
	}
	return s.updateScope(ctx, a, cur, sp)
}

// updateScope applies sp to cur: a new state, or a new key source, which
// re-wraps the SEK (never the blobs).
func (s *Service) updateScope(ctx context.Context, a Account, cur Scope, sp ScopeSpec) (Scope, error) {
	if sp.RequireInfrastructureEncryption != nil && *sp.RequireInfrastructureEncryption != cur.RequireInfrastructureEncryption {
		return Scope{}, invalidEncryption("requireInfrastructureEncryption is set when a scope is created and cannot change.")
	}
	sc := cur
	if sp.State != "" {
		var err error
		if sc.Enabled, err = scopeState(sp.State); err != nil {
			return Scope{}, err
		}
	}
	if sp.Source != "" || sp.KeyURI != "" {
		if sp.Source == "" {
			sp.Source = cur.Source
		}
		sek, err := s.openSEK(ctx, a, cur)
		if err != nil {
			return Scope{}, err
		}
		if err := s.protectScope(ctx, a, &sc, sp, sek); err != nil {
			return Scope{}, err
		}
	}
	sc.Modified = s.now()
	if err := s.Store.PutScope(ctx, sc); err != nil {
		return Scope{}, err
	}
	s.cache.drop(a.Name) // a disabled scope's key must not outlive it
	return sc, nil
}

func scopeState(state string) (bool, error) {
	switch state {
	case ScopeEnabled:
		return true, nil
	case ScopeDisabled:
		return false, nil
	}
	return false, tresor.Errorf(tresor.Invalid, "The state %q is not Enabled or Disabled.", clip(state)).WithReason("InvalidEncryptionScopeState")
}

// protectScope sets sc's source and key from sp and wraps sek accordingly.
func (s *Service) protectScope(ctx context.Context, a Account, sc *Scope, sp ScopeSpec, sek []byte) error {
	now := s.now()
	switch sp.Source {
	case "", MicrosoftManaged:
		if sp.KeyURI != "" {
			return invalidEncryption("keyVaultProperties.keyUri is for the source Microsoft.KeyVault only.")
		}
		sc.Source, sc.Key, sc.CurrentKeyID, sc.LastKeyRotation, sc.NextKeyCheck = MicrosoftManaged, cmk.Ref{}, "", time.Time{}, time.Time{}
		sc.SEK = WrappedKey{Wrapped: s.Seal.Seal(sek, sc.sekBinding(a))}
		return nil
	case ScopeCustomerManaged:
	default:
		return invalidEncryption("The source '%s' is not Microsoft.Storage or Microsoft.KeyVault.", clip(string(sp.Source)))
	}
	if sp.KeyURI == "" {
		return invalidEncryption("An encryption scope with the source Microsoft.KeyVault needs keyVaultProperties.keyUri.")
	}
	ref, err := cmk.ParseKeyURI(sp.KeyURI)
	if err != nil {
		return err
	}
	id, err := a.keyIdentity()
	if err != nil {
		return invalidEncryption("An encryption scope uses the key through the account's encryption identity: %s", tresor.MessageOf(err))
	}
	v, err := s.Keys.Check(ctx, id, ref)
	if err != nil {
		return err
	}
	wrapped, err := s.Keys.Wrap(ctx, id, v.ID, sek)
	if err != nil {
		return err
	}
	if sc.Source != ScopeCustomerManaged || sc.CurrentKeyID != v.ID {
		sc.LastKeyRotation = now
	}
	sc.Source, sc.Key, sc.CurrentKeyID = ScopeCustomerManaged, ref, v.ID
	sc.NextKeyCheck = time.Time{}
	if ref.Version == "" {
		sc.NextKeyCheck = now.Add(s.checkInterval())
	}
	sc.SEK = WrappedKey{KeyID: v.ID, Wrapped: wrapped}
	return nil
}

// openSEK unwraps sc's key as the account does: with its CMK through the
// account's encryption identity, or from the root key. Forbidden
// (ReasonKeyNotFound) if the CMK does not unwrap it.
func (s *Service) openSEK(ctx context.Context, a Account, sc Scope) ([]byte, error) {
	return s.openKey(ctx, a, sc.SEK, sc.sekBinding(a))
}

func (sc Scope) sekBinding(a Account) []byte {
	return []byte("storage/" + a.Name + "/" + strconv.FormatInt(a.Created.Unix(), 10) + "/scope/" + sc.Name)
}

// GetScope returns the scope name of an account.
func (s *Service) GetScope(ctx context.Context, subscriptionID, group, account, name string) (Scope, error) {
	a, err := s.get(ctx, subscriptionID, group, account)
	if err != nil {
		return Scope{}, err
	}
	return s.scope(ctx, a.Name, name)
}

func (s *Service) scope(ctx context.Context, account, name string) (Scope, error) {
	sc, err := s.Store.Scope(ctx, account, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return Scope{}, tresor.Errorf(tresor.NotFound, "The encryption scope %s was not found in storage account %s.", clip(name), account).
			WithReason("EncryptionScopeNotFound")
	}
	return sc, err
}

// ListScopes lists an account's scopes, ordered by name.
func (s *Service) ListScopes(ctx context.Context, subscriptionID, group, account string) ([]Scope, error) {
	a, err := s.get(ctx, subscriptionID, group, account)
	if err != nil {
		return nil, err
	}
	return s.Store.Scopes(ctx, a.Name)
}

// Key returns the key of an encryption scope of the account for the data
// plane; scope "" is the account encryption key (AccountKey). Errors are
// the data plane's: see CheckScope, and Forbidden (ReasonKeyNotFound) when
// the scope's customer-managed key does not unwrap it. A scope's key is
// cached as the account's is (KeyCacheTTL); its state is read each time,
// so disabling a scope takes effect at once.
func (s *Service) Key(ctx context.Context, account, scope string) ([]byte, error) {
	if scope == "" {
		return s.AccountKey(ctx, account)
	}
	a, sc, err := s.dataScope(ctx, account, scope)
	if err != nil {
		return nil, err
	}
	id := a.Name + "/" + strconv.FormatInt(a.Created.Unix(), 10) + "/" + sc.Name + "/" + strconv.FormatInt(sc.Modified.UnixNano(), 10)
	now := time.Now()
	if sek, ok := s.cache.get(id, now); ok {
		return sek, nil
	}
	sek, err := s.openSEK(ctx, a, sc)
	if err != nil {
		return nil, err
	}
	if ttl := s.cacheTTL(); ttl > 0 {
		s.cache.put(id, sek, now.Add(ttl))
	}
	return sek, nil
}

// CheckScope reports whether the account has the scope and it is enabled,
// without unwrapping anything: Invalid (ReasonScopeNotFound) if it has no
// such scope, Forbidden (ReasonScopeDisabled) if it is disabled, NotFound
// if there is no such account. "" (the account's own key) always passes.
func (s *Service) CheckScope(ctx context.Context, account, scope string) error {
	if scope == "" {
		_, err := s.Store.Account(ctx, account)
		return err
	}
	_, _, err := s.dataScope(ctx, account, scope)
	return err
}

func (s *Service) dataScope(ctx context.Context, account, scope string) (Account, Scope, error) {
	a, err := s.Store.Account(ctx, account)
	if err != nil {
		return Account{}, Scope{}, err
	}
	sc, err := s.Store.Scope(ctx, a.Name, scope)
	if tresor.IsKind(err, tresor.NotFound) {
		return Account{}, Scope{}, tresor.Errorf(tresor.Invalid, "The encryption scope %s does not exist in storage account %s.", clip(scope), a.Name).
			WithReason(ReasonScopeNotFound)
	}
	if err != nil {
		return Account{}, Scope{}, err
	}
	if !sc.Enabled {
		return Account{}, Scope{}, tresor.Errorf(tresor.Forbidden, "The encryption scope %s of storage account %s is disabled.", sc.Name, a.Name).
			WithReason(ReasonScopeDisabled)
	}
	return a, sc, nil
}

// DueScopeKeyCheck names a scope due to look for a new key version.
type DueScopeKeyCheck struct {
	Account, Scope string
	Due            time.Time
}

// refreshScopes is RefreshKeyVersions for encryption scopes: each due
// scope that follows its key's newest version moves to a new one by
// re-wrapping its key. Rotated and failed scopes are named
// "{account}/{scope}".
func (s *Service) refreshScopes(ctx context.Context, now time.Time, res *KeyCheckResult) error {
	seen := map[DueScopeKeyCheck]bool{}
	for {
		due, err := s.Store.DueScopeKeyChecks(ctx, now, 100)
		if err != nil {
			return err
		}
		fresh := 0
		for _, d := range due {
			d.Due = time.Time{}
			if seen[d] {
				continue
			}
			seen[d] = true
			fresh++
			rotated, err := s.refreshScope(ctx, d.Account, d.Scope, now)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				res.Failed[d.Account+"/"+d.Scope] = err
			}
			if rotated {
				res.Rotated = append(res.Rotated, d.Account+"/"+d.Scope)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
}

// refreshScope checks one scope at now and always moves its next check on.
func (s *Service) refreshScope(ctx context.Context, account, name string, now time.Time) (rotated bool, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.Store.Account(ctx, account)
	if err != nil {
		return false, err
	}
	sc, err := s.Store.Scope(ctx, a.Name, name)
	if err != nil {
		return false, err
	}
	if sc.NextKeyCheck.IsZero() || sc.NextKeyCheck.After(now) {
		return false, nil // changed meanwhile
	}
	next := sc
	next.NextKeyCheck = time.Time{}
	var checkErr error
	if sc.Source == ScopeCustomerManaged && sc.Key.Version == "" {
		next.NextKeyCheck = now.Add(s.checkInterval())
		rotated, checkErr = s.rewrapScope(ctx, a, &next, now)
	}
	if err := s.Store.PutScope(ctx, next); err != nil {
		return false, err
	}
	return rotated, checkErr
}

// rewrapScope moves sc to its key's newest version if there is a newer one.
func (s *Service) rewrapScope(ctx context.Context, a Account, sc *Scope, now time.Time) (bool, error) {
	id, err := a.keyIdentity()
	if err != nil {
		return false, err
	}
	v, err := s.Keys.Check(ctx, id, sc.Key)
	if err != nil {
		return false, err
	}
	if v.ID == sc.CurrentKeyID {
		return false, nil
	}
	sek, err := s.openSEK(ctx, a, *sc)
	if err != nil {
		return false, err
	}
	wrapped, err := s.Keys.Wrap(ctx, id, v.ID, sek)
	if err != nil {
		return false, err
	}
	sc.SEK = WrappedKey{KeyID: v.ID, Wrapped: wrapped}
	sc.CurrentKeyID, sc.LastKeyRotation = v.ID, now
	return true, nil
}
