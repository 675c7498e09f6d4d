package keyvault

import (
	"context"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/internal/period"
)

// A Key Vault raises Event Grid events about its keys; a Managed HSM raises
// none, as in Azure:
//
//   - KeyNewVersionCreated when a key or a version is created, imported,
//     rotated (on demand or by policy) or restored (for its newest
//     version);
//   - KeyNearExpiry when the newest version comes within the rotation
//     policy's Notify time of its expiry (30 days unless a policy says
//     otherwise; a policy without Notify raises none);
//   - KeyExpired when the newest version expires.
//
// Each event is written with the change it reports, in one transaction
// (see Store.CreateKeyVersion). Older versions raise no expiry events: only
// the newest, the key's current version, does, as Azure documents.

// keyEvent returns the event of type typ about kv at time at, or none
// outside a Key Vault.
func (s *Service) keyEvent(v Vault, typ string, kv KeyVersion, at time.Time) []eventgrid.Event {
	if v.Kind != KeyVault {
		return nil
	}
	base := ""
	if s.VaultURL != nil {
		base = s.VaultURL(v.Kind, v.Name)
	}
	return []eventgrid.Event{eventgrid.NewKeyEvent(s.Rand, eventgrid.KeyEvent{
		Type: typ, Topic: v.ARMID(), VaultName: v.Name, KeyID: base + "/keys/" + kv.Name + "/" + kv.Version,
		Name: kv.Name, Version: kv.Version, NotBefore: kv.NotBefore, Expires: kv.Expires, Time: at,
	})}
}

// notifyBefore returns how long before expiry p's Notify action fires;
// zero if p has none.
func notifyBefore(p RotationPolicy) period.Period {
	for _, a := range p.Actions {
		if a.Type == LifetimeNotify {
			return a.TimeBeforeExpiry
		}
	}
	return period.Period{}
}

// nextExpiryEvent returns when the first expiry event of cur, as its key's
// newest version under policy p, falls due; zero if it has none.
func nextExpiryEvent(v Vault, p RotationPolicy, cur KeyVersion) time.Time {
	if v.Kind != KeyVault || cur.Expires.IsZero() {
		return time.Time{}
	}
	if n := notifyBefore(p); !n.IsZero() {
		return n.SubFrom(cur.Expires)
	}
	return cur.Expires
}

// RaiseExpiryEvents raises every KeyNearExpiry and KeyExpired event due at
// the Service's current time and returns them: the scheduler's work, with
// no caller to authorize. Its cost grows with the due events.
func (s *Service) RaiseExpiryEvents(ctx context.Context) ([]eventgrid.Event, error) {
	var raised []eventgrid.Event
	now := s.now()
	for {
		due, err := s.Store.DueExpiryEvents(ctx, now, dueBatch)
		if err != nil || len(due) == 0 {
			return raised, err
		}
		progress := false
		for _, d := range due {
			evs, moved, err := s.raiseExpiryEvent(ctx, d, now)
			if err != nil {
				return raised, err
			}
			raised = append(raised, evs...)
			progress = progress || moved
		}
		if !progress {
			return raised, nil
		}
	}
}

// raiseExpiryEvent raises the due expiry event of one key, if it is still
// due, and moves its schedule on; moved reports whether the schedule
// changed.
func (s *Service) raiseExpiryEvent(ctx context.Context, d DueKey, now time.Time) (_ []eventgrid.Event, moved bool, _ error) {
	unlock := s.lockKey(d.VaultID, d.Name)
	defer unlock()
	cur, err := s.Store.KeyVersion(ctx, d.VaultID, d.Name, "")
	if tresor.IsKind(err, tresor.NotFound) {
		return nil, false, nil // deleted meanwhile
	}
	if err != nil || cur.ExpiryEventDue.IsZero() || cur.ExpiryEventDue.After(now) {
		return nil, false, err // not due after all: a change moved it
	}
	v, err := s.Store.Vault(ctx, d.VaultKind, d.VaultName)
	if err != nil && !tresor.IsKind(err, tresor.NotFound) {
		return nil, false, err
	}
	var evs []eventgrid.Event
	switch {
	case err != nil || v.ID != d.VaultID:
		cur.ExpiryEventDue = time.Time{} // the vault is gone
	case cur.ExpiryEventDue.Before(cur.Expires):
		evs = s.keyEvent(v, eventgrid.KeyNearExpiry, cur, now)
		cur.ExpiryEventDue = cur.Expires
	default:
		evs = s.keyEvent(v, eventgrid.KeyExpired, cur, now)
		cur.ExpiryEventDue = time.Time{}
	}
	err = s.Store.UpdateKeyVersion(ctx, cur, evs...)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return evs, true, nil
}

// NextExpiryEvent returns when the earliest expiry event is due (it may be
// past), or the zero time if none is: the scheduler's Next.
func (s *Service) NextExpiryEvent(ctx context.Context) (time.Time, error) {
	due, err := s.Store.DueExpiryEvents(ctx, time.Unix(1<<40, 0), 1)
	if err != nil || len(due) == 0 {
		return time.Time{}, err
	}
	return due[0].Due, nil
}
