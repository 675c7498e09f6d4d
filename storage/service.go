package storage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/msi"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/seal"
)

// Storage's error codes that clients branch on, as the inner code.
const (
	ReasonAccountAlreadyTaken = "StorageAccountAlreadyTaken"
	ReasonAccountNameInvalid  = "AccountNameInvalid"
	ReasonAccountNotFound     = "StorageAccountNotFound"
	// ReasonKeyNotFound is the data plane's answer when the account
	// encryption key cannot be unwrapped: the CMK is disabled, deleted,
	// expired, or the identity lost access.
	ReasonKeyNotFound = "KeyVaultEncryptionKeyNotFound"
	// ReasonTokenNotAcquired is the code of a request refused because the
	// account's identity cannot act in its key's tenant (a federated
	// identity credential removed, the application's service principal
	// deleted).
	ReasonTokenNotAcquired = "KeyVaultAccessTokenCannotBeAcquired"
	// ReasonInvalidEncryption marks a refused encryption setting.
	ReasonInvalidEncryption = "InvalidEncryptionSettings"
)

// KeyService is the key service as a storage account uses it, always on
// behalf of the account's encryption identity, whose access the key
// service checks. *cmk.Keys implements it.
type KeyService interface {
	// Check resolves ref (its newest version if ref.Version is empty) and
	// checks that it may protect an account (see cmk.Keys.Check).
	Check(ctx context.Context, id cmk.Identity, ref cmk.Ref) (cmk.Version, error)
	// Wrap wraps plain with the key version keyID.
	Wrap(ctx context.Context, id cmk.Identity, keyID string, plain []byte) ([]byte, error)
	// Unwrap unwraps with the key version keyID.
	Unwrap(ctx context.Context, id cmk.Identity, keyID string, wrapped []byte) ([]byte, error)
}

// Store persists accounts. Names are unique across the installation and
// compare case-insensitively (Azure allows lower case only). NotFound for
// an absent account, Conflict for a taken name.
type Store interface {
	CreateAccount(ctx context.Context, a Account) error
	// UpdateAccount replaces the account named a.Name.
	UpdateAccount(ctx context.Context, a Account) error
	Account(ctx context.Context, name string) (Account, error)
	// Accounts lists a subscription's accounts, or a group's if group is
	// not empty, ordered by name.
	Accounts(ctx context.Context, subscriptionID, group string) ([]Account, error)
	// DeleteAccount removes an account and, in the same transaction, its
	// encryption scopes and the data of its services (its blob containers).
	DeleteAccount(ctx context.Context, name string) error
	// DueKeyChecks returns up to max accounts whose NextKeyCheck is at or
	// before now, earliest first; its cost grows with those returned.
	DueKeyChecks(ctx context.Context, now time.Time, max int) ([]DueKeyCheck, error)

	// PutScope inserts or replaces the scope sc.Name of account sc.Account.
	PutScope(ctx context.Context, sc Scope) error
	// Scope returns a scope of an account; NotFound if it has none of that
	// name.
	Scope(ctx context.Context, account, name string) (Scope, error)
	// Scopes lists an account's scopes, ordered by name.
	Scopes(ctx context.Context, account string) ([]Scope, error)
	// DueScopeKeyChecks returns up to max scopes whose NextKeyCheck is at
	// or before now, earliest first.
	DueScopeKeyChecks(ctx context.Context, now time.Time, max int) ([]DueScopeKeyCheck, error)
}

// DueKeyCheck names an account due to look for a new key version.
type DueKeyCheck struct {
	Name string
	Due  time.Time
}

// Defaults.
const (
	// DefaultKeyCheckInterval is how often an account that follows its
	// key's newest version looks for a new one: daily, as in Azure.
	DefaultKeyCheckInterval = 24 * time.Hour
	// DefaultKeyCacheTTL bounds how long an unwrapped account key is kept
	// in memory, and so how long data stays readable after its CMK is
	// revoked.
	DefaultKeyCacheTTL = time.Minute
)

