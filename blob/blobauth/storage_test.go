package blobauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresorkms/tresor"
)

// The test account. key1 and key2 are fixed so that failures reproduce.
var (
	testKey1 = []byte("key1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	testKey2 = []byte("key2-0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	testAcct = Account{Name: "acct", Keys: [][]byte{testKey1, testKey2}}
)

func b64(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// The content of every blob the fake serves.
const blobContent = "0123456789"

// fakeStorage is a minimal Blob endpoint on loopback. It authenticates
// every request with this package (SharedKey or SAS), records the outcome,
// and answers just well enough for the SDKs' operations to succeed.
type fakeStorage struct {
	URL  string // path-style: http://127.0.0.1:port/acct
	Addr string // host:port of the listener
	acct Account

	mu      sync.Mutex
	records []authRecord
}

// An authRecord is what fakeStorage learned about one request.
type authRecord struct {
	Method, URI string
	SharedKey   bool
	Variant     variant
	SAS         *SAS
	Err         error
}

func (r authRecord) String() string {
	return fmt.Sprintf("%s %s: variant %+v, err %v", r.Method, r.URI, r.Variant, r.Err)
}

func newFakeStorage(tb testing.TB, acct Account) *fakeStorage {
	tb.Helper()
	// The fields are set before the server starts: requests reach the
	// handler through another process (node), which the race detector
	// cannot see as ordering them after the test's writes.
	f := &fakeStorage{acct: acct}
	srv := httptest.NewUnstartedServer(f)
	f.Addr = srv.Listener.Addr().String()
	f.URL = "http://" + f.Addr + "/" + acct.Name
	srv.Start()
	tb.Cleanup(srv.Close)
	return f
}

// Records returns the requests seen so far and forgets them.
func (f *fakeStorage) Records() []authRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records
	f.records = nil
	return r
}

// dialer returns an HTTP client that sends every request to f, whatever
// the host in its URL, for host-style URLs such as
// http://acct.blob.core.windows.net.
func (f *fakeStorage) dialer() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, f.Addr)
		},
	}}
}

// target splits the request's path into container and blob, path style if
// the host is an IP address (as azblob and Azurite decide), host style
// otherwise.
func target(r *http.Request, account string) (Target, error) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if _, err := netip.ParseAddr(host); err == nil {
		first, rest, _ := strings.Cut(p, "/")
		if first != account {
			return Target{}, fmt.Errorf("path %q is not in account %q", r.URL.Path, account)
		}
		p = rest
	} else if first, _, _ := strings.Cut(host, "."); first != account {
		return Target{}, fmt.Errorf("host %q is not account %q", host, account)
	}
	container, blob, _ := strings.Cut(p, "/")
	t := Target{Container: container, Blob: blob, Secure: r.TLS != nil}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		t.ClientIP = ap.Addr()
	}
	return t, nil
}

// need returns the SAS permissions that allow the operation r.
func need(r *http.Request) Permissions {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Get("comp") == "list":
		return List
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return Read
	case r.Method == http.MethodPut && q.Get("comp") == "metadata":
		return Write
	case r.Method == http.MethodPut:
		return Create | Write
	case r.Method == http.MethodDelete:
		return Delete
	}
	return 0
}

func (f *fakeStorage) authenticate(r *http.Request) authRecord {
	rec := authRecord{Method: r.Method, URI: r.RequestURI}
	now := time.Now()
	switch {
	case strings.HasPrefix(r.Header.Get("Authorization"), "SharedKey "):
		rec.SharedKey = true
		rec.Variant, rec.Err = verifySharedKey(r, f.acct, now)
	case r.URL.Query().Has("sig"):
		t, err := target(r, f.acct.Name)
		if err != nil {
			rec.Err = err
			break
		}
		rec.SAS, rec.Err = VerifySAS(r.URL.Query(), f.acct, t, now)
		if rec.Err == nil {
			rec.Err = rec.SAS.Allow(need(r))
		}
	default:
		rec.Err = errors.New("anonymous request")
	}
	return rec
}

func (f *fakeStorage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := f.authenticate(r)
	f.mu.Lock()
	f.records = append(f.records, rec)
	f.mu.Unlock()

	h := w.Header()
	h.Set("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
	h.Set("x-ms-version", r.Header.Get("x-ms-version"))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if rec.Err != nil {
		writeError(w, rec.Err)
		return
	}
	h.Set("ETag", `"0x8DD0B1C2D3E4F50"`)
	h.Set("Last-Modified", "Sat, 21 Nov 2026 12:00:00 GMT")
	q := r.URL.Query()
	t, _ := target(r, f.acct.Name)
	switch {
	case r.Method == http.MethodGet && q.Get("comp") == "list" && t.Container == "":
		h.Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="%s/"><Containers>`+
			`<Container><Name>c1</Name><Properties><Last-Modified>Sat, 21 Nov 2026 12:00:00 GMT</Last-Modified><Etag>"0x1"</Etag></Properties></Container>`+
			`</Containers><NextMarker/></EnumerationResults>`, f.URL)
	case r.Method == http.MethodGet && q.Get("comp") == "list":
		h.Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="%s/" ContainerName="%s"><Blobs>`+
			`<Blob><Name>dir/b</Name><Properties><Last-Modified>Sat, 21 Nov 2026 12:00:00 GMT</Last-Modified><Etag>0x1</Etag>`+
			`<Content-Length>10</Content-Length><BlobType>BlockBlob</BlobType></Properties><Metadata><ab>1</ab></Metadata></Blob>`+
			`</Blobs><NextMarker/></EnumerationResults>`, f.URL, t.Container)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.Set("x-ms-blob-type", "BlockBlob")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Accept-Ranges", "bytes")
		body, status := blobContent, http.StatusOK
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		if from, to, ok := parseRange(rng, len(blobContent)); ok {
			body, status = blobContent[from:to+1], http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(blobContent)))
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			fmt.Fprint(w, body)
		}
	case r.Method == http.MethodPut && q.Get("comp") == "metadata":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPut:
		h.Set("x-ms-request-server-encrypted", "true")
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// parseRange parses "bytes=from-to".
func parseRange(v string, size int) (from, to int, ok bool) {
	a, b, ok := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
	if !ok {
		return 0, 0, false
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if b == "" {
		to, err2 = size-1, nil
	}
	if err1 != nil || err2 != nil || from > to || to >= size {
		return 0, 0, false
	}
	return from, to, true
}

// writeError answers as Azure Storage does: 403 for authentication and
// authorization failures, 400 for a malformed Authorization header.
func writeError(w http.ResponseWriter, err error) {
	var e *tresor.Error
	if !errors.As(err, &e) {
		e = tresor.Errorf(tresor.Unauthenticated, "%v", err).WithReason("TestFailure")
	}
	status := http.StatusForbidden
	if e.Kind == tresor.Invalid {
		status = http.StatusBadRequest
	}
	w.Header().Set("x-ms-error-code", e.Reason)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, e.Reason, e.Message)
}
