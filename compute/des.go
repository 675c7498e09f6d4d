package compute

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/internal/fault"
	"github.com/tresorkms/tresor/seal"
)

// Error codes of disk encryption sets that clients may branch on.
const (
	// ReasonInUse: the DES still protects resources (disks, snapshots).
	ReasonInUse = "DiskEncryptionSetInUse"
	// ReasonKeyNotUnwrapped: the DES's current key does not unwrap its
	// intermediate key (disabled, deleted, or the identity lost access).
	ReasonKeyNotUnwrapped = "KeyVaultEncryptionKeyNotFound"
)

// Service manages disk encryption sets. Its exported fields are set before
// first use; it is then safe for concurrent use.
type Service struct {
	Store Store
	ARM   *arm.Service // resource groups
	MSI   *msi.Service
	Keys  KeyService
	// Seal seals the intermediate keys of pending DESs, platform-managed
	// data keys and the keys of access grants.
	Seal *seal.Sealer
	// Content holds the content of disks and snapshots.
	Content Content
	// KeyCacheTTL bounds how long the data plane uses an intermediate key
	// without asking the key service again; 0 or less asks every time.
	KeyCacheTTL time.Duration
	// RotationBatch is how many artifact keys a rotation moves per
	// transaction; 0 or less means DefaultRotationBatch.
	RotationBatch int
	// Now is the server's clock (virtual or not); Rand the source of keys.
	Now  func() time.Time
	Rand io.Reader
	// KeyCheckInterval is how often a DES that follows its key's newest
	// version looks for one; 0 or less means DefaultKeyCheckInterval.
	KeyCheckInterval time.Duration

	mu    sync.Mutex // serialises changes to DESs, disks and their keys
	cache keyCache
}

// NewService returns a Service with the real clock and crypto/rand.
func NewService(store Store, armSvc *arm.Service, ids *msi.Service, keys KeyService, sealer *seal.Sealer) *Service {
	return &Service{Store: store, ARM: armSvc, MSI: ids, Keys: keys, Seal: sealer, Now: time.Now, Rand: rand.Reader}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Second) }

// Spec is what a request asks of a DES. In an update, nil and empty fields
// keep what the DES has.
type Spec struct {
	Location       string // required on create; cannot change
	Tags           map[string]string
	Identity       *msi.Spec
	EncryptionType EncryptionType // default EncryptionAtRestWithCustomerKey
	ActiveKey      *KeyRef        // required on create
	// RotationToLatestKeyVersionEnabled is refused (true) for
	// ConfidentialVmEncryptedWithCustomerKey.
	RotationToLatestKeyVersionEnabled *bool
	// FederatedClientID: "" or "None" clears it.
	FederatedClientID *string
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func invalid(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, format, args...).WithReason(arm.ReasonInvalidParameter)
}

func notFound(group, name string) error {
	return tresor.Errorf(tresor.NotFound, "The Resource '%s/diskEncryptionSets/%s' under resource group '%s' was not found.", Namespace, clip(name), clip(group)).
		WithReason(arm.ReasonResourceNotFound)
}

