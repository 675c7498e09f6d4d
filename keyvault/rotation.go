package keyvault

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/internal/period"
)

// ActionType is what a lifetime action does when its trigger fires.
type ActionType string

// The lifetime actions. Notify exists in Key Vault only, where it raises
// the KeyNearExpiry event; Managed HSM has no events.
const (
	LifetimeRotate ActionType = "Rotate"
	LifetimeNotify ActionType = "Notify"
)

// LifetimeAction is one entry of a rotation policy: an action and the
// trigger that fires it, either some time after the current version was
// created or some time before it expires (exactly one is set).
type LifetimeAction struct {
	Type             ActionType
	TimeAfterCreate  period.Period
	TimeBeforeExpiry period.Period
}

// RotationPolicy is a key's rotation policy. A key that never had one has
// the default policy (DefaultRotationPolicy), whose Created is zero.
type RotationPolicy struct {
	VaultID string
	Name    string // the key's name
	Actions []LifetimeAction
	// ExpiryTime is the lifetime of the versions that rotation creates:
	// each gets exp = created + ExpiryTime. Empty means no expiry.
	ExpiryTime period.Period
	Created    time.Time
	Updated    time.Time
}

// Set reports whether the policy was set explicitly.
func (p RotationPolicy) Set() bool { return !p.Created.IsZero() }

// Rotates reports whether the policy has a Rotate action.
func (p RotationPolicy) Rotates() bool {
	for _, a := range p.Actions {
		if a.Type == LifetimeRotate {
			return true
		}
	}
	return false
}

// Limits of rotation policies, as Azure documents them: no rotation more
// often than every 28 days, versions that live at least 28 days, and a
// Key Vault notification or rotation no closer than 7 days to the
// version's creation or expiry.
var (
	minRotationInterval = period.MustParse("P28D")
	minExpiryTime       = period.MustParse("P28D")
	minTriggerDistance  = period.MustParse("P7D")
	defaultNotify       = period.MustParse("P30D")
)

// MaxHSMKeyVersions is the number of versions a Managed HSM key may have;
// versions from creation, import and rotation all count.
const MaxHSMKeyVersions = 100

// DefaultRotationPolicy is the policy of a key that never had one: in Key
// Vault a notification 30 days before expiry, in a Managed HSM nothing.
func DefaultRotationPolicy(v Vault, name string) RotationPolicy {
	p := RotationPolicy{VaultID: v.ID, Name: name, Actions: []LifetimeAction{}}
	if v.Kind == KeyVault {
		p.Actions = []LifetimeAction{{Type: LifetimeNotify, TimeBeforeExpiry: defaultNotify}}
	}
	return p
}

// ReasonBadParameter is Key Vault's code for a malformed request value.
const ReasonBadParameter = "BadParameter"

func badPolicy(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, "Invalid rotation policy: "+format, args...).WithReason(ReasonBadParameter)
}

