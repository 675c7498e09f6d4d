package blob_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobtest"
)

// in names an encryption scope in a write.
func in(scope string) blob.ScopeRequest { return blob.RequestScope(scope) }

func mustScopedContainer(tb testing.TB, e *blobtest.Env, name string, pol blob.EncryptionPolicy) {
	tb.Helper()
	if _, err := e.Service.CreateContainer(ctx, acct, name, nil, pol); err != nil {
		tb.Fatalf("CreateContainer(%q, %+v) = %v", name, pol, err)
	}
}

func TestContainerEncryptionPolicy(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	mustScopedContainer(t, e, "deny", blob.EncryptionPolicy{DefaultEncryptionScope: "sa", DenyEncryptionScopeOverride: true})
	mustScopedContainer(t, e, "wire", blob.EncryptionPolicy{DefaultEncryptionScope: blob.AccountScope})
	mustContainer(t, e, "plain")

	want := map[string]blob.EncryptionPolicy{
		"deny":  {DefaultEncryptionScope: "sa", DenyEncryptionScopeOverride: true},
		"plain": {},
		"wire":  {}, // the wire name of the account key is ""
	}
	for name, pol := range want {
		c, err := e.Service.GetContainerProperties(ctx, acct, name)
		if err != nil || c.EncryptionPolicy != pol {
			t.Errorf("GetContainerProperties(%s) = %+v, %v; want policy %+v", name, c.EncryptionPolicy, err, pol)
		}
	}
	l, err := e.Service.ListContainers(ctx, acct, blob.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Containers {
		if c.EncryptionPolicy != want[c.Name] {
			t.Errorf("ListContainers: %s has policy %+v, want %+v", c.Name, c.EncryptionPolicy, want[c.Name])
		}
	}
	// Set Container Metadata keeps the policy.
	if _, err := e.Service.SetContainerMetadata(ctx, acct, "deny", blob.Metadata{"a": "b"}, blob.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Service.GetContainerProperties(ctx, acct, "deny"); c.EncryptionPolicy != want["deny"] {
		t.Errorf("policy after SetContainerMetadata = %+v, want %+v", c.EncryptionPolicy, want["deny"])
	}

	_, err = e.Service.CreateContainer(ctx, acct, "nope", nil, blob.EncryptionPolicy{DefaultEncryptionScope: "missing"})
	wantReason(t, "CreateContainer(default scope missing)", err, tresor.Invalid, blob.ReasonInvalidHeaderValue)
	e.Keys.DisableScope(acct, "sa", true)
	_, err = e.Service.CreateContainer(ctx, acct, "nope", nil, blob.EncryptionPolicy{DefaultEncryptionScope: "sa"})
	wantReason(t, "CreateContainer(default scope disabled)", err, tresor.Forbidden, blob.ReasonAuthorizationFailure)
	e.Keys.DisableScope(acct, "sa", false)
	// A revoked key does not stop container creation: the scope is
	// checked, its key not unwrapped.
	e.Keys.RevokeScope(acct, "sa", true)
	e.Keys.Calls()
	if _, err := e.Service.CreateContainer(ctx, acct, "revoked", nil, blob.EncryptionPolicy{DefaultEncryptionScope: "sa"}); err != nil {
		t.Errorf("CreateContainer(default scope revoked) = %v, want success", err)
	}
	if n := e.Keys.Calls(); n != 0 {
		t.Errorf("CreateContainer asked for %d keys, want none", n)
	}
}

// TestWriteScopes checks which scope each write lands in: the one it
// names, else the container's default; a write in place keeps the blob's.
func TestWriteScopes(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	e.Keys.AddScope(acct, "sb")
	mustScopedContainer(t, e, "ctr", blob.EncryptionPolicy{DefaultEncryptionScope: "sa"})
	s := e.Service
	p := path("ctr", "b")
	scopeOf := func(p blob.Path) string {
		t.Helper()
		b, err := s.GetBlobProperties(ctx, p, blob.Conditions{})
		if err != nil {
			t.Fatalf("GetBlobProperties(%s) = %v", p, err)
		}
		return b.EncryptionScope
	}

	b, err := s.PutBlob(ctx, p, strings.NewReader("default"), 7, blob.PutOptions{Metadata: blob.Metadata{"k": "v"}})
	if err != nil || b.EncryptionScope != "sa" || scopeOf(p) != "sa" {
		t.Fatalf("PutBlob without a scope = %q, %v; want the container's default sa", b.EncryptionScope, err)
	}
	if b, err = s.PutBlob(ctx, p, strings.NewReader("in sb"), 5, blob.PutOptions{Scope: in("sb")}); err != nil || scopeOf(p) != "sb" {
		t.Fatalf("PutBlob(sb) over a blob in sa = %q, %v; want sb: overwriting changes the scope", b.EncryptionScope, err)
	}
	if _, err := s.PutBlob(ctx, p, strings.NewReader("account"), 7, blob.PutOptions{Scope: in(blob.AccountScope)}); err != nil || scopeOf(p) != "" {
		t.Fatalf("PutBlob($account-encryption-key) = %v, scope %q; want the account key", err, scopeOf(p))
	}
	if got, _ := read(t, e, p, blob.All); string(got) != "account" {
		t.Errorf("content = %q", got)
	}

	// Set Blob Metadata keeps the blob's scope, and may name it only.
	if _, err := s.PutBlob(ctx, p, strings.NewReader("x"), 1, blob.PutOptions{Scope: in("sb")}); err != nil {
		t.Fatal(err)
	}
	if b, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "1"}, blob.Conditions{}, blob.ScopeRequest{}); err != nil || b.EncryptionScope != "sb" {
		t.Errorf("SetBlobMetadata without a scope = %q, %v; want the blob's sb", b.EncryptionScope, err)
	}
	if _, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "2"}, blob.Conditions{}, in("sb")); err != nil {
		t.Errorf("SetBlobMetadata(sb) of a blob in sb = %v", err)
	}
	for _, other := range []string{"sa", blob.AccountScope} {
		_, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "3"}, blob.Conditions{}, in(other))
		wantReason(t, "SetBlobMetadata("+other+") of a blob in sb", err, tresor.Conflict, blob.ReasonEncryptionMismatch)
	}
	if b, err := s.GetBlobProperties(ctx, p, blob.Conditions{}); err != nil || b.Metadata["a"] != "2" {
		t.Errorf("metadata after the refused writes = %v, %v; want a=2", b.Metadata, err)
	}

	// Page blobs: created in a scope, written in place in it.
	pg := path("ctr", "pages")
	if _, err := s.CreatePageBlob(ctx, pg, 4096, 0, blob.PutOptions{Scope: in("sb")}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := s.PutPage(ctx, pg, 0, bytes.NewReader(content(1, 1024)), 1024, nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil || b.EncryptionScope != "sb" {
		t.Errorf("PutPage without a scope = %q, %v; want the blob's sb", b.EncryptionScope, err)
	}
	_, _, err = s.PutPage(ctx, pg, 0, bytes.NewReader(make([]byte, 512)), 512, nil, blob.Conditions{}, in("sa"))
	wantReason(t, "PutPage(sa) of a blob in sb", err, tresor.Conflict, blob.ReasonEncryptionMismatch)
	_, err = s.ClearPages(ctx, pg, 0, 512, blob.Conditions{}, in("sa"))
	wantReason(t, "ClearPages(sa) of a blob in sb", err, tresor.Conflict, blob.ReasonEncryptionMismatch)
	if got, _ := read(t, e, pg, blob.Range{Offset: 0, Count: 1024}); !bytes.Equal(got, content(1, 1024)) {
		t.Errorf("pages changed by refused writes")
	}

	// A copy lands in the scope it names or the destination's default,
	// whatever the source's.
	for _, tt := range []struct {
		name  string
		scope blob.ScopeRequest
		want  string
	}{{"copy-default", blob.ScopeRequest{}, "sa"}, {"copy-account", in(blob.AccountScope), ""}, {"copy-sb", in("sb"), "sb"}} {
		b, err := s.CopyBlob(ctx, pg, path("ctr", tt.name), "u", blob.Conditions{}, blob.PutOptions{Scope: tt.scope})
		if err != nil || b.EncryptionScope != tt.want || scopeOf(path("ctr", tt.name)) != tt.want {
			t.Errorf("CopyBlob(%+v) = %q, %v; want %q", tt.scope, b.EncryptionScope, err, tt.want)
		}
		if got, _ := read(t, e, path("ctr", tt.name), blob.Range{Offset: 0, Count: 1024}); !bytes.Equal(got, content(1, 1024)) {
			t.Errorf("CopyBlob(%+v): content differs", tt.scope)
		}
	}

	_, err = s.PutBlob(ctx, p, strings.NewReader("x"), 1, blob.PutOptions{Scope: in("missing")})
	wantReason(t, "PutBlob(missing scope)", err, tresor.Invalid, blob.ReasonInvalidHeaderValue)
}

func TestDenyEncryptionScopeOverride(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	e.Keys.AddScope(acct, "sb")
	mustScopedContainer(t, e, "deny", blob.EncryptionPolicy{DefaultEncryptionScope: "sa", DenyEncryptionScopeOverride: true})
	mustScopedContainer(t, e, "deny-account", blob.EncryptionPolicy{DenyEncryptionScopeOverride: true})
	mustContainer(t, e, "src")
	s := e.Service
	for _, ctr := range []string{"deny", "deny-account"} {
		if _, err := s.PutBlob(ctx, path(ctr, "b"), strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutBlock(ctx, path(ctr, "staged"), blockName(0), strings.NewReader("x"), 1, nil, blob.ScopeRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePageBlob(ctx, path(ctr, "pages"), 512, 0, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutBlob(ctx, path("deny", "named"), strings.NewReader("x"), 1, blob.PutOptions{Scope: in("sa")}); err != nil {
		t.Errorf("PutBlob naming the default scope = %v, want success", err)
	}
	mustPut(t, e, path("src", "s"), []byte("source"))

	for _, tt := range []struct {
		ctr, scope string
	}{{"deny", "sb"}, {"deny", blob.AccountScope}, {"deny-account", "sa"}} {
		p := path(tt.ctr, "b")
		r := in(tt.scope)
		ops := []struct {
			name string
			op   func() error
		}{
			{"PutBlob", func() error {
				_, err := s.PutBlob(ctx, p, strings.NewReader("x"), 1, blob.PutOptions{Scope: r})
				return err
			}},
			{"PutBlock", func() error {
				_, _, err := s.PutBlock(ctx, path(tt.ctr, "staged"), blockName(1), strings.NewReader("x"), 1, nil, r)
				return err
			}},
			{"PutBlockList", func() error {
				_, err := s.PutBlockList(ctx, path(tt.ctr, "staged"), []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{Scope: r})
				return err
			}},
			{"CreatePageBlob", func() error {
				_, err := s.CreatePageBlob(ctx, path(tt.ctr, "pages2"), 512, 0, blob.PutOptions{Scope: r})
				return err
			}},
			{"CopyBlob", func() error {
				_, err := s.CopyBlob(ctx, path("src", "s"), path(tt.ctr, "copy"), "u", blob.Conditions{}, blob.PutOptions{Scope: r})
				return err
			}},
			{"SetBlobMetadata", func() error {
				_, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "b"}, blob.Conditions{}, r)
				return err
			}},
			{"PutPage", func() error {
				_, _, err := s.PutPage(ctx, path(tt.ctr, "pages"), 0, bytes.NewReader(make([]byte, 512)), 512, nil, blob.Conditions{}, r)
				return err
			}},
		}
		for _, o := range ops {
			t.Run(tt.ctr+"/"+tt.scope+"/"+o.name, func(t *testing.T) {
				wantReason(t, o.name, o.op(), tresor.Forbidden, blob.ReasonForbiddenByEncryptionPolicy)
			})
		}
	}
	// Without naming a scope, everything lands in the default.
	if b, err := s.CopyBlob(ctx, path("src", "s"), path("deny", "copy"), "u", blob.Conditions{}, blob.PutOptions{}); err != nil || b.EncryptionScope != "sa" {
		t.Errorf("CopyBlob into deny = %q, %v; want sa", b.EncryptionScope, err)
	}
	if b, err := s.PutBlockList(ctx, path("deny", "staged"), []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{}); err != nil || b.EncryptionScope != "sa" {
		t.Errorf("PutBlockList in deny = %q, %v; want sa", b.EncryptionScope, err)
	}
}

// TestPutBlockListScopes commits blocks staged in different scopes.
func TestPutBlockListScopes(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	mustContainer(t, e, "ctr")
	s := e.Service
	p := path("ctr", "b")
	stage := func(i int, scope blob.ScopeRequest) {
		t.Helper()
		if _, got, err := s.PutBlock(ctx, p, blockName(i), strings.NewReader(blockName(i)), int64(len(blockName(i))), nil, scope); err != nil || got != scope.Scope {
			t.Fatalf("PutBlock(%d, %+v) = %q, %v", i, scope, got, err)
		}
	}
	stage(0, in("sa"))
	stage(1, blob.ScopeRequest{}) // the container's default: the account key
	stage(2, in("sa"))

	_, err := s.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(0)}, {Name: blockName(1)}}, blob.PutOptions{Scope: in("sa")})
	wantReason(t, "PutBlockList(sa) with a block of the account key", err, tresor.Invalid, blob.ReasonInvalidBlockList)
	if err != nil && !strings.Contains(tresor.MessageOf(err), "encryption scope") {
		t.Errorf("PutBlockList(mixed) message = %q, want it to name the encryption scope", tresor.MessageOf(err))
	}
	_, err = s.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{})
	wantReason(t, "PutBlockList(account key) with a block of sa", err, tresor.Invalid, blob.ReasonInvalidBlockList)

	b, err := s.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(2)}, {Name: blockName(0)}}, blob.PutOptions{Scope: in("sa"), Metadata: blob.Metadata{"k": "v"}})
	if err != nil || b.EncryptionScope != "sa" {
		t.Fatalf("PutBlockList(sa) of blocks in sa = %q, %v", b.EncryptionScope, err)
	}
	if got, err := read(t, e, p, blob.All); err != nil || string(got) != blockName(2)+blockName(0) {
		t.Errorf("GetBlob = %q, %v", got, err)
	}
	// The committed blocks are in sa: a list in another scope cannot
	// keep them, a new block of it can replace them.
	_, err = s.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(0), Source: blob.Committed}}, blob.PutOptions{Scope: in(blob.AccountScope)})
	wantReason(t, "PutBlockList(account key) of committed blocks in sa", err, tresor.Invalid, blob.ReasonInvalidBlockList)
	stage(3, blob.ScopeRequest{})
	if b, err := s.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(3)}}, blob.PutOptions{}); err != nil || b.EncryptionScope != "" {
		t.Errorf("PutBlockList(account key) = %q, %v; want the blob moved to the account key", b.EncryptionScope, err)
	}
	if got, err := read(t, e, p, blob.All); err != nil || string(got) != blockName(3) {
		t.Errorf("GetBlob after moving to the account key = %q, %v", got, err)
	}
}

