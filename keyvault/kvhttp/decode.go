package kvhttp

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/tresorkms/tresor"
)

// b64 is a byte string carried as base64url. It is written without padding,
// as the Go SDK requires, and read leniently: padded or not, URL or standard
// alphabet, as clients differ.
type b64 []byte

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d, err := decodeB64(s)
	if err != nil {
		return err
	}
	*b = d
	return nil
}

// errBase64 marks a base64 field that does not decode.
var errBase64 = errors.New("value is not valid base64url")

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	d, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBase64
	}
	return d, nil
}

// decode reads one JSON value from r's body into v. Unknown fields are
// ignored, as Azure ignores them, so newer SDKs keep working; wrong types,
// malformed JSON, trailing data and oversize bodies are the caller's fault.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tresor.Errorf(tresor.TooLarge, "The request body exceeds the limit of %d bytes for this operation.", mbe.Limit)
		}
		return tresor.Errorf(tresor.Invalid, "The request body could not be read.")
	}
	return decodeBytes(body, v)
}

// decodeBytes is decode without the transport, for tests and fuzzing.
func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return tresor.Errorf(tresor.Invalid, "The request body is empty; a JSON object is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return tresor.Errorf(tresor.Invalid, "The request body contains data after the JSON object.")
	}
	return nil
}

// jsonError turns a decoding failure into a message that names the field.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return tresor.Errorf(tresor.Invalid, "The request body is not valid JSON (offset %d): %v.", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(root)"
		}
		return tresor.Errorf(tresor.Invalid, "The property %q has the wrong type: got JSON %s, want %s.", field, typ.Value, typ.Type)
	case errors.Is(err, errBase64):
		return tresor.Errorf(tresor.Invalid, "A binary property is not valid base64url.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tresor.Errorf(tresor.Invalid, "The request body is truncated JSON.")
	}
	return tresor.Errorf(tresor.Invalid, "The request body is not valid: %v.", err)
}

// writeJSON writes v with Azure's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"InternalServerError","message":"response encoding failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client went away
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// knownVersions are the api-versions of the keys API that the SDKs send.
// Request and response shapes are the same across them for everything
// tresor serves.
var knownVersions = map[string]bool{
	"7.0": true, "7.1": true, "7.2": true, "7.3": true, "7.4": true, "7.5": true, "7.6": true,
	"7.3-preview": true, "7.4-preview.1": true, "7.5-preview.1": true, "7.6-preview.1": true, "7.6-preview.2": true,
	"2025-06-01": true, "2025-06-01-preview": true, "2025-07-01": true, "2026-01-01-preview": true,
}

// datedVersion matches dated api-versions; those newer than the newest we
// know are accepted too, so that a new SDK release keeps working.
var datedVersion = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(-preview)?$`)

const latestVersion = "2025-07-01"

func checkAPIVersion(v string) error {
	if v == "" {
		return tresor.Errorf(tresor.Invalid, "The api-version query parameter is required. Consider using the latest supported version (%s).", latestVersion)
	}
	if knownVersions[v] {
		return nil
	}
	if m := datedVersion.FindStringSubmatch(v); m != nil && m[1] >= latestVersion {
		return nil
	}
	return tresor.Errorf(tresor.Invalid, "The specified version (%s) is not recognized. Consider using the latest supported version (%s).", v, latestVersion)
}
