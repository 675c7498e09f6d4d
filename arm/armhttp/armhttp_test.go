package armhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/arm/armtest"
)

const (
	tenant      = "10000000-0000-4000-8000-000000000000"
	otherTenant = "20000000-0000-4000-8000-000000000000"
	token       = "good-token"
	otherToken  = "other-tenant-token"
	authority   = "https://localhost:8443/" + tenant
	apiVersion  = "api-version=2021-04-01"
)

// fakeProvider is a provider whose routes echo their wildcards and fail on
// demand.
type fakeProvider struct {
	deletedGroups []string
	resources     []arm.Resource
}

func (f *fakeProvider) Routes() []armhttp.Route {
	return []armhttp.Route{
		{Pattern: "GET /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Test.Fake/widgets/{name}", Handler: f.echo},
		{Pattern: "POST /subscriptions/{subscriptionId}/providers/Test.Fake/fail", Handler: f.fail},
		{Pattern: "PUT /subscriptions/{subscriptionId}/providers/Test.Fake/small", MaxBody: 16, Handler: f.decode},
		{Pattern: "PUT /subscriptions/{subscriptionId}/providers/Test.Fake/typed", Handler: f.decode},
	}
}

func (f *fakeProvider) Resources(ctx context.Context, sub string) ([]arm.Resource, error) {
	return f.resources, nil
}

func (f *fakeProvider) DeleteResourceGroup(ctx context.Context, sub, group string) error {
	f.deletedGroups = append(f.deletedGroups, group)
	return nil
}

func (f *fakeProvider) echo(w http.ResponseWriter, r *http.Request) error {
	armhttp.WriteJSON(w, http.StatusOK, map[string]string{
		"subscription": armhttp.Subscription(r).ID,
		"group":        r.PathValue("resourceGroupName"),
		"name":         r.PathValue("name"),
		"path":         r.URL.Path,
	})
	return nil
}

// fail returns the error named by the query parameter "case".
func (f *fakeProvider) fail(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]error{
		"invalid":      tresor.Errorf(tresor.Invalid, "bad input"),
		"target":       armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "bad sku").WithReason("InvalidParameter"), "properties.sku.name"),
		"notfound":     tresor.Errorf(tresor.NotFound, "no such thing"),
		"conflict":     tresor.Errorf(tresor.Conflict, "taken").WithReason("VaultAlreadyExists"),
		"conflictbare": tresor.Errorf(tresor.Conflict, "busy"),
		"forbidden":    tresor.Errorf(tresor.Forbidden, "no"),
		"precondition": tresor.Errorf(tresor.PreconditionFailed, "etag"),
		"unavailable":  tresor.Errorf(tresor.Unavailable, "later"),
		"internal":     tresor.Wrap(io.ErrUnexpectedEOF, "disk"),
		"plain":        io.EOF,
	}
	return errs[r.URL.Query().Get("case")]
}

func (f *fakeProvider) decode(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Properties struct {
			Count int `json:"count"`
		} `json:"properties"`
	}
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

type fixture struct {
	h        http.Handler
	sub      arm.Subscription
	other    arm.Subscription
	provider *fakeProvider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	svc := arm.NewService(armtest.NewMemStore())
	sub, err := svc.Bootstrap(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Bootstrap(ctx, otherTenant)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sub: sub, other: other, provider: &fakeProvider{}}
	f.h = armhttp.New(armhttp.Config{
		ARM:       svc,
		Authority: authority,
		Providers: []armhttp.Provider{f.provider},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Authenticate: func(ctx context.Context, tok string) (tresor.Principal, error) {
			switch tok {
			case token:
				return tresor.Principal{TenantID: tenant, ObjectID: "o1"}, nil
			case otherToken:
				return tresor.Principal{TenantID: otherTenant, ObjectID: "o2"}, nil
			case "broken":
				return tresor.Principal{}, tresor.Wrap(io.ErrClosedPipe, "keys")
			}
			return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "The access token's signature is invalid.")
		},
	})
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, target, body string, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			r.Header.Del(header[i])
		} else {
			r.Header.Set(header[i], header[i+1])
		}
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

type cloudError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	} `json:"error"`
}