// normalizePolicy checks a policy as a client set it and returns it as it
// is stored: action types capitalised, and in a Key Vault a Notify 30 days
// before expiry added when the policy has none, as Azure does. An empty
// list of actions removes every action (in a Managed HSM, the policy).
func normalizePolicy(v Vault, p RotationPolicy) (RotationPolicy, error) {
	if len(p.Actions) > 2 {
		return RotationPolicy{}, badPolicy("a policy has at most two lifetime actions, one Rotate and one Notify; it has %d.", len(p.Actions))
	}
	if !p.ExpiryTime.IsZero() && p.ExpiryTime.Nominal() < minExpiryTime.Nominal() {
		return RotationPolicy{}, badPolicy("expiryTime %s is shorter than the minimum of %s.", p.ExpiryTime, minExpiryTime)
	}
	p.Actions = slices.Clone(p.Actions) // the caller's slice stays as it was
	seen := map[ActionType]bool{}
	for i, a := range p.Actions {
		switch ActionType(strings.ToLower(string(a.Type))) {
		case "rotate":
			a.Type = LifetimeRotate
		case "notify":
			a.Type = LifetimeNotify
		default:
			return RotationPolicy{}, badPolicy("the action type %q is not Rotate or Notify.", clipText(string(a.Type)))
		}
		if a.Type == LifetimeNotify && v.Kind == ManagedHSM {
			return RotationPolicy{}, badPolicy("a Managed HSM has no events, so its policies cannot Notify.")
		}
		if seen[a.Type] {
			return RotationPolicy{}, badPolicy("the action %s appears twice.", a.Type)
		}
		seen[a.Type] = true
		after, before := !a.TimeAfterCreate.IsZero(), !a.TimeBeforeExpiry.IsZero()
		switch {
		case after == before:
			return RotationPolicy{}, badPolicy("the %s action needs exactly one trigger, timeAfterCreate or timeBeforeExpiry.", a.Type)
		case after && a.Type == LifetimeNotify:
			return RotationPolicy{}, badPolicy("a Notify action is triggered by timeBeforeExpiry only.")
		case after && a.Type == LifetimeRotate && a.TimeAfterCreate.Nominal() < minRotationInterval.Nominal():
			return RotationPolicy{}, badPolicy("timeAfterCreate %s would rotate more often than the minimum of every %s.", a.TimeAfterCreate, minRotationInterval)
		case before && a.TimeBeforeExpiry.Nominal() < minTriggerDistance.Nominal():
			return RotationPolicy{}, badPolicy("timeBeforeExpiry %s is shorter than the minimum of %s.", a.TimeBeforeExpiry, minTriggerDistance)
		case before && a.Type == LifetimeRotate && p.ExpiryTime.IsZero():
			return RotationPolicy{}, badPolicy("a Rotate action triggered by timeBeforeExpiry needs the policy's expiryTime, which sets the expiry of the versions it creates.")
		case before && a.Type == LifetimeRotate && p.ExpiryTime.Sub(a.TimeBeforeExpiry) < minRotationInterval.Nominal():
			return RotationPolicy{}, badPolicy("timeBeforeExpiry %s must be at most expiryTime %s minus %s, so that versions live %s before rotating.",
				a.TimeBeforeExpiry, p.ExpiryTime, minRotationInterval, minRotationInterval)
		}
		p.Actions[i] = a
	}
	if v.Kind == KeyVault && len(p.Actions) > 0 && !seen[LifetimeNotify] {
		p.Actions = append(p.Actions, LifetimeAction{Type: LifetimeNotify, TimeBeforeExpiry: defaultNotify})
	}
	return p, nil
}

// nextRotation returns when the policy rotates a key whose newest version
// is cur, or the zero time if it does not: timeAfterCreate after the
// version's creation, or timeBeforeExpiry before its expiry. A version
// without expiry never reaches that trigger, as the seed says ("the key
// must have an expiry date for this to fire"); versions created by
// rotation get one from the policy's expiryTime.
func nextRotation(p RotationPolicy, cur KeyVersion) time.Time {
	for _, a := range p.Actions {
		if a.Type != LifetimeRotate {
			continue
		}
		switch {
		case !a.TimeAfterCreate.IsZero():
			return a.TimeAfterCreate.AddTo(cur.Created)
		case !cur.Expires.IsZero():
			return a.TimeBeforeExpiry.SubFrom(cur.Expires)
		}
	}
	return time.Time{}
}

// GetKeyRotationPolicy returns a key's rotation policy, or the default
// policy if none was set. NotFound if the key does not exist.
func (s *Service) GetKeyRotationPolicy(ctx context.Context, v Vault, name string) (RotationPolicy, error) {
	if err := s.authorize(ctx, v, name, ActionGetRotationPolicy); err != nil {
		return RotationPolicy{}, err
	}
	cur, err := s.key(ctx, v, name, "")
	if err != nil {
		return RotationPolicy{}, err
	}
	return s.rotationPolicy(ctx, v, cur.Name)
}

// rotationPolicy returns the stored policy or the default one.
func (s *Service) rotationPolicy(ctx context.Context, v Vault, name string) (RotationPolicy, error) {
	p, err := s.Store.RotationPolicy(ctx, v.ID, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return DefaultRotationPolicy(v, name), nil
	}
	return p, err
}

