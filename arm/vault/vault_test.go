package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/vault"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/sqlite"
)

const (
	tenant   = "10000000-0000-4000-8000-000000000000"
	admin    = "30000000-0000-4000-8000-000000000000"
	token    = "test-token"
	audience = "https://management.localhost"
	location = "westeurope"
)

// staticCredential hands out the one token the test server accepts, and
// checks that it is asked for the ARM audience.
type staticCredential struct {
	token string
	t     *testing.T
}

func (c staticCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(opts.Scopes) != 1 || opts.Scopes[0] != audience+"/.default" {
		c.t.Errorf("GetToken scopes = %v, want [%s/.default]", opts.Scopes, audience)
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// env is a front door with the vault provider behind a TLS test server, and
// the real SDK clients pointed at it.
type env struct {
	sub      string
	clock    atomic.Int64 // Unix seconds of the service clock
	groups   *armresources.ResourceGroupsClient
	vaults   *armkeyvault.VaultsClient
	hsms     *armkeyvault.ManagedHsmsClient
	opts     *azarm.ClientOptions
	mu       sync.Mutex
	requests []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tresor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{}
	e.clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	keys := keyvault.NewService(db, nil, nil)
	keys.Now = func() time.Time { return time.Unix(e.clock.Load(), 0) }
	armSvc := arm.NewService(db)
	sub, err := armSvc.Bootstrap(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	e.sub = sub.ID
	uri := func(kind keyvault.VaultKind, name string) string {
		if kind == keyvault.ManagedHSM {
			return "https://" + name + ".managedhsm.localhost:8443/"
		}
		return "https://" + name + ".vault.localhost:8443/"
	}
	front := armhttp.New(armhttp.Config{
		ARM:       armSvc,
		Authority: "https://localhost:8443/" + tenant,
		Providers: []armhttp.Provider{vault.New(keys, armSvc, uri)},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticate: func(ctx context.Context, tok string) (tresor.Principal, error) {
			if tok != token {
				return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "The access token is invalid.")
			}
			return tresor.Principal{TenantID: tenant, ObjectID: admin, Type: tresor.ServicePrincipal}, nil
		},
	})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Method+" "+r.URL.Path)
		e.mu.Unlock()
		front.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	e.opts = &azarm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: "https://localhost:8443/",
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: srv.URL, Audience: audience}},
		},
		Transport: srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
	cred := staticCredential{token: token, t: t}
	if e.groups, err = armresources.NewResourceGroupsClient(e.sub, cred, e.opts); err != nil {
		t.Fatal(err)
	}
	if e.vaults, err = armkeyvault.NewVaultsClient(e.sub, cred, e.opts); err != nil {
		t.Fatal(err)
	}
	if e.hsms, err = armkeyvault.NewManagedHsmsClient(e.sub, cred, e.opts); err != nil {
		t.Fatal(err)
	}
	return e
}

// requestCount returns the number of requests served since the last call.
func (e *env) requestCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.requests)
	e.requests = nil
	return n
}

func (e *env) advance(d time.Duration) { e.clock.Add(int64(d / time.Second)) }

var fast = &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}

// wantError checks that err is an ARM error with the status and code.
func wantError(t *testing.T, op string, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s = %v, want a %d %s ResponseError", op, err, status, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("%s = %d %s, want %d %s", op, re.StatusCode, re.ErrorCode, status, code)
	}
}

func must(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func (e *env) createGroup(t *testing.T, name string) {
	t.Helper()
	_, err := e.groups.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: to.Ptr("West Europe")}, nil)
	must(t, "CreateOrUpdate group "+name, err)
}

func (e *env) createVault(t *testing.T, group, name string, p *armkeyvault.VaultProperties) (armkeyvault.Vault, error) {
	t.Helper()
	ctx := context.Background()
	if p.SKU == nil {
		p.SKU = &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}
	}
	poller, err := e.vaults.BeginCreateOrUpdate(ctx, group, name, armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr(location), Properties: p, Tags: map[string]*string{"env": to.Ptr("test")},
	}, nil)
	if err != nil {
		return armkeyvault.Vault{}, err
	}
	res, err := poller.PollUntilDone(ctx, fast)
	return res.Vault, err
}

