package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/seal"
)

// Service is the token issuer. Its exported fields are set before first use
// and not changed afterwards; it is then safe for concurrent use.
type Service struct {
	Store  Store
	Sealer *seal.Sealer // seals the signing keys
	// Issuer is the issuer's base URL as clients reach it, such as
	// "https://localhost:8443", without a trailing slash. A tenant's tokens
	// carry the issuer Issuer + "/" + tenant + "/".
	Issuer string
	// Audiences are the resources that tokens can be requested for, such
	// as "https://vault.localhost:8443". A token's "aud" is the audience as
	// written here.
	Audiences []string
	// HostSecret is the identity endpoint's secret (X-IDENTITY-HEADER),
	// which IssueManagedIdentityToken requires; empty refuses every
	// managed identity token request.
	HostSecret string
	// SigningKeyLifetime is how long a signing key signs before
	// RolloverSigningKeys replaces it; 0 means DefaultSigningKeyLifetime.
	SigningKeyLifetime time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	keys   map[string]*signingKey // by kid; nil until first loaded
	active *signingKey            // the newest key, which signs
	loaded time.Time              // when keys were last read from Store

	tenants sync.Map // IDs of tenants known to exist; tenants are never deleted
	tokens  tokenCache
}

// Bootstrap prepares a new installation and is safe to call on every start:
// it creates, where missing, the first tenant, a signing key and the admin
// (an application named AdminName with a password that does not expire,
// and its service principal, in the oldest tenant), and returns the admin.
//
// The client secret cannot be recovered from the store, so Admin carries it
// only on the call that created the principal (Created is true). The caller
// is expected to keep it, for instance in the 0600 environment file that
// clients source; if that copy is lost, ResetCredential issues a new secret
// and the file can be written again.
//
// Bootstrap must not run concurrently with itself against one Store.
func (s *Service) Bootstrap(ctx context.Context) (Admin, error) {
	tenants, err := s.Store.Tenants(ctx)
	if err != nil {
		return Admin{}, err
	}
	var home Tenant
	if len(tenants) > 0 {
		home = tenants[0]
	} else {
		home = Tenant{ID: NewGUID(), DisplayName: "tresor", Created: s.now()}
		if err := s.Store.CreateTenant(ctx, home); err != nil {
			return Admin{}, fmt.Errorf("bootstrap: %w", err)
		}
	}
	keys, err := s.Store.SigningKeys(ctx)
	if err != nil {
		return Admin{}, err
	}
	if len(keys) == 0 {
		if _, err := s.RotateSigningKey(ctx); err != nil {
			return Admin{}, fmt.Errorf("bootstrap: %w", err)
		}
	}
	sps, err := s.Store.ServicePrincipals(ctx, home.ID)
	if err != nil {
		return Admin{}, err
	}
	for _, sp := range sps {
		if isAdmin(sp) {
			return Admin{TenantID: home.ID, ClientID: sp.AppID, ObjectID: sp.ObjectID}, nil
		}
	}
	sp, secret, err := s.register(ctx, home.ID, AdminName)
	if err != nil {
		return Admin{}, fmt.Errorf("bootstrap: %w", err)
	}
	return Admin{TenantID: home.ID, ClientID: sp.AppID, ObjectID: sp.ObjectID, ClientSecret: secret, Created: true}, nil
}

