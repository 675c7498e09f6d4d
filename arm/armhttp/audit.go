package armhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
)

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// record writes one audit record for a finished request: the RBAC action
// it amounts to, the resource id, the caller and the status.
func (h *Handler) record(r *http.Request, w *statusWriter, clean string) {
	if h.cfg.Audit == nil {
		return
	}
	p, _ := tresor.PrincipalFrom(r.Context())
	op := r.Method + " " + clean
	if m := authorizationPath.FindStringSubmatch(clean); m != nil {
		op = verb("Microsoft.Authorization/"+m[2], r.Method, "")
	} else if action, _, ok := requiredAction(r.Method, clean); ok {
		op = action
	}
	result := audit.Failed
	switch {
	case w.status == http.StatusUnauthorized || w.status == http.StatusForbidden:
		result = audit.Denied
	case w.status < 400:
		result = audit.Allowed
	}
	h.cfg.Audit(r.Context(), audit.Record{
		RequestID: w.Header().Get("x-ms-request-id"), Principal: p,
		Operation: clip512(op), ResourceID: clip512(strings.TrimSuffix(clean, "/")),
		Result: result, Status: w.status,
	})
}

func clip512(s string) string {
	if len(s) > 512 {
		return s[:512]
	}
	return s
}
