package sqlite

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
	"github.com/tresorkms/tresor/seal"
)

func TestIdentityStore(t *testing.T) {
	identitytest.TestStore(t, func(tb testing.TB) identity.Store {
		tb.Helper()
		db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "tresor.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	})
}

// TestIdentityBootstrapReopen runs the Service on a database that is closed
// and opened again, as across restarts: the second Bootstrap finds the
// admin, and the signing key unseals and still validates.
func TestIdentityBootstrapReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tresor.db")
	sealer, err := seal.New(make([]byte, seal.RootKeySize), "identity")
	if err != nil {
		t.Fatal(err)
	}
	const aud = "https://vault.localhost:8443"
	service := func(db *DB) *identity.Service {
		return &identity.Service{Store: db, Sealer: sealer, Issuer: "https://localhost:8443", Audiences: []string{aud}}
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := service(db).Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := service(db)
	second, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	want.ClientSecret, want.Created = "", false
	if second != want {
		t.Errorf("Bootstrap() after reopening = %+v, want %+v", second, want)
	}
	tok, err := svc.IssueToken(ctx, identity.TokenRequest{
		TenantID: first.TenantID, ClientID: first.ClientID, ClientSecret: first.ClientSecret, Scope: aud + "/.default",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Validate(ctx, tok.AccessToken, aud); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

// TestMigrateApplications builds a database as the migrations before 0008
// left it, with a service principal holding a secret and a managed
// identity, and checks that opening it gives the principal an application
// whose one password is the old secret, and the managed identity none.
func TestMigrateApplications(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, exec := oldDatabase(t, path, "0008")
	const (
		tenant   = "00000000-0000-4000-8000-000000000001"
		objectID = "00000000-0000-4000-8000-000000000002"
		appID    = "00000000-0000-4000-8000-000000000003"
		secret   = "the-old-secret"
		created  = 1700000000
	)
	salt := []byte("0123456789abcdef")
	hash := sha256.Sum256(append(slices.Clone(salt), secret...))
	exec(`INSERT INTO identity_tenants (id, display_name, created) VALUES (?, 'tresor', ?)`, tenant, created)
	exec(`INSERT INTO identity_service_principals (object_id, app_id, tenant_id, display_name, type, secret_hash, secret_salt, created)
		VALUES (?, ?, ?, ?, 'ServicePrincipal', ?, ?, ?)`, objectID, appID, tenant, identity.AdminName, hash[:], salt, created)
	exec(`INSERT INTO identity_service_principals (object_id, app_id, tenant_id, display_name, type, secret_hash, secret_salt, resource_id, created)
		VALUES ('00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000005', ?, 'mi', 'ManagedIdentity', x'', x'', '/subscriptions/s/mi', ?)`, tenant, created)
	exec(`INSERT INTO msi_user_assigned_identities (subscription_id, resource_group, name, object_id, location, tags, created)
		VALUES ('s', 'rg', 'mi', '00000000-0000-4000-8000-000000000004', 'westeurope', '{}', ?)`, created)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer db.Close()
	app, err := db.ApplicationByAppID(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if !identity.IsGUID(app.ObjectID) || app.ObjectID == objectID || strings.ToLower(app.ObjectID) != app.ObjectID ||
		app.TenantID != tenant || app.DisplayName != identity.AdminName || app.Created.Unix() != created || len(app.Passwords) != 1 {
		t.Fatalf("migrated application = %+v", app)
	}
	if pw := app.Passwords[0]; !identity.IsGUID(pw.KeyID) || pw.Start.Unix() != created || !pw.End.Equal(identity.NoExpiry) {
		t.Errorf("migrated password = %+v; want from the principal's creation to %v", pw, identity.NoExpiry)
	}
	if _, err := db.ApplicationByAppID(ctx, "00000000-0000-4000-8000-000000000005"); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("application of the managed identity = %v, want NotFound", err)
	}
	if u, err := db.UserAssignedIdentity(ctx, "s", "rg", "mi"); err != nil || u.Principal.Type != tresor.ManagedIdentity || u.Principal.ResourceID != "/subscriptions/s/mi" {
		t.Errorf("user-assigned identity after migrating = %+v, %v", u, err)
	}

	// The old secret still obtains a token for the same principal.
	sealer, err := seal.New(make([]byte, seal.RootKeySize), "identity")
	if err != nil {
		t.Fatal(err)
	}
	const aud = "https://vault.localhost:8443"
	svc := &identity.Service{Store: db, Sealer: sealer, Issuer: "https://localhost:8443", Audiences: []string{aud}}
	admin, err := svc.Bootstrap(ctx)
	if err != nil || admin.Created || admin.ObjectID != objectID {
		t.Fatalf("Bootstrap() after migrating = %+v, %v; want the migrated admin", admin, err)
	}
	tok, err := svc.IssueToken(ctx, identity.TokenRequest{TenantID: tenant, ClientID: appID, ClientSecret: secret, Scope: aud + "/.default"})
	if err != nil {
		t.Fatalf("IssueToken(migrated secret) = %v", err)
	}
	if p, err := svc.Validate(ctx, tok.AccessToken, aud); err != nil || p.ObjectID != objectID {
		t.Errorf("Validate() = %+v, %v; want oid %s", p, err, objectID)
	}
}

// TestMigrateFederation builds a database as the migrations before 0015
// left it, with an application, its service principal and a user-assigned
// identity, and checks that opening it keeps them all, makes the
// application single-tenant, lets a second tenant have its own service
// principal of the application, and keeps the identity resource's foreign
// key to its principal.
func TestMigrateFederation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, exec := oldDatabase(t, path, "0015")
	const (
		tenant, other = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000009"
		spID, appID   = "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"
		appObjectID   = "00000000-0000-4000-8000-000000000006"
		miID, miAppID = "00000000-0000-4000-8000-000000000004", "00000000-0000-4000-8000-000000000005"
		created       = 1700000000
	)
	exec(`INSERT INTO identity_tenants (id, display_name, created) VALUES (?, 'home', ?), (?, 'other', ?)`, tenant, created, other, created)
	exec(`INSERT INTO identity_applications (object_id, app_id, tenant_id, display_name, created) VALUES (?, ?, ?, 'app', ?)`,
		appObjectID, appID, tenant, created)
	exec(`INSERT INTO identity_service_principals (object_id, app_id, tenant_id, display_name, type, resource_id, created)
		VALUES (?, ?, ?, 'app', 'ServicePrincipal', '', ?)`, spID, appID, tenant, created)
	exec(`INSERT INTO identity_service_principals (object_id, app_id, tenant_id, display_name, type, resource_id, created)
		VALUES (?, ?, ?, 'mi', 'ManagedIdentity', '/subscriptions/s/mi', ?)`, miID, miAppID, tenant, created)
	exec(`INSERT INTO msi_user_assigned_identities (subscription_id, resource_group, name, object_id, location, tags, created)
		VALUES ('s', 'rg', 'mi', ?, 'westeurope', '{}', ?)`, miID, created)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer db.Close()
	app, err := db.Application(ctx, appObjectID)
	if err != nil || app.SignInAudience != identity.AudienceMyOrg || app.AppID != appID {
		t.Errorf("migrated application = %+v, %v; want it with signInAudience %s", app, err, identity.AudienceMyOrg)
	}
	if sp, err := db.ServicePrincipalByAppID(ctx, tenant, appID); err != nil || sp.ObjectID != spID || sp.Created.Unix() != created {
		t.Errorf("ServicePrincipalByAppID(home) = %+v, %v; want %s", sp, err, spID)
	}
	if sp, err := db.ServicePrincipalByAppID(ctx, "", miAppID); err != nil || sp.ObjectID != miID || sp.ResourceID != "/subscriptions/s/mi" {
		t.Errorf("ServicePrincipalByAppID(managed identity) = %+v, %v", sp, err)
	}
	if u, err := db.UserAssignedIdentity(ctx, "s", "RG", "MI"); err != nil || u.Principal.ObjectID != miID {
		t.Errorf("user-assigned identity after migrating = %+v, %v", u, err)
	}
	// The unique index is per tenant now.
	away := identity.ServicePrincipal{ObjectID: "00000000-0000-4000-8000-000000000007", AppID: appID, TenantID: other,
		DisplayName: "app", Type: tresor.ServicePrincipal, Created: identity.NoExpiry}
	if err := db.CreateServicePrincipal(ctx, away); err != nil {
		t.Errorf("CreateServicePrincipal(second tenant) after migrating = %v", err)
	}
	away.ObjectID = "00000000-0000-4000-8000-000000000008"
	if err := db.CreateServicePrincipal(ctx, away); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("CreateServicePrincipal(second in a tenant) = %v, want Conflict", err)
	}
	// The rebuilt tables keep their foreign key: an identity resource
	// cannot name a principal that does not exist.
	if _, err := db.write.ExecContext(ctx, `INSERT INTO msi_user_assigned_identities
		(subscription_id, resource_group, name, object_id, location, tags, created) VALUES ('s', 'rg', 'x', 'nobody', 'l', '{}', 0)`); err == nil {
		t.Error("an identity resource without its principal was inserted; the foreign key is lost")
	}
	if err := db.DeleteServicePrincipal(ctx, miID); !tresor.IsKind(err, tresor.Conflict) {
		t.Errorf("DeleteServicePrincipal(a user-assigned identity's) = %v, want Conflict", err)
	}
}
