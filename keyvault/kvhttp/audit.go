package kvhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/internal/httpstatus"
)

// operations names each route by its Azure operationId, for the audit log.
var operations = map[string]string{
	"POST /keys/{name}/create":              "CreateKey",
	"PUT /keys/{name}":                      "ImportKey",
	"GET /keys":                             "GetKeys",
	"GET /keys/{name}":                      "GetKey",
	"GET /keys/{name}/{version}":            "GetKey",
	"GET /keys/{name}/versions":             "GetKeyVersions",
	"PATCH /keys/{name}":                    "UpdateKey",
	"PATCH /keys/{name}/{version}":          "UpdateKey",
	"DELETE /keys/{name}":                   "DeleteKey",
	"POST /keys/{name}/backup":              "BackupKey",
	"POST /keys/restore":                    "RestoreKey",
	"GET /deletedkeys":                      "GetDeletedKeys",
	"GET /deletedkeys/{name}":               "GetDeletedKey",
	"DELETE /deletedkeys/{name}":            "PurgeDeletedKey",
	"POST /deletedkeys/{name}/recover":      "RecoverDeletedKey",
	"POST /keys/{name}/encrypt":             "Encrypt",
	"POST /keys/{name}/{version}/encrypt":   "Encrypt",
	"POST /keys/{name}/decrypt":             "Decrypt",
	"POST /keys/{name}/{version}/decrypt":   "Decrypt",
	"POST /keys/{name}/wrapkey":             "WrapKey",
	"POST /keys/{name}/{version}/wrapkey":   "WrapKey",
	"POST /keys/{name}/unwrapkey":           "UnwrapKey",
	"POST /keys/{name}/{version}/unwrapkey": "UnwrapKey",
	"POST /keys/{name}/sign":                "Sign",
	"POST /keys/{name}/{version}/sign":      "Sign",
	"POST /keys/{name}/verify":              "Verify",
	"POST /keys/{name}/{version}/verify":    "Verify",
	"POST /rng":                             "GetRandomBytes",
	"GET /keys/{name}/rotationpolicy":       "GetKeyRotationPolicy",
	"PUT /keys/{name}/rotationpolicy":       "UpdateKeyRotationPolicy",
	"POST /keys/{name}/rotate":              "RotateKey",
}

// record writes one audit record for a finished request. Nothing from the
// request or response body goes in: only names, ids and the status.
func (h *Handler) record(r *http.Request, w *httpstatus.Writer, operation string) {
	if h.Audit == nil {
		return
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	resource := baseURL(r)
	if name := r.PathValue("name"); name != "" {
		collection := "/keys/"
		if strings.HasPrefix(r.URL.Path, "/deletedkeys/") {
			collection = "/deletedkeys/"
		}
		resource += collection + name
	} else {
		resource += r.URL.Path
	}
	h.Audit(r.Context(), audit.Record{
		RequestID:  w.Header().Get("x-ms-request-id"),
		Principal:  p,
		Operation:  operation,
		ResourceID: audit.Clip(resource),
		KeyVersion: audit.Clip(r.PathValue("version")),
		Result:     audit.ResultOf(w.Status),
		Status:     w.Status,
	})
}
