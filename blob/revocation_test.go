package blob_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobtest"
)

// TestRevocation runs every operation with the account key revoked. Those
// that Azure lists as failing while the customer-managed key is revoked
// must ask Keys and fail with its error; the others must not ask it and
// must work. When the key is back, everything written before is intact.
func TestRevocation(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	big := content(1, 3*blob.ChunkSize)
	mustPut(t, e, path("ctr", "big"), big)
	if _, err := e.Service.PutBlob(ctx, path("ctr", "meta"), strings.NewReader("m"), 1, blob.PutOptions{Metadata: blob.Metadata{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "staged"), blockName(0), strings.NewReader("s"), 1, nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "staged2"), blockName(0), strings.NewReader("s"), 1, nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreatePageBlob(ctx, path("ctr", "pages"), 4096, 0, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutPage(ctx, path("ctr", "pages"), 512, bytes.NewReader(big[:1024]), 1024, nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, e, path("ctr", "doomed"), []byte("bye"))
	e.Keys.Revoke(true)
	e.Keys.Calls()

	s := e.Service
	p := path("ctr", "big")
	none := blob.Conditions{}
	tests := []struct {
		name    string
		needKey bool
		op      func() error
	}{
		// Azure's list of operations that fail.
		{"PutBlob", true, func() error {
			_, err := s.PutBlob(ctx, path("ctr", "new"), strings.NewReader("x"), 1, blob.PutOptions{})
			return err
		}},
		{"PutBlock", true, func() error {
			_, _, err := s.PutBlock(ctx, p, blockName(1), strings.NewReader("x"), 1, nil, blob.ScopeRequest{})
			return err
		}},
		{"GetBlob", true, func() error {
			_, err := s.GetBlob(ctx, p, blob.All, none)
			return err
		}},
		{"GetBlobProperties", true, func() error { _, err := s.GetBlobProperties(ctx, p, none); return err }},
		{"SetBlobMetadata", true, func() error {
			_, err := s.SetBlobMetadata(ctx, p, blob.Metadata{"a": "b"}, none, blob.ScopeRequest{})
			return err
		}},
		{"CopyBlob", true, func() error {
			_, err := s.CopyBlob(ctx, p, path("ctr", "copy"), "u", none, blob.PutOptions{})
			return err
		}},
		{"CreatePageBlob", true, func() error {
			_, err := s.CreatePageBlob(ctx, path("ctr", "pages2"), 512, 0, blob.PutOptions{})
			return err
		}},
		{"PutPage", true, func() error {
			_, _, err := s.PutPage(ctx, path("ctr", "pages"), 0, bytes.NewReader(make([]byte, 512)), 512, nil, none, blob.ScopeRequest{})
			return err
		}},
		{"ClearPages", true, func() error {
			_, err := s.ClearPages(ctx, path("ctr", "pages"), 0, 512, none, blob.ScopeRequest{})
			return err
		}},
		{"ListBlobs with metadata", true, func() error {
			_, err := s.ListBlobs(ctx, acct, "ctr", blob.ListOptions{Metadata: true})
			return err
		}},
		{"PutBlockList with metadata", true, func() error {
			_, err := s.PutBlockList(ctx, path("ctr", "staged2"), []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{Metadata: blob.Metadata{"a": "b"}})
			return err
		}},

		// The rest keep working.
		{"CreateContainer", false, func() error {
			_, err := s.CreateContainer(ctx, acct, "other", blob.Metadata{"a": "b"}, blob.EncryptionPolicy{})
			return err
		}},
		{"GetContainerProperties", false, func() error { _, err := s.GetContainerProperties(ctx, acct, "ctr"); return err }},
		{"SetContainerMetadata", false, func() error {
			_, err := s.SetContainerMetadata(ctx, acct, "ctr", blob.Metadata{"a": "b"}, none)
			return err
		}},
		{"ListContainers", false, func() error { _, err := s.ListContainers(ctx, acct, blob.ListOptions{}); return err }},
		{"ListBlobs", false, func() error {
			_, err := s.ListBlobs(ctx, acct, "ctr", blob.ListOptions{Prefix: "b", Delimiter: "/"})
			return err
		}},
		{"PutBlockList", false, func() error {
			_, err := s.PutBlockList(ctx, path("ctr", "staged"), []blob.BlockRef{{Name: blockName(0)}}, blob.PutOptions{Headers: blob.Headers{ContentType: "a/b"}})
			return err
		}},
		{"GetBlockList", false, func() error { _, err := s.GetBlockList(ctx, path("ctr", "staged")); return err }},
		{"SetBlobProperties", false, func() error {
			_, err := s.SetBlobProperties(ctx, path("ctr", "meta"), blob.Headers{ContentType: "text/x"}, none)
			return err
		}},
		{"GetPageRanges", false, func() error {
			_, _, err := s.GetPageRanges(ctx, path("ctr", "pages"), blob.All, none)
			return err
		}},
		{"DeleteBlob", false, func() error { return s.DeleteBlob(ctx, path("ctr", "doomed"), none) }},
		{"DeleteContainer", false, func() error { return s.DeleteContainer(ctx, acct, "other", none) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			calls := e.Keys.Calls()
			if tt.needKey {
				if calls == 0 || !tresor.IsKind(err, tresor.Forbidden) || tresor.ReasonOf(err) != blob.ReasonKeyVaultEncryptionKeyNotFound {
					t.Errorf("%s with the key revoked = %v after %d Keys calls; want Forbidden %s", tt.name, err, calls, blob.ReasonKeyVaultEncryptionKeyNotFound)
				}
			} else if err != nil || calls != 0 {
				t.Errorf("%s with the key revoked = %v after %d Keys calls; want success without asking for the key", tt.name, err, calls)
			}
		})
	}

	e.Keys.Revoke(false)
	if got, err := read(t, e, p, blob.All); err != nil || !bytes.Equal(got, big) {
		t.Errorf("GetBlob(big) after recovery = %d bytes, %v", len(got), err)
	}
	if b, err := s.GetBlobProperties(ctx, path("ctr", "meta"), none); err != nil || b.Metadata["k"] != "v" || b.Headers.ContentType != "text/x" {
		t.Errorf("GetBlobProperties(meta) after recovery = %+v, %v", b, err)
	}
	if got, err := read(t, e, path("ctr", "staged"), blob.All); err != nil || string(got) != "s" {
		t.Errorf("GetBlob(staged, committed while revoked) = %q, %v", got, err)
	}
	want := make([]byte, 4096)
	copy(want[512:], big[:1024])
	if got, err := read(t, e, path("ctr", "pages"), blob.All); err != nil || !bytes.Equal(got, want) {
		t.Errorf("GetBlob(pages) after recovery = %d bytes, %v", len(got), err)
	}
	for _, name := range []string{"new", "copy", "pages2"} {
		if _, err := s.GetBlobProperties(ctx, path("ctr", name), none); !tresor.IsKind(err, tresor.NotFound) {
			t.Errorf("GetBlobProperties(%s) = %v; want NotFound: it was refused", name, err)
		}
	}
}

// TestAtRest writes known content and metadata, then looks for them, the
// account key and every block's data key in every file under the data
// directory: the database, its WAL and the block files.
func TestAtRest(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	marker := "TRESOR-PLAINTEXT-MARKER-0123456789"
	small := []byte(strings.Repeat(marker, 10))
	large := []byte(strings.Repeat(marker, 20000)) // in files
	secret := "metadata-secret-value-42"
	mustPut(t, e, path("ctr", "small"), small)
	if _, err := e.Service.PutBlob(ctx, path("ctr", "large"), bytes.NewReader(large), int64(len(large)),
		blob.PutOptions{Metadata: blob.Metadata{"secret": secret}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "blocks"), blockName(0), bytes.NewReader(large), int64(len(large)), nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CreatePageBlob(ctx, path("ctr", "pages"), 1<<20, 0, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutPage(ctx, path("ctr", "pages"), 0, bytes.NewReader(large[:512*100]), 512*100, nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}

	needles := map[string][]byte{
		"content":     []byte(marker),
		"metadata":    []byte(secret),
		"account key": e.Keys.KeyOf(acct, ""),
	}
	for _, name := range []string{"small", "large", "pages"} {
		p := path("ctr", name)
		_, extents, err := e.DB.Extents(ctx, p, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range extents {
			dk, err := blob.DataKey(e.Keys.KeyOf(acct, ""), p, x.Block)
			if err != nil {
				t.Fatal(err)
			}
			needles["data key of "+name+" "+x.Block.ID.String()] = dk
		}
	}
	// A checkpoint moves the WAL into the database file; both are scanned
	// before and after.
	scan := func() { blobtest.NoPlaintext(t, e.Dir, 3, needles) }
	scan()
	if err := e.DB.Close(); err != nil {
		t.Fatal(err)
	}
	scan()
}

// tamperStore returns another blob's extents for one blob, as if rows had
// been moved in the database.
type tamperStore struct {
	blob.Store
	from, to blob.Path
}

func (s tamperStore) Extents(ctx context.Context, p blob.Path, a, b int64) (blob.Blob, []blob.Extent, error) {
	if p == s.to {
		bl, _, err := s.Store.Extents(ctx, p, a, b)
		_, ex, err2 := s.Store.Extents(ctx, s.from, a, b)
		if err == nil {
			err = err2
		}
		return bl, ex, err
	}
	return s.Store.Extents(ctx, p, a, b)
}

// TestBlocksAreBound shows that a block moved to another blob does not open
// there: reading fails rather than returning the other blob's content.
func TestBlocksAreBound(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	for _, n := range []int{10, 3 * blob.ChunkSize} {
		a, b := path("ctr", "a"), path("ctr", "b")
		mustPut(t, e, a, content(1, n))
		mustPut(t, e, b, content(2, n))
		s := blob.New(tamperStore{Store: e.DB, from: a, to: b}, e.Data, e.Keys)
		c, err := s.GetBlob(ctx, b, blob.All, blob.Conditions{})
		if err == nil {
			_, err = c.Body.Read(make([]byte, 10))
			c.Body.Close()
		}
		if !tresor.IsKind(err, tresor.Internal) {
			t.Errorf("reading %d bytes of a through b = %v, want an Internal error", n, err)
		}
	}
}
