package keyvault

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/hsm"
)

// Attributes are the settable key attributes. A nil field is left as it is
// on update and takes its default on create.
type Attributes struct {
	Enabled    *bool
	NotBefore  *time.Time
	Expires    *time.Time
	Exportable *bool
}

// CreateKeyParams are the parameters of CreateKey.
type CreateKeyParams struct {
	Type           KeyType
	Size           int // RSA or oct bits; zero takes the default
	PublicExponent int
	Curve          hsm.Curve
	Ops            []KeyOp // nil takes the default for the type
	Attributes     Attributes
	Tags           map[string]string
	ReleasePolicy  *ReleasePolicy
}

// ImportKeyParams are the parameters of ImportKey.
type ImportKeyParams struct {
	Key           hsm.PrivateKey
	Type          KeyType // the kty the client sent
	HSM           bool    // the "Hsm" flag
	Ops           []KeyOp
	Attributes    Attributes
	Tags          map[string]string
	ReleasePolicy *ReleasePolicy
}

// UpdateKeyParams are the parameters of UpdateKey. Nil fields are unchanged.
type UpdateKeyParams struct {
	Ops           []KeyOp
	Attributes    Attributes
	Tags          map[string]string
	ReleasePolicy *ReleasePolicy
}

// binding is what a version's Handle is bound to: the vault's internal id,
// the key name and the version.
func binding(vaultID, name, version string) []byte {
	return fmt.Appendf(nil, "keyvault/%s/keys/%s/%s", vaultID, name, version)
}

func keyNotFound(name string) error {
	return tresor.Errorf(tresor.NotFound,
		"A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.", name)
}

func deletedButRecoverable(name string) error {
	return tresor.Errorf(tresor.Conflict,
		"Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", name).WithReason(ReasonDeletedButRecoverable)
}

// resolveType checks that kty is allowed in v and returns the type the key
// is stored with: Managed HSM holds only HSM keys and reports the -HSM type
// whatever the client asked for; a Key Vault needs the premium SKU for HSM
// keys and holds no symmetric keys.
func resolveType(v Vault, t KeyType) (KeyType, error) {
	if t.Family() == "" {
		return "", tresor.Errorf(tresor.Invalid, "Invalid kty: %q. Valid values are RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM.", t)
	}
	if v.Kind == ManagedHSM {
		return t.withHSM(), nil
	}
	if t.Family() == hsm.Oct {
		return "", tresor.Errorf(tresor.Invalid, "Key type %s is not supported by Key Vault; symmetric keys are available in Managed HSM only.", t)
	}
	if t.HSM() && v.SKU != "premium" {
		return "", tresor.Errorf(tresor.Invalid, "Key type %s requires a premium SKU vault; vault %s is %s.", t, v.Name, v.SKU)
	}
	return t, nil
}

// defaultOps are the key_ops a key gets when the client names none.
func defaultOps(f hsm.KeyType) []KeyOp {
	switch f {
	case hsm.RSA:
		return []KeyOp{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey}
	case hsm.EC:
		return []KeyOp{OpSign, OpVerify}
	default:
		return []KeyOp{OpEncrypt, OpDecrypt, OpWrapKey, OpUnwrapKey}
	}
}

func validateOps(ops []KeyOp) error {
	for _, op := range ops {
		if !slices.Contains(knownOps, op) {
			return tresor.Errorf(tresor.Invalid, "Invalid key_ops value %q. Valid values are encrypt, decrypt, sign, verify, wrapKey, unwrapKey, import, export.", op)
		}
	}
	return nil
}

func validateTags(tags map[string]string) error {
	if len(tags) > 15 {
		return tresor.Errorf(tresor.Invalid, "A key may have at most 15 tags; got %d.", len(tags))
	}
	for k, v := range tags {
		if len(k) > 256 || len(v) > 256 {
			return tresor.Errorf(tresor.Invalid, "Tag names and values are limited to 256 characters.")
		}
	}
	return nil
}

func validateName(name string) error {
	if !ValidKeyName(name) {
		return tresor.Errorf(tresor.Invalid, "The key name %q is invalid. Key names are 1-127 characters of letters, digits and hyphens.", name)
	}
	return nil
}