// CreateOrUpdate creates the DES name in the group, or updates it as
// Update does if it exists, and reports whether it created it.
//
// A new DES needs a managed identity and an active key. If the identity
// may not use the key yet (a system-assigned identity cannot have been
// granted access before it exists), the DES is created anyway with its
// intermediate key pending, as Azure creates it; other faults of the key
// (no such vault, no purge protection, a key of the wrong type) are
// Invalid with the cmk reasons.
func (s *Service) CreateOrUpdate(ctx context.Context, subscriptionID, tenantID, group, name string, sp Spec) (DiskEncryptionSet, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Store.DiskEncryptionSet(ctx, subscriptionID, group, name)
	switch {
	case err == nil:
		d, err := s.update(ctx, cur, sp)
		return d, false, err
	case !tresor.IsKind(err, tresor.NotFound):
		return DiskEncryptionSet{}, false, err
	}
	g, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group)
	if err != nil {
		return DiskEncryptionSet{}, false, err
	}
	if !namePattern.MatchString(name) {
		return DiskEncryptionSet{}, false, invalid("The disk encryption set name '%s' is invalid: it must be 1 to 80 letters, digits, underscores and hyphens.", clip(name))
	}
	loc, err := arm.ValidateLocation(sp.Location)
	if err != nil {
		return DiskEncryptionSet{}, false, err
	}
	if sp.ActiveKey == nil || sp.ActiveKey.KeyURL == "" {
		return DiskEncryptionSet{}, false, invalid("A disk encryption set needs properties.activeKey.keyUrl.")
	}
	if sp.Identity == nil || !sp.Identity.SystemAssigned && len(sp.Identity.UserAssigned) == 0 {
		return DiskEncryptionSet{}, false, tresor.Errorf(tresor.Invalid,
			"A disk encryption set needs a managed identity (identity.type SystemAssigned or UserAssigned) to use its key.").WithReason(msi.ReasonInvalidIdentity)
	}
	d := DiskEncryptionSet{
		SubscriptionID: g.SubscriptionID, ResourceGroup: g.Name, Name: name, TenantID: tenantID, Location: loc,
		EncryptionType: EncryptionAtRestWithCustomerKey, ProvisioningState: "Succeeded", Created: s.now(),
		Key: WrappedKey{Gen: 1},
	}
	if err := apply(&d, sp); err != nil {
		return DiskEncryptionSet{}, false, err
	}
	s.scheduleKeyCheck(DiskEncryptionSet{}, &d)
	if d.Identity, err = s.MSI.ApplyIdentity(ctx, d.ID(), tenantID, msi.State{}, *sp.Identity); err != nil {
		return DiskEncryptionSet{}, false, err
	}
	undo := func() { s.MSI.ApplyIdentity(ctx, d.ID(), tenantID, d.Identity, msi.Spec{}) } //nolint:errcheck // best effort; a left-over identity is harmless (see ApplyIdentity)
	if err := s.protect(ctx, &d, s.random(32), true); err != nil {
		undo()
		return DiskEncryptionSet{}, false, err
	}
	if err := s.Store.CreateDiskEncryptionSet(ctx, d); err != nil {
		undo()
		return DiskEncryptionSet{}, false, err
	}
	return d, true, nil
}

// Update applies sp to the DES name in the group.
func (s *Service) Update(ctx context.Context, subscriptionID, group, name string, sp Spec) (DiskEncryptionSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Get(ctx, subscriptionID, group, name)
	if err != nil {
		return DiskEncryptionSet{}, err
	}
	return s.update(ctx, cur, sp)
}