// Service manages storage accounts. It is safe for concurrent use.
type Service struct {
	Store Store
	ARM   *arm.Service // resource groups
	MSI   *msi.Service
	Keys  KeyService
	// Seal seals access keys and Microsoft-managed account keys.
	Seal *seal.Sealer
	// Now is the clock of key-version checks (the server's, virtual or
	// not); Rand the source of keys.
	Now  func() time.Time
	Rand io.Reader
	// KeyCheckInterval and KeyCacheTTL override the defaults when set; a
	// negative KeyCacheTTL keeps no unwrapped keys at all.
	KeyCheckInterval time.Duration
	KeyCacheTTL      time.Duration

	mu    sync.Mutex // serialises changes to accounts
	cache keyCache
}

// NewService returns a Service with the real clock and crypto/rand.
func NewService(store Store, armSvc *arm.Service, ids *msi.Service, keys KeyService, sealer *seal.Sealer) *Service {
	return &Service{Store: store, ARM: armSvc, MSI: ids, Keys: keys, Seal: sealer, Now: time.Now, Rand: rand.Reader}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Second) }

func (s *Service) checkInterval() time.Duration {
	if s.KeyCheckInterval > 0 {
		return s.KeyCheckInterval
	}
	return DefaultKeyCheckInterval
}

func (s *Service) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		panic("storage: random source failed: " + err.Error())
	}
	return b
}

// Spec is what a request asks of an account. In an update, nil fields
// keep what the account has.
type Spec struct {
	Location   string // required on create; an update may not change it
	Kind, SKU  string
	Tags       map[string]string
	Identity   *msi.Spec
	Encryption *EncryptionSpec
}

// EncryptionSpec is a requested encryption setting.
type EncryptionSpec struct {
	KeySource            KeySource // empty means Microsoft-managed
	Key                  cmk.Ref
	UserAssignedIdentity string
	// FederatedClientID is the multi-tenant application through which the
	// identity uses a key in another tenant (Azure's
	// federatedIdentityClientId); empty for a key in the account's tenant.
	FederatedClientID string
	// Create-time settings; empty or nil keeps the account's.
	QueueKeyType, TableKeyType      string
	RequireInfrastructureEncryption *bool
}

var namePattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// ValidName reports whether name is a valid storage account name.
func ValidName(name string) bool { return namePattern.MatchString(name) }

func invalidEncryption(format string, args ...any) error {
	return tresor.Errorf(tresor.Invalid, format, args...).WithReason(ReasonInvalidEncryption)
}