// applyAttributes merges a onto kv and checks the release-policy rules.
func applyAttributes(kv *KeyVersion, a Attributes, rp *ReleasePolicy) error {
	if a.Enabled != nil {
		kv.Enabled = *a.Enabled
	}
	if a.NotBefore != nil {
		kv.NotBefore = a.NotBefore.UTC().Truncate(time.Second)
	}
	if a.Expires != nil {
		kv.Expires = a.Expires.UTC().Truncate(time.Second)
	}
	if a.Exportable != nil {
		if kv.Exportable && !*a.Exportable {
			return tresor.Errorf(tresor.Invalid, "The exportable attribute cannot be changed once set to true.")
		}
		kv.Exportable = *a.Exportable
	}
	if rp != nil {
		if kv.ReleasePolicy != nil && kv.ReleasePolicy.Immutable {
			return tresor.Errorf(tresor.Invalid, "Immutable Key Release Policy cannot be modified.")
		}
		kv.ReleasePolicy = rp
	}
	if kv.Exportable && kv.ReleasePolicy == nil {
		return tresor.Errorf(tresor.Invalid, "AKV.SKR.1004: Exportable keys must have a release policy.")
	}
	if !kv.Exportable && kv.ReleasePolicy != nil {
		return tresor.Errorf(tresor.Invalid, "AKV.SKR.1005: Non-exportable keys must not have release policy.")
	}
	return nil
}

// keyName returns the spelling under which name is stored, since key names
// compare case-insensitively: an existing key's, or name itself for a new
// key. It returns Conflict if name is held by a deleted key. A new version
// must carry the existing spelling because the version's material is bound
// to it.
func (s *Service) keyName(ctx context.Context, v Vault, name string) (string, error) {
	_, err := s.Store.DeletedKey(ctx, v.ID, name)
	switch {
	case err == nil:
		return "", deletedButRecoverable(name)
	case !tresor.IsKind(err, tresor.NotFound):
		return "", err
	}
	latest, err := s.Store.KeyVersion(ctx, v.ID, name, "")
	switch {
	case err == nil:
		return latest.Name, nil
	case tresor.IsKind(err, tresor.NotFound):
		return name, nil
	default:
		return "", err
	}
}

// newVersionName returns the spelling of a key that is to get a new
// version (see keyName) after checking the Managed HSM version limit.
func (s *Service) newVersionName(ctx context.Context, v Vault, name string) (string, error) {
	name, err := s.keyName(ctx, v, name)
	if err != nil {
		return "", err
	}
	return name, s.checkVersionLimit(ctx, v, name)
}

// schedule sets the RotationDue and ExpiryEventDue of kv, about to become
// its key's newest version, from the key's rotation policy (the default
// one if none is set).
func (s *Service) schedule(ctx context.Context, v Vault, kv *KeyVersion) error {
	p, err := s.rotationPolicy(ctx, v, kv.Name)
	if err != nil {
		return err
	}
	kv.RotationDue = nextRotation(p, *kv)
	kv.ExpiryEventDue = nextExpiryEvent(v, p, *kv)
	return nil
}

// CreateKey creates a key, or a new version of an existing key. It returns
// Invalid for unsupported parameters and Conflict
// (ReasonDeletedButRecoverable) if the name belongs to a deleted key.
func (s *Service) CreateKey(ctx context.Context, v Vault, name string, p CreateKeyParams) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionCreate); err != nil {
		return KeyVersion{}, err
	}
	if err := validateName(name); err != nil {
		return KeyVersion{}, err
	}
	t, err := resolveType(v, p.Type)
	if err != nil {
		return KeyVersion{}, err
	}
	spec := hsm.Spec{Type: t.Family(), Size: p.Size, PublicExponent: p.PublicExponent, Curve: p.Curve}
	if err := checkSpec(&spec); err != nil {
		return KeyVersion{}, err
	}
	kv := KeyVersion{Type: t, Size: spec.Size, Curve: spec.Curve, Enabled: true, Tags: p.Tags}
	unlock := s.lockKey(v.ID, name)
	defer unlock()
	if name, err = s.newVersionName(ctx, v, name); err != nil {
		return KeyVersion{}, err
	}
	if err := s.fillNew(&kv, v, name, p.Ops, p.Attributes, p.ReleasePolicy); err != nil {
		return KeyVersion{}, err
	}
	if err := s.schedule(ctx, v, &kv); err != nil {
		return KeyVersion{}, err
	}
	h, pub, err := s.HSM.Generate(ctx, spec, binding(v.ID, name, kv.Version))
	if err != nil {
		return KeyVersion{}, hsmError(err, "create key")
	}
	kv.Handle, kv.Public = h, pub
	return kv, s.createVersion(ctx, v, kv)
}

