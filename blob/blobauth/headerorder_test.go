package blobauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected orders below were checked against the comparators of azblob
// v1.6.4 (internal/exported/shared_key_credential.go) and
// @azure/storage-common 12.5.0 (utils/SharedKeyComparator.js), run on the
// same names.
func TestCompareHeaderNames(t *testing.T) {
	tests := []struct {
		a, b    string
		want    int
		ordinal bool // whether byte order agrees
	}{
		{"x-ms-meta-ab", "x-ms-meta-a-b", -1, false},
		{"x-ms-original", "x-ms-or-policy-id", -1, false},
		{"x-ms-meta-a_1", "x-ms-meta-a1", -1, false},
		{"x-ms-meta-ab-c", "x-ms-meta-a-bc", -1, false},
		{"x-ms-meta-a~b", "x-ms-meta-a+b", -1, false},
		{"x-ms-meta-a'b", "x-ms-meta-a-b", -1, true},
		{"x-ms-meta-a", "x-ms-meta-a-", -1, true},
		{"x-ms-date", "x-ms-meta-a", -1, true},
		{"x-ms-range", "x-ms-range-get-content-md5", -1, true},
		{"x-ms-blob-content-type", "x-ms-blob-type", -1, true},
		{"x-ms-meta-a.b", "x-ms-meta-a0", -1, true},
		{"x-ms-meta-z-", "x-ms-meta-zz", -1, true},
		{"x-ms-meta-ab", "x-ms-meta-ab", 0, true},
	}
	for _, tt := range tests {
		if got := compareHeaderNames(tt.a, tt.b); got != tt.want {
			t.Errorf("compareHeaderNames(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareHeaderNames(tt.b, tt.a); got != -tt.want {
			t.Errorf("compareHeaderNames(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		if got := strings.Compare(tt.a, tt.b) == tt.want; got != tt.ordinal {
			t.Errorf("byte order of %q, %q agrees: %v, want %v", tt.a, tt.b, got, tt.ordinal)
		}
	}
}

func TestCanonicalHeadersOrder(t *testing.T) {
	names := []string{
		"x-ms-version", "x-ms-meta-ab", "x-ms-meta-a-b", "x-ms-meta-a_1", "x-ms-meta-a1",
		"x-ms-meta-original", "x-ms-meta-or-policy-id", "x-ms-date", "x-ms-client-request-id",
		"x-ms-blob-type", "x-ms-or-policy-id", "x-ms-original-request-id",
	}
	want := []string{
		"x-ms-blob-type", "x-ms-client-request-id", "x-ms-date",
		"x-ms-meta-a_1", "x-ms-meta-a1", "x-ms-meta-ab", "x-ms-meta-a-b",
		"x-ms-meta-original", "x-ms-meta-or-policy-id",
		"x-ms-original-request-id", "x-ms-or-policy-id", "x-ms-version",
	}
	got := slices.Clone(names)
	slices.SortFunc(got, compareHeaderNames)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sorted (-want +got):\n%s", diff)
	}
}