// CreateOrUpdate creates the account name in the group, or updates it as
// Update does if it exists there, and reports whether it created it.
// Conflict (ReasonAccountAlreadyTaken) if the name belongs to an account
// elsewhere.
//
// A new account with a customer-managed key must name a user-assigned
// identity for it (the account has no system-assigned identity yet that
// could have been granted access), as Azure requires.
func (s *Service) CreateOrUpdate(ctx context.Context, subscriptionID, tenantID, group, name string, sp Spec) (Account, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Store.Account(ctx, name)
	switch {
	case err == nil:
		if !strings.EqualFold(cur.SubscriptionID, subscriptionID) || !strings.EqualFold(cur.ResourceGroup, group) {
			return Account{}, false, taken(name)
		}
		a, err := s.update(ctx, cur, sp)
		return a, false, err
	case !tresor.IsKind(err, tresor.NotFound):
		return Account{}, false, err
	}
	if !namePattern.MatchString(name) {
		return Account{}, false, tresor.Errorf(tresor.Invalid,
			"%s is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.", clip(name)).
			WithReason(ReasonAccountNameInvalid)
	}
	if sp.Location == "" {
		return Account{}, false, tresor.Errorf(tresor.Invalid, "The location property is required for this definition.").WithReason("LocationRequired")
	}
	if _, err := s.ARM.GetResourceGroup(ctx, subscriptionID, group); err != nil {
		return Account{}, false, err
	}
	now := s.now()
	a := Account{
		SubscriptionID: subscriptionID, ResourceGroup: group, Name: name, TenantID: tenantID,
		Location: sp.Location, Kind: or(sp.Kind, "StorageV2"), SKU: or(sp.SKU, "Standard_LRS"), Tags: maps.Clone(sp.Tags),
		Created: now,
	}
	a.Encryption = Encryption{KeySource: MicrosoftManaged, QueueKeyType: "Service", TableKeyType: "Service", Enabled: now}
	if e := sp.Encryption; e != nil {
		a.Encryption.QueueKeyType = or(e.QueueKeyType, "Service")
		a.Encryption.TableKeyType = or(e.TableKeyType, "Service")
		if e.RequireInfrastructureEncryption != nil {
			a.Encryption.RequireInfrastructureEncryption = *e.RequireInfrastructureEncryption
		}
		for _, kt := range []string{a.Encryption.QueueKeyType, a.Encryption.TableKeyType} {
			if kt != "Service" && kt != "Account" {
				return Account{}, false, invalidEncryption("The keyType '%s' is not Service or Account.", clip(kt))
			}
		}
		if e.KeySource == CustomerManaged && e.UserAssignedIdentity == "" {
			return Account{}, false, invalidEncryption(
				"A new storage account can use a customer-managed key only through a user-assigned identity (encryption.identity.userAssignedIdentity); a system-assigned identity can be used once the account exists.")
		}
	}
	for _, k := range []string{"key1", "key2"} {
		a.Keys = append(a.Keys, AccessKey{Name: k, Sealed: s.Seal.Seal(s.random(64), a.keyBinding(k)), Created: now})
	}
	spec := msi.Spec{}
	if sp.Identity != nil {
		spec = *sp.Identity
	}
	if a.Identity, err = s.MSI.ApplyIdentity(ctx, a.ID(), tenantID, msi.State{}, spec); err != nil {
		return Account{}, false, err
	}
	undo := func() { s.MSI.ApplyIdentity(ctx, a.ID(), tenantID, a.Identity, msi.Spec{}) } //nolint:errcheck // best effort; a left-over identity is harmless (see ApplyIdentity)
	aek := s.random(32)
	if err := s.protect(ctx, &a, sp.Encryption, aek); err != nil {
		undo()
		return Account{}, false, err
	}
	if err := s.Store.CreateAccount(ctx, a); err != nil {
		undo()
		if tresor.IsKind(err, tresor.Conflict) {
			return Account{}, false, taken(name)
		}
		return Account{}, false, err
	}
	return a, true, nil
}

// Update applies sp to the account name in the group.
func (s *Service) Update(ctx context.Context, subscriptionID, group, name string, sp Spec) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.get(ctx, subscriptionID, group, name)
	if err != nil {
		return Account{}, err
	}
	return s.update(ctx, cur, sp)
}

