package cli

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/storage"
	"github.com/tresorkms/tresor/storage/storagehttp"
)

// openStorage prepares storage accounts: their service, on the server's
// clock, with customer-managed keys through the key service, and their
// ARM provider.
func (s *Server) openStorage(root []byte, ids *msi.Service, u urls) (*storagehttp.Provider, error) {
	sealer, err := seal.New(root, "storage")
	if err != nil {
		return nil, err
	}
	keys := &cmk.Keys{Vaults: s.Keys, Locate: s.locateVault, VaultURL: s.vaultURL, Federate: s.sys.identity.Federate}
	s.Storage = storage.NewService(storage.Cached(s.DB), ids.ARM, ids, keys, sealer)
	s.Storage.Now = s.Clock.Now
	s.Storage.KeyCacheTTL = s.Config.StorageKeyCacheTTL
	return &storagehttp.Provider{Accounts: s.Storage, BlobURL: func(account string) string {
		return "https://" + account + ".blob." + s.Domain + u.suffix + "/"
	}}, nil
}

// locateVault reads the vault a URI names from its host,
// {name}.vault.{domain} or {name}.managedhsm.{domain}, whatever its port:
// keys stay usable when the server moves to another port.
func (s *Server) locateVault(u *url.URL) (keyvault.VaultKind, string, bool) {
	host := strings.ToLower(u.Hostname())
	d := "." + strings.ToLower(s.Domain)
	for _, t := range []struct {
		kind   keyvault.VaultKind
		suffix string
	}{{keyvault.KeyVault, ".vault" + d}, {keyvault.ManagedHSM, ".managedhsm" + d}} {
		if name, ok := strings.CutSuffix(host, t.suffix); ok && name != "" && !strings.Contains(name, ".") {
			return t.kind, name, true
		}
	}
	return "", "", false
}

// refreshStorageKeys is the scheduler's key-version check of storage
// accounts: each move to a new key version is audited.
func (s *Server) refreshStorageKeys(ctx context.Context, _ time.Time) error {
	res, err := s.Storage.RefreshKeyVersions(ctx)
	for _, name := range res.Rotated {
		s.record(ctx, audit.Record{
			RequestID: "scheduler", Principal: schedulerPrincipal, Operation: "StorageAccountKeyVersionUpdate",
			ResourceID: name, Result: "Allowed",
		})
	}
	for name, ferr := range res.Failed {
		s.Logger.WarnContext(ctx, "storage account key version check failed", "account", name, "err", ferr)
	}
	return err
}