// createVersion stores a new version and raises KeyNewVersionCreated,
// turning the store's Conflict on a deleted key into Azure's error.
func (s *Service) createVersion(ctx context.Context, v Vault, kv KeyVersion) error {
	err := s.Store.CreateKeyVersion(ctx, kv, s.keyEvent(v, eventgrid.KeyNewVersionCreated, kv, kv.Created)...)
	if tresor.IsKind(err, tresor.Conflict) {
		return deletedButRecoverable(kv.Name)
	}
	return err
}

// fillNew sets the fields every new version gets.
func (s *Service) fillNew(kv *KeyVersion, v Vault, name string, ops []KeyOp, a Attributes, rp *ReleasePolicy) error {
	if err := validateOps(ops); err != nil {
		return err
	}
	if err := validateTags(kv.Tags); err != nil {
		return err
	}
	if ops == nil {
		ops = defaultOps(kv.Type.Family())
	}
	now := s.now()
	kv.VaultID, kv.Name, kv.Version = v.ID, name, s.newID()
	kv.Ops = slices.Clone(ops)
	kv.Created, kv.Updated = now, now
	kv.Tags = maps.Clone(kv.Tags)
	return applyAttributes(kv, a, rp)
}

// checkSpec fills defaults into spec and rejects what Azure rejects.
func checkSpec(spec *hsm.Spec) error {
	switch spec.Type {
	case hsm.RSA:
		if spec.Size == 0 {
			spec.Size = 2048
		}
		if spec.Size != 2048 && spec.Size != 3072 && spec.Size != 4096 {
			return tresor.Errorf(tresor.Invalid, "Invalid key_size %d for RSA keys. Valid sizes are 2048, 3072 and 4096.", spec.Size)
		}
		if e := spec.PublicExponent; e != 0 && (e < 3 || e%2 == 0) {
			return tresor.Errorf(tresor.Invalid, "Invalid public_exponent %d.", e)
		}
	case hsm.EC:
		if spec.Curve == "" {
			spec.Curve = hsm.P256
		}
		switch spec.Curve {
		case hsm.P256, hsm.P384, hsm.P521, hsm.P256K:
		default:
			return tresor.Errorf(tresor.Invalid, "Invalid crv %q. Valid curves are P-256, P-384, P-521 and P-256K.", spec.Curve)
		}
		spec.Size = 0
	case hsm.Oct:
		if spec.Size == 0 {
			spec.Size = 256
		}
		if spec.Size != 128 && spec.Size != 192 && spec.Size != 256 {
			return tresor.Errorf(tresor.Invalid, "Invalid key_size %d for oct keys. Valid sizes are 128, 192 and 256.", spec.Size)
		}
	}
	return nil
}

