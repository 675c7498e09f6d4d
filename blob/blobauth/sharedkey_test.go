package blobauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
)

// metadata has keys whose x-ms-meta-* headers sort differently by .NET's
// culture-aware rule and by byte value: a-b/ab, a_1/a1 and
// or-policy-id/original.
var metadata = map[string]*string{
	"ab":           to.Ptr("1"),
	"a-b":          to.Ptr("2"),
	"a_1":          to.Ptr("3"),
	"a1":           to.Ptr("4"),
	"original":     to.Ptr("5"),
	"or-policy-id": to.Ptr("6"),
	"Upper":        to.Ptr("7"),
	"spaced":       to.Ptr("a  b"),
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }

// clientOptions returns azblob options that send through hc (nil: the
// default client), run before on each request before it is signed and
// after on it after it is signed, and never retry.
func clientOptions(hc *http.Client, before, after func(*http.Request)) *azblob.ClientOptions {
	o := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	if hc != nil {
		o.Transport = hc
	}
	if before != nil {
		o.PerCallPolicies = []policy.Policy{policyFunc(func(req *policy.Request) (*http.Response, error) {
			before(req.Raw())
			return req.Next()
		})}
	}
	if after != nil {
		o.PerRetryPolicies = []policy.Policy{policyFunc(func(req *policy.Request) (*http.Response, error) {
			after(req.Raw())
			return req.Next()
		})}
	}
	return o
}

// orderingHeaders adds two x-ms-* headers whose culture-aware and byte
// orders differ, as a real client's extra headers would be.
func orderingHeaders(r *http.Request) {
	r.Header.Set("x-ms-or-policy-id", "p1")
	r.Header.Set("x-ms-original-request-id", "r1")
}

// TestSharedKeyAzblob drives the unmodified azblob client, signing with
// Shared Key, through the common operations in both addressing styles. Every
// request must verify with Azure's documented string to sign.
func TestSharedKeyAzblob(t *testing.T) {
	f := newFakeStorage(t, testAcct)
	tests := []struct {
		name string
		url  string
		hc   *http.Client
	}{
		{"path style", f.URL, nil},
		{"host style", "http://acct.blob.core.windows.net/", f.dialer()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := azblob.NewSharedKeyCredential("acct", b64(testKey1))
			if err != nil {
				t.Fatal(err)
			}
			c, err := azblob.NewClientWithSharedKeyCredential(tt.url, cred, clientOptions(tt.hc, orderingHeaders, nil))
			if err != nil {
				t.Fatal(err)
			}
			runAzblobOperations(t, c)
			recs := f.Records()
			if len(recs) < 9 {
				t.Errorf("server saw %d requests, want at least 9", len(recs))
			}
			for _, r := range recs {
				if !r.SharedKey || r.Err != nil || r.Variant != (variant{}) {
					t.Errorf("%v; want SharedKey verified with the documented string to sign", r)
				}
			}
		})
	}
}