// update applies sp to cur. A change of the active key starts a rotation
// (see rotate): a new intermediate key, the next generation, wrapped with
// the new key as the DES will be, after the current one has been
// unwrapped as the DES is, so that a key that no longer unwraps is found
// before anything changes. A pending DES tries to wrap its key again. A
// DES whose key is wrapped never returns to pending: an identity that may
// not use the new key is refused. A DES whose rotation did not complete
// completes it.
func (s *Service) update(ctx context.Context, cur DiskEncryptionSet, sp Spec) (DiskEncryptionSet, error) {
	if sp.Location != "" && arm.NormalizeLocation(sp.Location) != cur.Location {
		return DiskEncryptionSet{}, tresor.Errorf(tresor.Invalid, "The location of disk encryption set %s is %s; it cannot be moved to %s.", cur.Name, cur.Location, clip(sp.Location)).
			WithReason("LocationNotChangeable")
	}
	d := cur
	d.Tags = maps.Clone(cur.Tags)
	if err := apply(&d, sp); err != nil {
		return DiskEncryptionSet{}, err
	}
	s.scheduleKeyCheck(cur, &d)
	keyChanged := !strings.EqualFold(d.ActiveKey.KeyURL, cur.ActiveKey.KeyURL)
	if keyChanged || d.EncryptionType != cur.EncryptionType || len(cur.Previous) > 0 {
		if err := s.checkRotation(ctx, cur, &d); err != nil {
			return DiskEncryptionSet{}, err
		}
	}
	// Every generation the update needs is opened before anything is
	// stored, so that a key that no longer unwraps refuses the update and
	// changes nothing.
	opened := map[int][]byte{}
	if keyChanged || cur.Pending() || len(cur.Previous) > 0 {
		plain, err := s.open(ctx, cur)
		if err != nil {
			return DiskEncryptionSet{}, err
		}
		opened[cur.Key.Gen] = plain
		for _, w := range cur.Previous {
			if opened[w.Gen], err = s.openGeneration(ctx, cur, w.Gen, false); err != nil {
				return DiskEncryptionSet{}, err
			}
		}
	}
	if sp.Identity != nil {
		var err error
		if d.Identity, err = s.MSI.ApplyIdentity(ctx, d.ID(), d.TenantID, cur.Identity, *sp.Identity); err != nil {
			return DiskEncryptionSet{}, err
		}
	}
	undo := func() {
		if sp.Identity != nil {
			s.MSI.ApplyIdentity(ctx, d.ID(), d.TenantID, d.Identity, cur.Identity.Spec()) //nolint:errcheck // best effort, as in CreateOrUpdate
		}
	}
	// Every generation is opened as the DES's identity, so the identity
	// that uses the key cannot change with the key, nor while artifacts
	// are still on an older generation.
	if (keyChanged && !cur.Pending() || len(cur.Previous) > 0) && !sameKeyIdentity(cur, d) {
		undo()
		return DiskEncryptionSet{}, tresor.Errorf(tresor.Conflict,
			"The identity or federatedClientId of disk encryption set %s cannot change together with its key or while a key change is in progress; change them in separate updates.", cur.Name).
			WithReason(ReasonOperationNotAllowed)
	}
	switch {
	case keyChanged && !cur.Pending():
		fresh := s.random(32)
		d.Previous = append(slices.Clone(cur.Previous), cur.Key)
		d.PreviousKeys = append(slices.Clone(cur.PreviousKeys), cur.ActiveKey)
		d.Key = WrappedKey{Gen: cur.latestGen() + 1}
		if err := s.protect(ctx, &d, fresh, false); err != nil {
			undo()
			return DiskEncryptionSet{}, err
		}
		opened[d.Key.Gen] = fresh
		d.ProvisioningState = "Updating"
	case cur.Pending():
		if err := s.protect(ctx, &d, opened[cur.Key.Gen], true); err != nil {
			undo()
			return DiskEncryptionSet{}, err
		}
	}
	if keyChanged {
		d.LastKeyRotation = s.now()
	}
	if err := s.Store.UpdateDiskEncryptionSet(ctx, d); err != nil {
		undo()
		return DiskEncryptionSet{}, err
	}
	s.cache.drop(d.ID())
	if len(d.Previous) > 0 {
		fault.Point("compute/rotation-started")
		// The rotation is durable work of its own: a client that goes
		// away does not stop it half-way.
		return s.rotate(context.WithoutCancel(ctx), d, opened)
	}
	return d, nil
}

// sameKeyIdentity reports whether a and b use their keys as the same
// identity.
func sameKeyIdentity(a, b DiskEncryptionSet) bool {
	ia, errA := a.keyIdentity()
	ib, errB := b.keyIdentity()
	return errA == nil && errB == nil && ia.Principal.ObjectID == ib.Principal.ObjectID && ia.FederatedClientID == ib.FederatedClientID
}

// latestGen returns the highest generation d has had.
func (d DiskEncryptionSet) latestGen() int {
	g := d.Key.Gen
	for _, k := range d.Previous {
		g = max(g, k.Gen)
	}
	return g
}

// checkRotation is where a change of next's key or encryption type, or
// the completion of a rotation in progress, meets the resources on the
// DES, before the key service is asked anything. The type cannot change
// while resources use the DES. A confidential VM DES moves its VMs to a
// new key only if all of them are stopped and none has an ephemeral OS
// disk (checkConfidentialVMs).
func (s *Service) checkRotation(ctx context.Context, cur DiskEncryptionSet, next *DiskEncryptionSet) error {
	users, err := s.associated(ctx, cur)
	if err != nil {
		return err
	}
	if len(users) > 0 && next.EncryptionType != cur.EncryptionType {
		return tresor.Errorf(tresor.Conflict, "The encryption type of disk encryption set %s cannot change while %d resources use it.", cur.Name, len(users)).
			WithReason(ReasonInUse)
	}
	if cur.EncryptionType == ConfidentialVMEncryptedWithCustomerKey && len(users) > 0 {
		return s.checkConfidentialVMs(ctx, cur)
	}
	return nil
}

