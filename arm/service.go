package arm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tresorkms/tresor"
)

// Service manages subscriptions and resource groups. Its methods are named
// after Azure's REST operationIds. It is safe for concurrent use.
//
// Resource providers own what is inside a group: deleting a group's
// resources before the group is the front door's job, as only it knows the
// providers.
type Service struct {
	Store Store
	// Rand is the source of subscription ids; nil means crypto/rand.
	Rand io.Reader
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{Store: store} }

// Bootstrap returns the first subscription of tenantID, creating one with a
// random id if the tenant has none, as on a new installation. It is
// idempotent.
func (s *Service) Bootstrap(ctx context.Context, tenantID string) (Subscription, error) {
	if tenantID == "" {
		return Subscription{}, tresor.Errorf(tresor.Invalid, "bootstrap: a tenant id is required")
	}
	subs, err := s.Store.Subscriptions(ctx)
	if err != nil {
		return Subscription{}, err
	}
	for _, sub := range subs {
		if strings.EqualFold(sub.TenantID, tenantID) {
			return sub, nil
		}
	}
	id, err := s.newGUID()
	if err != nil {
		return Subscription{}, err
	}
	sub := Subscription{ID: id, TenantID: tenantID, DisplayName: "tresor", State: SubscriptionEnabled}
	if err := s.Store.CreateSubscription(ctx, sub); err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

// newGUID returns a random RFC 4122 version 4 GUID in lower case.
func (s *Service) newGUID() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", tresor.Wrap(err, "arm: new subscription id")
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// GetSubscription returns the subscription with that id, compared
// case-insensitively. NotFound (ReasonSubscriptionNotFound) if there is none.
func (s *Service) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	sub, err := s.Store.Subscription(ctx, strings.ToLower(id))
	if tresor.IsKind(err, tresor.NotFound) {
		return Subscription{}, tresor.Errorf(tresor.NotFound, "The subscription '%s' could not be found.", id).WithReason(ReasonSubscriptionNotFound)
	}
	return sub, err
}

// ListSubscriptions lists all subscriptions, oldest first. Callers show each
// principal only its tenant's.
func (s *Service) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	return s.Store.Subscriptions(ctx)
}

// CreateOrUpdateResourceGroup creates g, or replaces the tags of the group of
// that name, and reports whether it was created. The group keeps the name it
// was created with.
//
// It returns NotFound (ReasonSubscriptionNotFound) for an unknown
// subscription, and Invalid for a bad name, location or tags, or a location
// different from the existing group's (ReasonInvalidGroupLocation).
func (s *Service) CreateOrUpdateResourceGroup(ctx context.Context, g ResourceGroup) (ResourceGroup, bool, error) {
	sub, err := s.GetSubscription(ctx, g.SubscriptionID)
	if err != nil {
		return ResourceGroup{}, false, err
	}
	g.SubscriptionID = sub.ID
	if err := validateGroupName(g.Name); err != nil {
		return ResourceGroup{}, false, err
	}
	if g.Location, err = ValidateLocation(g.Location); err != nil {
		return ResourceGroup{}, false, err
	}
	if err := ValidateTags(g.Tags); err != nil {
		return ResourceGroup{}, false, err
	}
	old, err := s.Store.ResourceGroup(ctx, g.SubscriptionID, g.Name)
	created := tresor.IsKind(err, tresor.NotFound)
	switch {
	case created:
	case err != nil:
		return ResourceGroup{}, false, err
	case old.Location != g.Location:
		return ResourceGroup{}, false, tresor.Errorf(tresor.Invalid,
			"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", g.Location, old.Location).WithReason(ReasonInvalidGroupLocation)
	default:
		g.Name = old.Name
	}
	if g.Tags == nil {
		g.Tags = map[string]string{}
	}
	if err := s.Store.PutResourceGroup(ctx, g); err != nil {
		return ResourceGroup{}, false, err
	}
	return g, created, nil
}

// GetResourceGroup returns the group of that name, compared
// case-insensitively. NotFound (ReasonResourceGroupNotFound or
// ReasonSubscriptionNotFound) if it does not exist.
func (s *Service) GetResourceGroup(ctx context.Context, subscriptionID, name string) (ResourceGroup, error) {
	g, err := s.Store.ResourceGroup(ctx, strings.ToLower(subscriptionID), name)
	if tresor.IsKind(err, tresor.NotFound) {
		if _, err := s.GetSubscription(ctx, subscriptionID); err != nil {
			return ResourceGroup{}, err
		}
		return ResourceGroup{}, tresor.Errorf(tresor.NotFound, "Resource group '%s' could not be found.", name).WithReason(ReasonResourceGroupNotFound)
	}
	return g, err
}

