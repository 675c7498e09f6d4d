package arm

import (
	"strings"
	"unicode/utf8"

	"github.com/tresorkms/tresor"
)

// ResourceID is a parsed ARM resource id such as
//
//	/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}
//
// Literal segments ("subscriptions", "resourceGroups", "providers") are
// matched case-insensitively, as ARM matches them; names, the provider
// namespace and the types keep their spelling. Types and Names are parallel:
// Types[i] is the type of the resource named Names[i], a child of the one
// before it. An id may stop after the subscription or the group.
type ResourceID struct {
	Subscription  string   // empty for tenant-level ids ("/providers/...")
	ResourceGroup string   // empty above the group level
	Provider      string   // namespace, such as "Microsoft.KeyVault"
	Types         []string // such as ["vaults"] or ["locations", "deletedVaults"]
	Names         []string // one per type
}

// maxIDLength bounds the ids Parse accepts; ARM's own limit is lower.
const maxIDLength = 4096

// Parse parses an ARM resource id. It returns Invalid if s is not one:
// empty segments, a provider without a type and name, a type without a
// name, or control characters.
func Parse(s string) (ResourceID, error) {
	bad := func(why string) (ResourceID, error) {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		return ResourceID{}, tresor.Errorf(tresor.Invalid, "'%s' is not a valid resource id: %s.", strings.ToValidUTF8(s, "?"), why)
	}
	if len(s) > maxIDLength {
		return bad("it is too long")
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("it contains invalid characters")
	}
	rest, ok := strings.CutPrefix(s, "/")
	if !ok {
		return bad("it must start with '/'")
	}
	seg := strings.Split(rest, "/")
	for _, x := range seg {
		if x == "" {
			return bad("it has an empty segment")
		}
	}
	var id ResourceID
	if strings.EqualFold(seg[0], "subscriptions") {
		if len(seg) < 2 {
			return bad("the subscription is missing")
		}
		id.Subscription, seg = seg[1], seg[2:]
		if len(seg) > 0 && strings.EqualFold(seg[0], "resourceGroups") {
			if len(seg) < 2 {
				return bad("the resource group name is missing")
			}
			id.ResourceGroup, seg = seg[1], seg[2:]
		}
		if len(seg) == 0 {
			return id, nil
		}
	}
	if !strings.EqualFold(seg[0], "providers") {
		return bad("expected 'providers' at '" + seg[0] + "'")
	}
	if len(seg) < 4 {
		return bad("a provider must be followed by a type and a name")
	}
	if len(seg)%2 != 0 {
		return bad("the type '" + seg[len(seg)-1] + "' has no name")
	}
	id.Provider = seg[1]
	for i := 2; i < len(seg); i += 2 {
		id.Types = append(id.Types, seg[i])
		id.Names = append(id.Names, seg[i+1])
	}
	return id, nil
}

// String formats id with ARM's canonical literal segments.
func (id ResourceID) String() string {
	var b strings.Builder
	if id.Subscription != "" {
		b.WriteString("/subscriptions/" + id.Subscription)
		if id.ResourceGroup != "" {
			b.WriteString("/resourceGroups/" + id.ResourceGroup)
		}
	}
	if id.Provider != "" {
		b.WriteString("/providers/" + id.Provider)
		for i := range id.Types {
			b.WriteString("/" + id.Types[i])
			if i < len(id.Names) {
				b.WriteString("/" + id.Names[i])
			}
		}
	}
	return b.String()
}

// Type returns the resource type, such as "Microsoft.KeyVault/vaults", or
// "" for a subscription or resource group id.
func (id ResourceID) Type() string {
	if id.Provider == "" {
		return ""
	}
	return id.Provider + "/" + strings.Join(id.Types, "/")
}

// Name returns the name of the resource id identifies: the last name, the
// group or the subscription.
func (id ResourceID) Name() string {
	switch {
	case len(id.Names) > 0:
		return id.Names[len(id.Names)-1]
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.Subscription
}

// Equal reports whether id and o identify the same resource. ARM ids are
// compared case-insensitively throughout.
func (id ResourceID) Equal(o ResourceID) bool {
	return strings.EqualFold(id.String(), o.String())
}