func TestResourceGroups(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	got, err := e.groups.CreateOrUpdate(ctx, "My-RG", armresources.ResourceGroup{Location: to.Ptr("West Europe"), Tags: map[string]*string{"a": to.Ptr("b")}}, nil)
	must(t, "CreateOrUpdate", err)
	if *got.ID != "/subscriptions/"+e.sub+"/resourceGroups/My-RG" || *got.Location != location || *got.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("CreateOrUpdate = %+v", got.ResourceGroup)
	}
	// armresources sends "resourcegroups": the route matches in any case.
	exists, err := e.groups.CheckExistence(ctx, "my-rg", nil)
	if err != nil || !exists.Success {
		t.Errorf("CheckExistence(my-rg) = %v, %v; want true", exists.Success, err)
	}
	exists, err = e.groups.CheckExistence(ctx, "absent", nil)
	if err != nil || exists.Success {
		t.Errorf("CheckExistence(absent) = %v, %v; want false", exists.Success, err)
	}
	upd, err := e.groups.Update(ctx, "my-rg", armresources.ResourceGroupPatchable{Tags: map[string]*string{"c": to.Ptr("d")}}, nil)
	if err != nil || *upd.Name != "My-RG" || len(upd.Tags) != 1 || *upd.Tags["c"] != "d" {
		t.Errorf("Update = %+v, %v", upd.ResourceGroup, err)
	}
	var names []string
	for pager := e.groups.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "List", err)
		for _, g := range page.Value {
			names = append(names, *g.Name)
		}
	}
	if !cmp.Equal(names, []string{"My-RG"}) {
		t.Errorf("List = %v", names)
	}
	_, err = e.groups.Get(ctx, "absent", nil)
	wantError(t, "Get(absent)", err, 404, arm.ReasonResourceGroupNotFound)
	_, err = e.groups.CreateOrUpdate(ctx, "bad/name.", armresources.ResourceGroup{Location: to.Ptr(location)}, nil)
	if err == nil {
		t.Errorf("CreateOrUpdate(bad name) succeeded")
	}
}

// TestUnauthenticated checks that a rejected token fails once: the 401
// challenge carries no claims, so azcore does not retry it.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	groups, err := armresources.NewResourceGroupsClient(e.sub, staticCredential{token: "wrong", t: t}, e.opts)
	must(t, "NewResourceGroupsClient", err)
	e.requestCount()
	_, err = groups.Get(context.Background(), "rg", nil)
	wantError(t, "Get with a bad token", err, 401, "InvalidAuthenticationToken")
	if n := e.requestCount(); n != 1 {
		t.Errorf("Get with a bad token made %d requests, want 1", n)
	}
}

