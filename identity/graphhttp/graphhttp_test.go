package graphhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/identity/identitytest"
)

const (
	issuer   = "https://localhost:8443"
	graphAud = "https://graph.localhost"
	armAud   = "https://management.localhost"
)

// fixture is a Handler on a bootstrapped Service, with tokens for the
// admin and for an ordinary service principal.
type fixture struct {
	h        *Handler
	svc      *identity.Service
	admin    identity.Admin
	tokens   map[string]string // "admin", "app", "arm" (the admin for ARM)
	mu       sync.Mutex
	recorded []audit.Record
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	svc, admin := identitytest.NewService(t, issuer, graphAud, armAud)
	f := &fixture{svc: svc, admin: admin, tokens: map[string]string{}}
	f.h = New(Config{
		Identity: svc,
		Authenticate: func(ctx context.Context, tok string) (tresor.Principal, error) {
			return svc.Validate(ctx, tok, graphAud)
		},
		BaseURL:   issuer,
		Authority: issuer + "/" + admin.TenantID,
		Audit: func(_ context.Context, r audit.Record) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.recorded = append(f.recorded, r)
		},
	})
	app, secret, err := svc.CreateServicePrincipal(ctx, admin.TenantID, "app")
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]identity.TokenRequest{
		"admin": {ClientID: admin.ClientID, ClientSecret: admin.ClientSecret, Scope: graphAud + "/.default"},
		"app":   {ClientID: app.AppID, ClientSecret: secret, Scope: graphAud + "/.default"},
		"arm":   {ClientID: admin.ClientID, ClientSecret: admin.ClientSecret, Scope: armAud + "/.default"},
	} {
		req.TenantID = admin.TenantID
		tok, err := svc.IssueToken(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok.AccessToken
	}
	return f
}

// do sends a request as who ("" for no token) and returns the recorder.
func (f *fixture) do(t *testing.T, who, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if who != "" {
		r.Header.Set("Authorization", "Bearer "+f.tokens[who])
	}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// doJSON sends a request as the admin, checks the status and decodes the
// reply into v (if not nil).
func (f *fixture) doJSON(t *testing.T, method, target, body string, want int, v any) {
	t.Helper()
	w := f.do(t, "admin", method, target, body)
	if w.Code != want {
		t.Fatalf("%s %s = %d %s; want %d", method, target, w.Code, w.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, target, err, w.Body)
		}
	}
}

