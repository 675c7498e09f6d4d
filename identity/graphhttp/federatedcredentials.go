package graphhttp

import (
	"net/http"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// federatedIdentityCredential is Graph's federatedIdentityCredential.
type federatedIdentityCredential struct {
	Context     string   `json:"@odata.context,omitempty"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	Description *string  `json:"description"`
	Audiences   []string `json:"audiences"`
}

func federatedFrom(c identity.FederatedCredential) federatedIdentityCredential {
	audiences := c.Audiences
	if audiences == nil {
		audiences = []string{}
	}
	return federatedIdentityCredential{
		ID: c.ID, Name: c.Name, Issuer: c.Issuer, Subject: c.Subject,
		Description: optional(c.Description), Audiences: audiences,
	}
}

// federatedContext is the @odata.context of an application's federated
// credentials, which Graph names by the application's id.
func (h *Handler) federatedContext(r *http.Request, suffix string) string {
	return h.context("applications('" + r.PathValue("id") + "')/federatedIdentityCredentials" + suffix)
}

func (h *Handler) createFederatedCredential(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        *string  `json:"name"`
		Issuer      string   `json:"issuer"`
		Subject     string   `json:"subject"`
		Audiences   []string `json:"audiences"`
		Description *string  `json:"description"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Name == nil {
		return tresor.Errorf(tresor.Invalid, "Property 'name' is required.")
	}
	c := identity.FederatedCredential{Name: *in.Name, Issuer: in.Issuer, Subject: in.Subject, Audiences: in.Audiences}
	if in.Description != nil {
		c.Description = *in.Description
	}
	c, err := h.directory(r).CreateFederatedCredential(r.Context(), r.PathValue("id"), c)
	if err != nil {
		return err
	}
	out := federatedFrom(c)
	out.Context = h.federatedContext(r, "/$entity")
	w.Header().Set("Location", h.cfg.BaseURL+"/v1.0/applications/"+r.PathValue("id")+"/federatedIdentityCredentials/"+c.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) listFederatedCredentials(w http.ResponseWriter, r *http.Request) error {
	list, err := h.directory(r).ListFederatedCredentials(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := collection[federatedIdentityCredential]{Context: h.federatedContext(r, ""), Value: []federatedIdentityCredential{}}
	for _, c := range list {
		out.Value = append(out.Value, federatedFrom(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getFederatedCredential(w http.ResponseWriter, r *http.Request) error {
	c, err := h.directory(r).GetFederatedCredential(r.Context(), r.PathValue("id"), r.PathValue("fic"))
	if err != nil {
		return err
	}
	out := federatedFrom(c)
	out.Context = h.federatedContext(r, "/$entity")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteFederatedCredential(w http.ResponseWriter, r *http.Request) error {
	if err := h.directory(r).DeleteFederatedCredential(r.Context(), r.PathValue("id"), r.PathValue("fic")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