// runAzblobOperations performs container create, upload with metadata,
// list with query parameters, ranged and conditional download, metadata
// updates, list containers and delete through c.
func runAzblobOperations(t *testing.T, c *azblob.Client) {
	t.Helper()
	ctx := context.Background()
	const blobName = "dir/a b+c%d'é.txt"
	if _, err := c.CreateContainer(ctx, "c1", &azblob.CreateContainerOptions{Metadata: metadata}); err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := c.UploadBuffer(ctx, "c1", blobName, []byte(blobContent), &azblob.UploadBufferOptions{
		Metadata:    metadata,
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr("text/plain"), BlobContentLanguage: to.Ptr("en")},
	}); err != nil {
		t.Fatalf("UploadBuffer: %v", err)
	}
	pager := c.NewListBlobsFlatPager("c1", &azblob.ListBlobsFlatOptions{
		Prefix:     to.Ptr("dir/"),
		Marker:     to.Ptr("m 1+2"),
		MaxResults: to.Ptr[int32](2),
		Include:    azblob.ListBlobsInclude{Metadata: true, Snapshots: true},
	})
	if _, err := pager.NextPage(ctx); err != nil {
		t.Fatalf("ListBlobsFlat: %v", err)
	}
	resp, err := c.DownloadStream(ctx, "c1", blobName, &azblob.DownloadStreamOptions{
		Range:            azblob.HTTPRange{Offset: 1, Count: 3},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(azcore.ETag(`"0x8DD0B1C2D3E4F50"`))}},
	})
	if err != nil {
		t.Fatalf("DownloadStream: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "123" {
		t.Errorf("DownloadStream body = %q, %v; want %q", body, err, "123")
	}
	bc := c.ServiceClient().NewContainerClient("c1").NewBlobClient(blobName)
	if _, err := bc.SetMetadata(ctx, metadata, nil); err != nil {
		t.Fatalf("SetMetadata (blob): %v", err)
	}
	if _, err := bc.GetProperties(ctx, nil); err != nil {
		t.Fatalf("GetProperties: %v", err)
	}
	if _, err := c.ServiceClient().NewContainerClient("c1").SetMetadata(ctx, &container.SetMetadataOptions{Metadata: metadata}); err != nil {
		t.Fatalf("SetMetadata (container): %v", err)
	}
	if _, err := c.NewListContainersPager(&service.ListContainersOptions{Prefix: to.Ptr("c")}).NextPage(ctx); err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	if _, err := c.DeleteBlob(ctx, "c1", blobName, nil); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
}

// TestSharedKeyAzblobRejects signs an upload with azblob and then changes
// the request or the keys. Each change must fail with Storage's error code,
// which azblob must see.
func TestSharedKeyAzblobRejects(t *testing.T) {
	other := []byte("another-key-0123456789abcdef0123456789abcdef0123456789abcdef")
	setDate := func(d time.Duration) func(*http.Request) {
		return func(r *http.Request) {
			orderingHeaders(r)
			// azblob looks for the lower-case key and signs the date it finds.
			r.Header["x-ms-date"] = []string{time.Now().Add(d).UTC().Format(http.TimeFormat)}
		}
	}
	tests := []struct {
		name       string
		account    string   // the account the client signs as; "" for acct
		key        []byte   // the key the client signs with; nil for key1
		serverKeys [][]byte // the server's keys; nil for key1 and key2
		before     func(*http.Request)
		after      func(*http.Request)
		want       string // the error code, "" for success
	}{
		{name: "key1"},
		{name: "key2", key: testKey2},
		{name: "key2 only", serverKeys: [][]byte{nil, testKey1}},
		{name: "wrong key", key: other, want: ReasonAuthenticationFailed},
		{name: "empty key not used", key: []byte{}, serverKeys: [][]byte{{}, testKey1}, want: ReasonAuthenticationFailed},
		{name: "other account", account: "other", want: ReasonAuthenticationFailed},
		{name: "tampered metadata value", after: func(r *http.Request) { r.Header["x-ms-meta-ab"] = []string{"9"} }, want: ReasonAuthenticationFailed},
		{name: "added x-ms header", after: func(r *http.Request) { r.Header.Set("x-ms-meta-new", "1") }, want: ReasonAuthenticationFailed},
		{name: "removed x-ms header", after: func(r *http.Request) { delete(r.Header, "x-ms-meta-a-b") }, want: ReasonAuthenticationFailed},
		{name: "tampered x-ms-version", after: func(r *http.Request) { r.Header.Set("x-ms-version", "2019-12-12") }, want: ReasonAuthenticationFailed},
		{name: "added Content-Type", after: func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, want: ReasonAuthenticationFailed},
		{name: "added If-None-Match", after: func(r *http.Request) { r.Header.Set("If-None-Match", "*") }, want: ReasonAuthenticationFailed},
		{name: "tampered query", after: func(r *http.Request) { r.URL.RawQuery = "timeout=30" }, want: ReasonAuthenticationFailed},
		{name: "tampered path", after: func(r *http.Request) { r.URL.Path = "/acct/c1/other"; r.URL.RawPath = "" }, want: ReasonAuthenticationFailed},
		{name: "tampered method", after: func(r *http.Request) { r.Method = http.MethodPost }, want: ReasonAuthenticationFailed},
		{name: "malformed authorization", after: func(r *http.Request) { r.Header.Set("Authorization", "SharedKey acct") }, want: ReasonInvalidAuthenticationInfo},
		{name: "stale x-ms-date", before: setDate(-MaxClockSkew - time.Minute), want: ReasonAuthenticationFailed},
		{name: "future x-ms-date", before: setDate(MaxClockSkew + time.Minute), want: ReasonAuthenticationFailed},
		{name: "x-ms-date within skew", before: setDate(-MaxClockSkew + time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acct := testAcct
			if tt.serverKeys != nil {
				acct.Keys = tt.serverKeys
			}
			f := newFakeStorage(t, acct)
			name, key := "acct", testKey1
			if tt.account != "" {
				name = tt.account
			}
			if tt.key != nil {
				key = tt.key
			}
			cred, err := azblob.NewSharedKeyCredential(name, b64(key))
			if err != nil {
				t.Fatal(err)
			}
			before := tt.before
			if before == nil {
				before = orderingHeaders
			}
			c, err := azblob.NewClientWithSharedKeyCredential(f.URL, cred, clientOptions(nil, before, tt.after))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.UploadBuffer(context.Background(), "c1", "b1", []byte(blobContent), &azblob.UploadBufferOptions{Metadata: metadata})
			recs := f.Records()
			if len(recs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(recs))
			}
			if got := tresor.ReasonOf(recs[0].Err); got != tt.want {
				t.Errorf("VerifySharedKey: %v; want reason %q", recs[0].Err, tt.want)
			}
			if tt.want == "" {
				if err != nil {
					t.Errorf("UploadBuffer = %v, want success", err)
				}
				return
			}
			if !bloberror.HasCode(err, bloberror.Code(tt.want)) {
				t.Errorf("UploadBuffer = %v, want error code %s", err, tt.want)
			}
		})
	}
}

