package compute

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
)

// DefaultKeyCheckInterval is how often a DES that follows its key's newest
// version looks for a new one. Azure moves such a DES "within one hour".
const DefaultKeyCheckInterval = time.Hour

// ReasonIdentityNotFound is the AutoKeyRotationError code of a DES that
// has no identity through which to use its key (identity None, or its
// user-assigned identity detached). The other codes are the reasons of
// the key change that failed: cmk's (KeyVaultAccessForbidden,
// KeyVaultKeyNotFound, KeyVaultVaultNotFound, ...) and
// ReasonKeyNotUnwrapped.
const ReasonIdentityNotFound = "ManagedServiceIdentityNotFound"

// DueKeyCheck names a DES due to look for a new key version.
type DueKeyCheck struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
	Due            time.Time
}

// KeyCheckResult reports what RefreshKeyVersions did.
type KeyCheckResult struct {
	// Rotated lists the DESs that moved to a new key version.
	Rotated []KeyChange
	// Failed maps the id of each DES whose check or move failed to why.
	// Each keeps its key and tries again a whole interval later.
	Failed map[string]error
}

// KeyChange is a DES's automatic move to a new key version.
type KeyChange struct {
	ID     string // the DES's ARM id
	KeyURL string // the new active key
}

func (s *Service) keyCheckInterval() time.Duration {
	if s.KeyCheckInterval > 0 {
		return s.KeyCheckInterval
	}
	return DefaultKeyCheckInterval
}

// scheduleKeyCheck keeps next's key-version check in step with its
// settings as cur becomes next: a DES that starts to follow its key's
// newest version first looks one interval from now, one that stops never
// looks again and forgets its last failure. A change of the active key,
// by hand or automatic, clears that failure too: the DES is on a key that
// works.
func (s *Service) scheduleKeyCheck(cur DiskEncryptionSet, next *DiskEncryptionSet) {
	if !strings.EqualFold(cur.ActiveKey.KeyURL, next.ActiveKey.KeyURL) {
		next.AutoKeyRotationError = APIError{}
	}
	switch {
	case !next.RotationToLatestKeyVersionEnabled:
		next.NextKeyCheck, next.AutoKeyRotationError = time.Time{}, APIError{}
	case !cur.RotationToLatestKeyVersionEnabled || next.NextKeyCheck.IsZero():
		next.NextKeyCheck = s.now().Add(s.keyCheckInterval())
	}
}

// RefreshKeyVersions is the scheduler's work: every DES that follows its
// key's newest version and is due to look for one does so and, if the
// newest version is not the one in use, moves to it by the ordinary key
// change (the intermediate key re-wrapped: one check of the newest
// version, then one unwrap, one check and one wrap). A DES whose check or
// move fails keeps its key and reports why in AutoKeyRotationError until
// a later check or a change of its key succeeds. Its cost grows with the
// due DESs.
func (s *Service) RefreshKeyVersions(ctx context.Context) (KeyCheckResult, error) {
	res := KeyCheckResult{Failed: map[string]error{}}
	now := s.now()
	seen := map[string]bool{} // a DES that could not be moved on is not met twice
	for {
		due, err := s.Store.DueDiskEncryptionSetKeyChecks(ctx, now, 100)
		if err != nil {
			return res, err
		}
		fresh := 0
		for _, k := range due {
			id := DiskEncryptionSet{SubscriptionID: k.SubscriptionID, ResourceGroup: k.ResourceGroup, Name: k.Name}.ID()
			if seen[strings.ToLower(id)] {
				continue
			}
			seen[strings.ToLower(id)] = true
			fresh++
			moved, err := s.refresh(ctx, k, now)
			if err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				res.Failed[id] = err
			}
			if moved != nil {
				res.Rotated = append(res.Rotated, *moved)
			}
		}
		if fresh == 0 {
			return res, nil
		}
	}
}