func (r response) cloudError(t *testing.T) cloudError {
	t.Helper()
	var e cloudError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("body %q is not a CloudError: %v", r.body, err)
	}
	return e
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	sub := "/subscriptions/" + f.sub.ID
	fail := sub + "/providers/Test.Fake/fail?" + apiVersion + "&case="
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		header     []string
		wantStatus int
		wantCode   string
		wantTarget string
		wantInMsg  string
	}{
		{"no token", "GET", sub + "?" + apiVersion, "", []string{"Authorization", ""}, 401, "AuthenticationFailed", "", "missing"},
		{"not bearer", "GET", sub + "?" + apiVersion, "", []string{"Authorization", "Basic abc"}, 401, "AuthenticationFailed", "", "invalid format"},
		{"bad token", "GET", sub + "?" + apiVersion, "", []string{"Authorization", "Bearer nope"}, 401, "InvalidAuthenticationToken", "", "signature"},
		{"authenticator fails", "GET", sub + "?" + apiVersion, "", []string{"Authorization", "Bearer broken"}, 500, "InternalServerError", "", "internal error"},
		{"other tenant", "GET", sub + "?" + apiVersion, "", []string{"Authorization", "Bearer " + otherToken}, 401, "InvalidAuthenticationTokenTenant", "", "wrong issuer"},
		{"no api-version", "GET", sub, "", nil, 400, "MissingApiVersionParameter", "", "api-version"},
		{"bad api-version", "GET", sub + "?api-version=latest", "", nil, 400, "InvalidApiVersionParameter", "", "latest"},
		{"unknown subscription", "GET", "/subscriptions/99999999-0000-4000-8000-000000000000?" + apiVersion, "", nil, 404, "SubscriptionNotFound", "", "could not be found"},
		{"unknown route", "GET", sub + "/frobnicate?" + apiVersion, "", nil, 404, "NotFound", "", "does not match"},
		{"unknown resource type", "GET", sub + "/providers/Test.Fake/gadgets/x?" + apiVersion, "", nil, 404, "InvalidResourceType", "", "does not match"},
		{"method not served", "DELETE", sub + "/providers/Test.Fake/fail?" + apiVersion, "", nil, 404, "InvalidResourceType", "", "DELETE"},
		{"group not found", "GET", sub + "/resourceGroups/absent?" + apiVersion, "", nil, 404, "ResourceGroupNotFound", "", "absent"},
		{"invalid", "POST", fail + "invalid", "", nil, 400, "BadRequest", "", "bad input"},
		{"invalid with target", "POST", fail + "target", "", nil, 400, "InvalidParameter", "properties.sku.name", "bad sku"},
		{"not found", "POST", fail + "notfound", "", nil, 404, "ResourceNotFound", "", "no such thing"},
		{"conflict with reason", "POST", fail + "conflict", "", nil, 409, "VaultAlreadyExists", "", "taken"},
		{"conflict", "POST", fail + "conflictbare", "", nil, 409, "Conflict", "", "busy"},
		{"forbidden", "POST", fail + "forbidden", "", nil, 403, "AuthorizationFailed", "", "no"},
		{"precondition", "POST", fail + "precondition", "", nil, 412, "PreconditionFailed", "", "etag"},
		{"unavailable", "POST", fail + "unavailable", "", nil, 503, "ServiceUnavailable", "", "later"},
		{"internal", "POST", fail + "internal", "", nil, 500, "InternalServerError", "", "internal error"},
		{"plain error", "POST", fail + "plain", "", nil, 500, "InternalServerError", "", "internal error"},
		{"too large", "PUT", sub + "/providers/Test.Fake/small?" + apiVersion, `{"properties":{"count":12345678901}}`, nil, 413, "RequestEntityTooLarge", "", "16 bytes"},
		{"wrong type", "PUT", sub + "/providers/Test.Fake/typed?" + apiVersion, `{"properties":{"count":"many"}}`, nil, 400, "InvalidRequestContent", "properties.count", "'properties.count' must be a number"},
		{"not JSON", "PUT", sub + "/providers/Test.Fake/typed?" + apiVersion, `{"properties":`, nil, 400, "InvalidRequestContent", "", "truncated"},
		{"empty body", "PUT", sub + "/providers/Test.Fake/typed?" + apiVersion, "", nil, 400, "InvalidRequestContent", "", "empty"},
		{"trailing data", "PUT", sub + "/providers/Test.Fake/typed?" + apiVersion, `{} {}`, nil, 400, "InvalidRequestContent", "", "after"},
		{"array body", "PUT", sub + "/providers/Test.Fake/typed?" + apiVersion, `[]`, nil, 400, "InvalidRequestContent", "", "JSON object"},
		{"bad $top", "GET", sub + "/resourcegroups?" + apiVersion + "&$top=0", "", nil, 400, "InvalidParameter", "$top", "$top"},
		{"unsupported $filter", "GET", sub + "/resources?" + apiVersion + "&$filter=name+eq+'x'", "", nil, 400, "InvalidFilter", "$filter", "not supported"},
		{"bad operation id", "GET", sub + "/operationresults/xyz?" + apiVersion, "", nil, 404, "OperationNotFound", "", "xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.method, tt.target, tt.body, tt.header...)
			if res.status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.target, res.status, res.body, tt.wantStatus)
			}
			e := res.cloudError(t)
			if e.Error.Code != tt.wantCode || res.header.Get("x-ms-error-code") != tt.wantCode {
				t.Errorf("code = %q, x-ms-error-code = %q, want %q", e.Error.Code, res.header.Get("x-ms-error-code"), tt.wantCode)
			}
			if e.Error.Target != tt.wantTarget {
				t.Errorf("target = %q, want %q", e.Error.Target, tt.wantTarget)
			}
			if !strings.Contains(e.Error.Message, tt.wantInMsg) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tt.wantInMsg)
			}
			if strings.Contains(e.Error.Message, "unexpected EOF") || strings.Contains(e.Error.Message, "closed pipe") {
				t.Errorf("message %q leaks the cause of an internal error", e.Error.Message)
			}
			if res.header.Get("x-ms-request-id") == "" {
				t.Errorf("x-ms-request-id is missing")
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
		})
	}
}