// associated lists the ids of the resources the DES protects: its disks
// and snapshots, and the confidential VMs whose guest state it protects
// (the VM's id, not its guest state's).
func (s *Service) associated(ctx context.Context, d DiskEncryptionSet) ([]string, error) {
	vs, err := s.Store.ArtifactVersions(ctx, strings.ToLower(d.ID()))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		id := v.ResourceID
		if n := len(id) - len(GuestStateSuffix); n > 0 && strings.EqualFold(id[n:], GuestStateSuffix) {
			id = id[:n]
		}
		out = append(out, id)
	}
	return out, nil
}

// apply sets d's settings from sp and checks them.
func apply(d *DiskEncryptionSet, sp Spec) error {
	if sp.Tags != nil {
		if err := arm.ValidateTags(sp.Tags); err != nil {
			return err
		}
		d.Tags = maps.Clone(sp.Tags)
	}
	if sp.EncryptionType != "" {
		t, ok := ParseEncryptionType(string(sp.EncryptionType))
		if !ok {
			return invalid("The encryptionType '%s' is not EncryptionAtRestWithCustomerKey, EncryptionAtRestWithPlatformAndCustomerKeys or ConfidentialVmEncryptedWithCustomerKey.", clip(string(sp.EncryptionType)))
		}
		d.EncryptionType = t
	}
	if k := sp.ActiveKey; k != nil {
		if err := checkKeyRef(*k); err != nil {
			return err
		}
		d.ActiveKey = *k
	}
	if sp.RotationToLatestKeyVersionEnabled != nil {
		d.RotationToLatestKeyVersionEnabled = *sp.RotationToLatestKeyVersionEnabled
	}
	if d.RotationToLatestKeyVersionEnabled && d.EncryptionType == ConfidentialVMEncryptedWithCustomerKey {
		return invalid("Automatic key rotation (rotationToLatestKeyVersionEnabled) is not supported for a disk encryption set of type ConfidentialVmEncryptedWithCustomerKey; rotate its key by updating activeKey while its confidential VMs are stopped.")
	}
	if f := sp.FederatedClientID; f != nil {
		fed := strings.ToLower(strings.TrimSpace(*f))
		if strings.EqualFold(fed, "none") {
			fed = ""
		}
		if fed != "" && !identity.IsGUID(fed) {
			return invalid("The federatedClientId '%s' is not a client id (a GUID), or None to clear it.", clip(*f))
		}
		d.FederatedClientID = fed
	}
	if sp.Identity != nil && len(sp.Identity.UserAssigned) > 1 {
		return tresor.Errorf(tresor.Invalid, "A disk encryption set uses one user-assigned identity for its key; %d are given.", len(sp.Identity.UserAssigned)).
			WithReason(msi.ReasonInvalidIdentity)
	}
	user := len(d.Identity.UserAssigned) > 0
	if sp.Identity != nil {
		user = len(sp.Identity.UserAssigned) > 0
	}
	if d.FederatedClientID != "" && !user {
		return invalid("A key in another tenant (federatedClientId) is used through a user-assigned identity only.")
	}
	return nil
}

// checkKeyRef checks the form of a key reference: a versioned key id and,
// if given, the id of the vault that holds it.
func checkKeyRef(k KeyRef) error {
	ref, err := cmk.ParseKeyURI(k.KeyURL)
	if err != nil {
		return err
	}
	if ref.Version == "" {
		return invalid("The key URL %s has no version. A disk encryption set needs a versioned key URL, https://{vault}/keys/{name}/{version}, even with rotationToLatestKeyVersionEnabled.", clip(k.KeyURL))
	}
	if k.SourceVaultID == "" {
		return nil
	}
	id, err := arm.Parse(k.SourceVaultID)
	if err != nil || !strings.EqualFold(id.Provider, "Microsoft.KeyVault") || len(id.Types) != 1 ||
		!strings.EqualFold(id.Types[0], "vaults") && !strings.EqualFold(id.Types[0], "managedHSMs") {
		return invalid("The sourceVault id '%s' is not the id of a key vault or managed HSM.", clip(k.SourceVaultID))
	}
	u, _ := url.Parse(ref.VaultURI)
	if host, _, _ := strings.Cut(u.Hostname(), "."); !strings.EqualFold(host, id.Names[0]) {
		return invalid("The key %s is not in the vault %s that sourceVault names.", clip(k.KeyURL), clip(id.Names[0]))
	}
	return nil
}