// UpdateResourceGroup replaces the tags of an existing group, as PATCH does.
// NotFound as for GetResourceGroup; Invalid for bad tags.
func (s *Service) UpdateResourceGroup(ctx context.Context, subscriptionID, name string, tags map[string]string) (ResourceGroup, error) {
	g, err := s.GetResourceGroup(ctx, subscriptionID, name)
	if err != nil {
		return ResourceGroup{}, err
	}
	if err := ValidateTags(tags); err != nil {
		return ResourceGroup{}, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	g.Tags = tags
	if err := s.Store.PutResourceGroup(ctx, g); err != nil {
		return ResourceGroup{}, err
	}
	return g, nil
}

// ListResourceGroups lists a subscription's groups by name. NotFound
// (ReasonSubscriptionNotFound) for an unknown subscription.
func (s *Service) ListResourceGroups(ctx context.Context, subscriptionID string) ([]ResourceGroup, error) {
	sub, err := s.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return nil, err
	}
	return s.Store.ResourceGroups(ctx, sub.ID)
}

// DeleteResourceGroup deletes the group itself. Callers delete the group's
// resources first. NotFound as for GetResourceGroup.
func (s *Service) DeleteResourceGroup(ctx context.Context, subscriptionID, name string) error {
	g, err := s.GetResourceGroup(ctx, subscriptionID, name)
	if err != nil {
		return err
	}
	return s.Store.DeleteResourceGroup(ctx, g.SubscriptionID, g.Name)
}

// validateGroupName applies Azure's rule: 1 to 90 letters, digits,
// underscores, parentheses, hyphens and periods, not ending in a period.
func validateGroupName(name string) error {
	ok := name != "" && utf8.RuneCountInString(name) <= 90 && !strings.HasSuffix(name, ".")
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.()", r) {
			ok = false
		}
	}
	if !ok {
		return tresor.Errorf(tresor.Invalid,
			"Resource group name '%s' is invalid. It can include alphanumeric, underscore, parentheses, hyphen, period (except at end), and Unicode characters that match the allowed characters, and be at most 90 characters long.",
			strings.ToValidUTF8(name, "?")).WithReason(ReasonInvalidGroupName)
	}
	return nil
}

// NormalizeLocation returns ARM's spelling of a location: lower case without
// spaces ("West Europe" becomes "westeurope").
func NormalizeLocation(loc string) string {
	return strings.ToLower(strings.ReplaceAll(loc, " ", ""))
}

// ValidateLocation normalises loc and checks that it is a plausible location
// name. tresor runs in one place, so any name is accepted: it is a label.
// Invalid (ReasonLocationRequired, ReasonInvalidLocation) otherwise.
func ValidateLocation(loc string) (string, error) {
	n := NormalizeLocation(loc)
	if n == "" {
		return "", tresor.Errorf(tresor.Invalid, "The location property is required for this definition.").WithReason(ReasonLocationRequired)
	}
	if len(n) > 64 || strings.ContainsFunc(n, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
		return "", tresor.Errorf(tresor.Invalid, "The location '%s' is not a valid location name.", strings.ToValidUTF8(loc, "?")).WithReason(ReasonInvalidLocation)
	}
	return n, nil
}

// ValidateTags applies ARM's limits: at most 50 tags, names of 1 to 512
// characters without <>%&\?/, values of at most 256. Invalid (ReasonInvalidTag)
// otherwise.
func ValidateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return tresor.Errorf(tresor.Invalid, "The resource has %d tags; at most 50 are allowed.", len(tags)).WithReason(ReasonInvalidTag)
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > 512 || strings.ContainsAny(k, `<>%&\?/`) {
			return tresor.Errorf(tresor.Invalid, "The tag name '%s' is invalid: it must be 1 to 512 characters long and not contain <>%%&\\?/.", strings.ToValidUTF8(k, "?")).WithReason(ReasonInvalidTag)
		}
		if utf8.RuneCountInString(v) > 256 {
			return tresor.Errorf(tresor.Invalid, "The value of tag '%s' is longer than 256 characters.", strings.ToValidUTF8(k, "?")).WithReason(ReasonInvalidTag)
		}
	}
	return nil
}
