// Package cmk is how tresor's services use a customer-managed key: a key in
// a Key Vault or Managed HSM that protects a resource's own key (a storage
// account's account encryption key, a disk encryption set's keys). It
// enforces Azure's rules for such keys and does every operation through
// keyvault.Service as the resource's managed identity, so the key service's
// access control (access policies, Azure RBAC, Managed HSM local RBAC)
// decides, exactly as for any other client.
package cmk

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

// Error codes of a key that cannot serve as a customer-managed key.
const (
	ReasonVaultNotFound   = "KeyVaultVaultNotFound"
	ReasonKeyNotFound     = "KeyVaultKeyNotFound"
	ReasonVaultProtection = "KeyVaultSoftDeleteAndPurgeProtectionRequired"
	ReasonKeyUnsupported  = "KeyVaultKeyTypeNotSupported"
	ReasonAccessDenied    = "KeyVaultAccessForbidden"
	// ReasonTokenNotAcquired: the identity cannot act in the key's tenant
	// (a vault in another tenant without federation, or a federation
	// that does not hold).
	ReasonTokenNotAcquired = "KeyVaultAccessTokenCannotBeAcquired"
)

// Locate returns the vault kind and name a vault URI names, such as
// https://v1.vault.example:8443/ for Key Vault v1; ok is false for a URI
// that names no vault of this installation.
type Locate func(uri *url.URL) (kind keyvault.VaultKind, name string, ok bool)

// Federate returns the principal as which a managed identity mi acts in
// tenantID through the multi-tenant application clientID: the
// application's service principal there, if the application has a
// federated identity credential that trusts mi (identity.Service.Federate).
type Federate func(ctx context.Context, mi tresor.Principal, clientID, tenantID string) (tresor.Principal, error)

// Keys uses customer-managed keys.
type Keys struct {
	Vaults *keyvault.Service
	Locate Locate
	// VaultURL returns a vault's canonical URL, without a trailing slash,
	// by which key ids are spelled.
	VaultURL func(kind keyvault.VaultKind, name string) string
	// Federate serves identities with a FederatedClientID; nil refuses
	// them.
	Federate Federate
}

// Identity is who uses a key for a resource: the resource's managed
// identity, which must belong to the key's tenant, or, for a key in
// another tenant (cross-tenant customer-managed keys), the multi-tenant
// application FederatedClientID whose federated identity credential trusts
// the managed identity. The application then acts through its service
// principal in the key's tenant, which is what the key's access control
// must allow.
type Identity struct {
	Principal         tresor.Principal // the managed identity
	FederatedClientID string           // empty: the managed identity itself
}

// Ref names a key: its vault's URI, its name and a version, empty for the
// newest.
type Ref struct {
	VaultURI string
	Name     string
	Version  string
}

// Version is a key version found fit to protect a resource.
type Version struct {
	ID      string // https://{vault}/keys/{name}/{version}
	Version string
	Expires time.Time
}

func invalid(reason, format string, args ...any) *tresor.Error {
	return tresor.Errorf(tresor.Invalid, format, args...).WithReason(reason)
}

// vault finds the live vault uri names.
func (k *Keys) vault(ctx context.Context, uri string) (keyvault.Vault, error) {
	u, err := url.Parse(strings.TrimSpace(uri))
	if err == nil && u.Scheme == "https" && u.Host != "" {
		if kind, name, ok := k.Locate(u); ok {
			v, err := k.Vaults.GetVault(ctx, kind, name)
			if err == nil || !tresor.IsKind(err, tresor.NotFound) {
				return v, err
			}
		}
	}
	return keyvault.Vault{}, invalid(ReasonVaultNotFound, "The key vault '%s' was not found.", clip(uri))
}

