package blobauth

import "cmp"

// primaryOrder lists, lowest first, the characters that count at the first
// level of .NET's culture-aware comparison for en-US, as far as they can
// appear in a header name (an HTTP token). Upper-case letters count as
// their lower-case forms. Every other character is ignored at that level,
// notably the hyphen and the apostrophe.
const primaryOrder = "!#$%&*.^_`|~+0123456789abcdefghijklmnopqrstuvwxyz"

var primaryWeight = func() (w [256]uint8) {
	for i := range len(primaryOrder) {
		c := primaryOrder[i]
		w[c] = uint8(i + 1)
		if 'a' <= c && c <= 'z' {
			w[c-'a'+'A'] = uint8(i + 1)
		}
	}
	return w
}()

// Second-level weights: the end of a name, then the two characters that the
// first level ignores but this one does not. Any other character is 0.
const (
	weightEnd        = 1
	weightApostrophe = 2
	weightHyphen     = 3
)

func secondaryWeight(s string, i int) int {
	if i >= len(s) {
		return weightEnd
	}
	switch s[i] {
	case '\'':
		return weightApostrophe
	case '-':
		return weightHyphen
	}
	return 0
}

// compareHeaderNames orders two lower-case header names as Azure Storage
// orders the x-ms-* headers in the string to sign. Azure uses .NET's
// culture-aware comparison for en-US; azblob and @azure/storage-common copy
// it with a weight table:
//
//  1. Compare the names with hyphens, apostrophes and other ignored
//     characters removed, character by character in primaryOrder. If one
//     name is a prefix of the other, the shorter comes first.
//  2. If they are still equal, step through both names from the start,
//     position by position, to the first position where they differ in
//     whether there is an ignored character there. The name that has a
//     counting character at that position comes first. Otherwise, the name
//     that ends there comes first, then an apostrophe, then a hyphen.
//
// So "x-ms-meta-ab" < "x-ms-meta-a-b", "x-ms-original" < "x-ms-or-policy-id"
// and "x-ms-meta-a_1" < "x-ms-meta-a1", where byte order says the opposite.
func compareHeaderNames(a, b string) int {
	i, j := 0, 0
	for {
		for i < len(a) && primaryWeight[a[i]] == 0 {
			i++
		}
		for j < len(b) && primaryWeight[b[j]] == 0 {
			j++
		}
		if i == len(a) || j == len(b) {
			if i == len(a) && j == len(b) {
				break
			}
			if i == len(a) {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(primaryWeight[a[i]], primaryWeight[b[j]]); c != 0 {
			return c
		}
		i++
		j++
	}
	for k := 0; ; k++ {
		wa, wb := secondaryWeight(a, k), secondaryWeight(b, k)
		switch {
		case wa == wb && wa == weightEnd:
			return 0
		case wa == wb:
			continue
		case wa == 0:
			return -1
		case wb == 0:
			return 1
		}
		return cmp.Compare(wa, wb)
	}
}
