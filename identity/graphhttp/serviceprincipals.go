package graphhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// servicePrincipal is Graph's servicePrincipal resource, with the members
// tresor keeps and the collections it does not keep written empty.
type servicePrincipal struct {
	Context                string               `json:"@odata.context,omitempty"`
	ID                     string               `json:"id"`
	DeletedDateTime        *string              `json:"deletedDateTime"`
	AccountEnabled         bool                 `json:"accountEnabled"`
	AlternativeNames       []string             `json:"alternativeNames"`
	AppDisplayName         *string              `json:"appDisplayName"`
	AppID                  string               `json:"appId"`
	AppOwnerOrganizationID *string              `json:"appOwnerOrganizationId"`
	DisplayName            string               `json:"displayName"`
	ServicePrincipalNames  []string             `json:"servicePrincipalNames"`
	ServicePrincipalType   string               `json:"servicePrincipalType"`
	Tags                   []string             `json:"tags"`
	KeyCredentials         []struct{}           `json:"keyCredentials"`
	PasswordCredentials    []passwordCredential `json:"passwordCredentials"`
}

// The servicePrincipalType values.
const (
	typeApplication     = "Application"
	typeManagedIdentity = "ManagedIdentity"
)

func servicePrincipalFrom(sp identity.ServicePrincipal) servicePrincipal {
	out := servicePrincipal{
		ID:                    sp.ObjectID,
		AccountEnabled:        true,
		AlternativeNames:      []string{},
		AppID:                 sp.AppID,
		DisplayName:           sp.DisplayName,
		ServicePrincipalNames: []string{sp.AppID},
		ServicePrincipalType:  typeApplication,
		Tags:                  []string{},
		KeyCredentials:        []struct{}{},
		PasswordCredentials:   []passwordCredential{},
	}
	if sp.Type == tresor.ManagedIdentity {
		// Entra names a managed identity's resource in alternativeNames,
		// with isExplicit=True for a user-assigned identity.
		explicit := "isExplicit=False"
		if strings.Contains(strings.ToLower(sp.ResourceID), "/providers/microsoft.managedidentity/userassignedidentities/") {
			explicit = "isExplicit=True"
		}
		out.ServicePrincipalType = typeManagedIdentity
		out.AlternativeNames = []string{explicit, sp.ResourceID}
		return out
	}
	out.AppDisplayName = &sp.DisplayName
	out.AppOwnerOrganizationID = &sp.TenantID
	return out
}

// servicePrincipalProperties are the members of a service principal that
// $filter compares.
var servicePrincipalProperties = map[string]bool{"id": true, "appid": true, "displayname": true, "serviceprincipaltype": true}

func servicePrincipalItem(sp servicePrincipal) item {
	return item{
		props: map[string]string{"id": sp.ID, "appid": sp.AppID, "displayname": sp.DisplayName, "serviceprincipaltype": sp.ServicePrincipalType},
		lists: map[string][]string{"serviceprincipalnames": sp.ServicePrincipalNames, "alternativenames": sp.AlternativeNames},
	}
}

func (h *Handler) createServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		AppID                *string `json:"appId"`
		ServicePrincipalType string  `json:"servicePrincipalType"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.ServicePrincipalType != "" && !strings.EqualFold(in.ServicePrincipalType, typeApplication) {
		return tresor.Errorf(tresor.Invalid,
			"A service principal of type '%s' cannot be created through Graph; managed identities are created with their Azure resource.", clip(in.ServicePrincipalType))
	}
	if in.AppID == nil {
		return tresor.Errorf(tresor.Invalid, "Property 'appId' is required.")
	}
	sp, err := h.directory(r).CreateServicePrincipal(r.Context(), *in.AppID)
	if err != nil {
		return err
	}
	out := servicePrincipalFrom(sp)
	out.Context = h.context("servicePrincipals/$entity")
	w.Header().Set("Location", h.cfg.BaseURL+"/v1.0/servicePrincipals/"+sp.ObjectID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) getServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	sp, err := h.directory(r).GetServicePrincipal(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := servicePrincipalFrom(sp)
	out.Context = h.context("servicePrincipals/$entity")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listServicePrincipals(w http.ResponseWriter, r *http.Request) error {
	match, err := parseFilter(r.URL.Query().Get("$filter"), servicePrincipalProperties)
	if err != nil {
		return err
	}
	sps, err := h.directory(r).ListServicePrincipals(r.Context())
	if err != nil {
		return err
	}
	out := collection[servicePrincipal]{Context: h.context("servicePrincipals"), Value: []servicePrincipal{}}
	for _, sp := range sps {
		if v := servicePrincipalFrom(sp); match(servicePrincipalItem(v)) {
			out.Value = append(out.Value, v)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	if err := h.directory(r).DeleteServicePrincipal(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
