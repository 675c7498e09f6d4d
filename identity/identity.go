// Package identity is tresor's token issuer: a small Microsoft Entra ID for
// applications. It keeps tenants and service principals, issues signed
// access tokens to service principals that present their client secret (the
// OAuth 2.0 client credentials grant that azidentity's
// ClientSecretCredential and @azure/identity use), and validates those
// tokens for the other parts of tresor.
//
// Tokens are RS256 JWTs shaped like Entra's v1.0 application tokens
// (ver "1.0", appid, oid, tid, idtyp "app", plus v2.0's azp). Their issuer
// is "{Issuer}/{tenant}/", the v1.0 form with tresor's base URL in place of
// https://sts.windows.net; a tenant's OpenID configuration names the same
// issuer in its v1.0 and v2.0 forms, since tresor issues one kind of token.
// The audience ("aud") is the configured audience that the requested scope
// names, spelled as configured; scopes and audiences compare ignoring case
// and trailing slashes.
//
// The signing keys are RSA-2048, sealed under the root key; the newest one
// signs, all of them validate. Client secrets are 256-bit random strings
// stored only as salted SHA-256 hashes.
//
// As in Entra, an application (the registration, with its client id and
// password credentials) and its service principal (the identity in the
// tenant that tokens name as "oid" and role assignments name) are separate
// objects with separate object ids. An application may have several
// passwords, each with its own validity, and may exist without a service
// principal, which then obtains no tokens. Directory manages them for
// Microsoft Graph's applications and servicePrincipals.
//
// A multi-tenant application (SignInAudience AzureADMultipleOrgs) may have
// a service principal in every tenant whose administrator creates one,
// and obtains tokens in each of them, naming that tenant's service
// principal. Instead of a secret, an application may trust federated
// identity credentials: a client assertion that tresor itself issued (as
// it issues a managed identity's token for api://AzureADTokenExchange)
// and that matches one of them is exchanged for the application's token
// (workload identity federation, as Azure's cross-tenant customer-managed
// keys use it; see IssueToken and Federate).
//
// The package holds the rules; identity/idhttp speaks the OAuth and OpenID
// wire protocol, identity/graphhttp Microsoft Graph's, and a Store (sqlite)
// keeps the records.
package identity

import (
	"context"
	"time"

	"github.com/tresorkms/tresor"
)

// Tenant is a directory: the namespace that service principals belong to
// and that tokens are issued in.
type Tenant struct {
	ID          string // a lower-case GUID
	DisplayName string
	Created     time.Time
}

// ServicePrincipal is an identity in a tenant: the object that tokens name
// ("oid") and role assignments are given to.
//
// A service principal of Type ServicePrincipal belongs to the application
// with the same AppID, which holds its credentials.
//
// A managed identity is a service principal of Type ManagedIdentity with no
// application: the platform obtains its tokens for it
// (IssueManagedIdentityToken). Its ResourceID is the ARM id it belongs to:
// the user-assigned identity resource, or the resource whose
// system-assigned identity it is. Tokens carry it as "xms_mirid", as
// Entra's do.
//
// An application's service principals share its AppID, one per tenant; a
// managed identity's AppID is its own, unique across all tenants.
type ServicePrincipal struct {
	ObjectID    string // the "oid" claim; role assignments name this
	AppID       string // the client id
	DisplayName string
	TenantID    string
	Type        tresor.PrincipalType
	ResourceID  string // managed identities only; unique, compared ignoring case
	Created     time.Time
}

// Application is an application registration: the client id and the
// credentials with which its service principals authenticate. Its object
// id is not its service principal's. TenantID is its home tenant.
type Application struct {
	ObjectID       string // the application object's id ("id" in Graph)
	AppID          string // the client id, shared with its service principals
	TenantID       string
	DisplayName    string
	SignInAudience string               // AudienceMyOrg or AudienceMultipleOrgs; empty reads as AudienceMyOrg
	Passwords      []PasswordCredential // oldest first (by Start, ties by KeyID)
	// FederatedCredentials are the client assertions the application
	// accepts in place of a secret, by Name (bytewise, ties by ID).
	FederatedCredentials []FederatedCredential
	Created              time.Time
}