// TestScopeUnavailable disables, then revokes, one scope: the operations
// on its blobs that need its key fail with the Keys error, those that do
// not work, and the rest of the account is untouched.
func TestScopeUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		set        func(k *blobtest.Keys, on bool)
		kind       tresor.Kind
		reason     string
		checkFails bool // Keys.CheckScope fails too: creating containers and committing in the scope fail
	}{
		{"disabled", func(k *blobtest.Keys, on bool) { k.DisableScope(acct, "sa", on) }, tresor.Forbidden, blob.ReasonAuthorizationFailure, true},
		{"revoked", func(k *blobtest.Keys, on bool) { k.RevokeScope(acct, "sa", on) }, tresor.Forbidden, blob.ReasonKeyVaultEncryptionKeyNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := blobtest.New(t)
			e.Keys.AddScope(acct, "sa")
			mustScopedContainer(t, e, "scoped", blob.EncryptionPolicy{DefaultEncryptionScope: "sa"})
			mustContainer(t, e, "plain")
			s := e.Service
			none := blob.Conditions{}
			data := content(1, 3*blob.ChunkSize)
			for _, ctr := range []string{"scoped", "plain"} {
				if _, err := s.PutBlob(ctx, path(ctr, "b"), bytes.NewReader(data), int64(len(data)), blob.PutOptions{Metadata: blob.Metadata{"k": ctr}}); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.PutBlock(ctx, path(ctr, "staged"), blockName(0), strings.NewReader("s"), 1, nil, blob.ScopeRequest{}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.CreatePageBlob(ctx, path(ctr, "pages"), 4096, 0, blob.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				mustPut(t, e, path(ctr, "doomed"), []byte("bye"))
			}
			// A blob in sa in the plain container.
			if _, err := s.PutBlob(ctx, path("plain", "in-sa"), strings.NewReader("x"), 1, blob.PutOptions{Scope: in("sa")}); err != nil {
				t.Fatal(err)
			}
			tt.set(e.Keys, true)

			ops := func(ctr string) []struct {
				name    string
				needKey bool // Keys.Key, so it fails in sa
				op      func() error
			} {
				p := path(ctr, "b")
				return []struct {
					name    string
					needKey bool
					op      func() error
				}{
					{"PutBlob", true, func() error {
						_, err := s.PutBlob(ctx, path(ctr, "new"), strings.NewReader("x"), 1, blob.PutOptions{})
						return err
					}},
					{"PutBlock", true, func() error {
						_, _, err := s.PutBlock(ctx, p, blockName(1), strings.NewReader("x"), 1, nil, blob.ScopeRequest{})
						return err
					}},
					{"GetBlob", true, func() error { _, err := s.GetBlob(ctx, p, blob.All, none); return err }},
					{"GetBlobProperties", true, func() error { _, err := s.GetBlobProperties(ctx, p, none); return err }},
					{"SetBlobMetadata", true, func() error {
						_, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "b"}, none, blob.ScopeRequest{})
						return err
					}},
					{"CopyBlob", true, func() error {
						_, err := s.CopyBlob(ctx, p, path(ctr, "copy"), "u", none, blob.PutOptions{})
						return err
					}},
					{"CreatePageBlob", true, func() error {
						_, err := s.CreatePageBlob(ctx, path(ctr, "pages2"), 512, 0, blob.PutOptions{})
						return err
					}},
					{"PutPage", true, func() error {
						_, _, err := s.PutPage(ctx, path(ctr, "pages"), 0, bytes.NewReader(make([]byte, 512)), 512, nil, none, blob.ScopeRequest{})
						return err
					}},
					{"ClearPages", true, func() error {
						_, err := s.ClearPages(ctx, path(ctr, "pages"), 0, 512, none, blob.ScopeRequest{})
						return err
					}},
					{"ListBlobs with metadata", true, func() error {
						_, err := s.ListBlobs(ctx, acct, ctr, blob.ListOptions{Metadata: true})
						return err
					}},
					{"ListBlobs", false, func() error { _, err := s.ListBlobs(ctx, acct, ctr, blob.ListOptions{}); return err }},
					{"GetBlockList", false, func() error { _, err := s.GetBlockList(ctx, path(ctr, "staged")); return err }},
					{"SetBlobProperties", false, func() error {
						_, err := s.SetBlobProperties(ctx, p, blob.Headers{ContentType: "text/x"}, none)
						return err
					}},
					{"GetPageRanges", false, func() error {
						_, _, err := s.GetPageRanges(ctx, path(ctr, "pages"), blob.All, none)
						return err
					}},
					{"DeleteBlob", false, func() error { return s.DeleteBlob(ctx, path(ctr, "doomed"), none) }},
				}
			}
			for _, o := range ops("scoped") {
				t.Run("sa/"+o.name, func(t *testing.T) {
					err := o.op()
					if o.needKey {
						wantReason(t, o.name, err, tt.kind, tt.reason)
					} else if err != nil {
						t.Errorf("%s in an unavailable scope = %v, want success: it needs no key", o.name, err)
					}
				})
			}
			for _, o := range ops("plain") {
				t.Run("account/"+o.name, func(t *testing.T) {
					err := o.op()
					if o.name == "ListBlobs with metadata" {
						// The container holds a blob in sa: its metadata
						// cannot be opened.
						wantReason(t, o.name, err, tt.kind, tt.reason)
					} else if err != nil {
						t.Errorf("%s in the account key's scope = %v, want success", o.name, err)
					}
				})
			}

			// Only checking the scope: fails while disabled, not while
			// revoked.
			_, err := s.PutBlockList(ctx, path("scoped", "staged"), []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{})
			_, cerr := s.CreateContainer(ctx, acct, "another", nil, blob.EncryptionPolicy{DefaultEncryptionScope: "sa"})
			for name, err := range map[string]error{"PutBlockList": err, "CreateContainer": cerr} {
				if tt.checkFails {
					wantReason(t, name+" in the scope", err, tt.kind, tt.reason)
				} else if err != nil {
					t.Errorf("%s in the scope = %v, want success: it needs no key", name, err)
				}
			}

			tt.set(e.Keys, false)
			if got, err := read(t, e, path("scoped", "b"), blob.All); err != nil || !bytes.Equal(got, data) {
				t.Errorf("GetBlob(scoped/b) after recovery = %d bytes, %v", len(got), err)
			}
			// Nothing that was refused happened.
			l, err := s.ListBlobs(ctx, acct, "scoped", blob.ListOptions{Metadata: true})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, it := range l.Items {
				names = append(names, it.Blob.Blob)
				if it.Blob.Blob == "b" && !cmp.Equal(it.Blob.Metadata, blob.Metadata{"k": "scoped"}) {
					t.Errorf("scoped/b's metadata after recovery = %v, want k=scoped", it.Blob.Metadata)
				}
			}
			want := []string{"b", "pages", "staged"} // committed while revoked
			if tt.checkFails {
				want = want[:2]
			}
			if !cmp.Equal(names, want) {
				t.Errorf("blobs in scoped after recovery = %q, want %q", names, want)
			}
		})
	}
}

