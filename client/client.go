// Package client configures the unmodified Azure SDK clients to talk to a
// tresor server: the endpoints, trust in tresor's CA, the admin credential,
// and a DNS pin that sends every name under tresor's domain to the server's
// address (names such as myvault.vault.localhost do not resolve by
// themselves). The CLI and the end-to-end tests use it alike.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Env is a tresor environment: the variables of DIR/tresor.env.
type Env map[string]string

// Variables that Load reads from the process environment, overriding the
// file.
var names = []string{
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
	"AZURE_SUBSCRIPTION_ID", "TRESOR_ARM_ENDPOINT", "TRESOR_ARM_AUDIENCE", "TRESOR_CA_FILE",
	"TRESOR_DOMAIN", "TRESOR_ADDR",
}

// Variables that Load also reads from the process environment but that
// older tresor.env files lack; the methods that use them fall back to
// values derived from the others.
var optionalNames = []string{"TRESOR_GRAPH_ENDPOINT", "TRESOR_GRAPH_AUDIENCE"}

// Load reads dir/tresor.env if it exists and overlays the process
// environment. It fails if the result lacks what clients need.
func Load(dir string) (Env, error) {
	e := Env{}
	if b, err := os.ReadFile(filepath.Join(dir, "tresor.env")); err == nil {
		e = Parse(b)
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	for _, n := range slices.Concat(names, optionalNames) {
		if v := os.Getenv(n); v != "" {
			e[n] = v
		}
	}
	for _, n := range names {
		if e[n] == "" {
			return nil, fmt.Errorf("%s is not set: start the server once with 'tresor serve --data %s' or eval \"$(tresor env)\"", n, dir)
		}
	}
	return e, nil
}

// fileOrder is the order in which Write puts the variables it knows.
var fileOrder = []string{
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "TRESOR_ADMIN_OBJECT_ID", "AZURE_AUTHORITY_HOST",
	"AZURE_SUBSCRIPTION_ID", "TRESOR_ARM_ENDPOINT", "TRESOR_ARM_AUDIENCE", "TRESOR_CA_FILE",
	"TRESOR_DOMAIN", "TRESOR_ADDR", "NODE_EXTRA_CA_CERTS", "TRESOR_IDENTITY_ENDPOINT", "TRESOR_IDENTITY_HEADER",
	"TRESOR_GRAPH_ENDPOINT", "TRESOR_GRAPH_AUDIENCE", "TRESOR_BLOB_ENDPOINT",
}

// Write writes e to path as a tresor.env file that Parse reads and a shell
// sources, with mode 0600 (it holds a client secret), replacing any file
// there at once. Variables it does not know are left out.
func (e Env) Write(path string) error {
	var b strings.Builder
	b.WriteString("# tresor client environment; eval \"$(tresor env)\" to use it.\n")
	for _, k := range fileOrder {
		if v, ok := e[k]; ok {
			fmt.Fprintf(&b, "export %s='%s'\n", k, v)
		}
	}
	tmp := path + ".tmp"
	// A leftover file would keep its mode; the secret must not.
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Parse reads the export lines of a tresor.env file.
func Parse(b []byte) Env {
	out := Env{}
	for _, line := range strings.Split(string(b), "\n") {
		line, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = strings.Trim(v, `'"`)
		}
	}
	return out
}

// HTTPClient returns an HTTP client that trusts tresor's CA and dials
// tresor's address for every host under its domain.
func (e Env) HTTPClient() (*http.Client, error) {
	pem, err := os.ReadFile(e["TRESOR_CA_FILE"])
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", e["TRESOR_CA_FILE"])
	}
	return NewHTTPClient(pool, e["TRESOR_DOMAIN"], e["TRESOR_ADDR"]), nil
}

// NewHTTPClient returns an HTTP client trusting pool that dials addr for
// domain and every name under it.
func NewHTTPClient(pool *x509.CertPool, domain, addr string) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 64
	tr.DialContext = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(hostport)
		if err == nil && (host == domain || strings.HasSuffix(host, "."+domain)) {
			hostport = addr
		}
		return dialer.DialContext(ctx, network, hostport)
	}
	return &http.Client{Transport: tr}
}

// portSuffix is ":port" of the ARM endpoint, or "" for 443.
func (e Env) portSuffix() string {
	u, err := url.Parse(e["TRESOR_ARM_ENDPOINT"])
	if err != nil || u.Port() == "" || u.Port() == "443" {
		return ""
	}
	return ":" + u.Port()
}

// VaultURL returns the URL of a Key Vault vault.
func (e Env) VaultURL(name string) string {
	return "https://" + name + ".vault." + e["TRESOR_DOMAIN"] + e.portSuffix()
}

// HSMResource returns the token audience of the Managed HSM data plane.
func (e Env) HSMResource() string {
	return "https://managedhsm." + e["TRESOR_DOMAIN"] + e.portSuffix()
}

// HSMURL returns the URL of a Managed HSM.
func (e Env) HSMURL(name string) string {
	return "https://" + name + ".managedhsm." + e["TRESOR_DOMAIN"] + e.portSuffix()
}

// BlobURL returns the host-style Blob endpoint of a storage account, as
// ARM reports it in primaryEndpoints.blob.
func (e Env) BlobURL(account string) string {
	return "https://" + account + ".blob." + e["TRESOR_DOMAIN"] + e.portSuffix() + "/"
}

// GraphEndpoint returns the base URL of tresor's Microsoft Graph subset,
// without the version ("https://localhost:8443"; Graph's paths start with
// /v1.0): the control host.
func (e Env) GraphEndpoint() string {
	if v := e["TRESOR_GRAPH_ENDPOINT"]; v != "" {
		return strings.TrimSuffix(v, "/")
	}
	return strings.TrimSuffix(e["TRESOR_ARM_ENDPOINT"], "/")
}

// GraphAudience returns the audience of tokens for Graph
// ("https://graph.localhost"); the scope to request is it + "/.default".
func (e Env) GraphAudience() string {
	if v := e["TRESOR_GRAPH_AUDIENCE"]; v != "" {
		return v
	}
	return "https://graph." + e["TRESOR_DOMAIN"]
}

// Cloud returns the cloud configuration that points the SDKs at tresor.
func (e Env) Cloud() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: e["AZURE_AUTHORITY_HOST"],
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: e["TRESOR_ARM_ENDPOINT"], Audience: e["TRESOR_ARM_AUDIENCE"]},
		},
	}
}

// Credential returns the admin principal's client-secret credential.
func (e Env) Credential(hc *http.Client) (azcore.TokenCredential, error) {
	return azidentity.NewClientSecretCredential(e["AZURE_TENANT_ID"], e["AZURE_CLIENT_ID"], e["AZURE_CLIENT_SECRET"],
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: e.Cloud(), Transport: hc},
			DisableInstanceDiscovery: true,
		})
}

// ARMOptions returns options for the arm* clients.
func (e Env) ARMOptions(hc *http.Client) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: e.Cloud(), Transport: hc}}
}
