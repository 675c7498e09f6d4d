package blobauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/tresorkms/tresor"
)

func FuzzParseSharedKey(f *testing.F) {
	sig := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, s := range []string{
		"SharedKey acct:" + sig, "SharedKey acct:", "SharedKey :" + sig, "SharedKey", "SharedKeyLite acct:" + sig,
		"Bearer x", "SharedKey  acct:" + sig + " ", "SharedKey a:b:c", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		account, mac, err := parseSharedKey([]string{h})
		if err != nil {
			checkError(t, err)
			return
		}
		if account == "" || strings.Contains(account, ":") || len(mac) != 32 {
			t.Fatalf("parseSharedKey(%q) = %q, %x; want a name without ':' and a 32-byte MAC", h, account, mac)
		}
		a2, mac2, err := parseSharedKey([]string{"SharedKey " + account + ":" + base64.StdEncoding.EncodeToString(mac)})
		if err != nil || a2 != account || !bytes.Equal(mac, mac2) {
			t.Fatalf("parseSharedKey does not round-trip %q: %q, %x, %v", h, a2, mac2, err)
		}
	})
}

// FuzzVerifySharedKey feeds arbitrary requests to VerifySharedKey. None
// can carry a valid signature, so every one must fail with one of this
// package's errors.
func FuzzVerifySharedKey(f *testing.F) {
	date := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	f.Add("PUT", "/acct/c1/b1", "comp=metadata&timeout=30", "SharedKey acct:"+base64.StdEncoding.EncodeToString(make([]byte, 32)), "x-ms-meta-a-b", "1", date)
	f.Add("GET", "/", "a=&a=1&B=%zz", "SharedKey acct:AAAA", "x-ms-original", "", "Sat, 21 Nov 2026 12:00:00 GMT")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, auth, name, value, date string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: path, RawQuery: rawQuery},
			Header: http.Header{"Authorization": {auth}, "X-Ms-Date": {date}, name: {value}},
		}
		err := VerifySharedKey(r, testAcct, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
		if err == nil {
			t.Fatalf("VerifySharedKey accepted %+v", r)
		}
		checkError(t, err)
	})
}

// FuzzVerifySAS feeds arbitrary queries and targets to VerifySAS, starting
// from SAS that azblob signs. Whatever it returns must be consistent.
func FuzzVerifySAS(f *testing.F) {
	for _, q := range []url.Values{
		blobSAS(f, nil),
		containerSAS(f, nil),
		accountSAS(f, nil),
		blobSAS(f, func(v *sas.BlobSignatureValues) {
			v.IPRange = sas.IPRange{Start: []byte{10, 0, 0, 1}, End: []byte{10, 0, 0, 9}}
		}),
	} {
		f.Add(q.Encode(), "c1", "dir/b 1", "10.0.0.3")
	}
	f.Add("sv=2019-12-12&sr=bs&sp=r&se=2026-11-22&sig=&snapshot=x", "c1", "b", "::1")
	f.Fuzz(func(t *testing.T, rawQuery, container, blob, ip string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		tg := Target{Container: container, Blob: blob}
		tg.ClientIP, _ = netip.ParseAddr(ip)
		s, err := VerifySAS(q, testAcct, tg, sasNow)
		if err != nil {
			checkError(t, err)
			return
		}
		if s.Expiry.Before(sasNow) || s.Permissions == 0 || s.Account == (s.Resource != "") {
			t.Fatalf("VerifySAS(%q) = %+v, inconsistent", rawQuery, s)
		}
		if !q.Has("sig") || q.Has("si") {
			t.Fatalf("VerifySAS(%q) accepted a query without sig or with si", rawQuery)
		}
	})
}

func FuzzCompareHeaderNames(f *testing.F) {
	f.Add("x-ms-meta-ab", "x-ms-meta-a-b", "x-ms-meta-a'b")
	f.Add("x-ms-original", "x-ms-or-policy-id", "x-ms-or")
	f.Add("a_1", "a1", "A-1")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := compareHeaderNames(a, b), compareHeaderNames(b, a)
		if ab != -ba || compareHeaderNames(a, a) != 0 {
			t.Fatalf("compareHeaderNames(%q, %q) = %d, reversed %d", a, b, ab, ba)
		}
		if ab <= 0 && compareHeaderNames(b, c) <= 0 && compareHeaderNames(a, c) > 0 {
			t.Fatalf("compareHeaderNames not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
	})
}

func FuzzCanonicalResource(f *testing.F) {
	f.Add("/acct/c1/b%201", "comp=list&prefix=&marker=a%2Bb+c&A=1&a=2")
	f.Add("", "a==b&&=c&%zz=1;x=2")
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		got := canonicalResource("acct", path, rawQuery)
		if prefix := "/acct" + path; !strings.HasPrefix(got, prefix) {
			t.Fatalf("canonicalResource(%q, %q) = %q; want it to start with %q", path, rawQuery, got, prefix)
		}
	})
}

// checkError fails t unless err is a *tresor.Error with a Storage code and a
// kind a transport can map.
func checkError(t *testing.T, err error) {
	t.Helper()
	var e *tresor.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *tresor.Error", err)
	}
	switch e.Reason {
	case ReasonAuthenticationFailed, ReasonInvalidAuthenticationInfo:
		if e.Kind != tresor.Unauthenticated && e.Kind != tresor.Invalid {
			t.Fatalf("error %v: kind %v for %s", err, e.Kind, e.Reason)
		}
	case ReasonAuthorizationPermissionMismatch, ReasonAuthorizationProtocolMismatch,
		ReasonAuthorizationResourceTypeMismatch, ReasonAuthorizationServiceMismatch, ReasonAuthorizationSourceIPMismatch:
		if e.Kind != tresor.Forbidden {
			t.Fatalf("error %v: kind %v for %s", err, e.Kind, e.Reason)
		}
	default:
		t.Fatalf("error %v has reason %q", err, e.Reason)
	}
	if e.Message == "" {
		t.Fatalf("error %v has no message", err)
	}
}
