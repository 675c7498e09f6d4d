package blobhttp

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor/blob/blobtest"
	"github.com/tresorkms/tresor/blob/blobtest/azblobtest"
)

var ctx = context.Background()

func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func mustCreate(tb testing.TB, c *azblob.Client, name string) {
	tb.Helper()
	if _, err := c.CreateContainer(ctx, name, nil); err != nil {
		tb.Fatalf("CreateContainer(%s) = %v", name, err)
	}
}

var download = azblobtest.Download

func ptrMap(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[strings.ToLower(k)] = *v
	}
	return out
}

func TestAzblobContainers(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	for _, name := range []string{"alpha", "beta", "beta-2"} {
		if _, err := c.CreateContainer(ctx, name, &azblob.CreateContainerOptions{Metadata: map[string]*string{"owner": to.Ptr(name)}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateContainer(ctx, "alpha", nil)
	if !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		t.Errorf("CreateContainer(alpha) again = %v, want ContainerAlreadyExists", err)
	}
	if _, err := c.CreateContainer(ctx, "Bad_Name", nil); !bloberror.HasCode(err, bloberror.InvalidResourceName) {
		t.Errorf("CreateContainer(Bad_Name) = %v, want InvalidResourceName", err)
	}
	cc := c.ServiceClient().NewContainerClient("beta")
	if _, err := cc.SetMetadata(ctx, &container.SetMetadataOptions{Metadata: map[string]*string{"k": to.Ptr("v")}}); err != nil {
		t.Fatal(err)
	}
	p, err := cc.GetProperties(ctx, nil)
	if err != nil || !cmp.Equal(ptrMap(p.Metadata), map[string]string{"k": "v"}) || p.ETag == nil || p.LastModified == nil {
		t.Errorf("GetProperties(beta) = %+v, %v", p, err)
	}

	var names []string
	pager := c.NewListContainersPager(&azblob.ListContainersOptions{Prefix: to.Ptr("b"), MaxResults: to.Ptr(int32(1)), Include: azblob.ListContainersInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.ContainerItems {
			names = append(names, *it.Name+"="+ptrMap(it.Metadata)["owner"]+ptrMap(it.Metadata)["k"])
		}
	}
	if want := []string{"beta=v", "beta-2=beta-2"}; !cmp.Equal(names, want) {
		t.Errorf("ListContainers(b, one per page, metadata) = %q, want %q", names, want)
	}
	if _, err := c.DeleteContainer(ctx, "alpha", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServiceClient().NewContainerClient("alpha").GetProperties(ctx, nil); !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		t.Errorf("GetProperties(deleted) = %v, want ContainerNotFound", err)
	}
	if _, err := c.UploadBuffer(ctx, "alpha", "b", []byte("x"), nil); !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		t.Errorf("UploadBuffer(deleted container) = %v, want ContainerNotFound", err)
	}
}

func TestAzblobUploadDownload(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "data")

	tests := []struct {
		name   string
		size   int
		stream bool // UploadStream (Put Block + Put Block List); otherwise UploadBuffer (Put Blob)
	}{
		{"empty", 0, false},
		{"1KiB", 1024, false},
		{"3MiB+5", 3<<20 + 5, false},
		{"stream 5MiB+7", 5<<20 + 7, true},
		{"stream 100KiB", 100 << 10, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := content(uint64(i), tt.size)
			meta := map[string]*string{"test": to.Ptr(tt.name[:1])}
			hdrs := &blob.HTTPHeaders{BlobContentType: to.Ptr("application/x-test"), BlobCacheControl: to.Ptr("no-cache")}
			if tt.stream {
				_, err := c.UploadStream(ctx, "data", tt.name, bytes.NewReader(data), &azblob.UploadStreamOptions{
					BlockSize: 1 << 20, Concurrency: 3, Metadata: meta, HTTPHeaders: hdrs})
				if err != nil {
					t.Fatalf("UploadStream = %v", err)
				}
			} else {
				resp, err := c.UploadBuffer(ctx, "data", tt.name, data, &azblob.UploadBufferOptions{Metadata: meta, HTTPHeaders: hdrs})
				if err != nil {
					t.Fatalf("UploadBuffer = %v", err)
				}
				sum := md5.Sum(data)
				if !bytes.Equal(resp.ContentMD5, sum[:]) || resp.IsServerEncrypted == nil || !*resp.IsServerEncrypted {
					t.Errorf("UploadBuffer = MD5 %x, encrypted %v; want %x, true", resp.ContentMD5, resp.IsServerEncrypted, sum)
				}
			}
			bc := c.ServiceClient().NewContainerClient("data").NewBlobClient(tt.name)
			p, err := bc.GetProperties(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *p.ContentLength != int64(tt.size) || *p.ContentType != "application/x-test" || *p.CacheControl != "no-cache" ||
				!*p.IsServerEncrypted || *p.BlobType != blob.BlobTypeBlockBlob || ptrMap(p.Metadata)["test"] != tt.name[:1] {
				t.Errorf("GetProperties = length %d, type %s, cache %s, encrypted %v, blob type %s, metadata %v",
					*p.ContentLength, *p.ContentType, *p.CacheControl, *p.IsServerEncrypted, *p.BlobType, ptrMap(p.Metadata))
			}
			buf := make([]byte, tt.size)
			n, err := c.DownloadBuffer(ctx, "data", tt.name, buf, &azblob.DownloadBufferOptions{BlockSize: 1 << 20, Concurrency: 4})
			if err != nil || n != int64(tt.size) || !bytes.Equal(buf, data) {
				t.Errorf("DownloadBuffer = %d, %v; content equal: %v", n, err, bytes.Equal(buf, data))
			}
			if got := download(t, c, "data", tt.name); !bytes.Equal(got, data) {
				t.Errorf("DownloadStream = %d bytes, want the %d uploaded", len(got), len(data))
			}
			if tt.size > 100 {
				r, err := c.DownloadStream(ctx, "data", tt.name, &azblob.DownloadStreamOptions{Range: azblob.HTTPRange{Offset: 10, Count: 90}})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r.NewRetryReader(ctx, nil))
				if err != nil || !bytes.Equal(got, data[10:100]) || *r.ContentRange != fmt.Sprintf("bytes 10-99/%d", tt.size) {
					t.Errorf("DownloadStream(10, 90) = %d bytes, %v, range %s", len(got), err, *r.ContentRange)
				}
				// azblob's retries send If-Match with the ETag.
				_, err = c.DownloadStream(ctx, "data", tt.name, &azblob.DownloadStreamOptions{
					AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(*p.ETag + "x")}}})
				if !bloberror.HasCode(err, bloberror.ConditionNotMet) {
					t.Errorf("DownloadStream(If-Match: another ETag) = %v, want ConditionNotMet", err)
				}
			}
		})
	}
	// Out of range.
	_, err := c.DownloadStream(ctx, "data", "1KiB", &azblob.DownloadStreamOptions{Range: azblob.HTTPRange{Offset: 2048, Count: 10}})
	if code, status := errorCode(err); code != string(bloberror.InvalidRange) || status != 416 {
		t.Errorf("DownloadStream(beyond the end) = %s %d, want InvalidRange 416", code, status)
	}
	_, err = c.DownloadStream(ctx, "data", "nope", nil)
	if !bloberror.HasCode(err, bloberror.BlobNotFound) {
		t.Errorf("DownloadStream(nope) = %v, want BlobNotFound", err)
	}
	if _, err := c.ServiceClient().NewContainerClient("data").NewBlobClient("nope").GetProperties(ctx, nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
		t.Errorf("GetProperties(nope) = %v, want BlobNotFound (from the header of a HEAD)", err)
	}
	if _, err := c.DeleteBlob(ctx, "data", "1KiB", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DownloadStream(ctx, "data", "1KiB", nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
		t.Errorf("DownloadStream(deleted) = %v, want BlobNotFound", err)
	}
}

