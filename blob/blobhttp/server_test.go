package blobhttp

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob/blobauth"
	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/blob/blobtest/azblobtest"
)

const (
	testAccount = "acct"
	testSuffix  = ".blob.tresor.test"
)

var (
	testKey  = []byte("tresor-blob-test-key-0123456789abcdef0123456789abcdef0123456789")
	testKey2 = []byte("tresor-blob-test-key-2-0123456789abcdef0123456789abcdef012345678")
)

// accounts is an Accounts over a fixed set.
type accounts map[string]blobauth.Account

func (a accounts) Account(_ context.Context, name string) (blobauth.Account, error) {
	acct, ok := a[name]
	if !ok {
		return blobauth.Account{}, tresor.Errorf(tresor.NotFound, "account %s not found", name)
	}
	return acct, nil
}

// A server is the Blob API on loopback over a blobtest.Env.
type server struct {
	*blobtest.Env
	URL  string // path style: http://127.0.0.1:port/acct
	Addr string
	h    *Handler

	mu      sync.Mutex
	allowed map[string]bool // data actions that the bearer token "token" may perform
}

func newServer(tb testing.TB) *server {
	tb.Helper()
	s := &server{Env: blobtest.New(tb), allowed: map[string]bool{}}
	s.h = New(Handler{
		Service:  s.Service,
		Accounts: accounts{testAccount: {Name: testAccount, Keys: [][]byte{testKey, testKey2}}},
		Suffix:   testSuffix,
		Authenticate: func(_ context.Context, token string) (tresor.Principal, error) {
			if token != "token" {
				return tresor.Principal{}, tresor.Errorf(tresor.Unauthenticated, "bad token")
			}
			return tresor.Principal{ObjectID: "oid", TenantID: "tid"}, nil
		},
		Authorize: func(_ context.Context, p tresor.Principal, account, container, action string) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if p.ObjectID == "oid" && account == testAccount && s.allowed[action] {
				return nil
			}
			return tresor.Errorf(tresor.Forbidden, "%s may not %s", p.ObjectID, action)
		},
		Authority: "https://login.tresor.test/tid",
	})
	srv := httptest.NewServer(s.h)
	tb.Cleanup(srv.Close)
	s.Addr = srv.Listener.Addr().String()
	s.URL = srv.URL + "/" + testAccount
	return s
}

// allow sets the data actions that the bearer token may perform.
func (s *server) allow(actions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed = map[string]bool{}
	for _, a := range actions {
		s.allowed[a] = true
	}
}

// options are azblob client options without retries, so that errors show
// at once.
func options() *azblob.ClientOptions {
	return &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: -1},
	}}
}

func (s *server) credential(tb testing.TB) *azblob.SharedKeyCredential {
	tb.Helper()
	cred, err := azblob.NewSharedKeyCredential(testAccount, base64.StdEncoding.EncodeToString(testKey))
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// client returns an azblob client with Shared Key, path style.
func (s *server) client(tb testing.TB) *azblob.Client {
	tb.Helper()
	c, err := azblob.NewClientWithSharedKeyCredential(s.URL, s.credential(tb), options())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// serviceClient returns the service client of client(tb).
func (s *server) serviceClient(tb testing.TB) *service.Client {
	return s.client(tb).ServiceClient()
}

// dialer returns client options whose transport sends every request to
// s, for host-style URLs.
func (s *server) hostStyleOptions() *azblob.ClientOptions {
	o := options()
	o.Transport = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.Addr)
		},
	}}
	return o
}

// errorCode returns the Storage error code of an azblob error, and its
// status.
var errorCode = azblobtest.ErrorCode

// tokenCredential gives the bearer token "token".
type tokenCredential struct{}

func (tokenCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func hostOf(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}
