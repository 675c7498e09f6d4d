package blobauth

import (
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// VerifySharedKey checks the "Authorization: SharedKey {account}:{signature}"
// header of r against every key of acct, and the request's x-ms-date (or
// Date) against now, allowing MaxClockSkew either way.
//
// The signature covers the URL path exactly as the client sent it, so r must
// be the request as received. Its RequestURI is used when it is set, so a
// handler behind http.StripPrefix still works. This also handles both
// addressing styles: with path-style URLs
// (http://127.0.0.1:port/{account}/container/blob) the SDKs sign
// "/{account}/{account}/container/blob". With host-style URLs
// ({account}.blob.host/container/blob) they sign
// "/{account}/container/blob". The verifier needs no flag for either.
//
// The string to sign is built as Azure documents it, with the x-ms-* headers
// in .NET's culture-aware order (see compareHeaderNames). Three variants are
// also accepted. @azure/storage-blob puts Content-Language before
// Content-Encoding, older SDKs sort the headers by byte value, and a client
// may sign its Date header although it sends x-ms-date. Each variant signs
// the same values, but the first lets someone who replays a request swap
// the values of Content-Encoding and Content-Language.
//
// VerifySharedKey returns InvalidAuthenticationInfo (tresor.Invalid) for a
// header it cannot parse, and AuthenticationFailed (tresor.Unauthenticated)
// for a header that names another account, for a signature that no key of
// acct produces, and for a missing, malformed or skewed date.
func VerifySharedKey(r *http.Request, acct Account, now time.Time) error {
	_, err := verifySharedKey(r, acct, now)
	return err
}

// A variant records which way of building the string to sign matched. The
// zero variant is Azure's documented one, which azblob uses.
type variant struct {
	languageFirst  bool // Content-Language before Content-Encoding (JS)
	dateHeader     bool // the Date header in the Date slot despite x-ms-date
	ordinalHeaders bool // x-ms-* headers sorted by byte value
}

func verifySharedKey(r *http.Request, acct Account, now time.Time) (variant, error) {
	name, mac, err := parseSharedKey(r.Header.Values("Authorization"))
	if err != nil {
		return variant{}, err
	}
	if name != acct.Name {
		return variant{}, authFailed("the Authorization header is for account %q, the request is for account %q", name, acct.Name)
	}
	date, err := requestDate(r.Header)
	if err != nil {
		return variant{}, err
	}
	v, ok := matchSharedKey(r, acct, mac)
	if !ok {
		return variant{}, authFailed("the MAC signature found in the HTTP request %q is not the same as any computed signature", base64.StdEncoding.EncodeToString(mac))
	}
	if d := now.Sub(date); d > MaxClockSkew || d < -MaxClockSkew {
		return variant{}, authFailed("request date %s is more than %v from the server's time %s",
			date.UTC().Format(http.TimeFormat), MaxClockSkew, now.UTC().Format(http.TimeFormat))
	}
	return v, nil
}

// parseSharedKey parses the value of an Authorization header with the
// SharedKey scheme and returns the account name and the decoded signature.
func parseSharedKey(values []string) (account string, mac []byte, err error) {
	if len(values) != 1 {
		return "", nil, invalidAuthInfo("want one Authorization header, got %d", len(values))
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok {
		return "", nil, invalidAuthInfo("the Authorization header has no credentials")
	}
	if scheme != "SharedKey" {
		return "", nil, authFailed("authorization scheme %q is not supported; use SharedKey", scheme)
	}
	account, sig, ok := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || account == "" || sig == "" {
		return "", nil, invalidAuthInfo("the SharedKey credentials are not of the form account:signature")
	}
	mac, err = base64.StdEncoding.DecodeString(sig)
	if err != nil || len(mac) != sha256.Size {
		return "", nil, authFailed("the signature %q is not a base64-encoded HMAC-SHA256", sig)
	}
	return account, mac, nil
}

// requestDate returns the request's x-ms-date, or its Date if it has no
// x-ms-date.
func requestDate(h http.Header) (time.Time, error) {
	v := h.Get("X-Ms-Date")
	if v == "" {
		v = h.Get("Date")
	}
	if v == "" {
		return time.Time{}, authFailed("the request has neither an x-ms-date nor a Date header")
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, authFailed("the request date %q is not an RFC 1123 date", v)
	}
	return t, nil
}

// matchSharedKey reports whether mac is the HMAC-SHA256, under one of acct's
// keys, of one of the strings to sign for r, and which variant it was.
func matchSharedKey(r *http.Request, acct Account, mac []byte) (variant, bool) {
	for _, c := range stringsToSign(r, acct.Name) {
		if matchMAC(acct, c.s, mac) {
			return c.v, true
		}
	}
	return variant{}, false
}

type candidate struct {
	v variant
	s string
}

// stringsToSign returns the strings a client may have signed for r: Azure's
// documented one first, then the variants the SDKs produce, without
// duplicates.
func stringsToSign(r *http.Request, account string) []candidate {
	h := r.Header
	enc, lang := h.Get("Content-Encoding"), h.Get("Content-Language")
	length := h.Get("Content-Length")
	if length == "" && r.ContentLength > 0 {
		length = strconv.FormatInt(r.ContentLength, 10)
	}
	if length == "0" {
		length = ""
	}
	// The Date slot is empty when x-ms-date is present, as both SDKs sign
	// it; a client that signs its Date header anyway is also accepted.
	date := h.Get("Date")
	dates := []string{date}
	if h.Get("X-Ms-Date") != "" {
		dates = []string{""}
		if date != "" {
			dates = append(dates, date)
		}
	}
	rest := strings.Join([]string{
		length,
		h.Get("Content-MD5"),
		h.Get("Content-Type"),
	}, "\n")
	conditions := strings.Join([]string{
		h.Get("If-Modified-Since"),
		h.Get("If-Match"),
		h.Get("If-None-Match"),
		h.Get("If-Unmodified-Since"),
		h.Get("Range"),
	}, "\n")
	headers := []string{canonicalHeaders(h, compareHeaderNames)}
	if o := canonicalHeaders(h, strings.Compare); o != headers[0] {
		headers = append(headers, o)
	}
	resource := canonicalResource(account, requestPath(r), r.URL.RawQuery)
	encLang := []string{enc + "\n" + lang}
	if enc != lang {
		encLang = append(encLang, lang+"\n"+enc)
	}

	var out []candidate
	for li, el := range encLang {
		for di, d := range dates {
			for hi, ch := range headers {
				out = append(out, candidate{
					v: variant{languageFirst: li == 1, dateHeader: di == 1, ordinalHeaders: hi == 1},
					s: r.Method + "\n" + el + "\n" + rest + "\n" + d + "\n" + conditions + "\n" + ch + resource,
				})
			}
		}
	}
	return out
}

// requestPath returns the escaped path of r as the client sent it.
func requestPath(r *http.Request) string {
	if p := r.RequestURI; strings.HasPrefix(p, "/") {
		p, _, _ = strings.Cut(p, "?")
		return p
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// canonicalHeaders returns the CanonicalizedHeaders of h: each x-ms-* header
// as "name:value\n", the name in lower case, several values joined with ",",
// the headers sorted by name with cmp.
func canonicalHeaders(h http.Header, cmp func(a, b string) int) string {
	var names []string
	values := make(map[string][]string)
	for k, v := range h {
		k = strings.ToLower(k)
		if !strings.HasPrefix(k, "x-ms-") {
			continue
		}
		if _, ok := values[k]; !ok {
			names = append(names, k)
		}
		values[k] = append(values[k], v...)
	}
	slices.SortFunc(names, cmp)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strings.Join(values[k], ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalResource returns the CanonicalizedResource for a request with the
// given escaped path and raw query: "/" + account + path, then for each query
// parameter "\n" + name + ":" + values, the names in lower case and sorted,
// the values decoded, sorted and joined with ",". Parameters with an empty
// value count, as in azblob.
//
// @azure/storage-common instead leaves out parameters with an empty value
// and keeps only the last of repeated names. @azure/storage-blob does not
// send such parameters; it drops an empty prefix before sending. Accepting
// that form would let someone who replays a request add parameters, so it is
// not accepted.
func canonicalResource(account, path, rawQuery string) string {
	q, _ := url.ParseQuery(rawQuery) // like azblob, which signs what it can parse
	merged := make(map[string][]string, len(q))
	for k, v := range q {
		k = strings.ToLower(k)
		merged[k] = append(merged[k], v...)
	}
	var b strings.Builder
	b.WriteString("/" + account + path)
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		v := merged[k]
		slices.Sort(v)
		b.WriteString("\n" + k + ":" + strings.Join(v, ","))
	}
	return b.String()
}
