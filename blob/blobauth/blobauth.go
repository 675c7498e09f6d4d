// Package blobauth authenticates Azure Blob REST requests the way Azure
// Storage does, so that the unmodified azblob (Go) and @azure/storage-blob
// (JS) clients can talk to tresor: Shared Key ("Authorization: SharedKey
// account:signature") and shared access signatures, both service SAS and
// account SAS.
//
// It works on the transport level and knows nothing of containers or blobs
// beyond their names. A transport picks the scheme from the request: an
// Authorization header that starts with "SharedKey " goes to
// VerifySharedKey, a query with a "sig" parameter to VerifySAS. It then maps
// the returned *tresor.Error to Storage's XML error. Reason is the Storage
// error code and Message its text. Azure answers AuthenticationFailed
// (tresor.Unauthenticated here) with 403, not 401.
// For AuthenticationFailed the Err of the error says what did not match,
// in the spirit of Storage's AuthenticationErrorDetail. It never holds key
// material.
package blobauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
)

// An Account is a storage account as authentication sees it: its name and
// its access keys (key1, key2), as raw bytes (the base64-decoded form the
// SDKs' connection strings carry). Empty keys are never used, so an account
// may leave key2 unset.
type Account struct {
	Name string
	Keys [][]byte
}

// MaxClockSkew is how far the x-ms-date (or Date) of a Shared Key request
// may be from the server's clock, in either direction, as in Azure. A SAS
// start time (st) may be up to MaxClockSkew in the future, to absorb the
// skew between the clock of the client that signed it and ours.
const MaxClockSkew = 15 * time.Minute

// Storage error codes for failed authentication and authorization, set as the
// Reason of the errors this package returns.
const (
	ReasonAuthenticationFailed              = "AuthenticationFailed"
	ReasonInvalidAuthenticationInfo         = "InvalidAuthenticationInfo"
	ReasonAuthorizationPermissionMismatch   = "AuthorizationPermissionMismatch"
	ReasonAuthorizationProtocolMismatch     = "AuthorizationProtocolMismatch"
	ReasonAuthorizationResourceTypeMismatch = "AuthorizationResourceTypeMismatch"
	ReasonAuthorizationServiceMismatch      = "AuthorizationServiceMismatch"
	ReasonAuthorizationSourceIPMismatch     = "AuthorizationSourceIPMismatch"
)

// matchMAC reports whether mac is the HMAC-SHA256 of toSign under one of
// acct's keys, comparing in constant time. Empty keys are skipped: anyone can
// compute a MAC under an empty key.
func matchMAC(acct Account, toSign string, mac []byte) bool {
	ok := false
	for _, key := range acct.Keys {
		if len(key) == 0 {
			continue
		}
		ok = hmac.Equal(hmacSHA256(key, toSign), mac) || ok
	}
	return ok
}

func hmacSHA256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// authFailed returns Storage's AuthenticationFailed. The detail is kept as
// the error's cause.
func authFailed(format string, args ...any) *tresor.Error {
	e := tresor.Errorf(tresor.Unauthenticated, "%s",
		"Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.").
		WithReason(ReasonAuthenticationFailed)
	e.Err = fmt.Errorf(format, args...)
	return e
}

// invalidAuthInfo returns Storage's InvalidAuthenticationInfo (400), for an
// Authorization header that cannot be parsed.
func invalidAuthInfo(format string, args ...any) *tresor.Error {
	e := tresor.Errorf(tresor.Invalid, "%s",
		"Authentication information is not given in the correct format. Check the value of Authorization header.").
		WithReason(ReasonInvalidAuthenticationInfo)
	e.Err = fmt.Errorf(format, args...)
	return e
}

// notAuthorized returns one of the SAS authorization errors, all 403 with
// the message "This request is not authorized to perform this operation
// using this <what>."
func notAuthorized(reason, what string) *tresor.Error {
	return tresor.Errorf(tresor.Forbidden, "This request is not authorized to perform this operation using this %s.", what).
		WithReason(reason)
}