// keyIdentity returns the identity as which d uses its key: its
// user-assigned identity if it has one, else its system-assigned
// identity; federated if d names an application.
func (d DiskEncryptionSet) keyIdentity() (cmk.Identity, error) {
	ua := ""
	if len(d.Identity.UserAssigned) > 0 {
		ua = d.Identity.UserAssigned[0].ResourceID
	}
	p, err := d.Identity.Principal(ua)
	if err != nil {
		return cmk.Identity{}, err
	}
	return cmk.Identity{Principal: p, FederatedClientID: d.FederatedClientID}, nil
}

// protect wraps plain, d's intermediate key, with d's active key as d's
// identity. If pending is allowed and the identity may not use the key
// (or d has no identity), the key is sealed under the root key instead.
func (s *Service) protect(ctx context.Context, d *DiskEncryptionSet, plain []byte, pending bool) error {
	ref, err := cmk.ParseKeyURI(d.ActiveKey.KeyURL)
	if err != nil {
		return err
	}
	id, err := d.keyIdentity()
	if err == nil {
		var v cmk.Version
		if v, err = s.Keys.Check(ctx, id, ref); err == nil {
			var wrapped []byte
			if wrapped, err = s.Keys.Wrap(ctx, id, v.ID, plain); err == nil {
				d.Key = WrappedKey{Gen: d.Key.Gen, KeyID: v.ID, Wrapped: wrapped}
				return nil
			}
		}
	}
	if pending && noAccess(err) {
		d.Key = WrappedKey{Gen: d.Key.Gen, Wrapped: s.Seal.Seal(plain, d.binding())}
		return nil
	}
	if tresor.IsKind(err, tresor.Forbidden) {
		return &tresor.Error{Kind: tresor.Invalid, Reason: cmk.ReasonAccessDenied, Err: err,
			Message: "The identity of disk encryption set " + d.Name + " may not wrap with its key: " + tresor.MessageOf(err)}
	}
	return err
}

// noAccess reports whether err says that the identity may not use the key,
// as opposed to a key that cannot serve.
func noAccess(err error) bool {
	switch tresor.ReasonOf(err) {
	case cmk.ReasonAccessDenied, cmk.ReasonTokenNotAcquired, msi.ReasonInvalidIdentity:
		return true
	}
	return tresor.IsKind(err, tresor.Forbidden)
}

// open returns d's intermediate key: from the root key if pending, else
// unwrapped by its key as its identity. Forbidden (ReasonKeyNotUnwrapped)
// if the key does not unwrap it.
func (s *Service) open(ctx context.Context, d DiskEncryptionSet) ([]byte, error) {
	if d.Pending() {
		key, err := s.Seal.Open(d.Key.Wrapped, d.binding())
		if err != nil {
			return nil, tresor.Wrap(err, "compute: open a sealed key")
		}
		return key, nil
	}
	id, err := d.keyIdentity()
	if err == nil {
		var key []byte
		if key, err = s.Keys.Unwrap(ctx, id, d.Key.KeyID, d.Key.Wrapped); err == nil && len(key) == 32 {
			return key, nil
		}
		if err == nil {
			err = errors.New("unwrapped key is not 32 bytes")
		}
	}
	return nil, &tresor.Error{Kind: tresor.Forbidden, Reason: ReasonKeyNotUnwrapped, Err: err,
		Message: "The key " + d.Key.KeyID + " of disk encryption set " + d.Name + " does not unwrap its encryption key; keep it enabled and accessible to the set's identity until the key change completes. " + tresor.MessageOf(err)}
}

