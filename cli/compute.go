package cli

import (
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/compute/computehttp"
	"github.com/tresorkms/tresor/seal"
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
	return &computehttp.Provider{Sets: s.DiskEncryptionSets}, nil
}
