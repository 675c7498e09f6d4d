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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// eventGridCommand mirrors 'az eventgrid event-subscription': webhook
// subscriptions to a Key Vault's events. armeventgrid is not on the module
// proxy, so it speaks ARM through azcore's pipeline directly.
type eventGridCommand struct {
	op  string
	out io.Writer
}

// eventGridAPIVersion is the api-version the commands send.
const eventGridAPIVersion = "2025-02-15"

// listFlag collects a flag given several times or with commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

func (c eventGridCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eventgrid event-subscription "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	name := fs.String("name", "", "event subscription name")
	fs.StringVar(name, "n", "", "short for --name")
	source := fs.String("source-resource-id", "", "ARM id of the resource whose events are wanted (a Key Vault)")
	endpoint := fs.String("endpoint", "", "webhook URL (https, or http to a loopback address)")
	var types listFlag
	fs.Var(&types, "included-event-types", "event types to deliver, comma-separated or repeated (default: all)")
	beginsWith := fs.String("subject-begins-with", "", "deliver only events whose subject (key name) starts so")
	endsWith := fs.String("subject-ends-with", "", "deliver only events whose subject ends so")
	maxAttempts := fs.Int("max-delivery-attempts", 0, "retry limit, 1 to 30 (default 30)")
	ttl := fs.Int("event-ttl", 0, "minutes to keep retrying an event, 1 to 1440 (default 1440)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := required(fs, "source-resource-id"); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	client, err := arm.NewClient("tresor-cli", "v1.0.0", cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(*source, "/") + "/providers/Microsoft.EventGrid/eventSubscriptions"
	call := func(method, path string, body any) (json.RawMessage, error) {
		return armCall(ctx, client, method, path, body)
	}
	switch c.op {
	case "create":
		if err := required(fs, "name", "endpoint"); err != nil {
			return err
		}
		props := map[string]any{
			"destination": map[string]any{"endpointType": "WebHook", "properties": map[string]any{"endpointUrl": *endpoint}},
			"filter": map[string]any{
				"includedEventTypes": types, "subjectBeginsWith": *beginsWith, "subjectEndsWith": *endsWith,
			},
		}
		retry := map[string]any{}
		if *maxAttempts != 0 {
			retry["maxDeliveryAttempts"] = *maxAttempts
		}
		if *ttl != 0 {
			retry["eventTimeToLiveInMinutes"] = *ttl
		}
		if len(retry) > 0 {
			props["retryPolicy"] = retry
		}
		out, err := call(http.MethodPut, base+"/"+*name, map[string]any{"properties": props})
		if err != nil {
			return err
		}
		return printRaw(c.out, out)
	case "show":
		if err := required(fs, "name"); err != nil {
			return err
		}
		out, err := call(http.MethodGet, base+"/"+*name, nil)
		if err != nil {
			return err
		}
		return printRaw(c.out, out)
	case "list":
		out, err := call(http.MethodGet, base, nil)
		if err != nil {
			return err
		}
		var page struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			return err
		}
		return printRaw(c.out, page.Value)
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		_, err := call(http.MethodDelete, base+"/"+*name, nil)
		return err
	}
	return errUsage
}

// armCall sends one ARM request through client's pipeline and returns the
// response body, or the CloudError as an error.
func armCall(ctx context.Context, client *arm.Client, method, path string, body any) (json.RawMessage, error) {
	req, err := runtime.NewRequest(ctx, method, runtime.JoinPaths(client.Endpoint(), path))
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", eventGridAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, err
		}
	}
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusCreated, http.StatusNoContent) {
		return nil, runtime.NewResponseError(resp)
	}
	return runtime.Payload(resp)
}

// printRaw writes a JSON document indented, as az does.
func printRaw(w io.Writer, doc []byte) error {
	if len(doc) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}
