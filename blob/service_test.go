package blob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobtest"
)

const acct = "acct"

var ctx = context.Background()

func path(container, name string) blob.Path {
	return blob.Path{Account: acct, Container: container, Blob: name}
}

// content returns n bytes of a reproducible pattern that differs per seed.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func mustContainer(tb testing.TB, e *blobtest.Env, name string) {
	tb.Helper()
	if _, err := e.Service.CreateContainer(ctx, acct, name, nil, blob.EncryptionPolicy{}); err != nil {
		tb.Fatalf("CreateContainer(%q) = %v", name, err)
	}
}

func mustPut(tb testing.TB, e *blobtest.Env, p blob.Path, data []byte) blob.Blob {
	tb.Helper()
	b, err := e.Service.PutBlob(ctx, p, bytes.NewReader(data), int64(len(data)), blob.PutOptions{})
	if err != nil {
		tb.Fatalf("PutBlob(%s) = %v", p, err)
	}
	return b
}

func read(tb testing.TB, e *blobtest.Env, p blob.Path, r blob.Range) ([]byte, error) {
	tb.Helper()
	c, err := e.Service.GetBlob(ctx, p, r, blob.Conditions{})
	if err != nil {
		return nil, err
	}
	defer c.Body.Close()
	got, err := io.ReadAll(c.Body)
	if err == nil && int64(len(got)) != c.Length {
		tb.Errorf("GetBlob(%s, %+v) streamed %d bytes, Length says %d", p, r, len(got), c.Length)
	}
	return got, err
}

func wantReason(tb testing.TB, op string, err error, kind tresor.Kind, reason string) {
	tb.Helper()
	if !tresor.IsKind(err, kind) || tresor.ReasonOf(err) != reason {
		tb.Errorf("%s = %v, want %v %s", op, err, kind, reason)
	}
}