// Check finds the key ref names (its newest version if ref.Version is
// empty) and checks that it may protect a resource whose identity is id,
// as Azure requires: the vault has soft delete and purge protection; the
// key is RSA or RSA-HSM of 2048, 3072 or 4096 bits, enabled and not
// expired; and id may get it, wrap with it and unwrap with it. The
// permissions are checked by doing each, as id acts in the vault's tenant
// (see Identity). Errors are Invalid with a Reason and a message naming
// the rule.
func (k *Keys) Check(ctx context.Context, id Identity, ref Ref) (Version, error) {
	v, err := k.vault(ctx, ref.VaultURI)
	if err != nil {
		return Version{}, err
	}
	if !v.SoftDelete || !v.PurgeProtection {
		return Version{}, invalid(ReasonVaultProtection,
			"The key vault %s must have soft delete and purge protection enabled to hold a customer-managed key.", v.Name)
	}
	p, err := k.principal(ctx, id, v)
	if err != nil {
		return Version{}, err
	}
	as := tresor.WithPrincipal(ctx, p)
	kv, err := k.Vaults.GetKey(as, v, ref.Name, ref.Version)
	switch {
	case tresor.IsKind(err, tresor.NotFound):
		return Version{}, invalid(ReasonKeyNotFound, "The key %s was not found in the key vault %s.", clip(ref.Name+"/"+ref.Version), v.Name)
	case tresor.IsKind(err, tresor.Forbidden):
		return Version{}, denied(p, "get", v.Name, ref.Name, err)
	case err != nil:
		return Version{}, err
	}
	if kv.Type != keyvault.RSA && kv.Type != keyvault.RSAHSM || (kv.Size != 2048 && kv.Size != 3072 && kv.Size != 4096) {
		return Version{}, invalid(ReasonKeyUnsupported,
			"The key %s is %s of %d bits; a customer-managed key must be RSA or RSA-HSM of 2048, 3072 or 4096 bits.", kv.Name, kv.Type, kv.Size)
	}
	now := k.Vaults.Now()
	if !kv.Enabled || (!kv.Expires.IsZero() && !now.Before(kv.Expires)) || (!kv.NotBefore.IsZero() && now.Before(kv.NotBefore)) {
		return Version{}, invalid(ReasonKeyNotFound, "The key %s/%s is disabled, expired or not yet valid.", kv.Name, kv.Version)
	}
	// Wrap and unwrap a throwaway key: the permissions are decided by the
	// key service, for these operations, as they will be used.
	probe := make([]byte, 32)
	rand.Read(probe) //nolint:errcheck // crypto/rand does not fail
	wrapped, err := k.Vaults.WrapKey(as, v, kv.Name, kv.Version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: probe})
	if err != nil {
		return Version{}, denied(p, "wrapKey", v.Name, kv.Name, err)
	}
	if _, err := k.Vaults.UnwrapKey(as, v, kv.Name, kv.Version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: wrapped.Value}); err != nil {
		return Version{}, denied(p, "unwrapKey", v.Name, kv.Name, err)
	}
	return Version{ID: k.VaultURL(v.Kind, v.Name) + "/keys/" + kv.Name + "/" + kv.Version, Version: kv.Version, Expires: kv.Expires}, nil
}

func denied(p tresor.Principal, op, vault, key string, err error) error {
	if !tresor.IsKind(err, tresor.Forbidden) {
		return err
	}
	return invalid(ReasonAccessDenied,
		"The identity %s may not %s with the key %s in the key vault %s; it needs get, wrapKey and unwrapKey (Key Vault Crypto Service Encryption User, or an access policy). %s",
		p.ObjectID, op, key, vault, tresor.MessageOf(err))
}

