package identity

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// TokenLifetime is how long an access token is valid after it is issued.
const TokenLifetime = time.Hour

// TokenRequest is an OAuth 2.0 client credentials grant. The client
// authenticates with a secret or with a client assertion (RFC 7523), not
// both.
type TokenRequest struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// ClientAssertion is a JWT that one of the application's federated
	// credentials trusts; ClientAssertionType must then be
	// ClientAssertionType.
	ClientAssertion     string
	ClientAssertionType string
	// Scope is the space-separated scope parameter. It must name exactly
	// one resource as "{audience}/.default"; the OpenID scopes that MSAL
	// adds (openid, profile, offline_access, email) are ignored.
	Scope string
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	Audience    string    // the "aud" claim
	ClientID    string    // the "appid" claim
	NotBefore   time.Time // also the time of issue
	ExpiresOn   time.Time
	// ExpiresIn is the lifetime in seconds as reported to the client: one
	// second short of the real one, to allow for the reply's transit.
	ExpiresIn int
}

// OpenID scopes that MSAL adds to every request and that a client
// credentials grant ignores.
var openIDScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// IssueToken authenticates an application by its client secret or by a
// client assertion (see exchange) and issues an access token for the
// resource named by the scope. The token names the application's service
// principal in the requested tenant: its home tenant, or, for a
// multi-tenant application, any tenant where it has one. Its appidacr is
// "1" for a secret and "2" for an assertion, as Entra's.
//
// Errors, with their Reason, follow Entra's token endpoint: an unknown
// tenant, a missing client ID, a client_assertion_type other than
// ClientAssertionType, or both a secret and an assertion is Invalid
// (ReasonInvalidRequest); an unknown client, a client that may not sign
// in to the tenant or has no service principal there, a wrong or missing
// secret, or an assertion that is not this tresor's or that no federated
// credential of the application matches is Unauthenticated
// (ReasonInvalidClient); a scope that is not one "{audience}/.default" of
// a configured audience or TokenExchangeAudience is Invalid
// (ReasonInvalidScope). The scope is checked only after the client has
// authenticated.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (Token, error) {
	tenant := strings.ToLower(req.TenantID)
	if _, err := s.Tenant(ctx, tenant); err != nil {
		var te *tresor.Error
		if errors.As(err, &te) && te.Reason == ReasonInvalidTenant {
			return Token{}, tresor.Errorf(tresor.Invalid, "%s", te.Message).WithReason(ReasonInvalidRequest)
		}
		return Token{}, err
	}
	switch {
	case req.ClientID == "":
		return Token{}, tresor.Errorf(tresor.Invalid,
			"AADSTS900144: The request body must contain the following parameter: 'client_id'.").WithReason(ReasonInvalidRequest)
	case req.ClientSecret != "" && req.ClientAssertion != "":
		return Token{}, tresor.Errorf(tresor.Invalid,
			"AADSTS90023: The request carries both a client_secret and a client_assertion; send only one.").WithReason(ReasonInvalidRequest)
	case req.ClientAssertion != "" && req.ClientAssertionType == "":
		return Token{}, tresor.Errorf(tresor.Invalid,
			"AADSTS900144: The request body must contain the following parameter: 'client_assertion_type'.").WithReason(ReasonInvalidRequest)
	case req.ClientAssertionType != "" && req.ClientAssertionType != ClientAssertionType:
		return Token{}, tresor.Errorf(tresor.Invalid,
			"AADSTS90023: The client_assertion_type '%s' is not supported; it must be '%s'.", clip(req.ClientAssertionType), ClientAssertionType).
			WithReason(ReasonInvalidRequest)
	case req.ClientSecret == "" && req.ClientAssertion == "":
		return Token{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.").WithReason(ReasonInvalidClient)
	}
	var (
		sp  ServicePrincipal
		acr string
		err error
	)
	if req.ClientAssertion != "" {
		sp, err = s.exchange(ctx, tenant, req.ClientID, req.ClientAssertion)
		acr = "2" // a client assertion, as a certificate's
	} else {
		sp, err = s.authenticateClient(ctx, tenant, req.ClientID, req.ClientSecret)
		acr = "1" // a client secret
	}
	if err != nil {
		return Token{}, err
	}
	aud, err := s.audienceForScope(req.Scope, tenant)
	if err != nil {
		return Token{}, err
	}
	return s.issue(ctx, sp, aud, acr)
}

