// Package arm is the kernel of tresor's Azure Resource Manager control
// plane: resource ids, subscriptions and resource groups. Resource providers
// (arm/vault, ...) build on it; arm/armhttp is its REST front door.
package arm

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// ResourceID is a parsed ARM resource id:
// /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}...].
type ResourceID struct {
	Subscription  string
	ResourceGroup string
	Provider      string   // namespace, such as "Microsoft.KeyVault"
	Types         []string // resource type chain, such as ["vaults"]
	Names         []string // one name per type
}

// ParseResourceID parses s. Literal segments are matched case-insensitively,
// as ARM does; names keep their case.
func ParseResourceID(s string) (ResourceID, error) {
	var id ResourceID
	seg := strings.Split(strings.Trim(s, "/"), "/")
	bad := func() (ResourceID, error) {
		return ResourceID{}, tresor.Errorf(tresor.Invalid, "%q is not a valid resource id", s)
	}
	if len(seg) < 2 || !strings.EqualFold(seg[0], "subscriptions") || seg[1] == "" {
		return bad()
	}
	id.Subscription, seg = seg[1], seg[2:]
	if len(seg) >= 2 && strings.EqualFold(seg[0], "resourceGroups") {
		if seg[1] == "" {
			return bad()
		}
		id.ResourceGroup, seg = seg[1], seg[2:]
	}
	if len(seg) == 0 {
		return id, nil
	}
	if len(seg) < 4 || !strings.EqualFold(seg[0], "providers") || seg[1] == "" || len(seg[2:])%2 != 0 {
		return bad()
	}
	id.Provider = seg[1]
	for i := 2; i < len(seg); i += 2 {
		if seg[i] == "" || seg[i+1] == "" {
			return bad()
		}
		id.Types, id.Names = append(id.Types, seg[i]), append(id.Names, seg[i+1])
	}
	return id, nil
}

// String formats id in ARM's canonical spelling.
func (id ResourceID) String() string {
	var b strings.Builder
	b.WriteString("/subscriptions/" + id.Subscription)
	if id.ResourceGroup != "" {
		b.WriteString("/resourceGroups/" + id.ResourceGroup)
	}
	if id.Provider != "" {
		b.WriteString("/providers/" + id.Provider)
		for i := range id.Types {
			b.WriteString("/" + id.Types[i] + "/" + id.Names[i])
		}
	}
	return b.String()
}

// Subscription is an Azure subscription, the unit that owns resource groups.
type Subscription struct {
	ID          string
	TenantID    string
	DisplayName string
	State       string // "Enabled"
}

// ResourceGroup is a named container of resources in a subscription. Names
// are unique case-insensitively within a subscription.
type ResourceGroup struct {
	SubscriptionID string
	Name           string
	Location       string
	Tags           map[string]string
	Created        time.Time
}

// Store persists subscriptions and resource groups. Methods return
// tresor.NotFound for missing objects.
type Store interface {
	CreateSubscription(ctx context.Context, s Subscription) error
	Subscription(ctx context.Context, id string) (Subscription, error)
	Subscriptions(ctx context.Context) ([]Subscription, error)
	// PutResourceGroup creates or replaces a group and reports whether it
	// was created.
	PutResourceGroup(ctx context.Context, g ResourceGroup) (bool, error)
	ResourceGroup(ctx context.Context, subscription, name string) (ResourceGroup, error)
	ResourceGroups(ctx context.Context, subscription string) ([]ResourceGroup, error)
	DeleteResourceGroup(ctx context.Context, subscription, name string) error
}

// Reasons: ARM error codes clients see.
const (
	ReasonSubscriptionNotFound  = "SubscriptionNotFound"
	ReasonResourceGroupNotFound = "ResourceGroupNotFound"
	ReasonResourceNotFound      = "ResourceNotFound"
	ReasonInvalidParameter      = "InvalidParameter"
)

// Service manages subscriptions and resource groups.
type Service struct {
	Store Store
	Now   func() time.Time
}

