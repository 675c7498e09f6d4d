package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"

	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/rbac"
)

// adCommand mirrors 'az ad sp' and 'az ad app': applications and service
// principals, through tresor's Microsoft Graph subset over HTTPS, as az
// uses Graph.
type adCommand struct {
	op  string // "sp create-for-rbac", "sp create", "app create", "app update", "app credential reset", "app federated-credential list", ...
	out io.Writer
}

// lookupAD resolves the words after 'ad'.
func lookupAD(args []string, stdout io.Writer) (command, []string, error) {
	word := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch op := word(0) + " " + word(1); op {
	case "sp create-for-rbac", "sp create", "sp list", "sp show", "sp delete",
		"app create", "app update", "app list", "app show", "app delete":
		return adCommand{op: op, out: stdout}, rest(args, 2), nil
	case "app credential":
		if word(2) == "reset" {
			return adCommand{op: "app credential reset", out: stdout}, rest(args, 3), nil
		}
	case "app federated-credential":
		switch word(2) {
		case "create", "list", "show", "delete":
			return adCommand{op: op + " " + word(2), out: stdout}, rest(args, 3), nil
		}
	}
	return nil, nil, errUsage
}

func (c adCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ad "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	id := fs.String("id", "", "application (client) id or object id")
	name := fs.String("name", "", "display name (create-for-rbac)")
	fs.StringVar(name, "n", "", "short for --name")
	displayName := fs.String("display-name", "", "app create, app update: the display name; list: display names starting with this")
	audience := fs.String("sign-in-audience", "", "app create, app update: AzureADMyOrg or AzureADMultipleOrgs")
	parameters := fs.String("parameters", "", "federated-credential create: the credential as JSON, or a JSON file (@file or its name)")
	ficID := fs.String("federated-credential-id", "", "federated-credential show, delete: the credential's id or name")
	role := fs.String("role", "", "create-for-rbac: role name or id to assign at each of --scopes")
	var scopes scopesFlag
	fs.Var(&scopes, "scopes", "create-for-rbac: ARM scopes for the role assignment (repeat, or separate with spaces)")
	years := fs.Int("years", 1, "years the new password is valid")
	appendPassword := fs.Bool("append", false, "credential reset: keep the existing passwords")
	filter := fs.String("filter", "", "list: an OData $filter")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *years < 1 || *years > 100 {
		return fmt.Errorf("--years must be 1 to 100")
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	g, err := newGraphClient(ctx, cn)
	if err != nil {
		return err
	}
	end := time.Now().UTC().AddDate(*years, 0, 0)
	switch c.op {
	case "sp create-for-rbac":
		return c.createForRBAC(ctx, cn, g, *name, *role, scopes, end)
	case "sp list", "app list":
		collection := "servicePrincipals"
		if c.op == "app list" {
			collection = "applications"
		}
		var clauses []string
		if *filter != "" {
			clauses = append(clauses, *filter)
		}
		if *displayName != "" {
			clauses = append(clauses, "startswith(displayName,"+odataString(*displayName)+")")
		}
		list, err := g.list(ctx, collection, strings.Join(clauses, " and "))
		if err != nil {
			return err
		}
		return printJSON(c.out, list)
	case "sp create":
		// The application may be another tenant's (multi-tenant), so its
		// client id goes to Graph as given.
		if err := required(fs, "id"); err != nil {
			return err
		}
		var sp map[string]any
		if err := g.do(ctx, http.MethodPost, "/servicePrincipals", map[string]string{"appId": *id}, &sp); err != nil {
			return err
		}
		return printJSON(c.out, sp)
	case "app create":
		if err := required(fs, "display-name"); err != nil {
			return err
		}
		in := map[string]string{"displayName": *displayName}
		if *audience != "" {
			in["signInAudience"] = *audience
		}
		var app map[string]any
		if err := g.do(ctx, http.MethodPost, "/applications", in, &app); err != nil {
			return err
		}
		return printJSON(c.out, app)
	case "app update":
		if err := required(fs, "id"); err != nil {
			return err
		}
		in := map[string]string{}
		if *displayName != "" {
			in["displayName"] = *displayName
		}
		if *audience != "" {
			in["signInAudience"] = *audience
		}
		if len(in) == 0 {
			return errors.New("ad app update: give --display-name or --sign-in-audience")
		}
		objectID, err := g.resolveApplication(ctx, *id)
		if err != nil {
			return err
		}
		return g.do(ctx, http.MethodPatch, "/applications/"+objectID, in, nil)
	case "app federated-credential create", "app federated-credential list",
		"app federated-credential show", "app federated-credential delete":
		return c.federatedCredential(ctx, fs, g, *id, *parameters, *ficID)
	case "sp show", "sp delete":
		if err := required(fs, "id"); err != nil {
			return err
		}
		spID, err := g.resolveServicePrincipal(ctx, *id)
		if err != nil {
			return err
		}
		if c.op == "sp delete" {
			return g.do(ctx, http.MethodDelete, "/servicePrincipals/"+spID, nil, nil)
		}
		var sp map[string]any
		if err := g.do(ctx, http.MethodGet, "/servicePrincipals/"+spID, nil, &sp); err != nil {
			return err
		}
		return printJSON(c.out, sp)
	case "app show", "app delete":
		if err := required(fs, "id"); err != nil {
			return err
		}
		appID, err := g.resolveApplication(ctx, *id)
		if err != nil {
			return err
		}
		if c.op == "app delete" {
			return g.do(ctx, http.MethodDelete, "/applications/"+appID, nil, nil)
		}
		var app map[string]any
		if err := g.do(ctx, http.MethodGet, "/applications/"+appID, nil, &app); err != nil {
			return err
		}
		return printJSON(c.out, app)
	case "app credential reset":
		if err := required(fs, "id"); err != nil {
			return err
		}
		objectID, err := g.resolveApplication(ctx, *id)
		if err != nil {
			return err
		}
		var app graphApplication
		if err := g.do(ctx, http.MethodGet, "/applications/"+objectID, nil, &app); err != nil {
			return err
		}
		password, err := g.resetPassword(ctx, app, "rbac", end, !*appendPassword)
		if err != nil {
			return err
		}
		return printJSON(c.out, struct {
			AppID    string `json:"appId"`
			Password string `json:"password"`
			Tenant   string `json:"tenant"`
		}{app.AppID, password, cn.env["AZURE_TENANT_ID"]})
	}
	return errUsage
}

// federatedCredential runs 'ad app federated-credential create|list|show|delete',
// as az does: --id names the application, --parameters is the credential
// to create (name, issuer, subject, audiences, description), and
// --federated-credential-id the one to show or delete, by id or name.
func (c adCommand) federatedCredential(ctx context.Context, fs *flag.FlagSet, g *graphClient, id, parameters, ficID string) error {
	op := strings.TrimPrefix(c.op, "app federated-credential ")
	flags := []string{"id"}
	switch op {
	case "create":
		flags = append(flags, "parameters")
	case "show", "delete":
		flags = append(flags, "federated-credential-id")
	}
	if err := required(fs, flags...); err != nil {
		return err
	}
	objectID, err := g.resolveApplication(ctx, id)
	if err != nil {
		return err
	}
	path := "/applications/" + objectID + "/federatedIdentityCredentials"
	switch op {
	case "create":
		in, err := readParameters(parameters)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := g.do(ctx, http.MethodPost, path, in, &out); err != nil {
			return err
		}
		return printJSON(c.out, out)
	case "list":
		var page struct {
			Value []map[string]any `json:"value"`
		}
		if err := g.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		return printJSON(c.out, page.Value)
	case "delete":
		return g.do(ctx, http.MethodDelete, path+"/"+url.PathEscape(ficID), nil, nil)
	}
	var out map[string]any
	if err := g.do(ctx, http.MethodGet, path+"/"+url.PathEscape(ficID), nil, &out); err != nil {
		return err
	}
	return printJSON(c.out, out)
}

// readParameters reads --parameters as az does: JSON, or the name of a
// file holding it (with or without a leading @).
func readParameters(arg string) (map[string]any, error) {
	b := []byte(arg)
	if !strings.HasPrefix(strings.TrimSpace(arg), "{") {
		var err error
		if b, err = os.ReadFile(strings.TrimPrefix(arg, "@")); err != nil {
			return nil, fmt.Errorf("--parameters is neither JSON nor a readable file: %w", err)
		}
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("--parameters is not a JSON object: %w", err)
	}
	return in, nil
}

// createForRBAC does what 'az ad sp create-for-rbac' does: it registers an
// application named name, or reuses the one application of that name,
// gives it a new password in place of its others, creates its service
// principal unless it has one, assigns role at each scope (an existing
// assignment is kept), and prints the credentials.
func (c adCommand) createForRBAC(ctx context.Context, cn conn, g *graphClient, name, role string, scopes []string, end time.Time) error {
	if (role == "") != (len(scopes) == 0) {
		return errors.New("ad sp create-for-rbac: to create role assignments, specify both --role and --scopes")
	}
	if name == "" {
		name = "tresor-cli-" + time.Now().UTC().Format("2006-01-02-15-04-05")
	}
	var found []graphApplication
	if err := g.listInto(ctx, "applications", "displayName eq "+odataString(name), &found); err != nil {
		return err
	}
	var app graphApplication
	for _, a := range found {
		if a.DisplayName != name { // Graph's eq ignores case; az's match does not
			continue
		}
		if app.ID != "" {
			return fmt.Errorf("more than one application has the display name %q: (id) %s, %s; remove them first", name, app.ID, a.ID)
		}
		app = a
	}
	if app.ID == "" {
		if err := g.do(ctx, http.MethodPost, "/applications", map[string]string{"displayName": name}, &app); err != nil {
			return err
		}
	}
	password, err := g.resetPassword(ctx, app, "rbac", end, true)
	if err != nil {
		return err
	}
	var sps []graphServicePrincipal
	if err := g.listInto(ctx, "servicePrincipals", "appId eq "+odataString(app.AppID), &sps); err != nil {
		return err
	}
	var sp graphServicePrincipal
	if len(sps) > 0 {
		sp = sps[0]
	} else if err := g.do(ctx, http.MethodPost, "/servicePrincipals", map[string]string{"appId": app.AppID}, &sp); err != nil {
		return err
	}
	for _, scope := range scopes {
		if err := assignRole(ctx, cn, role, sp.ID, scope); err != nil {
			return err
		}
	}
	return printJSON(c.out, struct {
		AppID       string `json:"appId"`
		DisplayName string `json:"displayName"`
		Password    string `json:"password"`
		Tenant      string `json:"tenant"`
	}{app.AppID, name, password, cn.env["AZURE_TENANT_ID"]})
}

// assignRole gives principalID the role at scope through ARM, as 'az role
// assignment create' does; an assignment that exists already is kept.
func assignRole(ctx context.Context, cn conn, role, principalID, scope string) error {
	sub := cn.env["AZURE_SUBSCRIPTION_ID"]
	if parts := splitPath(scope); len(parts) >= 2 && equalFold(parts[0], "subscriptions") {
		sub = parts[1]
	}
	roleID, err := resolveRole("", role)
	if err != nil {
		roleID, err = customRoleID(ctx, cn, scope, role)
	}
	if err != nil {
		return err
	}
	assignments, err := armauthorization.NewRoleAssignmentsClient(sub, cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	_, err = assignments.Create(ctx, scope, identity.NewGUID(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			RoleDefinitionID: to.Ptr("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID),
			PrincipalID:      to.Ptr(principalID),
			PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == rbac.ReasonRoleAssignmentExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("assign %q at %s: %w", role, scope, err)
	}
	return nil
}

// scopesFlag collects --scopes values, each one or more scopes separated
// by spaces, as az takes them.
type scopesFlag []string

func (s *scopesFlag) String() string { return strings.Join(*s, " ") }

func (s *scopesFlag) Set(v string) error {
	*s = append(*s, strings.Fields(v)...)
	return nil
}

// graphApplication and graphServicePrincipal are the members of Graph's
// resources that the commands use.
type graphApplication struct {
	ID                  string `json:"id"`
	AppID               string `json:"appId"`
	DisplayName         string `json:"displayName"`
	PasswordCredentials []struct {
		KeyID string `json:"keyId"`
	} `json:"passwordCredentials"`
}

type graphServicePrincipal struct {
	ID    string `json:"id"`
	AppID string `json:"appId"`
}

// graphClient sends Graph requests with a token for tresor's Graph
// audience.
type graphClient struct {
	http  *http.Client
	base  string // {endpoint}/v1.0
	token string
}

func newGraphClient(ctx context.Context, cn conn) (*graphClient, error) {
	tok, err := cn.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cn.env.GraphAudience() + "/.default"}})
	if err != nil {
		return nil, err
	}
	return &graphClient{http: cn.http, base: cn.env.GraphEndpoint() + "/v1.0", token: tok.Token}, nil
}

// do sends a request with in as its JSON body (if not nil) and decodes the
// reply into out (if not nil). A reply that is not 2xx is an error carrying
// Graph's code and message.
func (g *graphClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", identity.NewGUID())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

// list returns a collection's items as Graph sends them.
func (g *graphClient) list(ctx context.Context, collection, filter string) ([]map[string]any, error) {
	var items []map[string]any
	err := g.listInto(ctx, collection, filter, &items)
	return items, err
}

// listInto decodes a collection's items, filtered by an OData $filter if
// not empty, into items (a pointer to a slice).
func (g *graphClient) listInto(ctx context.Context, collection, filter string, items any) error {
	path := "/" + collection
	if filter != "" {
		path += "?" + url.Values{"$filter": {filter}}.Encode()
	}
	var page struct {
		Value json.RawMessage `json:"value"`
	}
	if err := g.do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return err
	}
	return json.Unmarshal(page.Value, items)
}

// resolveServicePrincipal returns the object id of the service principal
// that id names, as az does: by its names (the client id), or else id as
// an object id.
func (g *graphClient) resolveServicePrincipal(ctx context.Context, id string) (string, error) {
	var sps []graphServicePrincipal
	if err := g.listInto(ctx, "servicePrincipals", "servicePrincipalNames/any(c:c eq "+odataString(id)+")", &sps); err != nil {
		return "", err
	}
	if len(sps) > 0 {
		return sps[0].ID, nil
	}
	if identity.IsGUID(id) {
		return id, nil
	}
	return "", fmt.Errorf("service principal %q does not exist", id)
}

// resolveApplication returns the object id of the application that id
// names, as az does: by client id, or else id as an object id.
func (g *graphClient) resolveApplication(ctx context.Context, id string) (string, error) {
	if !identity.IsGUID(id) {
		return "", fmt.Errorf("application %q does not exist: give its client (app) id or object id", id)
	}
	var apps []graphApplication
	if err := g.listInto(ctx, "applications", "appId eq "+odataString(id), &apps); err != nil {
		return "", err
	}
	if len(apps) > 0 {
		return apps[0].ID, nil
	}
	return id, nil
}

// resetPassword adds a password valid until end to app and, if replace is
// set, removes its other passwords, and returns the new secret. It adds
// before it removes, so that a failure leaves a working password.
func (g *graphClient) resetPassword(ctx context.Context, app graphApplication, name string, end time.Time, replace bool) (string, error) {
	var added struct {
		KeyID      string `json:"keyId"`
		SecretText string `json:"secretText"`
	}
	in := map[string]any{"passwordCredential": map[string]string{
		"displayName": name, "endDateTime": end.Format(time.RFC3339),
	}}
	if err := g.do(ctx, http.MethodPost, "/applications/"+app.ID+"/addPassword", in, &added); err != nil {
		return "", err
	}
	if replace {
		for _, c := range app.PasswordCredentials {
			if c.KeyID == added.KeyID {
				continue
			}
			if err := g.do(ctx, http.MethodPost, "/applications/"+app.ID+"/removePassword", map[string]string{"keyId": c.KeyID}, nil); err != nil {
				return "", err
			}
		}
	}
	return added.SecretText, nil
}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