// CreateTenant creates a tenant with a new ID. Invalid if displayName is
// empty or too long.
//
// The tenant is created at least a second after the newest one (the Store
// keeps seconds), so that the first tenant, the home tenant that Bootstrap
// finds as the oldest, stays first whatever the clock does.
func (s *Service) CreateTenant(ctx context.Context, displayName string) (Tenant, error) {
	if err := checkDisplayName(displayName); err != nil {
		return Tenant{}, err
	}
	created := s.now().Truncate(time.Second)
	ts, err := s.Store.Tenants(ctx)
	if err != nil {
		return Tenant{}, err
	}
	for _, t := range ts {
		if !created.After(t.Created) {
			created = t.Created.Truncate(time.Second).Add(time.Second)
		}
	}
	t := Tenant{ID: NewGUID(), DisplayName: displayName, Created: created}
	if err := s.Store.CreateTenant(ctx, t); err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// Tenant returns a tenant. For an unknown or malformed ID it returns
// NotFound with Reason ReasonInvalidTenant and Entra's AADSTS90002 message.
func (s *Service) Tenant(ctx context.Context, id string) (Tenant, error) {
	id = strings.ToLower(id)
	if !IsGUID(id) {
		return Tenant{}, tenantNotFound(id)
	}
	t, err := s.Store.Tenant(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return Tenant{}, tenantNotFound(id)
	}
	if err != nil {
		return Tenant{}, err
	}
	s.tenants.Store(t.ID, true)
	return t, nil
}

// knownTenant is Tenant without the read, for tenants seen before.
func (s *Service) knownTenant(ctx context.Context, id string) error {
	if _, ok := s.tenants.Load(id); ok {
		return nil
	}
	_, err := s.Tenant(ctx, id)
	return err
}

func tenantNotFound(id string) error {
	return tresor.Errorf(tresor.NotFound,
		"AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
		clip(id)).WithReason(ReasonInvalidTenant)
}

// CreateServicePrincipal registers an application in a tenant with one
// password that does not expire, creates its service principal, and
// returns the service principal with the password, which is not stored and
// cannot be read again. It is the in-process form of what 'tresor ad sp
// create-for-rbac' does through Graph, for tests and tools. NotFound
// (ReasonInvalidTenant) if the tenant does not exist; Invalid if
// displayName is empty, too long or AdminName, which is the administrator's
// (see Directory).
func (s *Service) CreateServicePrincipal(ctx context.Context, tenantID, displayName string) (ServicePrincipal, string, error) {
	if err := checkDisplayName(displayName); err != nil {
		return ServicePrincipal{}, "", err
	}
	if reservedName(displayName) {
		return ServicePrincipal{}, "", tresor.Errorf(tresor.Invalid, "The display name %s is reserved for the tenant's administrator.", AdminName)
	}
	return s.register(ctx, tenantID, displayName)
}

// register is CreateServicePrincipal without the check of the name.
func (s *Service) register(ctx context.Context, tenantID, displayName string) (ServicePrincipal, string, error) {
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return ServicePrincipal{}, "", err
	}
	now := s.now()
	password, secret := newPassword("tresor", now, NoExpiry)
	app := Application{
		ObjectID:       NewGUID(),
		AppID:          NewGUID(),
		TenantID:       t.ID,
		DisplayName:    displayName,
		SignInAudience: AudienceMyOrg,
		Passwords:      []PasswordCredential{password},
		Created:        now,
	}
	if err := s.Store.CreateApplication(ctx, app); err != nil {
		return ServicePrincipal{}, "", fmt.Errorf("create application: %w", err)
	}
	sp := ServicePrincipal{
		ObjectID:    NewGUID(),
		AppID:       app.AppID,
		DisplayName: displayName,
		TenantID:    t.ID,
		Type:        tresor.ServicePrincipal,
		Created:     now,
	}
	if err := s.Store.CreateServicePrincipal(ctx, sp); err != nil {
		return ServicePrincipal{}, "", fmt.Errorf("create service principal: %w", err)
	}
	return sp, secret, nil
}

// NoExpiry is the end of the passwords that CreateServicePrincipal and
// ResetCredential issue, which do not expire; Entra shows such passwords
// with this date.
var NoExpiry = time.Date(2299, 12, 31, 0, 0, 0, 0, time.UTC)

// ServicePrincipal returns the service principal of a tenant with that
// client (app) ID; an empty tenantID finds managed identities only (see
// Store.ServicePrincipalByAppID). NotFound if there is none.
func (s *Service) ServicePrincipal(ctx context.Context, tenantID, appID string) (ServicePrincipal, error) {
	return s.Store.ServicePrincipalByAppID(ctx, strings.ToLower(tenantID), strings.ToLower(appID))
}

// ResetCredential gives the application with that client (app) ID a new
// password that does not expire and removes its other passwords; it
// returns the new secret. The old secrets stop working at once; tokens
// already issued stay valid until they expire. NotFound if there is no such
// application.
func (s *Service) ResetCredential(ctx context.Context, appID string) (string, error) {
	app, err := s.Store.ApplicationByAppID(ctx, strings.ToLower(appID))
	if err != nil {
		return "", err
	}
	// Add before removing, so that a failure leaves a working password.
	password, secret := newPassword("tresor", s.now(), NoExpiry)
	if err := s.Store.AddPassword(ctx, app.ObjectID, password); err != nil {
		return "", fmt.Errorf("reset credential %s: %w", app.AppID, err)
	}
	for _, old := range app.Passwords {
		err := s.Store.RemovePassword(ctx, app.ObjectID, old.KeyID)
		if err != nil && !tresor.IsKind(err, tresor.NotFound) {
			return "", fmt.Errorf("reset credential %s: %w", app.AppID, err)
		}
	}
	return secret, nil
}