// ImportKey imports key material as a new key or a new version. Managed HSM
// stores every imported key as an HSM key; Key Vault honours the Hsm flag.
func (s *Service) ImportKey(ctx context.Context, v Vault, name string, p ImportKeyParams) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionImport); err != nil {
		return KeyVersion{}, err
	}
	if err := validateName(name); err != nil {
		return KeyVersion{}, err
	}
	t := p.Type
	if p.HSM {
		t = t.withHSM()
	}
	t, err := resolveType(v, t)
	if err != nil {
		return KeyVersion{}, err
	}
	if p.Key.Type != t.Family() {
		return KeyVersion{}, tresor.Errorf(tresor.Invalid, "The key material does not match kty %s.", p.Type)
	}
	kv := KeyVersion{Type: t, Enabled: true, Tags: p.Tags}
	unlock := s.lockKey(v.ID, name)
	defer unlock()
	if name, err = s.newVersionName(ctx, v, name); err != nil {
		return KeyVersion{}, err
	}
	if err := s.fillNew(&kv, v, name, p.Ops, p.Attributes, p.ReleasePolicy); err != nil {
		return KeyVersion{}, err
	}
	if err := s.schedule(ctx, v, &kv); err != nil {
		return KeyVersion{}, err
	}
	h, pub, err := s.HSM.Import(ctx, p.Key, binding(v.ID, name, kv.Version))
	if err != nil {
		return KeyVersion{}, hsmError(err, "import key")
	}
	kv.Handle, kv.Public = h, pub
	switch t.Family() {
	case hsm.RSA:
		kv.Size = 8 * len(pub.N)
	case hsm.EC:
		kv.Curve = pub.Curve
	case hsm.Oct:
		kv.Size = 8 * len(p.Key.K)
	}
	return kv, s.createVersion(ctx, v, kv)
}

// GetKey returns a version of a key; an empty version means the newest.
func (s *Service) GetKey(ctx context.Context, v Vault, name, version string) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionGet); err != nil {
		return KeyVersion{}, err
	}
	return s.key(ctx, v, name, version)
}

// key is GetKey without the access check, for operations that made their
// own.
func (s *Service) key(ctx context.Context, v Vault, name, version string) (KeyVersion, error) {
	kv, err := s.Store.KeyVersion(ctx, v.ID, name, version)
	if tresor.IsKind(err, tresor.NotFound) {
		if version != "" {
			return KeyVersion{}, keyNotFound(name + "/" + version)
		}
		return KeyVersion{}, keyNotFound(name)
	}
	return kv, err
}

// UpdateKey merges p into a version of a key (the newest if version is
// empty) and returns the result. Updating a disabled key is allowed.
func (s *Service) UpdateKey(ctx context.Context, v Vault, name, version string, p UpdateKeyParams) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionUpdate); err != nil {
		return KeyVersion{}, err
	}
	unlock := s.lockKey(v.ID, name)
	defer unlock()
	kv, err := s.key(ctx, v, name, version)
	if err != nil {
		return KeyVersion{}, err
	}
	if p.Ops != nil {
		if err := validateOps(p.Ops); err != nil {
			return KeyVersion{}, err
		}
		kv.Ops = slices.Clone(p.Ops)
	}
	if p.Tags != nil {
		if err := validateTags(p.Tags); err != nil {
			return KeyVersion{}, err
		}
		kv.Tags = maps.Clone(p.Tags)
	}
	expires := kv.Expires
	if err := applyAttributes(&kv, p.Attributes, p.ReleasePolicy); err != nil {
		return KeyVersion{}, err
	}
	kv.Updated = s.now()
	// The newest version's expiry may move a timeBeforeExpiry rotation,
	// and a new expiry re-arms the expiry events.
	if cur, err := s.key(ctx, v, name, ""); err != nil {
		return KeyVersion{}, err
	} else if cur.Version == kv.Version {
		eventDue := kv.ExpiryEventDue
		if err := s.schedule(ctx, v, &kv); err != nil {
			return KeyVersion{}, err
		}
		if kv.Expires.Equal(expires) {
			kv.ExpiryEventDue = eventDue
		}
	}
	if err := s.Store.UpdateKeyVersion(ctx, kv); err != nil {
		return KeyVersion{}, err
	}
	return kv, nil
}

// GetKeys lists the newest version of each key in v.
func (s *Service) GetKeys(ctx context.Context, v Vault, p Page) ([]KeyVersion, string, error) {
	if err := s.authorize(ctx, v, "", ActionList); err != nil {
		return nil, "", err
	}
	if err := checkPage(p); err != nil {
		return nil, "", err
	}
	return s.Store.Keys(ctx, v.ID, p)
}

