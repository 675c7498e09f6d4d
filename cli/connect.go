package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tresorkms/tresor/client"
)

// conn is what a client command needs to reach the server.
type conn struct {
	env  client.Env
	http *http.Client
	cred azcore.TokenCredential
}

// dataFlag registers --data on fs.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", "./tresor-data", "the server's data directory, whose tresor.env configures the client")
}

func connect(dataDir string) (conn, error) {
	env, err := client.Load(dataDir)
	if err != nil {
		return conn{}, err
	}
	hc, err := env.HTTPClient()
	if err != nil {
		return conn{}, err
	}
	cred, err := env.Credential(hc)
	if err != nil {
		return conn{}, err
	}
	return conn{env: env, http: hc, cred: cred}, nil
}

// printJSON writes v as indented JSON, as az does.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// required checks that the named string flags are set.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := fs.Lookup(n); f == nil || f.Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the following arguments are required: %s", fs.Name(), strings.Join(missing, ", "))
	}
	return nil
}

// tagsFlag collects repeated --tags k=v values.
type tagsFlag map[string]*string

func (t tagsFlag) String() string { return "" }

func (t tagsFlag) Set(s string) error {
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		t[k] = &v
	}
	return nil
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// collect drains an SDK pager into one slice.
func collect[P, T any](ctx context.Context, pager *runtime.Pager[P], items func(P) []T) ([]T, error) {
	var all []T
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, items(page)...)
	}
	return all, nil
}

// await waits for the operation a Begin call started, or returns the
// error it failed with.
func await[T any](ctx context.Context, p *runtime.Poller[T], err error) error {
	_, err = result(ctx, p, err)
	return err
}

// result waits for the operation a Begin call started and returns its
// result, or the error it failed with.
func result[T any](ctx context.Context, p *runtime.Poller[T], err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return p.PollUntilDone(ctx, nil)
}