// sign returns a request to url carrying headers, with an Authorization
// header whose signature is the HMAC of stringToSign under key. It lets the
// tests check string-to-sign variants that azblob does not produce.
func sign(method, url string, headers map[string]string, stringToSign string, key []byte) *http.Request {
	r := httptest.NewRequest(method, url, nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(stringToSign))
	r.Header.Set("Authorization", "SharedKey acct:"+base64.StdEncoding.EncodeToString(h.Sum(nil)))
	return r
}

// TestSharedKeyVariants checks the strings to sign that azblob does not
// produce: @azure/storage-blob's (Content-Language first, empty query
// parameters left out), a Date header instead of x-ms-date, and headers in
// byte order. Each string to sign is written out in full.
func TestSharedKeyVariants(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	tests := []struct {
		name    string
		method  string
		url     string
		headers map[string]string
		toSign  string
		want    variant
	}{{
		name:    "documented",
		method:  "PUT",
		url:     "/acct/c1/b1?comp=metadata&timeout=30",
		headers: map[string]string{"x-ms-date": date, "Content-Encoding": "gzip", "Content-Length": "0", "x-ms-meta-ab": "1", "x-ms-meta-a-b": "2"},
		toSign:  "PUT\ngzip\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\nx-ms-meta-ab:1\nx-ms-meta-a-b:2\n/acct/acct/c1/b1\ncomp:metadata\ntimeout:30",
	}, {
		name:    "language before encoding",
		method:  "PUT",
		url:     "/acct/c1/b1",
		headers: map[string]string{"x-ms-date": date, "Content-Encoding": "gzip", "Content-Length": "5", "Content-Type": "text/plain"},
		toSign:  "PUT\n\ngzip\n5\n\ntext/plain\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1/b1",
		want:    variant{languageFirst: true},
	}, {
		name:    "empty and repeated query parameters",
		method:  "GET",
		url:     "/acct/c1?restype=container&comp=list&prefix=&marker=a%2Bb+c&include=metadata&include=snapshots",
		headers: map[string]string{"x-ms-date": date},
		toSign:  "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1\ncomp:list\ninclude:metadata,snapshots\nmarker:a+b c\nprefix:\nrestype:container",
	}, {
		name:    "Date header",
		method:  "GET",
		url:     "/acct/c1/b1",
		headers: map[string]string{"Date": date, "Range": "bytes=0-3", "If-Match": `"e"`},
		toSign:  "GET\n\n\n\n\n\n" + date + "\n\n\"e\"\n\n\nbytes=0-3\n/acct/acct/c1/b1",
	}, {
		name:    "Date header signed despite x-ms-date",
		method:  "GET",
		url:     "/acct/c1/b1",
		headers: map[string]string{"Date": date, "x-ms-date": date},
		toSign:  "GET\n\n\n\n\n\n" + date + "\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1/b1",
		want:    variant{dateHeader: true},
	}, {
		name:    "headers in byte order",
		method:  "GET",
		url:     "/acct/c1/b1",
		headers: map[string]string{"x-ms-date": date, "x-ms-or-policy-id": "1", "x-ms-original": "2"},
		toSign:  "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\nx-ms-or-policy-id:1\nx-ms-original:2\n/acct/acct/c1/b1",
		want:    variant{ordinalHeaders: true},
	}, {
		name:    "host style",
		method:  "GET",
		url:     "http://acct.blob.example/c1/b%201?comp=metadata",
		headers: map[string]string{"x-ms-date": date},
		toSign:  "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/c1/b%201\ncomp:metadata",
	}, {
		name:    "service level",
		method:  "GET",
		url:     "http://acct.blob.example/?comp=list",
		headers: map[string]string{"x-ms-date": date},
		toSign:  "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/\ncomp:list",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sign(tt.method, tt.url, tt.headers, tt.toSign, testKey2)
			got, err := verifySharedKey(r, testAcct, now)
			if err != nil {
				t.Fatalf("VerifySharedKey = %v", err)
			}
			if got != tt.want {
				t.Errorf("matched variant %+v, want %+v", got, tt.want)
			}
			// Without the keys, nothing matches.
			if _, err := verifySharedKey(r, Account{Name: "acct", Keys: [][]byte{testKey1}}, now); !tresor.IsKind(err, tresor.Unauthenticated) {
				t.Errorf("VerifySharedKey with another key = %v, want Unauthenticated", err)
			}
		})
	}
}

