package diskblob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobauth"
	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/compute/diskblob"
)

// TestCopy: a copy has the source's written pages, and only those, and
// reads back once the source is gone.
func TestCopy(t *testing.T) {
	e := blobtest.New(t)
	c := &diskblob.Content{Blobs: e.Service, AccountURL: func(a string) string { return "https://" + a + ".blob.localhost/" }}
	ctx := context.Background()
	const size = 12 << 20
	for _, a := range []string{"md-src", "md-dst"} {
		if err := c.Create(ctx, a, size); err != nil {
			t.Fatal(err)
		}
	}
	src := blob.Path{Account: "md-src", Container: compute.BlobContainer, Blob: compute.BlobName}
	page := make([]byte, 5<<20) // over one copy chunk
	rand.Read(page)
	for off := 0; off < len(page); off += 4 << 20 { // Put Page takes 4 MiB at most
		part := page[off:min(off+4<<20, len(page))]
		if _, _, err := e.Service.PutPage(ctx, src, int64(4<<20+off), bytes.NewReader(part), int64(len(part)), nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Copy(ctx, "md-src", "md-dst"); err != nil {
		t.Fatal(err)
	}
	dst := blob.Path{Account: "md-dst", Container: compute.BlobContainer, Blob: compute.BlobName}
	_, ranges, err := e.Service.GetPageRanges(ctx, dst, blob.All, blob.Conditions{})
	if err != nil || len(ranges) != 1 || ranges[0] != (blob.PageRange{Start: 4 << 20, End: 9 << 20}) {
		t.Errorf("copied ranges = %v, %v; want the source's one", ranges, err)
	}
	if err := c.Delete(ctx, "md-src"); err != nil {
		t.Fatal(err)
	}
	got, err := e.Service.GetBlob(ctx, dst, blob.Range{Offset: 4 << 20, Count: int64(len(page))}, blob.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(b, page) {
		t.Error("the copy does not read back the source's pages")
	}
	if err := c.Delete(ctx, "md-src"); err != nil {
		t.Errorf("deleting again = %v; want nil", err)
	}
}

// TestAccessURL: the URL names the disk's blob with a SAS its key signs,
// readable only, or writable too.
func TestAccessURL(t *testing.T) {
	c := &diskblob.Content{AccountURL: func(a string) string { return "https://" + a + ".blob.localhost:8443/" }}
	key := bytes.Repeat([]byte{1}, 32)
	for _, write := range []bool{false, true} {
		u, err := url.Parse(c.AccessURL("md-x", key, write, time.Now().Add(time.Hour)))
		if err != nil || u.Host != "md-x.blob.localhost:8443" || u.Path != "/disk/abcd" {
			t.Fatalf("URL = %v, %v", u, err)
		}
		sas, err := blobauth.VerifySAS(u.Query(), blobauth.Account{Name: "md-x", Keys: [][]byte{key}},
			blobauth.Target{Container: "disk", Blob: "abcd", Secure: true}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := sas.Permissions&blobauth.Write != 0; got != write || !strings.Contains(u.RawQuery, "sr=b") {
			t.Errorf("write %v: permissions %b", write, sas.Permissions)
		}
	}
}
