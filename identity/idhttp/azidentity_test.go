package idhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
	"github.com/tresorkms/tresor/identity/idhttp"
)

const vaultAudience = "https://vault.localhost:8443"

// recorder is a Transport that records every request and sends to the
// test server only, so that nothing leaves the machine. It answers a
// request for any other host as Entra answers instance discovery for an
// authority it does not know.
type recorder struct {
	client *http.Client
	host   string

	mu   sync.Mutex
	reqs []string
}

func (rc *recorder) Do(r *http.Request) (*http.Response, error) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Method+" "+r.URL.Host+r.URL.Path)
	rc.mu.Unlock()
	if r.URL.Host != rc.host {
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		w.WriteString(`{"error":"invalid_instance","error_description":"AADSTS50049: Unknown or invalid instance.","error_codes":[50049]}`)
		resp := w.Result()
		resp.Request = r
		return resp, nil
	}
	return rc.client.Do(r)
}

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// startIssuer serves idhttp over TLS on 127.0.0.1, with the server's own
// URL as the issuer.
func startIssuer(t *testing.T) (*httptest.Server, *identity.Service, identity.Admin) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	svc, admin := identitytest.NewService(t, "https://"+srv.Listener.Addr().String(), vaultAudience)
	srv.Config.Handler = idhttp.New(svc)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, svc, admin
}

func credential(t *testing.T, srv *httptest.Server, tr *recorder, tenant, clientID, secret string, disableInstanceDiscovery bool) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"},
			Transport: tr,
		},
		DisableInstanceDiscovery: disableInstanceDiscovery,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// TestClientSecretCredential obtains tokens with the unmodified azidentity
// ClientSecretCredential and validates them.
func TestClientSecretCredential(t *testing.T) {
	srv, svc, admin := startIssuer(t)
	tr := &recorder{client: srv.Client(), host: srv.Listener.Addr().String()}
	cred := credential(t, srv, tr, admin.TenantID, admin.ClientID, admin.ClientSecret, true)
	ctx := context.Background()

	// As azkeys asks: with the tenant from the challenge, and CAE.
	opts := []policy.TokenRequestOptions{
		{Scopes: []string{vaultAudience + "/.default"}},
		{Scopes: []string{vaultAudience + "/.default"}, TenantID: admin.TenantID, EnableCAE: true},
	}
	for _, o := range opts {
		tok, err := cred.GetToken(ctx, o)
		if err != nil {
			t.Fatalf("GetToken(%+v) = %v", o, err)
		}
		p, err := svc.Validate(ctx, tok.Token, vaultAudience)
		if err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		want := tresor.Principal{TenantID: admin.TenantID, ObjectID: admin.ObjectID, AppID: admin.ClientID, Name: identity.AdminName, Type: tresor.ServicePrincipal}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
		}
	}
	// A second call is answered from MSAL's cache.
	if _, err := cred.GetToken(ctx, opts[0]); err != nil {
		t.Fatal(err)
	}
	host := srv.Listener.Addr().String()
	config := "GET " + host + "/" + admin.TenantID + "/v2.0/.well-known/openid-configuration"
	token := "POST " + host + "/" + admin.TenantID + "/oauth2/v2.0/token"
	// One MSAL client per CAE setting, each discovering the tenant once.
	want := []string{config, token, config, token}
	if diff := cmp.Diff(want, tr.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
}

// TestClientSecretCredentialErrors checks that failures reach the caller as
// azidentity's AuthenticationFailedError with Entra's status, unretried.
func TestClientSecretCredentialErrors(t *testing.T) {
	srv, _, admin := startIssuer(t)
	tests := []struct {
		name, clientID, secret, scope string
		status                        int
	}{
		{"wrong secret", admin.ClientID, "wrong", vaultAudience + "/.default", http.StatusUnauthorized},
		{"unknown client", "11111111-1111-4111-8111-111111111111", admin.ClientSecret, vaultAudience + "/.default", http.StatusUnauthorized},
		{"unknown audience", admin.ClientID, admin.ClientSecret, "https://vault.azure.net/.default", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &recorder{client: srv.Client(), host: srv.Listener.Addr().String()}
			cred := credential(t, srv, tr, admin.TenantID, tt.clientID, tt.secret, true)
			_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{tt.scope}})
			var afe *azidentity.AuthenticationFailedError
			if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode != tt.status {
				t.Fatalf("GetToken() = %v, want AuthenticationFailedError with status %d", err, tt.status)
			}
			if n := len(tr.requests()); n != 2 {
				t.Errorf("%d requests, want 2 (discovery, one token request)", n)
			}
		})
	}
}

