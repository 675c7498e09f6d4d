package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// Directory is a tenant's applications and service principals as one
// caller manages them, with the operations of Microsoft Graph's
// applications and servicePrincipals (named after their operationIds). The
// tenant is the caller's.
//
// Every operation requires the caller to hold the directory role: to be
// the tenant's administrator, the service principal that Bootstrap created
// (named AdminName). Other principals are Forbidden, as an Entra
// application without Application.ReadWrite.All is. The name is therefore
// reserved: CreateApplication and Service.CreateServicePrincipal refuse
// it, and the administrator's
// application and service principal cannot be changed or deleted here,
// since the server's environment file depends on them.
//
// Managed identities appear among the service principals but are created
// and deleted only with their Azure resource.
type Directory struct {
	s      *Service
	caller tresor.Principal
}

// Directory returns the directory of caller's tenant, for caller.
func (s *Service) Directory(caller tresor.Principal) *Directory {
	return &Directory{s: s, caller: caller}
}

// MaxPasswords is how many passwords an application may have.
const MaxPasswords = 32

// latestTime bounds the times a Directory stores: what JSON and RFC 3339
// can still spell.
var latestTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// isAdmin reports whether sp is a tenant's administrator, the holder of
// the directory role.
func isAdmin(sp ServicePrincipal) bool {
	return sp.Type == tresor.ServicePrincipal && sp.DisplayName == AdminName
}

// reservedName reports whether name would pass for the administrator's.
func reservedName(name string) bool { return strings.EqualFold(strings.TrimSpace(name), AdminName) }

// authorize checks that the caller holds the directory role.
func (d *Directory) authorize(ctx context.Context) error {
	p := d.caller
	if p.Type == tresor.ServicePrincipal && IsGUID(p.ObjectID) {
		sp, err := d.s.Store.ServicePrincipal(ctx, strings.ToLower(p.ObjectID))
		if err != nil && !tresor.IsKind(err, tresor.NotFound) {
			return err
		}
		if err == nil && isAdmin(sp) && sp.TenantID == strings.ToLower(p.TenantID) {
			return nil
		}
	}
	return tresor.Errorf(tresor.Forbidden,
		"Insufficient privileges to complete the operation. Only the tenant's administrator (%s) may read or change applications and service principals.", AdminName)
}

func (d *Directory) tenant() string { return strings.ToLower(d.caller.TenantID) }

// ApplicationSpec describes an application to register.
type ApplicationSpec struct {
	DisplayName string
	// SignInAudience is AudienceMyOrg (the default when empty) or
	// AudienceMultipleOrgs, compared ignoring case.
	SignInAudience string
}

// ApplicationPatch holds the members of an application to change; nil
// members stay as they are.
type ApplicationPatch struct {
	DisplayName    *string
	SignInAudience *string
}

// CreateApplication registers an application with a new object id and
// client id, without passwords or a service principal. Invalid if the
// display name is empty, too long or AdminName, or the sign-in audience is
// not one that tresor supports.
func (d *Directory) CreateApplication(ctx context.Context, spec ApplicationSpec) (Application, error) {
	if err := d.authorize(ctx); err != nil {
		return Application{}, err
	}
	if err := checkApplicationName(spec.DisplayName); err != nil {
		return Application{}, err
	}
	audience, err := signInAudience(spec.SignInAudience)
	if err != nil {
		return Application{}, err
	}
	a := Application{
		ObjectID:       NewGUID(),
		AppID:          NewGUID(),
		TenantID:       d.tenant(),
		DisplayName:    spec.DisplayName,
		SignInAudience: audience,
		Created:        d.s.now(),
	}
	if err := d.s.Store.CreateApplication(ctx, a); err != nil {
		return Application{}, fmt.Errorf("create application: %w", err)
	}
	return a, nil
}