func TestContainers(t *testing.T) {
	e := blobtest.New(t)
	for _, name := range []string{"alpha", "beta", "beta-2", "gamma"} {
		mustContainer(t, e, name)
	}
	_, err := e.Service.CreateContainer(ctx, acct, "alpha", nil, blob.EncryptionPolicy{})
	wantReason(t, "CreateContainer(alpha) again", err, tresor.Conflict, blob.ReasonContainerAlreadyExists)
	for _, bad := range []string{"ab", "Upper", "a--b", "-ab", "ab-", strings.Repeat("a", 64), "a_b"} {
		_, err := e.Service.CreateContainer(ctx, acct, bad, nil, blob.EncryptionPolicy{})
		wantReason(t, fmt.Sprintf("CreateContainer(%q)", bad), err, tresor.Invalid, blob.ReasonInvalidResourceName)
	}
	// Another account's containers are separate.
	if _, err := e.Service.CreateContainer(ctx, "other", "alpha", nil, blob.EncryptionPolicy{}); err != nil {
		t.Errorf("CreateContainer(other/alpha) = %v", err)
	}

	c, err := e.Service.SetContainerMetadata(ctx, acct, "beta", blob.Metadata{"Owner": "alice"}, blob.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Service.GetContainerProperties(ctx, acct, "beta")
	if err != nil || got.ETag != c.ETag || !cmp.Equal(got.Metadata, blob.Metadata{"owner": "alice"}) {
		t.Errorf("GetContainerProperties(beta) = %+v, %v; want ETag %s, metadata owner=alice", got, err, c.ETag)
	}
	_, err = e.Service.SetContainerMetadata(ctx, acct, "beta", blob.Metadata{"1x": "y"}, blob.Conditions{})
	wantReason(t, "SetContainerMetadata(1x)", err, tresor.Invalid, blob.ReasonInvalidMetadata)
	_, err = e.Service.SetContainerMetadata(ctx, acct, "beta", blob.Metadata{"big": strings.Repeat("x", 9000)}, blob.Conditions{})
	wantReason(t, "SetContainerMetadata(9000 bytes)", err, tresor.Invalid, blob.ReasonMetadataTooLarge)

	var names []string
	marker := ""
	for {
		l, err := e.Service.ListContainers(ctx, acct, blob.ListOptions{Prefix: "b", Marker: marker, MaxResults: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Containers {
			names = append(names, c.Name)
		}
		if marker = l.NextMarker; marker == "" {
			break
		}
	}
	if want := []string{"beta", "beta-2"}; !cmp.Equal(names, want) {
		t.Errorf("ListContainers(prefix b, one per page) = %q, want %q", names, want)
	}

	if err := e.Service.DeleteContainer(ctx, acct, "alpha", blob.Conditions{IfMatch: "0x1"}); !tresor.IsKind(err, tresor.PreconditionFailed) {
		t.Errorf("DeleteContainer(alpha, If-Match 0x1) = %v, want PreconditionFailed", err)
	}
	if err := e.Service.DeleteContainer(ctx, acct, "alpha", blob.Conditions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Service.GetContainerProperties(ctx, acct, "alpha")
	wantReason(t, "GetContainerProperties(deleted)", err, tresor.NotFound, blob.ReasonContainerNotFound)
	if _, err := e.Service.GetContainerProperties(ctx, "other", "alpha"); err != nil {
		t.Errorf("GetContainerProperties(other/alpha) = %v after deleting acct/alpha", err)
	}
}

func TestPutGetBlob(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	const cs = blob.ChunkSize
	sizes := []int{0, 1, 100, cs - 1, cs, cs + 1, 3*cs + 5, 16 * cs, 16*cs + 1, 32 * cs, 40*cs + 333}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := path("ctr", fmt.Sprintf("blob-%d", n))
			data := content(uint64(n), n)
			b := mustPut(t, e, p, data)
			sum := md5.Sum(data)
			if b.Size != int64(n) || !bytes.Equal(b.Headers.ContentMD5, sum[:]) || b.Type != blob.BlockBlob {
				t.Errorf("PutBlob = size %d, MD5 %x, type %s; want %d, %x, BlockBlob", b.Size, b.Headers.ContentMD5, b.Type, n, sum)
			}
			got, err := read(t, e, p, blob.All)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("GetBlob(all) = %d bytes, %v; want the %d bytes put", len(got), err, n)
			}
			for _, r := range []blob.Range{{0, 1}, {0, int64(n)}, {int64(n / 3), int64(n / 2)}, {int64(n - 1), 1}, {int64(n / 2), -1}, {cs - 7, 20}, {int64(n - 5), 100}} {
				if r.Offset < 0 || r.Offset >= int64(n) || r.Count == 0 {
					continue
				}
				end := int64(n)
				if r.Count >= 0 {
					end = min(end, r.Offset+r.Count)
				}
				got, err := read(t, e, p, r)
				if err != nil || !bytes.Equal(got, data[r.Offset:end]) {
					t.Errorf("GetBlob(%+v) = %d bytes, %v; want bytes [%d, %d)", r, len(got), err, r.Offset, end)
				}
			}
			_, err = read(t, e, p, blob.Range{Offset: int64(n), Count: 10})
			wantReason(t, "GetBlob(range at the end)", err, tresor.Invalid, blob.ReasonInvalidRange)
		})
	}
	// Replacing a blob drops its old content.
	p := path("ctr", fmt.Sprintf("blob-%d", 40*cs+333))
	before := e.Files(t)
	mustPut(t, e, p, []byte("small now"))
	if after := e.Files(t); after != before-1 {
		t.Errorf("block files after replacing a large blob by a small one = %d, want %d", after, before-1)
	}
	if got, _ := read(t, e, p, blob.All); string(got) != "small now" {
		t.Errorf("GetBlob after replace = %q", got)
	}
}

