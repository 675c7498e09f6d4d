package blobhttp

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tresorkms/tresor/blob"
)

// requestRange returns the range a request asks for: x-ms-range if given
// (as @azure/storage-blob sends it), else Range (as azblob sends it), else
// blob.All. Both take one "bytes=start-end" (end inclusive) or
// "bytes=start-". Anything else is InvalidHeaderValue: Storage does not
// support suffix ranges or several ranges.
func requestRange(h http.Header) (blob.Range, bool, error) {
	name := "x-ms-range"
	v := h.Get(name)
	if v == "" {
		name = "Range"
		v = h.Get(name)
	}
	if v == "" {
		return blob.All, false, nil
	}
	r, ok := parseRange(v)
	if !ok {
		return blob.Range{}, false, invalidHeader(name)
	}
	return r, true, nil
}

// parseRange parses "bytes=start-end" or "bytes=start-".
func parseRange(v string) (blob.Range, bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return blob.Range{}, false
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return blob.Range{}, false
	}
	start, err := parseOffset(a)
	if err != nil {
		return blob.Range{}, false
	}
	if b == "" {
		return blob.Range{Offset: start, Count: -1}, true
	}
	end, err := parseOffset(b)
	if err != nil || end < start || end == 1<<62 {
		return blob.Range{}, false
	}
	return blob.Range{Offset: start, Count: end - start + 1}, true
}

// parseOffset parses a non-negative decimal offset below 2^62, the largest
// a blob could reach.
func parseOffset(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<62 {
		return 0, strconv.ErrRange
	}
	return n, nil
}