func TestAzblobBlocks(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "blocks")
	bb := c.ServiceClient().NewContainerClient("blocks").NewBlockBlobClient("b")
	id := func(i int) string { return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%06d", i)) }
	parts := [][]byte{content(1, 70000), content(2, 10), content(3, 200000)}
	for i, p := range parts {
		if _, err := bb.StageBlock(ctx, id(i), streaming.NopCloser(bytes.NewReader(p)), nil); err != nil {
			t.Fatalf("StageBlock(%d) = %v", i, err)
		}
	}
	l, err := bb.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
	if err != nil || len(l.UncommittedBlocks) != 3 || len(l.CommittedBlocks) != 0 {
		t.Fatalf("GetBlockList(all) = %+v, %v; want 3 uncommitted", l, err)
	}
	if _, err := bb.CommitBlockList(ctx, []string{id(2), id(0)}, nil); err != nil {
		t.Fatal(err)
	}
	if got := download(t, c, "blocks", "b"); !bytes.Equal(got, append(append([]byte{}, parts[2]...), parts[0]...)) {
		t.Errorf("content after commit differs (%d bytes)", len(got))
	}
	l, err = bb.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
	if err != nil || len(l.CommittedBlocks) != 2 || *l.CommittedBlocks[0].Name != id(2) || *l.CommittedBlocks[0].Size != 200000 || len(l.UncommittedBlocks) != 0 {
		t.Errorf("GetBlockList(all) after commit = %+v, %v", l, err)
	}
	if _, err := bb.CommitBlockList(ctx, []string{id(1)}, nil); !bloberror.HasCode(err, bloberror.InvalidBlockList) {
		t.Errorf("CommitBlockList(a dropped block) = %v, want InvalidBlockList", err)
	}
}