// TestListBlobsScopes lists blobs of several scopes with their metadata,
// asking once per scope.
func TestListBlobsScopes(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	e.Keys.AddScope(acct, "sb")
	mustContainer(t, e, "ctr")
	want := map[string]string{}
	for i, scope := range []string{"", "sa", "sb", "sa", "", "sb", "sa"} {
		name := string(rune('a' + i))
		want[name] = scope
		if _, err := e.Service.PutBlob(ctx, path("ctr", name), strings.NewReader(name), 1,
			blob.PutOptions{Metadata: blob.Metadata{"name": name}, Scope: in(blob.WireScope(scope))}); err != nil {
			t.Fatal(err)
		}
	}
	e.Keys.Calls()
	l, err := e.Service.ListBlobs(ctx, acct, "ctr", blob.ListOptions{Metadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Keys.Calls(); n != 3 {
		t.Errorf("ListBlobs with metadata asked for %d keys, want 3 (one per scope)", n)
	}
	got := map[string]string{}
	for _, it := range l.Items {
		got[it.Blob.Blob] = it.Blob.EncryptionScope
		if it.Blob.Metadata["name"] != it.Blob.Blob {
			t.Errorf("%s: metadata %v", it.Blob.Blob, it.Blob.Metadata)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scopes listed (-want +got):\n%s", diff)
	}
}

// scopeStore reports every blob in the account key's scope, as if the
// scope column had been changed in the database.
type scopeStore struct{ blob.Store }

func (s scopeStore) Blob(ctx context.Context, p blob.Path) (blob.Blob, error) {
	b, err := s.Store.Blob(ctx, p)
	b.EncryptionScope = ""
	return b, err
}

func (s scopeStore) Extents(ctx context.Context, p blob.Path, a, b int64) (blob.Blob, []blob.Extent, error) {
	bl, ex, err := s.Store.Extents(ctx, p, a, b)
	bl.EncryptionScope = ""
	return bl, ex, err
}

// TestScopeKeysAreSeparate shows that content and metadata written in a
// scope do not open with the account key: neither a block's data key nor
// a read through a store that claims the blob is in the account key's
// scope.
func TestScopeKeysAreSeparate(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	mustContainer(t, e, "ctr")
	for _, n := range []int{10, 3 * blob.ChunkSize} {
		p := path("ctr", "b")
		if _, err := e.Service.PutBlob(ctx, p, bytes.NewReader(content(1, n)), int64(n),
			blob.PutOptions{Scope: in("sa"), Metadata: blob.Metadata{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
		_, extents, err := e.DB.Extents(ctx, p, 0, 1<<62)
		if err != nil || len(extents) != 1 || extents[0].Block.Scope != "sa" {
			t.Fatalf("Extents = %+v, %v; want one block in sa", extents, err)
		}
		if _, err := blob.DataKey(e.Keys.KeyOf(acct, "sa"), p, extents[0].Block); err != nil {
			t.Errorf("data key with sa's key = %v", err)
		}
		if _, err := blob.DataKey(e.Keys.KeyOf(acct, ""), p, extents[0].Block); err == nil {
			t.Errorf("data key of a block in sa opened with the account key")
		}

		s := blob.New(scopeStore{e.DB}, e.Data, e.Keys)
		c, err := s.GetBlob(ctx, p, blob.All, blob.Conditions{})
		if err == nil {
			_, err = c.Body.Read(make([]byte, 10))
			c.Body.Close()
		}
		if !tresor.IsKind(err, tresor.Internal) {
			t.Errorf("reading %d bytes in sa with the account key = %v, want an Internal error", n, err)
		}
		if _, err := s.GetBlobProperties(ctx, p, blob.Conditions{}); !tresor.IsKind(err, tresor.Internal) {
			t.Errorf("metadata in sa with the account key = %v, want an Internal error", err)
		}
	}
}

// TestScopeAtRest writes content and metadata in a scope and finds neither
// them nor any key in the data directory.
func TestScopeAtRest(t *testing.T) {
	e := blobtest.New(t)
	e.Keys.AddScope(acct, "sa")
	mustScopedContainer(t, e, "ctr", blob.EncryptionPolicy{DefaultEncryptionScope: "sa"})
	marker := "TRESOR-SCOPED-MARKER-9876543210"
	large := []byte(strings.Repeat(marker, 20000))
	secret := "scoped-metadata-secret-17"
	if _, err := e.Service.PutBlob(ctx, path("ctr", "small"), strings.NewReader(marker), int64(len(marker)),
		blob.PutOptions{Metadata: blob.Metadata{"secret": secret}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.PutBlob(ctx, path("ctr", "large"), bytes.NewReader(large), int64(len(large)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "blocks"), blockName(0), bytes.NewReader(large), int64(len(large)), nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{
		"content":     []byte(marker),
		"metadata":    []byte(secret),
		"account key": e.Keys.KeyOf(acct, ""),
		"sa's key":    e.Keys.KeyOf(acct, "sa"),
	}
	for _, name := range []string{"small", "large"} {
		p := path("ctr", name)
		_, extents, err := e.DB.Extents(ctx, p, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range extents {
			dk, err := blob.DataKey(e.Keys.KeyOf(acct, "sa"), p, x.Block)
			if err != nil {
				t.Fatal(err)
			}
			needles["data key of "+name] = dk
		}
	}
	scan := func() { blobtest.NoPlaintext(t, e.Dir, 3, needles) }
	scan()
	if err := e.DB.Close(); err != nil {
		t.Fatal(err)
	}
	scan()
}