// update applies sp to cur. A change of encryption re-wraps the account
// key: it is unwrapped as the account is (its current key and identity)
// and wrapped as it will be.
func (s *Service) update(ctx context.Context, cur Account, sp Spec) (Account, error) {
	if sp.Location != "" && !strings.EqualFold(sp.Location, cur.Location) {
		return Account{}, tresor.Errorf(tresor.Invalid, "The location of storage account %s is %s; it cannot be moved to %s.", cur.Name, cur.Location, clip(sp.Location)).
			WithReason("LocationNotChangeable")
	}
	a := cur
	a.Tags = maps.Clone(cur.Tags)
	if sp.Tags != nil {
		a.Tags = maps.Clone(sp.Tags)
	}
	if sp.SKU != "" {
		a.SKU = sp.SKU
	}
	if sp.Kind != "" {
		a.Kind = sp.Kind
	}
	if e := sp.Encryption; e != nil {
		if (e.QueueKeyType != "" && e.QueueKeyType != cur.Encryption.QueueKeyType) ||
			(e.TableKeyType != "" && e.TableKeyType != cur.Encryption.TableKeyType) ||
			(e.RequireInfrastructureEncryption != nil && *e.RequireInfrastructureEncryption != cur.Encryption.RequireInfrastructureEncryption) {
			return Account{}, invalidEncryption("The queue and table key types and requireInfrastructureEncryption are set when an account is created and cannot change.")
		}
	}
	var aek []byte
	if sp.Encryption != nil {
		var err error
		if aek, err = s.openAEK(ctx, cur); err != nil {
			return Account{}, err
		}
	}
	if sp.Identity != nil {
		var err error
		if a.Identity, err = s.MSI.ApplyIdentity(ctx, a.ID(), a.TenantID, cur.Identity, *sp.Identity); err != nil {
			return Account{}, err
		}
	}
	undo := func() {
		if sp.Identity != nil {
			s.MSI.ApplyIdentity(ctx, a.ID(), a.TenantID, a.Identity, cur.Identity.Spec()) //nolint:errcheck // best effort, as in CreateOrUpdate
		}
	}
	if sp.Encryption != nil {
		if err := s.protect(ctx, &a, sp.Encryption, aek); err != nil {
			undo()
			return Account{}, err
		}
	} else if a.Encryption.KeySource == CustomerManaged {
		// The identity that uses the key must still be there.
		if _, err := a.keyIdentity(); err != nil {
			undo()
			return Account{}, invalidEncryption("The identity that uses the account's customer-managed key would be removed: %s", tresor.MessageOf(err))
		}
	}
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		undo()
		return Account{}, err
	}
	return a, nil
}

// protect sets a's encryption from e (Microsoft-managed if e is nil or
// says so) and wraps aek accordingly.
func (s *Service) protect(ctx context.Context, a *Account, e *EncryptionSpec, aek []byte) error {
	now := s.now()
	enc := a.Encryption
	if e == nil || e.KeySource == "" || e.KeySource == MicrosoftManaged {
		enc.KeySource, enc.Key, enc.UserAssignedIdentity, enc.FederatedClientID = MicrosoftManaged, cmk.Ref{}, "", ""
		enc.CurrentKeyID, enc.LastKeyRotation, enc.CurrentKeyExpires, enc.NextKeyCheck = "", time.Time{}, time.Time{}, time.Time{}
		a.Encryption, a.AEK = enc, WrappedKey{Wrapped: s.Seal.Seal(aek, a.aekBinding())}
		return nil
	}
	if e.KeySource != CustomerManaged {
		return invalidEncryption("The keySource '%s' is not Microsoft.Storage or Microsoft.Keyvault.", clip(string(e.KeySource)))
	}
	if e.Key.VaultURI == "" || e.Key.Name == "" {
		return invalidEncryption("A customer-managed key needs keyvaultproperties.keyvaulturi and keyname.")
	}
	p, err := a.Identity.Principal(e.UserAssignedIdentity)
	if err != nil {
		return invalidEncryption("The identity for the customer-managed key is not the account's: %s Attach it to the account's identity property first.", tresor.MessageOf(err))
	}
	fed := strings.ToLower(strings.TrimSpace(e.FederatedClientID))
	switch {
	case fed != "" && !identity.IsGUID(fed):
		return invalidEncryption("The federatedIdentityClientId '%s' is not a client id (a GUID).", clip(e.FederatedClientID))
	case fed != "" && e.UserAssignedIdentity == "":
		return invalidEncryption("A key in another tenant (federatedIdentityClientId) is used through a user-assigned identity only; name it in encryption.identity.userAssignedIdentity.")
	}
	id := cmk.Identity{Principal: p, FederatedClientID: fed}
	v, err := s.Keys.Check(ctx, id, e.Key)
	if err != nil {
		return err
	}
	wrapped, err := s.Keys.Wrap(ctx, id, v.ID, aek)
	if err != nil {
		return err
	}
	if enc.KeySource != CustomerManaged || enc.CurrentKeyID != v.ID {
		enc.LastKeyRotation = now
	}
	enc.KeySource, enc.Key, enc.UserAssignedIdentity, enc.FederatedClientID = CustomerManaged, e.Key, e.UserAssignedIdentity, fed
	enc.CurrentKeyID, enc.CurrentKeyExpires = v.ID, v.Expires
	enc.NextKeyCheck = time.Time{}
	if e.Key.Version == "" {
		enc.NextKeyCheck = now.Add(s.checkInterval())
	}
	a.Encryption, a.AEK = enc, WrappedKey{KeyID: v.ID, Wrapped: wrapped}
	return nil
}