func TestAzblobList(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "list")
	names := []string{"a/1", "a/2", "a/b/1", "b", "c/1", "c/2", "d e+f", "z"}
	for i, n := range names {
		if _, err := c.UploadBuffer(ctx, "list", n, []byte(n), &azblob.UploadBufferOptions{Metadata: map[string]*string{"i": to.Ptr(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	cc := c.ServiceClient().NewContainerClient("list")
	var got []string
	pages := 0
	flat := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: to.Ptr(int32(3)), Include: container.ListBlobsInclude{Metadata: true}})
	for flat.More() {
		page, err := flat.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, b := range page.Segment.BlobItems {
			got = append(got, *b.Name+"="+ptrMap(b.Metadata)["i"])
			if *b.Properties.ContentLength != int64(len(*b.Name)) || !*b.Properties.ServerEncrypted || b.Properties.ETag == nil {
				t.Errorf("%s: properties %+v", *b.Name, b.Properties)
			}
		}
	}
	var want []string
	for i, n := range names {
		want = append(want, n+"="+fmt.Sprint(i))
	}
	if !cmp.Equal(got, want) || pages != 3 {
		t.Errorf("ListBlobsFlat(3 per page, metadata) = %q in %d pages, want %q in 3", got, pages, want)
	}

	hier := func(prefix string) []string {
		var out []string
		p := cc.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: to.Ptr(prefix), MaxResults: to.Ptr(int32(2))})
		for p.More() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range page.Segment.BlobPrefixes {
				out = append(out, *pr.Name)
			}
			for _, b := range page.Segment.BlobItems {
				out = append(out, *b.Name)
				if b.Metadata != nil {
					t.Errorf("%s: metadata without include=metadata", *b.Name)
				}
			}
		}
		slices.Sort(out) // each page lists prefixes before blobs
		return out
	}
	if got, want := hier(""), []string{"a/", "b", "c/", "d e+f", "z"}; !cmp.Equal(got, want) {
		t.Errorf("ListBlobsHierarchy(/) = %q, want %q", got, want)
	}
	if got, want := hier("a/"), []string{"a/1", "a/2", "a/b/"}; !cmp.Equal(got, want) {
		t.Errorf("ListBlobsHierarchy(/, a/) = %q, want %q", got, want)
	}
}