// TestInstanceDiscoveryGoesToMicrosoft records why clients must set
// DisableInstanceDiscovery: without it, MSAL asks login.microsoftonline.com,
// not the authority host, whether the authority is valid. Offline that
// fails (after retries); online Entra answers invalid_instance for a host
// it does not know, as the recorder does here.
func TestInstanceDiscoveryGoesToMicrosoft(t *testing.T) {
	srv, _, admin := startIssuer(t)
	tr := &recorder{client: srv.Client(), host: srv.Listener.Addr().String()}
	cred := credential(t, srv, tr, admin.TenantID, admin.ClientID, admin.ClientSecret, false)
	_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{vaultAudience + "/.default"}})
	if err == nil {
		t.Fatalf("GetToken() without DisableInstanceDiscovery succeeded; update the package documentation")
	}
	t.Logf("GetToken() = %v", err)
	// Once for the silent (cache) attempt, once for the token request;
	// never to the authority host.
	want := []string{"GET login.microsoftonline.com/common/discovery/instance", "GET login.microsoftonline.com/common/discovery/instance"}
	if diff := cmp.Diff(want, tr.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
}

// TestManagedIdentityCredential drives the App Service identity endpoint
// with azidentity's ManagedIdentityCredential, selecting the identity by
// each of its ids.
func TestManagedIdentityCredential(t *testing.T) {
	srv, svc, admin := startIssuer(t)
	svc.HostSecret = "host-secret"
	ctx := context.Background()
	const rid = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app"
	mi, err := svc.NewManagedIdentity(admin.TenantID, "app", rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Store.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "host-secret")

	for _, id := range []azidentity.ManagedIDKind{
		azidentity.ClientID(mi.AppID), azidentity.ObjectID(mi.ObjectID), azidentity.ResourceID(rid),
	} {
		t.Run(id.String(), func(t *testing.T) {
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
				ID: id, ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
			})
			if err != nil {
				t.Fatal(err)
			}
			// A scope no other subtest asks for: MSAL caches managed
			// identity tokens process-wide.
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAudience + "/" + id.String() + "/.default"}})
			if err == nil {
				t.Fatalf("token for an unknown audience: %v", tok)
			}
			tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAudience + "/.default"}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Validate(ctx, tok.Token, vaultAudience)
			if err != nil {
				t.Fatal(err)
			}
			want := tresor.Principal{TenantID: admin.TenantID, ObjectID: mi.ObjectID, AppID: mi.AppID, Name: "app", Type: tresor.ManagedIdentity}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestManagedIdentityEndpointErrors checks the endpoint's refusals.
