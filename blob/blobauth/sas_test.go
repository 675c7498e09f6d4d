package blobauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
)

var sasNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func sharedKeyCred(tb testing.TB, key []byte) *azblob.SharedKeyCredential {
	tb.Helper()
	cred, err := azblob.NewSharedKeyCredential("acct", b64(key))
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

func encoded(tb testing.TB, qp sas.QueryParameters, err error) url.Values {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	q, err := url.ParseQuery(qp.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// blobSAS signs a service SAS with azblob: read access to blob "dir/b 1"
// in c1 from an hour before sasNow to an hour after, changed by mod.
func blobSAS(tb testing.TB, mod func(*sas.BlobSignatureValues)) url.Values {
	tb.Helper()
	v := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     sasNow.Add(-time.Hour),
		ExpiryTime:    sasNow.Add(time.Hour),
		Permissions:   "r",
		ContainerName: "c1",
		BlobName:      "dir/b 1",
	}
	key := testKey1
	if mod != nil {
		mod(&v)
	}
	if v.Identifier == "key2" {
		v.Identifier, key = "", testKey2
	}
	qp, err := v.SignWithSharedKey(sharedKeyCred(tb, key))
	return encoded(tb, qp, err)
}

// containerSAS signs a container SAS for c1 with list and read access.
func containerSAS(tb testing.TB, mod func(*sas.BlobSignatureValues)) url.Values {
	return blobSAS(tb, func(v *sas.BlobSignatureValues) {
		v.BlobName = ""
		v.Permissions = "rl"
		if mod != nil {
			mod(v)
		}
	})
}

// accountSAS signs an account SAS for containers and objects with list and
// read access.
func accountSAS(tb testing.TB, mod func(*sas.AccountSignatureValues)) url.Values {
	tb.Helper()
	v := sas.AccountSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     sasNow.Add(-time.Hour),
		ExpiryTime:    sasNow.Add(time.Hour),
		Permissions:   "rl",
		ResourceTypes: "co",
	}
	if mod != nil {
		mod(&v)
	}
	qp, err := v.SignWithSharedKey(sharedKeyCred(tb, testKey1))
	return encoded(tb, qp, err)
}

// with returns q with k set to v ("" deletes k).
func with(q url.Values, kv ...string) url.Values {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q2.Del(kv[i])
		} else {
			q2.Set(kv[i], kv[i+1])
		}
	}
	return q2
}

// handSigned returns q with a sig over toSign, for the layouts azblob does
// not produce. Each toSign is written out from Azure's documentation of the
// string to sign for that sv.
func handSigned(q url.Values, toSign string) url.Values {
	h := hmac.New(sha256.New, testKey1)
	h.Write([]byte(toSign))
	return with(q, "sig", base64.StdEncoding.EncodeToString(h.Sum(nil)))
}

var (
	blobTarget      = Target{Container: "c1", Blob: "dir/b 1"}
	containerTarget = Target{Container: "c1"}
	accountTarget   = Target{}
)