func TestVaults(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.createGroup(t, "rg-1")
	e.createGroup(t, "rg-2")

	// Create a vault with purge protection; the poller is done without
	// polling.
	e.requestCount()
	kv1, err := e.createVault(t, "rg-1", "kv-one", &armkeyvault.VaultProperties{
		TenantID:                  to.Ptr(tenant),
		SKU:                       &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNamePremium)},
		EnablePurgeProtection:     to.Ptr(true),
		SoftDeleteRetentionInDays: to.Ptr[int32](7),
		AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
			TenantID: to.Ptr(tenant), ObjectID: to.Ptr(admin),
			Permissions: &armkeyvault.Permissions{Keys: []*armkeyvault.KeyPermissions{to.Ptr(armkeyvault.KeyPermissionsGet), to.Ptr(armkeyvault.KeyPermissions("UNWRAPKEY"))}},
		}},
	})
	must(t, "create kv-one", err)
	if n := e.requestCount(); n != 1 {
		t.Errorf("BeginCreateOrUpdate + PollUntilDone made %d requests, want 1", n)
	}
	wantID := "/subscriptions/" + e.sub + "/resourceGroups/rg-1/providers/Microsoft.KeyVault/vaults/kv-one"
	p := kv1.Properties
	if *kv1.ID != wantID || *kv1.Type != "Microsoft.KeyVault/vaults" || *kv1.Location != location ||
		*p.VaultURI != "https://kv-one.vault.localhost:8443/" || *p.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded ||
		*p.TenantID != tenant || *p.SKU.Name != armkeyvault.SKUNamePremium || *p.SKU.Family != armkeyvault.SKUFamilyA ||
		!*p.EnableSoftDelete || *p.SoftDeleteRetentionInDays != 7 || p.EnablePurgeProtection == nil || !*p.EnablePurgeProtection {
		t.Errorf("created vault = %s", dump(kv1))
	}
	if perms := p.AccessPolicies[0].Permissions.Keys; len(perms) != 2 || *perms[1] != armkeyvault.KeyPermissionsUnwrapKey {
		t.Errorf("access policy keys = %s, want get and unwrapKey in Azure's spelling", dump(perms))
	}
	if kv1.SystemData == nil || kv1.SystemData.CreatedAt == nil {
		t.Errorf("systemData = %s, want createdAt", dump(kv1.SystemData))
	}

	// Without tenantId the subscription's tenant is used; soft delete is
	// on by default with 90 days.
	kv2, err := e.createVault(t, "rg-1", "kv-two", &armkeyvault.VaultProperties{})
	must(t, "create kv-two", err)
	if *kv2.Properties.TenantID != tenant || !*kv2.Properties.EnableSoftDelete || *kv2.Properties.SoftDeleteRetentionInDays != 90 || kv2.Properties.EnablePurgeProtection != nil {
		t.Errorf("kv-two = %s", dump(kv2))
	}
	_, err = e.createVault(t, "rg-2", "KV-ONE", &armkeyvault.VaultProperties{})
	wantError(t, "create KV-ONE in another group", err, 409, keyvault.ReasonVaultAlreadyExists)
	_, err = e.createVault(t, "absent", "kv-three", &armkeyvault.VaultProperties{})
	wantError(t, "create in an absent group", err, 404, arm.ReasonResourceGroupNotFound)
	_, err = e.createVault(t, "rg-1", "kv-bad", &armkeyvault.VaultProperties{SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUName("gold"))}})
	wantError(t, "create with a bad sku", err, 400, arm.ReasonInvalidParameter)

	got, err := e.vaults.Get(ctx, "RG-1", "kv-one", nil)
	if err != nil || *got.ID != wantID {
		t.Errorf("Get(RG-1, kv-one) = %v, %v", got.ID, err)
	}
	_, err = e.vaults.Get(ctx, "rg-2", "kv-one", nil)
	wantError(t, "Get from another group", err, 404, arm.ReasonResourceNotFound)

	if names := e.listVaultNames(t, "rg-1"); !cmp.Equal(names, []string{"kv-one", "kv-two"}) {
		t.Errorf("ListByResourceGroup = %v", names)
	}
	if names := e.listVaultNames(t, ""); !cmp.Equal(names, []string{"kv-one", "kv-two"}) {
		t.Errorf("ListBySubscription = %v", names)
	}
	var generic []string
	for pager := e.vaults.NewListPager(&armkeyvault.VaultsClientListOptions{Top: to.Ptr[int32](1)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "List", err)
		for _, r := range page.Value {
			generic = append(generic, *r.Name+" "+*r.Type)
		}
	}
	if want := []string{"kv-one Microsoft.KeyVault/vaults", "kv-two Microsoft.KeyVault/vaults"}; !cmp.Equal(generic, want) {
		t.Errorf("List (generic resources) = %v, want %v", generic, want)
	}

	// PATCH merges: tags change, the rest stays.
	upd, err := e.vaults.Update(ctx, "rg-1", "kv-one", armkeyvault.VaultPatchParameters{Tags: map[string]*string{"env": to.Ptr("prod")}}, nil)
	must(t, "Update tags", err)
	if *upd.Tags["env"] != "prod" || *upd.Properties.SoftDeleteRetentionInDays != 7 || !*upd.Properties.EnablePurgeProtection ||
		len(upd.Properties.AccessPolicies) != 1 || *upd.Properties.SKU.Name != armkeyvault.SKUNamePremium {
		t.Errorf("Update = %s", dump(upd.Vault))
	}
	_, err = e.vaults.Update(ctx, "rg-1", "kv-one", armkeyvault.VaultPatchParameters{Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(false)}}, nil)
	wantError(t, "Update disabling purge protection", err, 400, "BadRequest")

	checkName := func(name string) armkeyvault.CheckNameAvailabilityResult {
		t.Helper()
		res, err := e.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: to.Ptr(name), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
		must(t, "CheckNameAvailability", err)
		return res.CheckNameAvailabilityResult
	}
	if r := checkName("kv-one"); *r.NameAvailable || *r.Reason != armkeyvault.ReasonAlreadyExists {
		t.Errorf("CheckNameAvailability(kv-one) = %s", dump(r))
	}
	if r := checkName("kv-free"); !*r.NameAvailable {
		t.Errorf("CheckNameAvailability(kv-free) = %s", dump(r))
	}
	if r := checkName("a--b"); *r.NameAvailable || *r.Reason != armkeyvault.ReasonAccountNameInvalid {
		t.Errorf("CheckNameAvailability(a--b) = %s", dump(r))
	}

	// Delete: soft-deleted with purge protection.
	_, err = e.vaults.Delete(ctx, "rg-1", "kv-one", nil)
	must(t, "Delete", err)
	_, err = e.vaults.Delete(ctx, "rg-1", "kv-one", nil)
	must(t, "Delete again (204)", err)
	_, err = e.vaults.Get(ctx, "rg-1", "kv-one", nil)
	wantError(t, "Get deleted", err, 404, arm.ReasonResourceNotFound)

	var deleted []*armkeyvault.DeletedVault
	for pager := e.vaults.NewListDeletedPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "ListDeleted", err)
		deleted = append(deleted, page.Value...)
	}
	if len(deleted) != 1 || *deleted[0].Name != "kv-one" {
		t.Fatalf("ListDeleted = %s", dump(deleted))
	}
	d, err := e.vaults.GetDeleted(ctx, "kv-one", "West Europe", nil)
	must(t, "GetDeleted", err)
	dp := d.Properties
	wantDeletedID := "/subscriptions/" + e.sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-one"
	if *d.ID != wantDeletedID || *d.Type != "Microsoft.KeyVault/deletedVaults" || *dp.VaultID != wantID || *dp.Location != location ||
		!*dp.PurgeProtectionEnabled || !dp.ScheduledPurgeDate.Equal(dp.DeletionDate.Add(7*24*time.Hour)) || *dp.Tags["env"] != "prod" {
		t.Errorf("GetDeleted = %s", dump(d.DeletedVault))
	}
	_, err = e.vaults.GetDeleted(ctx, "kv-one", "northeurope", nil)
	wantError(t, "GetDeleted in another location", err, 404, arm.ReasonResourceNotFound)

	_, err = e.vaults.BeginPurgeDeleted(ctx, "kv-one", location, nil)
	wantError(t, "BeginPurgeDeleted under purge protection", err, 409, "Conflict")
	if r := checkName("kv-one"); *r.NameAvailable {
		t.Errorf("CheckNameAvailability(soft-deleted) = %s", dump(r))
	}
	_, err = e.createVault(t, "rg-1", "kv-one", &armkeyvault.VaultProperties{})
	wantError(t, "create over a soft-deleted vault", err, 409, keyvault.ReasonVaultDeleted)

	// Recover with createMode recover, twice: PUT is idempotent.
	for range 2 {
		rec, err := e.createVault(t, "rg-1", "kv-one", &armkeyvault.VaultProperties{CreateMode: to.Ptr(armkeyvault.CreateModeRecover)})
		must(t, "recover", err)
		if *rec.ID != wantID || !*rec.Properties.EnablePurgeProtection || *rec.Tags["env"] != "prod" {
			t.Errorf("recovered = %s", dump(rec))
		}
	}
	_, err = e.createVault(t, "rg-1", "kv-never", &armkeyvault.VaultProperties{CreateMode: to.Ptr(armkeyvault.CreateModeRecover)})
	wantError(t, "recover what was never deleted", err, 404, arm.ReasonResourceNotFound)

	// Without purge protection, purge at once.
	_, err = e.vaults.Delete(ctx, "rg-1", "kv-two", nil)
	must(t, "Delete kv-two", err)
	e.requestCount()
	purge, err := e.vaults.BeginPurgeDeleted(ctx, "kv-two", location, nil)
	must(t, "BeginPurgeDeleted", err)
	_, err = purge.PollUntilDone(ctx, fast)
	must(t, "purge PollUntilDone", err)
	if n := e.requestCount(); n != 2 {
		t.Errorf("BeginPurgeDeleted + PollUntilDone made %d requests, want 2", n)
	}
	_, err = e.vaults.GetDeleted(ctx, "kv-two", location, nil)
	wantError(t, "GetDeleted purged", err, 404, arm.ReasonResourceNotFound)
	if r := checkName("kv-two"); !*r.NameAvailable {
		t.Errorf("CheckNameAvailability(purged) = %s", dump(r))
	}

	// Purge protection ends at the scheduled purge date.
	_, err = e.vaults.Delete(ctx, "rg-1", "kv-one", nil)
	must(t, "Delete kv-one again", err)
	e.advance(8 * 24 * time.Hour)
	purge, err = e.vaults.BeginPurgeDeleted(ctx, "kv-one", location, nil)
	must(t, "BeginPurgeDeleted after retention", err)
	_, err = purge.PollUntilDone(ctx, fast)
	must(t, "purge PollUntilDone", err)

	// Deleting a group soft-deletes its vaults.
	_, err = e.createVault(t, "rg-2", "kv-three", &armkeyvault.VaultProperties{})
	must(t, "create kv-three", err)
	del, err := e.groups.BeginDelete(ctx, "rg-2", nil)
	must(t, "BeginDelete group", err)
	_, err = del.PollUntilDone(ctx, fast)
	must(t, "delete group PollUntilDone", err)
	if exists, err := e.groups.CheckExistence(ctx, "rg-2", nil); err != nil || exists.Success {
		t.Errorf("CheckExistence(deleted group) = %v, %v", exists.Success, err)
	}
	if _, err := e.vaults.GetDeleted(ctx, "kv-three", location, nil); err != nil {
		t.Errorf("GetDeleted(vault of the deleted group) = %v", err)
	}
}

