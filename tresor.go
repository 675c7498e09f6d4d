// Package tresor holds the vocabulary shared by every part of tresor, a
// self-hosted, Azure-compatible platform for customer-managed keys: the Error
// type with its Kinds, and the Principal on whose behalf a request runs.
//
// It depends on the standard library only. Domain packages (keyvault, arm,
// identity) build on it; transports map its Kinds to Azure's wire shapes.
package tresor

import "context"

// PrincipalType says what kind of identity a Principal is.
type PrincipalType string

// The principal types, spelled as Azure spells them in role assignments.
const (
	ServicePrincipal PrincipalType = "ServicePrincipal"
	User             PrincipalType = "User"
	ManagedIdentity  PrincipalType = "ManagedIdentity"
)

// Principal is an authenticated caller, as established from a validated token.
type Principal struct {
	TenantID string
	ObjectID string // the principal's object id ("oid" claim)
	AppID    string // the client (application) id ("appid"/"azp" claim)
	Name     string
	Type     PrincipalType
}

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal carried by ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