type errorReply struct {
	Error struct {
		Code       string
		Message    string
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// TestLifecycle drives an application through the routes and pins the
// replies' shapes.
func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	var app map[string]any
	f.doJSON(t, "POST", "/v1.0/applications", `{"displayName":"billing","signInAudience":"AzureADMultipleOrgs","passwordCredentials":[{"x":1}]}`, http.StatusCreated, &app)
	id, appID := app["id"].(string), app["appId"].(string)
	if !identity.IsGUID(id) || !identity.IsGUID(appID) || id == appID || app["displayName"] != "billing" ||
		app["@odata.context"] != issuer+"/v1.0/$metadata#applications/$entity" || app["signInAudience"] != "AzureADMultipleOrgs" {
		t.Fatalf("created application = %v", app)
	}
	if pcs, ok := app["passwordCredentials"].([]any); !ok || len(pcs) != 0 {
		t.Errorf("passwordCredentials = %v, want [] (POST does not set them, as in Graph)", app["passwordCredentials"])
	}
	if _, err := time.Parse(time.RFC3339, app["createdDateTime"].(string)); err != nil {
		t.Errorf("createdDateTime: %v", err)
	}

	var pw map[string]any
	f.doJSON(t, "POST", "/v1.0/applications/"+id+"/addPassword",
		`{"passwordCredential":{"displayName":"ci","endDateTime":"2099-01-02T03:04:05.123Z"}}`, http.StatusOK, &pw)
	secret, _ := pw["secretText"].(string)
	keyID, _ := pw["keyId"].(string)
	if len(secret) < 16 || pw["hint"] != secret[:3] || !identity.IsGUID(keyID) || pw["displayName"] != "ci" ||
		pw["endDateTime"] != "2099-01-02T03:04:05Z" || pw["customKeyIdentifier"] != nil {
		t.Fatalf("addPassword = %v", pw)
	}
	// The secret is shown only by addPassword.
	w := f.do(t, "admin", "GET", "/v1.0/applications/"+strings.ToUpper(id), "")
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), secret) || !strings.Contains(w.Body.String(), `"secretText":null`) ||
		!strings.Contains(w.Body.String(), keyID) {
		t.Errorf("GET application = %d %s; want the password without its secret", w.Code, w.Body)
	}

	var list struct {
		Context string           `json:"@odata.context"`
		Value   []map[string]any `json:"value"`
	}
	f.doJSON(t, "GET", "/v1.0/applications?$filter=appId%20eq%20'"+appID+"'", "", http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0]["id"] != id || list.Context != issuer+"/v1.0/$metadata#applications" {
		t.Errorf("list by appId = %+v", list)
	}
	f.doJSON(t, "GET", "/v1.0/applications?$filter=displayName%20eq%20'BILLING'", "", http.StatusOK, &list)
	if len(list.Value) != 1 {
		t.Errorf("list by displayName, other case = %d items", len(list.Value))
	}
	f.doJSON(t, "GET", "/v1.0/applications?$filter=startswith(displayName,'bill')%20and%20id%20eq%20'"+identity.NewGUID()+"'", "", http.StatusOK, &list)
	if len(list.Value) != 0 {
		t.Errorf("list with a filter nothing matches = %d items", len(list.Value))
	}
	f.doJSON(t, "GET", "/v1.0/applications", "", http.StatusOK, &list)
	if len(list.Value) != 3 {
		t.Errorf("list = %d applications, want 3 (the admin's, app, billing)", len(list.Value))
	}

	var sp map[string]any
	f.doJSON(t, "POST", "/v1.0/servicePrincipals", `{"appId":"`+appID+`","accountEnabled":true}`, http.StatusCreated, &sp)
	spID, _ := sp["id"].(string)
	if !identity.IsGUID(spID) || spID == id || sp["appId"] != appID || sp["servicePrincipalType"] != "Application" ||
		sp["appOwnerOrganizationId"] != f.admin.TenantID || sp["displayName"] != "billing" || sp["accountEnabled"] != true ||
		sp["@odata.context"] != issuer+"/v1.0/$metadata#servicePrincipals/$entity" {
		t.Fatalf("created service principal = %v", sp)
	}
	f.doJSON(t, "POST", "/v1.0/servicePrincipals", `{"appId":"`+appID+`"}`, http.StatusConflict, nil)
	f.doJSON(t, "GET", "/v1.0/serviceprincipals?$filter=servicePrincipalNames/any(c:c%20eq%20'"+appID+"')", "", http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0]["id"] != spID {
		t.Errorf("list by servicePrincipalNames = %+v", list.Value)
	}

	// The password works at the token endpoint, for the new principal.
	tok, err := f.svc.IssueToken(context.Background(), identity.TokenRequest{
		TenantID: f.admin.TenantID, ClientID: appID, ClientSecret: secret, Scope: graphAud + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.Validate(context.Background(), tok.AccessToken, graphAud); err != nil || p.ObjectID != spID {
		t.Errorf("token principal = %+v, %v; want %s", p, err, spID)
	}

	f.doJSON(t, "POST", "/v1.0/applications/"+id+"/removePassword", `{"keyId":"`+keyID+`"}`, http.StatusNoContent, nil)
	f.doJSON(t, "POST", "/v1.0/applications/"+id+"/removePassword", `{"keyId":"`+keyID+`"}`, http.StatusNotFound, nil)
	f.doJSON(t, "DELETE", "/v1.0/servicePrincipals/"+spID, "", http.StatusNoContent, nil)
	f.doJSON(t, "GET", "/v1.0/servicePrincipals/"+spID, "", http.StatusNotFound, nil)
	f.doJSON(t, "POST", "/v1.0/servicePrincipals", `{"appId":"`+appID+`"}`, http.StatusCreated, &sp)
	f.doJSON(t, "DELETE", "/v1.0/applications/"+id, "", http.StatusNoContent, nil)
	f.doJSON(t, "GET", "/v1.0/servicePrincipals/"+sp["id"].(string), "", http.StatusNotFound, nil)
	f.doJSON(t, "GET", "/v1.0/applications/"+id, "", http.StatusNotFound, nil)

	f.mu.Lock()
	defer f.mu.Unlock()
	var ops []string
	for _, r := range f.recorded {
		ops = append(ops, r.Operation)
		if r.Principal.ObjectID != f.admin.ObjectID || r.Status == 0 || r.RequestID == "" {
			t.Errorf("audit record %+v", r)
		}
	}
	for _, op := range []string{"microsoft.directory/applications/create", "microsoft.directory/applications/credentials/update",
		"microsoft.directory/servicePrincipals/create", "microsoft.directory/servicePrincipals/delete", "microsoft.directory/applications/delete"} {
		if !strings.Contains(strings.Join(ops, " "), op) {
			t.Errorf("audit operations %v lack %s", ops, op)
		}
	}
	if strings.Contains(strings.Join(ops, " "), secret) {
		t.Error("the audit log holds a secret")
	}
}

// TestErrors is a table of requests that fail, with Graph's status and
// code.
func TestErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var app map[string]any
	f.doJSON(t, "POST", "/v1.0/applications", `{"displayName":"a"}`, http.StatusCreated, &app)
	id, appID := app["id"].(string), app["appId"].(string)
	mi, err := f.svc.NewManagedIdentity(f.admin.TenantID, "mi", "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Store.CreateServicePrincipal(ctx, mi); err != nil {
		t.Fatal(err)
	}
	adminApp, err := f.svc.Store.ApplicationByAppID(ctx, f.admin.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	missing := "00000000-0000-4000-8000-000000000000"

	tests := []struct {
		name, who, method, target, body string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", "/v1.0/applications", "", 401, "InvalidAuthenticationToken"},
		{"a token for ARM", "arm", "GET", "/v1.0/applications", "", 401, "InvalidAuthenticationToken"},
		{"not the admin: list", "app", "GET", "/v1.0/applications", "", 403, "Authorization_RequestDenied"},
		{"not the admin: create", "app", "POST", "/v1.0/applications", `{"displayName":"x"}`, 403, "Authorization_RequestDenied"},
		{"not the admin: add password", "app", "POST", "/v1.0/applications/" + id + "/addPassword", `{}`, 403, "Authorization_RequestDenied"},
		{"not the admin: create service principal", "app", "POST", "/v1.0/servicePrincipals", `{"appId":"` + appID + `"}`, 403, "Authorization_RequestDenied"},
		{"unknown segment", "admin", "GET", "/v1.0/users", "", 400, "BadRequest"},
		{"bare version", "admin", "GET", "/v1.0", "", 400, "BadRequest"},
		{"method not allowed", "admin", "PUT", "/v1.0/applications/" + id, `{}`, 405, "Request_BadRequest"},
		{"malformed id", "admin", "GET", "/v1.0/applications/not-a-guid", "", 400, "Request_BadRequest"},
		{"missing application", "admin", "GET", "/v1.0/applications/" + missing, "", 404, "Request_ResourceNotFound"},
		{"application by its appId", "admin", "GET", "/v1.0/applications/" + appID, "", 404, "Request_ResourceNotFound"},
		{"delete missing application", "admin", "DELETE", "/v1.0/applications/" + missing, "", 404, "Request_ResourceNotFound"},
		{"empty body", "admin", "POST", "/v1.0/applications", "", 400, "BadRequest"},
		{"malformed JSON", "admin", "POST", "/v1.0/applications", `{"displayName":`, 400, "BadRequest"},
		{"JSON array", "admin", "POST", "/v1.0/applications", `[]`, 400, "BadRequest"},
		{"displayName of the wrong type", "admin", "POST", "/v1.0/applications", `{"displayName":5}`, 400, "BadRequest"},
		{"no displayName", "admin", "POST", "/v1.0/applications", `{"tags":[]}`, 400, "Request_BadRequest"},
		{"null body", "admin", "POST", "/v1.0/applications", `null`, 400, "Request_BadRequest"},
		{"empty displayName", "admin", "POST", "/v1.0/applications", `{"displayName":""}`, 400, "Request_BadRequest"},
		{"the admin's name", "admin", "POST", "/v1.0/applications", `{"displayName":"tresor-admin"}`, 400, "Request_BadRequest"},
		{"body too large", "admin", "POST", "/v1.0/applications", `{"displayName":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "Request_EntityTooLarge"},
		{"malformed endDateTime", "admin", "POST", "/v1.0/applications/" + id + "/addPassword", `{"passwordCredential":{"endDateTime":"tomorrow"}}`, 400, "Request_BadRequest"},
		{"endDateTime before startDateTime", "admin", "POST", "/v1.0/applications/" + id + "/addPassword",
			`{"passwordCredential":{"startDateTime":"2030-01-01T00:00:00Z","endDateTime":"2029-01-01T00:00:00Z"}}`, 400, "Request_BadRequest"},
		{"password for the admin", "admin", "POST", "/v1.0/applications/" + adminApp.ObjectID + "/addPassword", `{}`, 400, "Request_BadRequest"},
		{"remove without keyId", "admin", "POST", "/v1.0/applications/" + id + "/removePassword", `{}`, 400, "Request_BadRequest"},
		{"remove a malformed keyId", "admin", "POST", "/v1.0/applications/" + id + "/removePassword", `{"keyId":"k"}`, 400, "Request_BadRequest"},
		{"remove a missing keyId", "admin", "POST", "/v1.0/applications/" + id + "/removePassword", `{"keyId":"` + missing + `"}`, 404, "Request_ResourceNotFound"},
		{"delete the admin's application", "admin", "DELETE", "/v1.0/applications/" + adminApp.ObjectID, "", 400, "Request_BadRequest"},
		{"service principal without appId", "admin", "POST", "/v1.0/servicePrincipals", `{}`, 400, "Request_BadRequest"},
		{"service principal of a missing app", "admin", "POST", "/v1.0/servicePrincipals", `{"appId":"` + missing + `"}`, 400, "Request_BadRequest"},
		{"create a managed identity", "admin", "POST", "/v1.0/servicePrincipals", `{"appId":"` + appID + `","servicePrincipalType":"ManagedIdentity"}`, 400, "Request_BadRequest"},
		{"service principal of the admin", "admin", "POST", "/v1.0/servicePrincipals", `{"appId":"` + f.admin.ClientID + `"}`, 409, "Request_MultipleObjectsWithSameKeyValue"},
		{"delete a managed identity", "admin", "DELETE", "/v1.0/servicePrincipals/" + mi.ObjectID, "", 400, "Request_BadRequest"},
		{"delete the admin", "admin", "DELETE", "/v1.0/servicePrincipals/" + f.admin.ObjectID, "", 400, "Request_BadRequest"},
		{"unsupported filter property", "admin", "GET", "/v1.0/applications?$filter=signInAudience%20eq%20'x'", "", 400, "Request_UnsupportedQuery"},
		{"unsupported filter operator", "admin", "GET", "/v1.0/servicePrincipals?$filter=appId%20ne%20'x'", "", 400, "Request_UnsupportedQuery"},
		{"malformed filter", "admin", "GET", "/v1.0/servicePrincipals?$filter=appId%20eq%20'x", "", 400, "BadRequest"},
		{"filter nested too deep", "admin", "GET", "/v1.0/applications?$filter=" + strings.Repeat("(", 40) + "id%20eq%20'x'" + strings.Repeat(")", 40), "", 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.who, tt.method, tt.target, tt.body)
			var got errorReply
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s %s = %d %q: not Graph's error shape: %v", tt.method, tt.target, w.Code, w.Body, err)
			}
			if w.Code != tt.status || got.Error.Code != tt.code {
				t.Errorf("%s %s = %d %s; want %d %s", tt.method, clip(tt.target), w.Code, clip(w.Body.String()), tt.status, tt.code)
			}
			ie := got.Error.InnerError
			if got.Error.Message == "" || ie.RequestID != w.Header().Get("request-id") || !identity.IsGUID(ie.RequestID) || ie.Date == "" {
				t.Errorf("error body = %+v; want a message, the request id and a date", got.Error)
			}
			if tt.status == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate challenge")
			}
		})
	}
	// Nothing the failures touched changed.
	var list struct{ Value []map[string]any }
	f.doJSON(t, "GET", "/v1.0/servicePrincipals", "", http.StatusOK, &list)
	if len(list.Value) != 3 {
		t.Errorf("service principals after the failures = %d, want 3 (the admin, app, the managed identity)", len(list.Value))
	}
	for _, sp := range list.Value {
		if sp["id"] == mi.ObjectID && (sp["servicePrincipalType"] != "ManagedIdentity" || sp["appOwnerOrganizationId"] != nil) {
			t.Errorf("managed identity = %v", sp)
		}
	}
}

// TestClientRequestID checks that a client's request id is echoed in the
// header and the error, as Graph does.
func TestClientRequestID(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/v1.0/applications/x", nil)
	r.Header.Set("Authorization", "Bearer "+f.tokens["admin"])
	r.Header.Set("client-request-id", "abc-123")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var got errorReply
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if w.Header().Get("client-request-id") != "abc-123" || got.Error.InnerError.ClientRequestID != "abc-123" {
		t.Errorf("client-request-id = %q, body %q; want abc-123", w.Header().Get("client-request-id"), got.Error.InnerError.ClientRequestID)
	}
}

func TestOwns(t *testing.T) {
	for path, want := range map[string]bool{
		"/v1.0/applications": true, "/V1.0/servicePrincipals/x": true, "/v1.0": true,
		"/v1.01/x": false, "/subscriptions": false, "/" + identity.NewGUID() + "/oauth2/v2.0/token": false,
	} {
		if got := Owns(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("Owns(%s) = %v, want %v", path, got, want)
		}
	}
}

// TestApplicationAudienceAndPatch checks signInAudience on create, get and
// list, and Graph's PATCH of an application.
func TestApplicationAudienceAndPatch(t *testing.T) {
	f := newFixture(t)
	var app map[string]any
	f.doJSON(t, "POST", "/v1.0/applications", `{"displayName":"plain"}`, http.StatusCreated, &app)
	if app["signInAudience"] != "AzureADMyOrg" {
		t.Errorf("default signInAudience = %v, want AzureADMyOrg", app["signInAudience"])
	}
	id := app["id"].(string)
	w := f.do(t, "admin", "PATCH", "/v1.0/applications/"+id, `{"signInAudience":"AzureADMultipleOrgs","displayName":"renamed","tags":["x"]}`)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("PATCH = %d %q; want 204 without a body", w.Code, w.Body)
	}
	f.doJSON(t, "GET", "/v1.0/applications/"+id, "", http.StatusOK, &app)
	if app["signInAudience"] != "AzureADMultipleOrgs" || app["displayName"] != "renamed" {
		t.Errorf("after PATCH: %v", app)
	}
	var list struct{ Value []map[string]any }
	f.doJSON(t, "GET", "/v1.0/applications?$filter=id%20eq%20'"+id+"'", "", http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0]["signInAudience"] != "AzureADMultipleOrgs" {
		t.Errorf("list after PATCH = %v", list.Value)
	}
	// A member left out stays.
	f.doJSON(t, "PATCH", "/v1.0/applications/"+id, `{"displayName":"again"}`, http.StatusNoContent, nil)
	f.doJSON(t, "GET", "/v1.0/applications/"+id, "", http.StatusOK, &app)
	if app["signInAudience"] != "AzureADMultipleOrgs" || app["displayName"] != "again" {
		t.Errorf("after a PATCH of the name only: %v", app)
	}
}

// TestFederatedIdentityCredentials drives an application's
// federatedIdentityCredentials through the routes and pins the replies.
func TestFederatedIdentityCredentials(t *testing.T) {
	f := newFixture(t)
	var app map[string]any
	f.doJSON(t, "POST", "/v1.0/applications", `{"displayName":"cmk","signInAudience":"AzureADMultipleOrgs"}`, http.StatusCreated, &app)
	id := app["id"].(string)
	base := "/v1.0/applications/" + id + "/federatedIdentityCredentials"
	iss := issuer + "/" + f.admin.TenantID + "/v2.0"
	body := `{"name":"storage-cmk","issuer":"` + iss + `","subject":"00000000-0000-4000-8000-000000000001","audiences":["api://AzureADTokenExchange"],"description":"the storage account"}`
	w := f.do(t, "admin", "POST", base, body)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	var created map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	ficID, _ := created["id"].(string)
	if !identity.IsGUID(ficID) || created["name"] != "storage-cmk" || created["issuer"] != iss ||
		created["subject"] != "00000000-0000-4000-8000-000000000001" || created["description"] != "the storage account" ||
		created["@odata.context"] != issuer+"/v1.0/$metadata#applications('"+id+"')/federatedIdentityCredentials/$entity" {
		t.Errorf("created = %v", created)
	}
	if auds, ok := created["audiences"].([]any); !ok || len(auds) != 1 || auds[0] != "api://AzureADTokenExchange" {
		t.Errorf("audiences = %v", created["audiences"])
	}
	if loc := w.Header().Get("Location"); !strings.HasSuffix(loc, "/federatedIdentityCredentials/"+ficID) {
		t.Errorf("Location = %q", loc)
	}
	// Without a description: null, as Graph writes it.
	f.doJSON(t, "POST", base, `{"name":"second","issuer":"https://token.actions.githubusercontent.com","subject":"repo:o/r:ref:refs/heads/main","audiences":["api://AzureADTokenExchange"]}`, http.StatusCreated, &created)
	if v, ok := created["description"]; !ok || v != nil {
		t.Errorf("description without one = %v, want null", v)
	}

	var list struct {
		Context string           `json:"@odata.context"`
		Value   []map[string]any `json:"value"`
	}
	f.doJSON(t, "GET", base, "", http.StatusOK, &list)
	if len(list.Value) != 2 || list.Value[0]["name"] != "second" || list.Value[1]["id"] != ficID ||
		list.Context != issuer+"/v1.0/$metadata#applications('"+id+"')/federatedIdentityCredentials" {
		t.Errorf("list = %+v", list)
	}
	var got map[string]any
	f.doJSON(t, "GET", base+"/"+ficID, "", http.StatusOK, &got)
	if got["name"] != "storage-cmk" {
		t.Errorf("GET by id = %v", got)
	}
	f.doJSON(t, "GET", base+"/Storage-CMK", "", http.StatusOK, &got)
	if got["id"] != ficID {
		t.Errorf("GET by name = %v", got)
	}
	// The application shows them nowhere else; its own routes still work.
	f.doJSON(t, "GET", "/v1.0/applications/"+id, "", http.StatusOK, &app)

	f.doJSON(t, "DELETE", base+"/storage-cmk", "", http.StatusNoContent, nil)
	f.doJSON(t, "GET", base+"/"+ficID, "", http.StatusNotFound, nil)
	f.doJSON(t, "DELETE", base+"/second", "", http.StatusNoContent, nil)
	f.doJSON(t, "GET", base, "", http.StatusOK, &list)
	if len(list.Value) != 0 {
		t.Errorf("list after the deletes = %v", list.Value)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	var ops []string
	for _, r := range f.recorded {
		ops = append(ops, r.Operation)
	}
	if !strings.Contains(strings.Join(ops, " "), "microsoft.directory/applications/credentials/update") {
		t.Errorf("audit operations %v lack credentials/update", ops)
	}
}

// TestFederationErrors is a table of failing requests of the routes this
// change added, with Graph's status and code.
func TestFederationErrors(t *testing.T) {
	f := newFixture(t)
	var app map[string]any
	f.doJSON(t, "POST", "/v1.0/applications", `{"displayName":"a"}`, http.StatusCreated, &app)
	id := app["id"].(string)
	base := "/v1.0/applications/" + id + "/federatedIdentityCredentials"
	fic := func(name, iss, sub, auds string) string {
		return `{"name":"` + name + `","issuer":"` + iss + `","subject":"` + sub + `","audiences":` + auds + `}`
	}
	const (
		iss = "https://localhost:8443/x/v2.0"
		aud = `["api://AzureADTokenExchange"]`
	)
	f.doJSON(t, "POST", base, fic("taken", iss, "s", aud), http.StatusCreated, nil)
	missing := "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name, who, method, target, body string
		status                          int
		code                            string
	}{
		{"unsupported audience on create", "admin", "POST", "/v1.0/applications", `{"displayName":"x","signInAudience":"AzureADandPersonalMicrosoftAccount"}`, 400, "Request_BadRequest"},
		{"unsupported audience on PATCH", "admin", "PATCH", "/v1.0/applications/" + id, `{"signInAudience":"PersonalMicrosoftAccount"}`, 400, "Request_BadRequest"},
		{"PATCH to the admin's name", "admin", "PATCH", "/v1.0/applications/" + id, `{"displayName":"tresor-admin"}`, 400, "Request_BadRequest"},
		{"PATCH of a missing application", "admin", "PATCH", "/v1.0/applications/" + missing, `{"displayName":"x"}`, 404, "Request_ResourceNotFound"},
		{"PATCH without a body", "admin", "PATCH", "/v1.0/applications/" + id, ``, 400, "BadRequest"},
		{"PATCH by someone else", "app", "PATCH", "/v1.0/applications/" + id, `{"displayName":"x"}`, 403, "Authorization_RequestDenied"},
		{"credential without a name", "admin", "POST", base, `{"issuer":"` + iss + `","subject":"s","audiences":` + aud + `}`, 400, "Request_BadRequest"},
		{"credential with a short name", "admin", "POST", base, fic("ab", iss, "s", aud), 400, "Request_BadRequest"},
		{"credential with an http issuer", "admin", "POST", base, fic("web", "http://localhost/x", "s", aud), 400, "Request_BadRequest"},
		{"credential without a subject", "admin", "POST", base, fic("nosub", iss, "", aud), 400, "Request_BadRequest"},
		{"credential with two audiences", "admin", "POST", base, fic("two", iss, "s2", `["a","b"]`), 400, "Request_BadRequest"},
		{"credential with audiences of the wrong type", "admin", "POST", base, fic("typ", iss, "s2", `"a"`), 400, "BadRequest"},
		{"credential name taken", "admin", "POST", base, fic("TAKEN", iss, "s3", aud), 409, "Request_MultipleObjectsWithSameKeyValue"},
		{"credential issuer and subject taken", "admin", "POST", base, fic("again", iss, "s", aud), 409, "Request_MultipleObjectsWithSameKeyValue"},
		{"credential of a missing application", "admin", "POST", "/v1.0/applications/" + missing + "/federatedIdentityCredentials", fic("x12", iss, "s", aud), 404, "Request_ResourceNotFound"},
		{"get a missing credential", "admin", "GET", base + "/nothing", "", 404, "Request_ResourceNotFound"},
		{"delete a missing credential", "admin", "DELETE", base + "/" + missing, "", 404, "Request_ResourceNotFound"},
		{"list by someone else", "app", "GET", base, "", 403, "Authorization_RequestDenied"},
		{"create by someone else", "app", "POST", base, fic("mine", iss, "s9", aud), 403, "Authorization_RequestDenied"},
		{"PATCH of a credential", "admin", "PATCH", base + "/taken", `{}`, 405, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.who, tt.method, tt.target, tt.body)
			var got errorReply
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s %s = %d %q: not Graph's error shape: %v", tt.method, tt.target, w.Code, w.Body, err)
			}
			if w.Code != tt.status || got.Error.Code != tt.code || got.Error.Message == "" {
				t.Errorf("%s %s = %d %s; want %d %s", tt.method, clip(tt.target), w.Code, clip(w.Body.String()), tt.status, tt.code)
			}
		})
	}
	var list struct{ Value []map[string]any }
	f.doJSON(t, "GET", base, "", http.StatusOK, &list)
	if len(list.Value) != 1 {
		t.Errorf("credentials after the failures = %d, want 1", len(list.Value))
	}
}
