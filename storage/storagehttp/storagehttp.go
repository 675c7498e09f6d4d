// Package storagehttp is the ARM face of package storage: the
// Microsoft.Storage/storageAccounts routes as armstorage calls them
// (api-version 2025-01-01 for v2; earlier versions send the same schema for
// what tresor serves).
package storagehttp

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/msi/msihttp"
	"github.com/tresorkms/tresor/cmk"
	"github.com/tresorkms/tresor/storage"
)

// Provider serves storage accounts.
type Provider struct {
	Accounts *storage.Service
	// BlobURL returns an account's blob endpoint, with a trailing slash.
	BlobURL func(account string) string
}

var _ armhttp.Provider = (*Provider)(nil)

// Routes returns the provider's routes.
func (p *Provider) Routes() []armhttp.Route {
	const (
		sub   = "/subscriptions/{subscriptionId}/providers/Microsoft.Storage"
		group = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage"
		one   = group + "/storageAccounts/{accountName}"
	)
	// Wrapping the account key with a CMK asks the key service, which
	// may take a moment.
	const slow = 2 * time.Minute
	return []armhttp.Route{
		{Pattern: "PUT " + one, Timeout: slow, Handler: p.create},
		{Pattern: "PATCH " + one, Timeout: slow, Handler: p.update},
		{Pattern: "GET " + one, Handler: p.get},
		{Pattern: "DELETE " + one, Handler: p.delete},
		{Pattern: "POST " + one + "/listKeys", Handler: p.listKeys},
		{Pattern: "POST " + one + "/regenerateKey", Handler: p.regenerateKey},
		// Encryption scopes cannot be deleted, only disabled.
		{Pattern: "PUT " + one + "/encryptionScopes/{scopeName}", Timeout: slow, Handler: p.putScope},
		{Pattern: "PATCH " + one + "/encryptionScopes/{scopeName}", Timeout: slow, Handler: p.patchScope},
		{Pattern: "GET " + one + "/encryptionScopes/{scopeName}", Handler: p.getScope},
		{Pattern: "GET " + one + "/encryptionScopes", Handler: p.listScopes},
		{Pattern: "GET " + group + "/storageAccounts", Handler: p.list},
		{Pattern: "GET " + sub + "/storageAccounts", Handler: p.list},
		{Pattern: "POST " + sub + "/checkNameAvailability", Handler: p.checkNameAvailability},
	}
}

// Resources lists a subscription's accounts.
func (p *Provider) Resources(ctx context.Context, subscriptionID string) ([]arm.Resource, error) {
	as, err := p.Accounts.List(ctx, subscriptionID, "")
	if err != nil {
		return nil, err
	}
	out := make([]arm.Resource, 0, len(as))
	for _, a := range as {
		id, _ := arm.Parse(a.ID())
		out = append(out, arm.Resource{ID: id, Location: a.Location, Tags: a.Tags})
	}
	return out, nil
}

// DeleteResourceGroup deletes a group's accounts.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	return p.Accounts.DeleteResourceGroup(ctx, subscriptionID, group)
}

