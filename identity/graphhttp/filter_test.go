package graphhttp

import (
	"errors"
	"testing"

	"github.com/tresorkms/tresor"
)

func TestFilter(t *testing.T) {
	it := item{
		props: map[string]string{"id": "i-1", "appid": "A-1", "displayname": "it's ci"},
		lists: map[string][]string{"serviceprincipalnames": {"A-1", "api://ci"}},
	}
	props := map[string]bool{"id": true, "appid": true, "displayname": true}
	tests := []struct {
		filter string
		want   bool
		reason string // the error's Reason, if it fails to parse
	}{
		{"", true, ""},
		{"  ", true, ""},
		{"appId eq 'a-1'", true, ""},
		{"APPID EQ 'A-1'", true, ""},
		{"appId eq 'A-2'", false, ""},
		{"displayName eq 'it''s ci'", true, ""},
		{"startswith(displayName,'IT')", true, ""},
		{"startswith(displayName, 'ci')", false, ""},
		{"appId eq 'A-1' and id eq 'i-2'", false, ""},
		{"appId eq 'A-2' or id eq 'i-1'", true, ""},
		{"(appId eq 'A-2' or id eq 'i-1') and displayName eq 'x'", false, ""},
		{"appId eq 'A-2' or id eq 'i-1' and displayName eq 'x'", false, ""}, // and binds tighter
		{"appId eq 'A-1' or id eq 'i-9' and displayName eq 'x'", true, ""},
		{"servicePrincipalNames/any(c:c eq 'API://CI')", true, ""},
		{"servicePrincipalNames/any(x:x eq 'api://other')", false, ""},
		{"identifierUris/any(s:s eq 'api://ci')", false, ""}, // an empty collection
		{"signInAudience eq 'x'", false, codeUnsupportedQuery},
		{"startswith(tags,'x')", false, codeUnsupportedQuery},
		{"appId ne 'x'", false, codeUnsupportedQuery},
		{"servicePrincipalNames/all(c:c eq 'x')", false, codeUnsupportedQuery},
		{"appId eq 'x", false, codeBadRequest},
		{"appId eq x", false, codeBadRequest},
		{"appId eq", false, codeBadRequest},
		{"(appId eq 'x'", false, codeBadRequest},
		{"appId eq 'x')", false, codeBadRequest},
		{"appId eq 'x' and", false, codeBadRequest},
		{"servicePrincipalNames/any(c:d eq 'x')", false, codeBadRequest},
		{"appId eq 'x' ; drop", false, codeBadRequest},
	}
	for _, tt := range tests {
		pred, err := parseFilter(tt.filter, props)
		if tt.reason != "" {
			var te *tresor.Error
			if !errors.As(err, &te) || te.Kind != tresor.Invalid || te.Reason != tt.reason {
				t.Errorf("parseFilter(%q) = %v; want Invalid with reason %s", tt.filter, err, tt.reason)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFilter(%q) = %v", tt.filter, err)
			continue
		}
		if got := pred(it); got != tt.want {
			t.Errorf("parseFilter(%q) on %v = %v, want %v", tt.filter, it.props, got, tt.want)
		}
	}
}

// FuzzFilter checks that no $filter, which arrives from any caller, makes
// the parser or a predicate panic or fail with anything but Invalid.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"appId eq 'x'", "startswith(displayName,'a') or (id eq 'b' and appId eq 'c')",
		"servicePrincipalNames/any(c:c eq 'x')", "'", "((((", "a/any(", "displayName eq 'it''s'",
	} {
		f.Add(s)
	}
	props := map[string]bool{"id": true, "appid": true, "displayname": true}
	it := item{props: map[string]string{"id": "x"}, lists: map[string][]string{"serviceprincipalnames": {"x"}}}
	f.Fuzz(func(t *testing.T, s string) {
		pred, err := parseFilter(s, props)
		if err != nil {
			if !tresor.IsKind(err, tresor.Invalid) {
				t.Fatalf("parseFilter(%q) = %v, want Invalid", s, err)
			}
			return
		}
		pred(it)
	})
}
