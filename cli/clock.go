package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
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
	var out any
	err = cn.adminAPI(ctx, method, path, body, http.StatusOK, &out)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return fmt.Errorf("clock: the server runs on real time; start it with --clock virtual to move its clock")
	}
	if err != nil {
		return fmt.Errorf("clock %s: %w", c.op, err)
	}
	return printJSON(c.out, out)
}
