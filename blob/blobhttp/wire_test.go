package blobhttp

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor/blob"
)

// rawClient sends hand-made requests with an account SAS that allows
// everything.
type rawClient struct {
	t   *testing.T
	s   *server
	sas string
}

func newRaw(t *testing.T, s *server) *rawClient {
	qp, err := sas.AccountSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		Permissions:   (&sas.AccountPermissions{Read: true, Write: true, Delete: true, List: true, Add: true, Create: true}).String(),
		ResourceTypes: (&sas.AccountResourceTypes{Service: true, Container: true, Object: true}).String(),
	}.SignWithSharedKey(s.credential(t))
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, s: s, sas: qp.Encode()}
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to path (under the account) with query q, headers
// given as "Name: value" strings, and body.
func (c *rawClient) do(method, path, q string, body io.Reader, headers ...string) rawResponse {
	c.t.Helper()
	u := c.s.URL + path + "?" + c.sas
	if q != "" {
		u += "&" + q
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if b, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(b.Len())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// unknownLength hides a reader's length, so that the request is chunked.
type unknownLength struct{ io.Reader }

func TestWireErrors(t *testing.T) {
	s := newServer(t)
	c := newRaw(t, s)
	if r := c.do("PUT", "/ctr", "restype=container", nil); r.status != 201 {
		t.Fatalf("create container = %d %s", r.status, r.body)
	}
	if r := c.do("PUT", "/ctr/b", "", bytes.NewReader([]byte("hello")), "x-ms-blob-type: BlockBlob"); r.status != 201 {
		t.Fatalf("put blob = %d %s", r.status, r.body)
	}
	big := bytes.Repeat([]byte("<Latest>AAAA</Latest>"), 500000)
	tests := []struct {
		name         string
		method, path string
		query        string
		body         io.Reader
		headers      []string
		status       int
		code         string
	}{
		{"malformed range", "GET", "/ctr/b", "", nil, []string{"Range: bytes=abc"}, 400, codeInvalidHeaderValue},
		{"suffix range", "GET", "/ctr/b", "", nil, []string{"x-ms-range: bytes=-5"}, 400, codeInvalidHeaderValue},
		{"range beyond the end", "GET", "/ctr/b", "", nil, []string{"Range: bytes=5-9"}, 416, blob.ReasonInvalidRange},
		{"bad block list XML", "PUT", "/ctr/b", "comp=blocklist", strings.NewReader("<BlockList><Latest>AAAA</Latest>"), nil, 400, codeInvalidXMLDocument},
		{"block list with another element", "PUT", "/ctr/b", "comp=blocklist", strings.NewReader("<BlockList><Oldest>AAAA</Oldest></BlockList>"), nil, 400, codeInvalidXMLDocument},
		{"block list too large", "PUT", "/ctr/b", "comp=blocklist", bytes.NewReader(big), nil, 413, codeRequestBodyTooLarge},
		{"unknown block", "PUT", "/ctr/b", "comp=blocklist", strings.NewReader("<BlockList><Latest>AAAA</Latest></BlockList>"), nil, 400, blob.ReasonInvalidBlockList},
		{"no blob type", "PUT", "/ctr/x", "", bytes.NewReader([]byte("x")), nil, 400, codeMissingRequiredHeader},
		{"append blob", "PUT", "/ctr/x", "", bytes.NewReader(nil), []string{"x-ms-blob-type: AppendBlob"}, 400, codeInvalidHeaderValue},
		{"no content length", "PUT", "/ctr/x", "", unknownLength{strings.NewReader("x")}, []string{"x-ms-blob-type: BlockBlob"}, 411, codeMissingContentLength},
		{"unknown comp", "GET", "/ctr/b", "comp=bogus", nil, nil, 400, codeInvalidQueryParameterValue},
		{"container without restype", "GET", "/ctr", "", nil, nil, 400, codeInvalidQueryParameterValue},
		{"unsupported verb", "PATCH", "/ctr/b", "", nil, nil, 405, codeUnsupportedHTTPVerb},
		{"bad metadata name", "PUT", "/ctr/b", "comp=metadata", nil, []string{"x-ms-meta-1bad: x"}, 400, blob.ReasonInvalidMetadata},
		{"metadata too large", "PUT", "/ctr/b", "comp=metadata", nil, []string{"x-ms-meta-big: " + strings.Repeat("x", 9000)}, 400, blob.ReasonMetadataTooLarge},
		{"bad block id", "PUT", "/ctr/b", "comp=block&blockid=%21%21", bytes.NewReader([]byte("x")), nil, 400, blob.ReasonInvalidBlockID},
		{"bad date", "GET", "/ctr/b", "", nil, []string{"If-Modified-Since: yesterday"}, 400, codeInvalidHeaderValue},
		{"md5 mismatch", "PUT", "/ctr/x", "", bytes.NewReader([]byte("x")), []string{"x-ms-blob-type: BlockBlob", "Content-MD5: " + base64.StdEncoding.EncodeToString(make([]byte, 16))}, 400, blob.ReasonMd5Mismatch},
		{"bad md5", "PUT", "/ctr/x", "", bytes.NewReader([]byte("x")), []string{"x-ms-blob-type: BlockBlob", "Content-MD5: !!"}, 400, codeInvalidHeaderValue},
		{"unknown encryption scope", "PUT", "/ctr/x", "", bytes.NewReader([]byte("x")), []string{"x-ms-blob-type: BlockBlob", "x-ms-encryption-scope: mine"}, 400, codeInvalidHeaderValue},
		{"unknown default encryption scope", "PUT", "/ctr2", "restype=container", nil, []string{"x-ms-default-encryption-scope: mine"}, 400, codeInvalidHeaderValue},
		{"bad deny override", "PUT", "/ctr2", "restype=container", nil, []string{"x-ms-deny-encryption-scope-override: yes"}, 400, codeInvalidHeaderValue},
		{"customer-provided key", "PUT", "/ctr/x", "", bytes.NewReader([]byte("x")), []string{"x-ms-blob-type: BlockBlob", "x-ms-encryption-key: abc"}, 400, codeUnsupportedHeader},
		{"maxresults 0", "GET", "/ctr", "restype=container&comp=list&maxresults=0", nil, nil, 400, codeInvalidQueryParameterValue},
		{"bad marker", "GET", "/ctr", "restype=container&comp=list&marker=%25%25", nil, nil, 400, codeInvalidQueryParameterValue},
		{"bad include", "GET", "/ctr", "restype=container&comp=list&include=everything", nil, nil, 400, codeInvalidQueryParameterValue},
		{"page write on a block blob", "PUT", "/ctr/b", "comp=page", bytes.NewReader(make([]byte, 512)), []string{"x-ms-page-write: update", "x-ms-range: bytes=0-511"}, 409, blob.ReasonInvalidBlobType},
		{"blob in a missing container", "PUT", "/nope/x", "", bytes.NewReader([]byte("x")), []string{"x-ms-blob-type: BlockBlob"}, 404, blob.ReasonContainerNotFound},
		{"copy from another account", "PUT", "/ctr/x", "", nil, []string{"x-ms-copy-source: http://127.0.0.1/other/ctr/b"}, 403, codeCannotVerifyCopySource},
		{"copy from nowhere", "PUT", "/ctr/x", "", nil, []string{"x-ms-copy-source: ::"}, 400, codeInvalidHeaderValue},
		{"range md5 without range", "GET", "/ctr/b", "", nil, []string{"x-ms-range-get-content-md5: true"}, 400, blob.ReasonOutOfRangeInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, tt.query, tt.body, tt.headers...)
			if r.status != tt.status || r.header.Get("x-ms-error-code") != tt.code {
				t.Fatalf("%s %s?%s = %d %s, want %d %s (%s)", tt.method, tt.path, tt.query, r.status, r.header.Get("x-ms-error-code"), tt.status, tt.code, r.body)
			}
			var e storageError
			if err := xml.Unmarshal(r.body, &e); err != nil || e.Code != tt.code || !strings.Contains(e.Message, "RequestId:"+r.header.Get("x-ms-request-id")) {
				t.Errorf("error body = %s (%v), want Code %s and the request ID", r.body, err, tt.code)
			}
		})
	}
	if got, err := s.Service.GetBlobProperties(ctx, blob.Path{Account: testAccount, Container: "ctr", Blob: "x"}, blob.Conditions{}); err == nil {
		t.Errorf("blob x exists after refused writes: %+v", got)
	}
}

