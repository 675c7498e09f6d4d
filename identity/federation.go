package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// Workload identity federation: an application trusts, in place of a
// secret, a client assertion that names a workload by issuer and subject
// (a federated identity credential), and exchanges it for the
// application's token. Azure's cross-tenant customer-managed keys work so:
// a storage account's managed identity in one tenant obtains an assertion
// for api://AzureADTokenExchange, and a multi-tenant application of the
// key's tenant, which trusts that identity, obtains the key vault token.
//
// tresor accepts assertions that it issued itself only: a token of one of
// its tenants, verified with its own signing keys. Its issuer is
// "{Issuer}/{tenant}/", and a federated credential may also spell it as
// Entra's v2.0 issuer "{Issuer}/{tenant}/v2.0" (which is what Azure's
// documentation has users write for a managed identity): tresor issues
// v1.0-shaped tokens only, so the two name the same issuer. External
// OpenID Connect issuers (GitHub Actions, Kubernetes) are not supported.

// TokenExchangeAudience is the audience of client assertions: the one that
// Entra recommends for federated identity credentials, and the only one
// whose tokens tresor exchanges. IssueManagedIdentityToken and IssueToken
// always serve it.
const TokenExchangeAudience = "api://AzureADTokenExchange"

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523), the only one supported.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Limits of federated identity credentials, as Entra's.
const (
	MaxFederatedCredentials = 20  // per application
	maxFederatedName        = 120 // and at least 3
	maxFederatedValue       = 600 // issuer, subject, an audience, the description
)

// CreateFederatedCredential adds a federated identity credential, with a
// new ID, to an application. Invalid if the name is not 3 to 120
// letters, digits, '-' and '_'; if the issuer is not an https URL, the
// subject is empty, or there is not exactly one audience; if a value is
// longer than 600 characters; if the application has
// MaxFederatedCredentials already or is the administrator's. Conflict if
// it has a credential of that name (ignoring case) or with that issuer and
// subject. NotFound if the tenant has no such application.
func (d *Directory) CreateFederatedCredential(ctx context.Context, objectID string, c FederatedCredential) (FederatedCredential, error) {
	if err := d.authorize(ctx); err != nil {
		return FederatedCredential{}, err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return FederatedCredential{}, err
	}
	if err := d.notAdmin(ctx, a); err != nil {
		return FederatedCredential{}, err
	}
	if err := checkFederated(c); err != nil {
		return FederatedCredential{}, err
	}
	for _, o := range a.FederatedCredentials {
		switch {
		case strings.EqualFold(o.Name, c.Name):
			return FederatedCredential{}, tresor.Errorf(tresor.Conflict,
				"The application %s has a federated identity credential named '%s' already.", a.AppID, o.Name)
		case o.Issuer == c.Issuer && o.Subject == c.Subject:
			return FederatedCredential{}, tresor.Errorf(tresor.Conflict,
				"The application %s has a federated identity credential ('%s') with this issuer and subject already.", a.AppID, o.Name)
		}
	}
	if len(a.FederatedCredentials) >= MaxFederatedCredentials {
		return FederatedCredential{}, tresor.Errorf(tresor.Invalid,
			"The application %s has %d federated identity credentials, the most allowed. Remove one first.", a.AppID, MaxFederatedCredentials)
	}
	c.ID = NewGUID()
	c.Audiences = slices.Clone(c.Audiences)
	if err := d.s.Store.AddFederatedCredential(ctx, a.ObjectID, c); err != nil {
		if tresor.IsKind(err, tresor.Conflict) { // added concurrently
			return FederatedCredential{}, tresor.Errorf(tresor.Conflict,
				"The application %s has a federated identity credential named '%s', or with this issuer and subject, already.", a.AppID, c.Name)
		}
		return FederatedCredential{}, fmt.Errorf("add federated credential to %s: %w", a.AppID, err)
	}
	return c, nil
}

// ListFederatedCredentials lists an application's federated identity
// credentials by name. NotFound if the tenant has no such application.
func (d *Directory) ListFederatedCredentials(ctx context.Context, objectID string) ([]FederatedCredential, error) {
	if err := d.authorize(ctx); err != nil {
		return nil, err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return nil, err
	}
	return a.FederatedCredentials, nil
}

// GetFederatedCredential returns an application's federated identity
// credential by its ID or its name (ignoring case), as Graph takes either.
// NotFound if the tenant has no such application or it has no such
// credential.
func (d *Directory) GetFederatedCredential(ctx context.Context, objectID, idOrName string) (FederatedCredential, error) {
	if err := d.authorize(ctx); err != nil {
		return FederatedCredential{}, err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return FederatedCredential{}, err
	}
	return federatedCredential(a, idOrName)
}