// issue signs a token for sp addressed to aud. acr is the "appidacr" claim:
// "1" for a client secret, "2" for a certificate (which managed identity
// tokens carry).
func (s *Service) issue(ctx context.Context, sp ServicePrincipal, aud, acr string) (Token, error) {
	key, err := s.activeKey(ctx)
	if err != nil {
		return Token{}, err
	}

	now := s.now()
	exp := now.Add(TokenLifetime)
	iss := s.TenantIssuer(sp.TenantID)
	c := claims{
		Aud:            aud,
		Iss:            iss,
		Iat:            now.Unix(),
		Nbf:            now.Unix(),
		Exp:            exp.Unix(),
		AppDisplayName: sp.DisplayName,
		AppID:          sp.AppID,
		AppIDACR:       acr,
		Azp:            sp.AppID,
		IDP:            iss,
		IDType:         "app",
		OID:            sp.ObjectID,
		Sub:            sp.ObjectID,
		TID:            sp.TenantID,
		UTI:            newUTI(),
		Ver:            "1.0",
		MIResourceID:   sp.ResourceID,
	}
	if sp.Type != tresor.ServicePrincipal {
		c.PrincipalType = string(sp.Type)
	}
	raw, err := signJWT(key, c)
	if err != nil {
		return Token{}, err
	}
	return Token{
		AccessToken: raw,
		Audience:    aud,
		ClientID:    sp.AppID,
		NotBefore:   now,
		ExpiresOn:   exp,
		ExpiresIn:   int(TokenLifetime/time.Second) - 1,
	}, nil
}

// TenantIssuer returns the "iss" of the tokens issued in a tenant, which is
// also the issuer in the tenant's OpenID configuration.
func (s *Service) TenantIssuer(tenantID string) string {
	return s.BaseURL() + "/" + tenantID + "/"
}

// BaseURL returns Issuer without a trailing slash.
func (s *Service) BaseURL() string { return strings.TrimRight(s.Issuer, "/") }

// audienceForScope returns the configured audience that scope asks for.
func (s *Service) audienceForScope(scope, tenant string) (string, error) {
	var resources []string
	for _, f := range strings.Fields(scope) {
		if !openIDScopes[f] {
			resources = append(resources, f)
		}
	}
	if len(resources) > 1 {
		return "", tresor.Errorf(tresor.Invalid,
			"AADSTS28000: Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.",
			clip(scope)).WithReason(ReasonInvalidScope)
	}
	resource, ok := "", false
	if len(resources) == 1 {
		resource, ok = strings.CutSuffix(resources[0], "/.default")
	}
	if !ok || resource == "" {
		return "", tresor.Errorf(tresor.Invalid,
			"AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
			clip(scope)).WithReason(ReasonInvalidScope)
	}
	// The exchange audience is always served, so that a managed identity
	// obtains its client assertions from the identity endpoint.
	if sameAudience(resource, TokenExchangeAudience) {
		return TokenExchangeAudience, nil
	}
	for _, a := range s.Audiences {
		if sameAudience(resource, a) {
			return a, nil
		}
	}
	return "", tresor.Errorf(tresor.Invalid,
		"AADSTS500011: The resource principal named %s was not found in the tenant named %s. This can happen if the resource is not served by this tresor; it serves %s.",
		clip(resource), tenant, strings.Join(s.Audiences, ", ")).WithReason(ReasonInvalidScope)
}

// sameAudience compares two audiences, ignoring case and trailing slashes:
// "https://management.core.windows.net/" and its scope
// "https://management.core.windows.net//.default" show that Azure's
// audiences are written both ways.
func sameAudience(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