// TestChallenge checks the 401 challenge: Bearer with authorization_uri and
// error="invalid_token", and no claims, so that azcore does not retry it as
// a CAE challenge.
func TestChallenge(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, "GET", "/subscriptions?"+apiVersion, "", "Authorization", "Bearer nope")
	got := res.header.Get("WWW-Authenticate")
	want := `Bearer authorization_uri="` + authority + `", error="invalid_token", error_description="The access token's signature is invalid."`
	if got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	if strings.Contains(got, "claims") || strings.Contains(got, "insufficient_claims") {
		t.Errorf("WWW-Authenticate %q would make azcore retry", got)
	}
}

func TestHeaders(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, "GET", "/subscriptions?"+apiVersion, "", "x-ms-correlation-request-id", "corr-1", "x-ms-client-request-id", "client-1")
	if res.status != http.StatusOK {
		t.Fatalf("GET /subscriptions = %d %s", res.status, res.body)
	}
	for h, want := range map[string]string{"x-ms-correlation-request-id": "corr-1", "x-ms-client-request-id": "client-1"} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if id := res.header.Get("x-ms-request-id"); len(id) != 36 {
		t.Errorf("x-ms-request-id = %q, want a GUID", id)
	}
	res = f.do(t, "GET", "/subscriptions?"+apiVersion, "", "x-ms-correlation-request-id", "bad value\n")
	if got := res.header.Get("x-ms-correlation-request-id"); got != res.header.Get("x-ms-request-id") {
		t.Errorf("x-ms-correlation-request-id = %q for a bad client value, want the request id", got)
	}
}

