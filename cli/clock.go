package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// clockCommand moves and shows a virtual clock: 'tresor clock show',
// 'tresor clock advance P18M', 'tresor clock set 2028-01-01T00:00:00Z'.
type clockCommand struct {
	op  string
	out io.Writer
}

func (c clockCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("clock "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	// The value comes first, as in 'tresor clock advance P18M'.
	var value string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		value, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if value == "" && fs.NArg() > 0 {
		value = fs.Arg(0)
	}
	var body any
	method, path := http.MethodGet, "/tresor/clock"
	switch c.op {
	case "show":
	case "advance":
		if value == "" {
			return fmt.Errorf("clock advance: give an ISO 8601 duration, such as P18M or PT1H")
		}
		method, path, body = http.MethodPost, path+"/advance", map[string]string{"by": value}
	case "set":
		if value == "" {
			return fmt.Errorf("clock set: give an RFC 3339 time, such as 2028-01-01T00:00:00Z")
		}
		method, path, body = http.MethodPost, path+"/advance", map[string]string{"to": value}
	default:
		return fmt.Errorf("clock: unknown operation %q (show, advance, set)", c.op)
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	tok, err := cn.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cn.env["TRESOR_ARM_AUDIENCE"] + "/.default"}})
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
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
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("clock: the server runs on real time; start it with --clock virtual to move its clock")
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("clock %s: %s: %s", c.op, resp.Status, strings.TrimSpace(string(b)))
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("clock %s: unexpected reply: %s", c.op, b)
	}
	return printJSON(c.out, out)
}