// Bootstrap returns the first subscription, creating one for tenantID on a
// new installation.
func (s *Service) Bootstrap(ctx context.Context, tenantID string) (Subscription, error) {
	subs, err := s.Store.Subscriptions(ctx)
	if err != nil {
		return Subscription{}, err
	}
	if len(subs) > 0 {
		return subs[0], nil
	}
	sub := Subscription{ID: NewGUID(), TenantID: tenantID, DisplayName: "tresor", State: "Enabled"}
	return sub, s.Store.CreateSubscription(ctx, sub)
}

// Subscription returns a subscription; NotFound with ReasonSubscriptionNotFound.
func (s *Service) Subscription(ctx context.Context, id string) (Subscription, error) {
	sub, err := s.Store.Subscription(ctx, id)
	if tresor.IsKind(err, tresor.NotFound) {
		return Subscription{}, tresor.Errorf(tresor.NotFound, "The subscription '%s' could not be found.", id).WithReason(ReasonSubscriptionNotFound)
	}
	return sub, err
}

// Subscriptions lists the subscriptions.
func (s *Service) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return s.Store.Subscriptions(ctx)
}

// CreateOrUpdateResourceGroup creates or updates a group and reports
// whether it was created.
func (s *Service) CreateOrUpdateResourceGroup(ctx context.Context, g ResourceGroup) (ResourceGroup, bool, error) {
	if _, err := s.Subscription(ctx, g.SubscriptionID); err != nil {
		return ResourceGroup{}, false, err
	}
	if !validGroupName(g.Name) {
		return ResourceGroup{}, false, tresor.Errorf(tresor.Invalid,
			"Resource group name '%s' is invalid. It can include alphanumeric, underscore, parentheses, hyphen, period (except at end), and Unicode characters that match the allowed characters.", g.Name).WithReason("InvalidResourceGroup")
	}
	if g.Location == "" {
		return ResourceGroup{}, false, tresor.Errorf(tresor.Invalid, "The location property is required for this definition.").WithReason("LocationRequired")
	}
	old, err := s.Store.ResourceGroup(ctx, g.SubscriptionID, g.Name)
	switch {
	case err == nil:
		g.Name, g.Created = old.Name, old.Created // ARM keeps the first spelling
	case tresor.IsKind(err, tresor.NotFound):
		g.Created = s.now()
	default:
		return ResourceGroup{}, false, err
	}
	created, err := s.Store.PutResourceGroup(ctx, g)
	return g, created, err
}

// ResourceGroup returns a group; NotFound with ReasonResourceGroupNotFound.
func (s *Service) ResourceGroup(ctx context.Context, subscription, name string) (ResourceGroup, error) {
	if _, err := s.Subscription(ctx, subscription); err != nil {
		return ResourceGroup{}, err
	}
	g, err := s.Store.ResourceGroup(ctx, subscription, name)
	if tresor.IsKind(err, tresor.NotFound) {
		return ResourceGroup{}, tresor.Errorf(tresor.NotFound, "Resource group '%s' could not be found.", name).WithReason(ReasonResourceGroupNotFound)
	}
	return g, err
}

// ResourceGroups lists a subscription's groups.
func (s *Service) ResourceGroups(ctx context.Context, subscription string) ([]ResourceGroup, error) {
	if _, err := s.Subscription(ctx, subscription); err != nil {
		return nil, err
	}
	return s.Store.ResourceGroups(ctx, subscription)
}

// DeleteResourceGroup deletes an empty group; callers delete its resources
// first.
func (s *Service) DeleteResourceGroup(ctx context.Context, subscription, name string) error {
	if _, err := s.ResourceGroup(ctx, subscription, name); err != nil {
		return err
	}
	return s.Store.DeleteResourceGroup(ctx, subscription, name)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func validGroupName(name string) bool {
	if name == "" || len(name) > 90 || strings.HasSuffix(name, ".") {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r == '.' || r == '(' || r == ')' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127) {
			return false
		}
	}
	return true
}

// NewGUID returns a random RFC 4122 version 4 GUID.
func NewGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
