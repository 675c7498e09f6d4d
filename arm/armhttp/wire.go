package armhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tresorkms/tresor"
)

// ReasonInvalidRequestContent is ARM's code for a body that does not
// decode.
const ReasonInvalidRequestContent = "InvalidRequestContent"

// Decode reads one JSON value from the request body into v. Unknown fields
// are ignored, as ARM ignores them, so newer clients keep working. A
// malformed body, a property of the wrong type (named in the message and
// target), trailing data or an empty body is Invalid; a body over the
// route's limit is TooLarge.
func Decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tresor.Errorf(tresor.TooLarge, "The request content exceeds the limit of %d bytes for this operation.", mbe.Limit)
		}
		return tresor.Errorf(tresor.Invalid, "The request content could not be read.")
	}
	return decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) error {
	invalid := func(format string, args ...any) error {
		return tresor.Errorf(tresor.Invalid, "The request content was invalid and could not be deserialized: "+format, args...).WithReason(ReasonInvalidRequestContent)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("the body is empty; a JSON object is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			return WithTarget(invalid("the property '%s' must be %s, not JSON %s.", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value), typ.Field)
		case errors.As(err, &typ):
			return invalid("the body must be a JSON object, not JSON %s.", typ.Value)
		case errors.As(err, &syn):
			return invalid("the body is not valid JSON at offset %d.", syn.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("the body is truncated JSON.")
		}
		return invalid("%v.", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("the body has data after the JSON value.")
	}
	return nil
}

// jsonType names a Go kind as the JSON type a client should send.
func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client went away
}

// List is ARM's page of a list: the items and the URL of the next page.
type List[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// Page sizes: a page holds DefaultPageSize items unless the request's $top
// asks for fewer, or more up to MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Page returns the page of items the request asks for with $top and
// $skiptoken, in the order of key, and the absolute nextLink of the page
// after it ("" for the last page). Keys must be unique. Invalid if $top is
// not a positive integer.
func Page[T any](r *http.Request, items []T, key func(T) string) ([]T, string, error) {
	q := r.URL.Query()
	size := DefaultPageSize
	if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 {
			return nil, "", WithTarget(tresor.Errorf(tresor.Invalid, "The value '%s' of $top is not a positive integer.", clip(top)).WithReason("InvalidParameter"), "$top")
		}
		size = min(n, MaxPageSize)
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if skip := q.Get("$skiptoken"); skip != "" {
		start, _ = slices.BinarySearchFunc(sorted, skip, func(x T, t string) int {
			if key(x) <= t {
				return -1
			}
			return 1
		})
	}
	end := min(start+size, len(sorted))
	if end >= len(sorted) {
		return sorted[start:], "", nil
	}
	q.Set("$skiptoken", key(sorted[end-1]))
	return sorted[start:end], absoluteURL(r, r.URL.Path, q), nil
}

// Accepted answers 202 with a Location to poll. Every operation the front
// door accepts has completed by then, so the Location reports success at
// once; clients' pollers make one request and finish.
func Accepted(w http.ResponseWriter, r *http.Request) {
	q := url.Values{"api-version": {r.URL.Query().Get("api-version")}}
	loc := absoluteURL(r, "/subscriptions/"+Subscription(r).ID+"/operationresults/"+newUUID(), q)
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusAccepted)
}

// absoluteURL is a URL on the host the client addressed, as pollers and
// pagers require absolute URLs.
func absoluteURL(r *http.Request, p string, q url.Values) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Deleted answers a synchronous DELETE as ARM does: 200 if the resource
// existed, 204 if there was nothing to delete.
func Deleted(w http.ResponseWriter, existed bool) {
	if existed {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