// The values of Application.SignInAudience that tresor supports, as Graph
// spells them: an application of its home tenant only, or one that other
// tenants may give a service principal.
const (
	AudienceMyOrg        = "AzureADMyOrg"
	AudienceMultipleOrgs = "AzureADMultipleOrgs"
)

// MultiTenant reports whether other tenants than a's home tenant may have
// its service principal.
func (a Application) MultiTenant() bool { return a.SignInAudience == AudienceMultipleOrgs }

// FederatedCredential is a federated identity credential of an application
// (Graph's federatedIdentityCredential): the application accepts, in place
// of a secret, a client assertion whose iss is Issuer, whose sub is
// Subject and whose aud is one of Audiences.
type FederatedCredential struct {
	ID          string // a lower-case GUID
	Name        string // unique in the application, ignoring case
	Issuer      string
	Subject     string
	Audiences   []string // exactly one, such as TokenExchangeAudience
	Description string   // optional
}

// PasswordCredential is one client secret of an application, of which only
// a salted hash is kept. It is valid from Start until End.
type PasswordCredential struct {
	KeyID       string // a lower-case GUID
	DisplayName string // optional
	Hint        string // the secret's first three characters, as Entra shows them
	Hash        []byte // SHA-256(Salt || secret)
	Salt        []byte
	Start       time.Time
	End         time.Time
}

// SigningKey is a token signing key as stored: the PKCS#8 form of an RSA
// private key, sealed with the binding "identity/signing/{ID}".
type SigningKey struct {
	ID      string // the JWT "kid": the key's RFC 7638 thumbprint
	Sealed  []byte
	Created time.Time
}

