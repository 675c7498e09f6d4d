package storagehttp

import (
	"net/http"
	"slices"

	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/storage"
)

// The wire types of encryption scopes: armstorage's EncryptionScope.
type (
	scopeResource struct {
		ID         string          `json:"id"`
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Properties scopeProperties `json:"properties"`
	}
	scopeProperties struct {
		Source                          string              `json:"source,omitempty"`
		State                           string              `json:"state,omitempty"`
		KeyVaultProperties              *scopeKeyProperties `json:"keyVaultProperties,omitempty"`
		RequireInfrastructureEncryption *bool               `json:"requireInfrastructureEncryption,omitempty"`
		CreationTime                    string              `json:"creationTime,omitempty"`
		LastModifiedTime                string              `json:"lastModifiedTime,omitempty"`
	}
	scopeKeyProperties struct {
		KeyURI                        string `json:"keyUri,omitempty"`
		CurrentVersionedKeyIdentifier string `json:"currentVersionedKeyIdentifier,omitempty"`
		LastKeyRotationTimestamp      string `json:"lastKeyRotationTimestamp,omitempty"`
	}
	// scopeParameters is the body of a PUT or PATCH.
	scopeParameters struct {
		Properties *scopeProperties `json:"properties"`
	}
)

func scopeWire(accountID string, sc storage.Scope) scopeResource {
	req := sc.RequireInfrastructureEncryption
	out := scopeResource{
		ID: accountID + "/encryptionScopes/" + sc.Name, Name: sc.Name, Type: storage.Namespace + "/storageAccounts/encryptionScopes",
		Properties: scopeProperties{
			Source: string(sc.Source), State: sc.State(), RequireInfrastructureEncryption: &req,
			CreationTime: rfc3339(sc.Created), LastModifiedTime: rfc3339(sc.Modified),
		},
	}
	if sc.Source == storage.ScopeCustomerManaged {
		out.Properties.KeyVaultProperties = &scopeKeyProperties{
			KeyURI: sc.Key.URI(), CurrentVersionedKeyIdentifier: sc.CurrentKeyID, LastKeyRotationTimestamp: rfc3339(sc.LastKeyRotation),
		}
	}
	return out
}

func scopeSpec(r *http.Request) (storage.ScopeSpec, error) {
	var in scopeParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return storage.ScopeSpec{}, err
	}
	var sp storage.ScopeSpec
	if p := in.Properties; p != nil {
		sp.Source, sp.State, sp.RequireInfrastructureEncryption = storage.KeySource(p.Source), p.State, p.RequireInfrastructureEncryption
		if p.KeyVaultProperties != nil {
			sp.KeyURI = p.KeyVaultProperties.KeyURI
		}
	}
	return sp, nil
}

// accountID is the ARM id of the account a scope request names.
func accountID(r *http.Request) string {
	return "/subscriptions/" + armhttp.Subscription(r).ID + "/resourceGroups/" + r.PathValue("resourceGroupName") +
		"/providers/" + storage.Namespace + "/storageAccounts/" + r.PathValue("accountName")
}

func (p *Provider) putScope(w http.ResponseWriter, r *http.Request) error {
	sp, err := scopeSpec(r)
	if err != nil {
		return err
	}
	sc, created, err := p.Accounts.PutScope(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"),
		r.PathValue("accountName"), r.PathValue("scopeName"), sp)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, scopeWire(accountID(r), sc))
	return nil
}

func (p *Provider) patchScope(w http.ResponseWriter, r *http.Request) error {
	sp, err := scopeSpec(r)
	if err != nil {
		return err
	}
	sc, err := p.Accounts.PatchScope(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"),
		r.PathValue("accountName"), r.PathValue("scopeName"), sp)
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, scopeWire(accountID(r), sc))
	return nil
}

func (p *Provider) getScope(w http.ResponseWriter, r *http.Request) error {
	sc, err := p.Accounts.GetScope(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"),
		r.PathValue("accountName"), r.PathValue("scopeName"))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, scopeWire(accountID(r), sc))
	return nil
}

func (p *Provider) listScopes(w http.ResponseWriter, r *http.Request) error {
	all, err := p.Accounts.ListScopes(r.Context(), armhttp.Subscription(r).ID, r.PathValue("resourceGroupName"), r.PathValue("accountName"))
	if err != nil {
		return err
	}
	// $include=Enabled or Disabled lists the scopes in that state; All
	// (the default) lists every one. $filter is not supported and ignored.
	if inc := r.URL.Query().Get("$include"); inc == storage.ScopeEnabled || inc == storage.ScopeDisabled {
		all = slices.DeleteFunc(all, func(sc storage.Scope) bool { return sc.State() != inc })
	}
	page, next, err := armhttp.Page(r, all, func(sc storage.Scope) string { return sc.Name })
	if err != nil {
		return err
	}
	out := armhttp.List[scopeResource]{Value: make([]scopeResource, 0, len(page)), NextLink: next}
	for _, sc := range page {
		out.Value = append(out.Value, scopeWire(accountID(r), sc))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}