func TestVerifySAS(t *testing.T) {
	st, se := sasNow.Add(-time.Hour).Format(sas.TimeFormat), sasNow.Add(time.Hour).Format(sas.TimeFormat)
	snapshot := "2026-11-20T10:00:00.1234567Z"
	tests := []struct {
		name   string
		query  url.Values
		target Target
		now    time.Time // zero for sasNow
		allow  Permissions
		want   string // reason of the error from VerifySAS or Allow, "" for success
	}{
		// Service SAS for a blob.
		{name: "blob read", query: blobSAS(t, nil), target: blobTarget, allow: Read},
		{name: "blob write not granted", query: blobSAS(t, nil), target: blobTarget, allow: Write, want: ReasonAuthorizationPermissionMismatch},
		{name: "blob create or write", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Permissions = "cw" }), target: blobTarget, allow: Create | Write},
		{name: "blob delete not granted by cw", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Permissions = "cw" }), target: blobTarget, allow: Delete, want: ReasonAuthorizationPermissionMismatch},
		{name: "blob key2", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Identifier = "key2" }), target: blobTarget, allow: Read},
		{name: "blob on another blob", query: blobSAS(t, nil), target: Target{Container: "c1", Blob: "dir/b 2"}, want: ReasonAuthenticationFailed},
		{name: "blob in another container", query: blobSAS(t, nil), target: Target{Container: "c2", Blob: "dir/b 1"}, want: ReasonAuthenticationFailed},
		{name: "blob on its container", query: blobSAS(t, nil), target: containerTarget, want: ReasonAuthorizationResourceTypeMismatch},
		{name: "blob backslash", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.BlobName = `dir\b 1` }), target: blobTarget, allow: Read},

		// Service SAS for a container.
		{name: "container on blob", query: containerSAS(t, nil), target: Target{Container: "c1", Blob: "x"}, allow: Read},
		{name: "container list", query: containerSAS(t, nil), target: containerTarget, allow: List},
		{name: "container write not granted", query: containerSAS(t, nil), target: containerTarget, allow: Write, want: ReasonAuthorizationPermissionMismatch},
		{name: "container on another container", query: containerSAS(t, nil), target: Target{Container: "c2"}, want: ReasonAuthenticationFailed},
		{name: "container on account", query: containerSAS(t, nil), target: accountTarget, want: ReasonAuthorizationResourceTypeMismatch},

		// Snapshots and versions.
		{name: "snapshot", query: with(blobSAS(t, func(v *sas.BlobSignatureValues) { v.SnapshotTime, _ = time.Parse(blob.SnapshotTimeFormat, snapshot) }), "snapshot", snapshot), target: blobTarget, allow: Read},
		{name: "snapshot SAS on base blob", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.SnapshotTime, _ = time.Parse(blob.SnapshotTimeFormat, snapshot) }), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "snapshot SAS on other snapshot", query: with(blobSAS(t, func(v *sas.BlobSignatureValues) { v.SnapshotTime, _ = time.Parse(blob.SnapshotTimeFormat, snapshot) }), "snapshot", "2026-11-20T10:00:00.0000000Z"), target: blobTarget, want: ReasonAuthenticationFailed},
		{
			name:   "version (hand-signed, as @azure/storage-blob and .NET sign it)",
			query:  handSigned(url.Values{"sv": {"2026-02-06"}, "sr": {"bv"}, "sp": {"r"}, "se": {se}, "versionid": {snapshot}}, "r\n\n"+se+"\n/blob/acct/c1/dir/b 1\n\n\n\n2026-02-06\nbv\n"+snapshot+"\n\n\n\n\n\n"),
			target: blobTarget, allow: Read,
		},
		{
			name:   "version SAS on another version",
			query:  handSigned(url.Values{"sv": {"2026-02-06"}, "sr": {"bv"}, "sp": {"r"}, "se": {se}, "versionid": {"2026-01-01T00:00:00.0000000Z"}}, "r\n\n"+se+"\n/blob/acct/c1/dir/b 1\n\n\n\n2026-02-06\nbv\n"+snapshot+"\n\n\n\n\n\n"),
			target: blobTarget, want: ReasonAuthenticationFailed,
		},

		// Time window.
		{name: "expired", query: blobSAS(t, nil), target: blobTarget, now: sasNow.Add(time.Hour + time.Second), want: ReasonAuthenticationFailed},
		{name: "not yet valid", query: blobSAS(t, nil), target: blobTarget, now: sasNow.Add(-time.Hour - MaxClockSkew - time.Second), want: ReasonAuthenticationFailed},
		{name: "start within skew", query: blobSAS(t, nil), target: blobTarget, now: sasNow.Add(-time.Hour - MaxClockSkew + time.Second), allow: Read},
		{name: "no start", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.StartTime = time.Time{} }), target: blobTarget, now: sasNow.Add(-24 * time.Hour), allow: Read},
		{name: "expiry before start", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.ExpiryTime = v.StartTime }), target: blobTarget, want: ReasonAuthenticationFailed},

		// Tampering.
		{name: "tampered sig", query: with(blobSAS(t, nil), "sig", base64.StdEncoding.EncodeToString(make([]byte, 32))), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "tampered sp", query: with(blobSAS(t, nil), "sp", "rw"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "tampered se", query: with(blobSAS(t, nil), "se", sasNow.Add(48*time.Hour).Format(sas.TimeFormat)), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "tampered sr", query: with(blobSAS(t, nil), "sr", "c"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "added st", query: with(blobSAS(t, func(v *sas.BlobSignatureValues) { v.StartTime = time.Time{} }), "st", st), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "added rsct", query: with(blobSAS(t, nil), "rsct", "text/html"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "removed spr", query: with(blobSAS(t, func(v *sas.BlobSignatureValues) { v.Protocol = sas.ProtocolHTTPS }), "spr", ""), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "unknown key", query: blobSAS(t, nil), target: blobTarget, allow: Read, want: ReasonAuthenticationFailed},

		// Protocol and source IP.
		{name: "https only over http", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Protocol = sas.ProtocolHTTPS }), target: blobTarget, want: ReasonAuthorizationProtocolMismatch},
		{name: "https only over https", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Protocol = sas.ProtocolHTTPS }), target: Target{Container: "c1", Blob: "dir/b 1", Secure: true}, allow: Read},
		{name: "ip in range", query: blobSAS(t, ipRange("10.0.0.1", "10.0.0.5")), target: withIP(blobTarget, "10.0.0.3"), allow: Read},
		{name: "ip at end of range", query: blobSAS(t, ipRange("10.0.0.1", "10.0.0.5")), target: withIP(blobTarget, "10.0.0.5"), allow: Read},
		{name: "ip mapped", query: blobSAS(t, ipRange("10.0.0.1", "10.0.0.5")), target: withIP(blobTarget, "::ffff:10.0.0.3"), allow: Read},
		{name: "ip outside range", query: blobSAS(t, ipRange("10.0.0.1", "10.0.0.5")), target: withIP(blobTarget, "10.0.0.6"), want: ReasonAuthorizationSourceIPMismatch},
		{name: "ip unknown", query: blobSAS(t, ipRange("10.0.0.1", "10.0.0.5")), target: blobTarget, want: ReasonAuthorizationSourceIPMismatch},
		{name: "single ip", query: blobSAS(t, ipRange("127.0.0.1", "")), target: withIP(blobTarget, "127.0.0.1"), allow: Read},
		{name: "single ip other", query: blobSAS(t, ipRange("127.0.0.1", "")), target: withIP(blobTarget, "127.0.0.2"), want: ReasonAuthorizationSourceIPMismatch},
		{name: "ipv6", query: blobSAS(t, ipRange("::1", "")), target: withIP(blobTarget, "::1"), allow: Read},

		// Account SAS.
		{name: "account on blob", query: accountSAS(t, nil), target: blobTarget, allow: Read},
		{name: "account list container", query: accountSAS(t, nil), target: containerTarget, allow: List},
		{name: "account on account", query: accountSAS(t, nil), target: accountTarget, want: ReasonAuthorizationResourceTypeMismatch},
		{name: "account service level", query: accountSAS(t, func(v *sas.AccountSignatureValues) { v.ResourceTypes = "s" }), target: accountTarget, allow: List},
		{name: "account objects only", query: accountSAS(t, func(v *sas.AccountSignatureValues) { v.ResourceTypes = "o" }), target: containerTarget, want: ReasonAuthorizationResourceTypeMismatch},
		{name: "account write not granted", query: accountSAS(t, nil), target: blobTarget, allow: Write, want: ReasonAuthorizationPermissionMismatch},
		{name: "account process", query: accountSAS(t, func(v *sas.AccountSignatureValues) { v.Permissions = "p" }), target: blobTarget, allow: Process},
		{name: "account expired", query: accountSAS(t, nil), target: blobTarget, now: sasNow.Add(2 * time.Hour), want: ReasonAuthenticationFailed},
		{name: "account tampered srt", query: with(accountSAS(t, nil), "srt", "sco"), target: accountTarget, want: ReasonAuthenticationFailed},
		{name: "account tampered ss", query: with(accountSAS(t, nil), "ss", "bq"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "account encryption scope", query: accountSAS(t, func(v *sas.AccountSignatureValues) { v.EncryptionScope = "scope1" }), target: blobTarget, allow: Read},
		{
			name:   "account without blob service (hand-signed)",
			query:  handSigned(url.Values{"sv": {"2026-02-06"}, "ss": {"q"}, "srt": {"co"}, "sp": {"r"}, "se": {se}}, "acct\nr\nq\nco\n\n"+se+"\n\n\n2026-02-06\n\n"),
			target: blobTarget, want: ReasonAuthorizationServiceMismatch,
		},

		// Older layouts, hand-signed as Azure documents them.
		{
			name:   "service sv 2015-04-05",
			query:  handSigned(url.Values{"sv": {"2015-04-05"}, "sr": {"b"}, "sp": {"r"}, "se": {se}}, "r\n\n"+se+"\n/blob/acct/c1/dir/b 1\n\n\n\n2015-04-05\n\n\n\n\n"),
			target: blobTarget, allow: Read,
		},
		{
			name:   "service sv 2019-12-12",
			query:  handSigned(url.Values{"sv": {"2019-12-12"}, "sr": {"bs"}, "sp": {"r"}, "se": {se}, "snapshot": {snapshot}}, "r\n\n"+se+"\n/blob/acct/c1/dir/b 1\n\n\n\n2019-12-12\nbs\n"+snapshot+"\n\n\n\n\n"),
			target: blobTarget, allow: Read,
		},
		{
			name:   "service sv 2019-12-12 signed with the 2020-12-06 layout",
			query:  handSigned(url.Values{"sv": {"2019-12-12"}, "sr": {"b"}, "sp": {"r"}, "se": {se}}, "r\n\n"+se+"\n/blob/acct/c1/dir/b 1\n\n\n\n2019-12-12\nb\n\n\n\n\n\n\n"),
			target: blobTarget, want: ReasonAuthenticationFailed,
		},
		{
			name:   "account sv 2019-12-12",
			query:  handSigned(url.Values{"sv": {"2019-12-12"}, "ss": {"bq"}, "srt": {"o"}, "sp": {"r"}, "se": {se}, "sip": {"10.0.0.1"}}, "acct\nr\nbq\no\n\n"+se+"\n10.0.0.1\n\n2019-12-12\n"),
			target: withIP(blobTarget, "10.0.0.1"), allow: Read,
		},
		{name: "ses before 2020-12-06", query: with(handSigned(url.Values{"sv": {"2019-12-12"}, "ss": {"b"}, "srt": {"o"}, "sp": {"r"}, "se": {se}}, "acct\nr\nb\no\n\n"+se+"\n\n\n2019-12-12\n"), "ses", "s"), target: blobTarget, want: ReasonAuthenticationFailed},

		// Malformed or unsupported.
		{name: "no sv", query: with(blobSAS(t, nil), "sv", ""), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "sv too old", query: with(blobSAS(t, nil), "sv", "2013-08-15"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "no se", query: with(blobSAS(t, nil), "se", ""), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "bad st", query: with(blobSAS(t, nil), "st", "yesterday"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "no sp", query: with(blobSAS(t, nil), "sp", ""), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "unknown permission", query: with(blobSAS(t, nil), "sp", "rz"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "account permission in service SAS", query: with(blobSAS(t, nil), "sp", "u"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "bad spr", query: with(blobSAS(t, nil), "spr", "http"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "bad sip", query: with(blobSAS(t, nil), "sip", "10.0.0.5-10.0.0.1"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "directory", query: with(blobSAS(t, nil), "sr", "d", "sdd", "1"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "unknown sr", query: with(blobSAS(t, nil), "sr", "x"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "stored access policy", query: blobSAS(t, func(v *sas.BlobSignatureValues) { v.Identifier = "policy1" }), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "user delegation", query: with(blobSAS(t, nil), "skoid", "00000000-0000-0000-0000-000000000000"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "service and account", query: with(blobSAS(t, nil), "ss", "b", "srt", "o"), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "neither", query: with(blobSAS(t, nil), "sr", ""), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "repeated sp", query: func() url.Values { q := blobSAS(t, nil); q.Add("sp", "w"); return q }(), target: blobTarget, want: ReasonAuthenticationFailed},
		{name: "no sig", query: with(blobSAS(t, nil), "sig", ""), target: blobTarget, want: ReasonAuthenticationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = sasNow
			}
			acct := testAcct
			if tt.name == "unknown key" {
				acct.Keys = [][]byte{testKey2}
			}
			s, err := VerifySAS(tt.query, acct, tt.target, now)
			if err == nil && tt.allow != 0 {
				err = s.Allow(tt.allow)
			}
			if got := tresor.ReasonOf(err); got != tt.want || (err != nil) != (tt.want != "") {
				t.Fatalf("VerifySAS(%s) = %v (reason %q), want reason %q", tt.query.Encode(), err, got, tt.want)
			}
			if err != nil {
				wantKind := tresor.Forbidden
				if tt.want == ReasonAuthenticationFailed {
					wantKind = tresor.Unauthenticated
				}
				if k := tresor.KindOf(err); k != wantKind {
					t.Errorf("VerifySAS kind = %v, want %v", k, wantKind)
				}
			}
		})
	}
}

func ipRange(start, end string) func(*sas.BlobSignatureValues) {
	return func(v *sas.BlobSignatureValues) {
		v.IPRange = sas.IPRange{Start: net.ParseIP(start)}
		if end != "" {
			v.IPRange.End = net.ParseIP(end)
		}
	}
}

func withIP(t Target, ip string) Target {
	t.ClientIP = netip.MustParseAddr(ip)
	return t
}

// TestVerifySASFields checks what VerifySAS returns besides success.
func TestVerifySASFields(t *testing.T) {
	q := blobSAS(t, func(v *sas.BlobSignatureValues) {
		v.Permissions = "racwdxytmeopi"
		v.CacheControl = "no-cache"
		v.ContentDisposition = "attachment"
		v.ContentEncoding = "gzip"
		v.ContentLanguage = "en"
		v.ContentType = "text/plain; charset=utf-8"
		v.EncryptionScope = "scope1"
	})
	got, err := VerifySAS(q, testAcct, blobTarget, sasNow)
	if err != nil {
		t.Fatal(err)
	}
	want := &SAS{
		Resource: "b",
		Permissions: Read | Add | Create | Write | Delete | DeleteVersion | PermanentDelete | Tag | Move |
			Execute | ModifyOwnership | ModifyPermissions | SetImmutabilityPolicy,
		Start:              sasNow.Add(-time.Hour),
		Expiry:             sasNow.Add(time.Hour),
		EncryptionScope:    "scope1",
		CacheControl:       "no-cache",
		ContentDisposition: "attachment",
		ContentEncoding:    "gzip",
		ContentLanguage:    "en",
		ContentType:        "text/plain; charset=utf-8",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VerifySAS (-want +got):\n%s", diff)
	}

	q = accountSAS(t, func(v *sas.AccountSignatureValues) { v.Permissions = "rwdxylacupfti" })
	got, err = VerifySAS(q, testAcct, blobTarget, sasNow)
	if err != nil {
		t.Fatal(err)
	}
	want = &SAS{
		Account: true,
		Permissions: Read | Write | Delete | DeleteVersion | PermanentDelete | List | Add | Create |
			Update | Process | FilterByTags | Tag | SetImmutabilityPolicy,
		Start:  sasNow.Add(-time.Hour),
		Expiry: sasNow.Add(time.Hour),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VerifySAS account (-want +got):\n%s", diff)
	}
}

// TestSASAzblobClient gets SAS URLs from azblob's GetSASURL and uses them
// with azblob clients that have no credential, against the fake Blob
// endpoint.
func TestSASAzblobClient(t *testing.T) {
	f := newFakeStorage(t, testAcct)
	ctx := context.Background()
	cred := sharedKeyCred(t, testKey1)
	expiry := time.Now().Add(time.Hour)
	const blobName = "dir/a b+c.txt"

	bc, err := blob.NewClientWithSharedKeyCredential(f.URL+"/c1/"+url.PathEscape(blobName), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobURL, err := bc.GetSASURL(sas.BlobPermissions{Read: true}, expiry, &blob.GetSASURLOptions{StartTime: to.Ptr(time.Now().Add(-time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := container.NewClientWithSharedKeyCredential(f.URL+"/c1", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	containerURL, err := cc.GetSASURL(sas.ContainerPermissions{Read: true, List: true}, expiry, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := service.NewClientWithSharedKeyCredential(f.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	accountURL, err := sc.GetSASURL(sas.AccountResourceTypes{Service: true, Container: true, Object: true}, sas.AccountPermissions{Read: true, List: true}, expiry, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		op   func() error
		want string // the error code the client sees, "" for success
	}{
		{"blob SAS download", func() error {
			c, err := blob.NewClientWithNoCredential(blobURL, nil)
			if err != nil {
				return err
			}
			_, err = c.DownloadBuffer(ctx, make([]byte, len(blobContent)), nil)
			return err
		}, ""},
		{"blob SAS upload", func() error {
			c, err := blob.NewClientWithNoCredential(blobURL, nil)
			if err != nil {
				return err
			}
			_, err = c.SetMetadata(ctx, metadata, nil)
			return err
		}, ReasonAuthorizationPermissionMismatch},
		{"container SAS list", func() error {
			c, err := container.NewClientWithNoCredential(containerURL, nil)
			if err != nil {
				return err
			}
			_, err = c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr("dir/"), Include: container.ListBlobsInclude{Metadata: true}}).NextPage(ctx)
			return err
		}, ""},
		{"container SAS blob properties", func() error {
			c, err := container.NewClientWithNoCredential(containerURL, nil)
			if err != nil {
				return err
			}
			_, err = c.NewBlobClient(blobName).GetProperties(ctx, nil)
			return err
		}, ""},
		{"account SAS list containers", func() error {
			c, err := service.NewClientWithNoCredential(accountURL, nil)
			if err != nil {
				return err
			}
			_, err = c.NewListContainersPager(nil).NextPage(ctx)
			return err
		}, ""},
		{"account SAS download", func() error {
			c, err := azblob.NewClientWithNoCredential(accountURL, nil)
			if err != nil {
				return err
			}
			resp, err := c.DownloadStream(ctx, "c1", blobName, &azblob.DownloadStreamOptions{Range: azblob.HTTPRange{Offset: 2, Count: 2}})
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, ""},
		{"account SAS delete", func() error {
			c, err := azblob.NewClientWithNoCredential(accountURL, nil)
			if err != nil {
				return err
			}
			_, err = c.DeleteBlob(ctx, "c1", blobName, nil)
			return err
		}, ReasonAuthorizationPermissionMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			recs := f.Records()
			if len(recs) == 0 {
				t.Fatalf("server saw no request (client error %v)", err)
			}
			for _, r := range recs {
				if r.SAS == nil {
					t.Errorf("%v; want a verified SAS", r)
				}
				if got := tresor.ReasonOf(r.Err); got != tt.want {
					t.Errorf("%v; want reason %q", r, tt.want)
				}
			}
			if tt.want == "" && err != nil {
				t.Errorf("client: %v, want success", err)
			}
			if tt.want != "" && !bloberror.HasCode(err, bloberror.Code(tt.want)) {
				t.Errorf("client: %v, want error code %s", err, tt.want)
			}
		})
	}
}

// TestSignBlobSAS: a SAS SignBlobSAS makes is one VerifySAS accepts for its
// blob, with its permissions, and for nothing else.
func TestSignBlobSAS(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	acct := Account{Name: "md-x", Keys: [][]byte{key}}
	now := time.Now()
	q, err := SignBlobSAS(key, "md-x", "disk", "abcd", "r", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := VerifySAS(q, acct, Target{Container: "disk", Blob: "abcd", Secure: true}, now)
	if err != nil || s.Permissions != Read || s.Resource != "b" {
		t.Fatalf("verify = %+v, %v", s, err)
	}
	for _, tt := range []struct {
		name string
		acct Account
		t    Target
		now  time.Time
	}{
		{"another blob", acct, Target{Container: "disk", Blob: "other", Secure: true}, now},
		{"another key", Account{Name: "md-x", Keys: [][]byte{[]byte("other")}}, Target{Container: "disk", Blob: "abcd", Secure: true}, now},
		{"no key", Account{Name: "md-x"}, Target{Container: "disk", Blob: "abcd", Secure: true}, now},
		{"expired", acct, Target{Container: "disk", Blob: "abcd", Secure: true}, now.Add(2 * time.Hour)},
		{"over HTTP", acct, Target{Container: "disk", Blob: "abcd"}, now},
	} {
		if _, err := VerifySAS(q, tt.acct, tt.t, tt.now); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