func TestAzblobPropertiesCopyDelete(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "src")
	mustCreate(t, c, "dst")
	data := content(5, 300000)
	if _, err := c.UploadBuffer(ctx, "src", "s", data, &azblob.UploadBufferOptions{Metadata: map[string]*string{"a": to.Ptr("1")}}); err != nil {
		t.Fatal(err)
	}
	src := c.ServiceClient().NewContainerClient("src").NewBlobClient("s")
	if _, err := src.SetHTTPHeaders(ctx, blob.HTTPHeaders{BlobContentType: to.Ptr("image/png"), BlobContentLanguage: to.Ptr("de")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SetMetadata(ctx, map[string]*string{"b": to.Ptr("2")}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := src.GetProperties(ctx, nil)
	if err != nil || *p.ContentType != "image/png" || *p.ContentLanguage != "de" || !cmp.Equal(ptrMap(p.Metadata), map[string]string{"b": "2"}) {
		t.Errorf("GetProperties after SetHTTPHeaders and SetMetadata = %+v, %v", p, err)
	}

	dst := c.ServiceClient().NewContainerClient("dst").NewBlobClient("d")
	cp, err := dst.StartCopyFromURL(ctx, src.URL(), nil)
	if err != nil || *cp.CopyStatus != blob.CopyStatusTypeSuccess || cp.CopyID == nil {
		t.Fatalf("StartCopyFromURL = %+v, %v", cp, err)
	}
	dp, err := dst.GetProperties(ctx, nil)
	if err != nil || *dp.CopyStatus != blob.CopyStatusTypeSuccess || *dp.CopyID != *cp.CopyID || *dp.ContentType != "image/png" ||
		!cmp.Equal(ptrMap(dp.Metadata), map[string]string{"b": "2"}) {
		t.Errorf("GetProperties(copy) = %+v, %v", dp, err)
	}
	sync := c.ServiceClient().NewContainerClient("dst").NewBlobClient("sync")
	if _, err := sync.CopyFromURL(ctx, src.URL(), &blob.CopyFromURLOptions{Metadata: map[string]*string{"c": to.Ptr("3")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d", "sync"} {
		if got := download(t, c, "dst", name); !bytes.Equal(got, data) {
			t.Errorf("%s: copy's content differs", name)
		}
	}
	if _, err := dst.StartCopyFromURL(ctx, src.URL(), nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
		t.Errorf("StartCopyFromURL(deleted source) = %v, want BlobNotFound", err)
	}
}

func TestAzblobPageBlob(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "disks")
	pb := c.ServiceClient().NewContainerClient("disks").NewPageBlobClient("disk.vhd")
	const size = 4 << 20
	if _, err := pb.Create(ctx, size, &pageblob.CreateOptions{SequenceNumber: to.Ptr(int64(3))}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for i, w := range []struct{ off, n int64 }{{0, 8192}, {1 << 20, 1 << 20}, {512, 512}, {size - 512, 512}} {
		d := content(uint64(i), int(w.n))
		if _, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(d)), blob.HTTPRange{Offset: w.off, Count: w.n}, nil); err != nil {
			t.Fatalf("UploadPages(%d, %d) = %v", w.off, w.n, err)
		}
		copy(want[w.off:], d)
	}
	if _, err := pb.ClearPages(ctx, blob.HTTPRange{Offset: 1<<20 + 4096, Count: 4096}, nil); err != nil {
		t.Fatal(err)
	}
	clear(want[1<<20+4096 : 1<<20+8192])
	var ranges [][2]int64
	pager := pb.NewGetPageRangesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.PageRange {
			ranges = append(ranges, [2]int64{*r.Start, *r.End})
		}
	}
	wantRanges := [][2]int64{{0, 8191}, {1 << 20, 1<<20 + 4095}, {1<<20 + 8192, 2<<20 - 1}, {size - 512, size - 1}}
	if !cmp.Equal(ranges, wantRanges) {
		t.Errorf("GetPageRanges = %v, want %v", ranges, wantRanges)
	}
	buf := make([]byte, size)
	if _, err := pb.DownloadBuffer(ctx, buf, &blob.DownloadBufferOptions{BlockSize: 1 << 20}); err != nil || !bytes.Equal(buf, want) {
		t.Errorf("DownloadBuffer = %v; content equal: %v", err, bytes.Equal(buf, want))
	}
	p, err := pb.GetProperties(ctx, nil)
	if err != nil || *p.BlobType != blob.BlobTypePageBlob || *p.BlobSequenceNumber != 3 || *p.ContentLength != size {
		t.Errorf("GetProperties = %+v, %v", p, err)
	}
	_, err = pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(make([]byte, 100))), blob.HTTPRange{Offset: 0, Count: 100}, nil)
	if code, status := errorCode(err); code != string(bloberror.InvalidPageRange) || status != 416 {
		t.Errorf("UploadPages(100 bytes) = %s %d, want InvalidPageRange 416", code, status)
	}
}

