package cli

import (
	"context"
	"time"

	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/compute/computehttp"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/storage"
)

// openCompute prepares disk encryption sets: their service, on the
// server's clock, with customer-managed keys through the key service, and
// their ARM provider.
func (s *Server) openCompute(root []byte, ids *msi.Service) (*computehttp.Provider, error) {
	sealer, err := seal.New(root, "compute")
	if err != nil {
		return nil, err
	}
	keys := &cmk.Keys{Vaults: s.Keys, Locate: s.locateVault, VaultURL: s.vaultURL, Federate: s.sys.identity.Federate}
	s.DiskEncryptionSets = compute.NewService(s.DB, ids.ARM, ids, keys, sealer)
	s.DiskEncryptionSets.Now = s.Clock.Now
	s.DiskEncryptionSets.KeyCacheTTL = s.Config.StorageKeyCacheTTL
	s.DiskEncryptionSets.RotationBatch = s.Config.RotationBatch
	s.DiskEncryptionSets.KeyCheckInterval = s.Config.DESKeyCheckInterval
	if s.DiskEncryptionSets.KeyCacheTTL == 0 {
		s.DiskEncryptionSets.KeyCacheTTL = storage.DefaultKeyCacheTTL
	}
	return &computehttp.Provider{Service: s.DiskEncryptionSets}, nil
}

// resumeRotations completes the key rotations of disk encryption sets that
// a stopped process left in progress.
func (s *Server) resumeRotations(ctx context.Context) {
	if err := s.DiskEncryptionSets.Resume(ctx); err != nil && ctx.Err() == nil {
		s.Logger.WarnContext(ctx, "a disk encryption set's key rotation could not be completed; repeating its update retries it", "err", err)
	}
}

// refreshDESKeys is the scheduler's key-version check of disk encryption
// sets: each automatic move to a new key version is audited; a failure is
// logged and shows in the set's autoKeyRotationError.
func (s *Server) refreshDESKeys(ctx context.Context, _ time.Time) error {
	res, err := s.DiskEncryptionSets.RefreshKeyVersions(ctx)
	for _, r := range res.Rotated {
		key, _ := cmk.ParseKeyURI(r.KeyURL) // the set accepted it, so it parses
		s.record(ctx, audit.Record{
			RequestID: "scheduler", Principal: schedulerPrincipal, Operation: "DiskEncryptionSetKeyVersionUpdate",
			ResourceID: r.ID, KeyVersion: key.Version, Result: "Allowed",
		})
	}
	for id, ferr := range res.Failed {
		s.Logger.WarnContext(ctx, "disk encryption set key version check failed", "diskEncryptionSet", id, "err", ferr)
	}
	return err
}