// The wire types: armstorage's Account and friends.
type (
	accountResource struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Type       string            `json:"type"`
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		Kind       string            `json:"kind"`
		SKU        sku               `json:"sku"`
		Identity   *msihttp.Identity `json:"identity,omitempty"`
		Properties accountProperties `json:"properties"`
	}
	sku struct {
		Name string `json:"name"`
		Tier string `json:"tier,omitempty"`
	}
	accountProperties struct {
		ProvisioningState        string            `json:"provisioningState"`
		CreationTime             string            `json:"creationTime"`
		PrimaryEndpoints         endpoints         `json:"primaryEndpoints"`
		PrimaryLocation          string            `json:"primaryLocation"`
		StatusOfPrimary          string            `json:"statusOfPrimary"`
		Encryption               *encryption       `json:"encryption"`
		SupportsHTTPSTrafficOnly bool              `json:"supportsHttpsTrafficOnly"`
		MinimumTLSVersion        string            `json:"minimumTlsVersion"`
		AllowBlobPublicAccess    bool              `json:"allowBlobPublicAccess"`
		AllowSharedKeyAccess     bool              `json:"allowSharedKeyAccess"`
		KeyCreationTime          map[string]string `json:"keyCreationTime"`
	}
	endpoints struct {
		Blob string `json:"blob"`
	}
	encryption struct {
		KeySource                       *string             `json:"keySource,omitempty"`
		KeyVaultProperties              *keyVaultProperties `json:"keyvaultproperties,omitempty"`
		Identity                        *encryptionIdentity `json:"identity,omitempty"`
		Services                        *services           `json:"services,omitempty"`
		RequireInfrastructureEncryption *bool               `json:"requireInfrastructureEncryption,omitempty"`
	}
	keyVaultProperties struct {
		KeyName                                *string `json:"keyname,omitempty"`
		KeyVersion                             *string `json:"keyversion,omitempty"`
		KeyVaultURI                            *string `json:"keyvaulturi,omitempty"`
		CurrentVersionedKeyIdentifier          string  `json:"currentVersionedKeyIdentifier,omitempty"`
		LastKeyRotationTimestamp               string  `json:"lastKeyRotationTimestamp,omitempty"`
		CurrentVersionedKeyExpirationTimestamp string  `json:"currentVersionedKeyExpirationTimestamp,omitempty"`
	}
	encryptionIdentity struct {
		UserAssignedIdentity      *string `json:"userAssignedIdentity,omitempty"`
		FederatedIdentityClientID *string `json:"federatedIdentityClientId,omitempty"`
	}
	services struct {
		Blob  *service `json:"blob,omitempty"`
		File  *service `json:"file,omitempty"`
		Queue *service `json:"queue,omitempty"`
		Table *service `json:"table,omitempty"`
	}
	service struct {
		Enabled         *bool  `json:"enabled,omitempty"`
		KeyType         string `json:"keyType,omitempty"`
		LastEnabledTime string `json:"lastEnabledTime,omitempty"`
	}
	accountKey struct {
		KeyName      string `json:"keyName"`
		Value        string `json:"value"`
		Permissions  string `json:"permissions"`
		CreationTime string `json:"creationTime"`
	}
	keyList struct {
		Keys []accountKey `json:"keys"`
	}
)