// principal returns the principal as which id acts on a key of vault v.
// Invalid (ReasonTokenNotAcquired) if it cannot act in v's tenant.
func (k *Keys) principal(ctx context.Context, id Identity, v keyvault.Vault) (tresor.Principal, error) {
	mi := id.Principal
	if id.FederatedClientID == "" {
		if v.TenantID != "" && !strings.EqualFold(mi.TenantID, v.TenantID) {
			return tresor.Principal{}, invalid(ReasonTokenNotAcquired,
				"The key vault %s belongs to the tenant %s, the identity %s to the tenant %s. A key in another tenant is used through a multi-tenant application whose federated identity credential trusts the identity: set the encryption identity's federated client id to the application's client id.",
				v.Name, v.TenantID, mi.ObjectID, mi.TenantID)
		}
		return mi, nil
	}
	if k.Federate == nil {
		return tresor.Principal{}, invalid(ReasonTokenNotAcquired, "Federated identities are not available here.")
	}
	p, err := k.Federate(ctx, mi, id.FederatedClientID, v.TenantID)
	if tresor.IsKind(err, tresor.Unauthenticated) { // the federation does not hold
		e := invalid(ReasonTokenNotAcquired, "The identity %s cannot obtain a token for the key vault %s in the tenant %s through the application %s: %s",
			mi.ObjectID, v.Name, v.TenantID, clip(id.FederatedClientID), tresor.MessageOf(err))
		e.Err = err
		return tresor.Principal{}, e
	}
	return p, err
}

// locateKey finds the vault, name and version of a versioned key id.
func (k *Keys) locateKey(ctx context.Context, keyID string) (keyvault.Vault, string, string, error) {
	u, err := url.Parse(keyID)
	if err != nil {
		return keyvault.Vault{}, "", "", invalid(ReasonKeyNotFound, "'%s' is not a key id.", clip(keyID))
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(seg) != 3 || seg[0] != "keys" {
		return keyvault.Vault{}, "", "", invalid(ReasonKeyNotFound, "'%s' is not a versioned key id.", clip(keyID))
	}
	v, err := k.vault(ctx, u.Scheme+"://"+u.Host)
	return v, seg[1], seg[2], err
}

// Wrap wraps plain with the key version keyID (RSA-OAEP-256), as id.
func (k *Keys) Wrap(ctx context.Context, id Identity, keyID string, plain []byte) ([]byte, error) {
	v, name, version, err := k.locateKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	p, err := k.principal(ctx, id, v)
	if err != nil {
		return nil, err
	}
	res, err := k.Vaults.WrapKey(tresor.WithPrincipal(ctx, p), v, name, version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: plain})
	if err != nil {
		return nil, err
	}
	return res.Value, nil
}

// Unwrap unwraps with the key version keyID, as id.
func (k *Keys) Unwrap(ctx context.Context, id Identity, keyID string, wrapped []byte) ([]byte, error) {
	v, name, version, err := k.locateKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	p, err := k.principal(ctx, id, v)
	if err != nil {
		return nil, err
	}
	res, err := k.Vaults.UnwrapKey(tresor.WithPrincipal(ctx, p), v, name, version, keyvault.CryptoParams{Alg: hsm.RSAOAEP256, Value: wrapped})
	if err != nil {
		return nil, err
	}
	return res.Value, nil
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// ParseKeyURI reads a key identifier, https://{vault}/keys/{name} or
// https://{vault}/keys/{name}/{version}, as Azure's keyUri and keyUrl
// properties spell it. Invalid (KeyVaultKeyNotFound) if it is not one.
func ParseKeyURI(uri string) (Ref, error) {
	u, err := url.Parse(uri)
	if err == nil && u.Scheme == "https" && u.Host != "" && u.RawQuery == "" && u.Fragment == "" {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if (len(parts) == 2 || len(parts) == 3) && parts[0] == "keys" && parts[1] != "" && (len(parts) == 2 || parts[2] != "") {
			ref := Ref{VaultURI: "https://" + u.Host, Name: parts[1]}
			if len(parts) == 3 {
				ref.Version = parts[2]
			}
			return ref, nil
		}
	}
	return Ref{}, invalid(ReasonKeyNotFound, "The key URI %q is not https://{vault}/keys/{name}[/{version}].", clip(uri))
}

// URI returns the key identifier of r, versionless if r.Version is empty.
func (r Ref) URI() string {
	u := strings.TrimSuffix(r.VaultURI, "/") + "/keys/" + r.Name
	if r.Version != "" {
		u += "/" + r.Version
	}
	return u
}