// UpdateApplication changes an application's display name or sign-in
// audience, as Graph's PATCH does. Its service principals keep their
// display names. An application made single-tenant keeps its service
// principals in other tenants, which obtain no tokens until it is
// multi-tenant again. Invalid as CreateApplication, or for the
// administrator's application; NotFound if the tenant has no such
// application.
func (d *Directory) UpdateApplication(ctx context.Context, objectID string, patch ApplicationPatch) (Application, error) {
	if err := d.authorize(ctx); err != nil {
		return Application{}, err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return Application{}, err
	}
	if err := d.notAdmin(ctx, a); err != nil {
		return Application{}, err
	}
	if patch.DisplayName != nil {
		if err := checkApplicationName(*patch.DisplayName); err != nil {
			return Application{}, err
		}
		a.DisplayName = *patch.DisplayName
	}
	if patch.SignInAudience != nil {
		if a.SignInAudience, err = signInAudience(*patch.SignInAudience); err != nil {
			return Application{}, err
		}
	}
	if err := d.s.Store.UpdateApplication(ctx, a); err != nil {
		return Application{}, fmt.Errorf("update application %s: %w", a.AppID, err)
	}
	return a, nil
}

// checkApplicationName checks an application's display name.
func checkApplicationName(name string) error {
	if err := checkDisplayName(name); err != nil {
		return err
	}
	if reservedName(name) {
		return tresor.Errorf(tresor.Invalid, "The display name %s is reserved for the tenant's administrator.", AdminName)
	}
	return nil
}

// signInAudience returns the canonical spelling of a supported sign-in
// audience; empty is AudienceMyOrg.
func signInAudience(v string) (string, error) {
	switch {
	case v == "" || strings.EqualFold(v, AudienceMyOrg):
		return AudienceMyOrg, nil
	case strings.EqualFold(v, AudienceMultipleOrgs):
		return AudienceMultipleOrgs, nil
	}
	return "", tresor.Errorf(tresor.Invalid,
		"The signInAudience '%s' is not supported: tresor supports only %s and %s, since it has no personal Microsoft accounts.",
		clip(v), AudienceMyOrg, AudienceMultipleOrgs)
}

// GetApplication returns an application by its object id. Invalid if id is
// not a GUID; NotFound if the tenant has no such application.
func (d *Directory) GetApplication(ctx context.Context, objectID string) (Application, error) {
	if err := d.authorize(ctx); err != nil {
		return Application{}, err
	}
	return d.application(ctx, objectID)
}

func (d *Directory) application(ctx context.Context, objectID string) (Application, error) {
	if !IsGUID(objectID) {
		return Application{}, invalidObjectID(objectID)
	}
	a, err := d.s.Store.Application(ctx, strings.ToLower(objectID))
	if tresor.IsKind(err, tresor.NotFound) || (err == nil && a.TenantID != d.tenant()) {
		return Application{}, resourceNotFound(objectID)
	}
	return a, err
}

// ListApplications lists the tenant's applications, oldest first.
func (d *Directory) ListApplications(ctx context.Context) ([]Application, error) {
	if err := d.authorize(ctx); err != nil {
		return nil, err
	}
	return d.s.Store.Applications(ctx, d.tenant())
}

// DeleteApplication deletes an application with its passwords, its
// federated credentials and its service principals in every tenant.
// Entra deletes only the home tenant's and leaves the others orphaned,
// unable to sign in; tresor removes them rather than keep principals that
// nothing can use. Tokens already issued stay valid until they expire;
// role assignments naming the service principals stay and grant nothing.
// Invalid for the administrator's application; NotFound if the tenant has
// no such application.
func (d *Directory) DeleteApplication(ctx context.Context, objectID string) error {
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
	return d.s.Store.DeleteApplication(ctx, a.ObjectID)
}

// PasswordRequest describes a password to add. Zero times take Graph's
// defaults: Start now, End two years after Start.
type PasswordRequest struct {
	DisplayName string
	Start       time.Time
	End         time.Time
}