// parameters is the body of a PUT (AccountCreateParameters) or a PATCH
// (AccountUpdateParameters). Settings tresor does not model are accepted
// and ignored, as unknown fields are.
type parameters struct {
	Location   *string           `json:"location"`
	Tags       map[string]string `json:"tags"`
	Kind       string            `json:"kind"`
	SKU        *sku              `json:"sku"`
	Identity   *msihttp.Identity `json:"identity"`
	Properties *struct {
		Encryption *encryption `json:"encryption"`
	} `json:"properties"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (p *Provider) wire(a storage.Account) accountResource {
	tags := a.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	e := a.Encryption
	enabled := true
	svc := func(keyType string) *service {
		return &service{Enabled: &enabled, KeyType: keyType, LastEnabledTime: rfc3339(e.Enabled)}
	}
	source := string(e.KeySource)
	enc := &encryption{
		KeySource: &source,
		Services:  &services{Blob: svc("Account"), File: svc("Account"), Queue: svc(e.QueueKeyType), Table: svc(e.TableKeyType)},
	}
	if e.RequireInfrastructureEncryption {
		enc.RequireInfrastructureEncryption = &e.RequireInfrastructureEncryption
	}
	if e.KeySource == storage.CustomerManaged {
		enc.KeyVaultProperties = &keyVaultProperties{
			KeyName: &e.Key.Name, KeyVersion: &e.Key.Version, KeyVaultURI: &e.Key.VaultURI,
			CurrentVersionedKeyIdentifier:          e.CurrentKeyID,
			LastKeyRotationTimestamp:               rfc3339(e.LastKeyRotation),
			CurrentVersionedKeyExpirationTimestamp: rfc3339(e.CurrentKeyExpires),
		}
		if e.UserAssignedIdentity != "" {
			enc.Identity = &encryptionIdentity{UserAssignedIdentity: &e.UserAssignedIdentity}
			if e.FederatedClientID != "" {
				enc.Identity.FederatedIdentityClientID = &e.FederatedClientID
			}
		}
	}
	created := map[string]string{}
	for _, k := range a.Keys {
		created[k.Name] = rfc3339(k.Created)
	}
	tier := "Standard"
	if strings.HasPrefix(a.SKU, "Premium") {
		tier = "Premium"
	}
	blob := ""
	if p.BlobURL != nil {
		blob = p.BlobURL(a.Name)
	}
	return accountResource{
		ID: a.ID(), Name: a.Name, Type: storage.Namespace + "/storageAccounts", Location: a.Location, Tags: tags,
		Kind: a.Kind, SKU: sku{Name: a.SKU, Tier: tier}, Identity: msihttp.IdentityOf(a.Identity),
		Properties: accountProperties{
			ProvisioningState: "Succeeded", CreationTime: rfc3339(a.Created),
			PrimaryEndpoints: endpoints{Blob: blob}, PrimaryLocation: a.Location, StatusOfPrimary: "available",
			Encryption: enc, SupportsHTTPSTrafficOnly: true, MinimumTLSVersion: "TLS1_2", AllowSharedKeyAccess: true,
			KeyCreationTime: created,
		},
	}
}

// specOf turns a request into a storage.Spec; cur is the account's current
// state for a PATCH, nil for a PUT.
func specOf(in parameters, cur *storage.Account) (storage.Spec, error) {
	var sp storage.Spec
	if in.Location != nil {
		sp.Location = *in.Location
	}
	sp.Tags, sp.Kind = in.Tags, in.Kind
	if in.SKU != nil {
		sp.SKU = in.SKU.Name
	}
	if in.Identity != nil || cur == nil {
		var st storage.Account
		if cur != nil {
			st = *cur
		}
		id, err := msihttp.SpecOf(in.Identity, st.Identity, cur != nil)
		if err != nil {
			return storage.Spec{}, err
		}
		sp.Identity = &id
	}
	if in.Properties == nil || in.Properties.Encryption == nil {
		return sp, nil
	}
	e := in.Properties.Encryption
	es := &storage.EncryptionSpec{}
	if e.KeySource != nil {
		es.KeySource = storage.KeySource(*e.KeySource)
		if strings.EqualFold(*e.KeySource, string(storage.CustomerManaged)) {
			es.KeySource = storage.CustomerManaged
		} else if strings.EqualFold(*e.KeySource, string(storage.MicrosoftManaged)) {
			es.KeySource = storage.MicrosoftManaged
		}
	} else if cur != nil {
		es.KeySource = cur.Encryption.KeySource
	}
	if kv := e.KeyVaultProperties; kv != nil {
		es.Key = cmk.Ref{VaultURI: deref(kv.KeyVaultURI), Name: deref(kv.KeyName), Version: deref(kv.KeyVersion)}
	} else if cur != nil {
		es.Key = cur.Encryption.Key
	}
	if id := e.Identity; id != nil {
		es.UserAssignedIdentity = deref(id.UserAssignedIdentity)
		// An identity without federatedIdentityClientId keeps the
		// account's federation if it names the same identity; "" or
		// "None" (as a disk encryption set's federatedClientId) clears it.
		switch f := id.FederatedIdentityClientID; {
		case f != nil && strings.EqualFold(*f, "None"):
		case f != nil:
			es.FederatedClientID = *f
		case cur != nil && strings.EqualFold(cur.Encryption.UserAssignedIdentity, es.UserAssignedIdentity):
			es.FederatedClientID = cur.Encryption.FederatedClientID
		}
	} else if cur != nil {
		es.UserAssignedIdentity = cur.Encryption.UserAssignedIdentity
		es.FederatedClientID = cur.Encryption.FederatedClientID
	}
	if s := e.Services; s != nil {
		if s.Queue != nil {
			es.QueueKeyType = s.Queue.KeyType
		}
		if s.Table != nil {
			es.TableKeyType = s.Table.KeyType
		}
	}
	es.RequireInfrastructureEncryption = e.RequireInfrastructureEncryption
	sp.Encryption = es
	return sp, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (p *Provider) create(w http.ResponseWriter, r *http.Request) error {
	var in parameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	sub := armhttp.Subscription(r)
	group, name := r.PathValue("resourceGroupName"), r.PathValue("accountName")
	var cur *storage.Account
	if a, err := p.Accounts.Get(ctx, sub.ID, group, name); err == nil {
		cur = &a
	}
	sp, err := specOf(in, cur)
	if err != nil {
		return err
	}
	a, _, err := p.Accounts.CreateOrUpdate(ctx, sub.ID, sub.TenantID, group, name, sp)
	if err != nil {
		return err
	}
	// 200 with the finished resource: the SDK's poller is done at once.
	armhttp.WriteJSON(w, http.StatusOK, p.wire(a))
	return nil
}

func (p *Provider) update(w http.ResponseWriter, r *http.Request) error {
	var in parameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	sub := armhttp.Subscription(r)
	group, name := r.PathValue("resourceGroupName"), r.PathValue("accountName")
	cur, err := p.Accounts.Get(ctx, sub.ID, group, name)
	if err != nil {
		return err
	}
	sp, err := specOf(in, &cur)
	if err != nil {
		return err
	}
	a, err := p.Accounts.Update(ctx, sub.ID, group, name, sp)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.wire(a))
	return nil
}

func (p *Provider) get(w http.ResponseWriter, r *http.Request) error {
	a, err := p.Accounts.Get(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("accountName"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, p.wire(a))
	return nil
}

func (p *Provider) delete(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.Accounts.Delete(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("accountName"))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

func (p *Provider) list(w http.ResponseWriter, r *http.Request) error {
	as, err := p.Accounts.List(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, as, func(a storage.Account) string { return a.Name })
	if err != nil {
		return err
	}
	out := armhttp.List[accountResource]{Value: make([]accountResource, 0, len(page)), NextLink: next}
	for _, a := range page {
		out.Value = append(out.Value, p.wire(a))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func writeKeys(w http.ResponseWriter, keys []storage.Key) {
	out := keyList{Keys: make([]accountKey, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, accountKey{KeyName: k.Name, Value: k.Value, Permissions: "FULL", CreationTime: rfc3339(k.Created)})
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
}

func (p *Provider) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := p.Accounts.ListKeys(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("accountName"))
	if err != nil {
		return err
	}
	writeKeys(w, keys)
	return nil
}

func (p *Provider) regenerateKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		KeyName string `json:"keyName"`
	}
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	keys, err := p.Accounts.RegenerateKey(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("accountName"), in.KeyName)
	if err != nil {
		return err
	}
	writeKeys(w, keys)
	return nil
}

// checkNameAvailability answers whether a name is free, as ARM does for a
// name that is invalid or taken anywhere.
func (p *Provider) checkNameAvailability(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	type result struct {
		NameAvailable bool   `json:"nameAvailable"`
		Reason        string `json:"reason,omitempty"`
		Message       string `json:"message,omitempty"`
	}
	out := result{NameAvailable: true}
	if !storage.ValidName(in.Name) {
		out = result{Reason: "AccountNameInvalid", Message: in.Name + " is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."}
	} else if _, err := p.Accounts.Account(r.Context(), in.Name); err == nil {
		out = result{Reason: "AlreadyExists", Message: "The storage account named " + in.Name + " is already taken."}
	} else if !tresor.IsKind(err, tresor.NotFound) {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