// UpdateKeyRotationPolicy replaces a key's rotation policy and returns it
// as stored. The key's next rotation is rescheduled under it at once.
// Invalid (ReasonBadParameter) for a policy Azure refuses, such as a
// rotation more often than every 28 days; NotFound if the key does not
// exist.
func (s *Service) UpdateKeyRotationPolicy(ctx context.Context, v Vault, name string, p RotationPolicy) (RotationPolicy, error) {
	if err := s.authorize(ctx, v, name, ActionSetRotationPolicy); err != nil {
		return RotationPolicy{}, err
	}
	p, err := normalizePolicy(v, p)
	if err != nil {
		return RotationPolicy{}, err
	}
	unlock := s.lockKey(v.ID, name)
	defer unlock()
	cur, err := s.key(ctx, v, name, "")
	if err != nil {
		return RotationPolicy{}, err
	}
	old, err := s.rotationPolicy(ctx, v, cur.Name)
	if err != nil {
		return RotationPolicy{}, err
	}
	now := s.now()
	p.VaultID, p.Name, p.Created, p.Updated = v.ID, cur.Name, old.Created, now
	if p.Created.IsZero() {
		p.Created = now
	}
	cur.RotationDue = nextRotation(p, cur)
	// A new Notify time re-arms the expiry events; otherwise they stay.
	if notifyBefore(p) != notifyBefore(old) {
		cur.ExpiryEventDue = nextExpiryEvent(v, p, cur)
	}
	if err := s.Store.PutRotationPolicy(ctx, p, cur); err != nil {
		return RotationPolicy{}, err
	}
	return p, nil
}

// RotateKey creates a new version of a key with the same type, size or
// curve, operations and tags, valid from now and, if the policy has an
// expiryTime, expiring that long after. A Key Vault key rotates with or
// without a policy; a Managed HSM key needs one (Invalid otherwise), and
// at most MaxHSMKeyVersions versions (Invalid for one more).
func (s *Service) RotateKey(ctx context.Context, v Vault, name string) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionRotate); err != nil {
		return KeyVersion{}, err
	}
	return s.rotate(ctx, v, name, false)
}

// rotate rotates a key; scheduled says the scheduler asked, in which case
// the key rotates only if it is still due.
func (s *Service) rotate(ctx context.Context, v Vault, name string, scheduled bool) (KeyVersion, error) {
	unlock := s.lockKey(v.ID, name)
	defer unlock()
	cur, err := s.key(ctx, v, name, "")
	if err != nil {
		return KeyVersion{}, err
	}
	p, err := s.rotationPolicy(ctx, v, cur.Name)
	if err != nil {
		return KeyVersion{}, err
	}
	now := s.now()
	if scheduled {
		due := nextRotation(p, cur)
		if due.IsZero() || due.After(now) {
			// Not due after all (the key or policy changed since the
			// schedule was read): correct the schedule.
			if !due.Equal(cur.RotationDue) {
				cur.RotationDue = due
				err = s.Store.UpdateKeyVersion(ctx, cur)
			}
			return KeyVersion{}, err
		}
	}
	if v.Kind == ManagedHSM && !p.Set() {
		return KeyVersion{}, tresor.Errorf(tresor.Invalid,
			"Key %s has no rotation policy. A Managed HSM rotates a key on demand only after a rotation policy is set.", cur.Name).WithReason(ReasonBadParameter)
	}
	if err := s.checkVersionLimit(ctx, v, cur.Name); err != nil {
		return KeyVersion{}, err
	}
	spec := hsmSpec(cur)
	kv := KeyVersion{Type: cur.Type, Size: cur.Size, Curve: cur.Curve, Enabled: true, Tags: cur.Tags, Exportable: cur.Exportable, ReleasePolicy: cur.ReleasePolicy}
	if err := s.fillNew(&kv, v, cur.Name, cur.Ops, Attributes{}, nil); err != nil {
		return KeyVersion{}, err
	}
	if !p.ExpiryTime.IsZero() {
		kv.Expires = p.ExpiryTime.AddTo(kv.Created)
	}
	kv.RotationDue = nextRotation(p, kv)
	kv.ExpiryEventDue = nextExpiryEvent(v, p, kv)
	h, pub, err := s.HSM.Generate(ctx, spec, binding(v.ID, cur.Name, kv.Version))
	if err != nil {
		return KeyVersion{}, hsmError(err, "rotate key")
	}
	kv.Handle, kv.Public = h, pub
	return kv, s.createVersion(ctx, v, kv)
}

// hsmSpec returns the generation parameters of a version, for a new
// version like it.
func hsmSpec(kv KeyVersion) hsm.Spec {
	spec := hsm.Spec{Type: kv.Type.Family(), Size: kv.Size, Curve: kv.Curve}
	if spec.Type == hsm.RSA && len(kv.Public.E) > 0 && len(kv.Public.E) <= 4 {
		e := 0
		for _, b := range kv.Public.E {
			e = e<<8 | int(b)
		}
		if e != 65537 {
			spec.PublicExponent = e
		}
	}
	return spec
}