func (e *env) listVaultNames(t *testing.T, group string) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	add := func(vs []*armkeyvault.Vault) {
		for _, v := range vs {
			names = append(names, *v.Name)
		}
	}
	pages := 0
	if group == "" {
		for pager := e.vaults.NewListBySubscriptionPager(&armkeyvault.VaultsClientListBySubscriptionOptions{Top: to.Ptr[int32](1)}); pager.More(); pages++ {
			page, err := pager.NextPage(ctx)
			must(t, "ListBySubscription", err)
			add(page.Value)
		}
	} else {
		for pager := e.vaults.NewListByResourceGroupPager(group, &armkeyvault.VaultsClientListByResourceGroupOptions{Top: to.Ptr[int32](1)}); pager.More(); pages++ {
			page, err := pager.NextPage(ctx)
			must(t, "ListByResourceGroup", err)
			add(page.Value)
		}
	}
	if pages != len(names) {
		t.Errorf("%d pages for %d vaults with $top=1, want one page each", pages, len(names))
	}
	return names
}

func TestManagedHSMs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.createGroup(t, "rg-hsm")
	create := func(name string, admins []*string) (armkeyvault.ManagedHsm, error) {
		t.Helper()
		poller, err := e.hsms.BeginCreateOrUpdate(ctx, "rg-hsm", name, armkeyvault.ManagedHsm{
			Location: to.Ptr(location),
			SKU:      &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUNameStandardB1)},
			Properties: &armkeyvault.ManagedHsmProperties{
				TenantID: to.Ptr(tenant), InitialAdminObjectIDs: admins, SoftDeleteRetentionInDays: to.Ptr[int32](7),
			},
		}, nil)
		if err != nil {
			return armkeyvault.ManagedHsm{}, err
		}
		res, err := poller.PollUntilDone(ctx, fast)
		return res.ManagedHsm, err
	}
	_, err := create("hsm-no-admin", nil)
	wantError(t, "create without initial admins", err, 400, arm.ReasonInvalidParameter)

	e.requestCount()
	h, err := create("hsm-one", []*string{to.Ptr(admin)})
	must(t, "create hsm-one", err)
	if n := e.requestCount(); n != 1 {
		t.Errorf("BeginCreateOrUpdate + PollUntilDone made %d requests, want 1", n)
	}
	wantID := "/subscriptions/" + e.sub + "/resourceGroups/rg-hsm/providers/Microsoft.KeyVault/managedHSMs/hsm-one"
	hp := h.Properties
	if *h.ID != wantID || *h.Type != "Microsoft.KeyVault/managedHSMs" || *h.SKU.Name != armkeyvault.ManagedHsmSKUNameStandardB1 ||
		*h.SKU.Family != armkeyvault.ManagedHsmSKUFamilyB || *hp.HsmURI != "https://hsm-one.managedhsm.localhost:8443/" ||
		*hp.ProvisioningState != armkeyvault.ProvisioningStateSucceeded || !*hp.EnableSoftDelete || *hp.SoftDeleteRetentionInDays != 7 ||
		len(hp.InitialAdminObjectIDs) != 1 || *hp.InitialAdminObjectIDs[0] != admin {
		t.Errorf("created HSM = %s", dump(h))
	}
	got, err := e.hsms.Get(ctx, "rg-hsm", "hsm-one", nil)
	if err != nil || *got.ID != wantID {
		t.Errorf("Get = %v, %v", got.ID, err)
	}
	var names []string
	for pager := e.hsms.NewListByResourceGroupPager("rg-hsm", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "ListByResourceGroup", err)
		for _, x := range page.Value {
			names = append(names, *x.Name)
		}
	}
	for pager := e.hsms.NewListBySubscriptionPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "ListBySubscription", err)
		for _, x := range page.Value {
			names = append(names, *x.Name)
		}
	}
	if !cmp.Equal(names, []string{"hsm-one", "hsm-one"}) {
		t.Errorf("ListByResourceGroup + ListBySubscription = %v", names)
	}
	upd, err := e.hsms.BeginUpdate(ctx, "rg-hsm", "hsm-one", armkeyvault.ManagedHsm{Tags: map[string]*string{"tier": to.Ptr("gold")}}, nil)
	must(t, "BeginUpdate", err)
	updated, err := upd.PollUntilDone(ctx, fast)
	if err != nil || *updated.Tags["tier"] != "gold" || len(updated.Properties.InitialAdminObjectIDs) != 1 {
		t.Errorf("BeginUpdate = %s, %v", dump(updated.ManagedHsm), err)
	}
	avail, err := e.hsms.CheckMhsmNameAvailability(ctx, armkeyvault.CheckMhsmNameAvailabilityParameters{Name: to.Ptr("hsm-one")}, nil)
	if err != nil || *avail.NameAvailable || *avail.Reason != armkeyvault.ReasonAlreadyExists {
		t.Errorf("CheckMhsmNameAvailability(hsm-one) = %s, %v", dump(avail.CheckMhsmNameAvailabilityResult), err)
	}
	// Vaults and HSMs have separate namespaces.
	if vr, err := e.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: to.Ptr("hsm-one")}, nil); err != nil || !*vr.NameAvailable {
		t.Errorf("CheckNameAvailability(vault hsm-one) = %s, %v", dump(vr.CheckNameAvailabilityResult), err)
	}

	del, err := e.hsms.BeginDelete(ctx, "rg-hsm", "hsm-one", nil)
	must(t, "BeginDelete", err)
	_, err = del.PollUntilDone(ctx, fast)
	must(t, "delete PollUntilDone", err)
	d, err := e.hsms.GetDeleted(ctx, "hsm-one", location, nil)
	must(t, "GetDeleted", err)
	if *d.ID != "/subscriptions/"+e.sub+"/providers/Microsoft.KeyVault/locations/westeurope/deletedManagedHSMs/hsm-one" ||
		*d.Type != "Microsoft.KeyVault/deletedManagedHSMs" || *d.Properties.MhsmID != wantID {
		t.Errorf("GetDeleted = %s", dump(d.DeletedManagedHsm))
	}
	var deleted []string
	for pager := e.hsms.NewListDeletedPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		must(t, "ListDeleted", err)
		for _, x := range page.Value {
			deleted = append(deleted, *x.Name)
		}
	}
	if !cmp.Equal(deleted, []string{"hsm-one"}) {
		t.Errorf("ListDeleted = %v", deleted)
	}
	purge, err := e.hsms.BeginPurgeDeleted(ctx, "hsm-one", location, nil)
	must(t, "BeginPurgeDeleted", err)
	_, err = purge.PollUntilDone(ctx, fast)
	must(t, "purge PollUntilDone", err)
	_, err = e.hsms.GetDeleted(ctx, "hsm-one", location, nil)
	wantError(t, "GetDeleted purged", err, 404, arm.ReasonResourceNotFound)
}

