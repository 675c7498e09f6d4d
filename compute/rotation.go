package compute

import (
	"context"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/internal/fault"
)

// DefaultRotationBatch is how many artifact keys a rotation moves per
// transaction unless Service.RotationBatch says otherwise: large enough
// that 20,000 artifacts take 20 transactions, small enough that one holds
// the database's writer briefly.
const DefaultRotationBatch = 1000

// rotate completes a rotation of d, which is stored with its new
// generation in d.Key and the generations that still protect artifacts in
// d.Previous (provisioningState Updating, previousKeys listed). Every
// artifact's data key still under a previous generation is unwrapped with
// that generation's intermediate key and wrapped with the new one, a batch
// per transaction; then the previous generations are forgotten and d is
// Succeeded. opened holds the intermediate keys already at hand, by
// generation; any other is unwrapped once, as d's identity.
//
// The key service is asked once per generation however many artifacts
// there are: the data keys themselves, and the content under them, do not
// change. If rotate stops half-way (the process dies, a previous key no
// longer unwraps), d stays Updating and each artifact shows the
// generation it is on; the next update of d, or Resume, carries on.
// The caller holds s.mu.
func (s *Service) rotate(ctx context.Context, d DiskEncryptionSet, opened map[int][]byte) (DiskEncryptionSet, error) {
	des := strings.ToLower(d.ID())
	to, ok := opened[d.Key.Gen]
	if !ok {
		var err error
		if to, err = s.open(ctx, d); err != nil {
			return DiskEncryptionSet{}, err
		}
	}
	batch := s.RotationBatch
	if batch <= 0 {
		batch = DefaultRotationBatch
	}
	// One pass in Seq order: artifacts created meanwhile are created on
	// the new generation.
	for after := int64(0); ; {
		stale, err := s.Store.StaleArtifactKeys(ctx, des, d.Key.Gen, after, batch)
		if err != nil {
			return DiskEncryptionSet{}, err
		}
		if len(stale) == 0 {
			break
		}
		after = stale[len(stale)-1].Seq
		moves := make([]Rewrap, 0, len(stale))
		for _, a := range stale {
			from, ok := opened[a.Gen]
			if !ok {
				if from, err = s.openGeneration(ctx, d, a.Gen, false); err != nil {
					return DiskEncryptionSet{}, err
				}
				opened[a.Gen] = from
			}
			dataKey, err := unwrapDataKey(from, a.Wrapped, a.ResourceID, a.Gen)
			if err != nil {
				return DiskEncryptionSet{}, tresor.Wrap(err, "compute: unwrap the data key of "+a.ResourceID)
			}
			next := a
			next.Gen = d.Key.Gen
			if next.Wrapped, err = s.wrapDataKey(to, dataKey, a.ResourceID, next.Gen); err != nil {
				return DiskEncryptionSet{}, err
			}
			moves = append(moves, Rewrap{From: a.Gen, To: next})
		}
		moved, err := s.Store.RewrapArtifactKeys(ctx, moves)
		if err != nil {
			return DiskEncryptionSet{}, err
		}
		if moved != len(moves) {
			// Another writer moved keys meanwhile (s.mu excludes one): stop
			// rather than let the single pass skip any.
			return DiskEncryptionSet{}, tresor.Errorf(tresor.Internal, "compute: the rotation of %s moved %d of a batch of %d artifacts", d.Name, moved, len(moves))
		}
		fault.Point("compute/rotation-batch")
	}
	d.Previous, d.PreviousKeys, d.ProvisioningState = nil, nil, "Succeeded"
	if err := s.Store.UpdateDiskEncryptionSet(ctx, d); err != nil {
		return DiskEncryptionSet{}, err
	}
	s.cache.drop(d.ID())
	return d, nil
}

// Resume completes the rotations that a stopped process left in progress,
// as repeating each update would. It returns the first error and carries
// on with the others.
func (s *Service) Resume(ctx context.Context) error {
	subs, err := s.ARM.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, sub := range subs {
		ds, err := s.Store.DiskEncryptionSets(ctx, sub.ID, "")
		if err != nil {
			return err
		}
		for _, d := range ds {
			if len(d.Previous) == 0 {
				continue
			}
			s.mu.Lock()
			cur, err := s.Get(ctx, d.SubscriptionID, d.ResourceGroup, d.Name)
			if err == nil && len(cur.Previous) > 0 && cur.EncryptionType == ConfidentialVMEncryptedWithCustomerKey {
				// A confidential VM started meanwhile must not receive
				// the new key while it runs.
				err = s.checkConfidentialVMs(ctx, cur)
			}
			if err == nil && len(cur.Previous) > 0 {
				_, err = s.rotate(ctx, cur, map[int][]byte{})
			}
			s.mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// KeyVersions lists each artifact the DES protects with the generation
// its data key is on and the key version that wraps that generation: all
// on ActiveKey once a rotation has completed, some on a previous key while
// one is in progress.
func (s *Service) KeyVersions(ctx context.Context, subscriptionID, group, name string) ([]ArtifactVersion, error) {
	d, err := s.Get(ctx, subscriptionID, group, name)
	if err != nil {
		return nil, err
	}
	vs, err := s.Store.ArtifactVersions(ctx, strings.ToLower(d.ID()))
	if err != nil {
		return nil, err
	}
	for i := range vs {
		if w, ok := d.generation(vs[i].Gen); ok {
			vs[i].KeyID = w.KeyID
		}
	}
	return vs, nil
}