func TestManagedIdentityEndpointErrors(t *testing.T) {
	srv, svc, admin := startIssuer(t)
	svc.HostSecret = "host-secret"
	ctx := context.Background()
	mi, _ := svc.NewManagedIdentity(admin.TenantID, "app", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app")
	if err := svc.Store.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	ok := "api-version=2019-08-01&resource=" + vaultAudience + "&client_id=" + mi.AppID
	tests := []struct {
		name, query, header string
		want                int
		wantCode            string
	}{
		{"ok", ok, "host-secret", 200, ""},
		{"no header", ok, "", 401, "invalid_client"},
		{"wrong header", ok, "host-secret2", 401, "invalid_client"},
		{"no api-version", "resource=" + vaultAudience + "&client_id=" + mi.AppID, "host-secret", 400, "invalid_request"},
		{"no resource", "api-version=2019-08-01&client_id=" + mi.AppID, "host-secret", 400, "invalid_request"},
		{"unknown audience", "api-version=2019-08-01&resource=https://elsewhere&client_id=" + mi.AppID, "host-secret", 400, "invalid_scope"},
		{"system-assigned", "api-version=2019-08-01&resource=" + vaultAudience, "host-secret", 400, "invalid_request"},
		{"two selectors", ok + "&object_id=" + mi.ObjectID, "host-secret", 400, "invalid_request"},
		{"unknown client", "api-version=2019-08-01&resource=" + vaultAudience + "&client_id=" + identity.NewGUID(), "host-secret", 400, "invalid_request"},
		{"a service principal is not a managed identity", "api-version=2019-08-01&resource=" + vaultAudience + "&client_id=" + admin.ClientID, "host-secret", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/msi/token?"+tt.query, nil)
			if tt.header != "" {
				req.Header.Set("X-IDENTITY-HEADER", tt.header)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				AccessToken string `json:"access_token"`
				ClientID    string `json:"client_id"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want || body.Error != tt.wantCode {
				t.Errorf("status %d error %q, want %d %q", resp.StatusCode, body.Error, tt.want, tt.wantCode)
			}
			if tt.want == 200 && (body.AccessToken == "" || body.ClientID != mi.AppID) {
				t.Errorf("reply %+v lacks the token or the client id", body)
			}
		})
	}
	// A service whose host secret is unset refuses everyone.
	svc.HostSecret = ""
	if _, err := svc.IssueManagedIdentityToken(ctx, identity.ManagedIdentityRequest{Resource: vaultAudience, ClientID: mi.AppID}); !tresor.IsKind(err, tresor.Unauthenticated) {
		t.Errorf("with no host secret configured: %v, want Unauthenticated", err)
	}
	// A managed identity cannot use the client credentials grant.
	if _, err := svc.IssueToken(ctx, identity.TokenRequest{TenantID: admin.TenantID, ClientID: mi.AppID, ClientSecret: "x", Scope: vaultAudience + "/.default"}); !tresor.IsKind(err, tresor.Unauthenticated) {
		t.Errorf("client credentials for a managed identity: %v, want Unauthenticated", err)
	}
}

// TestClientAssertionCredentialFederation is a cross-tenant
// customer-managed key's token exchange with unmodified azidentity: a
// managed identity of the first tenant obtains an assertion for
// api://AzureADTokenExchange from the identity endpoint
// (ManagedIdentityCredential), and ClientAssertionCredential exchanges it
// for a token of a multi-tenant application, whose federated credential
// trusts the identity, in a second tenant.
func TestClientAssertionCredentialFederation(t *testing.T) {
	srv, svc, admin := startIssuer(t)
	svc.HostSecret = "host-secret"
	ctx := context.Background()
	mi, err := svc.NewManagedIdentity(admin.TenantID, "storage", "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Store.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	second, err := svc.CreateTenant(ctx, "customer")
	if err != nil {
		t.Fatal(err)
	}
	d := svc.Directory(tresor.Principal{TenantID: admin.TenantID, ObjectID: admin.ObjectID, AppID: admin.ClientID, Type: tresor.ServicePrincipal})
	app, err := d.CreateApplication(ctx, identity.ApplicationSpec{DisplayName: "cmk", SignInAudience: identity.AudienceMultipleOrgs})
	if err != nil {
		t.Fatal(err)
	}
	// As Azure's documentation has it: the v2.0 issuer, the identity's
	// principal id, the exchange audience.
	if _, err := d.CreateFederatedCredential(ctx, app.ObjectID, identity.FederatedCredential{
		Name: "storage", Issuer: srv.URL + "/" + admin.TenantID + "/v2.0", Subject: mi.ObjectID,
		Audiences: []string{identity.TokenExchangeAudience},
	}); err != nil {
		t.Fatal(err)
	}
	// The second tenant's service principal of the application, as its
	// administrator would create it.
	sp := identity.ServicePrincipal{ObjectID: identity.NewGUID(), AppID: app.AppID, DisplayName: app.DisplayName,
		TenantID: second.ID, Type: tresor.ServicePrincipal, Created: app.Created}
	if err := svc.Store.CreateServicePrincipal(ctx, sp); err != nil {
		t.Fatal(err)
	}

	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "host-secret")
	miCred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ID: azidentity.ClientID(mi.AppID), ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var assertions int
	tr := &recorder{client: srv.Client(), host: srv.Listener.Addr().String()}
	cred, err := azidentity.NewClientAssertionCredential(second.ID, app.AppID, func(ctx context.Context) (string, error) {
		assertions++
		tok, err := miCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{identity.TokenExchangeAudience + "/.default"}})
		return tok.Token, err
	}, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"}, Transport: tr},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAudience + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken() = %v", err)
	}
	if assertions != 1 {
		t.Errorf("the assertion callback ran %d times, want 1", assertions)
	}
	p, err := svc.Validate(ctx, tok.Token, vaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	want := tresor.Principal{TenantID: second.ID, ObjectID: sp.ObjectID, AppID: app.AppID, Name: "cmk", Type: tresor.ServicePrincipal}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("token principal mismatch (-want +got):\n%s", diff)
	}
	host := srv.Listener.Addr().String()
	wantReqs := []string{"GET " + host + "/" + second.ID + "/v2.0/.well-known/openid-configuration", "POST " + host + "/" + second.ID + "/oauth2/v2.0/token"}
	if diff := cmp.Diff(wantReqs, tr.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}

	// Without the federated credential the exchange fails as Entra's does.
	if err := d.DeleteFederatedCredential(ctx, app.ObjectID, "storage"); err != nil {
		t.Fatal(err)
	}
	cred, err = azidentity.NewClientAssertionCredential(second.ID, app.AppID, func(ctx context.Context) (string, error) {
		tok, err := miCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{identity.TokenExchangeAudience + "/.default"}})
		return tok.Token, err
	}, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"}, Transport: srv.Client()},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAudience + "/.default"}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "AADSTS70021") {
		t.Errorf("GetToken() without the federated credential = %v; want a 401 with AADSTS70021", err)
	}
}