// DeleteFederatedCredential removes an application's federated identity
// credential, by ID or name: assertions it matched stop working at once;
// tokens already issued stay valid until they expire. Invalid for the
// administrator's application; NotFound if the tenant has no such
// application or it has no such credential.
func (d *Directory) DeleteFederatedCredential(ctx context.Context, objectID, idOrName string) error {
	if err := d.authorize(ctx); err != nil {
		return err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return err
	}
	if err := d.notAdmin(ctx, a); err != nil {
		return err
	}
	c, err := federatedCredential(a, idOrName)
	if err != nil {
		return err
	}
	err = d.s.Store.RemoveFederatedCredential(ctx, a.ObjectID, c.ID)
	if tresor.IsKind(err, tresor.NotFound) { // removed concurrently
		return federatedNotFound(a, idOrName)
	}
	return err
}

func federatedCredential(a Application, idOrName string) (FederatedCredential, error) {
	for _, c := range a.FederatedCredentials {
		if strings.EqualFold(c.ID, idOrName) || strings.EqualFold(c.Name, idOrName) {
			return c, nil
		}
	}
	return FederatedCredential{}, federatedNotFound(a, idOrName)
}

func federatedNotFound(a Application, idOrName string) error {
	return tresor.Errorf(tresor.NotFound,
		"The application %s has no federated identity credential with id or name '%s'.", a.AppID, clip(idOrName))
}

// checkFederated checks a federated credential's members as Entra does.
func checkFederated(c FederatedCredential) error {
	invalid := func(format string, args ...any) error {
		return tresor.Errorf(tresor.Invalid, format, args...)
	}
	if len(c.Name) < 3 || len(c.Name) > maxFederatedName || strings.IndexFunc(c.Name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return invalid("The federated identity credential's name '%s' must be 3 to %d characters: letters, digits, '-' and '_'.", clip(c.Name), maxFederatedName)
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		return invalid("The federated identity credential's issuer is required.")
	case len(c.Issuer) > maxFederatedValue:
		return invalid("The federated identity credential's issuer must be at most %d characters.", maxFederatedValue)
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil:
		return invalid("The federated identity credential's issuer '%s' must be an https URL.", clip(c.Issuer))
	case c.Subject == "":
		return invalid("The federated identity credential's subject is required.")
	case len(c.Subject) > maxFederatedValue:
		return invalid("The federated identity credential's subject must be at most %d characters.", maxFederatedValue)
	case len(c.Audiences) != 1:
		return invalid("The federated identity credential must have exactly one audience (such as %s); it has %d.", TokenExchangeAudience, len(c.Audiences))
	case c.Audiences[0] == "" || len(c.Audiences[0]) > maxFederatedValue:
		return invalid("The federated identity credential's audience must be 1 to %d characters.", maxFederatedValue)
	case len(c.Description) > maxFederatedValue:
		return invalid("The federated identity credential's description must be at most %d characters.", maxFederatedValue)
	}
	return nil
}