func TestPutBlobFailuresLeaveNothing(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	big := content(1, 3*blob.ChunkSize)
	huge := content(2, 40*blob.ChunkSize+333) // several batches, hashed on the side
	p := path("ctr", "b")
	old := mustPut(t, e, p, big)
	files := e.Files(t)

	tests := []struct {
		name   string
		p      blob.Path
		body   io.Reader
		size   int64
		o      blob.PutOptions
		kind   tresor.Kind
		reason string
	}{
		{"no container", path("nope", "b"), bytes.NewReader(big), int64(len(big)), blob.PutOptions{}, tresor.NotFound, blob.ReasonContainerNotFound},
		{"short body", p, bytes.NewReader(big[:100]), int64(len(big)), blob.PutOptions{}, tresor.Invalid, blob.ReasonInvalidInput},
		{"md5 mismatch", p, bytes.NewReader(big), int64(len(big)), blob.PutOptions{ContentMD5: make([]byte, 16)}, tresor.Invalid, blob.ReasonMd5Mismatch},
		{"short body, several batches", p, bytes.NewReader(huge[:len(huge)-1]), int64(len(huge)), blob.PutOptions{}, tresor.Invalid, blob.ReasonInvalidInput},
		{"md5 mismatch, several batches", p, bytes.NewReader(huge), int64(len(huge)), blob.PutOptions{ContentMD5: make([]byte, 16)}, tresor.Invalid, blob.ReasonMd5Mismatch},
		{"if-match fails", p, bytes.NewReader(big), int64(len(big)), blob.PutOptions{Conditions: blob.Conditions{IfMatch: `"0x1"`}}, tresor.PreconditionFailed, blob.ReasonConditionNotMet},
		{"if-none-match *", p, bytes.NewReader(big), int64(len(big)), blob.PutOptions{Conditions: blob.Conditions{IfNoneMatch: "*"}}, tresor.Conflict, blob.ReasonBlobAlreadyExists},
		{"create only", p, bytes.NewReader(big), int64(len(big)), blob.PutOptions{CreateOnly: true}, tresor.Forbidden, blob.ReasonAuthorizationPermission},
		{"bad metadata", p, bytes.NewReader(big), int64(len(big)), blob.PutOptions{Metadata: blob.Metadata{"a-b": "c"}}, tresor.Invalid, blob.ReasonInvalidMetadata},
		{"too large", p, bytes.NewReader(nil), blob.MaxPutBlobSize + 1, blob.PutOptions{}, tresor.TooLarge, "RequestBodyTooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Service.PutBlob(ctx, tt.p, tt.body, tt.size, tt.o)
			wantReason(t, "PutBlob", err, tt.kind, tt.reason)
			if n := e.Files(t); n != files {
				t.Errorf("block files = %d, want %d", n, files)
			}
			b, err := e.Service.GetBlobProperties(ctx, p, blob.Conditions{})
			if err != nil || b.ETag != old.ETag {
				t.Errorf("GetBlobProperties = %s, %v; want the old ETag %s", b.ETag, err, old.ETag)
			}
		})
	}
	if got, _ := read(t, e, p, blob.All); !bytes.Equal(got, big) {
		t.Errorf("the blob changed")
	}
}

func blockName(i int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "block-%04d", i))
}