func TestAzblobSAS(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "shared")
	if _, err := c.UploadBuffer(ctx, "shared", "doc", []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	cc := c.ServiceClient().NewContainerClient("shared")
	expiry := time.Now().Add(time.Hour)

	// A read-only service SAS for one blob.
	u, err := cc.NewBlobClient("doc").GetSASURL(sas.BlobPermissions{Read: true}, expiry, nil)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := blockblob.NewClientWithNoCredential(u, &blockblob.ClientOptions{ClientOptions: options().ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ro.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatalf("DownloadStream with a read SAS = %v", err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if string(got) != "hello" {
		t.Errorf("DownloadStream with a read SAS = %q", got)
	}
	if _, err := ro.Upload(ctx, streaming.NopCloser(strings.NewReader("evil")), nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("Upload with a read SAS = %v, want AuthorizationPermissionMismatch", err)
	}
	if _, err := ro.Delete(ctx, nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("Delete with a read SAS = %v, want AuthorizationPermissionMismatch", err)
	}

	// A container SAS that may list and write, not read.
	u, err = cc.GetSASURL(sas.ContainerPermissions{List: true, Write: true, Create: true}, expiry, nil)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := container.NewClientWithNoCredential(u, &container.ClientOptions{ClientOptions: options().ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.NewBlockBlobClient("new").UploadBuffer(ctx, []byte("new"), nil); err != nil {
		t.Errorf("UploadBuffer with a container write SAS = %v", err)
	}
	page, err := wc.NewListBlobsFlatPager(nil).NextPage(ctx)
	if err != nil || len(page.Segment.BlobItems) != 2 {
		t.Errorf("ListBlobs with a container list SAS = %d blobs, %v", len(page.Segment.BlobItems), err)
	}
	if _, err := wc.NewBlobClient("doc").DownloadStream(ctx, nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("DownloadStream with a container SAS without read = %v, want AuthorizationPermissionMismatch", err)
	}
	if _, err := wc.GetProperties(ctx, nil); err == nil {
		t.Errorf("GetProperties(container) with a container SAS succeeded; only an account SAS allows it")
	}

	// An account SAS.
	u, err = c.ServiceClient().GetSASURL(sas.AccountResourceTypes{Service: true, Container: true, Object: true},
		sas.AccountPermissions{Read: true, List: true, Create: true, Write: true}, expiry, nil)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := azblob.NewClientWithNoCredential(u, options())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.CreateContainer(ctx, "by-sas", nil); err != nil {
		t.Errorf("CreateContainer with an account SAS = %v", err)
	}
	if _, err := ac.UploadBuffer(ctx, "by-sas", "x", []byte("x"), nil); err != nil {
		t.Errorf("UploadBuffer with an account SAS = %v", err)
	}
	if got := download(t, ac, "shared", "doc"); string(got) != "hello" {
		t.Errorf("download with an account SAS = %q", got)
	}
	if _, err := ac.DeleteBlob(ctx, "shared", "doc", nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("DeleteBlob with an account SAS without d = %v, want AuthorizationPermissionMismatch", err)
	}
	// A SAS signed with another key.
	bad, _ := azblob.NewSharedKeyCredential(testAccount, base64.StdEncoding.EncodeToString([]byte("not the key")))
	qp, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: expiry, Permissions: (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: "shared", BlobName: "doc"}.SignWithSharedKey(bad)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := blockblob.NewClientWithNoCredential(cc.NewBlobClient("doc").URL()+"?"+qp.Encode(), &blockblob.ClientOptions{ClientOptions: options().ClientOptions})
	if _, err := forged.DownloadStream(ctx, nil); !bloberror.HasCode(err, bloberror.AuthenticationFailed) {
		t.Errorf("DownloadStream with a forged SAS = %v, want AuthenticationFailed", err)
	}
}

func TestAzblobBearerAndHostStyle(t *testing.T) {
	s := newServer(t)
	mustCreate(t, s.client(t), "oauth")
	o := options()
	o.InsecureAllowCredentialWithHTTP = true
	bc, err := azblob.NewClient(s.URL, tokenCredential{}, o)
	if err != nil {
		t.Fatal(err)
	}
	s.allow(DataActionRead, DataActionWrite) // Storage Blob Data Contributor's blob actions
	if _, err := bc.UploadBuffer(ctx, "oauth", "b", []byte("by token"), nil); err != nil {
		t.Errorf("UploadBuffer with a token allowed to write = %v", err)
	}
	if got := download(t, bc, "oauth", "b"); string(got) != "by token" {
		t.Errorf("download with a token = %q", got)
	}
	if _, err := bc.DeleteBlob(ctx, "oauth", "b", nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("DeleteBlob without the delete action = %v, want AuthorizationPermissionMismatch", err)
	}
	s.allow(DataActionRead) // Storage Blob Data Reader
	if _, err := bc.UploadBuffer(ctx, "oauth", "c", []byte("x"), nil); !bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) {
		t.Errorf("UploadBuffer as a reader = %v, want AuthorizationPermissionMismatch", err)
	}
	// Without credentials: 401 with a challenge.
	anon, _ := azblob.NewClientWithNoCredential(s.URL, options())
	if _, err := anon.DownloadStream(ctx, "oauth", "b", nil); !bloberror.HasCode(err, bloberror.NoAuthenticationInformation) {
		t.Errorf("DownloadStream without credentials = %v, want NoAuthenticationInformation", err)
	}

	// Host style: http://acct.blob.tresor.test:port, with Shared Key.
	_, port, _ := strings.Cut(s.Addr, ":")
	hs, err := azblob.NewClientWithSharedKeyCredential("http://"+testAccount+testSuffix+":"+port, s.credential(t), s.hostStyleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := download(t, hs, "oauth", "b"); string(got) != "by token" {
		t.Errorf("download host style = %q", got)
	}
	page, err := hs.NewListContainersPager(nil).NextPage(ctx)
	if err != nil || len(page.ContainerItems) != 1 || *page.ServiceEndpoint != "http://"+testAccount+testSuffix+":"+port+"/" {
		t.Errorf("ListContainers host style = %+v, %v", page, err)
	}
}

// TestAzblobRevocation runs the operations of azblob with the account key
// revoked: those on Azure's list fail with 403 KeyVaultEncryptionKeyNotFound
// as azblob reports it, the rest work, and when the key is back the data is
// intact.
func TestAzblobRevocation(t *testing.T) {
	s := newServer(t)
	azblobtest.Revocation(t, s.client(t), "ctr", content(7, 3<<20), s.Keys.Revoke)
}

// TestAzblobAtRest uploads known content through azblob and finds neither
// it, its metadata nor the account key in any file the server wrote.
func TestAzblobAtRest(t *testing.T) {
	s := newServer(t)
	c := s.client(t)
	mustCreate(t, c, "secret")
	marker := []byte("AZBLOB-PLAINTEXT-MARKER-fedcba9876543210")
	small := bytes.Repeat(marker, 20)
	large := bytes.Repeat(marker, 100000)
	if _, err := c.UploadBuffer(ctx, "secret", "small", small, &azblob.UploadBufferOptions{Metadata: map[string]*string{"m": to.Ptr("metadata-value-7f3a9c")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadStream(ctx, "secret", "large", bytes.NewReader(large), &azblob.UploadStreamOptions{BlockSize: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if got := download(t, c, "secret", "large"); !bytes.Equal(got, large) {
		t.Fatal("large: content differs")
	}
	needles := map[string][]byte{"content": marker, "metadata": []byte("metadata-value-7f3a9c"), "account key": s.Keys.KeyOf(testAccount, "")}
	blobtest.NoPlaintext(t, s.Dir, 3, needles)
}