// dump formats a model for failure messages.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

// TestVaultBadInput checks that invalid settings are refused with 400 and
// the code clients see.
func TestVaultBadInput(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.createGroup(t, "rg")
	_, err := e.createVault(t, "rg", "kv-live", &armkeyvault.VaultProperties{})
	must(t, "create kv-live", err)
	policy := func(tenantID string, keys ...string) []*armkeyvault.AccessPolicyEntry {
		p := &armkeyvault.AccessPolicyEntry{TenantID: to.Ptr(tenantID), ObjectID: to.Ptr(admin), Permissions: &armkeyvault.Permissions{}}
		for _, k := range keys {
			p.Permissions.Keys = append(p.Permissions.Keys, to.Ptr(armkeyvault.KeyPermissions(k)))
		}
		return []*armkeyvault.AccessPolicyEntry{p}
	}
	tests := []struct {
		name  string
		vault string
		p     armkeyvault.VaultProperties
		code  string
	}{
		{"bad permission", "kv-a", armkeyvault.VaultProperties{AccessPolicies: policy(tenant, "get", "fly")}, arm.ReasonInvalidParameter},
		{"policy tenant not a GUID", "kv-a", armkeyvault.VaultProperties{AccessPolicies: policy("contoso", "get")}, arm.ReasonInvalidParameter},
		{"policy of another tenant", "kv-a", armkeyvault.VaultProperties{AccessPolicies: policy("40000000-0000-4000-8000-000000000000", "get")}, arm.ReasonInvalidParameter},
		{"tenant not a GUID", "kv-a", armkeyvault.VaultProperties{TenantID: to.Ptr("contoso")}, arm.ReasonInvalidParameter},
		{"bad public network access", "kv-a", armkeyvault.VaultProperties{PublicNetworkAccess: to.Ptr("Sometimes")}, arm.ReasonInvalidParameter},
		{"bad create mode", "kv-a", armkeyvault.VaultProperties{CreateMode: to.Ptr(armkeyvault.CreateMode("clone"))}, arm.ReasonInvalidParameter},
		{"retention too long", "kv-a", armkeyvault.VaultProperties{SoftDeleteRetentionInDays: to.Ptr[int32](100)}, "BadRequest"},
		{"bad name", "kv--a", armkeyvault.VaultProperties{}, "BadRequest"},
		{"soft delete off once on", "kv-live", armkeyvault.VaultProperties{EnableSoftDelete: to.Ptr(false)}, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.createVault(t, "rg", tt.vault, &tt.p)
			wantError(t, "create "+tt.name, err, 400, tt.code)
		})
	}

	poller, err := e.vaults.BeginCreateOrUpdate(ctx, "rg", "kv-live", armkeyvault.VaultCreateOrUpdateParameters{
		Location:   to.Ptr("northeurope"),
		Properties: &armkeyvault.VaultProperties{SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}},
	}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, fast)
	}
	wantError(t, "move kv-live to another location", err, 400, arm.ReasonInvalidParameter)
	_, err = e.vaults.BeginCreateOrUpdate(ctx, "rg", "kv-a", armkeyvault.VaultCreateOrUpdateParameters{
		Properties: &armkeyvault.VaultProperties{SKU: &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)}},
	}, nil)
	wantError(t, "create without location", err, 400, arm.ReasonLocationRequired)
	_, err = e.vaults.BeginCreateOrUpdate(ctx, "rg", "kv-a", armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr(location), Properties: &armkeyvault.VaultProperties{}}, nil)
	wantError(t, "create without sku", err, 400, arm.ReasonInvalidParameter)

	_, err = e.hsms.BeginCreateOrUpdate(ctx, "rg", "hsm-a", armkeyvault.ManagedHsm{
		Location: to.Ptr(location),
		SKU:      &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUNameStandardB1)},
		Properties: &armkeyvault.ManagedHsmProperties{
			InitialAdminObjectIDs: []*string{to.Ptr(admin)}, EnableSoftDelete: to.Ptr(false),
		},
	}, nil)
	wantError(t, "HSM without soft delete", err, 400, arm.ReasonInvalidParameter)
	_, err = e.hsms.BeginCreateOrUpdate(ctx, "rg", "hsm-a", armkeyvault.ManagedHsm{
		Location:   to.Ptr(location),
		SKU:        &armkeyvault.ManagedHsmSKU{Family: to.Ptr(armkeyvault.ManagedHsmSKUFamilyB), Name: to.Ptr(armkeyvault.ManagedHsmSKUName("standard"))},
		Properties: &armkeyvault.ManagedHsmProperties{InitialAdminObjectIDs: []*string{to.Ptr(admin)}},
	}, nil)
	wantError(t, "HSM with a vault SKU", err, 400, arm.ReasonInvalidParameter)
}