// openAEK unwraps a's account key as the account: with its CMK through its
// identity, or from the root key. A CMK that does not unwrap gives
// Forbidden (ReasonKeyNotFound), whatever the key service's reason.
func (s *Service) openAEK(ctx context.Context, a Account) ([]byte, error) {
	return s.openKey(ctx, a, a.AEK, a.aekBinding())
}

// openKey opens a key of account a (its AEK or a scope's key): sealed
// under the root key with binding if k has no KeyID, else unwrapped by the
// CMK version k.KeyID as a's encryption identity. Forbidden
// (ReasonKeyNotFound) if the CMK does not unwrap it, whatever the key
// service's reason.
func (s *Service) openKey(ctx context.Context, a Account, k WrappedKey, binding []byte) ([]byte, error) {
	if k.KeyID == "" {
		key, err := s.Seal.Open(k.Wrapped, binding)
		if err != nil {
			return nil, tresor.Wrap(err, "storage: open a sealed key")
		}
		return key, nil
	}
	id, err := a.keyIdentity()
	if err == nil {
		var key []byte
		if key, err = s.Keys.Unwrap(ctx, id, k.KeyID, k.Wrapped); err == nil && len(key) == 32 {
			return key, nil
		}
	}
	switch {
	case tresor.IsKind(err, tresor.Internal):
		return nil, err // tresor's own failure, not the key's
	case tresor.ReasonOf(err) == cmk.ReasonTokenNotAcquired:
		return nil, &tresor.Error{
			Kind: tresor.Forbidden, Reason: ReasonTokenNotAcquired,
			Message: "The access token to key vault cannot be acquired from Microsoft Entra ID using the identity of this resource.", Err: err,
		}
	}
	return nil, &tresor.Error{
		Kind: tresor.Forbidden, Reason: ReasonKeyNotFound,
		Message: "The key vault key is not found to unwrap the encryption key.", Err: err,
	}
}

// keyIdentity returns the identity as which a uses its customer-managed
// keys: its encryption identity, federated if it names an application.
func (a Account) keyIdentity() (cmk.Identity, error) {
	p, err := a.Identity.Principal(a.Encryption.UserAssignedIdentity)
	if err != nil {
		return cmk.Identity{}, err
	}
	return cmk.Identity{Principal: p, FederatedClientID: a.Encryption.FederatedClientID}, nil
}

func (a Account) aekBinding() []byte {
	return []byte("storage/" + a.Name + "/" + strconv.FormatInt(a.Created.Unix(), 10) + "/aek")
}

func (a Account) keyBinding(key string) []byte {
	return []byte("storage/" + a.Name + "/" + strconv.FormatInt(a.Created.Unix(), 10) + "/" + key)
}

// Get returns the account name in the group.
func (s *Service) Get(ctx context.Context, subscriptionID, group, name string) (Account, error) {
	return s.get(ctx, subscriptionID, group, name)
}

