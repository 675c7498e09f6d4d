package armhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
)

// cloudError is ARM's error shape.
type cloudError struct {
	Error cloudErrorBody `json:"error"`
}

type cloudErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// targetError carries the CloudError target: the property at fault.
type targetError struct {
	err    error
	target string
}

func (e *targetError) Error() string { return e.target + ": " + e.err.Error() }
func (e *targetError) Unwrap() error { return e.err }

// WithTarget returns err with the CloudError target set to the property at
// fault, such as "properties.sku.name". Kind and Reason are err's.
func WithTarget(err error, target string) error {
	if err == nil {
		return nil
	}
	return &targetError{err: err, target: target}
}

// writeError writes err as a CloudError with its code in x-ms-error-code. It
// is the one place that maps Kinds to statuses for ARM; a Reason replaces
// the Kind's default code.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "arm")
	}
	var status int
	var code string
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, "BadRequest"
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, "InvalidAuthenticationToken"
		// error="invalid_token" without claims: azcore treats only
		// error="insufficient_claims" with claims as a CAE challenge to
		// retry, so the client fails once instead of looping.
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="%s", error="invalid_token", error_description="%s"`,
			quotable(h.cfg.Authority), quotable(te.Message)))
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "AuthorizationFailed"
	case tresor.NotFound:
		status, code = http.StatusNotFound, "ResourceNotFound"
	case tresor.Conflict:
		status, code = http.StatusConflict, "Conflict"
	case tresor.PreconditionFailed:
		status, code = http.StatusPreconditionFailed, "PreconditionFailed"
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServiceUnavailable"
	case tresor.Internal:
		status, code = http.StatusInternalServerError, "InternalServerError"
	default:
		status, code = http.StatusInternalServerError, "InternalServerError"
	}
	if te.Reason != "" && te.Kind != tresor.Internal {
		code = te.Reason
	}
	msg := te.Message
	if te.Kind == tresor.Internal || msg == "" {
		h.cfg.Logger.Error("arm", "method", r.Method, "path", r.URL.Path, "request", w.Header().Get("x-ms-request-id"), "err", err)
		msg = "The server encountered an internal error. Request id " + w.Header().Get("x-ms-request-id") + "."
	}
	body := cloudError{Error: cloudErrorBody{Code: code, Message: msg}}
	var t *targetError
	if errors.As(err, &t) {
		body.Error.Target = t.target
	}
	w.Header().Set("x-ms-error-code", code)
	WriteJSON(w, status, body)
}

// quotable makes s safe inside a quoted challenge parameter.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, s)
}