// checkVersionLimit refuses a new version of a Managed HSM key that has
// MaxHSMKeyVersions already.
func (s *Service) checkVersionLimit(ctx context.Context, v Vault, name string) error {
	if v.Kind != ManagedHSM {
		return nil
	}
	n, err := s.Store.KeyVersionCount(ctx, v.ID, name)
	if err != nil || n < MaxHSMKeyVersions {
		return err
	}
	return tresor.Errorf(tresor.Invalid,
		"Key %s has reached the limit of %d versions of a Managed HSM key; versions from creation, import and rotation all count. Create a new key instead.",
		name, MaxHSMKeyVersions).WithReason(ReasonBadParameter)
}

// keyLocks serialises the changes to one key that decide its rotation
// schedule (new versions, expiry changes, policy changes), so that the
// schedule stored with the newest version always reflects the newest
// policy. Keys hash onto a fixed set of mutexes.
type keyLocks [64]sync.Mutex

// lockKey locks the key's stripe and returns the unlock function.
func (s *Service) lockKey(vaultID, name string) func() {
	h := fnv.New32a()
	h.Write([]byte(vaultID))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(name)))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// clipText shortens caller-supplied text that is echoed in a message.
func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// dueBatch is how many due keys RotateDue reads at a time.
const dueBatch = 256

// RotationResult reports what RotateDue did.
type RotationResult struct {
	Rotated []Rotation // in the order of the keys' due times
	// Failed lists the keys that were due but could not rotate (a Managed
	// HSM key at its version limit, a key whose vault is gone), with why.
	// Their schedule is cleared so that they are not retried every tick;
	// the next policy change or version reschedules them.
	Failed []RotationFailure
}

// Rotation is a key that RotateDue rotated, with its new version.
type Rotation struct {
	Key DueKey
	New KeyVersion
}

// RotationFailure is a key that RotateDue could not rotate.
type RotationFailure struct {
	Key DueKey
	Err error
}

// RotateDue rotates every key whose policy makes it due at the Service's
// current time, earliest due first, each once: the new version is due
// again only a whole period later. It is the scheduler's work; it acts
// with no caller, so nothing is authorized. Its cost grows with the due
// keys, not with all keys.
func (s *Service) RotateDue(ctx context.Context) (RotationResult, error) {
	var res RotationResult
	now := s.now()
	for {
		due, err := s.Store.DueRotations(ctx, now, dueBatch)
		if err != nil || len(due) == 0 {
			return res, err
		}
		progress := false
		for _, d := range due {
			kv, err := s.rotateDue(ctx, d)
			switch {
			case err != nil && ctx.Err() != nil:
				return res, ctx.Err()
			case err != nil:
				res.Failed = append(res.Failed, RotationFailure{Key: d, Err: err})
				if err := s.unschedule(ctx, d); err != nil {
					return res, err
				}
				progress = true
			case kv.Version != "":
				res.Rotated = append(res.Rotated, Rotation{Key: d, New: kv})
				progress = true
			default:
				progress = true // not due after all; rescheduled
			}
		}
		if !progress {
			return res, nil
		}
	}
}

// rotateDue rotates one due key; a zero KeyVersion means it was not due
// after all.
func (s *Service) rotateDue(ctx context.Context, d DueKey) (KeyVersion, error) {
	v, err := s.Store.Vault(ctx, d.VaultKind, d.VaultName)
	if err != nil {
		return KeyVersion{}, err
	}
	if v.ID != d.VaultID || v.IsDeleted() {
		return KeyVersion{}, tresor.Errorf(tresor.NotFound, "the vault of key %s is gone", d.Name)
	}
	return s.rotate(ctx, v, d.Name, true)
}

// unschedule clears the rotation schedule of a key that failed to rotate.
func (s *Service) unschedule(ctx context.Context, d DueKey) error {
	unlock := s.lockKey(d.VaultID, d.Name)
	defer unlock()
	cur, err := s.Store.KeyVersion(ctx, d.VaultID, d.Name, "")
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cur.RotationDue = time.Time{}
	err = s.Store.UpdateKeyVersion(ctx, cur)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	return err
}

// NextRotation returns when the earliest scheduled rotation is due (it may
// be past), or the zero time if no key has one: the scheduler's Next.
func (s *Service) NextRotation(ctx context.Context) (time.Time, error) {
	due, err := s.Store.DueRotations(ctx, time.Unix(1<<40, 0), 1)
	if err != nil || len(due) == 0 {
		return time.Time{}, err
	}
	return due[0].Due, nil
}