// TestRoutingCase checks that literal segments match in any case while
// wildcards keep the client's spelling.
func TestRoutingCase(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, "PUT", "/SUBSCRIPTIONS/"+strings.ToUpper(f.sub.ID)+"/ResourceGroups/My.RG?"+apiVersion, `{"location":"West Europe"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("PUT group = %d %s", res.status, res.body)
	}
	for _, p := range []string{
		"/subscriptions/" + f.sub.ID + "/resourceGroups/My.RG/providers/Test.Fake/widgets/Foo",
		"/Subscriptions/" + f.sub.ID + "/RESOURCEGROUPS/My.RG/PROVIDERS/test.fake/WIDGETS/Foo",
		"/subscriptions/" + f.sub.ID + "/resourcegroups/My.RG/providers/test.FAKE/widgets/Foo/",
	} {
		res := f.do(t, "GET", p+"?"+apiVersion, "")
		if res.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", p, res.status, res.body)
			continue
		}
		var got map[string]string
		json.Unmarshal(res.body, &got)
		want := map[string]string{"subscription": f.sub.ID, "group": "My.RG", "name": "Foo", "path": strings.TrimSuffix(p, "/")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s mismatch (-want +got):\n%s", p, diff)
		}
	}
}

type group struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

func TestResourceGroups(t *testing.T) {
	f := newFixture(t)
	base := "/subscriptions/" + f.sub.ID + "/resourcegroups/"
	decode := func(t *testing.T, res response, want int) group {
		t.Helper()
		if res.status != want {
			t.Fatalf("status = %d %s, want %d", res.status, res.body, want)
		}
		var g group
		if err := json.Unmarshal(res.body, &g); err != nil {
			t.Fatal(err)
		}
		return g
	}

	g := decode(t, f.do(t, "PUT", base+"RG-1?"+apiVersion, `{"location":"westeurope","tags":{"env":"test"}}`), http.StatusCreated)
	want := group{ID: "/subscriptions/" + f.sub.ID + "/resourceGroups/RG-1", Name: "RG-1", Type: "Microsoft.Resources/resourceGroups", Location: "westeurope", Tags: map[string]string{"env": "test"}}
	want.Properties.ProvisioningState = "Succeeded"
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("PUT mismatch (-want +got):\n%s", diff)
	}
	decode(t, f.do(t, "PUT", base+"rg-1?"+apiVersion, `{"location":"westeurope","tags":{"env":"prod"}}`), http.StatusOK)
	g = decode(t, f.do(t, "PATCH", base+"rg-1?"+apiVersion, `{"tags":{"a":"b"}}`), http.StatusOK)
	if g.Name != "RG-1" || !cmp.Equal(g.Tags, map[string]string{"a": "b"}) {
		t.Errorf("PATCH = %+v, want RG-1 with tags a=b", g)
	}
	g = decode(t, f.do(t, "PATCH", base+"rg-1?"+apiVersion, `{}`), http.StatusOK)
	if !cmp.Equal(g.Tags, map[string]string{"a": "b"}) {
		t.Errorf("PATCH without tags changed them to %v", g.Tags)
	}
	if res := f.do(t, "PUT", base+"rg-1?"+apiVersion, `{"location":"northeurope"}`); res.status != 400 || res.cloudError(t).Error.Code != arm.ReasonInvalidGroupLocation {
		t.Errorf("PUT with another location = %d %s", res.status, res.body)
	}
	if res := f.do(t, "HEAD", base+"rg-1?"+apiVersion, ""); res.status != http.StatusNoContent {
		t.Errorf("HEAD = %d, want 204", res.status)
	}
	if res := f.do(t, "HEAD", base+"absent?"+apiVersion, ""); res.status != http.StatusNotFound {
		t.Errorf("HEAD absent = %d, want 404", res.status)
	}

	// Paging: three groups, one per page.
	decode(t, f.do(t, "PUT", base+"b?"+apiVersion, `{"location":"westeurope"}`), http.StatusCreated)
	decode(t, f.do(t, "PUT", base+"A?"+apiVersion, `{"location":"westeurope"}`), http.StatusCreated)
	var names []string
	next := base[:len(base)-1] + "?" + apiVersion + "&$top=1"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		res := f.do(t, "GET", u.RequestURI(), "")
		var page armhttp.List[group]
		if err := json.Unmarshal(res.body, &page); err != nil || res.status != 200 {
			t.Fatalf("GET %s = %d %s", next, res.status, res.body)
		}
		if len(page.Value) != 1 {
			t.Fatalf("page of %d groups, want 1", len(page.Value))
		}
		names = append(names, page.Value[0].Name)
		next = page.NextLink
	}
	if want := []string{"A", "b", "RG-1"}; !cmp.Equal(names, want) {
		t.Errorf("paged names = %v, want %v", names, want)
	}

	res := f.do(t, "DELETE", base+"RG-1?"+apiVersion, "")
	if res.status != http.StatusAccepted {
		t.Fatalf("DELETE = %d %s, want 202", res.status, res.body)
	}
	if !cmp.Equal(f.provider.deletedGroups, []string{"RG-1"}) {
		t.Errorf("provider asked to delete %v, want [RG-1]", f.provider.deletedGroups)
	}
	loc, err := url.Parse(res.header.Get("Location"))
	if err != nil || !loc.IsAbs() || loc.Query().Get("api-version") != "2021-04-01" {
		t.Fatalf("Location = %q, want an absolute URL with the api-version", res.header.Get("Location"))
	}
	if res := f.do(t, "GET", loc.RequestURI(), ""); res.status != http.StatusNoContent {
		t.Errorf("GET Location = %d %s, want 204", res.status, res.body)
	}
	if res := f.do(t, "GET", base+"RG-1?"+apiVersion, ""); res.status != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d, want 404", res.status)
	}
}

func TestSubscriptions(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, "GET", "/subscriptions?"+apiVersion, "")
	var list armhttp.List[struct {
		ID             string `json:"id"`
		SubscriptionID string `json:"subscriptionId"`
		TenantID       string `json:"tenantId"`
		State          string `json:"state"`
	}]
	if err := json.Unmarshal(res.body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Value) != 1 || list.Value[0].SubscriptionID != f.sub.ID || list.Value[0].TenantID != tenant ||
		list.Value[0].ID != "/subscriptions/"+f.sub.ID || list.Value[0].State != "Enabled" {
		t.Errorf("GET /subscriptions = %s, want only the caller's tenant's subscription", res.body)
	}
}

func TestResources(t *testing.T) {
	f := newFixture(t)
	id := func(s string) arm.ResourceID {
		x, err := arm.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	sub := "/subscriptions/" + f.sub.ID
	f.provider.resources = []arm.Resource{
		{ID: id(sub + "/resourceGroups/rg/providers/Test.Fake/widgets/w1"), Location: "westeurope"},
		{ID: id(sub + "/resourceGroups/other/providers/Test.Fake/gizmos/g1"), Location: "westeurope", Tags: map[string]string{"a": "b"}},
	}
	f.do(t, "PUT", sub+"/resourceGroups/rg?"+apiVersion, `{"location":"westeurope"}`)
	tests := []struct {
		target string
		want   []string
	}{
		{sub + "/resources?" + apiVersion, []string{"g1", "w1"}},
		{sub + "/resources?" + apiVersion + "&$filter=" + url.QueryEscape("resourceType eq 'test.fake/WIDGETS'"), []string{"w1"}},
		{sub + "/resourceGroups/RG/resources?" + apiVersion, []string{"w1"}},
	}
	for _, tt := range tests {
		res := f.do(t, "GET", tt.target, "")
		var list armhttp.List[struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}]
		if err := json.Unmarshal(res.body, &list); err != nil || res.status != 200 {
			t.Fatalf("GET %s = %d %s", tt.target, res.status, res.body)
		}
		var names []string
		for _, x := range list.Value {
			names = append(names, x.Name)
		}
		if !cmp.Equal(names, tt.want) {
			t.Errorf("GET %s names = %v, want %v", tt.target, names, tt.want)
		}
	}
	if res := f.do(t, "GET", sub+"/resourceGroups/absent/resources?"+apiVersion, ""); res.status != 404 {
		t.Errorf("GET resources of an absent group = %d, want 404", res.status)
	}
}

// TestNoBodyBeforeAuth checks that a request is refused before its body is
// read when it has no credentials.
func TestNoBodyBeforeAuth(t *testing.T) {
	f := newFixture(t)
	body := &trackingReader{r: bytes.NewReader([]byte(`{"location":"westeurope"}`))}
	r := httptest.NewRequest("PUT", "/subscriptions/"+f.sub.ID+"/resourceGroups/rg?"+apiVersion, body)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || body.read {
		t.Errorf("PUT without a token = %d, body read %v; want 401 without reading", w.Code, body.read)
	}
}

type trackingReader struct {
	r    io.Reader
	read bool
}

func (t *trackingReader) Read(p []byte) (int, error) {
	t.read = true
	return t.r.Read(p)
}