func (s *Service) get(ctx context.Context, subscriptionID, group, name string) (Account, error) {
	a, err := s.Store.Account(ctx, name)
	if err == nil && (!strings.EqualFold(a.SubscriptionID, subscriptionID) || !strings.EqualFold(a.ResourceGroup, group)) {
		err = tresor.Errorf(tresor.NotFound, "not here")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return Account{}, tresor.Errorf(tresor.NotFound, "The storage account %s was not found.", clip(name)).WithReason(ReasonAccountNotFound)
	}
	return a, err
}

// Account returns the account name wherever it is: the data plane's
// lookup.
func (s *Service) Account(ctx context.Context, name string) (Account, error) {
	return s.Store.Account(ctx, name)
}

// List lists a subscription's or a group's accounts.
func (s *Service) List(ctx context.Context, subscriptionID, group string) ([]Account, error) {
	return s.Store.Accounts(ctx, subscriptionID, group)
}

// Delete deletes an account and its system-assigned identity, and reports
// whether it existed.
func (s *Service) Delete(ctx context.Context, subscriptionID, group, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.get(ctx, subscriptionID, group, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.Store.DeleteAccount(ctx, a.Name); err != nil {
		return false, err
	}
	s.cache.drop(a.Name)
	return true, s.MSI.RemoveIdentity(ctx, a.Identity)
}

// DeleteResourceGroup deletes a group's accounts.
func (s *Service) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	as, err := s.Store.Accounts(ctx, subscriptionID, group)
	if err != nil {
		return err
	}
	for _, a := range as {
		if _, err := s.Delete(ctx, subscriptionID, group, a.Name); err != nil {
			return err
		}
	}
	return nil
}

// Key is an access key in the clear, as ListKeys returns it.
type Key struct {
	Name    string
	Value   string // base64, as the SDKs' connection strings carry it
	Created time.Time
}

// ListKeys returns the account's access keys.
func (s *Service) ListKeys(ctx context.Context, subscriptionID, group, name string) ([]Key, error) {
	a, err := s.get(ctx, subscriptionID, group, name)
	if err != nil {
		return nil, err
	}
	return s.keys(a)
}

func (s *Service) keys(a Account) ([]Key, error) {
	out := make([]Key, 0, len(a.Keys))
	for _, k := range a.Keys {
		raw, err := s.Seal.Open(k.Sealed, a.keyBinding(k.Name))
		if err != nil {
			return nil, tresor.Wrap(err, "storage: open access key")
		}
		out = append(out, Key{Name: k.Name, Value: base64.StdEncoding.EncodeToString(raw), Created: k.Created})
	}
	return out, nil
}

// AccessKeys returns the raw access keys of the account name, for the data
// plane's Shared Key and SAS checks.
func (s *Service) AccessKeys(ctx context.Context, name string) ([][]byte, error) {
	a, err := s.Store.Account(ctx, name)
	if err != nil {
		return nil, err
	}
	keys, err := s.keys(a)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = base64.StdEncoding.DecodeString(k.Value)
	}
	return out, nil
}

// RegenerateKey replaces key1 or key2 with a new random key and returns
// the keys.
func (s *Service) RegenerateKey(ctx context.Context, subscriptionID, group, name, keyName string) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.get(ctx, subscriptionID, group, name)
	if err != nil {
		return nil, err
	}
	i := -1
	for j, k := range a.Keys {
		if strings.EqualFold(k.Name, keyName) {
			i = j
		}
	}
	if i < 0 {
		return nil, tresor.Errorf(tresor.Invalid, "The key name '%s' is not key1 or key2.", clip(keyName)).WithReason("InvalidValuesForRequestParameters")
	}
	a.Keys = append([]AccessKey(nil), a.Keys...)
	a.Keys[i] = AccessKey{Name: a.Keys[i].Name, Sealed: s.Seal.Seal(s.random(64), a.keyBinding(a.Keys[i].Name)), Created: s.now()}
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	return s.keys(a)
}

func taken(name string) error {
	return tresor.Errorf(tresor.Conflict, "The storage account named %s is already taken.", clip(name)).WithReason(ReasonAccountAlreadyTaken)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