func TestBlockBlob(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	p := path("ctr", "dir/big.bin")
	parts := [][]byte{content(1, 1000), content(2, 2*blob.ChunkSize+1), content(3, 10), content(4, blob.ChunkSize+5)}
	for i, d := range parts {
		sum := md5.Sum(d)
		got, _, err := e.Service.PutBlock(ctx, p, blockName(i), bytes.NewReader(d), int64(len(d)), sum[:], blob.ScopeRequest{})
		if err != nil || !bytes.Equal(got, sum[:]) {
			t.Fatalf("PutBlock(%d) = %x, %v", i, got, err)
		}
	}
	if _, err := e.Service.GetBlobProperties(ctx, p, blob.Conditions{}); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("GetBlobProperties before commit = %v, want NotFound", err)
	}
	l, err := e.Service.GetBlockList(ctx, p)
	if err != nil || l.Blob != nil || len(l.Uncommitted) != 4 || len(l.Committed) != 0 {
		t.Fatalf("GetBlockList before commit = %+v, %v; want 4 uncommitted", l, err)
	}
	if _, _, err := e.Service.PutBlock(ctx, p, "not base64!", bytes.NewReader(nil), 0, nil, blob.ScopeRequest{}); tresor.ReasonOf(err) != blob.ReasonInvalidBlockID {
		t.Errorf("PutBlock(bad id) = %v, want InvalidBlockId", err)
	}
	_, err = e.Service.PutBlockList(ctx, p, []blob.BlockRef{{Name: blockName(0), Source: blob.Committed}}, blob.PutOptions{})
	wantReason(t, "PutBlockList(a staged block as committed)", err, tresor.Invalid, blob.ReasonInvalidBlockList)

	// Commit 3, 0, 1, 0 (a block may appear twice); block 2 is dropped.
	filesBefore := e.Files(t)
	list := []blob.BlockRef{{blockName(3), blob.Latest}, {blockName(0), blob.Uncommitted}, {blockName(1), blob.Latest}, {blockName(0), blob.Latest}}
	b, err := e.Service.PutBlockList(ctx, p, list, blob.PutOptions{Headers: blob.Headers{ContentType: "text/plain"}})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{parts[3], parts[0], parts[1], parts[0]}, nil)
	if b.Size != int64(len(want)) || b.Blocks != 4 || b.Headers.ContentType != "text/plain" {
		t.Errorf("PutBlockList = size %d, %d blocks, type %q; want %d, 4, text/plain", b.Size, b.Blocks, b.Headers.ContentType, len(want))
	}
	if got, err := read(t, e, p, blob.All); err != nil || !bytes.Equal(got, want) {
		t.Errorf("GetBlob = %d bytes, %v; want the %d committed", len(got), err, len(want))
	}
	if got, err := read(t, e, p, blob.Range{Offset: 900, Count: 190000}); err != nil || !bytes.Equal(got, want[900:190900]) {
		t.Errorf("GetBlob(900, 190000) across blocks = %d bytes, %v", len(got), err)
	}
	if n := e.Files(t); n != filesBefore {
		t.Errorf("block files after commit = %d, want %d (only small block 2 dropped)", n, filesBefore)
	}
	l, err = e.Service.GetBlockList(ctx, p)
	wantList := []blob.BlockInfo{{blockName(3), int64(len(parts[3]))}, {blockName(0), 1000}, {blockName(1), int64(len(parts[1]))}, {blockName(0), 1000}}
	if err != nil || !cmp.Equal(l.Committed, wantList) || len(l.Uncommitted) != 0 || l.Blob == nil {
		t.Errorf("GetBlockList after commit = %+v, %v; want committed %v", l, err, wantList)
	}

	// Stage a new block 1 and commit the old one from the committed list
	// with a new block 5: the staged block 1 and committed block 3 go.
	if _, _, err := e.Service.PutBlock(ctx, p, blockName(1), bytes.NewReader(parts[3]), int64(len(parts[3])), nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutBlock(ctx, p, blockName(5), bytes.NewReader(parts[2]), int64(len(parts[2])), nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	b2, err := e.Service.PutBlockList(ctx, p, []blob.BlockRef{{blockName(1), blob.Committed}, {blockName(5), blob.Latest}}, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b2.ETag == b.ETag || !b2.Created.Equal(b.Created) {
		t.Errorf("second commit: ETag %s (was %s), Created %v (was %v); want a new ETag, the same Created", b2.ETag, b.ETag, b2.Created, b.Created)
	}
	if got, _ := read(t, e, p, blob.All); !bytes.Equal(got, append(append([]byte{}, parts[1]...), parts[2]...)) {
		t.Errorf("GetBlob after second commit: wrong content")
	}
	if n := e.Files(t); n != 1 {
		t.Errorf("block files after second commit = %d, want 1 (block 1)", n)
	}
	// An empty list commits an empty blob.
	if b, err := e.Service.PutBlockList(ctx, p, nil, blob.PutOptions{}); err != nil || b.Size != 0 {
		t.Errorf("PutBlockList(empty) = %d bytes, %v", b.Size, err)
	}
	if n := e.Files(t); n != 0 {
		t.Errorf("block files after empty commit = %d, want 0", n)
	}
	if err := e.Service.DeleteBlob(ctx, p, blob.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.GetBlockList(ctx, p); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("GetBlockList after delete = %v, want NotFound", err)
	}
}

func TestPageBlob(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	p := path("ctr", "disk.vhd")
	const size = 1 << 20
	if _, err := e.Service.CreatePageBlob(ctx, p, size+1, 0, blob.PutOptions{}); tresor.ReasonOf(err) != blob.ReasonInvalidHeaderValue {
		t.Errorf("CreatePageBlob(unaligned) = %v, want InvalidHeaderValue", err)
	}
	if _, err := e.Service.CreatePageBlob(ctx, p, size, 7, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	write := func(start int64, d []byte) {
		t.Helper()
		if _, _, err := e.Service.PutPage(ctx, p, start, bytes.NewReader(d), int64(len(d)), nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
			t.Fatalf("PutPage(%d, %d) = %v", start, len(d), err)
		}
		copy(want[start:], d)
	}
	write(0, content(1, 4096))
	write(200*1024, content(2, 100*1024))
	write(1024, content(3, 512))         // inside the first
	write(180*1024, content(4, 40*1024)) // overlaps the start of the second
	write(size-512, content(5, 512))     // the last page
	write(4096, content(6, 512))         // touches the first
	if _, err := e.Service.ClearPages(ctx, p, 250*1024, 260*1024, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	clear(want[250*1024 : 260*1024])

	got, err := read(t, e, p, blob.All)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("GetBlob = %d bytes, %v; content differs", len(got), err)
	}
	if got, err := read(t, e, p, blob.Range{Offset: 3000, Count: 300000}); err != nil || !bytes.Equal(got, want[3000:303000]) {
		t.Errorf("GetBlob(3000, 300000) = %d bytes, %v; content differs", len(got), err)
	}
	_, ranges, err := e.Service.GetPageRanges(ctx, p, blob.All, blob.Conditions{})
	wantRanges := []blob.PageRange{{0, 4608}, {180 * 1024, 250 * 1024}, {260 * 1024, 300 * 1024}, {size - 512, size}}
	if err != nil || !cmp.Equal(ranges, wantRanges) {
		t.Errorf("GetPageRanges = %v, %v; want %v", ranges, err, wantRanges)
	}
	_, ranges, err = e.Service.GetPageRanges(ctx, p, blob.Range{Offset: 2048, Count: 180*1024 - 2048 + 512}, blob.Conditions{})
	if want := []blob.PageRange{{2048, 4608}, {180 * 1024, 180*1024 + 512}}; err != nil || !cmp.Equal(ranges, want) {
		t.Errorf("GetPageRanges(2048, ...) = %v, %v; want %v", ranges, err, want)
	}

	for _, tt := range []struct {
		start, n int64
		reason   string
	}{{1, 512, blob.ReasonInvalidPageRange}, {0, 100, blob.ReasonInvalidPageRange}, {size, 512, blob.ReasonInvalidPageRange}} {
		_, _, err := e.Service.PutPage(ctx, p, tt.start, bytes.NewReader(make([]byte, tt.n)), tt.n, nil, blob.Conditions{}, blob.ScopeRequest{})
		wantReason(t, fmt.Sprintf("PutPage(%d, %d)", tt.start, tt.n), err, tresor.Invalid, tt.reason)
	}
	mustPut(t, e, path("ctr", "block"), []byte("x"))
	_, _, err = e.Service.PutPage(ctx, path("ctr", "block"), 0, bytes.NewReader(make([]byte, 512)), 512, nil, blob.Conditions{}, blob.ScopeRequest{})
	wantReason(t, "PutPage(block blob)", err, tresor.Conflict, blob.ReasonInvalidBlobType)
	_, _, err = e.Service.PutBlock(ctx, p, blockName(1), bytes.NewReader([]byte("x")), 1, nil, blob.ScopeRequest{})
	wantReason(t, "PutBlock(page blob)", err, tresor.Conflict, blob.ReasonInvalidBlobType)

	// Overwrite everything: every earlier block is dropped.
	write(0, content(7, size))
	if got, _ := read(t, e, p, blob.All); !bytes.Equal(got, want) {
		t.Errorf("GetBlob after overwriting all: content differs")
	}
	if n := e.Files(t); n != 1 {
		t.Errorf("block files after overwriting all = %d, want 1", n)
	}
	if err := e.Service.DeleteBlob(ctx, p, blob.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if n := e.Files(t); n != 0 {
		t.Errorf("block files after delete = %d, want 0", n)
	}
}

func TestOverwritePages(t *testing.T) {
	a := blob.Block{ID: blob.BlockID{1}}
	b := blob.Block{ID: blob.BlockID{2}}
	old := []blob.Extent{{Start: 0, Length: 1024, Block: a}, {Start: 2048, Length: 2048, Block: a, Offset: 1024}}
	got := blob.OverwritePages(old, 512, 3072, &b)
	want := []blob.Extent{
		{Start: 0, Length: 512, Block: a},
		{Start: 3072, Length: 1024, Block: a, Offset: 2048},
		{Start: 512, Length: 2560, Block: b},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OverwritePages (-want +got):\n%s", diff)
	}
	if got := blob.OverwritePages(old, 0, 4096, nil); len(got) != 0 {
		t.Errorf("OverwritePages(clear all) = %v, want none", got)
	}
}

func TestConditions(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	p := path("ctr", "b")
	b := mustPut(t, e, p, []byte("hello"))
	mod := b.Modified.Truncate(time.Second)
	tests := []struct {
		name   string
		c      blob.Conditions
		reason string // "" for success
	}{
		{"none", blob.Conditions{}, ""},
		{"if-match", blob.Conditions{IfMatch: `"` + b.ETag + `"`}, ""},
		{"if-match *", blob.Conditions{IfMatch: "*"}, ""},
		{"if-match other", blob.Conditions{IfMatch: `"0x1"`}, blob.ReasonConditionNotMet},
		{"if-none-match", blob.Conditions{IfNoneMatch: `"` + b.ETag + `"`}, blob.ReasonNotModified},
		{"if-none-match other", blob.Conditions{IfNoneMatch: `"0x1"`}, ""},
		{"if-modified-since before", blob.Conditions{IfModifiedSince: mod.Add(-time.Second)}, ""},
		{"if-modified-since same", blob.Conditions{IfModifiedSince: mod}, blob.ReasonNotModified},
		{"if-unmodified-since same", blob.Conditions{IfUnmodifiedSince: mod}, ""},
		{"if-unmodified-since before", blob.Conditions{IfUnmodifiedSince: mod.Add(-time.Second)}, blob.ReasonConditionNotMet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Service.GetBlobProperties(ctx, p, tt.c)
			if tt.reason == "" && err != nil {
				t.Errorf("GetBlobProperties = %v, want success", err)
			}
			if tt.reason != "" {
				wantReason(t, "GetBlobProperties", err, tresor.PreconditionFailed, tt.reason)
			}
		})
	}
	// A write whose condition fails with NotModified on a read gets
	// ConditionNotMet.
	_, err := e.Service.SetBlobMetadata(ctx, p, nil, blob.Conditions{IfNoneMatch: b.ETag}, blob.ScopeRequest{})
	wantReason(t, "SetBlobMetadata(If-None-Match: etag)", err, tresor.PreconditionFailed, blob.ReasonConditionNotMet)
	_, err = e.Service.PutBlob(ctx, path("ctr", "new"), strings.NewReader("x"), 1, blob.PutOptions{Conditions: blob.Conditions{IfMatch: "*"}})
	wantReason(t, "PutBlob(new, If-Match *)", err, tresor.PreconditionFailed, blob.ReasonConditionNotMet)
	if _, err := e.Service.PutBlob(ctx, path("ctr", "new"), strings.NewReader("x"), 1, blob.PutOptions{Conditions: blob.Conditions{IfNoneMatch: "*"}, CreateOnly: true}); err != nil {
		t.Errorf("PutBlob(new, If-None-Match *, create only) = %v", err)
	}
}

func TestPropertiesAndMetadata(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	p := path("ctr", "b")
	b, err := e.Service.PutBlob(ctx, p, strings.NewReader("hello"), 5, blob.PutOptions{
		Headers:  blob.Headers{ContentType: "text/plain", CacheControl: "no-cache"},
		Metadata: blob.Metadata{"Owner": "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Service.GetBlobProperties(ctx, p, blob.Conditions{})
	if err != nil || !cmp.Equal(got.Metadata, blob.Metadata{"owner": "alice"}) || got.Headers.ContentType != "text/plain" || got.ETag != b.ETag {
		t.Errorf("GetBlobProperties = %+v, %v", got, err)
	}
	b2, err := e.Service.SetBlobMetadata(ctx, p, blob.Metadata{"k": "v"}, blob.Conditions{IfMatch: b.ETag}, blob.ScopeRequest{})
	if err != nil || b2.ETag == b.ETag {
		t.Fatalf("SetBlobMetadata = %s, %v; want a new ETag", b2.ETag, err)
	}
	b3, err := e.Service.SetBlobProperties(ctx, p, blob.Headers{ContentType: "application/json"}, blob.Conditions{})
	if err != nil || b3.ETag == b2.ETag {
		t.Fatalf("SetBlobProperties = %s, %v; want a new ETag", b3.ETag, err)
	}
	got, err = e.Service.GetBlobProperties(ctx, p, blob.Conditions{})
	if err != nil || !cmp.Equal(got.Metadata, blob.Metadata{"k": "v"}) || !cmp.Equal(got.Headers, blob.Headers{ContentType: "application/json"}) {
		t.Errorf("GetBlobProperties after sets = %+v, %+v, %v; want k=v, only Content-Type (the rest cleared)", got.Metadata, got.Headers, err)
	}
	if s, _ := read(t, e, p, blob.All); string(s) != "hello" {
		t.Errorf("content = %q", s)
	}
}

func TestListBlobs(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	// In bytewise order, as Azure lists: "é" (0xc3 0xa9) after "z".
	names := []string{"a/1", "a/2", "a/b/1", "a/b/2", "a/c", "b", "c/1", "c/2", "d", "z/y/x", "é/x"}
	for i, n := range names {
		_, err := e.Service.PutBlob(ctx, path("ctr", n), strings.NewReader(n), int64(len(n)), blob.PutOptions{Metadata: blob.Metadata{"i": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A name with staged blocks only is not listed.
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "a/staged"), blockName(0), strings.NewReader("x"), 1, nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix, delim string
		want          []string // prefixes end with the delimiter
	}{
		{"", "", names},
		{"", "/", []string{"a/", "b", "c/", "d", "z/", "é/"}},
		{"a/", "/", []string{"a/1", "a/2", "a/b/", "a/c"}},
		{"a/b", "/", []string{"a/b/"}},
		{"a/b/", "", []string{"a/b/1", "a/b/2"}},
		{"", "b", []string{"a/1", "a/2", "a/b", "a/c", "b", "c/1", "c/2", "d", "z/y/x", "é/x"}},
		{"q", "/", nil},
	}
	for _, tt := range tests {
		for _, max := range []int{0, 1, 2, 3} {
			t.Run(fmt.Sprintf("%q %q %d", tt.prefix, tt.delim, max), func(t *testing.T) {
				var got []string
				marker := ""
				for pages := 0; ; pages++ {
					if pages > len(names)+1 {
						t.Fatal("too many pages")
					}
					l, err := e.Service.ListBlobs(ctx, acct, "ctr", blob.ListOptions{Prefix: tt.prefix, Delimiter: tt.delim, Marker: marker, MaxResults: max})
					if err != nil {
						t.Fatal(err)
					}
					if max > 0 && len(l.Items) > max {
						t.Fatalf("page of %d items, max %d", len(l.Items), max)
					}
					for _, it := range l.Items {
						if it.Blob != nil {
							got = append(got, it.Blob.Blob)
							if it.Blob.Metadata != nil {
								t.Errorf("metadata listed without being asked for")
							}
						} else {
							got = append(got, it.Prefix)
						}
					}
					if marker = l.NextMarker; marker == "" {
						break
					}
				}
				if !cmp.Equal(got, tt.want) {
					t.Errorf("ListBlobs = %q, want %q", got, tt.want)
				}
			})
		}
	}
	l, err := e.Service.ListBlobs(ctx, acct, "ctr", blob.ListOptions{Prefix: "d", Metadata: true})
	if err != nil || len(l.Items) != 1 || !cmp.Equal(l.Items[0].Blob.Metadata, blob.Metadata{"i": "8"}) {
		t.Errorf("ListBlobs(d, metadata) = %+v, %v", l, err)
	}
	_, err = e.Service.ListBlobs(ctx, acct, "nope", blob.ListOptions{})
	wantReason(t, "ListBlobs(no container)", err, tresor.NotFound, blob.ReasonContainerNotFound)
	_, err = e.Service.ListBlobs(ctx, acct, "ctr", blob.ListOptions{MaxResults: 5001})
	wantReason(t, "ListBlobs(maxresults 5001)", err, tresor.Invalid, blob.ReasonOutOfRangeInput)
	if s, ok := blob.Successor("a\xff\xff"); s != "b" || !ok {
		t.Errorf("successor(a\\xff\\xff) = %q, %v", s, ok)
	}
}

func TestCopyBlob(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	mustContainer(t, e, "dst")
	src := path("ctr", "src")
	data := content(9, 3*blob.ChunkSize+7)
	if _, err := e.Service.PutBlob(ctx, src, bytes.NewReader(data), int64(len(data)), blob.PutOptions{
		Headers: blob.Headers{ContentType: "image/png"}, Metadata: blob.Metadata{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	dst := path("dst", "dst")
	b, err := e.Service.CopyBlob(ctx, src, dst, "http://x/acct/c/src", blob.Conditions{}, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Copy.Status != "success" || b.Copy.ID == "" || b.Headers.ContentType != "image/png" || b.Size != int64(len(data)) {
		t.Errorf("CopyBlob = %+v", b)
	}
	got, err := e.Service.GetBlobProperties(ctx, dst, blob.Conditions{})
	if err != nil || !cmp.Equal(got.Metadata, blob.Metadata{"a": "1"}) || got.Copy.Source != "http://x/acct/c/src" {
		t.Errorf("GetBlobProperties(dst) = %+v, %v", got, err)
	}
	// The copy is independent of the source.
	if err := e.Service.DeleteBlob(ctx, src, blob.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := read(t, e, dst, blob.All); err != nil || !bytes.Equal(got, data) {
		t.Errorf("GetBlob(dst) = %d bytes, %v", len(got), err)
	}
	// Page blobs stay sparse.
	pg := path("ctr", "pages")
	if _, err := e.Service.CreatePageBlob(ctx, pg, 1<<20, 0, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Service.PutPage(ctx, pg, 4096, bytes.NewReader(data[:8192]), 8192, nil, blob.Conditions{}, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.CopyBlob(ctx, pg, path("dst", "pages"), "u", blob.Conditions{}, blob.PutOptions{Metadata: blob.Metadata{"b": "2"}}); err != nil {
		t.Fatal(err)
	}
	_, ranges, err := e.Service.GetPageRanges(ctx, path("dst", "pages"), blob.All, blob.Conditions{})
	if want := []blob.PageRange{{4096, 4096 + 8192}}; err != nil || !cmp.Equal(ranges, want) {
		t.Errorf("GetPageRanges(copy) = %v, %v; want %v", ranges, err, want)
	}
	_, err = e.Service.CopyBlob(ctx, src, dst, "u", blob.Conditions{}, blob.PutOptions{})
	wantReason(t, "CopyBlob(deleted source)", err, tresor.NotFound, blob.ReasonBlobNotFound)
	_, err = e.Service.CopyBlob(ctx, dst, path("dst", "x"), "u", blob.Conditions{IfMatch: "0x1"}, blob.PutOptions{})
	wantReason(t, "CopyBlob(source If-Match fails)", err, tresor.PreconditionFailed, blob.ReasonConditionNotMet)
}

func TestSweep(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	mustPut(t, e, path("ctr", "kept"), content(1, 2*blob.ChunkSize))
	w, err := e.Data.Create(blob.BlockID{0xab})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("orphan"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Service.Sweep(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Errorf("Sweep(an hour ago) = %d, %v; want 0 (the orphan is new)", n, err)
	}
	if n, err := e.Service.Sweep(ctx, time.Now().Add(time.Minute)); n != 1 || err != nil {
		t.Errorf("Sweep(now) = %d, %v; want 1", n, err)
	}
	if got, err := read(t, e, path("ctr", "kept"), blob.All); err != nil || len(got) != 2*blob.ChunkSize {
		t.Errorf("GetBlob(kept) after Sweep = %d bytes, %v", len(got), err)
	}
}

func TestExpireStagedBlocks(t *testing.T) {
	e := blobtest.New(t)
	mustContainer(t, e, "ctr")
	big := content(3, 2*blob.ChunkSize)
	// A committed blob with a staged block, a name with staged blocks only,
	// and a name staged later.
	mustPut(t, e, path("ctr", "committed"), big)
	for _, name := range []string{"committed", "abandoned"} {
		if _, _, err := e.Service.PutBlock(ctx, path("ctr", name), blockName(1), bytes.NewReader(big), int64(len(big)), nil, blob.ScopeRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	e.Service.Now = func() time.Time { return start.Add(5 * 24 * time.Hour) }
	if _, _, err := e.Service.PutBlock(ctx, path("ctr", "recent"), blockName(1), bytes.NewReader(big), int64(len(big)), nil, blob.ScopeRequest{}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Service.ExpireStagedBlocks(ctx, start.Add(6*24*time.Hour)); n != 0 || err != nil {
		t.Errorf("ExpireStagedBlocks(6 days on) = %d, %v; want 0", n, err)
	}
	if n, err := e.Service.ExpireStagedBlocks(ctx, start.Add(8*24*time.Hour)); n != 2 || err != nil {
		t.Errorf("ExpireStagedBlocks(8 days on) = %d, %v; want 2", n, err)
	}
	if _, err := e.Service.GetBlockList(ctx, path("ctr", "abandoned")); !tresor.IsKind(err, tresor.NotFound) {
		t.Errorf("GetBlockList(abandoned) = %v, want NotFound", err)
	}
	if l, err := e.Service.GetBlockList(ctx, path("ctr", "committed")); err != nil || len(l.Uncommitted) != 0 || l.Blob == nil {
		t.Errorf("GetBlockList(committed) = %+v, %v; want the blob without staged blocks", l, err)
	}
	if got, err := read(t, e, path("ctr", "committed"), blob.All); err != nil || !bytes.Equal(got, big) {
		t.Errorf("GetBlob(committed) = %d bytes, %v", len(got), err)
	}
	if l, err := e.Service.GetBlockList(ctx, path("ctr", "recent")); err != nil || len(l.Uncommitted) != 1 {
		t.Errorf("GetBlockList(recent) = %+v, %v; want its staged block", l, err)
	}
	if n := e.Files(t); n != 2 {
		t.Errorf("block files = %d, want 2 (committed's and recent's)", n)
	}
}