// IntermediateKey returns the current intermediate key of a DES, for the
// resources that will use it: unwrapped by its key as its identity, or,
// for a pending DES, wrapped first (and stored so). Invalid with a cmk
// reason if a pending DES's identity still may not use its key; Forbidden
// (ReasonKeyNotUnwrapped) if the key does not unwrap it. Callers must not
// keep the key.
func (s *Service) IntermediateKey(ctx context.Context, subscriptionID, group, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.Get(ctx, subscriptionID, group, name)
	if err != nil {
		return nil, err
	}
	return s.intermediate(ctx, &d)
}

// intermediate is IntermediateKey for d, which it updates if it wraps a
// pending key. The caller holds s.mu.
func (s *Service) intermediate(ctx context.Context, d *DiskEncryptionSet) ([]byte, error) {
	key, err := s.open(ctx, *d)
	if err != nil || !d.Pending() {
		return key, err
	}
	next := *d
	if err := s.protect(ctx, &next, key, false); err != nil {
		return nil, err
	}
	if err := s.Store.UpdateDiskEncryptionSet(ctx, next); err != nil {
		return nil, err
	}
	*d = next
	return key, nil
}

func (d DiskEncryptionSet) binding() []byte {
	return []byte("compute/diskEncryptionSets/" + strings.ToLower(d.SubscriptionID+"/"+d.ResourceGroup+"/"+d.Name) + "/" + strconv.FormatInt(d.Created.Unix(), 10))
}

// Get returns the DES name in the group. NotFound (ResourceNotFound) if
// there is none.
func (s *Service) Get(ctx context.Context, subscriptionID, group, name string) (DiskEncryptionSet, error) {
	d, err := s.Store.DiskEncryptionSet(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return DiskEncryptionSet{}, notFound(group, name)
	}
	return d, err
}

// List lists a subscription's DESs, or a group's if group is not empty
// (NotFound if that group does not exist).
func (s *Service) List(ctx context.Context, subscriptionID, group string) ([]DiskEncryptionSet, error) {
	if group != "" {
		if _, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group); err != nil {
			return nil, err
		}
	}
	return s.Store.DiskEncryptionSets(ctx, subscriptionID, group)
}

// ListAssociatedResources returns the ids of the resources the DES
// protects (Azure's ListAssociatedResources).
func (s *Service) ListAssociatedResources(ctx context.Context, subscriptionID, group, name string) ([]string, error) {
	d, err := s.Get(ctx, subscriptionID, group, name)
	if err != nil {
		return nil, err
	}
	return s.associated(ctx, d)
}

// Delete deletes a DES and its system-assigned identity, and reports
// whether it existed. Conflict (ReasonInUse) if resources still use it.
func (s *Service) Delete(ctx context.Context, subscriptionID, group, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.Get(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	users, err := s.associated(ctx, d)
	if err != nil {
		return false, err
	}
	if len(users) > 0 {
		return false, tresor.Errorf(tresor.Conflict, "The disk encryption set %s is in use by %d resources, such as %s; delete them or move them to another set first.",
			d.Name, len(users), users[0]).WithReason(ReasonInUse)
	}
	if err := s.Store.DeleteDiskEncryptionSet(ctx, d.SubscriptionID, d.ResourceGroup, d.Name); err != nil {
		return false, err
	}
	s.cache.drop(d.ID())
	return true, s.MSI.RemoveIdentity(ctx, d.Identity)
}

// DeleteResourceGroup deletes a group's VMs (detaching or deleting their
// disks as each disk's deleteOption says), snapshots, disks and DESs.
func (s *Service) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	if err := s.deleteGroupVMs(ctx, subscriptionID, group); err != nil {
		return err
	}
	if err := s.deleteGroupDisks(ctx, subscriptionID, group); err != nil {
		return err
	}
	ds, err := s.Store.DiskEncryptionSets(ctx, subscriptionID, group)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if _, err := s.Delete(ctx, subscriptionID, group, d.Name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		panic("compute: random source failed: " + err.Error())
	}
	return b
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