// AddPassword adds a new password to an application and returns it with
// its secret, which is not stored and cannot be read again. Invalid if the
// display name is too long, End is not after Start, either lies beyond
// year 9999, the application has MaxPasswords already, or it is the
// administrator's; NotFound if the tenant has no such application.
func (d *Directory) AddPassword(ctx context.Context, objectID string, req PasswordRequest) (PasswordCredential, string, error) {
	if err := d.authorize(ctx); err != nil {
		return PasswordCredential{}, "", err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return PasswordCredential{}, "", err
	}
	if err := d.notAdmin(ctx, a); err != nil {
		return PasswordCredential{}, "", err
	}
	if len(req.DisplayName) > maxDisplayName {
		return PasswordCredential{}, "", tresor.Errorf(tresor.Invalid, "The password's displayName must be at most %d characters.", maxDisplayName)
	}
	if len(a.Passwords) >= MaxPasswords {
		return PasswordCredential{}, "", tresor.Errorf(tresor.Invalid,
			"The application %s has %d passwords, the most allowed. Remove one first.", a.AppID, MaxPasswords)
	}
	start, end := req.Start.UTC().Truncate(time.Second), req.End.UTC().Truncate(time.Second)
	if req.Start.IsZero() {
		start = d.s.now()
	}
	if req.End.IsZero() {
		end = start.AddDate(2, 0, 0)
	}
	switch {
	case start.After(latestTime) || end.After(latestTime):
		return PasswordCredential{}, "", tresor.Errorf(tresor.Invalid, "The password's startDateTime and endDateTime must be before the year 10000.")
	case !end.After(start):
		return PasswordCredential{}, "", tresor.Errorf(tresor.Invalid,
			"The password's endDateTime (%s) must be after its startDateTime (%s).", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	c, secret := newPassword(req.DisplayName, start, end)
	if err := d.s.Store.AddPassword(ctx, a.ObjectID, c); err != nil {
		return PasswordCredential{}, "", fmt.Errorf("add password to %s: %w", a.AppID, err)
	}
	return c, secret, nil
}

// RemovePassword removes a password from an application: its secret stops
// working at once, while tokens already issued with it stay valid until
// they expire. Invalid if keyID is not a GUID or the application is the
// administrator's; NotFound if the tenant has no such application or it
// has no such password.
func (d *Directory) RemovePassword(ctx context.Context, objectID, keyID string) error {
	if err := d.authorize(ctx); err != nil {
		return err
	}
	a, err := d.application(ctx, objectID)
	if err != nil {
		return err
	}
	if !IsGUID(keyID) {
		return tresor.Errorf(tresor.Invalid, "The keyId '%s' is not a GUID.", clip(keyID))
	}
	if err := d.notAdmin(ctx, a); err != nil {
		return err
	}
	err = d.s.Store.RemovePassword(ctx, a.ObjectID, strings.ToLower(keyID))
	if tresor.IsKind(err, tresor.NotFound) {
		return tresor.Errorf(tresor.NotFound, "The application %s has no password with keyId '%s'.", a.AppID, clip(keyID))
	}
	return err
}

// CreateServicePrincipal creates the tenant's service principal of an
// application, named as the application, with a new object id: of an
// application of the tenant, or of a multi-tenant application of another
// tenant (as an administrator consents to it in Entra). Invalid if appID
// names no such application (Graph's "does not reference a valid
// application object"); Conflict if the application has a service
// principal in the tenant already.
func (d *Directory) CreateServicePrincipal(ctx context.Context, appID string) (ServicePrincipal, error) {
	if err := d.authorize(ctx); err != nil {
		return ServicePrincipal{}, err
	}
	noApp := tresor.Errorf(tresor.Invalid,
		"The appId '%s' of the service principal does not reference a valid application object. Managed identities are created with their Azure resource.", clip(appID))
	if !IsGUID(appID) {
		return ServicePrincipal{}, noApp
	}
	a, err := d.s.Store.ApplicationByAppID(ctx, strings.ToLower(appID))
	if tresor.IsKind(err, tresor.NotFound) || (err == nil && a.TenantID != d.tenant() && !a.MultiTenant()) {
		return ServicePrincipal{}, noApp
	}
	if err != nil {
		return ServicePrincipal{}, err
	}
	inUse := tresor.Errorf(tresor.Conflict,
		"The service principal cannot be created, updated, or restored because the service principal name %s is already in use.", a.AppID)
	if _, err := d.s.Store.ServicePrincipalByAppID(ctx, d.tenant(), a.AppID); err == nil {
		return ServicePrincipal{}, inUse
	} else if !tresor.IsKind(err, tresor.NotFound) {
		return ServicePrincipal{}, err
	}
	sp := ServicePrincipal{
		ObjectID:    NewGUID(),
		AppID:       a.AppID,
		DisplayName: a.DisplayName,
		TenantID:    d.tenant(),
		Type:        tresor.ServicePrincipal,
		Created:     d.s.now(),
	}
	err = d.s.Store.CreateServicePrincipal(ctx, sp)
	if tresor.IsKind(err, tresor.Conflict) {
		return ServicePrincipal{}, inUse // created concurrently
	}
	if err != nil {
		return ServicePrincipal{}, fmt.Errorf("create service principal of %s: %w", a.AppID, err)
	}
	return sp, nil
}

// GetServicePrincipal returns a service principal, or a managed identity,
// by its object id. Invalid if id is not a GUID; NotFound if the tenant has
// no such principal.
func (d *Directory) GetServicePrincipal(ctx context.Context, objectID string) (ServicePrincipal, error) {
	if err := d.authorize(ctx); err != nil {
		return ServicePrincipal{}, err
	}
	return d.servicePrincipal(ctx, objectID)
}

func (d *Directory) servicePrincipal(ctx context.Context, objectID string) (ServicePrincipal, error) {
	if !IsGUID(objectID) {
		return ServicePrincipal{}, invalidObjectID(objectID)
	}
	sp, err := d.s.Store.ServicePrincipal(ctx, strings.ToLower(objectID))
	if tresor.IsKind(err, tresor.NotFound) || (err == nil && sp.TenantID != d.tenant()) {
		return ServicePrincipal{}, resourceNotFound(objectID)
	}
	return sp, err
}

// ListServicePrincipals lists the tenant's service principals, managed
// identities included, oldest first.
func (d *Directory) ListServicePrincipals(ctx context.Context) ([]ServicePrincipal, error) {
	if err := d.authorize(ctx); err != nil {
		return nil, err
	}
	return d.s.Store.ServicePrincipals(ctx, d.tenant())
}

// DeleteServicePrincipal deletes a service principal; its application
// stays, and obtains no tokens until it has a service principal again.
// Tokens already issued stay valid until they expire. Invalid for a
// managed identity or the administrator; NotFound if the tenant has no
// such principal.
func (d *Directory) DeleteServicePrincipal(ctx context.Context, objectID string) error {
	if err := d.authorize(ctx); err != nil {
		return err
	}
	sp, err := d.servicePrincipal(ctx, objectID)
	if err != nil {
		return err
	}
	switch {
	case sp.Type == tresor.ManagedIdentity:
		return tresor.Errorf(tresor.Invalid,
			"The service principal %s is a managed identity: delete its Azure resource (%s), or remove the resource's system-assigned identity.", sp.ObjectID, clip(sp.ResourceID))
	case isAdmin(sp):
		return adminUnchangeable()
	}
	return d.s.Store.DeleteServicePrincipal(ctx, sp.ObjectID)
}

// notAdmin refuses changes to the administrator's application, whose
// service principal is in its home tenant.
func (d *Directory) notAdmin(ctx context.Context, a Application) error {
	sp, err := d.s.Store.ServicePrincipalByAppID(ctx, a.TenantID, a.AppID)
	if tresor.IsKind(err, tresor.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if isAdmin(sp) {
		return adminUnchangeable()
	}
	return nil
}

func adminUnchangeable() error {
	return tresor.Errorf(tresor.Invalid,
		"The tenant's administrator (%s) cannot be changed or deleted through Graph: the server's environment file holds its credential. Restart the server without AZURE_CLIENT_SECRET in tresor.env to reset it.", AdminName)
}

func invalidObjectID(id string) error {
	return tresor.Errorf(tresor.Invalid, "Invalid object identifier '%s'.", clip(id))
}

func resourceNotFound(id string) error {
	return tresor.Errorf(tresor.NotFound,
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", clip(id))
}
