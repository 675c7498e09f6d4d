package armhttp

import (
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/internal/httpstatus"
)

// record writes one audit record for a finished request: the RBAC action
// it amounts to, the resource id, the caller and the status.
func (h *Handler) record(r *http.Request, w *httpstatus.Writer, clean string) {
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
	h.cfg.Audit(r.Context(), audit.Record{
		RequestID: w.Header().Get("x-ms-request-id"), Principal: p,
		Operation: audit.Clip(op), ResourceID: audit.Clip(strings.TrimSuffix(clean, "/")),
		Result: audit.ResultOf(w.Status), Status: w.Status,
	})
}
