package idhttp

import (
	"cmp"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
)

// tokenResponse is the v2.0 token endpoint's reply. MSAL requires
// access_token and expires_in; it reads token_type and ext_expires_in.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// tokenResponseV1 is the v1.0 token endpoint's reply, whose numbers Entra
// sends as strings.
type tokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// token serves the client credentials grant. The client authenticates with
// client_id and client_secret in the form body (client_secret_post) or in
// HTTP Basic authentication (client_secret_basic), or with a client
// assertion: client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a
// client_assertion that one of its federated credentials trusts (see
// identity.Service.IssueToken). The v2.0 endpoint takes
// scope={resource}/.default; the v1.0 endpoint takes resource={resource}.
func (h *Handler) token(v version) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		form, err := parseForm(r)
		if err != nil {
			return err
		}
		switch gt := form.Get("grant_type"); gt {
		case "client_credentials":
		case "":
			return missing("grant_type")
		default:
			return tresor.Errorf(tresor.Invalid,
				"AADSTS70003: The app requested an unsupported grant type '%s'. tresor supports client_credentials only.", clip(gt)).
				WithReason(identity.ReasonUnsupportedGrantType)
		}
		req := identity.TokenRequest{
			TenantID:            r.PathValue("tenant"),
			ClientID:            form.Get("client_id"),
			ClientSecret:        form.Get("client_secret"),
			ClientAssertion:     form.Get("client_assertion"),
			ClientAssertionType: form.Get("client_assertion_type"),
			Scope:               form.Get("scope"),
		}
		if id, secret, ok := r.BasicAuth(); ok && req.ClientSecret == "" {
			// RFC 6749 section 2.3.1: both are form-encoded before Basic encoding.
			id, err1 := url.QueryUnescape(id)
			secret, err2 := url.QueryUnescape(secret)
			if err := errors.Join(err1, err2); err != nil || (req.ClientID != "" && req.ClientID != id) {
				return tresor.Errorf(tresor.Unauthenticated, "AADSTS7000216: The client credentials in the Authorization header are malformed.").WithReason(identity.ReasonInvalidClient)
			}
			req.ClientID, req.ClientSecret = id, secret
		}
		if v == v1 {
			if res := form.Get("resource"); res != "" {
				req.Scope = res + "/.default"
			} else if req.Scope == "" {
				return missing("resource")
			}
		}

		tok, err := h.svc.IssueToken(r.Context(), req)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store, no-cache")
		w.Header().Set("Pragma", "no-cache")
		if v == v1 {
			exp := strconv.Itoa(tok.ExpiresIn)
			writeJSON(w, http.StatusOK, tokenResponseV1{
				TokenType: "Bearer", ExpiresIn: exp, ExtExpiresIn: exp,
				ExpiresOn:   strconv.FormatInt(tok.ExpiresOn.Unix(), 10),
				NotBefore:   strconv.FormatInt(tok.NotBefore.Unix(), 10),
				Resource:    tok.Audience,
				AccessToken: tok.AccessToken,
			})
			return nil
		}
		writeJSON(w, http.StatusOK, tokenResponse{
			TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn, AccessToken: tok.AccessToken,
		})
		return nil
	}
}

// parseForm reads the form-encoded request body. Parameters in the query
// string are ignored: secrets do not belong in URLs.
func parseForm(r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, tresor.Errorf(tresor.Invalid,
			"AADSTS900144: The request body must contain the following parameter: 'grant_type'. The body must be application/x-www-form-urlencoded.").
			WithReason(identity.ReasonInvalidRequest)
	}
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, tresor.Errorf(tresor.TooLarge, "AADSTS90023: The request body exceeds %d bytes.", tooLarge.Limit).
				WithReason(identity.ReasonInvalidRequest)
		}
		return nil, tresor.Errorf(tresor.Invalid, "AADSTS90023: The request body is not a valid form.").
			WithReason(identity.ReasonInvalidRequest)
	}
	return r.PostForm, nil
}

func missing(param string) error {
	return tresor.Errorf(tresor.Invalid, "AADSTS900144: The request body must contain the following parameter: '%s'.", param).
		WithReason(identity.ReasonInvalidRequest)
}

// clip shortens caller-supplied text that is echoed in a message.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// msiAPIVersion is the App Service identity endpoint's protocol version
// that MSAL speaks.
const msiAPIVersion = "2019-08-01"

// msiTokenResponse is the App Service identity endpoint's reply.
type msiTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"` // Unix seconds
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// managedIdentityToken serves a managed identity's token as Azure App
// Service's identity endpoint does: GET with api-version, resource and at
// most one of client_id, object_id (or principal_id) and mi_res_id (or
// msi_res_id), authenticated by the X-IDENTITY-HEADER secret.
func (h *Handler) managedIdentityToken(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if v := q.Get("api-version"); v != msiAPIVersion {
		return tresor.Errorf(tresor.Invalid, "The api-version '%s' is not supported; use %s.", clip(v), msiAPIVersion).
			WithReason(identity.ReasonInvalidRequest)
	}
	if q.Get("resource") == "" {
		return tresor.Errorf(tresor.Invalid, "The query must contain the parameter 'resource'.").WithReason(identity.ReasonInvalidRequest)
	}
	tok, err := h.svc.IssueManagedIdentityToken(r.Context(), identity.ManagedIdentityRequest{
		HostSecret: r.Header.Get("X-IDENTITY-HEADER"),
		Resource:   q.Get("resource"),
		ClientID:   q.Get("client_id"),
		ObjectID:   cmp.Or(q.Get("object_id"), q.Get("principal_id")),
		ResourceID: cmp.Or(q.Get("mi_res_id"), q.Get("msi_res_id")),
	})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, msiTokenResponse{
		AccessToken: tok.AccessToken,
		ExpiresOn:   strconv.FormatInt(tok.ExpiresOn.Unix(), 10),
		Resource:    tok.Audience,
		TokenType:   "Bearer",
		ClientID:    tok.ClientID,
	})
	return nil
}