func TestWireHeaders(t *testing.T) {
	s := newServer(t)
	c := newRaw(t, s)
	c.do("PUT", "/ctr", "restype=container", nil)
	data := []byte("0123456789abcdef")
	r := c.do("PUT", "/ctr/b", "", bytes.NewReader(data), "x-ms-blob-type: BlockBlob", "x-ms-client-request-id: my-id", "x-ms-version: 2021-08-06")
	sum := md5.Sum(data)
	for k, want := range map[string]string{
		"x-ms-client-request-id":        "my-id",
		"x-ms-version":                  "2021-08-06",
		"x-ms-request-server-encrypted": "true",
		"Content-MD5":                   base64.StdEncoding.EncodeToString(sum[:]),
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("Put Blob: %s = %q, want %q", k, got, want)
		}
	}
	if r.header.Get("x-ms-request-id") == "" || r.header.Get("Date") == "" || !strings.HasPrefix(r.header.Get("ETag"), `"0x`) {
		t.Errorf("Put Blob headers = %v; want a request ID, Date and a quoted ETag", r.header)
	}
	etag := r.header.Get("ETag")

	r = c.do("GET", "/ctr/b", "", nil, "x-ms-range: bytes=2-5", "Range: bytes=0-0", "x-ms-range-get-content-md5: true")
	rangeSum := md5.Sum(data[2:6])
	if r.status != 206 || string(r.body) != "2345" || r.header.Get("Content-Range") != "bytes 2-5/16" ||
		r.header.Get("Content-MD5") != base64.StdEncoding.EncodeToString(rangeSum[:]) ||
		r.header.Get("x-ms-blob-content-md5") != base64.StdEncoding.EncodeToString(sum[:]) ||
		r.header.Get("x-ms-server-encrypted") != "true" || r.header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("ranged GET (x-ms-range wins) = %d %q, headers %v", r.status, r.body, r.header)
	}
	r = c.do("GET", "/ctr/b", "", nil, "Range: bytes=10-")
	if r.status != 206 || string(r.body) != "abcdef" || r.header.Get("Content-Range") != "bytes 10-15/16" {
		t.Errorf("GET bytes=10- = %d %q %s", r.status, r.body, r.header.Get("Content-Range"))
	}
	r = c.do("GET", "/ctr/b", "", nil, "Range: bytes=14-100")
	if r.status != 206 || string(r.body) != "ef" || r.header.Get("Content-Range") != "bytes 14-15/16" {
		t.Errorf("GET bytes=14-100 = %d %q %s", r.status, r.body, r.header.Get("Content-Range"))
	}
	r = c.do("GET", "/ctr/b", "", nil, "Range: bytes=16-20")
	if r.status != 416 || r.header.Get("Content-Range") != "bytes */16" {
		t.Errorf("GET bytes=16-20 = %d, Content-Range %q; want 416, bytes */16", r.status, r.header.Get("Content-Range"))
	}
	c.do("PUT", "/ctr/empty", "", bytes.NewReader(nil), "x-ms-blob-type: BlockBlob")
	r = c.do("GET", "/ctr/empty", "", nil, "Range: bytes=0-")
	if r.status != 416 || r.header.Get("Content-Range") != "bytes */0" {
		t.Errorf("GET bytes=0- of an empty blob = %d, Content-Range %q; want 416, bytes */0", r.status, r.header.Get("Content-Range"))
	}
	r = c.do("GET", "/ctr/empty", "", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != "0" {
		t.Errorf("GET of an empty blob = %d, %d bytes, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}
	r = c.do("GET", "/ctr/b", "", nil, "If-None-Match: "+etag)
	if r.status != 304 || len(r.body) != 0 || r.header.Get("x-ms-error-code") != blob.ReasonConditionNotMet {
		t.Errorf("GET If-None-Match = %d %q %s; want 304 ConditionNotMet, no body", r.status, r.body, r.header.Get("x-ms-error-code"))
	}
	r = c.do("HEAD", "/ctr/missing", "", nil)
	if r.status != 404 || r.header.Get("x-ms-error-code") != blob.ReasonBlobNotFound || len(r.body) != 0 {
		t.Errorf("HEAD missing = %d %s %q", r.status, r.header.Get("x-ms-error-code"), r.body)
	}
	r = c.do("HEAD", "/ctr/b", "", nil)
	if r.status != 200 || r.header.Get("Content-Length") != "16" || r.header.Get("x-ms-blob-type") != "BlockBlob" ||
		r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("HEAD = %d %v", r.status, r.header)
	}

	// Names that XML cannot carry are sent encoded.
	c.do("PUT", "/ctr/a%01b", "", bytes.NewReader([]byte("x")), "x-ms-blob-type: BlockBlob")
	r = c.do("GET", "/ctr", "restype=container&comp=list&prefix=a", nil)
	if !bytes.Contains(r.body, []byte(`<Name Encoded="true">a%01b</Name>`)) {
		t.Errorf("listing of a\\x01b = %s", r.body)
	}
}

func TestUnknownAccount(t *testing.T) {
	s := newServer(t)
	c := newRaw(t, s)
	c.s = &server{URL: strings.TrimSuffix(s.URL, testAccount) + "nobody"}
	r := c.do("GET", "", "comp=list", nil)
	if r.status != 404 || r.header.Get("x-ms-error-code") != "AccountNotFound" {
		t.Errorf("List Containers of an unknown account = %d %s", r.status, r.header.Get("x-ms-error-code"))
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in   string
		want blob.Range
		ok   bool
	}{
		{"bytes=0-0", blob.Range{Offset: 0, Count: 1}, true},
		{"bytes=0-4194303", blob.Range{Offset: 0, Count: 4 << 20}, true},
		{"bytes=10-", blob.Range{Offset: 10, Count: -1}, true},
		{" bytes=5-9 ", blob.Range{Offset: 5, Count: 5}, true},
		{"bytes=9-5", blob.Range{}, false},
		{"bytes=-5", blob.Range{}, false},
		{"bytes=1-2,4-5", blob.Range{}, false},
		{"bytes=+1-2", blob.Range{}, false},
		{"items=1-2", blob.Range{}, false},
		{"bytes=99999999999999999999-", blob.Range{}, false},
		{"bytes=", blob.Range{}, false},
	}
	for _, tt := range tests {
		got, ok := parseRange(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseRange(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=10-", "bytes=-5", "bytes=1-2,3-4", "bytes=4611686018427387904-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := parseRange(s)
		if !ok {
			return
		}
		if r.Offset < 0 || r.Offset > 1<<62 || (r.Count != -1 && (r.Count < 1 || r.Offset+r.Count > 1<<62)) {
			t.Fatalf("parseRange(%q) = %+v", s, r)
		}
		again := fmt.Sprintf("bytes=%d-", r.Offset)
		if r.Count >= 0 {
			again += fmt.Sprint(r.Offset + r.Count - 1)
		}
		if r2, ok := parseRange(again); !ok || r2 != r {
			t.Fatalf("parseRange(%q) = %+v, but parseRange(%q) = %+v, %v", s, r, again, r2, ok)
		}
	})
}

func TestParseBlockList(t *testing.T) {
	got, err := parseBlockList(strings.NewReader(`<?xml version="1.0" encoding="utf-8"?>
<BlockList>
  <Latest>AAAA</Latest><Committed>AQAA</Committed>
  <!-- a comment -->
  <Uncommitted>AgAA</Uncommitted>
</BlockList>`))
	want := []blob.BlockRef{{Name: "AAAA", Source: blob.Latest}, {Name: "AQAA", Source: blob.Committed}, {Name: "AgAA", Source: blob.Uncommitted}}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("parseBlockList = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "<BlockList>", "<Other/>", "<BlockList><Latest><x/></Latest></BlockList>", "<BlockList>text</BlockList>",
		"<BlockList/><BlockList/>", "<BlockList><BlockList/></BlockList>"} {
		if got, err := parseBlockList(strings.NewReader(bad)); err == nil {
			t.Errorf("parseBlockList(%q) = %v, want an error", bad, got)
		}
	}
}

func FuzzParseBlockList(f *testing.F) {
	for _, s := range []string{"<BlockList><Latest>AAAA</Latest></BlockList>", "<BlockList/>", "<BlockList><Committed>A</Committed><Uncommitted>B</Uncommitted></BlockList>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list, err := parseBlockList(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(list) > blob.MaxBlocks {
			t.Fatalf("%d blocks", len(list))
		}
		// What parses encodes back to an equivalent list.
		var b strings.Builder
		b.WriteString("<BlockList>")
		for _, r := range list {
			el := map[blob.BlockSource]string{blob.Latest: "Latest", blob.Committed: "Committed", blob.Uncommitted: "Uncommitted"}[r.Source]
			b.WriteString("<" + el + ">")
			xml.EscapeText(&b, []byte(r.Name))
			b.WriteString("</" + el + ">")
		}
		b.WriteString("</BlockList>")
		again, err := parseBlockList(strings.NewReader(b.String()))
		if err != nil || !cmp.Equal(again, list, cmp.Comparer(func(a, b string) bool { return a == b })) {
			t.Fatalf("parseBlockList(%q) = %v; re-encoded %q parses to %v, %v", s, list, b.String(), again, err)
		}
	})
}