// Store persists tenants, applications, service principals and signing
// keys. It keeps no rules of its own beyond the integrity of references.
//
// Object ids are one namespace: an application and a service principal
// never share one. Client ids (AppID) are unique among applications; an
// application's service principals share its client id, at most one in
// each tenant; a managed identity's client id is unique among applications
// and service principals of every tenant.
//
// Methods return a *tresor.Error with Kind NotFound when the object does
// not exist and Conflict when an identifier is taken; any other failure is
// Internal.
type Store interface {
	// CreateTenant inserts t. Conflict if a tenant with t.ID exists.
	CreateTenant(ctx context.Context, t Tenant) error
	// Tenant returns the tenant with that ID.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// Tenants lists all tenants, oldest first (ties by ID).
	Tenants(ctx context.Context) ([]Tenant, error)

	// CreateApplication inserts a with its passwords and federated
	// credentials. NotFound if a.TenantID does not exist; Conflict if
	// a.ObjectID is taken by an application or a service principal, if
	// a.AppID is taken by another application or by a service principal,
	// if a password's KeyID is taken, or if a federated credential
	// conflicts as AddFederatedCredential says.
	CreateApplication(ctx context.Context, a Application) error
	// UpdateApplication writes a.DisplayName and a.SignInAudience to the
	// application with a.ObjectID; its other fields are not changed.
	// NotFound if there is none.
	UpdateApplication(ctx context.Context, a Application) error
	// Application returns the application with that object ID.
	Application(ctx context.Context, objectID string) (Application, error)
	// ApplicationByAppID returns the application with that client ID.
	ApplicationByAppID(ctx context.Context, appID string) (Application, error)
	// Applications lists a tenant's applications, oldest first (ties by
	// object ID). An unknown tenant has none.
	Applications(ctx context.Context, tenantID string) ([]Application, error)
	// DeleteApplication removes the application with that object ID
	// together with its passwords, its federated credentials and its
	// service principals in every tenant. NotFound if there is none.
	DeleteApplication(ctx context.Context, objectID string) error
	// AddPassword adds c to the application with that object ID. NotFound
	// if there is none; Conflict if c.KeyID is taken.
	AddPassword(ctx context.Context, objectID string, c PasswordCredential) error
	// RemovePassword removes the password keyID from the application with
	// that object ID. NotFound if the application has no such password.
	RemovePassword(ctx context.Context, objectID, keyID string) error
	// AddFederatedCredential adds c to the application with that object
	// ID. NotFound if there is none; Conflict if c.ID is taken by any
	// federated credential, or if the application has one named c.Name
	// (ignoring case) or one with c.Issuer and c.Subject.
	AddFederatedCredential(ctx context.Context, objectID string, c FederatedCredential) error
	// RemoveFederatedCredential removes the federated credential id from
	// the application with that object ID. NotFound if the application
	// has no such credential.
	RemoveFederatedCredential(ctx context.Context, objectID, id string) error

	// CreateServicePrincipal inserts sp. NotFound if sp.TenantID does not
	// exist, or if sp is of Type ServicePrincipal and no application (of
	// any tenant: whether it may have a service principal in sp.TenantID
	// is the caller's rule) has sp.AppID; Conflict if sp.ObjectID is taken
	// by a service principal or an application, if another service
	// principal of sp.TenantID has sp.AppID, if sp is a managed identity
	// and an application or a service principal of any tenant has
	// sp.AppID, or if sp.ResourceID is not empty and taken (compared
	// ignoring case).
	CreateServicePrincipal(ctx context.Context, sp ServicePrincipal) error
	// ServicePrincipal returns the service principal with that object ID.
	ServicePrincipal(ctx context.Context, objectID string) (ServicePrincipal, error)
	// ServicePrincipalByAppID returns the service principal of tenantID
	// with that client (application) ID. An empty tenantID finds managed
	// identities only, whose client ids are unique across tenants: the
	// identity endpoint names one by client id alone.
	ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (ServicePrincipal, error)
	// ServicePrincipalByResourceID returns the managed identity whose
	// ResourceID equals resourceID ignoring case.
	ServicePrincipalByResourceID(ctx context.Context, resourceID string) (ServicePrincipal, error)
	// ServicePrincipals lists a tenant's service principals, oldest first
	// (ties by object ID). An unknown tenant has none.
	ServicePrincipals(ctx context.Context, tenantID string) ([]ServicePrincipal, error)
	// DeleteServicePrincipal removes the service principal with that
	// object ID; its application, if any, stays. NotFound if there is
	// none; Conflict if a Store that also keeps user-assigned identity
	// resources (arm/msi) holds one for it, which must be deleted as a
	// whole.
	DeleteServicePrincipal(ctx context.Context, objectID string) error

	// PutSigningKey inserts k. Conflict if a key with k.ID exists.
	PutSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys lists all signing keys, oldest first (ties by ID).
	SigningKeys(ctx context.Context) ([]SigningKey, error)
}

// Reasons are the OAuth 2.0 error codes (RFC 6749 section 5.2, and Entra's
// invalid_tenant) that clients branch on. They go into tresor.Error.Reason
// and from there into the "error" member of the token endpoint's reply.
const (
	ReasonInvalidRequest       = "invalid_request"
	ReasonInvalidClient        = "invalid_client"
	ReasonInvalidScope         = "invalid_scope"
	ReasonInvalidTenant        = "invalid_tenant"
	ReasonUnsupportedGrantType = "unsupported_grant_type"
)

// AdminName is the display name of the service principal that Bootstrap
// creates.
const AdminName = "tresor-admin"

// Admin is the identity Bootstrap provides for the operator.
type Admin struct {
	TenantID string
	ClientID string
	ObjectID string
	// ClientSecret is set only when Created is true: the secret is not
	// stored and cannot be shown again. ResetCredential issues a new one.
	ClientSecret string
	// Created reports whether this call created the service principal.
	Created bool
}
