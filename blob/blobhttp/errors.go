package blobhttp

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

// Storage error codes that the transport produces itself.
const (
	codeNoAuthenticationInformation = "NoAuthenticationInformation"
	codeInvalidAuthenticationInfo   = "InvalidAuthenticationInfo"
	codeInvalidQueryParameterValue  = "InvalidQueryParameterValue"
	codeInvalidHeaderValue          = "InvalidHeaderValue"
	codeMissingRequiredHeader       = "MissingRequiredHeader"
	codeMissingContentLength        = "MissingContentLengthHeader"
	codeRequestBodyTooLarge         = "RequestBodyTooLarge"
	codeUnsupportedHTTPVerb         = "UnsupportedHttpVerb"
	codeInvalidXMLDocument          = "InvalidXmlDocument"
	codeCannotVerifyCopySource      = "CannotVerifyCopySource"
	codeUnsupportedHeader           = "UnsupportedHeader"
	codeOperationTimedOut           = "OperationTimedOut"
)

// statusOf gives the codes whose status is not their Kind's.
var statusOf = map[string]int{
	blob.ReasonInvalidRange:         http.StatusRequestedRangeNotSatisfiable,
	blob.ReasonInvalidPageRange:     http.StatusRequestedRangeNotSatisfiable,
	blob.ReasonNotModified:          http.StatusNotModified,
	codeNoAuthenticationInformation: http.StatusUnauthorized,
	codeInvalidAuthenticationInfo:   http.StatusUnauthorized,
	codeMissingContentLength:        http.StatusLengthRequired,
	codeUnsupportedHTTPVerb:         http.StatusMethodNotAllowed,
	"AccountNotFound":               http.StatusNotFound,
}

// storageError is Storage's error body.
type storageError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// writeError writes err in Storage's shape: status, x-ms-error-code and an
// XML body (none for HEAD and 304). It is the only place that maps Kinds
// and Reasons to statuses and codes. Internal errors are logged and
// answered with a generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *tresor.Error
	if !errors.As(err, &te) {
		te = tresor.Wrap(err, "blob api")
	}
	if te.Kind == tresor.Internal && r.Context().Err() != nil {
		// The route's timeout passed or the client went away: not a bug.
		h.Logger.Info("blob api: request ended early", "method", r.Method, "url", logURL(r.URL), "err", err)
		te = tresor.Errorf(tresor.Internal, "The operation could not be completed within the permitted time.").WithReason(codeOperationTimedOut)
	}
	var status int
	var code string
	switch te.Kind {
	case tresor.Invalid:
		status, code = http.StatusBadRequest, "InvalidInput"
	case tresor.Unauthenticated:
		// Storage answers a signature that does not match with 403.
		status, code = http.StatusForbidden, "AuthenticationFailed"
	case tresor.Forbidden:
		status, code = http.StatusForbidden, "AuthorizationFailure"
	case tresor.NotFound:
		status, code = http.StatusNotFound, "ResourceNotFound"
	case tresor.Conflict:
		status, code = http.StatusConflict, "OperationNotAllowedInCurrentState"
	case tresor.PreconditionFailed:
		status, code = http.StatusPreconditionFailed, blob.ReasonConditionNotMet
	case tresor.TooLarge:
		status, code = http.StatusRequestEntityTooLarge, codeRequestBodyTooLarge
	case tresor.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServerBusy"
	case tresor.Internal:
		status, code = http.StatusInternalServerError, "InternalError"
		if te.Reason == "" {
			h.Logger.Error("blob api", "method", r.Method, "url", logURL(r.URL), "err", err)
		}
	}
	if te.Reason != "" {
		code = te.Reason
		if s, ok := statusOf[code]; ok {
			status = s
		}
	}
	if code == blob.ReasonNotModified {
		code = blob.ReasonConditionNotMet
	}
	msg := te.Message
	if te.Kind == tresor.Internal && te.Reason == "" || msg == "" {
		msg = "Server encountered an internal error. Please try again after some time."
	}
	hdr := w.Header()
	if status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", "Bearer authorization_uri="+h.Authority+"/oauth2/authorize resource_id=https://storage.azure.com")
	}
	hdr.Set("x-ms-error-code", code)
	hdr.Del("Content-Length")
	hdr.Del("Content-MD5")
	if r.Method == http.MethodHead || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	id := hdr.Get("x-ms-request-id")
	body := storageError{Code: code, Message: msg + "\nRequestId:" + id + "\nTime:" + time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")}
	b, _ := xml.Marshal(body)
	hdr.Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// invalidHeader returns InvalidHeaderValue for a header that does not parse.
func invalidHeader(name string) error {
	return tresor.Errorf(tresor.Invalid, "The value for one of the HTTP headers is not in the correct format: %s.", name).WithReason(codeInvalidHeaderValue)
}

// invalidQuery returns InvalidQueryParameterValue.
func invalidQuery(name string) error {
	return tresor.Errorf(tresor.Invalid, "Value for one of the query parameters specified in the request URI is invalid: %s.", name).WithReason(codeInvalidQueryParameterValue)
}

// unsupportedHeader refuses a feature that tresor does not have.
func unsupportedHeader(name, why string) error {
	return tresor.Errorf(tresor.Invalid, "The header %s is not supported: %s.", strings.ToLower(name), why).WithReason(codeUnsupportedHeader)
}

// logURL is a request's URL as it may be logged: without the signature of
// a SAS, which would let whoever reads the log use it.
func logURL(u *url.URL) string {
	q := u.Query()
	if !q.Has("sig") {
		return u.Redacted()
	}
	q.Set("sig", "REDACTED")
	c := *u
	c.RawQuery = q.Encode()
	return c.Redacted()
}