// newPassword returns a new password credential valid from start to end,
// and its secret.
func newPassword(displayName string, start, end time.Time) (PasswordCredential, string) {
	secret, salt := newSecret(), random(16)
	return PasswordCredential{
		KeyID:       NewGUID(),
		DisplayName: displayName,
		Hint:        secret[:3],
		Hash:        hashSecret(salt, secret),
		Salt:        salt,
		Start:       start,
		End:         end,
	}, secret
}

// authenticateClient checks a client secret for a client ID in a tenant
// and returns the application's service principal in that tenant. The
// errors follow Entra's: an unknown client (or a managed identity, which
// has no application), or an application that may not sign in to the
// tenant, is AADSTS700016, a secret that matches no password
// AADSTS7000215, one that matches an expired password AADSTS7000222, and
// an application without a service principal in its home tenant
// AADSTS7000229.
func (s *Service) authenticateClient(ctx context.Context, tenantID, clientID, secret string) (ServicePrincipal, error) {
	app, err := s.clientApplication(ctx, tenantID, clientID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	// Every password is hashed and compared, so the time taken does not
	// tell which one matched.
	var match *PasswordCredential
	for i := range app.Passwords {
		c := &app.Passwords[i]
		if subtle.ConstantTimeCompare(hashSecret(c.Salt, secret), c.Hash) == 1 {
			match = c
		}
	}
	now := s.now()
	switch {
	case match == nil || now.Before(match.Start):
		return ServicePrincipal{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
			app.AppID).WithReason(ReasonInvalidClient)
	case !now.Before(match.End):
		return ServicePrincipal{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS7000222: The provided client secret keys for app '%s' are expired. Create new keys for your app ('tresor ad app credential reset --id %s'), or consider using certificate credentials for added security.",
			app.AppID, app.AppID).WithReason(ReasonInvalidClient)
	}
	return s.servicePrincipalIn(ctx, app, tenantID)
}

// clientApplication returns the application of a client ID that may sign
// in to a tenant: its home tenant, or any tenant if it is multi-tenant.
// Otherwise, or if there is no such application, it returns Entra's
// AADSTS700016.
func (s *Service) clientApplication(ctx context.Context, tenantID, clientID string) (Application, error) {
	app, err := s.Store.ApplicationByAppID(ctx, strings.ToLower(clientID))
	if err != nil && !tresor.IsKind(err, tresor.NotFound) {
		return Application{}, err
	}
	if err != nil || (app.TenantID != tenantID && !app.MultiTenant()) {
		return Application{}, appNotInTenant(clientID, tenantID)
	}
	return app, nil
}

// servicePrincipalIn returns an application's service principal in a
// tenant. Without one, a multi-tenant application in another tenant is
// AADSTS700016, as Entra answers an application that the tenant has not
// consented to, and an application in its home tenant AADSTS7000229.
func (s *Service) servicePrincipalIn(ctx context.Context, app Application, tenantID string) (ServicePrincipal, error) {
	sp, err := s.Store.ServicePrincipalByAppID(ctx, tenantID, app.AppID)
	if tresor.IsKind(err, tresor.NotFound) {
		if tenantID != app.TenantID {
			return ServicePrincipal{}, appNotInTenant(app.AppID, tenantID)
		}
		return ServicePrincipal{}, tresor.Errorf(tresor.Unauthenticated,
			"AADSTS7000229: The client application %s is missing service principal in the tenant %s. Create one ('POST /v1.0/servicePrincipals' with its appId, or 'tresor ad sp create-for-rbac').",
			app.AppID, tenantID).WithReason(ReasonInvalidClient)
	}
	if err != nil {
		return ServicePrincipal{}, err
	}
	return sp, nil
}

func appNotInTenant(clientID, tenantID string) error {
	return tresor.Errorf(tresor.Unauthenticated,
		"AADSTS700016: Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
		clip(clientID), tenantID).WithReason(ReasonInvalidClient)
}

func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Second)
}

// hashSecret returns SHA-256(salt || secret). Secrets carry 256 bits of
// entropy, so a fast hash suffices: there is nothing to guess.
func hashSecret(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// newSecret returns 256 random bits as 43 URL-safe characters, which need
// no quoting in a form body or a shell.
func newSecret() string { return base64.RawURLEncoding.EncodeToString(random(32)) }

// random returns n bytes from crypto/rand.
func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return b
}

// NewGUID returns a random (version 4) GUID in lower case.
func NewGUID() string {
	b := random(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

const maxDisplayName = 256

func checkDisplayName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > maxDisplayName {
		return tresor.Errorf(tresor.Invalid, "display name must be 1 to %d characters", maxDisplayName)
	}
	return nil
}

// clip shortens caller-supplied text that is echoed in a message.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
