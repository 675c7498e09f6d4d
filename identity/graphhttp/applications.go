package graphhttp

import (
	"cmp"
	"net/http"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// application is Graph's application resource, with the members tresor
// keeps and the collections it does not keep written empty.
type application struct {
	Context             string               `json:"@odata.context,omitempty"`
	ID                  string               `json:"id"`
	DeletedDateTime     *string              `json:"deletedDateTime"`
	AppID               string               `json:"appId"`
	CreatedDateTime     string               `json:"createdDateTime"`
	DisplayName         string               `json:"displayName"`
	IdentifierURIs      []string             `json:"identifierUris"`
	SignInAudience      string               `json:"signInAudience"`
	Tags                []string             `json:"tags"`
	KeyCredentials      []struct{}           `json:"keyCredentials"`
	PasswordCredentials []passwordCredential `json:"passwordCredentials"`
}

// passwordCredential is Graph's passwordCredential: secretText is set only
// in addPassword's reply.
type passwordCredential struct {
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	DisplayName         *string `json:"displayName"`
	EndDateTime         string  `json:"endDateTime"`
	Hint                *string `json:"hint"`
	KeyID               string  `json:"keyId"`
	SecretText          *string `json:"secretText"`
	StartDateTime       string  `json:"startDateTime"`
}

func applicationFrom(a identity.Application) application {
	out := application{
		ID:                  a.ObjectID,
		AppID:               a.AppID,
		CreatedDateTime:     dateTime(a.Created),
		DisplayName:         a.DisplayName,
		IdentifierURIs:      []string{},
		SignInAudience:      cmp.Or(a.SignInAudience, identity.AudienceMyOrg),
		Tags:                []string{},
		KeyCredentials:      []struct{}{},
		PasswordCredentials: []passwordCredential{},
	}
	for _, c := range a.Passwords {
		out.PasswordCredentials = append(out.PasswordCredentials, passwordFrom(c, ""))
	}
	return out
}

func passwordFrom(c identity.PasswordCredential, secret string) passwordCredential {
	return passwordCredential{
		DisplayName:   optional(c.DisplayName),
		EndDateTime:   dateTime(c.End),
		Hint:          optional(c.Hint),
		KeyID:         c.KeyID,
		SecretText:    optional(secret),
		StartDateTime: dateTime(c.Start),
	}
}

// optional writes an empty string as null, as Graph writes absent values.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// applicationProperties are the members of an application or filter that
// $filter compares.
var applicationProperties = map[string]bool{"id": true, "appid": true, "displayname": true}

func applicationItem(a identity.Application) item {
	return item{
		props: map[string]string{"id": a.ObjectID, "appid": a.AppID, "displayname": a.DisplayName},
		lists: map[string][]string{"identifieruris": nil},
	}
}

func (h *Handler) createApplication(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName    *string `json:"displayName"`
		SignInAudience string  `json:"signInAudience"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.DisplayName == nil {
		return tresor.Errorf(tresor.Invalid, "Property 'displayName' is required.")
	}
	a, err := h.directory(r).CreateApplication(r.Context(), identity.ApplicationSpec{DisplayName: *in.DisplayName, SignInAudience: in.SignInAudience})
	if err != nil {
		return err
	}
	out := applicationFrom(a)
	out.Context = h.context("applications/$entity")
	w.Header().Set("Location", h.cfg.BaseURL+"/v1.0/applications/"+a.ObjectID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) getApplication(w http.ResponseWriter, r *http.Request) error {
	a, err := h.directory(r).GetApplication(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := applicationFrom(a)
	out.Context = h.context("applications/$entity")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listApplications(w http.ResponseWriter, r *http.Request) error {
	match, err := parseFilter(r.URL.Query().Get("$filter"), applicationProperties)
	if err != nil {
		return err
	}
	apps, err := h.directory(r).ListApplications(r.Context())
	if err != nil {
		return err
	}
	out := collection[application]{Context: h.context("applications"), Value: []application{}}
	for _, a := range apps {
		if match(applicationItem(a)) {
			out.Value = append(out.Value, applicationFrom(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateApplication is Graph's PATCH of an application: the members
// given change (tresor keeps displayName and signInAudience), and the
// reply is 204 without a body.
func (h *Handler) updateApplication(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName    *string `json:"displayName"`
		SignInAudience *string `json:"signInAudience"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	patch := identity.ApplicationPatch{DisplayName: in.DisplayName, SignInAudience: in.SignInAudience}
	if _, err := h.directory(r).UpdateApplication(r.Context(), r.PathValue("id"), patch); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deleteApplication(w http.ResponseWriter, r *http.Request) error {
	if err := h.directory(r).DeleteApplication(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) addPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PasswordCredential *struct {
			DisplayName   string `json:"displayName"`
			StartDateTime string `json:"startDateTime"`
			EndDateTime   string `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if err := decode(r, &in, true); err != nil {
		return err
	}
	var req identity.PasswordRequest
	if pc := in.PasswordCredential; pc != nil {
		start, err := parseTime("startDateTime", pc.StartDateTime)
		if err != nil {
			return err
		}
		end, err := parseTime("endDateTime", pc.EndDateTime)
		if err != nil {
			return err
		}
		req = identity.PasswordRequest{DisplayName: pc.DisplayName, Start: start, End: end}
	}
	c, secret, err := h.directory(r).AddPassword(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	out := struct {
		Context string `json:"@odata.context"`
		passwordCredential
	}{h.context("microsoft.graph.passwordCredential"), passwordFrom(c, secret)}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) removePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		KeyID *string `json:"keyId"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.KeyID == nil {
		return tresor.Errorf(tresor.Invalid, "Property 'keyId' is required.")
	}
	if err := h.directory(r).RemovePassword(r.Context(), r.PathValue("id"), *in.KeyID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
