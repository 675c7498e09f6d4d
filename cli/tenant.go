package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tresorkms/tresor/tenancy/tenancyhttp"
)

// tenantCommand creates and lists the installation's tenants: 'tresor
// tenant create --display-name contoso [--out DIR]', 'tresor tenant
// list'. Azure has no such command (tenants are made in the portal); the
// output is shaped as 'az ad sp create-for-rbac' shows a new credential.
type tenantCommand struct {
	op  string
	out io.Writer
}

func (c tenantCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenant "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("display-name", "", "create: the new tenant's display name")
	fs.StringVar(name, "n", "", "short for --display-name")
	outDir := fs.String("out", "", "create: also write DIR/tresor.env for the new tenant's administrator, so that --data DIR acts in it (without the installation's managed identity endpoint)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	switch c.op {
	case "list":
		var out any
		if err := cn.adminAPI(ctx, http.MethodGet, tenancyhttp.Prefix, nil, http.StatusOK, &out); err != nil {
			return fmt.Errorf("tenant list: %w", err)
		}
		return printJSON(c.out, out)
	case "create":
		if err := required(fs, "display-name"); err != nil {
			return err
		}
		var t tenancyhttp.Created
		if err := cn.adminAPI(ctx, http.MethodPost, tenancyhttp.Prefix, map[string]string{"displayName": *name}, http.StatusCreated, &t); err != nil {
			return fmt.Errorf("tenant create: %w", err)
		}
		if *outDir != "" {
			env := maps.Clone(cn.env)
			env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"] = t.TenantID, t.ClientID, t.ClientSecret
			env["TRESOR_ADMIN_OBJECT_ID"], env["AZURE_SUBSCRIPTION_ID"] = t.ObjectID, t.SubscriptionID
			// The identity header yields tokens for every managed identity
			// of the installation: it is the operator's, not a tenant's.
			delete(env, "TRESOR_IDENTITY_HEADER")
			delete(env, "TRESOR_IDENTITY_ENDPOINT")
			if err := os.MkdirAll(*outDir, 0o700); err != nil {
				return err
			}
			if err := env.Write(filepath.Join(*outDir, "tresor.env")); err != nil {
				return fmt.Errorf("tenant create: the tenant %s exists, but its environment file was not written: %w", t.TenantID, err)
			}
		}
		return printJSON(c.out, t)
	}
	return fmt.Errorf("tenant: unknown operation %q (create, list)", c.op)
}

// adminAPI calls one of tresor's own admin APIs on the control host
// (/tresor/...) with an ARM token, expects status want, and decodes the
// reply into out.
func (cn conn) adminAPI(ctx context.Context, method, path string, body any, want int, out any) error {
	tok, err := cn.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cn.env["TRESOR_ARM_AUDIENCE"] + "/.default"}})
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, cn.env["TRESOR_ARM_ENDPOINT"]+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cn.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &apiError{Status: resp.StatusCode, Text: resp.Status + ": " + strings.TrimSpace(string(b))}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("unexpected reply: %s", b)
	}
	return nil
}

// apiError is an admin API's refusal.
type apiError struct {
	Status int
	Text   string
}

func (e *apiError) Error() string { return e.Text }
