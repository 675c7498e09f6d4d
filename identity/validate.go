package identity

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"github.com/tresorkms/tresor"
)

// ClockSkew is the tolerance for a token's exp and nbf claims.
const ClockSkew = 5 * time.Minute

// maxTokenSize bounds the work done on a token before its signature is
// checked. Entra's tokens are 1 to 3 KiB.
const maxTokenSize = 16 << 10

// Validate checks an access token issued by this Service and returns the
// principal it was issued to. The token must be an RS256 JWT signed by one
// of the Service's signing keys, issued for a tenant that exists (iss and
// tid agree), valid at Now within ClockSkew, and addressed to one of
// audiences; audiences compare ignoring case and trailing slashes.
//
// Every failure is Unauthenticated, with a Message that says what is wrong
// and is safe to return to the caller, except a failure to read the Store,
// which is Internal.
func (s *Service) Validate(ctx context.Context, raw string, audiences ...string) (tresor.Principal, error) {
	fail := func(format string, args ...any) (tresor.Principal, error) {
		return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, format, args...)
	}
	if len(raw) > maxTokenSize {
		return fail("The access token is too large.")
	}
	v, err := s.verified(ctx, raw)
	if err != nil {
		return tresor.Principal{}, err
	}
	c := &v.claims
	if !matchAudience(c.Aud, audiences) {
		return fail("Invalid audience. Expected %s, found: %s.", strings.Join(audiences, " or "), clip(c.Aud))
	}
	now := s.now()
	if now.After(time.Unix(c.Exp, 0).Add(ClockSkew)) {
		return fail("The access token has expired (exp %s).", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	if c.Nbf != 0 && now.Add(ClockSkew).Before(time.Unix(c.Nbf, 0)) {
		return fail("The access token is not valid before %s.", time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339))
	}
	return v.principal, nil
}

// verifiedToken is what is known about a token once its signature, issuer
// and claims have been checked: everything but the checks that depend on the
// time or on the audience the caller expects.
type verifiedToken struct {
	kid       string
	claims    claims
	principal tresor.Principal
}

// verified checks a token's signature, issuer, tenant and claims, or
// returns the result of an earlier check of the same token. The cache spares
// an RSA verification per request (a client reuses its token for an hour);
// a hit still requires the signing key to be known, so a retired key's
// tokens stop working when the key does.
func (s *Service) verified(ctx context.Context, raw string) (*verifiedToken, error) {
	sum := sha256.Sum256([]byte(raw))
	if v, ok := s.tokens.get(sum); ok {
		pub, err := s.publicKey(ctx, v.kid)
		if err != nil {
			return nil, err
		}
		if pub != nil {
			return v, nil
		}
		s.tokens.remove(sum)
	}
	v, err := s.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	s.tokens.put(sum, v, time.Unix(v.claims.Exp, 0).Add(ClockSkew), s.now())
	return v, nil
}

// verify is verified without the cache: for tokens seen once, such as a
// client assertion, which would only crowd out the bearer tokens that
// clients reuse.
func (s *Service) verify(ctx context.Context, raw string) (*verifiedToken, error) {
	fail := func(format string, args ...any) (*verifiedToken, error) {
		return nil, tresor.Errorf(tresor.Unauthenticated, format, args...)
	}
	t, err := parseJWS(raw)
	if err != nil {
		return fail("The access token is malformed: it is not a JSON Web Token.")
	}
	// Only RS256: "none" and the HMAC algorithms, whose key a confused
	// verifier would take from the public key, must never pass.
	if t.header.Alg != algRS256 {
		return fail("The access token's algorithm %q is not allowed; tokens are signed with RS256.", clip(t.header.Alg))
	}
	pub, err := s.publicKey(ctx, t.header.Kid)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return fail("The access token's signing key %q is not known.", clip(t.header.Kid))
	}
	if !t.verify(pub) {
		return fail("The access token's signature is invalid.")
	}

	v := &verifiedToken{kid: t.header.Kid}
	c := &v.claims
	if err := strictUnmarshal(t.payload, c); err != nil {
		return fail("The access token's claims are malformed.")
	}
	tenant, ok := s.tenantOfIssuer(c.Iss)
	if !ok {
		return fail("Invalid issuer. Expected %s, found: %s.", s.TenantIssuer("{tenant}"), clip(c.Iss))
	}
	if c.TID != tenant {
		return fail("Invalid issuer: the issuer's tenant %s differs from the tid claim %s.", tenant, clip(c.TID))
	}
	if err := s.knownTenant(ctx, tenant); err != nil {
		if tresor.IsKind(err, tresor.NotFound) {
			return fail("Invalid issuer: tenant %s does not exist.", tenant)
		}
		return nil, err
	}
	if c.Exp == 0 {
		return fail("The access token lacks the exp claim.")
	}
	if c.OID == "" || c.AppID == "" {
		return fail("The access token lacks the oid or appid claim.")
	}
	typ := tresor.ServicePrincipal
	if c.PrincipalType != "" {
		typ = tresor.PrincipalType(c.PrincipalType)
	}
	v.principal = tresor.Principal{TenantID: tenant, ObjectID: c.OID, AppID: c.AppID, Name: c.AppDisplayName, Type: typ}
	return v, nil
}

// tokenCache holds verified tokens by the SHA-256 of their text until they
// expire. It is bounded: when full, expired entries go first, and if none
// has expired the cache starts over.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]tokenEntry
}

type tokenEntry struct {
	v       *verifiedToken
	expires time.Time
}

const maxCachedTokens = 4096

func (c *tokenCache) get(sum [32]byte) (*verifiedToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[sum]
	return e.v, ok
}

func (c *tokenCache) put(sum [32]byte, v *verifiedToken, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[[32]byte]tokenEntry)
	}
	if len(c.entries) >= maxCachedTokens {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedTokens {
			clear(c.entries)
		}
	}
	c.entries[sum] = tokenEntry{v: v, expires: expires}
}

func (c *tokenCache) remove(sum [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, sum)
}

// tenantOfIssuer returns the tenant of an issuer of the form
// TenantIssuer(tenant).
func (s *Service) tenantOfIssuer(iss string) (string, bool) {
	rest, ok := strings.CutPrefix(iss, s.BaseURL()+"/")
	if !ok {
		return "", false
	}
	tenant, ok := strings.CutSuffix(rest, "/")
	if !ok || !IsGUID(tenant) || strings.ToLower(tenant) != tenant {
		return "", false
	}
	return tenant, true
}

func matchAudience(aud string, audiences []string) bool {
	if aud == "" {
		return false
	}
	for _, a := range audiences {
		if sameAudience(aud, a) {
			return true
		}
	}
	return false
}