// TestSharedKeyMalformed checks requests that fail before any signature is
// computed.
func TestSharedKeyMalformed(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	validSig := base64.StdEncoding.EncodeToString(make([]byte, sha256.Size))
	tests := []struct {
		name    string
		headers map[string][]string
		kind    tresor.Kind
		reason  string
	}{
		{"no header", map[string][]string{"X-Ms-Date": {date}}, tresor.Invalid, ReasonInvalidAuthenticationInfo},
		{"two headers", map[string][]string{"Authorization": {"SharedKey acct:" + validSig, "SharedKey acct:" + validSig}, "X-Ms-Date": {date}}, tresor.Invalid, ReasonInvalidAuthenticationInfo},
		{"no credentials", map[string][]string{"Authorization": {"SharedKey"}, "X-Ms-Date": {date}}, tresor.Invalid, ReasonInvalidAuthenticationInfo},
		{"no colon", map[string][]string{"Authorization": {"SharedKey acct"}, "X-Ms-Date": {date}}, tresor.Invalid, ReasonInvalidAuthenticationInfo},
		{"empty signature", map[string][]string{"Authorization": {"SharedKey acct:"}, "X-Ms-Date": {date}}, tresor.Invalid, ReasonInvalidAuthenticationInfo},
		{"SharedKeyLite", map[string][]string{"Authorization": {"SharedKeyLite acct:" + validSig}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"Bearer", map[string][]string{"Authorization": {"Bearer abc"}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"signature not base64", map[string][]string{"Authorization": {"SharedKey acct:!!!"}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"signature too short", map[string][]string{"Authorization": {"SharedKey acct:AAAA"}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"other account", map[string][]string{"Authorization": {"SharedKey other:" + validSig}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"no date", map[string][]string{"Authorization": {"SharedKey acct:" + validSig}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"bad date", map[string][]string{"Authorization": {"SharedKey acct:" + validSig}, "X-Ms-Date": {"yesterday"}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
		{"wrong signature", map[string][]string{"Authorization": {"SharedKey acct:" + validSig}, "X-Ms-Date": {date}}, tresor.Unauthenticated, ReasonAuthenticationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/acct/c1", nil)
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			err := VerifySharedKey(r, testAcct, now)
			if !tresor.IsKind(err, tt.kind) || tresor.ReasonOf(err) != tt.reason {
				t.Errorf("VerifySharedKey = %v (kind %v, reason %q), want kind %v, reason %q",
					err, tresor.KindOf(err), tresor.ReasonOf(err), tt.kind, tt.reason)
			}
		})
	}
}

// TestSharedKeyRejectsVariants checks strings to sign that are not
// accepted because they would sign less of the request.
func TestSharedKeyRejectsVariants(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	tests := []struct {
		name, url, toSign string
	}{
		{"empty parameter left out", "/acct/c1?comp=list&prefix=", "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1\ncomp:list"},
		{"repeated parameter, last only", "/acct/c1?comp=metadata&comp=list", "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1\ncomp:list"},
		{"decoded path", "/acct/c1/a%20b", "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/acct/c1/a b"},
		{"path without account", "/acct/c1/b", "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + date + "\n/acct/c1/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sign("GET", tt.url, map[string]string{"x-ms-date": date}, tt.toSign, testKey1)
			if err := VerifySharedKey(r, testAcct, now); tresor.ReasonOf(err) != ReasonAuthenticationFailed {
				t.Errorf("VerifySharedKey = %v, want AuthenticationFailed", err)
			}
		})
	}
}

func TestCanonicalResource(t *testing.T) {
	tests := []struct {
		name, path, query string
		want              string
	}{
		{"no query", "/acct/c", "", "/acct/acct/c"},
		{"sorted, lower case", "/c", "restype=container&Comp=list", "/acct/c\ncomp:list\nrestype:container"},
		{"values decoded, sorted, joined", "/c", "a=2&a=1&b=x%20y+z", "/acct/c\na:1,2\nb:x y z"},
		{"empty value", "/c", "comp=list&marker=", "/acct/c\ncomp:list\nmarker:"},
		{"no value", "/c", "comp", "/acct/c\ncomp:"},
		{"names merged across case", "/c", "A=1&a=2", "/acct/c\na:1,2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, canonicalResource("acct", tt.path, tt.query)); diff != "" {
				t.Errorf("canonicalResource (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestPath(t *testing.T) {
	r := httptest.NewRequest("GET", "/acct/c1/a%2Fb%20c?comp=list", nil)
	stripped := http.StripPrefix("/acct", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := requestPath(r); got != "/acct/c1/a%2Fb%20c" {
			t.Errorf("requestPath behind StripPrefix = %q, want the path as sent", got)
		}
	}))
	stripped.ServeHTTP(httptest.NewRecorder(), r)

	r = &http.Request{URL: &url.URL{Path: "/acct/c 1"}}
	if got := requestPath(r); got != "/acct/c%201" {
		t.Errorf("requestPath without RequestURI = %q, want %q", got, "/acct/c%201")
	}
	r = &http.Request{URL: &url.URL{}}
	if got := requestPath(r); got != "/" {
		t.Errorf("requestPath of an empty path = %q, want /", got)
	}
}