// refresh checks one DES at now and always moves its next check on, so
// that a failing DES does not hold up the others.
func (s *Service) refresh(ctx context.Context, k DueKeyCheck, now time.Time) (*KeyChange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Store.DiskEncryptionSet(ctx, k.SubscriptionID, k.ResourceGroup, k.Name)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if cur.NextKeyCheck.IsZero() || cur.NextKeyCheck.After(now) {
		return nil, nil // changed meanwhile
	}
	next := cur
	next.NextKeyCheck = now.Add(s.keyCheckInterval())
	switch {
	case !cur.RotationToLatestKeyVersionEnabled || cur.EncryptionType == ConfidentialVMEncryptedWithCustomerKey:
		// Not reachable through CreateOrUpdate and Update; a DES that
		// does not follow its key is never checked.
		next.NextKeyCheck, next.AutoKeyRotationError = time.Time{}, APIError{}
		return nil, s.Store.UpdateDiskEncryptionSet(ctx, next)
	case len(cur.Previous) > 0:
		// A key change stopped half-way: complete it; look for a newer
		// version at the next check.
		if err := s.Store.UpdateDiskEncryptionSet(ctx, next); err != nil {
			return nil, err
		}
		_, err := s.rotate(context.WithoutCancel(ctx), next, map[int][]byte{})
		return nil, err
	}
	key, newer, err := s.newestKey(ctx, cur)
	if err == nil && !newer {
		next.AutoKeyRotationError = APIError{}
		return nil, s.Store.UpdateDiskEncryptionSet(ctx, next)
	}
	if err == nil {
		var d DiskEncryptionSet
		if d, err = s.rotateTo(ctx, next, key); err == nil {
			return &KeyChange{ID: d.ID(), KeyURL: d.ActiveKey.KeyURL}, nil
		}
	}
	// The failed move may have stored part of a rotation (a new
	// generation, Updating): record the failure on what is stored now,
	// never on the copy read before it.
	if fresh, ferr := s.Store.DiskEncryptionSet(ctx, k.SubscriptionID, k.ResourceGroup, k.Name); ferr == nil {
		next = fresh
		next.NextKeyCheck = now.Add(s.keyCheckInterval())
	} else {
		return nil, errors.Join(err, ferr)
	}
	if e, ok := rotationError(cur, err); ok {
		next.AutoKeyRotationError = e
	}
	if serr := s.Store.UpdateDiskEncryptionSet(ctx, next); serr != nil {
		return nil, errors.Join(err, serr)
	}
	return nil, err
}

// newestKey finds the newest version of d's key as d's identity and
// reports whether it is newer than the version d uses; key is then that
// version, in the same vault as d's key.
func (s *Service) newestKey(ctx context.Context, d DiskEncryptionSet) (key KeyRef, newer bool, _ error) {
	ref, err := cmk.ParseKeyURI(d.ActiveKey.KeyURL)
	if err != nil {
		return KeyRef{}, false, err
	}
	id, err := d.keyIdentity()
	if err != nil {
		return KeyRef{}, false, err
	}
	v, err := s.Keys.Check(ctx, id, cmk.Ref{VaultURI: ref.VaultURI, Name: ref.Name})
	if err != nil {
		return KeyRef{}, false, err
	}
	if strings.EqualFold(v.Version, ref.Version) {
		return KeyRef{}, false, nil
	}
	return KeyRef{SourceVaultID: d.ActiveKey.SourceVaultID, KeyURL: v.ID}, true, nil
}

// rotateTo moves cur to key by the DES's ordinary key change, as an update
// of activeKey would: the one seam between automatic rotation and the
// key-change path.
func (s *Service) rotateTo(ctx context.Context, cur DiskEncryptionSet, key KeyRef) (DiskEncryptionSet, error) {
	return s.update(ctx, cur, Spec{ActiveKey: &key})
}

// rotationError is how a failed check or move of d shows in
// AutoKeyRotationError: the failure's reason as code or, without one, the
// code its Kind implies (as ARM's would). ok is false for a failure of
// tresor's own (Internal, Unavailable), which is logged and leaves the
// DES's error as it was.
func rotationError(d DiskEncryptionSet, err error) (_ APIError, ok bool) {
	code := tresor.ReasonOf(err)
	switch {
	case code == msi.ReasonInvalidIdentity:
		code = ReasonIdentityNotFound
	case code != "":
	case tresor.IsKind(err, tresor.Forbidden):
		code = cmk.ReasonAccessDenied
	case tresor.IsKind(err, tresor.NotFound):
		code = cmk.ReasonKeyNotFound
	case tresor.IsKind(err, tresor.Invalid):
		code = "BadRequest"
	case tresor.IsKind(err, tresor.Conflict):
		code = "Conflict"
	default:
		return APIError{}, false
	}
	return APIError{Code: code, Message: "The disk encryption set " + d.Name + " could not move to the newest version of its key and stays on " +
		d.ActiveKey.KeyURL + "; it tries again at its next check. " + tresor.MessageOf(err)}, true
}

// NextKeyCheck returns when the earliest key-version check is due, or
// zero: the scheduler's Next.
func (s *Service) NextKeyCheck(ctx context.Context) (time.Time, error) {
	due, err := s.Store.DueDiskEncryptionSetKeyChecks(ctx, time.Unix(1<<40, 0), 1)
	if err != nil || len(due) == 0 {
		return time.Time{}, err
	}
	return due[0].Due, nil
}
