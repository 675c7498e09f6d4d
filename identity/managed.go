package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/tresorkms/tresor"
)

// Managed identities have no secret. The platform obtains their tokens for
// them, as Azure's compute hosts do through IMDS or the App Service
// identity endpoint. tresor serves the App Service form (idhttp), which
// azidentity's and @azure/identity's ManagedIdentityCredential use when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set: the header is the host's
// secret, HostSecret, and whoever holds it may obtain tokens for any
// managed identity of the installation, as an App Service app may for the
// identities assigned to it. Consumers inside tresor (storage accounts,
// disk encryption sets) act as their identity directly and need no token.

// NewManagedIdentity returns the principal of a new managed identity of the
// ARM resource resourceID in a tenant, with new object and client ids. It
// does not store it: the resource provider stores it together with its
// resource. Invalid if displayName or resourceID is empty or too long.
func (s *Service) NewManagedIdentity(tenantID, displayName, resourceID string) (ServicePrincipal, error) {
	if err := checkDisplayName(displayName); err != nil {
		return ServicePrincipal{}, err
	}
	if resourceID == "" || len(resourceID) > maxResourceID {
		return ServicePrincipal{}, tresor.Errorf(tresor.Invalid, "a managed identity needs a resource id of 1 to %d characters", maxResourceID)
	}
	return ServicePrincipal{
		ObjectID:    NewGUID(),
		AppID:       NewGUID(),
		DisplayName: displayName,
		TenantID:    strings.ToLower(tenantID),
		Type:        tresor.ManagedIdentity,
		ResourceID:  resourceID,
		Created:     s.now(),
	}, nil
}

const maxResourceID = 1024

// DeleteServicePrincipal deletes a principal. Its tokens stay valid until
// they expire (at most TokenLifetime), as Entra's do; its role assignments
// stay, granting nothing to anyone, until they are deleted. NotFound if
// there is no such principal.
func (s *Service) DeleteServicePrincipal(ctx context.Context, objectID string) error {
	return s.Store.DeleteServicePrincipal(ctx, strings.ToLower(objectID))
}

// ManagedIdentityRequest asks for a managed identity's token, as a compute
// host's identity endpoint receives it. At most one of ClientID, ObjectID
// and ResourceID selects a user-assigned identity; none selects the host's
// system-assigned identity, which tresor's host does not have.
type ManagedIdentityRequest struct {
	HostSecret string // the X-IDENTITY-HEADER value
	Resource   string // the audience, such as https://vault.azure.net
	ClientID   string
	ObjectID   string
	ResourceID string
}

// IssueManagedIdentityToken issues an access token for a managed identity.
// Unauthenticated if the host secret is wrong or the Service has none;
// Invalid if the request names no identity or more than one selector, or
// an unknown audience; NotFound if no managed identity matches.
func (s *Service) IssueManagedIdentityToken(ctx context.Context, req ManagedIdentityRequest) (Token, error) {
	if s.HostSecret == "" || subtle.ConstantTimeCompare(hostDigest(req.HostSecret), hostDigest(s.HostSecret)) != 1 {
		return Token{}, tresor.Errorf(tresor.Unauthenticated,
			"The X-IDENTITY-HEADER is missing or wrong. It must be this tresor's identity header (TRESOR_IDENTITY_HEADER in tresor.env).")
	}
	n := 0
	for _, v := range []string{req.ClientID, req.ObjectID, req.ResourceID} {
		if v != "" {
			n++
		}
	}
	var (
		sp  ServicePrincipal
		err error
	)
	switch {
	case n == 0:
		return Token{}, tresor.Errorf(tresor.Invalid,
			"The tresor host has no system-assigned identity. Name a user-assigned identity with client_id, object_id or mi_res_id.")
	case n > 1:
		return Token{}, tresor.Errorf(tresor.Invalid, "Name the managed identity with only one of client_id, object_id and mi_res_id.")
	case req.ClientID != "":
		sp, err = s.Store.ServicePrincipalByAppID(ctx, "", strings.ToLower(req.ClientID)) // managed identities only
	case req.ObjectID != "":
		sp, err = s.Store.ServicePrincipal(ctx, strings.ToLower(req.ObjectID))
	default:
		sp, err = s.Store.ServicePrincipalByResourceID(ctx, req.ResourceID)
	}
	if err == nil && sp.Type != tresor.ManagedIdentity {
		err = tresor.Errorf(tresor.NotFound, "not a managed identity")
	}
	if tresor.IsKind(err, tresor.NotFound) {
		return Token{}, tresor.Errorf(tresor.NotFound,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
	}
	if err != nil {
		return Token{}, err
	}
	aud, err := s.audienceForScope(strings.TrimSuffix(req.Resource, "/.default")+"/.default", sp.TenantID)
	if err != nil {
		return Token{}, err
	}
	return s.issue(ctx, sp, aud, "2")
}

// hostDigest hashes a host secret so that comparing two takes the same
// time whatever their lengths.
func hostDigest(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