// exchange authenticates a client by a client assertion in a tenant and
// returns the application's service principal there. It is the one path
// of IssueToken's client assertions and of Federate.
//
// The client must be an application that may sign in to the tenant
// (clientApplication); the assertion must be a token of this tresor,
// valid now within ClockSkew, addressed to TokenExchangeAudience and
// issued in the application's own tenant (AADSTS700236 if not); one
// of the application's federated credentials must name its issuer,
// subject and audience (AADSTS70021 if none does); and the application
// must have a service principal in the tenant (servicePrincipalIn). Every
// failure is Unauthenticated with ReasonInvalidClient, except a failure
// to read the Store.
func (s *Service) exchange(ctx context.Context, tenantID, clientID, assertion string) (ServicePrincipal, error) {
	app, err := s.clientApplication(ctx, tenantID, clientID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	c, err := s.verifyAssertion(ctx, assertion)
	if err != nil {
		return ServicePrincipal{}, err
	}
	// As in Entra, an application trusts only workloads of its own tenant.
	if !strings.EqualFold(c.TID, app.TenantID) {
		return ServicePrincipal{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS700236: Entra ID tokens issued by issuer '%s' may not be used for federated identity credential flows for applications or managed identities registered in this tenant (%s).",
			clip(c.Iss), app.TenantID).WithReason(ReasonInvalidClient)
	}
	if !slices.ContainsFunc(app.FederatedCredentials, func(f FederatedCredential) bool {
		return s.sameIssuer(f.Issuer, c.Iss) && f.Subject == c.Sub && slices.ContainsFunc(f.Audiences, func(a string) bool { return sameAudience(a, c.Aud) })
	}) {
		return ServicePrincipal{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.",
			clip(c.Iss), clip(c.Sub), clip(c.Aud)).WithReason(ReasonInvalidClient)
	}
	return s.servicePrincipalIn(ctx, app, tenantID)
}

// verifyAssertion checks a client assertion's signature, issuer, time and
// audience, and returns its claims.
func (s *Service) verifyAssertion(ctx context.Context, assertion string) (*claims, error) {
	fail := func(format string, args ...any) (*claims, error) {
		return nil, tresor.Errorf(tresor.Unauthenticated, format, args...).WithReason(ReasonInvalidClient)
	}
	if len(assertion) > maxTokenSize {
		return fail("AADSTS50027: The client assertion is too large.")
	}
	v, err := s.verify(ctx, assertion)
	var te *tresor.Error
	if errors.As(err, &te) && te.Kind == tresor.Unauthenticated {
		return fail("AADSTS50027: The client assertion is not a token issued by this tresor: %s tresor accepts client assertions only from its own issuer (%s); external OpenID Connect issuers are not supported.",
			te.Message, s.TenantIssuer("{tenant}"))
	}
	if err != nil {
		return nil, err
	}
	c := &v.claims
	now := s.now()
	exp, nbf := time.Unix(c.Exp, 0).UTC(), time.Unix(c.Nbf, 0).UTC()
	if now.After(exp.Add(ClockSkew)) || (c.Nbf != 0 && now.Add(ClockSkew).Before(nbf)) {
		return fail("AADSTS700024: Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.Format(time.RFC3339), nbf.Format(time.RFC3339), exp.Format(time.RFC3339))
	}
	if !sameAudience(c.Aud, TokenExchangeAudience) {
		return fail("AADSTS700212: No matching federated identity record found for presented assertion audience '%s'. tresor exchanges only assertions for %s.",
			clip(c.Aud), TokenExchangeAudience)
	}
	return c, nil
}

// sameIssuer compares a federated credential's issuer with an assertion's,
// ignoring trailing slashes, and taking this tresor's v2.0 issuer
// "{Issuer}/{tenant}/v2.0" for its v1.0 issuer "{Issuer}/{tenant}/".
func (s *Service) sameIssuer(a, b string) bool {
	canonical := func(iss string) string {
		iss = strings.TrimRight(iss, "/")
		if tenant, ok := s.tenantOfIssuer(strings.TrimSuffix(iss, "/v2.0") + "/"); ok {
			return s.TenantIssuer(tenant)
		}
		return iss
	}
	return canonical(a) == canonical(b)
}

// Federate does in process what Azure Storage does for a cross-tenant
// customer-managed key: it obtains a client assertion for the managed
// identity mi (one sign), exchanges it through the same path as
// IssueToken's client assertions (one verify) for the application
// clientID in tenantID, and returns the principal of the application's
// service principal in tenantID, which is what a token would name. It
// signs no token for that principal: tresor's own services act as it
// directly.
//
// Every failure is Unauthenticated, with a Reason for callers to branch
// on: ReasonInvalidTenant if tenantID is not a tenant; ReasonInvalidRequest
// if mi is not an existing managed identity; ReasonInvalidClient if
// clientID is not an application that may sign in to tenantID, none of its
// federated credentials trusts mi, or it has no service principal in
// tenantID. A failure to read the Store is Internal, without a Reason.
func (s *Service) Federate(ctx context.Context, mi tresor.Principal, clientID, tenantID string) (tresor.Principal, error) {
	tenant := strings.ToLower(tenantID)
	if err := s.knownTenant(ctx, tenant); err != nil {
		return tresor.Principal{}, unauthenticated(err)
	}
	noIdentity := tresor.Errorf(tresor.Unauthenticated, "The managed identity %s does not exist.", clip(mi.ObjectID)).WithReason(ReasonInvalidRequest)
	if !IsGUID(mi.ObjectID) {
		return tresor.Principal{}, noIdentity
	}
	sp, err := s.Store.ServicePrincipal(ctx, strings.ToLower(mi.ObjectID))
	if tresor.IsKind(err, tresor.NotFound) || (err == nil && sp.Type != tresor.ManagedIdentity) {
		return tresor.Principal{}, noIdentity
	}
	if err != nil {
		return tresor.Principal{}, err
	}
	assertion, err := s.issue(ctx, sp, TokenExchangeAudience, "2")
	if err != nil {
		return tresor.Principal{}, err
	}
	app, err := s.exchange(ctx, tenant, clientID, assertion.AccessToken)
	if err != nil {
		return tresor.Principal{}, err
	}
	return tresor.Principal{TenantID: app.TenantID, ObjectID: app.ObjectID, AppID: app.AppID, Name: app.DisplayName, Type: app.Type}, nil
}

// unauthenticated turns a tresor.Error of another Kind (a NotFound tenant)
// into an Unauthenticated one with its Reason and Message; other errors
// pass.
func unauthenticated(err error) error {
	var te *tresor.Error
	if errors.As(err, &te) && te.Kind != tresor.Internal {
		return tresor.Errorf(tresor.Unauthenticated, "%s", te.Message).WithReason(te.Reason)
	}
	return err
}
