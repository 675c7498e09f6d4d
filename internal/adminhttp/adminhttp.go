// Package adminhttp holds what tresor's own admin APIs under /tresor/ (the
// virtual clock, tenants) share: the check that the caller is the
// installation's administrator, and their error and JSON replies.
package adminhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/tresorkms/tresor"
)

// ReasonMethodNotAllowed marks an Invalid error that is answered 405.
const ReasonMethodNotAllowed = "MethodNotAllowed"

// Admin authenticates r's bearer token and checks that it names the
// principal admin. It returns the principal whenever the token was valid,
// so that a refusal is audited with its caller; what is the sentence of
// the Forbidden error ("Only the installation's administrator may ...").
func Admin(r *http.Request, authenticate func(context.Context, string) (tresor.Principal, error), admin, what string) (tresor.Principal, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "A bearer token of the administrator is required.")
	}
	p, err := authenticate(r.Context(), token)
	if err != nil {
		return tresor.Principal{}, err
	}
	if p.ObjectID != admin {
		return p, tresor.Errorf(tresor.Forbidden, "%s", what)
	}
	return p, nil
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError writes err as {"error": {"code", "message"}} with its
// status. An Internal error's message is internal followed by the error.
func WriteError(w http.ResponseWriter, err error, internal string) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "admin api")
	}
	status, code, msg := http.StatusInternalServerError, "InternalError", te.Message
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, "BadParameter"
		if te.Reason == ReasonMethodNotAllowed {
			status, code = http.StatusMethodNotAllowed, te.Reason
		}
	case tresor.Unauthenticated:
		status, code = http.StatusUnauthorized, "Unauthorized"
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "Forbidden"
	case tresor.NotFound:
		status, code = http.StatusNotFound, "NotFound"
	default:
		msg = internal + te.Error()
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	WriteJSON(w, status, b)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}