// GetKeyVersions lists the versions of a key, oldest first.
func (s *Service) GetKeyVersions(ctx context.Context, v Vault, name string, p Page) ([]KeyVersion, string, error) {
	if err := s.authorize(ctx, v, name, ActionList); err != nil {
		return nil, "", err
	}
	if err := checkPage(p); err != nil {
		return nil, "", err
	}
	kvs, next, err := s.Store.KeyVersions(ctx, v.ID, name, p)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil, "", keyNotFound(name)
	}
	return kvs, next, err
}

func checkPage(p Page) error {
	if p.Max < 0 || p.Max > 25 {
		return tresor.Errorf(tresor.Invalid, "maxresults must be between 1 and 25, got %d.", p.Max)
	}
	return nil
}

// DeleteKey deletes a key with all its versions. In a vault with soft
// delete the key stays recoverable for the vault's retention period; without
// soft delete it is purged at once and the result has a zero Deletion.
func (s *Service) DeleteKey(ctx context.Context, v Vault, name string) (DeletedKey, error) {
	if err := s.authorize(ctx, v, name, ActionDelete); err != nil {
		return DeletedKey{}, err
	}
	latest, err := s.key(ctx, v, name, "")
	if err != nil {
		return DeletedKey{}, err
	}
	if !v.SoftDelete {
		return DeletedKey{Latest: latest}, s.Store.PurgeKey(ctx, v.ID, name)
	}
	now := s.now()
	d := Deletion{Deleted: now, PurgeAt: now.AddDate(0, 0, v.RetentionDays)}
	if err := s.Store.DeleteKey(ctx, v.ID, name, d); err != nil {
		return DeletedKey{}, err
	}
	return DeletedKey{Latest: latest, Deletion: d}, nil
}

// GetDeletedKey returns a soft-deleted key.
func (s *Service) GetDeletedKey(ctx context.Context, v Vault, name string) (DeletedKey, error) {
	if err := s.authorize(ctx, v, name, ActionGetDeleted); err != nil {
		return DeletedKey{}, err
	}
	return s.deletedKey(ctx, v, name)
}

func (s *Service) deletedKey(ctx context.Context, v Vault, name string) (DeletedKey, error) {
	dk, err := s.Store.DeletedKey(ctx, v.ID, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return DeletedKey{}, tresor.Errorf(tresor.NotFound, "Deleted Key not found: %s", name)
	}
	return dk, err
}

// GetDeletedKeys lists soft-deleted keys.
func (s *Service) GetDeletedKeys(ctx context.Context, v Vault, p Page) ([]DeletedKey, string, error) {
	if err := s.authorize(ctx, v, "", ActionGetDeleted); err != nil {
		return nil, "", err
	}
	if err := checkPage(p); err != nil {
		return nil, "", err
	}
	return s.Store.DeletedKeys(ctx, v.ID, p)
}

// RecoverDeletedKey restores a soft-deleted key and returns its newest
// version.
func (s *Service) RecoverDeletedKey(ctx context.Context, v Vault, name string) (KeyVersion, error) {
	if err := s.authorize(ctx, v, name, ActionRecover); err != nil {
		return KeyVersion{}, err
	}
	dk, err := s.deletedKey(ctx, v, name)
	if err != nil {
		return KeyVersion{}, err
	}
	if err := s.Store.RecoverKey(ctx, v.ID, name); err != nil {
		return KeyVersion{}, err
	}
	return dk.Latest, nil
}

// PurgeDeletedKey removes a soft-deleted key for good. Under purge
// protection it returns Forbidden until the key's scheduled purge date.
func (s *Service) PurgeDeletedKey(ctx context.Context, v Vault, name string) error {
	if err := s.authorize(ctx, v, name, ActionPurge); err != nil {
		return err
	}
	dk, err := s.deletedKey(ctx, v, name)
	if err != nil {
		return err
	}
	if v.PurgeProtection && s.now().Before(dk.PurgeAt) {
		return tresor.Errorf(tresor.Forbidden,
			"Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.")
	}
	return s.Store.PurgeKey(ctx, v.ID, name)
}
